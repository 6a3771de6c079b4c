#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ports::{JobEnvelope, JobType};
use serde_json::json;
use time::macros::datetime;

use super::*;
use crate::job::{batch_job, scheduled_job, validation_job, warmup_job};
use crate::testkit::{FakeExecutor, TokioClock, wait_until};

const BASE: OffsetDateTime = datetime!(2024-01-01 0:00 UTC);

struct Setup {
    exec: Arc<FakeExecutor>,
    clock: Arc<TokioClock>,
    followed: Arc<Mutex<Vec<JobEnvelope>>>,
    pool: LocalPool,
}

fn setup(config: LocalPoolConfig) -> Setup {
    let exec = Arc::new(FakeExecutor::default());
    let clock = Arc::new(TokioClock::new(BASE));
    let followed = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&followed);
    let follow_up: FollowUp = Arc::new(move |job| sink.lock().unwrap().push(job));
    let pool = LocalPool::start_with(config, exec.clone(), clock.clone(), follow_up);
    Setup {
        exec,
        clock,
        followed,
        pool,
    }
}

fn one_worker() -> LocalPoolConfig {
    LocalPoolConfig {
        workers: 1,
        ..LocalPoolConfig::default()
    }
}

fn job(key: &str, priority: i64) -> JobEnvelope {
    warmup_job(key, json!(key), Duration::from_secs(60), priority, BASE)
}

