//! [`CacheAdmin`]: what the cache administration routes (contract 9.1, 9.4, 9.8) do.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use cache_multilevel::{BreakerStats, CacheError, CacheStats, MultiLevelCache};
use serde::Serialize;

use super::tasks::TASKS_PAGINATED_NS;

/// What the shared level reports about itself for `/cache/stats` (9.1); a counter the pool
/// cannot provide is 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct L2Info {
    /// The text of the Redis `INFO memory` and `INFO stats` sections.
    pub redis_info: String,
    /// Connection checkouts served by an idle connection (0 when unknown).
    pub pool_hits: u64,
    /// Checkouts that had to open a connection (0 when unknown).
    pub pool_misses: u64,
    /// Checkouts or commands that timed out.
    pub pool_timeouts: u64,
    /// Connections open.
    pub pool_total: u64,
    /// Connections idle.
    pub pool_idle: u64,
    /// Connections dropped as stale (0 when unknown).
    pub pool_stale: u64,
}

/// What [`L2Inspector::inspect`] returns: the report, or the text to show when the
/// shared level cannot be reached.
pub type L2InspectFuture<'a> = Pin<Box<dyn Future<Output = Result<L2Info, String>> + Send + 'a>>;

/// Reads [`L2Info`]; implemented by the binary over its Redis pool, so that this crate
/// knows nothing of Redis.
pub trait L2Inspector: Send + Sync {
    /// The shared level's report (see [`L2InspectFuture`]).
    fn inspect(&self) -> L2InspectFuture<'_>;
}

/// `cache.l1` of 9.1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct L1Report {
    /// Entries in this instance's L1.
    pub items: u64,
    /// Always `memory`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// `cache.l2` of 9.1: the report, or `{"error": ...}` when Redis is unreachable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum L2Report {
    /// Redis answered.
    Available(L2Info),
    /// Redis did not answer.
    Unreachable {
        /// Why.
        error: String,
    },
}

/// The `cache` object of 9.1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheReport {
    /// This instance's L1.
    pub l1: L1Report,
    /// The shared level; absent when no Redis is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l2: Option<L2Report>,
    /// Hits, misses, errors, sets, deletes, start time.
    pub metrics: CacheStats,
    /// hits / (hits + misses) x 100, or 0 before any lookup.
    pub hit_rate_percent: f64,
    /// The breaker around L2.
    pub circuit_breaker: BreakerStats,
}

/// What an eviction (9.8) removed: one key, or a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eviction {
    /// A single logical key.
    Key(String),
    /// A pattern (`*` anywhere) and how many shared entries it removed.
    Pattern(String, u64),
}

/// The cache administration use cases: statistics, clearing, eviction.
#[derive(Clone)]
pub struct CacheAdmin {
    cache: Arc<MultiLevelCache>,
    l2: Option<Arc<dyn L2Inspector>>,
}

impl std::fmt::Debug for CacheAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheAdmin")
            .field("cache", &self.cache)
            .field("l2", &self.l2.is_some())
            .finish()
    }
}

impl CacheAdmin {
    /// Administration of `cache`; `l2` is `None` when no Redis is configured.
    #[must_use]
    pub fn new(cache: Arc<MultiLevelCache>, l2: Option<Arc<dyn L2Inspector>>) -> Self {
        Self { cache, l2 }
    }

    /// The cache being administered.
    #[must_use]
    pub fn cache(&self) -> &Arc<MultiLevelCache> {
        &self.cache
    }

    /// The `cache` object of `/cache/stats` (9.1).
    pub async fn report(&self) -> CacheReport {
        let l2 = match &self.l2 {
            None => None,
            Some(inspector) => Some(match inspector.inspect().await {
                Ok(info) => L2Report::Available(info),
                Err(error) => L2Report::Unreachable { error },
            }),
        };
        let metrics = self.cache.stats();
        CacheReport {
            l1: L1Report {
                items: self.cache.l1_len() as u64,
                kind: "memory",
            },
            l2,
            hit_rate_percent: metrics.hit_rate_percent(),
            metrics,
            circuit_breaker: self.cache.breaker_stats(),
        }
    }

