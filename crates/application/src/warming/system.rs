//! [`JobSystem`]: one instance's cache-warming job system (contract 14.1 to 14.8).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use ports::{Clock, JobEnvelope, JobQueue, JobType, PortError, PortResult};
use std::future::Future;
use std::pin::Pin;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use warming::{
    Destination, DistributedConfig, DistributedCounters, DistributedDeps, FollowUp, JobExecutor,
    LocalPool, QueueSizesView, SubmitError, SystemType, TokioSleeper, WarmingMetrics,
    default_warm_set, route, spawn_distributed_workers,
};

/// How often the default warm set is enqueued (14.1).
pub const WARMING_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// Name of the lock (under the Redis key prefix) that lets one instance per interval warm.
pub const WARMING_LOCK: &str = "cache_warming_lock";
/// How often the Redis queue depths are published as Prometheus gauges.
const DEPTH_SAMPLE_INTERVAL: Duration = Duration::from_secs(10);
/// Distributed workers per instance (14.1).
const DISTRIBUTED_WORKERS: usize = 5;
/// How long workers may take to finish the job in hand at shutdown.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// The future of [`WarmLock::try_acquire`].
pub type WarmLockFuture<'a> = Pin<Box<dyn Future<Output = PortResult<bool>> + Send + 'a>>;

/// A short-lived lock shared by all instances (a Redis `SET NX PX` in production), so the
/// periodic warming runs at most once per interval across the deployment (14.6).
pub trait WarmLock: Send + Sync {
    /// Takes the lock `name` for `ttl` unless someone holds it; resolves to true when
    /// taken, or to an error when the lock store cannot be reached.
    fn try_acquire<'a>(&'a self, name: &'a str, ttl: Duration) -> WarmLockFuture<'a>;
}

/// Whether the cache is healthy enough for the periodic warming (14.6).
pub type HealthCheck = Arc<dyn Fn() -> bool + Send + Sync>;

/// Why a job could not be enqueued.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    /// The local queue is full and Redis cannot take the job (HTTP 500).
    #[error("local job queue is full and Redis is unavailable")]
    QueueFull,
    /// The job system has been shut down.
    #[error("the job system is shut down")]
    ShutDown,
    /// The Redis queue failed and the local pool could not take the job either.
    #[error("could not enqueue the job: {0}")]
    Queue(PortError),
}

/// What [`JobSystem::start`] needs.
pub struct JobSystemParts {
    /// The cache operations.
    pub exec: Arc<dyn JobExecutor>,
    /// The shared queue; `Some` runs the integrated mode (Redis answered at start).
    pub queue: Option<Arc<dyn JobQueue>>,
    /// The cross-instance warming lock (integrated mode); `None` warms every interval.
    pub lock: Option<Arc<dyn WarmLock>>,
    /// "Now".
    pub clock: Arc<dyn Clock>,
    /// Names this instance's distributed workers (unique across instances).
    pub instance_id: String,
    /// Whether the periodic warming may run now.
    pub cache_healthy: HealthCheck,
    /// Between periodic warmings ([`WARMING_INTERVAL`] in production).
    pub interval: Duration,
}

impl std::fmt::Debug for JobSystemParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobSystemParts")
            .field("integrated", &self.queue.is_some())
            .field("instance_id", &self.instance_id)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

struct Inner {
    local: LocalPool,
    queue: Option<Arc<dyn JobQueue>>,
    counters: Arc<DistributedCounters>,
    clock: Arc<dyn Clock>,
    distributed_jobs: AtomicU64,
    local_jobs: AtomicU64,
    running: AtomicBool,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// The job system of one instance: routes jobs (14.4), runs the local pool, the
/// distributed workers with their lease reaper, and the periodic warmer.
#[derive(Clone)]
pub struct JobSystem {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for JobSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobSystem")
            .field("integrated", &self.inner.queue.is_some())
            .field("running", &self.is_running())
            .finish_non_exhaustive()
    }
}

