//! The per-user cache of subject snapshots: one database load per user per minute at most,
//! dropped at once when the service changes the user's roles or attributes.

use std::sync::Arc;
use std::time::Duration;

use authz_engine::SubjectSnapshot;
use domain::UserId;
use time::OffsetDateTime;

use crate::guarded_cache::GuardedCache;
pub use crate::guarded_cache::Ticket;

/// Longest time a snapshot is reused: changes made behind the service's back (direct SQL)
/// count after this at the latest.
pub const DEFAULT_SUBJECT_TTL: Duration = Duration::from_secs(60);

/// Default number of users whose snapshots are kept.
pub const DEFAULT_SUBJECT_CAPACITY: usize = 10_000;

/// Snapshots by user, each kept until the earlier of `loaded + ttl` and the snapshot's
/// own [`SubjectSnapshot::valid_until`] (the first role or attribute expiry it counted).
///
/// Invalidation races with loads: a load that started before an invalidation must not put
/// its (possibly stale) result back. Loads therefore take a [`Ticket`] first and
/// [`SubjectCache::insert`] drops the result when any invalidation happened since.
pub struct SubjectCache {
    entries: GuardedCache<UserId, Arc<SubjectSnapshot>>,
    ttl: time::Duration,
}

impl std::fmt::Debug for SubjectCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubjectCache")
            .field("entries", &self.entries.len())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Default for SubjectCache {
    fn default() -> Self {
        Self::new(DEFAULT_SUBJECT_CAPACITY, DEFAULT_SUBJECT_TTL)
    }
}

impl SubjectCache {
    /// A cache of at most `capacity` users, each entry living at most `ttl`.
    #[must_use]
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: GuardedCache::new(capacity),
            ttl: time::Duration::try_from(ttl).unwrap_or(time::Duration::MAX),
        }
    }

    /// The cached snapshot of `user` if it is still valid at `now`.
    #[must_use]
    pub fn get(&self, user: UserId, now: OffsetDateTime) -> Option<Arc<SubjectSnapshot>> {
        self.entries.get(&user, now)
    }

    /// Taken before loading a subject; see [`SubjectCache::insert`].
    #[must_use]
    pub fn ticket(&self) -> Ticket {
        self.entries.ticket()
    }

    /// Keeps a snapshot loaded at `now`, unless an invalidation happened after `ticket`
    /// was taken (the load may have read the data before the change).
    pub fn insert(&self, ticket: Ticket, snapshot: Arc<SubjectSnapshot>, now: OffsetDateTime) {
        let mut expires_at = now.saturating_add(self.ttl);
        if let Some(valid_until) = snapshot.valid_until() {
            expires_at = expires_at.min(valid_until);
        }
        self.entries
            .insert(ticket, snapshot.user_id(), snapshot, expires_at);
    }

    /// Drops the snapshot of one user.
    pub fn invalidate(&self, user: UserId) {
        self.entries.invalidate(&user);
    }

    /// Drops every snapshot (a role's grants changed, so anyone may be affected).
    pub fn invalidate_all(&self) {
        self.entries.invalidate_all();
    }

    /// Number of cached users (expired entries included until they are replaced).
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
    use authz_engine::Subject;
    use domain::Attribute;
    use time::macros::datetime;
    use uuid::Uuid;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

    fn user(n: u128) -> UserId {
        UserId::from_uuid(Uuid::from_u128(n))
    }

    fn snapshot(subject: &Subject) -> Arc<SubjectSnapshot> {
        Arc::new(SubjectSnapshot::new(subject, NOW))
    }

    #[test]
    fn entries_live_for_the_ttl() {
        let cache = SubjectCache::new(10, Duration::from_secs(60));
        let snap = snapshot(&Subject::unknown(user(1)));
        cache.insert(cache.ticket(), snap.clone(), NOW);
        assert_eq!(
            cache.get(user(1), NOW + time::Duration::seconds(59)),
            Some(snap)
        );
        assert_eq!(cache.get(user(1), NOW + time::Duration::seconds(60)), None);
        assert_eq!(cache.get(user(2), NOW), None);
    }

    #[test]
    fn entries_end_at_the_first_expiry_the_snapshot_counted() {
        let cache = SubjectCache::new(10, Duration::from_secs(60));
        let mut subject = Subject::unknown(user(1));
        subject.attributes.push(Attribute {
            expires_at: Some(NOW + time::Duration::seconds(5)),
            ..Attribute::string("department", "Engineering")
        });
        cache.insert(cache.ticket(), snapshot(&subject), NOW);
        assert!(
            cache
                .get(user(1), NOW + time::Duration::seconds(4))
                .is_some()
        );
        assert!(
            cache
                .get(user(1), NOW + time::Duration::seconds(5))
                .is_none()
        );
    }

    #[test]
    fn invalidation_drops_entries_and_loads_begun_before_it() {
        let cache = SubjectCache::new(10, Duration::from_secs(60));
        for n in 1..=3 {
            cache.insert(cache.ticket(), snapshot(&Subject::unknown(user(n))), NOW);
        }
        cache.invalidate(user(1));
        assert!(cache.get(user(1), NOW).is_none());
        assert!(cache.get(user(2), NOW).is_some());

        let stale = cache.ticket();
        cache.invalidate_all();
        assert!(cache.is_empty());
        cache.insert(stale, snapshot(&Subject::unknown(user(2))), NOW);
        assert!(
            cache.get(user(2), NOW).is_none(),
            "a stale load is not kept"
        );
        cache.insert(cache.ticket(), snapshot(&Subject::unknown(user(2))), NOW);
        assert_eq!(cache.len(), 1);
    }
}
