//! The cache-warming job queue as a port: the job envelope stored in Redis (contract 14.2)
//! and the crash-safe queue operations of contract 14.5 [D-40].

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::PortResult;

/// What a job does; the wire names are the contract's `type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobType {
    /// Store `data` under `key` for `ttl`.
    CacheWarmup,
    /// A warmup that waits for `process_at`.
    CacheScheduled,
    /// Store `data` under each of `keys` for one hour.
    CacheBatch,
    /// Delete `key`.
    CacheEviction,
    /// Enqueue a warmup of `key` when it is absent from the cache.
    CacheValidation,
}

impl JobType {
    /// The wire name, used as the `type` metric label so dashboards match the stored JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CacheWarmup => "cache_warmup",
            Self::CacheScheduled => "cache_scheduled",
            Self::CacheBatch => "cache_batch",
            Self::CacheEviction => "cache_eviction",
            Self::CacheValidation => "cache_validation",
        }
    }
}

impl std::fmt::Display for JobType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One job as stored in the Redis queues (contract 14.2); field order and names are the
/// wire format, so a job written by one instance can be run by any other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEnvelope {
    /// Unique enough to tell jobs apart in logs (enqueue nanoseconds, maybe prefixed).
    pub id: String,
    /// What the job does.
    #[serde(rename = "type")]
    pub job_type: JobType,
    /// Type-specific arguments (`key`, `keys`, `data`, `ttl`).
    pub payload: serde_json::Value,
    /// Runs started so far; incremented before each run.
    pub attempts: u32,
    /// Runs allowed before the job is dead-lettered.
    pub max_tries: u32,
    /// When the job was enqueued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the job may run (the creation time for immediate jobs).
    #[serde(with = "time::serde::rfc3339")]
    pub process_at: OffsetDateTime,
    /// Larger numbers run sooner in the queues; 1 also means "run locally" when routing.
    pub priority: i64,
}

impl JobEnvelope {
    /// The stored text of the envelope (the exact member kept in Redis).
    ///
    /// # Errors
    /// Only if the payload cannot be serialised, which a `serde_json::Value` always can.
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }

    /// Parses a stored envelope.
    ///
    /// # Errors
    /// When the text is not a well-formed envelope.
    pub fn from_json(text: &str) -> serde_json::Result<Self> {
        serde_json::from_str(text)
    }
}

/// A job taken from the ready queue and held under a lease by one worker.
///
/// Until it is acknowledged, retried or dead-lettered it stays in the queue's processing
/// set, so that it becomes runnable again if the worker dies (contract 14.5, [D-40]).
#[derive(Debug, Clone, PartialEq)]
pub struct LeasedJob {
    /// The parsed envelope, exactly as stored (attempts not yet incremented).
    pub job: JobEnvelope,
    /// The exact stored text, so that `ack` can remove precisely this member.
    pub raw: String,
    /// The worker holding the lease.
    pub worker_id: String,
    /// After this instant the lease counts as expired and the job may be handed out again.
    pub lease_until: OffsetDateTime,
}

/// How many jobs wait in each Redis queue (for `queue_sizes`, contract 14.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QueueSizes {
    /// Jobs in `cache_jobs`, ready to run.
    pub immediate: u64,
    /// Jobs in `cache_jobs_delayed`, waiting for `process_at`.
    pub delayed: u64,
    /// Jobs in `cache_jobs_dlq`.
    pub dead_letter: u64,
}

