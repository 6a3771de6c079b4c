//! The cache's second level: [`ports::KeyValueStore`] over Redis.

use std::time::Duration;

use async_trait::async_trait;
use ports::{KeyValueStore, PortError, PortResult};

use crate::pattern::namespaced_glob;
use crate::pool::{RedisPool, map_redis_error};

/// Bound on one pattern deletion (contract 13.2).
const PATTERN_DELETE_TIMEOUT: Duration = Duration::from_secs(10);
/// Keys asked for per `SCAN` step.
const SCAN_COUNT: usize = 500;

/// Cache entries in Redis, under `REDIS_KEY_PREFIX` + `cache:` + logical key.
///
/// Counters made by [`KeyValueStore::increment`] live under `REDIS_KEY_PREFIX` +
/// `cache_gen:` + key instead: they are bookkeeping, not cached data, so `clear` and pattern
/// deletions (which walk only `cache:`) never reset them and a counter can never go back to
/// a value it had before.
#[derive(Debug, Clone)]
pub struct RedisKeyValueStore {
    pool: RedisPool,
    namespace: String,
    counters: String,
}

impl RedisKeyValueStore {
    /// Wraps the shared pool.
    #[must_use]
    pub fn new(pool: RedisPool) -> Self {
        let namespace = format!("{}cache:", pool.prefix());
        let counters = format!("{}cache_gen:", pool.prefix());
        Self {
            pool,
            namespace,
            counters,
        }
    }

    /// The physical Redis key of a logical cache key.
    #[must_use]
    pub fn physical_key(&self, key: &str) -> String {
        format!("{}{key}", self.namespace)
    }

    async fn unlink_matching(&self, glob: String) -> PortResult<u64> {
        self.pool
            .run_bounded(
                "pattern deletion",
                PATTERN_DELETE_TIMEOUT,
                |mut conn| async move {
                    let mut cursor: u64 = 0;
                    let mut deleted: u64 = 0;
                    loop {
                        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(&glob)
                            .arg("COUNT")
                            .arg(SCAN_COUNT)
                            .query_async(&mut conn)
                            .await
                            .map_err(map_redis_error)?;
                        if !keys.is_empty() {
                            let n: u64 = redis::cmd("UNLINK")
                                .arg(&keys)
                                .query_async(&mut conn)
                                .await
                                .map_err(map_redis_error)?;
                            deleted += n;
                        }
                        if next == 0 {
                            return Ok(deleted);
                        }
                        cursor = next;
                    }
                },
            )
            .await
    }
}

#[async_trait]
impl KeyValueStore for RedisKeyValueStore {
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        self.pool
            .query(redis::cmd("GET").arg(self.physical_key(key)))
            .await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<()> {
        // PX 0 is an error in Redis; anything shorter than a millisecond lives 1 ms.
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let reply: redis::Value = self
            .pool
            .query(
                redis::cmd("SET")
                    .arg(self.physical_key(key))
                    .arg(value)
                    .arg("PX")
                    .arg(millis),
            )
            .await?;
        match reply {
            redis::Value::Okay => Ok(()),
            other => Err(PortError::Backend(format!(
                "unexpected SET reply {other:?}"
            ))),
        }
    }

    async fn delete(&self, key: &str) -> PortResult<()> {
        let _: u64 = self
            .pool
            .query(redis::cmd("UNLINK").arg(self.physical_key(key)))
            .await?;
        Ok(())
    }

    async fn delete_matching(&self, pattern: &str) -> PortResult<u64> {
        self.unlink_matching(namespaced_glob(&self.namespace, pattern))
            .await
    }

    async fn clear(&self) -> PortResult<u64> {
        self.delete_matching("*").await
    }

    async fn increment(&self, key: &str) -> PortResult<u64> {
        let value: i64 = self
            .pool
            .query(redis::cmd("INCR").arg(format!("{}{key}", self.counters)))
            .await?;
        u64::try_from(value)
            .map_err(|_| PortError::Backend(format!("counter {key} is negative: {value}")))
    }
}
