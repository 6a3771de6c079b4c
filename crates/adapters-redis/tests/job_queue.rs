//! The Redis job queue against a real Redis server (contract 14.5, 14.6, [D-40]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters_redis::RedisJobQueue;
use adapters_redis::job_queue::{DEAD_LETTER_QUEUE, LEASE_OWNERS, READY_QUEUE};
use async_trait::async_trait;
use ports::{JobEnvelope, JobQueue, PortError, PortResult, QueueSizes, SystemClock};
use redis::AsyncCommands;
use serde_json::json;
use testkit::TestRedis;
use time::OffsetDateTime;
use tokio::sync::watch;
use warming::{
    DistributedConfig, DistributedDeps, JobExecutor, TokioSleeper, spawn_distributed_workers,
};

const LONG_LEASE: Duration = Duration::from_secs(60);

async fn setup() -> (TestRedis, RedisJobQueue) {
    let (redis, pool, _) = common::setup().await;
    (redis, RedisJobQueue::new(pool))
}

/// A warmup job whose id is its key, so tests can name jobs.
fn job(key: &str, priority: i64) -> JobEnvelope {
    let mut job = warming::warmup_job(
        key,
        json!({"k": key}),
        Duration::from_secs(60),
        priority,
        OffsetDateTime::now_utc(),
    );
    job.id = key.to_owned();
    job
}

fn delayed(key: &str, priority: i64, process_at: OffsetDateTime) -> JobEnvelope {
    let mut job = job(key, priority);
    job.process_at = process_at;
    job
}

async fn take_id(queue: &RedisJobQueue, worker: &str) -> Option<String> {
    queue
        .take(worker, LONG_LEASE)
        .await
        .unwrap()
        .map(|leased| leased.job.id)
}

#[tokio::test]
async fn higher_priority_and_older_jobs_are_taken_first() {
    let (_redis, queue) = setup().await;
    for (key, priority) in [("low-1", 5), ("high", 100), ("low-2", 5), ("mid", 50)] {
        queue.enqueue_ready(&job(key, priority)).await.unwrap();
    }
    let mut order = Vec::new();
    while let Some(id) = take_id(&queue, "w").await {
        order.push(id);
    }
    assert_eq!(order, ["high", "mid", "low-1", "low-2"]);
}

#[tokio::test]
async fn delayed_jobs_wait_until_due_and_are_promoted_up_to_the_limit() {
    let (_redis, queue) = setup().await;
    let now = OffsetDateTime::now_utc();
    let later = now + Duration::from_secs(3600);
    queue
        .enqueue_delayed(&delayed("d-low", 1, later))
        .await
        .unwrap();
    queue
        .enqueue_delayed(&delayed("d-high", 9, later + Duration::from_secs(1)))
        .await
        .unwrap();
    queue
        .enqueue_delayed(&delayed("d-last", 5, later + Duration::from_secs(2)))
        .await
        .unwrap();
    assert_eq!(queue.sizes().await.unwrap().delayed, 3);

    assert_eq!(queue.promote_due(now, 10).await.unwrap(), 0);
    assert_eq!(take_id(&queue, "w").await, None, "nothing is due yet");

    let due = later + Duration::from_secs(1);
    assert_eq!(queue.promote_due(due, 10).await.unwrap(), 2);
    assert_eq!(
        queue.sizes().await.unwrap(),
        QueueSizes {
            immediate: 2,
            delayed: 1,
            dead_letter: 0
        }
    );
    assert_eq!(take_id(&queue, "w").await.as_deref(), Some("d-high"));
    assert_eq!(take_id(&queue, "w").await.as_deref(), Some("d-low"));

    queue
        .enqueue_delayed(&delayed("d-other", 1, later))
        .await
        .unwrap();
    let all_due = later + Duration::from_secs(10);
    assert_eq!(queue.promote_due(all_due, 1).await.unwrap(), 1, "limit");
    assert_eq!(queue.promote_due(all_due, 0).await.unwrap(), 0);
    assert_eq!(queue.promote_due(all_due, 10).await.unwrap(), 1);
    assert_eq!(queue.sizes().await.unwrap().delayed, 0);
}

