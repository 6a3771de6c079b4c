//! Idempotent requests: the first response to a (user, `Idempotency-Key`) pair is kept for
//! a day and replayed to retries, so a client whose connection dropped can safely resend a
//! create without making a duplicate.

use async_trait::async_trait;
use domain::UserId;
use time::{Duration, OffsetDateTime};

use crate::PortResult;

/// How long a stored response answers retries (24 hours); older keys count as unused.
pub const IDEMPOTENCY_KEY_TTL: Duration = Duration::hours(24);

/// How long a reservation may stay without a response before another request may take it
/// over (the first request's process presumably died mid-way).
pub const IDEMPOTENCY_PENDING_TIMEOUT: Duration = Duration::seconds(60);

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status of the first response.
    pub status: u16,
    /// Its JSON body.
    pub body: serde_json::Value,
}

/// What [`IdempotencyStore::reserve`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The key is now reserved for this request: run it, then `complete` (or `release` on
    /// failure).
    Reserved,
    /// The same request already ran: replay this response.
    Completed(StoredResponse),
    /// The same request is running right now (a concurrent retry): answer 409 and let the
    /// client retry later.
    InProgress,
    /// The key was used for a different request (another fingerprint): refuse.
    FingerprintMismatch,
}

/// A stored key as [`IdempotencyStore::find`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// The fingerprint of the request that reserved the key.
    pub fingerprint: Option<String>,
    /// The stored response, `None` while the first request is still running.
    pub response: Option<StoredResponse>,
    /// When the key was reserved.
    pub created_at: OffsetDateTime,
}

/// Storage of idempotency keys, per user (two users may use the same key text).
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Atomically reserves `key` for the request with `fingerprint`, or reports what the key
    /// already holds. Keys older than [`IDEMPOTENCY_KEY_TTL`] and reservations older than
    /// [`IDEMPOTENCY_PENDING_TIMEOUT`] without a response are taken over.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn reserve(
        &self,
        user: UserId,
        key: &str,
        fingerprint: &str,
        now: OffsetDateTime,
    ) -> PortResult<IdempotencyClaim>;

    /// Stores the response of the request that holds the reservation.
    ///
    /// # Errors
    /// `NotFound` when the key is not reserved; `Unavailable`/`Timeout`/`Backend` on storage
    /// failure.
    async fn complete(&self, user: UserId, key: &str, response: &StoredResponse) -> PortResult<()>;

    /// Drops a reservation that has no response yet (the request failed), so that a retry
    /// can run; a completed key is left alone.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn release(&self, user: UserId, key: &str) -> PortResult<()>;

    /// The key as stored, `None` when absent or older than [`IDEMPOTENCY_KEY_TTL`].
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn find(
        &self,
        user: UserId,
        key: &str,
        now: OffsetDateTime,
    ) -> PortResult<Option<IdempotencyRecord>>;
}

// Used as `Arc<dyn IdempotencyStore>`: keep it object-safe.
const _: Option<&dyn IdempotencyStore> = None;
