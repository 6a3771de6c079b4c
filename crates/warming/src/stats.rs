//! The job-system metrics objects of contract 14.8, as serialisable structs.

use ports::QueueSizes;
use serde::Serialize;

/// Statistics of the local worker pool (`local_worker_stats` in 14.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalWorkerStats {
    /// Number of workers (5).
    pub workers: usize,
    /// Whether the pool accepts and runs jobs (false after shutdown).
    pub running: bool,
    /// Runs finished, successful or not.
    pub jobs_processed: u64,
    /// Runs that failed.
    pub total_errors: u64,
    /// Mean run time as duration text (`0s` before any run).
    pub avg_duration: String,
    /// Sum of run times as duration text.
    pub total_duration: String,
    /// Jobs waiting in the ready queue (scheduled jobs not yet due are not counted).
    pub queue_length: usize,
    /// Capacity of the ready queue (10).
    pub queue_capacity: usize,
}

/// Which mode the job system runs in (14.1), under its legacy wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SystemType {
    /// Local workers plus distributed workers over Redis.
    #[serde(rename = "integrated_redis_local")]
    IntegratedRedisLocal,
    /// Local workers only.
    #[serde(rename = "legacy_memory")]
    LegacyMemory,
}

/// The job-system metrics object (`cache_warming` in stats, `metrics` in health).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WarmingMetrics {
    /// Runs finished by distributed and local workers.
    pub processed_jobs: u64,
    /// Runs that failed.
    pub failed_jobs: u64,
    /// Failed runs sent back for another attempt.
    pub retry_jobs: u64,
    /// Routing decisions that chose Redis.
    pub distributed_jobs: u64,
    /// Routing decisions that chose the local pool.
    pub local_jobs: u64,
    /// Whether Redis answers.
    pub redis_available: bool,
    /// Distributed workers of this instance.
    pub distributed_workers: usize,
    /// The mode.
    pub system_type: SystemType,
    /// The local pool's statistics.
    pub local_worker_stats: LocalWorkerStats,
}

/// The `queue_sizes` object of 14.8: Redis counts only in integrated mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QueueSizesView {
    /// Jobs in the local ready queue.
    pub local: usize,
    /// Jobs in `cache_jobs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_immediate: Option<u64>,
    /// Jobs in `cache_jobs_delayed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_delayed: Option<u64>,
    /// Jobs in `cache_jobs_dlq`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_dead_letter: Option<u64>,
}

impl QueueSizesView {
    /// Sizes in local mode: `{"local": n}`.
    #[must_use]
    pub fn local_only(local: usize) -> Self {
        Self {
            local,
            redis_immediate: None,
            redis_delayed: None,
            redis_dead_letter: None,
        }
    }

    /// Sizes in integrated mode, with the Redis queue counts.
    #[must_use]
    pub fn integrated(local: usize, redis: QueueSizes) -> Self {
        Self {
            local,
            redis_immediate: Some(redis.immediate),
            redis_delayed: Some(redis.delayed),
            redis_dead_letter: Some(redis.dead_letter),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn local() -> LocalWorkerStats {
        LocalWorkerStats {
            workers: 5,
            running: true,
            jobs_processed: 4,
            total_errors: 1,
            avg_duration: "1.5ms".into(),
            total_duration: "6ms".into(),
            queue_length: 2,
            queue_capacity: 10,
        }
    }

    #[test]
    fn metrics_serialise_as_the_contract_object() {
        let m = WarmingMetrics {
            processed_jobs: 9,
            failed_jobs: 2,
            retry_jobs: 1,
            distributed_jobs: 3,
            local_jobs: 6,
            redis_available: true,
            distributed_workers: 5,
            system_type: SystemType::IntegratedRedisLocal,
            local_worker_stats: local(),
        };
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"processed_jobs": 9, "failed_jobs": 2, "retry_jobs": 1,
                   "distributed_jobs": 3, "local_jobs": 6, "redis_available": true,
                   "distributed_workers": 5, "system_type": "integrated_redis_local",
                   "local_worker_stats": {"workers": 5, "running": true, "jobs_processed": 4,
                     "total_errors": 1, "avg_duration": "1.5ms", "total_duration": "6ms",
                     "queue_length": 2, "queue_capacity": 10}})
        );
        let legacy = serde_json::to_value(SystemType::LegacyMemory).unwrap();
        assert_eq!(legacy, json!("legacy_memory"));
    }

    #[test]
    fn queue_sizes_have_redis_counts_only_in_integrated_mode() {
        assert_eq!(
            serde_json::to_value(QueueSizesView::local_only(3)).unwrap(),
            json!({"local": 3})
        );
        let redis = QueueSizes {
            immediate: 1,
            delayed: 2,
            dead_letter: 3,
        };
        assert_eq!(
            serde_json::to_value(QueueSizesView::integrated(0, redis)).unwrap(),
            json!({"local": 0, "redis_immediate": 1, "redis_delayed": 2, "redis_dead_letter": 3})
        );
    }
}