    /// Empties every instance's L1 and the cache namespace of L2, nothing else (9.4).
    ///
    /// # Errors
    /// When L2 or the bus could not be reached (this L1 is emptied regardless).
    pub async fn clear(&self) -> Result<u64, CacheError> {
        self.cache.clear().await
    }

    /// Evicts a logical key, or a pattern when it begins or ends with `*` (9.8), from L1 on
    /// every instance and from L2. Anything touching `tasks_paginated` also moves that
    /// namespace to a new generation, since its entries live under versioned keys.
    ///
    /// # Errors
    /// When L2 or the bus could not be reached.
    pub async fn evict(&self, key: &str) -> Result<Eviction, CacheError> {
        let head = key.split('*').next().unwrap_or_default();
        if key.starts_with(TASKS_PAGINATED_NS)
            || (is_pattern(key) && TASKS_PAGINATED_NS.starts_with(head))
        {
            self.cache.bump_namespace(TASKS_PAGINATED_NS).await?;
        }
        if is_pattern(key) {
            let removed = self.cache.delete_pattern(key).await?;
            Ok(Eviction::Pattern(key.to_owned(), removed))
        } else {
            self.cache.delete(key).await?;
            Ok(Eviction::Key(key.to_owned()))
        }
    }
}

/// A key is a pattern when it begins or ends with `*` (9.8).
#[must_use]
fn is_pattern(key: &str) -> bool {
    key.starts_with('*') || key.ends_with('*')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cache_multilevel::CacheConfig;
    use std::time::Duration;

    fn admin() -> CacheAdmin {
        CacheAdmin::new(
            Arc::new(MultiLevelCache::new(CacheConfig::default(), None, None)),
            None,
        )
    }

    #[test]
    fn patterns_are_keys_beginning_or_ending_with_a_star() {
        assert!(is_pattern("task:*"));
        assert!(is_pattern("*:x"));
        assert!(!is_pattern("task:a*b"));
        assert!(!is_pattern("task:1"));
    }

    #[tokio::test]
    async fn evicting_a_key_or_pattern_removes_only_what_matches() {
        let admin = admin();
        let cache = admin.cache().clone();
        let ttl = Duration::from_secs(60);
        cache.set_json("task:1", &1_u32, ttl).await;
        cache.set_json("task:2", &2_u32, ttl).await;
        cache.set_json("user_tasks:1", &3_u32, ttl).await;
        assert_eq!(
            admin.evict("task:1").await.unwrap(),
            Eviction::Key("task:1".into())
        );
        assert!(cache.get_json::<u32>("task:1").await.is_none());
        assert!(cache.get_json::<u32>("task:2").await.is_some());
        assert!(matches!(
            admin.evict("task:*").await.unwrap(),
            Eviction::Pattern(p, _) if p == "task:*"
        ));
        assert!(cache.get_json::<u32>("task:2").await.is_none());
        assert!(cache.get_json::<u32>("user_tasks:1").await.is_some());
    }

    #[tokio::test]
    async fn the_report_has_no_l2_without_redis_and_counts_lookups() {
        let admin = admin();
        let cache = admin.cache().clone();
        assert!(cache.get_json::<u32>("task:1").await.is_none());
        cache
            .set_json("task:1", &1_u32, Duration::from_secs(60))
            .await;
        assert!(cache.get_json::<u32>("task:1").await.is_some());
        let report = admin.report().await;
        assert!(report.l2.is_none());
        assert_eq!(report.l1.items, 1);
        assert_eq!((report.metrics.hits, report.metrics.misses), (1, 1));
        assert!((report.hit_rate_percent - 50.0).abs() < f64::EPSILON);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["l1"]["type"], "memory");
        assert!(json.get("l2").is_none());
        assert_eq!(json["circuit_breaker"]["state"], "closed");
    }
}
