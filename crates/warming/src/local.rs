//! The in-process worker pool (contract 14.1, 14.4, 14.6): a bounded priority queue served
//! by a fixed set of workers, plus an in-process scheduler that holds jobs until their
//! `process_at`. Local jobs are not retried; their failures are counted.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ports::{Clock, JobEnvelope, JobType};
use time::OffsetDateTime;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;

use crate::duration_text;
use crate::executor::{FollowUp, JobExecutor, run_job};
use crate::job::split_batch;
use crate::stats::LocalWorkerStats;

/// Workers per instance (14.1).
pub const LOCAL_WORKERS: usize = 5;
/// Capacity of the ready queue (14.1).
pub const LOCAL_QUEUE_CAPACITY: usize = 10;
/// Scheduled jobs held in process at most; bounds memory when many are not yet due.
pub const LOCAL_SCHEDULED_CAPACITY: usize = 1000;

/// Longest pause of the scheduler between checks, so a wall-clock jump is noticed soon.
const MAX_TIMER_TICK: Duration = Duration::from_secs(1);
/// Shortest pause, used while due jobs wait for room in a full ready queue.
const MIN_TIMER_TICK: Duration = Duration::from_millis(10);

/// Why the pool refused a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The ready queue (or the scheduled-job store) has no room; with Redis unavailable the
    /// enqueue fails (HTTP 500).
    #[error("local job queue is full")]
    QueueFull,
    /// The pool has been shut down.
    #[error("local worker pool is shut down")]
    ShutDown,
}

/// Sizes of the pool; [`Default`] is the contract's 5 workers and 10 queued jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalPoolConfig {
    /// Number of workers.
    pub workers: usize,
    /// Capacity of the ready queue.
    pub capacity: usize,
    /// How many not-yet-due scheduled jobs may be held.
    pub scheduled_capacity: usize,
}

impl Default for LocalPoolConfig {
    fn default() -> Self {
        Self {
            workers: LOCAL_WORKERS,
            capacity: LOCAL_QUEUE_CAPACITY,
            scheduled_capacity: LOCAL_SCHEDULED_CAPACITY,
        }
    }
}

/// A ready job: higher priority first, then first come first served.
#[derive(Debug)]
struct Ready {
    priority: i64,
    seq: u64,
    job: JobEnvelope,
}

impl Ord for Ready {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}
impl PartialOrd for Ready {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Ready {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ready {}

/// A scheduled job: earliest `process_at` first (a min-heap through reversed order).
#[derive(Debug)]
struct Delayed {
    process_at: OffsetDateTime,
    seq: u64,
    job: JobEnvelope,
}

impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .process_at
            .cmp(&self.process_at)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Delayed {}

#[derive(Debug, Default)]
struct State {
    ready: BinaryHeap<Ready>,
    delayed: BinaryHeap<Delayed>,
    seq: u64,
    accepting: bool,
}

impl State {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

struct Inner {
    config: LocalPoolConfig,
    state: Mutex<State>,
    /// One permit per job in `ready`; closed at shutdown, which ends idle workers.
    items: Semaphore,
    /// Wakes the scheduler when a scheduled job arrives or room frees up.
    timer_wake: Notify,
    exec: Arc<dyn JobExecutor>,
    clock: Arc<dyn Clock>,
    follow_up: FollowUp,
    running: AtomicBool,
    processed: AtomicU64,
    errors: AtomicU64,
    total_nanos: AtomicU64,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update is one push/pop.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish_queue_length(&self, len: usize) {
        metrics::gauge!("cache_job_queue_length", "queue" => "local").set(len as f64);
    }

