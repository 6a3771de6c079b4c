//! The L2 store against a real Redis, each test in its own key prefix.

mod common;

use std::time::Duration;

use common::{eventually, setup};
use ports::KeyValueStore;

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn a_written_value_is_read_back_under_the_cache_namespace() {
    let (redis, _pool, store) = setup().await;
    store.set("task:1", b"{\"a\":1}", HOUR).await.expect("set");
    assert_eq!(
        store.get("task:1").await.expect("get"),
        Some(b"{\"a\":1}".to_vec())
    );
    assert_eq!(store.get("task:2").await.expect("get"), None);

    let mut conn = redis.connection().await;
    let raw: Option<Vec<u8>> = redis::cmd("GET")
        .arg(format!("{}cache:task:1", redis.prefix))
        .query_async(&mut conn)
        .await
        .expect("raw GET");
    assert_eq!(raw, Some(b"{\"a\":1}".to_vec()));
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(format!("{}cache:task:1", redis.prefix))
        .query_async(&mut conn)
        .await
        .expect("PTTL");
    assert!(ttl_ms > 0 && ttl_ms <= 3_600_000, "ttl {ttl_ms}");
}

#[tokio::test]
async fn an_entry_disappears_after_its_lifetime() {
    let (_redis, _pool, store) = setup().await;
    store
        .set("short", b"x", Duration::from_millis(50))
        .await
        .expect("set");
    let gone = eventually(Duration::from_secs(2), || async {
        store.get("short").await.expect("get").is_none()
    })
    .await;
    assert!(gone, "the entry should expire");
}

#[tokio::test]
async fn delete_removes_one_key_and_deleting_an_absent_key_succeeds() {
    let (_redis, _pool, store) = setup().await;
    store.set("a", b"1", HOUR).await.expect("set");
    store.set("b", b"2", HOUR).await.expect("set");
    store.delete("a").await.expect("delete");
    store.delete("never-there").await.expect("delete absent");
    assert_eq!(store.get("a").await.expect("get"), None);
    assert_eq!(store.get("b").await.expect("get"), Some(b"2".to_vec()));
}

#[tokio::test]
async fn delete_matching_honours_a_star_at_the_start_middle_and_end() {
    let (redis, _pool, store) = setup().await;
    for key in [
        "user_tasks:u1",
        "user_tasks:u1:page2",
        "user_tasks:u2",
        "tasks_paginated:all:created_at:desc:1:10",
        "tasks_paginated:u1:created_at:desc:1:10",
        "task:1:u1",
        "task:2:u2",
        "odd[1]?",
        "odd[2]?",
    ] {
        store.set(key, b"v", HOUR).await.expect("set");
    }
    assert_eq!(redis.key_count().await, 9);

    // Trailing star.
    assert_eq!(
        store.delete_matching("user_tasks:u1*").await.expect("dm"),
        2
    );
    assert_eq!(
        store.get("user_tasks:u2").await.expect("get"),
        Some(b"v".to_vec())
    );
    // Star in the middle.
    assert_eq!(
        store
            .delete_matching("tasks_paginated:*:created_at:desc:1:10")
            .await
            .expect("dm"),
        2
    );
    // Leading star.
    assert_eq!(store.delete_matching("*:u2").await.expect("dm"), 2);
    assert_eq!(
        store.get("task:1:u1").await.expect("get"),
        Some(b"v".to_vec())
    );
    // Glob metacharacters in the literal parts are literal.
    assert_eq!(store.delete_matching("odd[1]*").await.expect("dm"), 1);
    assert_eq!(
        store.get("odd[2]?").await.expect("get"),
        Some(b"v".to_vec())
    );
    // Nothing matching is still a success.
    assert_eq!(store.delete_matching("nothing:*").await.expect("dm"), 0);
    assert_eq!(redis.key_count().await, 2);
}

#[tokio::test]
async fn delete_matching_walks_more_keys_than_one_scan_step() {
    let (redis, _pool, store) = setup().await;
    let mut conn = redis.connection().await;
    let mut pipe = redis::pipe();
    for i in 0..1200 {
        pipe.cmd("SET")
            .arg(format!("{}cache:bulk:{i}", redis.prefix))
            .arg("v")
            .arg("EX")
            .arg(600)
            .ignore();
    }
    let () = pipe.query_async(&mut conn).await.expect("plant keys");
    assert_eq!(store.delete_matching("bulk:*").await.expect("dm"), 1200);
    assert_eq!(redis.key_count().await, 0);
}

#[tokio::test]
async fn clear_removes_cache_entries_and_nothing_else() {
    let (redis, _pool, store) = setup().await;
    store.set("task:1", b"1", HOUR).await.expect("set");
    store.set("all_tasks", b"[]", HOUR).await.expect("set");
    let mut conn = redis.connection().await;
    for key in ["cache_jobs", "revoked_jti:x", "cache_gen:ns", "cachex"] {
        let () = redis::cmd("SET")
            .arg(format!("{}{key}", redis.prefix))
            .arg("keep")
            .arg("EX")
            .arg(600)
            .query_async(&mut conn)
            .await
            .expect("plant");
    }
    assert_eq!(store.clear().await.expect("clear"), 2);
    assert_eq!(store.get("task:1").await.expect("get"), None);
    for key in ["cache_jobs", "revoked_jti:x", "cache_gen:ns", "cachex"] {
        let kept: Option<String> = redis::cmd("GET")
            .arg(format!("{}{key}", redis.prefix))
            .query_async(&mut conn)
            .await
            .expect("GET");
        assert_eq!(kept.as_deref(), Some("keep"), "{key} must survive clear");
    }
}

#[tokio::test]
async fn increment_counts_up_from_one_and_survives_clear() {
    let (_redis, _pool, store) = setup().await;
    assert_eq!(store.increment("gen:tasks").await.expect("incr"), 1);
    assert_eq!(store.increment("gen:tasks").await.expect("incr"), 2);
    assert_eq!(store.increment("gen:other").await.expect("incr"), 1);
    store.clear().await.expect("clear");
    assert_eq!(store.increment("gen:tasks").await.expect("incr"), 3);
}