#[tokio::test]
async fn an_expired_lease_returns_the_job_and_the_old_holder_can_no_longer_settle_it() {
    let (_redis, queue) = setup().await;
    queue.enqueue_ready(&job("orphan", 5)).await.unwrap();
    let first = queue
        .take("dying", Duration::from_millis(100))
        .await
        .unwrap()
        .expect("a job");
    assert_eq!(first.raw, job_text(&first.job));
    assert_eq!(queue.processing_len().await.unwrap(), 1);
    assert_eq!(
        take_id(&queue, "other").await,
        None,
        "leased jobs stay hidden"
    );
    assert_eq!(
        queue
            .requeue_expired_leases(first.lease_until - Duration::from_millis(50))
            .await
            .unwrap(),
        0,
        "not expired yet"
    );

    let returned = common::eventually(Duration::from_secs(5), || {
        let queue = queue.clone();
        async move {
            queue
                .requeue_expired_leases(OffsetDateTime::now_utc())
                .await
                .unwrap()
                == 1
        }
    })
    .await;
    assert!(returned, "the expired lease was returned");
    assert_eq!(queue.processing_len().await.unwrap(), 0);

    let second = queue.take("heir", LONG_LEASE).await.unwrap().expect("job");
    assert_eq!(second.job.id, "orphan");
    queue.ack(&first).await.unwrap();
    assert_eq!(
        queue.processing_len().await.unwrap(),
        1,
        "a stale ack does not release the new holder's lease"
    );
    queue.ack(&second).await.unwrap();
    assert_eq!(queue.processing_len().await.unwrap(), 0);
}

fn job_text(job: &JobEnvelope) -> String {
    job.to_json().unwrap()
}

#[tokio::test]
async fn ack_removes_the_job_from_every_queue() {
    let (redis, queue) = setup().await;
    queue.enqueue_ready(&job("done", 5)).await.unwrap();
    let leased = queue.take("w", LONG_LEASE).await.unwrap().expect("job");
    assert_eq!(leased.worker_id, "w");
    assert!(leased.lease_until > OffsetDateTime::now_utc());
    queue.ack(&leased).await.unwrap();
    assert_eq!(queue.sizes().await.unwrap(), QueueSizes::default());
    assert_eq!(queue.processing_len().await.unwrap(), 0);
    assert_eq!(
        redis.key_count().await,
        1,
        "only the lease owners hash (with its sentinel) remains"
    );
}

#[tokio::test]
async fn retry_later_moves_the_updated_job_to_the_delayed_queue() {
    let (_redis, queue) = setup().await;
    queue.enqueue_ready(&job("flaky", 5)).await.unwrap();
    let leased = queue.take("w", LONG_LEASE).await.unwrap().expect("job");
    let mut retry = leased.job.clone();
    retry.attempts = 1;
    retry.process_at = OffsetDateTime::now_utc() + Duration::from_secs(1);
    queue.retry_later(&leased, &retry).await.unwrap();
    assert_eq!(queue.processing_len().await.unwrap(), 0);
    assert_eq!(queue.sizes().await.unwrap().delayed, 1);

    assert_eq!(
        queue
            .promote_due(OffsetDateTime::now_utc() - Duration::from_secs(5), 10)
            .await
            .unwrap(),
        0
    );
    let due = retry.process_at + Duration::from_millis(1);
    assert_eq!(queue.promote_due(due, 10).await.unwrap(), 1);
    let again = queue.take("w", LONG_LEASE).await.unwrap().expect("job");
    assert_eq!(again.job, retry);
}