impl JobSystem {
    /// Starts the local pool, and in integrated mode the distributed workers and reaper,
    /// plus the periodic warmer. Must be called inside a Tokio runtime.
    #[must_use]
    pub fn start(parts: JobSystemParts) -> Self {
        let (stop, stop_rx) = watch::channel(false);
        let counters = Arc::new(DistributedCounters::default());
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let follow_up = follow_up(weak.clone());
            Inner {
                local: LocalPool::start(parts.exec.clone(), parts.clock.clone(), follow_up.clone()),
                queue: parts.queue.clone(),
                counters: counters.clone(),
                clock: parts.clock.clone(),
                distributed_jobs: AtomicU64::new(0),
                local_jobs: AtomicU64::new(0),
                running: AtomicBool::new(true),
                stop,
                tasks: Mutex::new(Vec::new()),
            }
        });
        let mut tasks = Vec::new();
        if let Some(queue) = &parts.queue {
            let deps = DistributedDeps {
                queue: queue.clone(),
                exec: parts.exec.clone(),
                clock: parts.clock.clone(),
                sleeper: Arc::new(TokioSleeper),
                follow_up: follow_up(Arc::downgrade(&inner)),
                counters,
            };
            tasks.extend(spawn_distributed_workers(
                DISTRIBUTED_WORKERS,
                &parts.instance_id,
                &deps,
                DistributedConfig::default(),
                &stop_rx,
            ));
        }
        if let Some(queue) = &parts.queue {
            tasks.push(tokio::spawn(sample_queue_depths(
                queue.clone(),
                stop_rx.clone(),
            )));
        }
        tasks.push(tokio::spawn(periodic_warmer(
            Arc::downgrade(&inner),
            parts.lock,
            parts.cache_healthy,
            parts.interval,
            stop_rx,
        )));
        *inner.tasks.lock().unwrap_or_else(PoisonError::into_inner) = tasks;
        Self { inner }
    }

    /// Routes `job` (14.4) and queues it; when Redis refuses it, the local pool is tried.
    ///
    /// # Errors
    /// [`EnqueueError`] when neither destination accepts the job.
    pub async fn enqueue(&self, job: JobEnvelope) -> Result<Destination, EnqueueError> {
        enqueue(&self.inner, job).await
    }

    /// Enqueues the default warm set (14.6), recomputed from the database [D-24].
    ///
    /// # Errors
    /// As [`Self::enqueue`].
    pub async fn warm_default_set(&self) -> Result<(), EnqueueError> {
        for job in default_warm_set(self.inner.clock.now()) {
            self.enqueue(job).await?;
        }
        Ok(())
    }

    /// Whether the workers are running (false after [`Self::shutdown`]).
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.inner.running.load(Ordering::Relaxed)
    }

    /// Whether the system runs in integrated mode (Redis queues).
    #[must_use]
    pub fn is_integrated(&self) -> bool {
        self.inner.queue.is_some()
    }

    /// The shared queue in integrated mode (dead-letter administration).
    #[must_use]
    pub fn queue(&self) -> Option<&Arc<dyn JobQueue>> {
        self.inner.queue.as_ref()
    }

    /// The 14.8 metrics object.
    #[must_use]
    pub fn metrics(&self) -> WarmingMetrics {
        let inner = &self.inner;
        let local = inner.local.stats();
        let counters = &inner.counters;
        WarmingMetrics {
            processed_jobs: local.jobs_processed + counters.processed(),
            failed_jobs: local.total_errors + counters.failed(),
            retry_jobs: counters.retried(),
            distributed_jobs: inner.distributed_jobs.load(Ordering::Relaxed),
            local_jobs: inner.local_jobs.load(Ordering::Relaxed),
            redis_available: inner.queue.is_some(),
            distributed_workers: if inner.queue.is_some() {
                DISTRIBUTED_WORKERS
            } else {
                0
            },
            system_type: if inner.queue.is_some() {
                SystemType::IntegratedRedisLocal
            } else {
                SystemType::LegacyMemory
            },
            local_worker_stats: local,
        }
    }

    /// The 14.8 queue sizes; only the local count when Redis cannot be read.
    pub async fn queue_sizes(&self) -> QueueSizesView {
        let local = self.inner.local.queue_len();
        let Some(queue) = &self.inner.queue else {
            return QueueSizesView::local_only(local);
        };
        match queue.sizes().await {
            Ok(sizes) => QueueSizesView::integrated(local, sizes),
            Err(error) => {
                tracing::warn!(%error, "could not read the Redis job queue sizes");
                QueueSizesView::local_only(local)
            }
        }
    }

    /// Stops the warmer and the workers; each finishes its job in hand (bounded). Jobs
    /// held under a lease by an aborted worker return to the queue when it expires.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        if !inner.running.swap(false, Ordering::SeqCst) {
            return;
        }
        inner.stop.send_replace(true);
        let tasks =
            std::mem::take(&mut *inner.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        let until = tokio::time::Instant::now() + SHUTDOWN_DEADLINE;
        for mut task in tasks {
            if tokio::time::timeout_at(until, &mut task).await.is_err() {
                task.abort();
            }
        }
        if !inner.local.shutdown(SHUTDOWN_DEADLINE).await {
            tracing::warn!("local warming jobs still running at shutdown were aborted");
        }
    }
}

