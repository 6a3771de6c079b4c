//! Cache statistics (contract 13.3) and their Prometheus twins (contract 10.4).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// The counters shown under `cache.metrics` by `/cache/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    /// Lookups answered by L1 or L2.
    pub hits: u64,
    /// Lookups that missed both levels.
    pub misses: u64,
    /// L2 failures other than misses.
    pub errors: u64,
    /// Writes.
    pub sets: u64,
    /// Single-key deletions.
    pub deletes: u64,
    /// Unix seconds when the cache was built.
    pub start_time: i64,
}

impl CacheStats {
    /// hits / (hits + misses) x 100, or 0 before any lookup.
    #[must_use]
    pub fn hit_rate_percent(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 * 100.0 / lookups as f64
        }
    }
}

/// Which level answered a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    L1,
    L2,
}

#[derive(Debug)]
pub(crate) struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
    sets: AtomicU64,
    deletes: AtomicU64,
    start_time: i64,
}

impl Counters {
    pub fn new(start_time: i64) -> Self {
        Self {
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            sets: AtomicU64::new(0),
            deletes: AtomicU64::new(0),
            start_time,
        }
    }

    pub fn hit(&self, level: Level) {
        self.hits.fetch_add(1, Ordering::Relaxed);
        let label = match level {
            Level::L1 => "l1",
            Level::L2 => "l2",
        };
        metrics::counter!("cache_hits_total", "level" => label).increment(1);
    }

    pub fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("cache_misses_total").increment(1);
    }

    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("cache_errors_total").increment(1);
    }

    pub fn set(&self) {
        self.sets.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("cache_sets_total").increment(1);
    }

    pub fn delete(&self) {
        self.deletes.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("cache_deletes_total").increment(1);
    }

    pub fn snapshot(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            sets: self.sets.load(Ordering::Relaxed),
            deletes: self.deletes.load(Ordering::Relaxed),
            start_time: self.start_time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_rate_is_zero_before_any_lookup_and_a_percentage_after() {
        let c = Counters::new(0);
        assert_eq!(c.snapshot().hit_rate_percent(), 0.0);
        c.hit(Level::L1);
        c.hit(Level::L2);
        c.hit(Level::L1);
        c.miss();
        assert!((c.snapshot().hit_rate_percent() - 75.0).abs() < 1e-9);
    }
}
