//! Job constructors, payloads and the defaults of contract 14.2, 14.6 and 14.7.

use std::time::Duration;

use ports::{JobEnvelope, JobType};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use time::OffsetDateTime;

use crate::{JobError, duration_text};

/// Lifetime of a warmup or scheduled entry when the request gives none or 0 (14.7).
pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);
/// Priority when the request gives none or 0 (14.7).
pub const DEFAULT_PRIORITY: i64 = 5;
/// Runs allowed per job before it is dead-lettered (14.6).
pub const MAX_TRIES: u32 = 3;
/// Lifetime of every entry written by a batch job (14.3).
pub const BATCH_TTL: Duration = Duration::from_secs(3600);
/// Lifetime used by a warmup whose payload carries no `ttl` (14.3).
pub const PAYLOAD_DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// Lifetime of the warmup a validation job enqueues (14.3).
pub const VALIDATION_TTL: Duration = Duration::from_secs(3600);

/// Payload of `cache_warmup` and `cache_scheduled` jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarmupPayload {
    /// Logical cache key.
    pub key: String,
    /// Value to store (ignored for reserved keys).
    #[serde(default)]
    pub data: serde_json::Value,
    /// Lifetime as duration text; empty means [`PAYLOAD_DEFAULT_TTL`].
    #[serde(default)]
    pub ttl: String,
}

impl WarmupPayload {
    /// The entry lifetime the payload asks for.
    ///
    /// # Errors
    /// [`JobError::InvalidPayload`] when `ttl` is not duration text.
    pub fn ttl(&self, job_type: JobType) -> Result<Duration, JobError> {
        if self.ttl.is_empty() {
            return Ok(PAYLOAD_DEFAULT_TTL);
        }
        duration_text::parse(&self.ttl).ok_or_else(|| JobError::InvalidPayload {
            job_type,
            reason: format!("ttl {:?} is not a duration", self.ttl),
        })
    }
}

/// Payload of `cache_batch` jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchPayload {
    /// Logical cache keys, each stored with [`BATCH_TTL`].
    pub keys: Vec<String>,
    /// Value stored under every key (ignored for reserved keys).
    #[serde(default)]
    pub data: serde_json::Value,
}

/// Payload of `cache_eviction` jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvictionPayload {
    /// Logical cache key to delete.
    pub key: String,
}

/// Payload of `cache_validation` jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationPayload {
    /// Logical cache key to check.
    pub key: String,
    /// Value to warm the key with when it is absent.
    #[serde(default)]
    pub data: serde_json::Value,
}

/// Decodes a job's payload into its type-specific struct.
///
/// # Errors
/// [`JobError::InvalidPayload`] when the payload has the wrong shape.
pub(crate) fn decode<T: DeserializeOwned>(job: &JobEnvelope) -> Result<T, JobError> {
    T::deserialize(&job.payload).map_err(|e| JobError::InvalidPayload {
        job_type: job.job_type,
        reason: e.to_string(),
    })
}

/// Priority 0 means the default 5 (14.7); anything else is kept.
#[must_use]
pub fn effective_priority(priority: i64) -> i64 {
    if priority == 0 {
        DEFAULT_PRIORITY
    } else {
        priority
    }
}

/// An absent or zero lifetime means the default 15 minutes (14.7).
#[must_use]
pub fn effective_ttl(ttl: Option<Duration>) -> Duration {
    match ttl {
        Some(d) if !d.is_zero() => d,
        _ => DEFAULT_TTL,
    }
}

/// True for the keys whose value the service owns and recomputes from the database
/// instead of storing caller-supplied data [D-24].
#[must_use]
pub fn is_reserved_key(key: &str) -> bool {
    key == "all_tasks"
        || key.starts_with("task:")
        || key.starts_with("tasks_paginated:")
        || key.starts_with("user_tasks:")
}

fn nanos_id(now: OffsetDateTime) -> String {
    now.unix_timestamp_nanos().to_string()
}

fn envelope(
    id: String,
    job_type: JobType,
    payload: serde_json::Value,
    priority: i64,
    now: OffsetDateTime,
    process_at: OffsetDateTime,
) -> JobEnvelope {
    JobEnvelope {
        id,
        job_type,
        payload,
        attempts: 0,
        max_tries: MAX_TRIES,
        created_at: now,
        process_at,
        priority: effective_priority(priority),
    }
}

