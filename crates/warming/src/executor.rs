//! What each job type does to the cache (contract 14.3).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ports::{JobEnvelope, JobType, PortResult};
use time::OffsetDateTime;

use crate::JobError;
use crate::job::{
    BATCH_TTL, BatchPayload, EvictionPayload, VALIDATION_TTL, ValidationPayload, WarmupPayload,
    decode, is_reserved_key, warmup_job,
};

/// The cache operations jobs need, implemented by the application layer over the
/// multi-level cache (and the database, for reserved keys).
#[async_trait]
pub trait JobExecutor: Send + Sync {
    /// Writes `data` under the logical `key` for `ttl`.
    ///
    /// # Errors
    /// When the cache write fails.
    async fn store(&self, key: &str, data: serde_json::Value, ttl: Duration) -> PortResult<()>;

    /// Removes the logical `key`; removing an absent key succeeds.
    ///
    /// # Errors
    /// When the cache delete fails.
    async fn evict(&self, key: &str) -> PortResult<()>;

    /// Whether the logical `key` currently holds a value.
    ///
    /// # Errors
    /// When the cache cannot be read.
    async fn exists(&self, key: &str) -> PortResult<bool>;

    /// Recomputes the value of a reserved key from the database [D-24]; `Ok(None)` when
    /// there is nothing to cache (for example the task no longer exists).
    ///
    /// # Errors
    /// When the database cannot be read.
    async fn recompute(&self, key: &str) -> PortResult<Option<serde_json::Value>>;
}

/// Where jobs created by running a job (the warmup a validation job asks for) are sent;
/// the owner of the worker decides, usually by routing them like any new job.
pub type FollowUp = Arc<dyn Fn(JobEnvelope) + Send + Sync>;

/// Runs one job against the cache. `now` stamps follow-up jobs.
///
/// A batch job succeeds even when some keys fail (they are logged and skipped); a
/// validation job of an absent key hands a one-hour warmup of the same priority to
/// `follow_up`; jobs on reserved keys ignore `data` and store the recomputed value (or
/// evict the key when there is nothing to store).
///
/// # Errors
/// [`JobError::InvalidPayload`] for a malformed payload, [`JobError::Port`] when the
/// cache or database fails (except for individual keys of a batch).
pub async fn run_job(
    job: &JobEnvelope,
    exec: &dyn JobExecutor,
    now: OffsetDateTime,
    follow_up: &(dyn Fn(JobEnvelope) + Send + Sync),
) -> Result<(), JobError> {
    match job.job_type {
        JobType::CacheWarmup | JobType::CacheScheduled => {
            let payload: WarmupPayload = decode(job)?;
            let ttl = payload.ttl(job.job_type)?;
            warm_key(exec, &payload.key, payload.data, ttl).await
        }
        JobType::CacheBatch => {
            let payload: BatchPayload = decode(job)?;
            for key in &payload.keys {
                if let Err(error) = warm_key(exec, key, payload.data.clone(), BATCH_TTL).await {
                    tracing::warn!(job_id = %job.id, %key, %error, "batch key failed; skipped");
                }
            }
            Ok(())
        }
        JobType::CacheEviction => {
            let payload: EvictionPayload = decode(job)?;
            Ok(exec.evict(&payload.key).await?)
        }
        JobType::CacheValidation => {
            let payload: ValidationPayload = decode(job)?;
            if !exec.exists(&payload.key).await? {
                follow_up(warmup_job(
                    &payload.key,
                    payload.data,
                    VALIDATION_TTL,
                    job.priority,
                    now,
                ));
            }
            Ok(())
        }
    }
}