/// The shared, crash-safe job queue (Redis in production, contract 14.5).
///
/// Implementations must make every move between queues atomic (one Lua script or one
/// transaction), because many workers on many instances use the same queues at once.
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Adds a job to the ready queue with score = the time of the call in epoch seconds
    /// minus `priority`, so that a larger priority and an older job run first.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the queue cannot be reached; `Backend` otherwise.
    async fn enqueue_ready(&self, job: &JobEnvelope) -> PortResult<()>;

    /// Adds a job to the delayed queue with score = `job.process_at` in epoch seconds.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the queue cannot be reached; `Backend` otherwise.
    async fn enqueue_delayed(&self, job: &JobEnvelope) -> PortResult<()>;

    /// Moves up to `limit` delayed jobs whose `process_at` is not after `now` into the
    /// ready queue (score = `now` minus priority); returns how many moved.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the queue cannot be reached; `Backend` otherwise.
    async fn promote_due(&self, now: OffsetDateTime, limit: usize) -> PortResult<usize>;

    /// Atomically takes the lowest-scored ready job and records it in the processing set
    /// under `worker_id` until now + `lease`; `Ok(None)` when the ready queue is empty.
    /// A stored text that is not a valid envelope is moved to the dead-letter list instead
    /// of being returned.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the queue cannot be reached; `Backend` otherwise.
    async fn take(&self, worker_id: &str, lease: Duration) -> PortResult<Option<LeasedJob>>;

    /// Removes a finished job from the processing set.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the queue cannot be reached; `Backend` otherwise.
    async fn ack(&self, leased: &LeasedJob) -> PortResult<()>;

    /// Atomically removes `leased` from the processing set and adds `job` (the same job
    /// with `attempts` incremented and the retry time in `process_at`) to the delayed
    /// queue with score = `job.process_at`.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the queue cannot be reached; `Backend` otherwise.
    async fn retry_later(&self, leased: &LeasedJob, job: &JobEnvelope) -> PortResult<()>;

    /// Atomically removes `leased` from the processing set and pushes `job` (as of its last
    /// attempt) onto the head of the dead-letter list.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the queue cannot be reached; `Backend` otherwise.
    async fn dead_letter(&self, leased: &LeasedJob, job: &JobEnvelope) -> PortResult<()>;

    /// Returns every job whose lease ended before `now` to the ready queue (the worker
    /// holding it is presumed dead); returns how many were returned.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the queue cannot be reached; `Backend` otherwise.
    async fn requeue_expired_leases(&self, now: OffsetDateTime) -> PortResult<usize>;

    /// Counts the jobs in the ready, delayed and dead-letter queues.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the queue cannot be reached; `Backend` otherwise.
    async fn sizes(&self) -> PortResult<QueueSizes>;

    /// Lists up to `limit` dead-lettered jobs, newest first; unparsable entries are skipped.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the queue cannot be reached; `Backend` otherwise.
    async fn list_dead(&self, limit: usize) -> PortResult<Vec<JobEnvelope>>;

    /// Moves the dead-lettered job with this `id` (or all of them when `None`) back to the
    /// ready queue with `attempts` reset to 0; returns how many moved.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the queue cannot be reached; `Backend` otherwise.
    async fn requeue_dead(&self, id: Option<&str>) -> PortResult<usize>;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use time::macros::datetime;

    fn sample() -> JobEnvelope {
        JobEnvelope {
            id: "batch-1700000000000000000".into(),
            job_type: JobType::CacheBatch,
            payload: serde_json::json!({"keys": ["a", "b"]}),
            attempts: 0,
            max_tries: 3,
            created_at: datetime!(2023-11-14 22:13:20 UTC),
            process_at: datetime!(2023-11-14 22:13:21.5 UTC),
            priority: 5,
        }
    }

    #[test]
    fn envelope_serialises_with_the_contract_field_names_and_order() {
        let text = sample().to_json().unwrap();
        assert_eq!(
            text,
            r#"{"id":"batch-1700000000000000000","type":"cache_batch","payload":{"keys":["a","b"]},"attempts":0,"max_tries":3,"created_at":"2023-11-14T22:13:20Z","process_at":"2023-11-14T22:13:21.5Z","priority":5}"#
        );
    }

    #[test]
    fn envelope_round_trips_and_accepts_offsets() {
        let job = sample();
        assert_eq!(
            JobEnvelope::from_json(&job.to_json().unwrap()).unwrap(),
            job
        );
        let text = r#"{"id":"1","type":"cache_warmup","payload":{},"attempts":2,"max_tries":3,
            "created_at":"2023-11-14T23:13:20+01:00","process_at":"2023-11-14T22:13:20.000000001Z","priority":-4}"#;
        let parsed = JobEnvelope::from_json(text).unwrap();
        assert_eq!(parsed.created_at, datetime!(2023-11-14 22:13:20 UTC));
        assert_eq!(parsed.job_type, JobType::CacheWarmup);
        assert_eq!(parsed.priority, -4);
    }

    #[test]
    fn job_type_wire_names_match_as_str() {
        for t in [
            JobType::CacheWarmup,
            JobType::CacheScheduled,
            JobType::CacheBatch,
            JobType::CacheEviction,
            JobType::CacheValidation,
        ] {
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.as_str())
            );
        }
        assert!(serde_json::from_str::<JobType>("\"cache_other\"").is_err());
    }
}
