//! Jobs per second through the Redis job queue end to end (enqueue, take, run a no-op,
//! acknowledge) with 5 distributed workers per instance, for 1 and 2 instances sharing one
//! queue, next to `redis-benchmark` on the same server in the same run.
//!
//! Run with `cargo bench -p adapters-redis --bench job_queue`. Uses `TEST_REDIS_URL` (else
//! the local default server) and a fresh key prefix per run; `BENCH_JOBS` sets the job count.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use adapters_redis::{RedisJobQueue, RedisPool, RedisSettings};
use async_trait::async_trait;
use ports::{JobQueue, PortResult, SystemClock};
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::watch;
use warming::{
    DistributedConfig, DistributedDeps, JobExecutor, Sleeper, spawn_distributed_workers,
};

const WORKERS_PER_INSTANCE: usize = 5;
const PRODUCERS: usize = 4;

/// Counts runs; does nothing else.
#[derive(Debug, Default)]
struct NoOp {
    runs: AtomicU64,
}

#[async_trait]
impl JobExecutor for NoOp {
    async fn store(&self, _: &str, _: serde_json::Value, _: Duration) -> PortResult<()> {
        self.runs.fetch_add(1, Ordering::Relaxed);
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

/// A zero poll interval only yields, so workers go straight back to the queue.
#[derive(Debug)]
struct YieldSleeper;

#[async_trait]
impl Sleeper for YieldSleeper {
    async fn sleep(&self, duration: Duration) {
        if duration.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(duration).await;
        }
    }
}

fn pool(url: &str, prefix: &str, size: usize) -> RedisPool {
    let mut settings = RedisSettings::new(url.to_owned());
    settings.key_prefix = prefix.to_owned();
    settings.pool_size = size;
    RedisPool::new(&settings).expect("pool builds")
}

/// Runs `jobs` jobs through `instances` instances; returns (seconds, jobs per second).
async fn run(url: &str, instances: usize, jobs: usize) -> (f64, f64) {
    let prefix = format!("bench:{}:", uuid::Uuid::new_v4().simple());
    let exec = Arc::new(NoOp::default());
    let config = DistributedConfig {
        poll_interval: Duration::ZERO,
        ..DistributedConfig::default()
    };
    let (stop, stopped) = watch::channel(false);
    let producer_queue = RedisJobQueue::new(pool(url, &prefix, PRODUCERS));
    // Warm the producer pool and script cache outside the timed section.
    producer_queue.sizes().await.expect("Redis answers");

    let started = Instant::now();
    let mut handles = Vec::new();
    for instance in 0..instances {
        let deps = DistributedDeps {
            queue: Arc::new(RedisJobQueue::new(pool(
                url,
                &prefix,
                WORKERS_PER_INSTANCE * 2,
            ))),
            exec: exec.clone(),
            clock: Arc::new(SystemClock),
            sleeper: Arc::new(YieldSleeper),
            follow_up: Arc::new(|_| {}),
            counters: Arc::default(),
        };
        handles.extend(spawn_distributed_workers(
            WORKERS_PER_INSTANCE,
            &format!("bench-{instance}"),
            &deps,
            config,
            &stopped,
        ));
    }
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let queue = producer_queue.clone();
            tokio::spawn(async move {
                for n in (p..jobs).step_by(PRODUCERS) {
                    let key = format!("bench-{n}");
                    let mut job = warming::warmup_job(
                        &key,
                        json!(n),
                        Duration::from_secs(60),
                        5,
                        OffsetDateTime::now_utc(),
                    );
                    job.id = key;
                    queue.enqueue_ready(&job).await.expect("enqueue");
                }
            })
        })
        .collect();
    for producer in producers {
        producer.await.expect("producer");
    }
    while exec.runs.load(Ordering::Relaxed) < jobs as u64 {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the bench did not finish"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop.send(true).expect("stop workers");
    for handle in handles {
        handle.await.expect("worker");
    }
    assert_eq!(
        producer_queue.sizes().await.expect("sizes"),
        ports::QueueSizes::default()
    );
    (elapsed, jobs as f64 / elapsed)
}

fn redis_benchmark(url: &str) {
    let hostport = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:6379");
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "6379"));
    let host = host.rsplit('@').next().unwrap_or(host);
    let output = Command::new("redis-benchmark")
        .args([
            "-h",
            host,
            "-p",
            port,
            "-q",
            "-n",
            "100000",
            "-t",
            "set,get,zadd",
        ])
        .output();
    match output {
        Ok(out) if out.status.success() => {
            println!("redis-benchmark -q -n 100000 -t set,get,zadd ({hostport}):");
            for line in String::from_utf8_lossy(&out.stdout)
                .split(['\r', '\n'])
                .filter(|l| l.contains("requests per second"))
            {
                println!("  {}", line.trim());
            }
        }
        Ok(out) => println!(
            "redis-benchmark failed ({}); skipped: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(error) => println!("redis-benchmark not available ({error}); skipped"),
    }
}

fn main() {
    // `cargo test --benches` runs bench targets with `--test`: keep that quick.
    let smoke = std::env::args().any(|a| a == "--test");
    let jobs: usize = std::env::var("BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if smoke { 200 } else { 50_000 });
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    println!(
        "job queue end to end: {jobs} jobs, {WORKERS_PER_INSTANCE} workers per instance, \
         {PRODUCERS} producers, {} runtime threads",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    for instances in [1, 2] {
        let (seconds, rate) = runtime.block_on(run(&url, instances, jobs));
        println!(
            "  {instances} instance(s), {} workers: {rate:>9.0} jobs/s ({seconds:.2} s)",
            instances * WORKERS_PER_INSTANCE
        );
    }
    if !smoke {
        redis_benchmark(&url);
    }
}
