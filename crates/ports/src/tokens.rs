//! Token state shared by every instance: stored refresh tokens (rotation, reuse detection)
//! and access-token revocation (contract 6.6, 6.7).

use async_trait::async_trait;
use domain::UserId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::PortResult;

/// One issued refresh token as stored (6.6): never the token text, only its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// The token's `jti`, the key of the record.
    pub jti: Uuid,
    /// The owner.
    pub user_id: UserId,
    /// The rotation chain it belongs to: the first token's `jti`, inherited on rotation, so
    /// that reuse of a rotated token can revoke the whole chain.
    pub family: Uuid,
    /// SHA-256 of the token text, lowercase hex.
    pub digest: String,
    /// When the token expires.
    pub expires_at: OffsetDateTime,
}

/// What happened to a rotation attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The old token was live and is now revoked; the new one is stored.
    Rotated,
    /// The old token exists but was already revoked: a replay (or a lost race). Nothing was
    /// stored; the caller may revoke `family`.
    Reused {
        /// The chain of the replayed token.
        family: Uuid,
    },
    /// No live record: unknown `jti`, another user's token, or expired. Nothing was stored.
    NotFound,
}

/// Storage of refresh tokens.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync + 'static {
    /// Stores a newly issued token.
    ///
    /// # Errors
    /// `Conflict` when the `jti` exists; `Unavailable`/`Timeout`/`Backend` on failure.
    async fn store(&self, record: &RefreshTokenRecord) -> PortResult<()>;

    /// Atomically revokes `old_jti` and stores `new`, provided the old record belongs to
    /// `new.user_id`, is unrevoked and unexpired at `now`. Of two concurrent rotations of the
    /// same token exactly one gets `Rotated`.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on failure (then nothing changed).
    async fn rotate(
        &self,
        old_jti: Uuid,
        new: &RefreshTokenRecord,
        now: OffsetDateTime,
    ) -> PortResult<RotateOutcome>;

    /// Revokes one token; revoking an unknown or revoked token succeeds.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on failure.
    async fn revoke(&self, jti: Uuid, now: OffsetDateTime) -> PortResult<()>;

    /// Revokes every live token of a rotation chain; returns how many.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on failure.
    async fn revoke_family(&self, family: Uuid, now: OffsetDateTime) -> PortResult<u64>;

    /// Revokes every live token of a user (deletion, deactivation); returns how many.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on failure.
    async fn revoke_all_for_user(&self, user: UserId, now: OffsetDateTime) -> PortResult<u64>;
}

/// Revocation of access tokens, visible to every instance within seconds (6.7).
#[async_trait]
pub trait RevocationStore: Send + Sync + 'static {
    /// Refuses the access token with this `jti` until `until` (its `exp`).
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on failure.
    async fn revoke_jti(&self, jti: Uuid, until: OffsetDateTime) -> PortResult<()>;

    /// Whether the `jti` is revoked.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on failure; callers must not treat a failure as
    /// "not revoked" without a fallback source.
    async fn is_jti_revoked(&self, jti: Uuid) -> PortResult<bool>;

    /// Records the user's cut-off (whole seconds): access tokens with `iat` at or before it
    /// are refused. A later cut-off replaces an earlier one.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on failure.
    async fn set_user_cutoff(&self, user: UserId, at: OffsetDateTime) -> PortResult<()>;

    /// The user's cut-off, if any.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on failure.
    async fn user_cutoff(&self, user: UserId) -> PortResult<Option<OffsetDateTime>>;
}

// The ports are used as `Arc<dyn Port>`: keep them object-safe.
const _: Option<&dyn RefreshTokenStore> = None;
const _: Option<&dyn RevocationStore> = None;