    /// Moves due scheduled jobs into the ready queue while there is room; returns how long
    /// the scheduler may sleep before checking again.
    fn promote_due(&self) -> Duration {
        let now = self.clock.now();
        let (moved, next, len) = {
            let mut st = self.lock();
            let mut moved = 0;
            while st.ready.len() < self.config.capacity
                && st.delayed.peek().is_some_and(|d| d.process_at <= now)
            {
                if let Some(Delayed { job, .. }) = st.delayed.pop() {
                    let seq = st.next_seq();
                    st.ready.push(Ready {
                        priority: job.priority,
                        seq,
                        job,
                    });
                    moved += 1;
                }
            }
            (
                moved,
                st.delayed.peek().map(|d| d.process_at),
                st.ready.len(),
            )
        };
        if moved > 0 {
            self.items.add_permits(moved);
            self.publish_queue_length(len);
        }
        match next {
            None => MAX_TIMER_TICK,
            Some(at) if at <= now => MIN_TIMER_TICK,
            Some(at) => Duration::try_from(at - now)
                .unwrap_or(MAX_TIMER_TICK)
                .clamp(MIN_TIMER_TICK, MAX_TIMER_TICK),
        }
    }

    async fn run(&self, job: JobEnvelope) {
        let started = tokio::time::Instant::now();
        let result = run_job(&job, &*self.exec, self.clock.now(), &*self.follow_up).await;
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.total_nanos.fetch_add(nanos, AtomicOrdering::Relaxed);
        self.processed.fetch_add(1, AtomicOrdering::Relaxed);
        let job_type = job.job_type.as_str();
        metrics::counter!("cache_jobs_processed_total", "type" => job_type).increment(1);
        metrics::histogram!("cache_job_duration_seconds", "type" => job_type, "destination" => "local")
            .record(started.elapsed().as_secs_f64());
        if let Err(error) = result {
            self.errors.fetch_add(1, AtomicOrdering::Relaxed);
            metrics::counter!("cache_jobs_failed_total", "type" => job_type).increment(1);
            tracing::warn!(job_id = %job.id, %job_type, %error, "local job failed (not retried)");
        }
    }
}

async fn worker_loop(inner: Arc<Inner>) {
    loop {
        match inner.items.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => return,
        }
        let (job, len, has_delayed) = {
            let mut st = inner.lock();
            let job = st.ready.pop();
            (job, st.ready.len(), !st.delayed.is_empty())
        };
        let Some(Ready { job, .. }) = job else {
            continue;
        };
        inner.publish_queue_length(len);
        if has_delayed {
            inner.timer_wake.notify_one();
        }
        inner.run(job).await;
    }
}

async fn timer_loop(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    loop {
        let wait = inner.promote_due();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = inner.timer_wake.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

/// The local worker pool. Start it inside a Tokio runtime; stop it with
/// [`LocalPool::shutdown`] (dropping it also stops the workers after their current job).
pub struct LocalPool {
    inner: Arc<Inner>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for LocalPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalPool")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl LocalPool {
    /// Starts 5 workers over a queue of 10 jobs, plus the scheduler task.
    #[must_use]
    pub fn start(exec: Arc<dyn JobExecutor>, clock: Arc<dyn Clock>, follow_up: FollowUp) -> Self {
        Self::start_with(LocalPoolConfig::default(), exec, clock, follow_up)
    }

    /// Starts a pool with explicit sizes (tests and tuning).
    #[must_use]
    pub fn start_with(
        config: LocalPoolConfig,
        exec: Arc<dyn JobExecutor>,
        clock: Arc<dyn Clock>,
        follow_up: FollowUp,
    ) -> Self {
        let inner = Arc::new(Inner {
            config,
            state: Mutex::new(State {
                accepting: true,
                ..State::default()
            }),
            items: Semaphore::new(0),
            timer_wake: Notify::new(),
            exec,
            clock,
            follow_up,
            running: AtomicBool::new(true),
            processed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            total_nanos: AtomicU64::new(0),
        });
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks: Vec<JoinHandle<()>> = (0..config.workers)
            .map(|_| tokio::spawn(worker_loop(Arc::clone(&inner))))
            .collect();
        tasks.push(tokio::spawn(timer_loop(Arc::clone(&inner), stop_rx)));
        Self {
            inner,
            stop,
            tasks: Mutex::new(tasks),
        }
    }

    /// Queues a job. A job whose `process_at` is in the future is held by the scheduler
    /// until then; a batch job is split into one warmup per key (all or none are queued).
    ///
    /// # Errors
    /// [`SubmitError::QueueFull`] when the queue has no room for the job(s),
    /// [`SubmitError::ShutDown`] after shutdown.
    pub fn submit(&self, job: JobEnvelope) -> Result<(), SubmitError> {
        let jobs = if job.job_type == JobType::CacheBatch {
            // A malformed batch is queued whole; running it fails and is counted.
            split_batch(&job).unwrap_or_else(|_| vec![job])
        } else {
            vec![job]
        };
        let now = self.inner.clock.now();
        let (due, later): (Vec<_>, Vec<_>) = jobs.into_iter().partition(|j| j.process_at <= now);
        let config = self.inner.config;
        let len = {
            let mut st = self.inner.lock();
            if !st.accepting {
                return Err(SubmitError::ShutDown);
            }
            if st.ready.len() + due.len() > config.capacity
                || st.delayed.len() + later.len() > config.scheduled_capacity
            {
                return Err(SubmitError::QueueFull);
            }
            for job in later {
                let seq = st.next_seq();
                st.delayed.push(Delayed {
                    process_at: job.process_at,
                    seq,
                    job,
                });
            }
            for job in due.iter().cloned() {
                let seq = st.next_seq();
                st.ready.push(Ready {
                    priority: job.priority,
                    seq,
                    job,
                });
            }
            st.ready.len()
        };
        self.inner.items.add_permits(due.len());
        self.inner.timer_wake.notify_one();
        self.inner.publish_queue_length(len);
        Ok(())
    }

    /// Jobs waiting in the ready queue (the input of routing rule 4).
    #[must_use]
    pub fn queue_len(&self) -> usize {
        self.inner.lock().ready.len()
    }

    /// Scheduled jobs held until their `process_at`.
    #[must_use]
    pub fn scheduled_len(&self) -> usize {
        self.inner.lock().delayed.len()
    }

    /// The pool's statistics (14.8 `local_worker_stats`).
    #[must_use]
    pub fn stats(&self) -> LocalWorkerStats {
        let processed = self.inner.processed.load(AtomicOrdering::Relaxed);
        let total_nanos = self.inner.total_nanos.load(AtomicOrdering::Relaxed);
        let avg_nanos = total_nanos.checked_div(processed).unwrap_or(0);
        let (total, avg) = (
            Duration::from_nanos(total_nanos),
            Duration::from_nanos(avg_nanos),
        );
        LocalWorkerStats {
            workers: self.inner.config.workers,
            running: self.inner.running.load(AtomicOrdering::Relaxed),
            jobs_processed: processed,
            total_errors: self.inner.errors.load(AtomicOrdering::Relaxed),
            avg_duration: duration_text::format(avg),
            total_duration: duration_text::format(total),
            queue_length: self.queue_len(),
            queue_capacity: self.inner.config.capacity,
        }
    }

    /// Stops the pool: refuses new jobs, drops queued and scheduled jobs that have not
    /// started, and waits up to `deadline` for the jobs in hand to finish. Returns true
    /// when every worker finished in time (the rest are aborted).
    pub async fn shutdown(&self, deadline: Duration) -> bool {
        let dropped = {
            let mut st = self.inner.lock();
            st.accepting = false;
            let dropped = st.ready.len() + st.delayed.len();
            st.ready.clear();
            st.delayed.clear();
            dropped
        };
        if dropped > 0 {
            tracing::info!(dropped, "local job pool shut down with jobs not started");
        }
        self.inner.running.store(false, AtomicOrdering::Relaxed);
        self.inner.items.close();
        self.inner.publish_queue_length(0);
        self.stop.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        let until = tokio::time::Instant::now() + deadline;
        let mut all_finished = true;
        for mut task in tasks {
            if tokio::time::timeout_at(until, &mut task).await.is_err() {
                task.abort();
                all_finished = false;
            }
        }
        all_finished
    }
}

impl Drop for LocalPool {
    fn drop(&mut self) {
        self.inner.items.close();
        self.stop.send_replace(true);
    }
}

#[cfg(test)]
mod tests;
