//! Deletion, patterns, clearing, namespace generations and cross-instance coherence.

mod support;

use std::time::Duration;

use cache_multilevel::CacheConfig;
use ports::{InvalidationEvent, InvalidationMessage};
use support::{instance, l1_only, rig};

const MIN: Duration = Duration::from_secs(60);

#[tokio::test]
async fn deleting_a_key_removes_it_everywhere_and_tells_the_other_instances() {
    let r = rig(CacheConfig::default());
    let other = instance(CacheConfig::default(), &r.clock, &r.store, &r.bus);
    r.cache.set_json("task:1", &1u32, MIN).await;
    assert!(other.get_json::<u32>("task:1").await.is_some()); // now in other's L1 too

    r.cache.delete("task:1").await.expect("delete");
    assert!(!r.store.contains("task:1"));
    assert_eq!(
        r.bus.published(),
        vec![InvalidationMessage::Key("task:1".into())]
    );
    let gets = r.store.gets();
    assert!(other.get_json::<u32>("task:1").await.is_none());
    assert_eq!(
        r.store.gets(),
        gets + 1,
        "other's L1 entry was evicted, so it asked L2"
    );
}

#[tokio::test]
async fn pattern_deletion_honours_a_star_at_the_start_middle_and_end() {
    let r = rig(CacheConfig::default());
    let keys = [
        "user_tasks:u1",
        "user_tasks:u1:p2",
        "user_tasks:u2",
        "tasks_paginated:all:created_at:desc:1:10",
        "tasks_paginated:u1:created_at:desc:1:10",
        "tasks_paginated:u1:created_at:desc:2:10",
        "task:1:u9",
        "task:2:u8",
    ];
    for k in keys {
        r.cache.set_json(k, &k.to_owned(), MIN).await;
    }
    assert_eq!(
        r.cache.delete_pattern("user_tasks:u1*").await.expect("end"),
        2
    );
    assert_eq!(
        r.cache
            .delete_pattern("tasks_paginated:*:1:10")
            .await
            .expect("middle"),
        2
    );
    assert_eq!(r.cache.delete_pattern("*:u9").await.expect("start"), 1);
    assert_eq!(
        r.store.keys(),
        vec![
            "task:2:u8".to_owned(),
            "tasks_paginated:u1:created_at:desc:2:10".to_owned(),
            "user_tasks:u2".to_owned(),
        ]
    );
    assert_eq!(r.cache.l1_len(), 3);
    assert!(r.cache.get_json::<String>("user_tasks:u2").await.is_some());
    assert_eq!(
        r.bus.published().last(),
        Some(&InvalidationMessage::Pattern("*:u9".into()))
    );
}

#[tokio::test]
async fn pattern_deletion_bypasses_an_open_breaker() {
    let r = rig(CacheConfig::default());
    r.cache.set_json("a:1", &1u32, MIN).await;
    r.store.fail(true);
    for i in 0..5 {
        r.cache.get_json::<u32>(&format!("x{i}")).await;
    }
    r.store.fail(false);
    assert_eq!(r.cache.delete_pattern("a:*").await.expect("pattern"), 1);
    assert!(!r.store.contains("a:1"));
}

#[tokio::test]
async fn clear_empties_every_instance_and_the_store() {
    let r = rig(CacheConfig::default());
    let other = instance(CacheConfig::default(), &r.clock, &r.store, &r.bus);
    r.cache.set_json("a", &1u32, MIN).await;
    other.set_json("b", &2u32, MIN).await;
    assert_eq!(r.cache.clear().await.expect("clear"), 2);
    assert_eq!(r.cache.l1_len(), 0);
    assert_eq!(other.l1_len(), 0);
    assert!(r.store.keys().is_empty());
    assert_eq!(r.bus.published(), vec![InvalidationMessage::Clear]);
}

#[tokio::test]
async fn remote_events_evict_only_the_local_level() {
    let (_clock, cache) = l1_only(CacheConfig::default());
    for k in [
        "task:1",
        "task:2",
        "user_tasks:u1",
        "tasks_paginated:g1:x",
        "z",
    ] {
        cache.set_json(k, &1u32, MIN).await;
    }
    cache.apply_remote(InvalidationEvent::Message(InvalidationMessage::Key(
        "task:1".into(),
    )));
    assert_eq!(cache.l1_len(), 4);
    cache.apply_remote(InvalidationEvent::Message(InvalidationMessage::Pattern(
        "*:u1".into(),
    )));
    assert_eq!(cache.l1_len(), 3);
    cache.apply_remote(InvalidationEvent::Message(InvalidationMessage::Namespace(
        "tasks_paginated".into(),
    )));
    assert_eq!(cache.l1_len(), 2);
    assert!(cache.get_json::<u32>("task:2").await.is_some());
    cache.apply_remote(InvalidationEvent::Resynchronise);
    assert_eq!(cache.l1_len(), 0);
    cache.set_json("y", &1u32, MIN).await;
    cache.apply_remote(InvalidationEvent::Message(InvalidationMessage::Clear));
    assert_eq!(cache.l1_len(), 0);
}

