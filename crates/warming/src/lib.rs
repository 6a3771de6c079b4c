//! The cache-warming job system (contract section 14): the job model and its defaults, the
//! routing rules that send a job to the in-process worker pool or to the shared Redis queue,
//! what each job type does to the cache, the local worker pool with its priority queue and
//! in-process scheduler, and the distributed worker that takes jobs from the crash-safe
//! [`ports::JobQueue`] with leases, retries and dead letters.
//!
//! The crate speaks only to ports: the cache through [`JobExecutor`] (implemented by the
//! application layer, which recomputes reserved keys from the database [D-24]) and the
//! shared queue through [`ports::JobQueue`] (implemented by the Redis adapter).

pub mod distributed;
pub mod duration_text;
pub mod error;
pub mod executor;
pub mod job;
pub mod local;
pub mod routing;
pub mod stats;

#[cfg(test)]
mod testkit;

pub use distributed::{
    DistributedConfig, DistributedCounters, DistributedDeps, DistributedWorker, Sleeper,
    TokioSleeper, run_reaper, spawn_distributed_workers,
};
pub use error::JobError;
pub use executor::{FollowUp, JobExecutor, run_job};
pub use job::{
    BATCH_TTL, BatchPayload, DEFAULT_PRIORITY, DEFAULT_TTL, EvictionPayload, MAX_TRIES,
    PAYLOAD_DEFAULT_TTL, VALIDATION_TTL, ValidationPayload, WarmupPayload, batch_job,
    default_warm_set, effective_priority, effective_ttl, eviction_job, is_reserved_key,
    scheduled_job, split_batch, validation_job, warmup_job,
};
pub use local::{
    LOCAL_QUEUE_CAPACITY, LOCAL_SCHEDULED_CAPACITY, LOCAL_WORKERS, LocalPool, LocalPoolConfig,
    SubmitError,
};
pub use routing::{Destination, LOCAL_SPILL_THRESHOLD, route};
pub use stats::{LocalWorkerStats, QueueSizesView, SystemType, WarmingMetrics};
