//! The shared connection pool: lazy, bounded in time, and honest about failures.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::{Manager, Pool, PoolError, Runtime};
use ports::{HealthProbe, PortError, PortResult};
use redis::{AsyncConnectionConfig, FromRedisValue, RedisError};
use serde::Serialize;

use crate::settings::RedisSettings;

/// Bound on the health probe's `PING`.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// A pooled connection checked out of [`RedisPool`].
pub type PooledConnection = deadpool_redis::Connection;

/// A snapshot of the pool for `/cache/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PoolStatus {
    /// Connections currently open.
    pub size: usize,
    /// Open connections idle in the pool.
    pub available: usize,
    /// Configured maximum.
    pub max_size: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
    /// Commands (checkout included) that ran out of time since start.
    pub timeouts: u64,
}

/// The Redis connection pool every Redis adapter shares.
///
/// Creating it never connects, so the service starts while Redis is down; every command is
/// bounded by the configured command timeout and failures come back as
/// [`PortError::Unavailable`] or [`PortError::Timeout`].
#[derive(Clone)]
pub struct RedisPool {
    pool: Pool,
    prefix: Arc<str>,
    command_timeout: Duration,
    timeouts: Arc<AtomicU64>,
}

impl std::fmt::Debug for RedisPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPool")
            .field("prefix", &self.prefix)
            .field("command_timeout", &self.command_timeout)
            .field("status", &self.status())
            .finish()
    }
}

impl RedisPool {
    /// Builds the pool without connecting.
    ///
    /// # Errors
    /// [`PortError::Backend`] when the URL cannot be parsed or the pool cannot be built.
    pub fn new(settings: &RedisSettings) -> PortResult<Self> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.command_timeout));
        let manager = Manager::new_with_config(settings.url.as_str(), config).map_err(|e| {
            PortError::Backend(format!(
                "invalid Redis URL {}: {e}",
                settings.redacted_url()
            ))
        })?;
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size.max(1))
            .wait_timeout(Some(settings.command_timeout))
            .create_timeout(Some(settings.connect_timeout))
            .recycle_timeout(Some(settings.command_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| PortError::Backend(format!("cannot build the Redis pool: {e}")))?;
        Ok(Self {
            pool,
            prefix: settings.key_prefix.as_str().into(),
            command_timeout: settings.command_timeout,
            timeouts: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The `REDIS_KEY_PREFIX` every key and channel starts with.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The bound on one command.
    #[must_use]
    pub fn command_timeout(&self) -> Duration {
        self.command_timeout
    }

    /// Pool occupancy and the timeout counter.
    #[must_use]
    pub fn status(&self) -> PoolStatus {
        let s = self.pool.status();
        PoolStatus {
            size: s.size,
            available: s.available,
            max_size: s.max_size,
            waiting: s.waiting,
            timeouts: self.timeouts.load(Ordering::Relaxed),
        }
    }

    /// Closes the pool at shutdown: idle connections are dropped and later checkouts fail.
    pub fn close(&self) {
        self.pool.close();
    }

    /// Checks a connection out of the pool (bounded by the pool's timeouts).
    ///
    /// # Errors
    /// `Unavailable` or `Timeout` when no connection can be had.
    pub async fn connection(&self) -> PortResult<PooledConnection> {
        self.pool.get().await.map_err(|e| self.map_pool_error(e))
    }

    /// Runs `f` with a pooled connection, the whole thing bounded by `limit`.
    ///
    /// # Errors
    /// `Timeout` when `limit` passes; otherwise the mapped Redis or pool error.
    pub async fn run_bounded<T, F, Fut>(&self, what: &str, limit: Duration, f: F) -> PortResult<T>
    where
        F: FnOnce(PooledConnection) -> Fut,
        Fut: Future<Output = PortResult<T>>,
    {
        let work = async {
            let conn = self.connection().await?;
            f(conn).await
        };
        match tokio::time::timeout(limit, work).await {
            Ok(result) => result,
            Err(_) => {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(PortError::Timeout(format!(
                    "Redis {what} took longer than {limit:?}"
                )))
            }
        }
    }

    /// Sends one command and converts the reply, bounded by the command timeout.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when Redis cannot be reached in time, `Backend` when it
    /// answers with an error.
    pub async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> PortResult<T> {
        let what = command_name(cmd);
        self.run_bounded(&what, self.command_timeout, |mut conn| async move {
            cmd.query_async(&mut conn).await.map_err(map_redis_error)
        })
        .await
    }

    /// The text of `INFO memory` and `INFO stats`, for `/cache/stats`.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when Redis cannot be reached in time.
    pub async fn info(&self) -> PortResult<String> {
        let memory: String = self.query(redis::cmd("INFO").arg("memory")).await?;
        let stats: String = self.query(redis::cmd("INFO").arg("stats")).await?;
        Ok(format!("{memory}\r\n{stats}"))
    }

    fn map_pool_error(&self, error: PoolError) -> PortError {
        match error {
            PoolError::Timeout(kind) => {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
                PortError::Timeout(format!("Redis pool {kind:?} timed out"))
            }
            PoolError::Backend(e) => map_redis_error(e),
            other => PortError::Unavailable(format!("Redis pool: {other}")),
        }
    }
}

fn command_name(cmd: &redis::Cmd) -> String {
    cmd.args_iter()
        .next()
        .and_then(|arg| match arg {
            redis::Arg::Simple(bytes) => std::str::from_utf8(bytes).ok().map(str::to_owned),
            _ => None,
        })
        .unwrap_or_else(|| "command".to_owned())
}

/// Maps a Redis client error onto the port's error vocabulary.
#[must_use]
pub fn map_redis_error(error: RedisError) -> PortError {
    if error.is_timeout() {
        PortError::Timeout(format!("Redis: {error}"))
    } else if error.is_io_error()
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_unrecoverable_error()
    {
        PortError::Unavailable(format!("Redis: {error}"))
    } else {
        PortError::Backend(format!("Redis: {error}"))
    }
}

#[async_trait]
impl HealthProbe for RedisPool {
    async fn ping(&self) -> PortResult<()> {
        let reply: String = self
            .run_bounded("PING", PING_TIMEOUT, |mut conn| async move {
                redis::cmd("PING")
                    .query_async(&mut conn)
                    .await
                    .map_err(map_redis_error)
            })
            .await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(PortError::Backend(format!(
                "unexpected PING reply {reply:?}"
            )))
        }
    }
}