/// Stores one key, recomputing reserved keys instead of trusting `data`.
async fn warm_key(
    exec: &dyn JobExecutor,
    key: &str,
    data: serde_json::Value,
    ttl: Duration,
) -> Result<(), JobError> {
    if !is_reserved_key(key) {
        return Ok(exec.store(key, data, ttl).await?);
    }
    match exec.recompute(key).await? {
        Some(value) => Ok(exec.store(key, value, ttl).await?),
        None => Ok(exec.evict(key).await?),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;

    use serde_json::json;
    use time::macros::datetime;

    use super::*;
    use crate::job::{batch_job, eviction_job, validation_job};
    use crate::testkit::{FakeExecutor, Op};

    const NOW: OffsetDateTime = datetime!(2024-01-01 0:00 UTC);

    async fn run(
        job: &JobEnvelope,
        exec: &FakeExecutor,
    ) -> (Result<(), JobError>, Vec<JobEnvelope>) {
        let followed = Mutex::new(Vec::new());
        let result = run_job(job, exec, NOW, &|j| followed.lock().unwrap().push(j)).await;
        (result, followed.into_inner().unwrap())
    }

    #[tokio::test]
    async fn warmup_stores_data_for_the_payload_ttl() {
        let exec = FakeExecutor::default();
        let job = warmup_job("test:k", json!({"a": 1}), Duration::from_secs(90), 5, NOW);
        assert_eq!(run(&job, &exec).await.0, Ok(()));
        assert_eq!(
            exec.ops(),
            vec![Op::Store(
                "test:k".into(),
                json!({"a": 1}),
                Duration::from_secs(90)
            )]
        );
    }

    #[tokio::test]
    async fn a_warmup_without_ttl_lives_an_hour_and_a_malformed_payload_fails() {
        let exec = FakeExecutor::default();
        let mut job = warmup_job("test:k", json!(1), Duration::ZERO, 5, NOW);
        job.payload = json!({"key": "test:k", "data": 1});
        run(&job, &exec).await.0.unwrap();
        assert_eq!(
            exec.ops(),
            vec![Op::Store("test:k".into(), json!(1), BATCH_TTL)]
        );
        job.payload = json!({"data": 1});
        assert!(matches!(
            run(&job, &exec).await.0,
            Err(JobError::InvalidPayload { .. })
        ));
    }

    #[tokio::test]
    async fn reserved_keys_ignore_data_and_store_the_recomputed_value() {
        let exec = FakeExecutor::default();
        exec.set_recomputed("all_tasks", Some(json!(["real"])));
        let job = warmup_job(
            "all_tasks",
            json!("forged"),
            Duration::from_secs(600),
            5,
            NOW,
        );
        run(&job, &exec).await.0.unwrap();
        assert_eq!(
            exec.ops(),
            vec![
                Op::Recompute("all_tasks".into()),
                Op::Store(
                    "all_tasks".into(),
                    json!(["real"]),
                    Duration::from_secs(600)
                ),
            ]
        );
    }

    #[tokio::test]
    async fn a_reserved_key_with_nothing_to_recompute_is_evicted() {
        let exec = FakeExecutor::default();
        let job = warmup_job("task:gone", json!({"title": "x"}), Duration::ZERO, 5, NOW);
        run(&job, &exec).await.0.unwrap();
        assert_eq!(
            exec.ops(),
            vec![
                Op::Recompute("task:gone".into()),
                Op::Evict("task:gone".into())
            ]
        );
    }

    #[tokio::test]
    async fn batch_skips_a_failing_key_and_succeeds() {
        let exec = FakeExecutor::default();
        exec.fail_key("b");
        let job = batch_job(vec!["a".into(), "b".into(), "c".into()], json!(7), 5, NOW);
        assert_eq!(run(&job, &exec).await.0, Ok(()));
        assert_eq!(exec.stored_keys(), vec!["a".to_owned(), "c".to_owned()]);
    }

    #[tokio::test]
    async fn eviction_deletes_and_reports_cache_failures() {
        let exec = FakeExecutor::default();
        run(&eviction_job("test:k", 5, NOW), &exec).await.0.unwrap();
        assert_eq!(exec.ops(), vec![Op::Evict("test:k".into())]);
        exec.fail_key("test:bad");
        let (result, _) = run(&eviction_job("test:bad", 5, NOW), &exec).await;
        assert!(matches!(result, Err(JobError::Port(_))));
    }

    #[tokio::test]
    async fn validation_of_an_absent_key_enqueues_a_one_hour_warmup_of_the_same_priority() {
        let exec = FakeExecutor::default();
        let (result, followed) =
            run(&validation_job("test:k", json!({"d": 1}), 42, NOW), &exec).await;
        result.unwrap();
        assert_eq!(followed.len(), 1);
        let warm = &followed[0];
        assert_eq!(warm.job_type, JobType::CacheWarmup);
        assert_eq!(warm.priority, 42);
        assert_eq!(warm.created_at, NOW);
        assert_eq!(
            warm.payload,
            json!({"key": "test:k", "data": {"d": 1}, "ttl": "1h0m0s"})
        );
        assert!(exec.stored_keys().is_empty());
    }

    #[tokio::test]
    async fn validation_of_a_present_key_does_nothing() {
        let exec = FakeExecutor::default();
        exec.store("test:k", json!(1), BATCH_TTL).await.unwrap();
        let (result, followed) = run(&validation_job("test:k", json!(2), 5, NOW), &exec).await;
        result.unwrap();
        assert!(followed.is_empty());
    }
}
