//! The two-level cache over the real Redis adapter when Redis is absent at start and
//! appears later (contract 13.2 and 13.3): L1 serves meanwhile, five failed L2 calls open
//! the breaker, the breaker keeps away from Redis until its 30 s have passed (a hand-driven
//! clock, so the test does not wait), three successful calls close it, and L2 fills again.
//! The outage is a switchable TCP proxy in front of the real Redis.

#![allow(clippy::unwrap_used)]

use std::{sync::Arc, time::Duration};

use adapters_redis::{RedisKeyValueStore, RedisPool, RedisSettings};
use cache_multilevel::{BreakerState, CacheConfig, ManualClock, MultiLevelCache};
use ports::KeyValueStore;
use redis::AsyncCommands;
use serde_json::{Value, json};
use testkit::{TcpProxy, TestRedis};

const TTL: Duration = Duration::from_secs(60);

/// The Redis store under the test's prefix, reached at `url`.
fn store(url: String, redis: &TestRedis) -> Arc<dyn KeyValueStore> {
    let mut settings = RedisSettings::new(url);
    settings.key_prefix.clone_from(&redis.prefix);
    Arc::new(RedisKeyValueStore::new(RedisPool::new(&settings).unwrap()))
}

/// The stored JSON under the logical `key`, read straight from Redis.
async fn physical(redis: &TestRedis, key: &str) -> Option<Value> {
    let text: Option<String> = redis
        .connection()
        .await
        .get(format!("{}cache:{key}", redis.prefix))
        .await
        .unwrap();
    text.map(|text| serde_json::from_str(&text).unwrap())
}

#[tokio::test]
async fn redis_absent_at_start_then_back_closes_the_breaker_and_fills_l2() {
    let redis = TestRedis::new().await;
    let proxy = TcpProxy::start(redis.socket_address()).await;
    proxy.go_down().await;
    let clock = Arc::new(ManualClock::default());
    let cache = MultiLevelCache::with_clock(
        CacheConfig::default(),
        Some(store(format!("redis://{}/0", proxy.address()), &redis)),
        None,
        clock.clone(),
    );

    // Redis refuses every connection: writes land in L1 only, and five failures open the
    // breaker.
    for i in 0..5 {
        cache
            .set_json(&format!("task:{i}"), &json!({"n": i}), TTL)
            .await;
    }
    assert_eq!(cache.breaker_state(), BreakerState::Open);
    assert_eq!(cache.stats().errors, 5);
    let served: Arc<Value> = cache.get_json("task:3").await.unwrap();
    assert_eq!(*served, json!({"n": 3}), "L1 serves while Redis is away");

    // Redis is back, but the breaker keeps away from it until its timeout has passed.
    proxy.come_back();
    cache.set_json("task:early", &json!("early"), TTL).await;
    assert_eq!(physical(&redis, "task:early").await, None);
    assert_eq!(cache.breaker_state(), BreakerState::Open);
    assert_eq!(
        cache.stats().errors,
        5,
        "an open breaker does not call Redis"
    );

    // After 30 s calls go through again; three successes close the breaker.
    clock.advance(Duration::from_secs(30) + Duration::from_millis(1));
    for key in ["task:a", "task:b"] {
        cache.set_json(key, &json!(key), TTL).await;
        assert_eq!(cache.breaker_state(), BreakerState::HalfOpen);
    }
    cache.set_json("task:c", &json!("task:c"), TTL).await;
    assert_eq!(cache.breaker_state(), BreakerState::Closed);
    for key in ["task:a", "task:b", "task:c"] {
        assert_eq!(physical(&redis, key).await, Some(json!(key)), "{key} in L2");
    }

    // Another instance (an empty L1) is served the value from L2.
    let other = MultiLevelCache::new(
        CacheConfig::default(),
        Some(store(redis.url.clone(), &redis)),
        None,
    );
    let from_l2: Arc<Value> = other.get_json("task:b").await.unwrap();
    assert_eq!(*from_l2, json!("task:b"));
    assert_eq!((other.stats().hits, other.stats().misses), (1, 0));
}
