#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ports::{PortResult, SystemClock};
use serde_json::json;
use warming::{Destination, JobExecutor, SystemType, warmup_job};

use super::{EnqueueError, JobSystem, JobSystemParts};

#[derive(Default)]
struct MapExecutor {
    entries: Mutex<HashMap<String, serde_json::Value>>,
}

#[async_trait]
impl JobExecutor for MapExecutor {
    async fn store(&self, key: &str, data: serde_json::Value, _ttl: Duration) -> PortResult<()> {
        self.entries.lock().unwrap().insert(key.to_owned(), data);
        Ok(())
    }
    async fn evict(&self, key: &str) -> PortResult<()> {
        self.entries.lock().unwrap().remove(key);
        Ok(())
    }
    async fn exists(&self, key: &str) -> PortResult<bool> {
        Ok(self.entries.lock().unwrap().contains_key(key))
    }
    async fn recompute(&self, _key: &str) -> PortResult<Option<serde_json::Value>> {
        Ok(Some(json!("recomputed")))
    }
}

fn local_system(exec: Arc<MapExecutor>) -> JobSystem {
    JobSystem::start(JobSystemParts {
        exec,
        queue: None,
        lock: None,
        clock: Arc::new(SystemClock),
        instance_id: "test".into(),
        cache_healthy: Arc::new(|| true),
        interval: Duration::from_secs(3600),
    })
}

#[tokio::test]
async fn local_mode_runs_jobs_in_process_and_reports_legacy_metrics() {
    let exec = Arc::new(MapExecutor::default());
    let system = local_system(exec.clone());
    let job = warmup_job(
        "test:k",
        json!({"v": 1}),
        Duration::ZERO,
        0,
        time::OffsetDateTime::now_utc(),
    );
    assert_eq!(system.enqueue(job).await.unwrap(), Destination::Local);
    for _ in 0..200 {
        if exec.entries.lock().unwrap().contains_key("test:k") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(exec.entries.lock().unwrap()["test:k"], json!({"v": 1}));
    let metrics = system.metrics();
    assert_eq!(metrics.local_jobs, 1);
    assert_eq!(metrics.distributed_jobs, 0);
    assert_eq!(metrics.system_type, SystemType::LegacyMemory);
    assert!(!metrics.redis_available);
    assert_eq!(
        serde_json::to_value(system.queue_sizes().await).unwrap(),
        json!({"local": 0})
    );
    system.shutdown().await;
    assert!(!system.is_running());
    let late = warmup_job(
        "test:late",
        json!(1),
        Duration::ZERO,
        0,
        time::OffsetDateTime::now_utc(),
    );
    assert!(matches!(
        system.enqueue(late).await,
        Err(EnqueueError::ShutDown)
    ));
}

#[tokio::test]
async fn the_default_warm_set_recomputes_reserved_keys() {
    let exec = Arc::new(MapExecutor::default());
    let system = local_system(exec.clone());
    system.warm_default_set().await.unwrap();
    for _ in 0..200 {
        if exec.entries.lock().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let entries = exec.entries.lock().unwrap().clone();
    assert_eq!(entries.get("all_tasks"), Some(&json!("recomputed")));
    assert_eq!(
        entries.get("tasks_paginated:all:created_at:desc:1:10"),
        Some(&json!("recomputed"))
    );
    system.shutdown().await;
}

/// A lock shared by two job systems in one process, expiring on Tokio's clock.
#[derive(Default)]
struct SharedLock {
    held_until: Mutex<Option<tokio::time::Instant>>,
    granted: std::sync::atomic::AtomicUsize,
}

impl super::WarmLock for SharedLock {
    fn try_acquire<'a>(&'a self, _name: &'a str, ttl: Duration) -> super::WarmLockFuture<'a> {
        Box::pin(async move {
            let now = tokio::time::Instant::now();
            let mut held = self.held_until.lock().unwrap();
            if held.is_some_and(|until| until > now) {
                return Ok(false);
            }
            *held = Some(now + ttl);
            self.granted
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(true)
        })
    }
}

#[derive(Default)]
struct CountingExecutor {
    recomputed: std::sync::atomic::AtomicUsize,
}

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
    async fn recompute(&self, _key: &str) -> PortResult<Option<serde_json::Value>> {
        self.recomputed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Some(json!([])))
    }
}

#[tokio::test(start_paused = true)]
async fn periodic_warming_runs_once_per_interval_across_instances() {
    let lock = Arc::new(SharedLock::default());
    let exec = Arc::new(CountingExecutor::default());
    let start = |name: &str| {
        JobSystem::start(JobSystemParts {
            exec: exec.clone(),
            queue: None,
            lock: Some(lock.clone()),
            clock: Arc::new(SystemClock),
            instance_id: name.into(),
            cache_healthy: Arc::new(|| true),
            interval: Duration::from_secs(60),
        })
    };
    let (a, b) = (start("a"), start("b"));
    // Nothing before the first interval has passed.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(lock.granted.load(std::sync::atomic::Ordering::SeqCst), 0);
    // Two intervals: both instances tick twice, one of them warms each time.
    tokio::time::sleep(Duration::from_secs(95)).await;
    assert_eq!(lock.granted.load(std::sync::atomic::Ordering::SeqCst), 2);
    let warmed = a.metrics().local_jobs + b.metrics().local_jobs;
    assert_eq!(warmed, 4, "two warm sets of two jobs");
    a.shutdown().await;
    b.shutdown().await;
    assert_eq!(exec.recomputed.load(std::sync::atomic::Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn periodic_warming_skips_an_unhealthy_cache() {
    let exec = Arc::new(CountingExecutor::default());
    let system = JobSystem::start(JobSystemParts {
        exec: exec.clone(),
        queue: None,
        lock: None,
        clock: Arc::new(SystemClock),
        instance_id: "x".into(),
        cache_healthy: Arc::new(|| false),
        interval: Duration::from_secs(60),
    });
    tokio::time::sleep(Duration::from_secs(200)).await;
    assert_eq!(system.metrics().local_jobs, 0);
    system.shutdown().await;
}