fn warmup_payload(key: &str, data: serde_json::Value, ttl: Duration) -> serde_json::Value {
    serde_json::json!({"key": key, "data": data, "ttl": duration_text::format(ttl)})
}

/// A `cache_warmup` job due at once; id = `now` in nanoseconds; a zero `ttl` or priority
/// takes its default.
#[must_use]
pub fn warmup_job(
    key: &str,
    data: serde_json::Value,
    ttl: Duration,
    priority: i64,
    now: OffsetDateTime,
) -> JobEnvelope {
    let payload = warmup_payload(key, data, effective_ttl(Some(ttl)));
    envelope(
        nanos_id(now),
        JobType::CacheWarmup,
        payload,
        priority,
        now,
        now,
    )
}

/// A `cache_scheduled` job due at `process_at` (a past instant makes it due at once);
/// id = `scheduled-` + `now` in nanoseconds.
#[must_use]
pub fn scheduled_job(
    key: &str,
    data: serde_json::Value,
    ttl: Duration,
    process_at: OffsetDateTime,
    priority: i64,
    now: OffsetDateTime,
) -> JobEnvelope {
    let payload = warmup_payload(key, data, effective_ttl(Some(ttl)));
    let id = format!("scheduled-{}", nanos_id(now));
    envelope(
        id,
        JobType::CacheScheduled,
        payload,
        priority,
        now,
        process_at,
    )
}

/// A `cache_batch` job storing `data` under every key for one hour; id = `batch-` + nanos.
#[must_use]
pub fn batch_job(
    keys: Vec<String>,
    data: serde_json::Value,
    priority: i64,
    now: OffsetDateTime,
) -> JobEnvelope {
    let payload = serde_json::json!({"keys": keys, "data": data});
    let id = format!("batch-{}", nanos_id(now));
    envelope(id, JobType::CacheBatch, payload, priority, now, now)
}

/// A `cache_eviction` job; id = `evict-` + nanos.
#[must_use]
pub fn eviction_job(key: &str, priority: i64, now: OffsetDateTime) -> JobEnvelope {
    let payload = serde_json::json!({"key": key});
    let id = format!("evict-{}", nanos_id(now));
    envelope(id, JobType::CacheEviction, payload, priority, now, now)
}

/// A `cache_validation` job; id = `validate-` + nanos.
#[must_use]
pub fn validation_job(
    key: &str,
    data: serde_json::Value,
    priority: i64,
    now: OffsetDateTime,
) -> JobEnvelope {
    let payload = serde_json::json!({"key": key, "data": data});
    let id = format!("validate-{}", nanos_id(now));
    envelope(id, JobType::CacheValidation, payload, priority, now, now)
}

/// Splits a batch job into one warmup job per key (lifetime one hour), which is how a
/// batch routed to the local pool runs (14.4). Ids are the batch id plus `-<index>`.
///
/// # Errors
/// [`JobError::InvalidPayload`] when `job` is not a well-formed batch job.
pub fn split_batch(job: &JobEnvelope) -> Result<Vec<JobEnvelope>, JobError> {
    if job.job_type != JobType::CacheBatch {
        return Err(JobError::InvalidPayload {
            job_type: job.job_type,
            reason: "only batch jobs can be split".to_owned(),
        });
    }
    let payload: BatchPayload = decode(job)?;
    Ok(payload
        .keys
        .iter()
        .enumerate()
        .map(|(index, key)| JobEnvelope {
            id: format!("{}-{index}", job.id),
            job_type: JobType::CacheWarmup,
            payload: warmup_payload(key, payload.data.clone(), BATCH_TTL),
            ..job.clone()
        })
        .collect())
}

