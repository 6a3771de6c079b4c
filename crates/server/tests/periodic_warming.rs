//! The periodic warming runs at most once per interval across all instances (14.6): two job
//! systems share a real Redis queue and lock, and their lock acquisitions (the only way to
//! warm in integrated mode) are recorded.

#![allow(clippy::unwrap_used)]

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use adapters_redis::{RedisJobQueue, RedisLock, RedisPool, RedisSettings};
use application::warming::{JobSystem, JobSystemParts, WarmLock, WarmLockFuture};
use async_trait::async_trait;
use ports::{JobQueue, PortResult, SystemClock};
use testkit::TestRedis;
use warming::executor::JobExecutor;

const INTERVAL: Duration = Duration::from_millis(800);

type Log = Arc<Mutex<Vec<(usize, Instant)>>>;

/// The Redis lock, recording when this instance takes it.
struct RecordingLock {
    inner: RedisLock,
    instance: usize,
    taken: Log,
    attempts: Arc<Mutex<usize>>,
}

impl WarmLock for RecordingLock {
    fn try_acquire<'a>(&'a self, name: &'a str, ttl: Duration) -> WarmLockFuture<'a> {
        Box::pin(async move {
            *self.attempts.lock().unwrap() += 1;
            let taken = self.inner.try_acquire(name, ttl).await?;
            if taken {
                self.taken
                    .lock()
                    .unwrap()
                    .push((self.instance, Instant::now()));
            }
            Ok(taken)
        })
    }
}

/// Counts recomputations of `all_tasks`, the default warm set's second key.
struct CountingExecutor(Arc<Mutex<usize>>);

#[async_trait]
impl JobExecutor for CountingExecutor {
    async fn store(&self, _key: &str, _data: serde_json::Value, _ttl: Duration) -> PortResult<()> {
        Ok(())
    }
    async fn evict(&self, _key: &str) -> PortResult<()> {
        Ok(())
    }
    async fn exists(&self, _key: &str) -> PortResult<bool> {
        Ok(false)
    }
    async fn recompute(&self, key: &str) -> PortResult<Option<serde_json::Value>> {
        if key == "all_tasks" {
            *self.0.lock().unwrap() += 1;
        }
        Ok(Some(serde_json::json!([])))
    }
}

#[tokio::test]
async fn two_instances_warm_at_most_once_per_interval() {
    let redis = TestRedis::new().await;
    let mut settings = RedisSettings::new(redis.url.clone());
    settings.key_prefix = redis.prefix.clone();
    let taken: Log = Arc::default();
    let warmed = Arc::new(Mutex::new(0));
    let attempts: Vec<Arc<Mutex<usize>>> = (0..2).map(|_| Arc::default()).collect();
    let systems: Vec<JobSystem> = (0..2)
        .map(|instance| {
            let pool = RedisPool::new(&settings).unwrap();
            JobSystem::start(JobSystemParts {
                exec: Arc::new(CountingExecutor(warmed.clone())),
                queue: Some(Arc::new(RedisJobQueue::new(pool.clone())) as Arc<dyn JobQueue>),
                lock: Some(Arc::new(RecordingLock {
                    inner: RedisLock::new(pool, format!("instance-{instance}")),
                    instance,
                    taken: taken.clone(),
                    attempts: attempts[instance].clone(),
                })),
                clock: Arc::new(SystemClock),
                instance_id: format!("instance-{instance}"),
                cache_healthy: Arc::new(|| true),
                interval: INTERVAL,
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(30);
    while taken.lock().unwrap().len() < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for system in &systems {
        system.shutdown().await;
    }

    let taken = taken.lock().unwrap().clone();
    assert!(taken.len() >= 4, "only {} warmings in 30 s", taken.len());
    for (instance, tries) in attempts.iter().enumerate() {
        assert!(
            *tries.lock().unwrap() >= 2,
            "instance {instance} never competed for the lock"
        );
    }
    // The lock is held for 0.9 of the interval: no two warmings, by whichever instances,
    // can start closer together than that (less the latency of recording the first).
    for pair in taken.windows(2) {
        let gap = pair[1].1.duration_since(pair[0].1);
        assert!(
            gap >= INTERVAL.mul_f64(0.75),
            "two warmings {gap:?} apart (instances {} and {})",
            pair[0].0,
            pair[1].0
        );
    }
    // Every warming actually ran its jobs.
    assert!(*warmed.lock().unwrap() >= taken.len() - 1);
}
