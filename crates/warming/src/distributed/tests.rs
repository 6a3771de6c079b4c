#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ports::{JobEnvelope, JobQueue, PortError};
use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::job::warmup_job;
use crate::testkit::{FakeExecutor, FakeQueue, ManualClock, wait_until};

const T0: OffsetDateTime = datetime!(2024-01-01 0:00 UTC);

struct Setup {
    exec: Arc<FakeExecutor>,
    clock: Arc<ManualClock>,
    queue: Arc<FakeQueue>,
    deps: DistributedDeps,
    followed: Arc<Mutex<Vec<JobEnvelope>>>,
}

fn setup() -> Setup {
    let exec = Arc::new(FakeExecutor::default());
    let clock = Arc::new(ManualClock::new(T0));
    let queue = Arc::new(FakeQueue::new(clock.clone()));
    let followed = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&followed);
    let deps = DistributedDeps {
        queue: queue.clone(),
        exec: exec.clone(),
        clock: clock.clone(),
        sleeper: Arc::new(TokioSleeper),
        follow_up: Arc::new(move |job| sink.lock().unwrap().push(job)),
        counters: Arc::default(),
    };
    Setup {
        exec,
        clock,
        queue,
        deps,
        followed,
    }
}

fn worker(s: &Setup) -> DistributedWorker {
    DistributedWorker::new("w-0", s.deps.clone(), DistributedConfig::default())
}

fn job(key: &str, priority: i64) -> JobEnvelope {
    warmup_job(key, json!(key), Duration::from_secs(60), priority, T0)
}

#[tokio::test]
async fn a_successful_job_is_stored_and_acknowledged() {
    let s = setup();
    s.queue.enqueue_ready(&job("k", 5)).await.unwrap();
    assert!(worker(&s).poll_once().await.unwrap());
    assert_eq!(s.exec.stored_keys(), ["k"]);
    assert_eq!(s.queue.processing_len(), 0);
    assert_eq!(s.queue.sizes().await.unwrap(), ports::QueueSizes::default());
    assert_eq!(
        (s.deps.counters.processed(), s.deps.counters.failed()),
        (1, 0)
    );
    assert!(!worker(&s).poll_once().await.unwrap());
}

#[tokio::test]
async fn higher_priority_is_taken_first() {
    let s = setup();
    s.queue.enqueue_ready(&job("low", 5)).await.unwrap();
    s.queue.enqueue_ready(&job("high", 100)).await.unwrap();
    let w = worker(&s);
    w.poll_once().await.unwrap();
    w.poll_once().await.unwrap();
    assert_eq!(s.exec.stored_keys(), ["high", "low"]);
}

#[tokio::test]
async fn a_failing_job_is_retried_after_one_then_two_seconds_then_dead_lettered() {
    let s = setup();
    s.exec.fail_key("bad");
    s.queue.enqueue_ready(&job("bad", 5)).await.unwrap();
    let w = worker(&s);

    assert!(w.poll_once().await.unwrap());
    let delayed = s.queue.delayed();
    assert_eq!(delayed.len(), 1);
    assert_eq!(delayed[0].attempts, 1);
    assert_eq!(delayed[0].process_at, T0 + Duration::from_secs(1));

    assert!(!w.poll_once().await.unwrap(), "not due before 1 s");
    s.clock.advance(Duration::from_secs(1));
    assert!(w.poll_once().await.unwrap());
    let delayed = s.queue.delayed();
    assert_eq!(delayed[0].attempts, 2);
    assert_eq!(delayed[0].process_at, T0 + Duration::from_secs(3));

    s.clock.advance(Duration::from_secs(1));
    assert!(
        !w.poll_once().await.unwrap(),
        "not due before 2 more seconds"
    );
    s.clock.advance(Duration::from_secs(1));
    assert!(w.poll_once().await.unwrap());

    let dead = s.queue.list_dead(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(s.queue.sizes().await.unwrap().delayed, 0);
    assert_eq!(s.queue.processing_len(), 0);
    let c = &s.deps.counters;
    assert_eq!(
        (c.processed(), c.failed(), c.retried(), c.dead_lettered()),
        (3, 3, 2, 1)
    );
    assert!(s.exec.stored_keys().is_empty());
}

#[tokio::test]
async fn an_unreachable_queue_is_reported() {
    let s = setup();
    s.queue
        .unavailable
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(
        worker(&s).poll_once().await,
        Err(PortError::Unavailable(_))
    ));
}

#[tokio::test]
async fn validation_follow_ups_reach_the_sink() {
    let s = setup();
    let validation = crate::job::validation_job("absent", json!(1), 9, T0);
    s.queue.enqueue_ready(&validation).await.unwrap();
    worker(&s).poll_once().await.unwrap();
    assert_eq!(
        s.followed.lock().unwrap()[0].payload["key"],
        json!("absent")
    );
}

#[tokio::test(start_paused = true)]
async fn the_reaper_returns_a_job_whose_worker_died() {
    let s = setup();
    s.queue.enqueue_ready(&job("orphan", 5)).await.unwrap();
    let lease = DistributedConfig::default().lease;
    let crashed = s.queue.take("dead-worker", lease).await.unwrap();
    assert!(crashed.is_some());
    assert!(!worker(&s).poll_once().await.unwrap());

    s.clock.advance(lease + Duration::from_secs(1));
    let (tx, rx) = watch::channel(false);
    let reaper = tokio::spawn(run_reaper(s.deps.clone(), DistributedConfig::default(), rx));
    let queue = Arc::clone(&s.queue);
    wait_until(|| queue.processing_len() == 0).await;
    tx.send(true).unwrap();
    reaper.await.unwrap();

    assert!(worker(&s).poll_once().await.unwrap());
    assert_eq!(s.exec.stored_keys(), ["orphan"]);
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_the_job_in_hand_finish_and_be_acknowledged() {
    let s = setup();
    s.exec.set_delay(Duration::from_secs(5));
    s.queue.enqueue_ready(&job("in-hand", 5)).await.unwrap();
    s.queue.enqueue_ready(&job("next", 5)).await.unwrap();
    let (tx, rx) = watch::channel(false);
    let handle = tokio::spawn(worker(&s).run(rx));
    wait_until(|| s.exec.entered().len() == 1).await;
    tx.send(true).unwrap();
    handle.await.unwrap();
    assert_eq!(s.exec.stored_keys(), ["in-hand"]);
    assert_eq!(s.queue.processing_len(), 0);
    assert_eq!(s.queue.sizes().await.unwrap().immediate, 1);
}

#[tokio::test(start_paused = true)]
async fn spawned_workers_drain_the_queue_and_stop_on_shutdown() {
    let s = setup();
    for n in 0..4 {
        s.queue
            .enqueue_ready(&job(&format!("k{n}"), 5))
            .await
            .unwrap();
    }
    let (tx, rx) = watch::channel(false);
    let handles = spawn_distributed_workers(2, "inst", &s.deps, DistributedConfig::default(), &rx);
    assert_eq!(handles.len(), 3);
    wait_until(|| s.exec.stored_keys().len() == 4).await;
    tx.send(true).unwrap();
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(s.deps.counters.processed(), 4);
}
