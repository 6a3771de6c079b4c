//! Crash safety of the Redis job queue [D-40]: a worker process killed with SIGKILL while
//! holding jobs loses none of them; after the lease expires another worker runs them and
//! every enqueued job ends done or dead-lettered.
//!
//! A plain `main` (harness = false): the same binary re-executes itself with
//! `JOB_WORKER_URL` set to play the worker process that gets killed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters_redis::{RedisJobQueue, RedisPool, RedisSettings};
use async_trait::async_trait;
use ports::{JobEnvelope, JobQueue, PortError, PortResult, SystemClock};
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::watch;
use warming::{
    DistributedConfig, DistributedDeps, JobExecutor, TokioSleeper, spawn_distributed_workers,
};

const TEST_NAME: &str = "a_sigkilled_worker_process_loses_no_job";
const URL_ENV: &str = "JOB_WORKER_URL";
const PREFIX_ENV: &str = "JOB_WORKER_PREFIX";
const JOBS: usize = 30;
const FAILING: usize = 3;
const LEASE: Duration = Duration::from_secs(2);
/// How long the child holds each job, so that it is killed with jobs in hand.
const CHILD_JOB_TIME: Duration = Duration::from_millis(300);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    if let (Ok(url), Ok(prefix)) = (std::env::var(URL_ENV), std::env::var(PREFIX_ENV)) {
        runtime.block_on(worker_process(url, prefix));
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{TEST_NAME}: test");
        return;
    }
    if !selected(&args) {
        println!("running 0 tests ({TEST_NAME} filtered out)");
        return;
    }
    println!("running 1 test");
    runtime.block_on(crash_test());
    println!("test {TEST_NAME} ... ok");
}

/// Honours the libtest filters cargo passes on (`NAME`, `--exact`, `--skip NAME`).
fn selected(args: &[String]) -> bool {
    const WITH_VALUE: [&str; 6] = [
        "--skip",
        "--test-threads",
        "--format",
        "--color",
        "--logfile",
        "-Z",
    ];
    let exact = args.iter().any(|a| a == "--exact");
    let matches = |f: &str| {
        if exact {
            f == TEST_NAME
        } else {
            TEST_NAME.contains(f)
        }
    };
    let mut filters = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--skip" {
            if iter.next().is_some_and(|s| TEST_NAME.contains(s.as_str())) {
                return false;
            }
        } else if WITH_VALUE.contains(&arg.as_str()) {
            iter.next();
        } else if !arg.starts_with('-') {
            filters.push(arg.as_str());
        }
    }
    filters.is_empty() || filters.into_iter().any(matches)
}

fn queue_for(url: &str, prefix: &str) -> (RedisPool, RedisJobQueue) {
    let mut settings = RedisSettings::new(url.to_owned());
    settings.key_prefix = prefix.to_owned();
    settings.pool_size = 8;
    let pool = RedisPool::new(&settings).expect("pool builds");
    (pool.clone(), RedisJobQueue::new(pool))
}

/// Marks finished jobs in the `{prefix}done` set; keys starting with `fail` always fail.
#[derive(Debug)]
struct DoneRecorder {
    pool: RedisPool,
    delay: Duration,
    ran: Mutex<BTreeSet<String>>,
}

impl DoneRecorder {
    fn done_key(&self) -> String {
        format!("{}done", self.pool.prefix())
    }
}

#[async_trait]
impl JobExecutor for DoneRecorder {
    async fn store(&self, key: &str, _: serde_json::Value, _: Duration) -> PortResult<()> {
        self.ran.lock().unwrap().insert(key.to_owned());
        if key.starts_with("fail") {
            return Err(PortError::Backend(format!("{key} always fails")));
        }
        tokio::time::sleep(self.delay).await;
        let _: i64 = self
            .pool
            .query(redis::cmd("SADD").arg(self.done_key()).arg(key))
            .await?;
        Ok(())
    }
    async fn evict(&self, _: &str) -> PortResult<()> {
        Ok(())
    }
    async fn exists(&self, _: &str) -> PortResult<bool> {
        Ok(true)
    }
    async fn recompute(&self, _: &str) -> PortResult<Option<serde_json::Value>> {
        Ok(None)
    }
}

fn deps(queue: RedisJobQueue, exec: Arc<DoneRecorder>) -> DistributedDeps {
    DistributedDeps {
        queue: Arc::new(queue),
        exec,
        clock: Arc::new(SystemClock),
        sleeper: Arc::new(TokioSleeper),
        follow_up: Arc::new(|_| {}),
        counters: Arc::default(),
    }
}

