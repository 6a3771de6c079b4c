//! The distributed worker (contract 14.5, 14.6): takes jobs from the shared crash-safe
//! queue under a lease, runs them, and acknowledges, retries or dead-letters them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use ports::{Clock, JobQueue, LeasedJob, PortResult};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::executor::{FollowUp, JobExecutor, run_job};

/// Waiting between polls, behind a trait so tests can drive time.
#[async_trait]
pub trait Sleeper: Send + Sync + std::fmt::Debug + 'static {
    /// Returns after `duration`.
    async fn sleep(&self, duration: Duration);
}

/// [`Sleeper`] over Tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Timing of the distributed workers; [`Default`] is the contract's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DistributedConfig {
    /// Pause between polls (100 ms).
    pub poll_interval: Duration,
    /// Delayed jobs promoted per poll (10).
    pub promote_limit: usize,
    /// How long a taken job stays leased before another instance may run it.
    pub lease: Duration,
    /// Pause between sweeps returning expired leases to the ready queue.
    pub reaper_interval: Duration,
}

impl Default for DistributedConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(100),
            promote_limit: 10,
            lease: Duration::from_secs(60),
            reaper_interval: Duration::from_secs(5),
        }
    }
}

/// Counts shared by all distributed workers of an instance (for the 14.8 metrics).
#[derive(Debug, Default)]
pub struct DistributedCounters {
    processed: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    dead_lettered: AtomicU64,
}

impl DistributedCounters {
    /// Runs finished, successful or not.
    #[must_use]
    pub fn processed(&self) -> u64 {
        self.processed.load(Ordering::Relaxed)
    }
    /// Runs that failed.
    #[must_use]
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
    /// Failed runs sent back for another attempt.
    #[must_use]
    pub fn retried(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }
    /// Jobs moved to the dead-letter list.
    #[must_use]
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }
}

/// What a distributed worker works with.
#[derive(Clone)]
pub struct DistributedDeps {
    /// The shared queue.
    pub queue: Arc<dyn JobQueue>,
    /// The cache operations.
    pub exec: Arc<dyn JobExecutor>,
    /// "Now", for leases, retry times and follow-up jobs.
    pub clock: Arc<dyn Clock>,
    /// Waiting between polls.
    pub sleeper: Arc<dyn Sleeper>,
    /// Where follow-up jobs go.
    pub follow_up: FollowUp,
    /// Shared counters.
    pub counters: Arc<DistributedCounters>,
}

impl std::fmt::Debug for DistributedDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributedDeps")
            .field("clock", &self.clock)
            .field("sleeper", &self.sleeper)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

/// One distributed worker; [`DistributedWorker::run`] is its loop.
#[derive(Debug)]
pub struct DistributedWorker {
    id: String,
    deps: DistributedDeps,
    config: DistributedConfig,
}

impl DistributedWorker {
    /// A worker named `id` (unique across instances, e.g. `<instance>-<n>`).
    #[must_use]
    pub fn new(id: impl Into<String>, deps: DistributedDeps, config: DistributedConfig) -> Self {
        Self {
            id: id.into(),
            deps,
            config,
        }
    }

    /// One poll: promotes due delayed jobs, then takes and handles at most one job.
    /// Returns whether a job was handled.
    ///
    /// # Errors
    /// When the queue cannot be reached for taking, acknowledging, retrying or
    /// dead-lettering (a job left leased is returned to the queue when its lease expires).
    pub async fn poll_once(&self) -> PortResult<bool> {
        let queue = &self.deps.queue;
        if let Err(error) = queue
            .promote_due(self.deps.clock.now(), self.config.promote_limit)
            .await
        {
            tracing::warn!(worker = %self.id, %error, "promoting delayed jobs failed");
        }
        let Some(leased) = queue.take(&self.id, self.config.lease).await? else {
            return Ok(false);
        };
        self.handle(&leased).await?;
        Ok(true)
    }

    async fn handle(&self, leased: &LeasedJob) -> PortResult<()> {
        let deps = &self.deps;
        let mut job = leased.job.clone();
        job.attempts = job.attempts.saturating_add(1);
        let job_type = job.job_type.as_str();
        let started = std::time::Instant::now();
        let result = run_job(&job, &*deps.exec, deps.clock.now(), &*deps.follow_up).await;
        deps.counters.processed.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("cache_jobs_processed_total", "type" => job_type).increment(1);
        metrics::histogram!("cache_job_duration_seconds", "type" => job_type, "destination" => "redis")
            .record(started.elapsed().as_secs_f64());
        let Err(error) = result else {
            return deps.queue.ack(leased).await;
        };
        deps.counters.failed.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("cache_jobs_failed_total", "type" => job_type).increment(1);
        if job.attempts < job.max_tries {
            job.process_at = deps.clock.now() + time::Duration::seconds(i64::from(job.attempts));
            tracing::warn!(job_id = %job.id, %job_type, attempts = job.attempts, %error, "job failed; retrying");
            deps.queue.retry_later(leased, &job).await?;
            deps.counters.retried.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("cache_jobs_retried_total", "type" => job_type).increment(1);
        } else {
            tracing::error!(job_id = %job.id, %job_type, attempts = job.attempts, %error, "job failed its last attempt; dead-lettered");
            deps.queue.dead_letter(leased, &job).await?;
            deps.counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("cache_jobs_dead_lettered_total", "type" => job_type).increment(1);
        }
        Ok(())
    }

    /// Polls until `shutdown` turns true (or its sender is dropped); a job in hand is always
    /// finished first. While jobs keep coming the worker polls again at once; it waits
    /// `poll_interval` only after finding the queue empty or unreachable, so an idle worker
    /// costs ten round trips a second and a busy one is not capped at ten jobs a second.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow_and_update() {
            match self.poll_once().await {
                Ok(true) => {
                    tokio::task::yield_now().await;
                    continue;
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(worker = %self.id, %error, "job queue poll failed"),
            }
            tokio::select! {
                () = self.deps.sleeper.sleep(self.config.poll_interval) => {}
                changed = shutdown.changed() => if changed.is_err() { break },
            }
        }
    }
}

/// Returns jobs whose lease expired to the ready queue until `shutdown` turns true.
pub async fn run_reaper(
    deps: DistributedDeps,
    config: DistributedConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow_and_update() {
        match deps.queue.requeue_expired_leases(deps.clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(requeued = n, "returned jobs with expired leases"),
            Err(error) => tracing::warn!(%error, "requeueing expired leases failed"),
        }
        tokio::select! {
            () = deps.sleeper.sleep(config.reaper_interval) => {}
            changed = shutdown.changed() => if changed.is_err() { break },
        }
    }
}

/// Spawns `count` workers named `<instance_id>-<n>` and one lease reaper; they stop when
/// `shutdown` turns true, each after finishing its job in hand.
#[must_use]
pub fn spawn_distributed_workers(
    count: usize,
    instance_id: &str,
    deps: &DistributedDeps,
    config: DistributedConfig,
    shutdown: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let mut handles: Vec<JoinHandle<()>> = (0..count)
        .map(|n| {
            let worker = DistributedWorker::new(format!("{instance_id}-{n}"), deps.clone(), config);
            tokio::spawn(worker.run(shutdown.clone()))
        })
        .collect();
    handles.push(tokio::spawn(run_reaper(
        deps.clone(),
        config,
        shutdown.clone(),
    )));
    handles
}

#[cfg(test)]
mod tests;