#[tokio::test]
async fn bumping_a_namespace_makes_its_old_entries_unreachable_on_every_instance() {
    let r = rig(CacheConfig::default());
    let other = instance(CacheConfig::default(), &r.clock, &r.store, &r.bus);

    let key = r.cache.namespaced_key("tasks_paginated", "all:1:10").await;
    assert!(key.starts_with("tasks_paginated:g"), "{key}");
    assert_eq!(
        other.namespaced_key("tasks_paginated", "all:1:10").await,
        key
    );
    r.cache.set_json(&key, &vec![1u32, 2], MIN).await;
    assert!(other.get_json::<Vec<u32>>(&key).await.is_some());

    r.cache
        .bump_namespace("tasks_paginated")
        .await
        .expect("bump");
    let new_key = r.cache.namespaced_key("tasks_paginated", "all:1:10").await;
    assert_ne!(new_key, key);
    assert_eq!(
        other.namespaced_key("tasks_paginated", "all:1:10").await,
        new_key
    );
    assert!(r.cache.get_json::<Vec<u32>>(&new_key).await.is_none());
    assert!(other.get_json::<Vec<u32>>(&new_key).await.is_none());
    // The old entries left both L1s at once.
    assert_eq!(other.l1_len(), 0);
    assert!(
        r.bus
            .published()
            .contains(&InvalidationMessage::Namespace("tasks_paginated".into()))
    );
    // Other namespaces are untouched.
    let users = r.cache.namespaced_key("user_lists", "x").await;
    r.cache
        .bump_namespace("tasks_paginated")
        .await
        .expect("bump");
    assert_eq!(r.cache.namespaced_key("user_lists", "x").await, users);
}

#[tokio::test]
async fn an_instance_that_missed_the_message_follows_within_the_l1_cap() {
    let r = rig(CacheConfig::default());
    // `deaf` shares the store but is not subscribed to the bus.
    let deaf = std::sync::Arc::new(cache_multilevel::MultiLevelCache::with_clock(
        CacheConfig::default(),
        Some(r.store.clone() as std::sync::Arc<dyn ports::KeyValueStore>),
        None,
        r.clock.clone(),
    ));
    let before = deaf.namespace_generation("ns").await;
    assert_eq!(r.cache.namespace_generation("ns").await, before);
    let bumped = r.cache.bump_namespace("ns").await.expect("bump");
    assert_ne!(bumped, before);
    assert_eq!(deaf.namespace_generation("ns").await, before);
    r.clock.advance(Duration::from_secs(60));
    assert_eq!(deaf.namespace_generation("ns").await, bumped);
}

#[tokio::test]
async fn a_cleared_namespace_starts_a_fresh_generation() {
    let r = rig(CacheConfig::default());
    let g1 = r.cache.namespace_generation("ns").await;
    r.cache.clear().await.expect("clear");
    let g2 = r.cache.namespace_generation("ns").await;
    assert_ne!(g1, g2, "a cleared namespace starts a fresh generation");
}

#[tokio::test]
async fn a_bump_while_l2_is_down_holds_locally_and_reaches_l2_later() {
    let r = rig(CacheConfig::default());
    let before = r.cache.namespace_generation("ns").await;
    r.store.fail(true);
    let bumped = r.cache.bump_namespace("ns").await;
    assert!(bumped.is_err());
    r.store.fail(false);
    r.clock.advance(Duration::from_secs(120));
    let now = r.cache.namespace_generation("ns").await;
    assert_ne!(now, before, "the local bump is not lost");
    let other = instance(CacheConfig::default(), &r.clock, &r.store, &r.bus);
    assert_eq!(
        other.namespace_generation("ns").await,
        now,
        "and it reached L2"
    );
}

#[tokio::test]
async fn l1_only_mode_keeps_generations_locally() {
    let (_clock, cache) = l1_only(CacheConfig::default());
    let g = cache.namespace_generation("ns").await;
    assert_eq!(cache.namespace_generation("ns").await, g);
    let bumped = cache.bump_namespace("ns").await.expect("no L2, no failure");
    assert_ne!(bumped, g);
    assert_eq!(cache.namespace_generation("ns").await, bumped);
    cache.delete("k").await.expect("L1-only delete succeeds");
    assert_eq!(cache.clear().await.expect("L1-only clear"), 0);
}
