//! Where a new job runs (contract 14.4): a pure function of the job and the system state.

use ports::JobType;

/// The local queue length above which jobs spill over to Redis (rule 4).
pub const LOCAL_SPILL_THRESHOLD: usize = 5;

/// Where a job is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    /// The in-process worker pool.
    Local,
    /// The shared Redis queues.
    Redis,
}

/// Applies the routing rules of 14.4; the first matching rule wins:
/// 1. Redis unavailable: local. 2. Scheduled: Redis. 3. Priority exactly 1: local.
/// 4. Local queue holds more than 5 jobs: Redis. 5. Otherwise: local.
#[must_use]
pub fn route(
    job_type: JobType,
    priority: i64,
    redis_available: bool,
    local_queue_len: usize,
) -> Destination {
    if !redis_available {
        Destination::Local
    } else if job_type == JobType::CacheScheduled {
        Destination::Redis
    } else if priority == 1 {
        Destination::Local
    } else if local_queue_len > LOCAL_SPILL_THRESHOLD {
        Destination::Redis
    } else {
        Destination::Local
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Destination::{Local, Redis};
    use JobType::{CacheBatch, CacheScheduled, CacheWarmup};

    #[test]
    fn without_redis_everything_runs_locally_even_scheduled_and_busy() {
        assert_eq!(route(CacheScheduled, 5, false, 10), Local);
        assert_eq!(route(CacheWarmup, 5, false, 10), Local);
    }

    #[test]
    fn scheduled_jobs_go_to_redis_even_with_priority_one_and_an_idle_queue() {
        assert_eq!(route(CacheScheduled, 1, true, 0), Redis);
    }

    #[test]
    fn priority_one_runs_locally_even_when_the_local_queue_is_busy() {
        assert_eq!(route(CacheWarmup, 1, true, 10), Local);
    }

    #[test]
    fn more_than_five_queued_spills_to_redis() {
        assert_eq!(route(CacheBatch, 5, true, 6), Redis);
        assert_eq!(route(CacheBatch, 5, true, 5), Local);
    }

    #[test]
    fn otherwise_local() {
        assert_eq!(route(CacheWarmup, 100, true, 0), Local);
        assert_eq!(route(JobType::CacheEviction, 2, true, 3), Local);
    }
}
