//! The cache-warming job system as the service runs it (contract 14): the job executor
//! over the multi-level cache that recomputes reserved keys from the database [D-24], and
//! [`JobSystem`], which routes new jobs to the local pool or the shared Redis queue, runs
//! the distributed workers and the periodic warmer, and reports the 14.8 metrics. The
//! mechanisms themselves live in the `warming` crate.

mod executor;
mod system;
#[cfg(test)]
mod tests;

/// The job constructors and metric objects callers need, from the `warming` crate.
pub use ::warming::{
    Destination, QueueSizesView, WarmingMetrics, batch_job, effective_priority, effective_ttl,
    scheduled_job, warmup_job,
};
pub use executor::{ALL_TASKS_TTL, CacheJobExecutor, DEFAULT_PAGE_KEY};
pub use system::{
    EnqueueError, HealthCheck, JobSystem, JobSystemParts, WARMING_INTERVAL, WARMING_LOCK, WarmLock,
    WarmLockFuture,
};
