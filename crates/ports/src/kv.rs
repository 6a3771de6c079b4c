//! The second cache level as a port: a shared key-value store with expiry.

use std::time::Duration;

use async_trait::async_trait;

use crate::PortResult;

/// A shared store of byte values with per-entry lifetimes (Redis in production).
///
/// Keys are *logical* cache keys (`task:{id}`, `tasks_paginated:...`); the adapter places
/// them under its namespace (`REDIS_KEY_PREFIX` + `cache:`), so nothing outside the cache
/// namespace can be read, overwritten or deleted through this port.
#[async_trait]
pub trait KeyValueStore: Send + Sync + 'static {
    /// Reads one entry; `Ok(None)` is a miss, which is not a failure.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the store cannot be reached in time.
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>>;

    /// Writes one entry that expires after `ttl`.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the store cannot be reached in time.
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<()>;

    /// Deletes one entry; deleting an absent key succeeds.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the store cannot be reached in time.
    async fn delete(&self, key: &str) -> PortResult<()>;

    /// Deletes every entry whose logical key matches `pattern` (`*` matches any run of
    /// characters, anywhere), walking the namespace incrementally; returns how many went.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the store cannot be reached in time.
    async fn delete_matching(&self, pattern: &str) -> PortResult<u64>;

    /// Deletes every entry of the cache namespace and nothing else; returns how many went.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the store cannot be reached in time.
    async fn clear(&self) -> PortResult<u64>;

    /// Atomically increments the counter under `key` (created at 0) and returns the new
    /// value. Used for namespace generations, so it never expires.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the store cannot be reached in time.
    async fn increment(&self, key: &str) -> PortResult<u64>;
}