fn config() -> DistributedConfig {
    DistributedConfig {
        poll_interval: Duration::from_millis(20),
        lease: LEASE,
        reaper_interval: Duration::from_millis(200),
        ..DistributedConfig::default()
    }
}

/// The child: five slow workers and a reaper, until killed (or a minute has passed).
async fn worker_process(url: String, prefix: String) {
    let (pool, queue) = queue_for(&url, &prefix);
    let exec = Arc::new(DoneRecorder {
        pool,
        delay: CHILD_JOB_TIME,
        ran: Mutex::default(),
    });
    let (_stop, stopped) = watch::channel(false);
    let _handles = spawn_distributed_workers(5, "doomed", &deps(queue, exec), config(), &stopped);
    tokio::time::sleep(Duration::from_secs(60)).await;
}

/// Kills the child even when an assertion fails first.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn key_of(n: usize) -> String {
    if n < FAILING {
        format!("fail-{n}")
    } else {
        format!("ok-{n}")
    }
}

async fn crash_test() {
    let redis = testkit::TestRedis::new().await;
    let (pool, queue) = queue_for(&redis.url, &redis.prefix);
    let all: BTreeSet<String> = (0..JOBS).map(key_of).collect();
    for key in &all {
        let mut job = warming::warmup_job(
            key,
            json!(1),
            Duration::from_secs(60),
            5,
            OffsetDateTime::now_utc(),
        );
        job.id.clone_from(key);
        queue.enqueue_ready(&job).await.unwrap();
    }
    let done_key = format!("{}done", redis.prefix);
    let done = |pool: RedisPool| {
        let key = done_key.clone();
        async move {
            let members: Vec<String> = pool.query(redis::cmd("SMEMBERS").arg(key)).await.unwrap();
            members.into_iter().collect::<BTreeSet<_>>()
        }
    };

    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().expect("own path"))
            .env(URL_ENV, &redis.url)
            .env(PREFIX_ENV, &redis.prefix)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the worker process"),
    );
    let busy = common::eventually(Duration::from_secs(20), || {
        let (queue, pool) = (queue.clone(), pool.clone());
        async move { queue.processing_len().await.unwrap() > 0 && !done(pool).await.is_empty() }
    })
    .await;
    assert!(busy, "the worker process started working");
    child.0.kill().expect("SIGKILL the worker process");
    child.0.wait().expect("reap the worker process");

    let orphans: Vec<String> = pool
        .query(
            redis::cmd("ZRANGE")
                .arg(queue.processing_key())
                .arg(0)
                .arg(-1),
        )
        .await
        .unwrap();
    let orphans: BTreeSet<String> = orphans
        .iter()
        .map(|raw| JobEnvelope::from_json(raw).unwrap().id)
        .collect();
    assert!(!orphans.is_empty(), "the killed process held jobs");
    println!(
        "  killed the worker process holding {} job(s): {orphans:?}",
        orphans.len()
    );
    // A held job may already be in `done` (killed between its run and its ack); it then
    // runs again, which the contract allows (jobs are idempotent).

    let exec = Arc::new(DoneRecorder {
        pool: pool.clone(),
        delay: Duration::ZERO,
        ran: Mutex::default(),
    });
    let (stop, stopped) = watch::channel(false);
    let handles = spawn_distributed_workers(
        5,
        "heir",
        &deps(queue.clone(), exec.clone()),
        config(),
        &stopped,
    );
    let accounted = || {
        let (queue, pool) = (queue.clone(), pool.clone());
        async move {
            let mut seen = done(pool).await;
            seen.extend(
                queue
                    .list_dead(1000)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|j| j.id),
            );
            seen
        }
    };
    let finished = common::eventually(Duration::from_secs(60), || {
        let accounted = accounted();
        let all = &all;
        async move { &accounted.await == all }
    })
    .await;
    stop.send(true).unwrap();
    for handle in handles {
        handle.await.unwrap();
    }
    assert!(
        finished,
        "every job done or dead-lettered; missing: {:?}",
        all.difference(&accounted().await).collect::<Vec<_>>()
    );

    let done = done(pool.clone()).await;
    let dead: BTreeSet<String> = queue
        .list_dead(1000)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    let failing: BTreeSet<String> = (0..FAILING).map(key_of).collect();
    assert_eq!(dead, failing, "only the failing jobs are dead-lettered");
    assert!(done.is_disjoint(&dead));
    let ran_here = exec.ran.lock().unwrap().clone();
    assert!(
        orphans.is_subset(&ran_here),
        "the orphaned jobs ran in the surviving worker"
    );
    let sizes = queue.sizes().await.unwrap();
    assert_eq!((sizes.immediate, sizes.delayed), (0, 0));
    assert_eq!(queue.processing_len().await.unwrap(), 0);
}
