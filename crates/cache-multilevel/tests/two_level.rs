//! The read path, writes, expiry, promotion, bounds, breaker and statistics.

mod support;

use std::sync::Arc;
use std::time::Duration;

use cache_multilevel::{BreakerState, CacheConfig, CacheError};
use serde::{Deserialize, Serialize};
use support::{l1_only, rig};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Task {
    id: u32,
    title: String,
}

fn task(id: u32) -> Task {
    Task {
        id,
        title: format!("task {id}"),
    }
}

const MIN: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_write_reaches_both_levels_and_is_read_back_from_l1() {
    let r = rig(CacheConfig::default());
    r.cache.set_json("task:1", &task(1), 30 * MIN).await;
    assert!(r.store.contains("task:1"));
    let got = r.cache.get_json::<Task>("task:1").await;
    assert_eq!(got.as_deref(), Some(&task(1)));
    assert_eq!(r.store.gets(), 0, "an L1 hit does not touch L2");
    let s = r.cache.stats();
    assert_eq!((s.hits, s.misses, s.sets, s.errors), (1, 0, 1, 0));
}

#[tokio::test]
async fn l1_keeps_an_entry_at_most_sixty_seconds_while_l2_keeps_the_requested_lifetime() {
    let r = rig(CacheConfig::default());
    r.cache.set_json("task:1", &task(1), 30 * MIN).await;
    r.clock.advance(Duration::from_secs(59));
    assert!(r.cache.get_json::<Task>("task:1").await.is_some());
    assert_eq!(r.store.gets(), 0);
    r.clock.advance(Duration::from_secs(1));
    // L1 expired at 60 s: the value now comes from L2.
    assert_eq!(
        r.cache.get_json::<Task>("task:1").await.as_deref(),
        Some(&task(1))
    );
    assert_eq!(r.store.gets(), 1);
}

#[tokio::test]
async fn an_l2_hit_is_promoted_for_the_promotion_lifetime_capped_by_the_l1_cap() {
    // Promotion lifetime shorter than the cap: it wins.
    let config = CacheConfig {
        promotion_ttl: Duration::from_secs(10),
        ..CacheConfig::default()
    };
    let r = rig(config);
    let other = support::instance(config, &r.clock, &r.store, &r.bus);
    other.set_json("task:1", &task(1), 30 * MIN).await;
    assert!(r.cache.get_json::<Task>("task:1").await.is_some()); // L2 hit, promoted
    assert_eq!(r.store.gets(), 1);
    r.clock.advance(Duration::from_secs(9));
    assert!(r.cache.get_json::<Task>("task:1").await.is_some()); // L1
    assert_eq!(r.store.gets(), 1);
    r.clock.advance(Duration::from_secs(1));
    assert!(r.cache.get_json::<Task>("task:1").await.is_some()); // L2 again
    assert_eq!(r.store.gets(), 2);

    // Default promotion lifetime (5 min) is capped at 60 s.
    let r = rig(CacheConfig::default());
    let other = support::instance(CacheConfig::default(), &r.clock, &r.store, &r.bus);
    other.set_json("task:2", &task(2), 30 * MIN).await;
    assert!(r.cache.get_json::<Task>("task:2").await.is_some());
    r.clock.advance(Duration::from_secs(59));
    assert!(r.cache.get_json::<Task>("task:2").await.is_some());
    assert_eq!(r.store.gets(), 1);
    r.clock.advance(Duration::from_secs(1));
    assert!(r.cache.get_json::<Task>("task:2").await.is_some());
    assert_eq!(r.store.gets(), 2);
}

#[tokio::test]
async fn expired_entries_are_never_returned_and_the_sweep_removes_them() {
    let (clock, cache) = l1_only(CacheConfig::default());
    cache.set_json("a", &1u32, Duration::from_secs(5)).await;
    cache.set_json("b", &2u32, Duration::from_secs(50)).await;
    clock.advance(Duration::from_secs(5));
    assert_eq!(cache.get_json::<u32>("a").await, None);
    assert_eq!(cache.get_json::<u32>("b").await.as_deref(), Some(&2));
    clock.advance(Duration::from_secs(45));
    assert_eq!(cache.l1_len(), 1);
    assert_eq!(cache.sweep_expired(), 1);
    assert_eq!(cache.l1_len(), 0);
}

#[tokio::test]
async fn a_zero_lifetime_stores_nothing() {
    let r = rig(CacheConfig::default());
    r.cache.set_json("a", &1u32, Duration::ZERO).await;
    assert!(!r.store.contains("a"));
    assert_eq!(r.cache.l1_len(), 0);
}

#[tokio::test]
async fn l1_is_bounded_in_bytes() {
    let config = CacheConfig {
        l1_max_entries: 1_000,
        l1_max_bytes: 20_000,
        ..CacheConfig::default()
    };
    let (_clock, cache) = l1_only(config);
    let big = "x".repeat(1_000);
    for i in 0..200 {
        cache.set_json(&format!("k{i}"), &big, MIN).await;
    }
    assert!(cache.l1_weight() <= 20_000, "weight {}", cache.l1_weight());
    assert!(cache.l1_len() <= 20, "len {}", cache.l1_len());
    assert!(cache.l1_len() > 0);
}

#[tokio::test]
async fn l1_is_bounded_in_entries() {
    let config = CacheConfig {
        l1_max_entries: 100,
        l1_max_bytes: 1 << 30,
        ..CacheConfig::default()
    };
    let (_clock, cache) = l1_only(config);
    for i in 0..1_000u32 {
        cache.set_json(&format!("k{i}"), &i, MIN).await;
    }
    assert!(cache.l1_len() <= 100, "len {}", cache.l1_len());
    assert!(cache.l1_len() >= 50, "len {}", cache.l1_len());
}

