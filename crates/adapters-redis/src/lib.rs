//! Redis adapters of the task-management service, built on one shared `deadpool-redis`
//! pool: the cache's second level ([`RedisKeyValueStore`], entries under
//! `REDIS_KEY_PREFIX` + `cache:`), the cross-instance invalidation bus
//! ([`RedisInvalidationBus`] and [`spawn_invalidation_subscriber`] on channel
//! `REDIS_KEY_PREFIX` + `cache_invalidation`) and the health probe. The pool never connects
//! eagerly, so the service starts without Redis, and every command is bounded in time so a
//! slow or absent Redis turns into `PortError::Unavailable`/`Timeout` instead of a hang.
//! The crash-safe cache-warming job queue with leases, retries and dead letters is
//! [`RedisJobQueue`] (contract 14.5).

pub mod invalidation;
pub mod job_queue;
pub mod kv;
pub mod lock;
pub mod pattern;
pub mod pool;
pub mod revocation;
pub mod settings;

pub use invalidation::{
    INVALIDATION_CHANNEL, RedisInvalidationBus, invalidation_channel,
    spawn_invalidation_subscriber, subscriber_client_name,
};
pub use job_queue::RedisJobQueue;
pub use kv::RedisKeyValueStore;
pub use lock::RedisLock;
pub use pool::{PoolStatus, PooledConnection, RedisPool, map_redis_error};
pub use revocation::RedisRevocationStore;
pub use settings::{RedisSettings, redact_url};