/// The default warm set of 14.6: the first page of the admin task listing (priority 100,
/// 5 minutes) and `all_tasks` (priority 80, 10 minutes), both recomputed from the database.
#[must_use]
pub fn default_warm_set(now: OffsetDateTime) -> Vec<JobEnvelope> {
    let first_page = warmup_job(
        "tasks_paginated:all:created_at:desc:1:10",
        serde_json::Value::Null,
        Duration::from_secs(5 * 60),
        100,
        now,
    );
    let mut all_tasks = warmup_job(
        "all_tasks",
        serde_json::Value::Null,
        Duration::from_secs(10 * 60),
        80,
        now,
    );
    all_tasks.id.push_str("-1");
    vec![first_page, all_tasks]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2023-11-14 22:13:20.000000123 UTC);

    #[test]
    fn warmup_ids_are_enqueue_nanoseconds_and_defaults_apply() {
        let job = warmup_job("k", json!({"a": 1}), Duration::ZERO, 0, NOW);
        assert_eq!(job.id, "1700000000000000123");
        assert_eq!(job.job_type, JobType::CacheWarmup);
        assert_eq!(job.priority, 5);
        assert_eq!(job.max_tries, 3);
        assert_eq!(job.attempts, 0);
        assert_eq!((job.created_at, job.process_at), (NOW, NOW));
        assert_eq!(
            job.payload,
            json!({"key": "k", "data": {"a": 1}, "ttl": "15m0s"})
        );
    }

    #[test]
    fn other_types_carry_their_id_prefix_and_payload() {
        let later = datetime!(2030-01-01 0:00 UTC);
        let s = scheduled_job("k", json!(null), Duration::from_secs(90), later, 7, NOW);
        assert_eq!(s.id, "scheduled-1700000000000000123");
        assert_eq!((s.process_at, s.priority), (later, 7));
        assert_eq!(s.payload, json!({"key": "k", "data": null, "ttl": "1m30s"}));

        let b = batch_job(vec!["a".into(), "b".into()], json!(1), 0, NOW);
        assert_eq!(b.id, "batch-1700000000000000123");
        assert_eq!(b.payload, json!({"keys": ["a", "b"], "data": 1}));

        let e = eviction_job("k", 0, NOW);
        assert_eq!(e.id, "evict-1700000000000000123");
        assert_eq!(e.payload, json!({"key": "k"}));

        let v = validation_job("k", json!("x"), 2, NOW);
        assert_eq!(v.id, "validate-1700000000000000123");
        assert_eq!(v.payload, json!({"key": "k", "data": "x"}));
        assert_eq!(v.priority, 2);
    }

    #[test]
    fn reserved_keys_are_the_service_owned_namespaces() {
        for key in [
            "task:1",
            "tasks_paginated:all:x",
            "user_tasks:u",
            "all_tasks",
        ] {
            assert!(is_reserved_key(key), "{key}");
        }
        for key in ["tasks", "all_tasks:x", "test:all", "mytask:1", "user_tasks"] {
            assert!(!is_reserved_key(key), "{key}");
        }
    }

    #[test]
    fn split_batch_gives_one_hour_warmups_per_key() {
        let b = batch_job(vec!["a".into(), "b".into()], json!({"v": 2}), 9, NOW);
        let parts = split_batch(&b).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].id, "batch-1700000000000000123-1");
        assert_eq!(parts[1].job_type, JobType::CacheWarmup);
        assert_eq!(parts[1].priority, 9);
        assert_eq!(
            parts[1].payload,
            json!({"key": "b", "data": {"v": 2}, "ttl": "1h0m0s"})
        );
        assert!(split_batch(&eviction_job("k", 0, NOW)).is_err());
    }

    #[test]
    fn payload_ttl_defaults_to_an_hour_and_rejects_garbage() {
        let mut p = WarmupPayload {
            key: "k".into(),
            data: json!(null),
            ttl: String::new(),
        };
        assert_eq!(p.ttl(JobType::CacheWarmup).unwrap(), PAYLOAD_DEFAULT_TTL);
        p.ttl = "10m0s".into();
        assert_eq!(
            p.ttl(JobType::CacheWarmup).unwrap(),
            Duration::from_secs(600)
        );
        p.ttl = "soon".into();
        assert!(matches!(
            p.ttl(JobType::CacheWarmup),
            Err(JobError::InvalidPayload { .. })
        ));
    }

    #[test]
    fn default_warm_set_matches_the_contract() {
        let set = default_warm_set(NOW);
        let summary: Vec<_> = set
            .iter()
            .map(|j| {
                (
                    j.payload["key"].clone(),
                    j.payload["ttl"].clone(),
                    j.priority,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    json!("tasks_paginated:all:created_at:desc:1:10"),
                    json!("5m0s"),
                    100
                ),
                (json!("all_tasks"), json!("10m0s"), 80),
            ]
        );
        assert_ne!(set[0].id, set[1].id);
    }
}
