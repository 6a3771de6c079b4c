//! [`RedisLock`]: a short-lived lock shared by every instance (`SET key token NX PX ttl`
//! under `REDIS_KEY_PREFIX`), used so the periodic cache warming runs at most once per
//! interval across the deployment (contract 14.6). The lock is never released early: it
//! simply expires, which is what "once per interval" needs.

use std::time::Duration;

use ports::PortResult;

use crate::pool::RedisPool;

/// Expiring locks under the pool's key prefix.
#[derive(Debug, Clone)]
pub struct RedisLock {
    pool: RedisPool,
    holder: String,
}

impl RedisLock {
    /// Locks taken in the name of `holder` (stored as the lock's value, for diagnosis).
    #[must_use]
    pub fn new(pool: RedisPool, holder: impl Into<String>) -> Self {
        Self {
            pool,
            holder: holder.into(),
        }
    }

    /// Takes the lock `name` for `ttl` unless another holder has it; true when taken.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when Redis cannot be reached in time.
    pub async fn try_acquire(&self, name: &str, ttl: Duration) -> PortResult<bool> {
        let key = format!("{}{name}", self.pool.prefix());
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let reply: Option<String> = self
            .pool
            .query(
                redis::cmd("SET")
                    .arg(&key)
                    .arg(&self.holder)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis),
            )
            .await?;
        Ok(reply.is_some())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::settings::RedisSettings;

    fn pool(prefix: &str) -> RedisPool {
        let url =
            std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        RedisPool::new(&RedisSettings {
            url,
            pool_size: 2,
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(2),
            key_prefix: prefix.to_owned(),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn only_one_holder_gets_the_lock_until_it_expires() {
        let prefix = format!("test:{}:", uuid::Uuid::new_v4());
        let a = RedisLock::new(pool(&prefix), "a");
        let b = RedisLock::new(pool(&prefix), "b");
        assert!(
            a.try_acquire("l", Duration::from_millis(300))
                .await
                .unwrap()
        );
        assert!(
            !b.try_acquire("l", Duration::from_millis(300))
                .await
                .unwrap()
        );
        assert!(
            !a.try_acquire("l", Duration::from_millis(300))
                .await
                .unwrap()
        );
        let mut taken = false;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if b.try_acquire("l", Duration::from_secs(5)).await.unwrap() {
                taken = true;
                break;
            }
        }
        assert!(taken, "the lock never expired");
        let _: i64 = a
            .pool
            .query(redis::cmd("DEL").arg(format!("{prefix}l")))
            .await
            .unwrap();
    }
}
