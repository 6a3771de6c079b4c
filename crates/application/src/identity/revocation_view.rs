//! Revocation state kept in process, so that checking a bearer token costs no network
//! round trip (contract 6.7; the fast path of every protected request).
//!
//! [`CachedRevocationStore`] answers from memory and asks the store behind it (usually a
//! [`super::LayeredRevocationStore`]) at most once per token and per user every
//! [`REVOCATION_VIEW_TTL`]. Revocations stay visible at once everywhere:
//!
//! - on this instance, a revocation updates the view before the call returns;
//! - other instances are told through a [`RevocationNotifier`] (the Redis invalidation
//!   channel) before the call returns, and drop what they hold
//!   ([`CachedRevocationStore::apply_remote`]): milliseconds while Redis is up;
//! - when a message is lost (subscriber reconnecting, Redis down), the entry expires within
//!   [`REVOCATION_VIEW_TTL`], well inside the contract's 5 seconds; a resubscription drops
//!   everything ([`CachedRevocationStore::forget_all`]).
//!
//! Failures are never cached: a lookup that fails is reported as it is today (fail closed).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::UserId;
use ports::{Clock, PortResult, RevocationStore};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::guarded_cache::GuardedCache;

/// Longest time an answer is reused when no invalidation message arrives.
pub const REVOCATION_VIEW_TTL: Duration = Duration::from_secs(1);

/// Tokens and users whose answers are kept (least recently used ones go first).
pub const REVOCATION_VIEW_CAPACITY: usize = 100_000;

/// One revocation, as announced to other instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationChange {
    /// An access token id was revoked.
    Jti(Uuid),
    /// A user's revocation cut-off moved.
    UserCutoff(UserId),
}

/// Tells other instances about a revocation made here. Delivery is best effort: a failure
/// is logged by the implementation, and the view's lifetime bounds what a lost message
/// costs.
#[async_trait]
pub trait RevocationNotifier: Send + Sync + std::fmt::Debug + 'static {
    /// Announces `change`; returns once it is handed to the transport.
    async fn announce(&self, change: RevocationChange);
}

/// The in-process view in front of a revocation store.
pub struct CachedRevocationStore {
    store: Arc<dyn RevocationStore>,
    clock: Arc<dyn Clock>,
    ttl: time::Duration,
    revoked_jtis: GuardedCache<Uuid, bool>,
    cutoffs: GuardedCache<UserId, Option<OffsetDateTime>>,
    notifier: Option<Arc<dyn RevocationNotifier>>,
}

impl std::fmt::Debug for CachedRevocationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedRevocationStore")
            .field("ttl", &self.ttl)
            .field("jtis", &self.revoked_jtis.len())
            .field("users", &self.cutoffs.len())
            .field("notifier", &self.notifier)
            .finish_non_exhaustive()
    }
}

impl CachedRevocationStore {
    /// A view over `store` with the default lifetime and capacity, and no notifier.
    #[must_use]
    pub fn new(store: Arc<dyn RevocationStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            ttl: time::Duration::try_from(REVOCATION_VIEW_TTL).unwrap_or(time::Duration::ZERO),
            revoked_jtis: GuardedCache::new(REVOCATION_VIEW_CAPACITY),
            cutoffs: GuardedCache::new(REVOCATION_VIEW_CAPACITY),
            notifier: None,
        }
    }

    /// Announces this instance's revocations through `notifier`.
    #[must_use]
    pub fn with_notifier(mut self, notifier: Arc<dyn RevocationNotifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Applies a revocation announced by another instance: the next check asks the store.
    pub fn apply_remote(&self, change: RevocationChange) {
        match change {
            RevocationChange::Jti(jti) => self.revoked_jtis.invalidate(&jti),
            RevocationChange::UserCutoff(user) => self.cutoffs.invalidate(&user),
        }
    }

    /// Drops everything held (announcements may have been missed).
    pub fn forget_all(&self) {
        self.revoked_jtis.invalidate_all();
        self.cutoffs.invalidate_all();
    }

    async fn announce(&self, change: RevocationChange) {
        if let Some(notifier) = &self.notifier {
            notifier.announce(change).await;
        }
    }

    fn fresh_until(&self, now: OffsetDateTime) -> OffsetDateTime {
        now.saturating_add(self.ttl)
    }
}

fn count_lookup(answered_from: &'static str) {
    metrics::counter!("auth_revocation_lookups_total", "source" => answered_from).increment(1);
}

#[async_trait]
impl RevocationStore for CachedRevocationStore {
    async fn revoke_jti(&self, jti: Uuid, until: OffsetDateTime) -> PortResult<()> {
        self.store.revoke_jti(jti, until).await?;
        // Revocation is final: keep the answer as long as the token could be presented.
        let now = self.clock.now();
        self.revoked_jtis
            .replace(jti, true, until.max(self.fresh_until(now)));
        self.announce(RevocationChange::Jti(jti)).await;
        Ok(())
    }

    async fn is_jti_revoked(&self, jti: Uuid) -> PortResult<bool> {
        let now = self.clock.now();
        if let Some(revoked) = self.revoked_jtis.get(&jti, now) {
            count_lookup("process");
            return Ok(revoked);
        }
        let ticket = self.revoked_jtis.ticket();
        let revoked = self.store.is_jti_revoked(jti).await?;
        count_lookup("store");
        self.revoked_jtis
            .insert(ticket, jti, revoked, self.fresh_until(now));
        Ok(revoked)
    }

    async fn set_user_cutoff(&self, user: UserId, at: OffsetDateTime) -> PortResult<()> {
        self.store.set_user_cutoff(user, at).await?;
        // The store keeps the latest of concurrent cut-offs: read it back rather than
        // assume this one won.
        self.cutoffs.invalidate(&user);
        self.announce(RevocationChange::UserCutoff(user)).await;
        Ok(())
    }