#[tokio::test]
async fn misses_do_not_trip_the_breaker() {
    let r = rig(CacheConfig::default());
    for i in 0..20 {
        assert!(
            r.cache
                .get_json::<Task>(&format!("absent:{i}"))
                .await
                .is_none()
        );
    }
    assert_eq!(r.cache.breaker_state(), BreakerState::Closed);
    let s = r.cache.stats();
    assert_eq!((s.misses, s.errors), (20, 0));
    assert_eq!(r.store.gets(), 20);
}

#[tokio::test]
async fn five_failures_open_the_breaker_which_then_spares_l2_until_thirty_seconds_pass() {
    let r = rig(CacheConfig::default());
    r.store.fail(true);
    for i in 0..5 {
        assert!(r.cache.get_json::<Task>(&format!("k{i}")).await.is_none());
    }
    assert_eq!(r.cache.breaker_state(), BreakerState::Open);
    assert_eq!(r.store.gets(), 5);

    // Open: no L2 traffic at all, reads are plain misses.
    assert!(r.cache.get_json::<Task>("k").await.is_none());
    r.cache.set_json("k", &task(1), MIN).await;
    assert_eq!(r.store.gets(), 5);
    assert_eq!(r.store.sets.load(std::sync::atomic::Ordering::SeqCst), 0);
    let s = r.cache.stats();
    assert_eq!((s.misses, s.errors, s.sets), (6, 5, 1));
    let b = r.cache.breaker_stats();
    assert_eq!(
        (b.failure_count, b.max_failures, b.timeout_seconds),
        (5, 5, 30)
    );
    assert!(b.last_failure > 0);

    // Half-open after 30 s; three successes close it.
    r.store.fail(false);
    r.clock.advance(Duration::from_secs(30));
    for i in 0..2 {
        r.cache.get_json::<Task>(&format!("m{i}")).await;
    }
    assert_eq!(r.cache.breaker_state(), BreakerState::HalfOpen);
    r.cache.get_json::<Task>("m3").await;
    assert_eq!(r.cache.breaker_state(), BreakerState::Closed);
}

#[tokio::test]
async fn a_failing_l2_never_fails_the_caller() {
    let r = rig(CacheConfig::default());
    r.store.fail(true);
    r.cache.set_json("task:1", &task(1), MIN).await;
    // L1 still serves what was written.
    assert_eq!(
        r.cache.get_json::<Task>("task:1").await.as_deref(),
        Some(&task(1))
    );
    assert_eq!(r.cache.stats().errors, 1);
    // Invalidation reports the failure but the local level is updated anyway.
    let err = r.cache.delete("task:1").await.expect_err("L2 is down");
    assert!(matches!(err, CacheError::Store(_)), "{err:?}");
    assert!(r.cache.get_json::<Task>("task:1").await.is_none());
}

#[tokio::test]
async fn statistics_count_hits_misses_sets_and_deletes() {
    let r = rig(CacheConfig::default());
    assert_eq!(r.cache.hit_rate_percent(), 0.0);
    r.cache.set_json("a", &1u32, MIN).await;
    r.cache.set_json("b", &2u32, MIN).await;
    r.cache.get_json::<u32>("a").await;
    r.cache.get_json::<u32>("a").await;
    r.cache.get_json::<u32>("b").await;
    r.cache.get_json::<u32>("nope").await;
    r.cache.delete("a").await.expect("delete");
    r.cache.delete_pattern("b*").await.expect("pattern");
    let s = r.cache.stats();
    assert_eq!(
        (s.hits, s.misses, s.sets, s.deletes, s.errors),
        (3, 1, 2, 1, 0)
    );
    assert!((r.cache.hit_rate_percent() - 75.0).abs() < 1e-9);
    assert_eq!(s.start_time, 1_700_000_000);
}

#[tokio::test]
async fn a_value_of_another_type_in_l1_falls_back_to_l2() {
    let r = rig(CacheConfig::default());
    // Written as loose JSON (as a warming job would), read as a typed task.
    r.cache
        .set_json(
            "task:1",
            &serde_json::json!({"id": 1, "title": "task 1"}),
            MIN,
        )
        .await;
    assert_eq!(
        r.cache.get_json::<Task>("task:1").await.as_deref(),
        Some(&task(1))
    );
    assert_eq!(r.store.gets(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_misses_of_one_key_run_the_loader_once() {
    let r = rig(CacheConfig::default());
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let cache = r.cache.clone();
        let calls = calls.clone();
        tasks.push(tokio::spawn(async move {
            cache
                .get_or_load("all_tasks", 10 * MIN, || async {
                    calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok::<_, String>(vec![task(1), task(2)])
                })
                .await
                .expect("loaded")
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("join").len(), 2);
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(r.store.contains("all_tasks"));
    let s = r.cache.stats();
    assert_eq!((s.misses, s.hits, s.sets), (1, 49, 1));
}

#[tokio::test]
async fn a_loader_error_is_returned_and_nothing_is_cached() {
    let r = rig(CacheConfig::default());
    let err = r
        .cache
        .get_or_load::<Task, _, _, _>("task:1", MIN, || async { Err("db down") })
        .await
        .expect_err("loader failed");
    assert_eq!(err, "db down");
    assert!(!r.store.contains("task:1"));
    let got = r
        .cache
        .get_or_load("task:1", MIN, || async { Ok::<_, String>(task(1)) })
        .await
        .expect("loaded");
    assert_eq!(*got, task(1));
}
