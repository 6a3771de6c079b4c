//! Tunables of the two-level cache, with the contract's defaults.

use std::time::Duration;

/// Circuit-breaker thresholds (contract 13.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub max_failures: u32,
    /// How long the breaker stays open after the last failure.
    pub open_timeout: Duration,
    /// Consecutive half-open successes that close it again.
    pub half_open_successes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            max_failures: 5,
            open_timeout: Duration::from_secs(30),
            half_open_successes: 3,
        }
    }
}

/// Sizes and lifetimes of the cache (contract 13.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// Bound on the number of L1 entries (the contract asks for at least 10,000).
    pub l1_max_entries: usize,
    /// Bound on the serialized bytes held by L1.
    pub l1_max_bytes: u64,
    /// No L1 entry lives longer than this, whatever lifetime was asked for.
    pub l1_ttl_cap: Duration,
    /// Lifetime of an L2 hit copied into L1 (still capped by `l1_ttl_cap`).
    pub promotion_ttl: Duration,
    /// The breaker around L2.
    pub breaker: BreakerConfig,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            l1_max_entries: 10_000,
            l1_max_bytes: 64 * 1024 * 1024,
            l1_ttl_cap: Duration::from_secs(60),
            promotion_ttl: Duration::from_secs(300),
            breaker: BreakerConfig::default(),
        }
    }
}