    async fn user_cutoff(&self, user: UserId) -> PortResult<Option<OffsetDateTime>> {
        let now = self.clock.now();
        if let Some(cutoff) = self.cutoffs.get(&user, now) {
            count_lookup("process");
            return Ok(cutoff);
        }
        let ticket = self.cutoffs.ticket();
        let cutoff = self.store.user_cutoff(user).await?;
        count_lookup("store");
        self.cutoffs
            .insert(ticket, user, cutoff, self.fresh_until(now));
        Ok(cutoff)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::authorization::fakes::FakeClock;
    use crate::identity::revocation_fakes::Memory;
    use std::sync::Mutex;
    use std::sync::atomic::Ordering;

    #[derive(Debug, Default)]
    struct Announcements(Mutex<Vec<RevocationChange>>);

    #[async_trait]
    impl RevocationNotifier for Announcements {
        async fn announce(&self, change: RevocationChange) {
            self.0.lock().unwrap().push(change);
        }
    }

    struct Setup {
        store: Arc<Memory>,
        clock: Arc<FakeClock>,
        announcements: Arc<Announcements>,
        view: CachedRevocationStore,
    }

    fn setup() -> Setup {
        let store = Arc::new(Memory::default());
        let clock = Arc::new(FakeClock::new());
        let announcements = Arc::new(Announcements::default());
        let view = CachedRevocationStore::new(store.clone(), clock.clone())
            .with_notifier(announcements.clone());
        Setup {
            store,
            clock,
            announcements,
            view,
        }
    }

    fn reads(store: &Memory) -> usize {
        store.reads.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn answers_are_reused_until_they_expire() {
        let s = setup();
        let (jti, user) = (Uuid::new_v4(), UserId::new_v7());
        for _ in 0..5 {
            assert!(!s.view.is_jti_revoked(jti).await.unwrap());
            assert_eq!(s.view.user_cutoff(user).await.unwrap(), None);
        }
        assert_eq!(reads(&s.store), 2, "one store read per token and per user");
        s.clock.advance(time::Duration::seconds(1));
        assert!(!s.view.is_jti_revoked(jti).await.unwrap());
        assert_eq!(reads(&s.store), 3, "an expired answer is asked again");
    }

    #[tokio::test]
    async fn a_local_revocation_is_seen_at_once_and_announced() {
        let s = setup();
        let (jti, user) = (Uuid::new_v4(), UserId::new_v7());
        assert!(!s.view.is_jti_revoked(jti).await.unwrap());
        assert_eq!(s.view.user_cutoff(user).await.unwrap(), None);

        let until = s.clock.now() + time::Duration::hours(1);
        s.view.revoke_jti(jti, until).await.unwrap();
        assert!(s.view.is_jti_revoked(jti).await.unwrap());
        let at = s.clock.now();
        s.view.set_user_cutoff(user, at).await.unwrap();
        assert_eq!(s.view.user_cutoff(user).await.unwrap(), Some(at));

        // A revoked token stays refused past the view's lifetime, without asking again.
        let before = reads(&s.store);
        s.clock.advance(time::Duration::minutes(30));
        assert!(s.view.is_jti_revoked(jti).await.unwrap());
        assert_eq!(reads(&s.store), before);
        assert_eq!(
            *s.announcements.0.lock().unwrap(),
            vec![
                RevocationChange::Jti(jti),
                RevocationChange::UserCutoff(user)
            ]
        );
    }

    #[tokio::test]
    async fn a_remote_revocation_drops_the_answer_held_here() {
        let s = setup();
        let (jti, user) = (Uuid::new_v4(), UserId::new_v7());
        assert!(!s.view.is_jti_revoked(jti).await.unwrap());
        assert_eq!(s.view.user_cutoff(user).await.unwrap(), None);
        // Another instance writes the shared store, then its message arrives.
        let at = s.clock.now();
        s.store.jtis.lock().unwrap().insert(jti, at);
        s.store.cutoffs.lock().unwrap().insert(user, at);
        assert!(!s.view.is_jti_revoked(jti).await.unwrap(), "not told yet");
        s.view.apply_remote(RevocationChange::Jti(jti));
        s.view.apply_remote(RevocationChange::UserCutoff(user));
        assert!(s.view.is_jti_revoked(jti).await.unwrap());
        assert_eq!(s.view.user_cutoff(user).await.unwrap(), Some(at));
    }

    #[tokio::test]
    async fn forgetting_all_asks_the_store_again() {
        let s = setup();
        let jti = Uuid::new_v4();
        assert!(!s.view.is_jti_revoked(jti).await.unwrap());
        s.store.jtis.lock().unwrap().insert(jti, s.clock.now());
        s.view.forget_all();
        assert!(s.view.is_jti_revoked(jti).await.unwrap());
    }

    #[tokio::test]
    async fn failures_are_reported_and_never_cached() {
        let s = setup();
        let jti = Uuid::new_v4();
        s.store.down.store(true, Ordering::SeqCst);
        assert!(s.view.is_jti_revoked(jti).await.is_err());
        assert!(s.view.user_cutoff(UserId::new_v7()).await.is_err());
        assert!(
            s.view
                .revoke_jti(jti, s.clock.now() + time::Duration::hours(1))
                .await
                .is_err()
        );
        assert!(s.announcements.0.lock().unwrap().is_empty());
        s.store.down.store(false, Ordering::SeqCst);
        s.store.jtis.lock().unwrap().insert(jti, s.clock.now());
        assert!(s.view.is_jti_revoked(jti).await.unwrap());
    }
}