#[tokio::test]
async fn a_settlement_after_the_reaper_requeued_the_job_moves_nothing() {
    let (_redis, queue) = setup().await;
    queue.enqueue_ready(&job("late", 5)).await.unwrap();
    let leased = queue
        .take("slow", Duration::from_millis(1))
        .await
        .unwrap()
        .expect("job");
    let requeued = queue
        .requeue_expired_leases(leased.lease_until + Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(requeued, 1);
    let mut retry = leased.job.clone();
    retry.attempts = 1;
    queue.retry_later(&leased, &retry).await.unwrap();
    queue.dead_letter(&leased, &retry).await.unwrap();
    assert_eq!(
        queue.sizes().await.unwrap(),
        QueueSizes {
            immediate: 1,
            delayed: 0,
            dead_letter: 0
        },
        "the job stays once, in the ready queue"
    );
}

#[tokio::test]
async fn a_stale_holder_cannot_dead_letter_a_job_another_worker_finished() {
    let (_redis, queue) = setup().await;
    queue.enqueue_ready(&job("rerun", 5)).await.unwrap();
    let stale = queue
        .take("slow", Duration::from_millis(1))
        .await
        .unwrap()
        .expect("job");
    let now = stale.lease_until + Duration::from_secs(1);
    assert_eq!(queue.requeue_expired_leases(now).await.unwrap(), 1);
    let heir = queue.take("heir", LONG_LEASE).await.unwrap().expect("job");
    queue.ack(&heir).await.unwrap();

    let mut last = stale.job.clone();
    last.attempts = 3;
    queue.dead_letter(&stale, &last).await.unwrap();
    queue.retry_later(&stale, &last).await.unwrap();
    assert_eq!(queue.sizes().await.unwrap(), QueueSizes::default());
    assert_eq!(queue.processing_len().await.unwrap(), 0);
}

#[tokio::test]
async fn settling_survives_an_evicted_owner_record() {
    let (redis, queue) = setup().await;
    queue.enqueue_ready(&job("evicted", 5)).await.unwrap();
    let leased = queue.take("w", LONG_LEASE).await.unwrap().expect("job");
    let mut conn = redis.connection().await;
    let _: i64 = conn
        .del(format!("{}{LEASE_OWNERS}", redis.prefix))
        .await
        .unwrap();
    let mut dead = leased.job.clone();
    dead.attempts = 3;
    queue.dead_letter(&leased, &dead).await.unwrap();
    assert_eq!(queue.processing_len().await.unwrap(), 0);
    assert_eq!(queue.list_dead(10).await.unwrap(), vec![dead]);

    // Every queue key vanished (allkeys-lru): operations see empty queues, not errors.
    for suffix in [READY_QUEUE, DEAD_LETTER_QUEUE] {
        let _: i64 = conn.del(format!("{}{suffix}", redis.prefix)).await.unwrap();
    }
    assert_eq!(queue.sizes().await.unwrap(), QueueSizes::default());
    assert_eq!(take_id(&queue, "w").await, None);
    assert_eq!(queue.requeue_dead(None).await.unwrap(), 0);
    assert_eq!(
        queue
            .requeue_expired_leases(OffsetDateTime::now_utc())
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn dead_letters_are_listed_newest_first_and_requeued_one_or_all() {
    let (redis, queue) = setup().await;
    for key in ["dead-1", "dead-2", "dead-3"] {
        queue.enqueue_ready(&job(key, 5)).await.unwrap();
        let leased = queue.take("w", LONG_LEASE).await.unwrap().expect("job");
        let mut last = leased.job.clone();
        last.attempts = 3;
        queue.dead_letter(&leased, &last).await.unwrap();
    }
    let mut conn = redis.connection().await;
    let _: i64 = conn
        .lpush(format!("{}{DEAD_LETTER_QUEUE}", redis.prefix), "not json")
        .await
        .unwrap();
    assert_eq!(queue.sizes().await.unwrap().dead_letter, 4);
    assert_eq!(queue.processing_len().await.unwrap(), 0);

    let ids = |jobs: Vec<JobEnvelope>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
    assert_eq!(
        ids(queue.list_dead(10).await.unwrap()),
        ["dead-3", "dead-2", "dead-1"],
        "newest first, unparsable entries skipped"
    );
    assert_eq!(ids(queue.list_dead(2).await.unwrap()), ["dead-3"]);
    assert!(queue.list_dead(0).await.unwrap().is_empty());
    assert!(queue.list_dead(10).await.unwrap()[0].attempts == 3);

    assert_eq!(queue.requeue_dead(Some("no-such-job")).await.unwrap(), 0);
    assert_eq!(queue.requeue_dead(Some("dead-2")).await.unwrap(), 1);
    assert_eq!(
        ids(queue.list_dead(10).await.unwrap()),
        ["dead-3", "dead-1"]
    );
    let requeued = queue.take("w", LONG_LEASE).await.unwrap().expect("job");
    assert_eq!(requeued.job.id, "dead-2");
    assert_eq!(requeued.job.attempts, 0, "attempts reset");
    queue.ack(&requeued).await.unwrap();

    assert_eq!(queue.requeue_dead(None).await.unwrap(), 2);
    assert_eq!(
        queue.sizes().await.unwrap(),
        QueueSizes {
            immediate: 2,
            delayed: 0,
            dead_letter: 1
        },
        "the unparsable entry stays in the dead-letter list"
    );
    let mut rest = BTreeSet::new();
    while let Some(leased) = queue.take("w", LONG_LEASE).await.unwrap() {
        assert_eq!(leased.job.attempts, 0);
        rest.insert(leased.job.id);
    }
    assert_eq!(rest, BTreeSet::from(["dead-1".into(), "dead-3".into()]));
}

#[tokio::test]
async fn a_malformed_ready_entry_is_dead_lettered_and_the_next_job_returned() {
    let (redis, queue) = setup().await;
    let mut conn = redis.connection().await;
    let _: i64 = conn
        .zadd(format!("{}{READY_QUEUE}", redis.prefix), "{broken", 0)
        .await
        .unwrap();
    queue.enqueue_ready(&job("good", 5)).await.unwrap();
    assert_eq!(take_id(&queue, "w").await.as_deref(), Some("good"));
    let dlq: Vec<String> = conn
        .lrange(format!("{}{DEAD_LETTER_QUEUE}", redis.prefix), 0, -1)
        .await
        .unwrap();
    assert_eq!(dlq, ["{broken"]);
    assert_eq!(
        queue.processing_len().await.unwrap(),
        1,
        "only the good job"
    );
}

#[tokio::test]
async fn concurrent_takers_get_each_job_exactly_once() {
    let (_redis, queue) = setup().await;
    const JOBS: usize = 200;
    for n in 0..JOBS {
        queue
            .enqueue_ready(&job(&format!("c-{n}"), (n % 7) as i64))
            .await
            .unwrap();
    }
    let takers: Vec<_> = (0..4)
        .map(|t| {
            let queue = queue.clone();
            tokio::spawn(async move {
                let mut taken = Vec::new();
                while let Some(leased) = queue.take(&format!("t{t}"), LONG_LEASE).await.unwrap() {
                    queue.ack(&leased).await.unwrap();
                    taken.push(leased.job.id);
                }
                taken
            })
        })
        .collect();
    let mut all = Vec::new();
    for taker in takers {
        all.extend(taker.await.unwrap());
    }
    let unique: BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), JOBS, "no job taken twice");
    assert_eq!(unique.len(), JOBS, "every job taken");
    assert_eq!(queue.processing_len().await.unwrap(), 0);
}

#[tokio::test]
async fn an_unreachable_server_is_reported_as_unavailable_or_timeout() {
    let mut settings = adapters_redis::RedisSettings::new("redis://127.0.0.1:1".to_owned());
    settings.connect_timeout = Duration::from_millis(200);
    settings.command_timeout = Duration::from_millis(500);
    let queue = RedisJobQueue::new(adapters_redis::RedisPool::new(&settings).unwrap());
    let error = queue.take("w", LONG_LEASE).await.unwrap_err();
    assert!(
        matches!(error, PortError::Unavailable(_) | PortError::Timeout(_)),
        "{error:?}"
    );
}

/// Records every run per key; keys starting with `fail` always fail.
#[derive(Debug, Default)]
struct RecordingExecutor {
    runs: Mutex<BTreeMap<String, Vec<OffsetDateTime>>>,
}

#[async_trait]
impl JobExecutor for RecordingExecutor {
    async fn store(&self, key: &str, _: serde_json::Value, _: Duration) -> PortResult<()> {
        self.runs
            .lock()
            .unwrap()
            .entry(key.to_owned())
            .or_default()
            .push(OffsetDateTime::now_utc());
        if key.starts_with("fail") {
            Err(PortError::Backend(format!("{key} always fails")))
        } else {
            Ok(())
        }
    }
    async fn evict(&self, _: &str) -> PortResult<()> {
        Ok(())
    }
    async fn exists(&self, _: &str) -> PortResult<bool> {
        Ok(false)
    }
    async fn recompute(&self, _: &str) -> PortResult<Option<serde_json::Value>> {
        Ok(None)
    }
}

#[tokio::test]
async fn distributed_workers_run_retry_and_dead_letter_through_redis() {
    let (_redis, queue) = setup().await;
    let queue = Arc::new(queue);
    let exec = Arc::new(RecordingExecutor::default());
    let deps = DistributedDeps {
        queue: queue.clone(),
        exec: exec.clone(),
        clock: Arc::new(SystemClock),
        sleeper: Arc::new(TokioSleeper),
        follow_up: Arc::new(|_| {}),
        counters: Arc::default(),
    };
    let config = DistributedConfig {
        poll_interval: Duration::from_millis(20),
        reaper_interval: Duration::from_millis(200),
        ..DistributedConfig::default()
    };
    for key in ["ok-1", "fail-1", "ok-2"] {
        queue.enqueue_ready(&job(key, 5)).await.unwrap();
    }
    let (stop, stopped) = watch::channel(false);
    let handles = spawn_distributed_workers(2, "inst", &deps, config, &stopped);

    let finished = common::eventually(Duration::from_secs(20), || {
        let queue = queue.clone();
        async move {
            queue.sizes().await.unwrap()
                == QueueSizes {
                    immediate: 0,
                    delayed: 0,
                    dead_letter: 1,
                }
                && queue.processing_len().await.unwrap() == 0
        }
    })
    .await;
    stop.send(true).unwrap();
    for handle in handles {
        handle.await.unwrap();
    }
    assert!(finished, "the failing job reached the dead-letter list");

    let runs = exec.runs.lock().unwrap().clone();
    assert_eq!(runs["ok-1"].len(), 1);
    assert_eq!(runs["ok-2"].len(), 1);
    let fails = &runs["fail-1"];
    assert_eq!(fails.len(), 3, "three tries");
    // The retry waits are enforced by the queue's scores: at least 1 s, then 2 s.
    assert!(fails[1] - fails[0] >= time::Duration::seconds(1));
    assert!(fails[2] - fails[1] >= time::Duration::seconds(2));

    let dead = queue.list_dead(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].id.as_str(), dead[0].attempts), ("fail-1", 3));
    let c = &deps.counters;
    assert_eq!(
        (c.processed(), c.failed(), c.retried(), c.dead_lettered()),
        (5, 3, 2, 1)
    );
}
