//! Access-token revocation across instances (contract 6.7): the database is the source of
//! truth and Redis the fast path.
//!
//! Writes go to the database first (a failure there fails the revocation), then to Redis.
//! Reads ask Redis and fall back to the database whenever Redis fails, so an outage never
//! resurrects a revoked token on the instance that sees it. A Redis write that failed is
//! remembered and retried in the background every [`RETRY_EVERY`] (and before every read);
//! until it succeeds this instance reads from the database only. Answers are kept in
//! process by [`super::CachedRevocationStore`] in front of this store, not here.
//!
//! Known limit: while one instance cannot reach Redis but others can (a partition, not an
//! outage), the others trust Redis and may accept a token that instance revoked, until its
//! retry succeeds; if that instance dies first, until the token expires.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use domain::UserId;
use ports::{PortResult, RevocationStore};
use time::OffsetDateTime;
use uuid::Uuid;

/// How often Redis writes that failed are retried in the background.
pub const RETRY_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy)]
enum PendingWrite {
    Jti(Uuid, OffsetDateTime),
    Cutoff(UserId, OffsetDateTime),
}

struct Inner {
    durable: Arc<dyn RevocationStore>,
    fast: Option<Arc<dyn RevocationStore>>,
    pending: Mutex<Vec<PendingWrite>>,
    retrying: AtomicBool,
}

/// The composed store the identity service uses.
pub struct LayeredRevocationStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LayeredRevocationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayeredRevocationStore")
            .field("fast", &self.inner.fast.is_some())
            .finish_non_exhaustive()
    }
}

impl LayeredRevocationStore {
    /// `durable` (PostgreSQL) behind an optional `fast` store (Redis).
    #[must_use]
    pub fn new(durable: Arc<dyn RevocationStore>, fast: Option<Arc<dyn RevocationStore>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                durable,
                fast,
                pending: Mutex::new(Vec::new()),
                retrying: AtomicBool::new(false),
            }),
        }
    }

    /// Whether every revocation written through this store has reached Redis (or there
    /// is no Redis), retrying the ones that have not once more now. A short-lived process
    /// (the operator's `deactivate-user`) asks before exiting, since its background retries
    /// die with it.
    pub async fn mirrored(&self) -> bool {
        self.inner.fast.is_none() || self.inner.fast_in_step().await
    }

    /// Copies a write to Redis; when Redis fails, remembers it and makes sure a background
    /// retry runs.
    async fn mirror(&self, write: PendingWrite) {
        let Some(fast) = &self.inner.fast else {
            return;
        };
        if let Err(error) = write_fast(fast.as_ref(), write).await {
            tracing::warn!(%error, "revocation not copied to Redis; will retry");
            self.inner.remember([write]);
            if !self.inner.retrying.swap(true, Ordering::SeqCst) {
                tokio::spawn(retry_until_in_step(Arc::downgrade(&self.inner)));
            }
        }
    }
}

async fn retry_until_in_step(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(RETRY_EVERY).await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if inner.fast_in_step().await {
            inner.retrying.store(false, Ordering::SeqCst);
            // A write may have failed between the check and the flag: look once more.
            if inner.has_pending() && !inner.retrying.swap(true, Ordering::SeqCst) {
                continue;
            }
            return;
        }
    }
}

async fn write_fast(fast: &dyn RevocationStore, write: PendingWrite) -> PortResult<()> {
    match write {
        PendingWrite::Jti(jti, until) => fast.revoke_jti(jti, until).await,
        PendingWrite::Cutoff(user, at) => fast.set_user_cutoff(user, at).await,
    }
}

impl Inner {
    fn has_pending(&self) -> bool {
        self.pending.lock().map(|p| !p.is_empty()).unwrap_or(true)
    }

    fn take_pending(&self) -> Vec<PendingWrite> {
        self.pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }

    fn remember(&self, writes: impl IntoIterator<Item = PendingWrite>) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.extend(writes);
        }
    }

    /// Retries remembered Redis writes; true when Redis is in step with the database.
    async fn fast_in_step(&self) -> bool {
        let Some(fast) = &self.fast else {
            return false;
        };
        let pending = self.take_pending();
        if pending.is_empty() {
            return true;
        }
        let mut failed = Vec::new();
        for write in pending {
            if !failed.is_empty() || write_fast(fast.as_ref(), write).await.is_err() {
                failed.push(write);
            }
        }
        let in_step = failed.is_empty();
        self.remember(failed);
        in_step
    }
}

#[async_trait]
impl RevocationStore for LayeredRevocationStore {
    async fn revoke_jti(&self, jti: Uuid, until: OffsetDateTime) -> PortResult<()> {
        self.inner.durable.revoke_jti(jti, until).await?;
        self.mirror(PendingWrite::Jti(jti, until)).await;
        Ok(())
    }

