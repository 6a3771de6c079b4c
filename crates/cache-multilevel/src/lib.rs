//! The service's two-level cache (contract section 13): a bounded in-process L1
//! (`quick_cache`, entry and byte bounds, lifetimes capped at 60 s) over an optional shared
//! L2 reached through the [`ports::KeyValueStore`] port (Redis in production) behind a
//! circuit breaker. It coalesces concurrent misses of one key into one load, invalidates
//! whole namespaces in O(1) with generation numbers, tells other instances what it
//! invalidated through the [`ports::InvalidationBus`] port, and counts hits, misses, errors,
//! sets and deletes for `/cache/stats` and Prometheus. A cache problem never fails a caller:
//! read errors are misses, write errors are counted and ignored. Without L2 and bus it runs
//! L1-only. It depends on `ports` only; the task-specific use lives in `application`.

mod breaker;
mod cache;
mod clock;
mod config;
mod generations;
mod l1;
mod pattern;
mod stats;

pub use breaker::{BreakerState, BreakerStats, CircuitBreaker};
pub use cache::{CacheError, MultiLevelCache};
pub use clock::ManualClock;
pub use config::{BreakerConfig, CacheConfig};
pub use generations::generation_key;
pub use pattern::matches_pattern;
pub use stats::CacheStats;
