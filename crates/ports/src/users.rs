//! User storage: accounts with their password hash, registration in one transaction.

use async_trait::async_trait;
use domain::{Attribute, Email, PasswordHash, ProfileChanges, UserId, UserProfile, Username};
use time::OffsetDateTime;

use crate::PortResult;

/// A stored, non-deleted account: the profile plus the hash needed to check a login.
/// The hash type prints as `[redacted]`, so the record is safe to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Everything clients may see.
    pub profile: UserProfile,
    /// The bcrypt hash.
    pub password_hash: PasswordHash,
}

/// What a user currently holds, for token claims and the login response (6.2, 4.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessGrants {
    /// Names of the active (non-deleted, unexpired) role assignments, sorted.
    pub roles: Vec<String>,
    /// `resource:action` strings of the non-deleted grants of those roles, sorted and
    /// de-duplicated.
    pub permissions: Vec<String>,
}

/// A validated registration ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The new id.
    pub id: UserId,
    /// Trimmed username.
    pub username: Username,
    /// Normalised email.
    pub email: Email,
    /// bcrypt hash of the password.
    pub password_hash: PasswordHash,
    /// Trimmed first name.
    pub first_name: String,
    /// Trimmed last name.
    pub last_name: String,
    /// Trimmed department, `""` when absent.
    pub department: String,
    /// Trimmed position, `""` when absent.
    pub position: String,
}

/// Storage of user accounts. "Find" methods see only non-deleted users.
#[async_trait]
pub trait UserRepository: Send + Sync + 'static {
    /// In one transaction: inserts the user (active, stamped `now`), assigns the role named
    /// `role` (assigned now, no assigner) and inserts `attributes`. Nothing is written if
    /// any step fails. Returns the stored profile.
    ///
    /// # Errors
    /// `NotFound` when the role does not exist (a configuration error, 500 upstream);
    /// `Conflict("email")` when the email exists (deleted users included) or
    /// `Conflict("username")` when a non-deleted user has the username, should a concurrent
    /// registration win the race after the caller's checks; `Unavailable`/`Timeout`/
    /// `Backend` on storage failure.
    async fn create_with_role_and_attributes(
        &self,
        user: &NewUser,
        role: &str,
        attributes: &[Attribute],
        now: OffsetDateTime,
    ) -> PortResult<UserProfile>;

    /// The non-deleted user with this (normalised) email.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn find_by_email(&self, email: &Email) -> PortResult<Option<UserRecord>>;

    /// The non-deleted user with exactly this username (case-sensitive).
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn find_by_username(&self, username: &str) -> PortResult<Option<UserRecord>>;

    /// The non-deleted user with this id.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn find_by_id(&self, id: UserId) -> PortResult<Option<UserRecord>>;

    /// Whether any user, soft-deleted ones included, has this email [D-39].
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn email_exists_any(&self, email: &Email) -> PortResult<bool>;

    /// Whether a non-deleted user has exactly this username.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn username_taken(&self, username: &str) -> PortResult<bool>;

    /// Applies the allow-listed profile changes and sets `updated_at` to `now`.
    ///
    /// # Errors
    /// `NotFound` when no non-deleted user has this id; `Unavailable`/`Timeout`/`Backend`
    /// on storage failure.
    async fn update_profile(
        &self,
        id: UserId,
        changes: &ProfileChanges,
        now: OffsetDateTime,
    ) -> PortResult<()>;

    /// Records a successful login.
    ///
    /// # Errors
    /// `NotFound` when no non-deleted user has this id; `Unavailable`/`Timeout`/`Backend`
    /// on storage failure.
    async fn set_last_login(&self, id: UserId, at: OffsetDateTime) -> PortResult<()>;

    /// Marks the user deleted at `now` (tasks are kept).
    ///
    /// # Errors
    /// `NotFound` when no non-deleted user has this id; `Unavailable`/`Timeout`/`Backend`
    /// on storage failure.
    async fn soft_delete(&self, id: UserId, now: OffsetDateTime) -> PortResult<()>;

    /// Every non-deleted user (active or not), `created_at` ascending (8.6).
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn list_active(&self) -> PortResult<Vec<UserProfile>>;

    /// Enables or disables logins for the user, setting `updated_at` to `now`.
    ///
    /// # Errors
    /// `NotFound` when no non-deleted user has this id; `Unavailable`/`Timeout`/`Backend`
    /// on storage failure.
    async fn set_active(&self, id: UserId, active: bool, now: OffsetDateTime) -> PortResult<()>;

    /// The user's active roles and their permissions at `now`, read fresh (never cached) so
    /// that a revoked role stops appearing in new tokens at once [D-13]. Soft-deleted or
    /// expired assignments and soft-deleted grants are left out.
    ///
    /// The default implementation refuses, so that repositories written before this method
    /// existed keep compiling; the PostgreSQL repository implements it.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn active_grants(&self, id: UserId, now: OffsetDateTime) -> PortResult<AccessGrants> {
        let _ = (id, now);
        Err(crate::PortError::Backend(
            "this user repository cannot load role grants".to_owned(),
        ))
    }
}

// The port is used as `Arc<dyn UserRepository>`: keep it object-safe.
const _: Option<&dyn UserRepository> = None;