fn count(inner: &Inner, job_type: JobType, destination: Destination) {
    let (counter, label) = match destination {
        Destination::Local => (&inner.local_jobs, "local"),
        Destination::Redis => (&inner.distributed_jobs, "redis"),
    };
    counter.fetch_add(1, Ordering::Relaxed);
    metrics::counter!(
        "cache_jobs_enqueued_total",
        "type" => job_type.as_str(),
        "destination" => label
    )
    .increment(1);
}

async fn enqueue(inner: &Inner, job: JobEnvelope) -> Result<Destination, EnqueueError> {
    if !inner.running.load(Ordering::Relaxed) {
        return Err(EnqueueError::ShutDown);
    }
    let job_type = job.job_type;
    let destination = route(
        job_type,
        job.priority,
        inner.queue.is_some(),
        inner.local.queue_len(),
    );
    let mut redis_error = None;
    if let (Destination::Redis, Some(queue)) = (destination, &inner.queue) {
        let sent = if job_type == JobType::CacheScheduled {
            queue.enqueue_delayed(&job).await
        } else {
            queue.enqueue_ready(&job).await
        };
        match sent {
            Ok(()) => {
                count(inner, job_type, Destination::Redis);
                return Ok(Destination::Redis);
            }
            Err(error) => {
                tracing::warn!(%error, job_id = %job.id, "Redis job queue refused a job; trying the local pool");
                redis_error = Some(error);
            }
        }
    }
    match inner.local.submit(job) {
        Ok(()) => {
            count(inner, job_type, Destination::Local);
            Ok(Destination::Local)
        }
        Err(SubmitError::ShutDown) => Err(EnqueueError::ShutDown),
        Err(SubmitError::QueueFull) => {
            Err(redis_error.map_or(EnqueueError::QueueFull, EnqueueError::Queue))
        }
    }
}

/// Publishes the Redis queue depths as `cache_job_queue_length{queue=...}` gauges (the
/// local pool publishes its own) until shutdown.
async fn sample_queue_depths(queue: Arc<dyn JobQueue>, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(DEPTH_SAMPLE_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        match queue.sizes().await {
            Ok(sizes) => {
                #[allow(clippy::cast_precision_loss)] // queue depths are far below 2^52
                for (name, depth) in [
                    ("redis_immediate", sizes.immediate),
                    ("redis_delayed", sizes.delayed),
                    ("redis_dead_letter", sizes.dead_letter),
                ] {
                    metrics::gauge!("cache_job_queue_length", "queue" => name).set(depth as f64);
                }
            }
            Err(error) => tracing::debug!(%error, "could not sample the Redis queue depths"),
        }
    }
}

/// Follow-up jobs (a validation job's warmup) are routed like any new job.
fn follow_up(weak: Weak<Inner>) -> FollowUp {
    Arc::new(move |job: JobEnvelope| {
        let weak = weak.clone();
        tokio::spawn(async move {
            let Some(inner) = weak.upgrade() else { return };
            if let Err(error) = enqueue(&inner, job).await {
                tracing::warn!(%error, "could not enqueue a follow-up warming job");
            }
        });
    })
}

/// Enqueues the default warm set every `interval` while the cache is healthy; with a lock,
/// only the instance that takes it for this interval does.
async fn periodic_warmer(
    weak: Weak<Inner>,
    lock: Option<Arc<dyn WarmLock>>,
    cache_healthy: HealthCheck,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        if !cache_healthy() {
            tracing::debug!("cache unhealthy; periodic warming skipped");
            continue;
        }
        if let Some(lock) = &lock {
            // Held a little less than the interval so the next run is not blocked.
            let ttl = interval.mul_f64(0.9);
            match lock.try_acquire(WARMING_LOCK, ttl).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(error) => {
                    tracing::warn!(%error, "warming lock unavailable; periodic warming skipped");
                    continue;
                }
            }
        }
        let Some(inner) = weak.upgrade() else { return };
        metrics::counter!("cache_warming_runs_total").increment(1);
        for job in default_warm_set(inner.clock.now()) {
            if let Err(error) = enqueue(&inner, job).await {
                tracing::warn!(%error, "periodic warming could not enqueue a job");
            }
        }
    }
}
