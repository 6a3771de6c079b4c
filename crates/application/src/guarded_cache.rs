//! A bounded in-process cache for facts loaded from shared storage (authorization
//! snapshots, revocation state): entries expire, and a load that began before an
//! invalidation cannot put its possibly stale result back.
//!
//! Loads take a [`Ticket`] before reading storage and hand it to [`GuardedCache::insert`],
//! which drops the result when any invalidation happened since. Invalidations and
//! authoritative writes ([`GuardedCache::replace`]) move the generation on under the same
//! lock as the check, so the two cannot interleave.

use std::hash::Hash;
use std::sync::{
    Mutex, MutexGuard, PoisonError,
    atomic::{AtomicU64, Ordering},
};

use quick_cache::sync::Cache;
use time::OffsetDateTime;

/// Proof of when a load started, for [`GuardedCache::insert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

#[derive(Clone)]
struct Entry<V> {
    value: V,
    expires_at: OffsetDateTime,
}

/// Values by key, each valid until its own expiry.
pub struct GuardedCache<K, V> {
    entries: Cache<K, Entry<V>>,
    generation: AtomicU64,
    // Orders "check generation, insert" against "bump generation, change entries".
    write_lock: Mutex<()>,
}

impl<K, V> std::fmt::Debug for GuardedCache<K, V>
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedCache")
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl<K, V> GuardedCache<K, V>
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    /// A cache of at most `capacity` entries (at least one).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Cache::new(capacity.max(1)),
            generation: AtomicU64::new(0),
            write_lock: Mutex::new(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The value of `key` if it is still valid at `now`.
    #[must_use]
    pub fn get(&self, key: &K, now: OffsetDateTime) -> Option<V> {
        let entry = self.entries.get(key)?;
        (now < entry.expires_at).then_some(entry.value)
    }

    /// Taken before loading from storage; see [`GuardedCache::insert`].
    #[must_use]
    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::Acquire))
    }

    /// Keeps a loaded value until `expires_at`, unless an invalidation happened after
    /// `ticket` was taken (the load may have read the data before the change). True when
    /// the value was kept.
    pub fn insert(&self, ticket: Ticket, key: K, value: V, expires_at: OffsetDateTime) -> bool {
        let _guard = self.lock();
        if self.generation.load(Ordering::Acquire) != ticket.0 {
            return false;
        }
        self.entries.insert(key, Entry { value, expires_at });
        true
    }

    /// Sets the value of `key` from an authoritative write made by this process, and
    /// refuses every load begun before it.
    pub fn replace(&self, key: K, value: V, expires_at: OffsetDateTime) {
        let _guard = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.insert(key, Entry { value, expires_at });
    }

    /// Drops one entry, and every load begun before.
    pub fn invalidate(&self, key: &K) {
        let _guard = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.remove(key);
    }

    /// Drops every entry, and every load begun before.
    pub fn invalidate_all(&self) {
        let _guard = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
    }

    /// Number of entries (expired ones included until they are replaced or evicted).
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

    fn later(seconds: i64) -> OffsetDateTime {
        NOW + time::Duration::seconds(seconds)
    }

    #[test]
    fn entries_are_valid_until_their_expiry() {
        let cache: GuardedCache<u32, &str> = GuardedCache::new(10);
        assert!(cache.insert(cache.ticket(), 1, "one", later(10)));
        assert_eq!(cache.get(&1, later(9)), Some("one"));
        assert_eq!(cache.get(&1, later(10)), None);
        assert_eq!(cache.get(&2, NOW), None);
    }

    #[test]
    fn a_load_begun_before_an_invalidation_is_not_kept() {
        let cache: GuardedCache<u32, &str> = GuardedCache::new(10);
        let stale = cache.ticket();
        cache.invalidate(&7);
        assert!(!cache.insert(stale, 1, "stale", later(10)));
        assert!(cache.is_empty());

        let stale = cache.ticket();
        cache.invalidate_all();
        assert!(!cache.insert(stale, 1, "stale", later(10)));
        assert!(cache.insert(cache.ticket(), 1, "fresh", later(10)));
        assert_eq!(cache.get(&1, NOW), Some("fresh"));
    }

    #[test]
    fn an_authoritative_write_wins_over_a_load_begun_before_it() {
        let cache: GuardedCache<u32, bool> = GuardedCache::new(10);
        let load = cache.ticket();
        cache.replace(1, true, later(10));
        assert!(!cache.insert(load, 1, false, later(10)));
        assert_eq!(cache.get(&1, NOW), Some(true));
    }

    #[test]
    fn invalidation_drops_one_entry_or_all() {
        let cache: GuardedCache<u32, u32> = GuardedCache::new(10);
        for n in 1..=3 {
            cache.insert(cache.ticket(), n, n, later(10));
        }
        cache.invalidate(&1);
        assert_eq!(cache.get(&1, NOW), None);
        assert_eq!(cache.get(&2, NOW), Some(2));
        cache.invalidate_all();
        assert!(cache.is_empty());
    }
}
