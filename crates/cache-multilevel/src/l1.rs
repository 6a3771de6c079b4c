//! The first level: an in-process `quick_cache` bounded by entry count and bytes, with an
//! expiry instant stored beside each value (quick_cache has no lifetimes of its own).

use std::any::Any;
use std::sync::Arc;

use quick_cache::Weighter;
use quick_cache::sync::Cache;
use time::OffsetDateTime;

use crate::pattern::matches_pattern;

/// Bookkeeping bytes charged per entry on top of key and value.
const ENTRY_OVERHEAD: u64 = 64;

/// A typed value, its serialized size and when it stops being valid.
#[derive(Clone)]
pub(crate) struct L1Entry {
    pub value: Arc<dyn Any + Send + Sync>,
    pub bytes: u64,
    pub expires_at: OffsetDateTime,
}

/// Charges every entry its size, but never less than one "slot" (`max_bytes /
/// max_entries`), so the byte bound also bounds the entry count.
#[derive(Clone)]
struct SizeWeighter {
    min_weight: u64,
}

impl Weighter<String, L1Entry> for SizeWeighter {
    fn weight(&self, key: &String, entry: &L1Entry) -> u64 {
        (entry.bytes + key.len() as u64 + ENTRY_OVERHEAD).max(self.min_weight)
    }
}

pub(crate) struct L1 {
    cache: Cache<String, L1Entry, SizeWeighter>,
}

impl L1 {
    pub fn new(max_entries: usize, max_bytes: u64) -> Self {
        let max_entries = max_entries.max(1);
        let min_weight = max_bytes.div_ceil(max_entries as u64).max(1);
        Self {
            cache: Cache::with_weighter(max_entries, max_bytes, SizeWeighter { min_weight }),
        }
    }

    /// The live value under `key`, if it has the asked-for type; expired entries are
    /// removed on sight.
    pub fn get<T: Send + Sync + 'static>(&self, key: &str, now: OffsetDateTime) -> Option<Arc<T>> {
        let entry = self.cache.get(key)?;
        if entry.expires_at <= now {
            self.cache.remove_if(key, |e: &L1Entry| e.expires_at <= now);
            return None;
        }
        entry.value.downcast::<T>().ok()
    }

    pub fn insert(&self, key: &str, entry: L1Entry) {
        self.cache.insert(key.to_owned(), entry);
    }

    pub fn remove(&self, key: &str) -> bool {
        self.cache.remove(key).is_some()
    }

    /// Removes every key matching a `*` pattern; returns how many went.
    pub fn remove_matching(&self, pattern: &str) -> u64 {
        self.remove_where(|key| matches_pattern(pattern, key))
    }

    /// Removes every key starting with `prefix`; returns how many went.
    pub fn remove_prefix(&self, prefix: &str) -> u64 {
        self.remove_where(|key| key.starts_with(prefix))
    }

    fn remove_where(&self, doomed: impl Fn(&str) -> bool) -> u64 {
        let removed = std::sync::atomic::AtomicU64::new(0);
        self.cache.retain(|key, _| {
            let keep = !doomed(key);
            if !keep {
                removed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            keep
        });
        removed.into_inner()
    }

    pub fn remove_expired(&self, now: OffsetDateTime) -> u64 {
        let removed = std::sync::atomic::AtomicU64::new(0);
        self.cache.retain(|_, entry| {
            let keep = entry.expires_at > now;
            if !keep {
                removed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            keep
        });
        removed.into_inner()
    }

    pub fn clear(&self) {
        self.cache.clear();
    }

    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn weight(&self) -> u64 {
        self.cache.weight()
    }
}
