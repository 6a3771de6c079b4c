//! Cross-instance invalidation over Redis pub/sub: a publisher on the shared pool and a
//! subscriber on its own connection that survives Redis restarts.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ports::{InvalidationBus, InvalidationEvent, InvalidationMessage, PortError, PortResult};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::pool::{RedisPool, map_redis_error};

/// Name of the channel (after `REDIS_KEY_PREFIX`) carrying cache invalidations.
pub const INVALIDATION_CHANNEL: &str = "cache_invalidation";

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the subscriber checks that its connection still answers.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const SUBSCRIBER_TIMEOUT: Duration = Duration::from_secs(5);

/// The channel name for a given `REDIS_KEY_PREFIX`.
#[must_use]
pub fn invalidation_channel(key_prefix: &str) -> String {
    format!("{key_prefix}{INVALIDATION_CHANNEL}")
}

/// Publishes invalidations as JSON on the shared channel.
#[derive(Debug, Clone)]
pub struct RedisInvalidationBus {
    pool: RedisPool,
    channel: String,
}

impl RedisInvalidationBus {
    /// A publisher on `channel` (normally [`invalidation_channel`] of the pool's prefix).
    #[must_use]
    pub fn new(pool: RedisPool, channel: impl Into<String>) -> Self {
        Self {
            pool,
            channel: channel.into(),
        }
    }

    /// The channel messages go to.
    #[must_use]
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

#[async_trait]
impl InvalidationBus for RedisInvalidationBus {
    async fn publish(&self, message: &InvalidationMessage) -> PortResult<()> {
        let payload = serde_json::to_vec(message)
            .map_err(|e| PortError::Backend(format!("cannot encode invalidation: {e}")))?;
        let _receivers: u64 = self
            .pool
            .query(redis::cmd("PUBLISH").arg(&self.channel).arg(payload))
            .await?;
        Ok(())
    }
}

/// The `CLIENT SETNAME` the subscriber of `channel` uses, so operators (and tests) can find
/// its connection in `CLIENT LIST`.
#[must_use]
pub fn subscriber_client_name(channel: &str) -> String {
    let safe: String = channel
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    format!("invalidation-subscriber:{safe}")
}

/// Receives invalidations until `shutdown` turns `true` (or its sender is dropped).
///
/// Uses a dedicated RESP3 connection (not a pooled one) named by
/// [`subscriber_client_name`]. When the connection drops it reconnects with backoff
/// (100 ms doubling to 5 s); after every re-subscription (every subscription except a
/// first attempt that succeeded) it hands `InvalidationEvent::Resynchronise` to `handler`,
/// because messages published meanwhile are lost. Each decoded message is handed over as
/// `InvalidationEvent::Message`; undecodable payloads are logged and skipped.
pub fn spawn_invalidation_subscriber(
    url: String,
    channel: String,
    handler: Arc<dyn Fn(InvalidationEvent) + Send + Sync>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = MIN_BACKOFF;
        let mut first_attempt = true;
        loop {
            if *shutdown.borrow() {
                return;
            }
            match subscribe(&url, &channel).await {
                Ok((conn, pushes)) => {
                    if !first_attempt {
                        tracing::info!(%channel, "invalidation subscriber re-subscribed");
                        handler(InvalidationEvent::Resynchronise);
                    }
                    backoff = MIN_BACKOFF;
                    first_attempt = false;
                    if let Ending::Shutdown = pump(conn, pushes, &handler, &mut shutdown).await {
                        return;
                    }
                    tracing::warn!(%channel, "invalidation subscription lost; reconnecting");
                }
                Err(error) => {
                    if first_attempt || backoff == MAX_BACKOFF {
                        tracing::warn!(%channel, %error, "invalidation subscriber cannot subscribe");
                    }
                    first_attempt = false;
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    })
}

enum Ending {
    Shutdown,
    Dropped,
}

async fn subscribe(
    url: &str,
    channel: &str,
) -> PortResult<(MultiplexedConnection, mpsc::UnboundedReceiver<PushInfo>)> {
    let info = url.into_connection_info().map_err(map_redis_error)?;
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let client = redis::Client::open(info.set_redis_settings(settings)).map_err(map_redis_error)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(SUBSCRIBER_TIMEOUT))
        .set_response_timeout(Some(SUBSCRIBER_TIMEOUT))
        .set_push_sender(tx);
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(map_redis_error)?;
    let () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(subscriber_client_name(channel))
        .query_async(&mut conn)
        .await
        .map_err(map_redis_error)?;
    conn.subscribe(channel).await.map_err(map_redis_error)?;
    Ok((conn, rx))
}

async fn pump(
    mut conn: MultiplexedConnection,
    mut pushes: mpsc::UnboundedReceiver<PushInfo>,
    handler: &Arc<dyn Fn(InvalidationEvent) + Send + Sync>,
    shutdown: &mut watch::Receiver<bool>,
) -> Ending {
    let mut keepalive = tokio::time::interval(KEEPALIVE_INTERVAL);
    keepalive.tick().await;
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return Ending::Shutdown;
                }
            }
            push = pushes.recv() => {
                let Some(push) = push else { return Ending::Dropped };
                match push.kind {
                    PushKind::Disconnection => return Ending::Dropped,
                    PushKind::Message => deliver(push, handler),
                    _ => {}
                }
            }
            _ = keepalive.tick() => {
                let alive: Result<String, _> = redis::cmd("PING").query_async(&mut conn).await;
                if alive.is_err() {
                    return Ending::Dropped;
                }
            }
        }
    }
}

fn deliver(push: PushInfo, handler: &Arc<dyn Fn(InvalidationEvent) + Send + Sync>) {
    let Some(msg) = redis::Msg::from_push_info(push) else {
        return;
    };
    match serde_json::from_slice::<InvalidationMessage>(msg.get_payload_bytes()) {
        Ok(message) => handler(InvalidationEvent::Message(message)),
        Err(error) => tracing::warn!(%error, "ignoring an undecodable invalidation message"),
    }
}
