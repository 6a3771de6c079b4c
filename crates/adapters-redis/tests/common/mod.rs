#![allow(dead_code)]

use std::time::Duration;

use adapters_redis::{RedisKeyValueStore, RedisPool, RedisSettings};
use testkit::TestRedis;

pub async fn setup() -> (TestRedis, RedisPool, RedisKeyValueStore) {
    let redis = TestRedis::new().await;
    let mut settings = RedisSettings::new(redis.url.clone());
    settings.key_prefix = redis.prefix.clone();
    settings.pool_size = 4;
    let pool = RedisPool::new(&settings).expect("pool builds");
    let store = RedisKeyValueStore::new(pool.clone());
    (redis, pool, store)
}

/// Polls `check` every 20 ms for up to `limit`.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