#[tokio::test(start_paused = true)]
async fn higher_priority_runs_first_and_equal_priorities_in_arrival_order() {
    let s = setup(one_worker());
    let gate = s.exec.close_gate();
    s.pool.submit(job("hold", 5)).unwrap();
    wait_until(|| s.exec.entered().len() == 1).await;
    for (key, priority) in [("p3", 3), ("p9a", 9), ("p1", 1), ("p9b", 9), ("p5", 5)] {
        s.pool.submit(job(key, priority)).unwrap();
    }
    assert_eq!(s.pool.queue_len(), 5);
    gate.add_permits(100);
    wait_until(|| s.exec.stored_keys().len() == 6).await;
    assert_eq!(s.exec.entered(), ["hold", "p9a", "p9b", "p5", "p3", "p1"]);
    assert_eq!(s.pool.queue_len(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_refuses_jobs_and_batches_are_queued_all_or_nothing() {
    let s = setup(LocalPoolConfig::default());
    let _gate = s.exec.close_gate();
    for n in 0..5 {
        s.pool.submit(job(&format!("hold{n}"), 5)).unwrap();
    }
    wait_until(|| s.exec.entered().len() == 5).await;
    for n in 0..9 {
        s.pool.submit(job(&format!("q{n}"), 5)).unwrap();
    }
    let pair = batch_job(vec!["b1".into(), "b2".into()], json!(1), 5, BASE);
    assert_eq!(s.pool.submit(pair), Err(SubmitError::QueueFull));
    assert_eq!(s.pool.queue_len(), 9);
    let single = batch_job(vec!["b1".into()], json!(1), 5, BASE);
    s.pool.submit(single).unwrap();
    assert_eq!(s.pool.submit(job("q10", 5)), Err(SubmitError::QueueFull));
    let stats = s.pool.stats();
    assert_eq!(
        (stats.workers, stats.queue_length, stats.queue_capacity),
        (5, 10, 10)
    );
    assert!(stats.running);
}

#[tokio::test(start_paused = true)]
async fn a_batch_runs_as_one_warmup_per_key_for_an_hour() {
    let s = setup(LocalPoolConfig::default());
    s.pool
        .submit(batch_job(vec!["a".into(), "b".into()], json!(3), 5, BASE))
        .unwrap();
    wait_until(|| s.pool.stats().jobs_processed == 2).await;
    let mut keys = s.exec.stored_keys();
    keys.sort();
    assert_eq!(keys, ["a", "b"]);
    assert!(s.exec.ops().iter().all(|op| matches!(
        op,
        crate::testkit::Op::Store(_, value, ttl) if *value == json!(3) && *ttl == Duration::from_secs(3600)
    )));
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_job_is_held_until_process_at() {
    let s = setup(LocalPoolConfig::default());
    let due = BASE + Duration::from_secs(30);
    let sched = scheduled_job("later", json!(1), Duration::ZERO, due, 5, BASE);
    s.pool.submit(sched).unwrap();
    assert_eq!((s.pool.scheduled_len(), s.pool.queue_len()), (1, 0));
    tokio::time::sleep(Duration::from_secs(29)).await;
    assert!(s.exec.entered().is_empty());
    assert_eq!(s.pool.scheduled_len(), 1);
    wait_until(|| !s.exec.stored_keys().is_empty()).await;
    assert!(s.clock.now() >= due);
    assert_eq!(s.pool.scheduled_len(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_job_in_the_past_runs_at_once() {
    let s = setup(LocalPoolConfig::default());
    let past = BASE - Duration::from_secs(3600);
    s.pool
        .submit(scheduled_job(
            "now",
            json!(1),
            Duration::ZERO,
            past,
            5,
            BASE,
        ))
        .unwrap();
    assert_eq!(s.pool.scheduled_len(), 0);
    wait_until(|| s.exec.stored_keys() == ["now"]).await;
}

#[tokio::test(start_paused = true)]
async fn local_failures_are_counted_and_not_retried() {
    let s = setup(LocalPoolConfig::default());
    s.exec.fail_key("bad");
    s.exec.set_delay(Duration::from_secs(2));
    s.pool.submit(job("bad", 5)).unwrap();
    s.pool.submit(job("good", 5)).unwrap();
    wait_until(|| s.pool.stats().jobs_processed == 2).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let stats = s.pool.stats();
    assert_eq!((stats.jobs_processed, stats.total_errors), (2, 1));
    assert_eq!(s.exec.entered().iter().filter(|k| *k == "bad").count(), 1);
    assert_eq!(s.exec.stored_keys(), ["good"]);
    let total = crate::duration_text::parse(&stats.total_duration).unwrap();
    let avg = crate::duration_text::parse(&stats.avg_duration).unwrap();
    assert!(total >= Duration::from_secs(4), "{stats:?}");
    assert!(avg >= Duration::from_secs(2) && avg <= total, "{stats:?}");
}

#[tokio::test(start_paused = true)]
async fn validation_follow_ups_go_to_the_follow_up_sink() {
    let s = setup(LocalPoolConfig::default());
    s.pool
        .submit(validation_job("absent", json!({"v": 1}), 7, BASE))
        .unwrap();
    wait_until(|| !s.followed.lock().unwrap().is_empty()).await;
    let followed = s.followed.lock().unwrap().clone();
    assert_eq!(followed[0].job_type, JobType::CacheWarmup);
    assert_eq!(followed[0].priority, 7);
}

#[tokio::test(start_paused = true)]
async fn shutdown_finishes_the_job_in_hand_and_drops_the_queue() {
    let s = setup(one_worker());
    s.exec.set_delay(Duration::from_secs(5));
    s.pool.submit(job("in-hand", 5)).unwrap();
    wait_until(|| s.exec.entered().len() == 1).await;
    s.pool.submit(job("queued", 5)).unwrap();
    assert!(s.pool.shutdown(Duration::from_secs(60)).await);
    assert_eq!(s.exec.stored_keys(), ["in-hand"]);
    assert_eq!(s.exec.entered(), ["in-hand"]);
    let stats = s.pool.stats();
    assert!(!stats.running);
    assert_eq!((stats.jobs_processed, stats.queue_length), (1, 0));
    assert_eq!(s.pool.submit(job("late", 5)), Err(SubmitError::ShutDown));
}

#[tokio::test(start_paused = true)]
async fn shutdown_gives_up_on_a_job_that_outlives_the_deadline() {
    let s = setup(one_worker());
    s.exec.set_delay(Duration::from_secs(120));
    s.pool.submit(job("slow", 5)).unwrap();
    wait_until(|| s.exec.entered().len() == 1).await;
    assert!(!s.pool.shutdown(Duration::from_secs(10)).await);
    assert!(s.exec.stored_keys().is_empty());
}
