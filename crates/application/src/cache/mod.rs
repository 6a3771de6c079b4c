//! The cache as the service uses it (contract 13): the cached task use cases
//! ([`CachedTaskService`], a decorator over [`crate::TaskService`] with the keys, lifetimes
//! and invalidation table of 13.1 and 13.4) and the administration view behind
//! `/api/v1/cache/*` ([`CacheAdmin`]). The mechanism itself is the `cache-multilevel` crate.

mod admin;
mod tasks;
#[cfg(test)]
mod tasks_tests;

pub use admin::{
    CacheAdmin, CacheReport, Eviction, L1Report, L2Info, L2InspectFuture, L2Inspector, L2Report,
};
pub use cache_multilevel::{
    BreakerState, BreakerStats, CacheConfig, CacheError, CacheStats, MultiLevelCache,
};
pub use tasks::{
    ALL_TASKS_KEY, CachedTaskService, REPEAT_DELETE_AFTER, TASK_TTL, TASKS_PAGINATED_NS,
    TASKS_PAGINATED_TTL, USER_TASKS_TTL, task_key, user_tasks_key,
};
