//! One multiplexed connection shared by every worker of a [`super::RedisJobQueue`].
//!
//! Checking a connection out of the pool costs a health-check round trip (`UNWATCH` +
//! `PING`), which would double the round trips of the hot take/ack path. A multiplexed
//! connection pipelines concurrent commands by itself, so the queue checks one out once,
//! keeps a handle, and goes back to the pool (and its health check) only after an error
//! that may have broken it. Commands stay bounded by the pool's command timeout.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ports::{PortError, PortResult};
use redis::RedisResult;
use redis::aio::MultiplexedConnection;

use crate::pool::{RedisPool, map_redis_error};

/// A cached multiplexed connection, refreshed from the pool after failures.
#[derive(Clone)]
pub(super) struct SharedConnection {
    pool: RedisPool,
    cached: Arc<Mutex<Option<MultiplexedConnection>>>,
}

impl std::fmt::Debug for SharedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedConnection")
            .field("connected", &self.slot().is_some())
            .finish_non_exhaustive()
    }
}

impl SharedConnection {
    pub fn new(pool: RedisPool) -> Self {
        Self {
            pool,
            cached: Arc::default(),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<MultiplexedConnection>> {
        self.cached.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn command_timeout(&self) -> Duration {
        self.pool.command_timeout()
    }

    /// The shared handle, checked out of the pool when there is none.
    pub async fn get(&self) -> PortResult<MultiplexedConnection> {
        if let Some(conn) = self.slot().clone() {
            return Ok(conn);
        }
        let pooled = self.pool.connection().await?;
        let conn: MultiplexedConnection = (*pooled).clone();
        *self.slot() = Some(conn.clone());
        Ok(conn)
    }

    /// Maps the outcome of a command bounded by [`Self::command_timeout`]; a timeout or a
    /// connection-level error drops the cached handle so the next command reconnects.
    pub fn outcome<T>(
        &self,
        what: &str,
        result: Result<RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> PortResult<T> {
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                if error.is_io_error()
                    || error.is_connection_dropped()
                    || error.is_connection_refusal()
                    || error.is_unrecoverable_error()
                    || error.is_timeout()
                {
                    self.slot().take();
                }
                Err(map_redis_error(error))
            }
            Err(_) => {
                self.slot().take();
                Err(PortError::Timeout(format!(
                    "Redis {what} took longer than {:?}",
                    self.command_timeout()
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::RedisSettings;

    async fn shared() -> SharedConnection {
        let redis = testkit::TestRedis::new().await;
        let mut settings = RedisSettings::new(redis.url.clone());
        settings.key_prefix = redis.prefix;
        SharedConnection::new(RedisPool::new(&settings).unwrap())
    }

    #[tokio::test]
    async fn the_handle_is_kept_after_a_server_error_and_dropped_after_a_broken_connection() {
        let conn = shared().await;
        assert!(conn.slot().is_none(), "nothing connects eagerly");
        let mut handle = conn.get().await.unwrap();
        assert!(conn.slot().is_some());

        let reply: RedisResult<String> =
            redis::cmd("NO-SUCH-COMMAND").query_async(&mut handle).await;
        assert!(matches!(
            conn.outcome("probe", Ok(reply)),
            Err(PortError::Backend(_))
        ));
        assert!(
            conn.slot().is_some(),
            "a server error leaves the connection"
        );

        let broken: RedisResult<String> =
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer").into());
        assert!(matches!(
            conn.outcome("probe", Ok(broken)),
            Err(PortError::Unavailable(_))
        ));
        assert!(conn.slot().is_none(), "a broken connection is forgotten");

        let mut fresh = conn.get().await.unwrap();
        let pong: RedisResult<String> = redis::cmd("PING").query_async(&mut fresh).await;
        assert_eq!(conn.outcome("probe", Ok(pong)).unwrap(), "PONG");
    }
}