    async fn is_jti_revoked(&self, jti: Uuid) -> PortResult<bool> {
        let inner = &self.inner;
        if inner.fast_in_step().await
            && let Some(fast) = &inner.fast
        {
            match fast.is_jti_revoked(jti).await {
                Ok(revoked) => return Ok(revoked),
                Err(error) => {
                    tracing::debug!(%error, "Redis revocation lookup failed; asking the database");
                }
            }
        }
        inner.durable.is_jti_revoked(jti).await
    }

    async fn set_user_cutoff(&self, user: UserId, at: OffsetDateTime) -> PortResult<()> {
        self.inner.durable.set_user_cutoff(user, at).await?;
        self.mirror(PendingWrite::Cutoff(user, at)).await;
        Ok(())
    }

    async fn user_cutoff(&self, user: UserId) -> PortResult<Option<OffsetDateTime>> {
        let inner = &self.inner;
        if inner.fast_in_step().await
            && let Some(fast) = &inner.fast
        {
            match fast.user_cutoff(user).await {
                Ok(cutoff) => return Ok(cutoff),
                Err(error) => {
                    tracing::debug!(%error, "Redis cut-off lookup failed; asking the database");
                }
            }
        }
        inner.durable.user_cutoff(user).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::identity::revocation_fakes::Memory;
    use ports::PortError;
    use std::sync::atomic::Ordering;

    fn layered() -> (Arc<Memory>, Arc<Memory>, LayeredRevocationStore) {
        let db = Arc::new(Memory::default());
        let redis = Arc::new(Memory::default());
        let store = LayeredRevocationStore::new(db.clone(), Some(redis.clone()));
        (db, redis, store)
    }

    #[tokio::test]
    async fn writes_reach_both_and_reads_survive_a_redis_outage() {
        let (db, redis, store) = layered();
        let jti = Uuid::new_v4();
        let until = OffsetDateTime::now_utc() + time::Duration::hours(1);
        store.revoke_jti(jti, until).await.unwrap();
        assert!(db.jtis.lock().unwrap().contains_key(&jti));
        assert!(redis.jtis.lock().unwrap().contains_key(&jti));
        redis.down.store(true, Ordering::SeqCst);
        assert!(store.is_jti_revoked(jti).await.unwrap());
        assert!(!store.is_jti_revoked(Uuid::new_v4()).await.unwrap());
    }

    #[tokio::test]
    async fn a_revocation_written_during_an_outage_is_copied_once_redis_returns() {
        let (db, redis, store) = layered();
        let user = UserId::new_v7();
        redis.down.store(true, Ordering::SeqCst);
        let at = OffsetDateTime::now_utc();
        store.set_user_cutoff(user, at).await.unwrap();
        assert_eq!(db.cutoffs.lock().unwrap().get(&user), Some(&at));
        redis.down.store(false, Ordering::SeqCst);
        assert_eq!(store.user_cutoff(user).await.unwrap(), Some(at));
        assert_eq!(redis.cutoffs.lock().unwrap().get(&user), Some(&at));
    }

    #[tokio::test]
    async fn a_failed_redis_write_is_retried_in_the_background() {
        let (_db, redis, store) = layered();
        redis.down.store(true, Ordering::SeqCst);
        let jti = Uuid::new_v4();
        store
            .revoke_jti(jti, OffsetDateTime::now_utc() + time::Duration::hours(1))
            .await
            .unwrap();
        redis.down.store(false, Ordering::SeqCst);
        // No read on this store: only the background retry can copy it.
        for _ in 0..200 {
            if redis.jtis.lock().unwrap().contains_key(&jti) {
                return;
            }
            tokio::time::sleep(RETRY_EVERY / 5).await;
        }
        panic!("the failed write was never retried");
    }

    #[tokio::test(start_paused = true)]
    async fn mirrored_says_whether_redis_has_every_revocation() {
        let (_db, redis, store) = layered();
        assert!(store.mirrored().await, "nothing written yet");
        redis.down.store(true, Ordering::SeqCst);
        let user = UserId::new_v7();
        store
            .set_user_cutoff(user, OffsetDateTime::now_utc())
            .await
            .unwrap();
        assert!(!store.mirrored().await, "Redis is down");
        redis.down.store(false, Ordering::SeqCst);
        assert!(store.mirrored().await, "retried now");
        assert!(redis.cutoffs.lock().unwrap().contains_key(&user));
        let without_redis = LayeredRevocationStore::new(Arc::new(Memory::default()), None);
        assert!(without_redis.mirrored().await);
    }

    #[tokio::test]
    async fn a_database_failure_fails_the_revocation() {
        let (db, redis, store) = layered();
        db.down.store(true, Ordering::SeqCst);
        let result = store
            .revoke_jti(Uuid::new_v4(), OffsetDateTime::now_utc())
            .await;
        assert!(matches!(result, Err(PortError::Unavailable(_))));
        assert!(redis.jtis.lock().unwrap().is_empty());
    }
}
