//! The pool: lazy creation, health probe, bounded failure against an unreachable server.

mod common;

use std::time::Duration;

use adapters_redis::{RedisKeyValueStore, RedisPool, RedisSettings};
use common::setup;
use ports::{HealthProbe, KeyValueStore};

#[tokio::test]
async fn ping_succeeds_against_a_live_server() {
    let (_redis, pool, _store) = setup().await;
    pool.ping().await.expect("PING");
    let status = pool.status();
    assert_eq!(status.max_size, 4);
    assert!(status.size >= 1);
    let info = pool.info().await.expect("INFO");
    assert!(info.contains("used_memory"), "{info}");
}

#[tokio::test]
async fn an_unreachable_server_fails_fast_and_the_pool_still_builds() {
    let mut settings = RedisSettings::new("redis://127.0.0.1:1");
    settings.connect_timeout = Duration::from_secs(1);
    settings.command_timeout = Duration::from_secs(1);
    let pool = RedisPool::new(&settings).expect("building the pool must not connect");
    let store = RedisKeyValueStore::new(pool.clone());

    let err = store
        .get("task:1")
        .await
        .expect_err("nothing listens on port 1");
    assert!(err.is_unavailable(), "{err:?}");
    let err = pool.ping().await.expect_err("nothing listens on port 1");
    assert!(err.is_unavailable(), "{err:?}");
}

#[tokio::test]
async fn an_invalid_url_is_rejected_at_build_time() {
    let err = RedisPool::new(&RedisSettings::new("not-a-url")).expect_err("bad URL");
    assert!(!err.is_unavailable(), "{err:?}");
}

#[tokio::test]
async fn a_password_with_special_characters_survives_the_built_url() {
    // The shared test server has no password, so check what redis-rs parses out of it.
    use redis::IntoConnectionInfo;
    let url = RedisSettings::url_from_parts("127.0.0.1", 6379, "p@ss:w/rd %", 3);
    let info = url.as_str().into_connection_info().expect("parses");
    assert_eq!(info.redis_settings().password(), Some("p@ss:w/rd %"));
    assert_eq!(info.redis_settings().db(), 3);
}
