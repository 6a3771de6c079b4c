//! The user routes' use cases (contract section 8): own and others' profiles, profile
//! updates through the allow-list of D-4, the admin listing and soft deletion with token
//! revocation. Authorization comes before existence (8.1), so a regular user probing
//! another id always gets a denial.

use std::sync::Arc;

use domain::{ProfileChanges, UserId, UserProfile};
use ports::{Clock, PortError, UserRepository};

use super::service::IdentityService;
use crate::authorization::{
    AccessRequest, AccessTarget, AuthorizationError, AuthorizationService, RequestContext,
};

/// Why a user-route use case failed; each maps to one row of the section 8 tables.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserRouteError {
    /// 403 `Access denied` with the decision's reason.
    #[error("access denied: {0}")]
    Denied(String),
    /// 404 `User not found`.
    #[error("user not found")]
    NotFound,
    /// 500 `Authorization check failed` (503 when unavailable).
    #[error("authorization check failed: {0}")]
    AuthorizationFailed(PortError),
    /// The route's own 500 body (503 when unavailable).
    #[error("storage failed: {0}")]
    Storage(PortError),
}

impl UserRouteError {
    /// True when the failure is a backend that is down or slow (503).
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::AuthorizationFailed(e) | Self::Storage(e) if e.is_unavailable())
    }
}

fn storage(error: PortError) -> UserRouteError {
    if error == PortError::NotFound {
        UserRouteError::NotFound
    } else {
        UserRouteError::Storage(error)
    }
}

/// Profiles and accounts, behind the authorization service.
#[derive(Clone)]
pub struct UserDirectory {
    users: Arc<dyn UserRepository>,
    authorization: Arc<AuthorizationService>,
    identity: IdentityService,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for UserDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserDirectory").finish_non_exhaustive()
    }
}

impl UserDirectory {
    /// Builds the directory.
    #[must_use]
    pub fn new(
        users: Arc<dyn UserRepository>,
        authorization: Arc<AuthorizationService>,
        identity: IdentityService,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            users,
            authorization,
            identity,
            clock,
        }
    }

    async fn authorize(
        &self,
        caller: UserId,
        resource: &str,
        action: &str,
        target: AccessTarget,
        context: &RequestContext,
    ) -> Result<(), UserRouteError> {
        let request = AccessRequest::new(caller, resource, action).on(target);
        let decision = self
            .authorization
            .authorize(request, context)
            .await
            .map_err(|error| match error {
                AuthorizationError::Storage(e) => UserRouteError::AuthorizationFailed(e),
                other => UserRouteError::AuthorizationFailed(PortError::Backend(other.to_string())),
            })?;
        if decision.is_allowed() {
            Ok(())
        } else {
            Err(UserRouteError::Denied(decision.reason.as_str().to_owned()))
        }
    }

    /// A caller addressing their own, since deleted, account gets 404 (8.2, 8.4) rather
    /// than the denial an unknown subject would get; nothing leaks, it is their own id.
    async fn caller_exists_when_self(
        &self,
        caller: UserId,
        target: UserId,
    ) -> Result<(), UserRouteError> {
        if caller == target
            && self
                .users
                .find_by_id(caller)
                .await
                .map_err(storage)?
                .is_none()
        {
            return Err(UserRouteError::NotFound);
        }
        Ok(())
    }

    /// `profile:read` on `target` (8.2, 8.3), then the profile.
    ///
    /// # Errors
    /// Denied, not found (or deleted), or a failure.
    pub async fn profile(
        &self,
        caller: UserId,
        target: UserId,
        context: &RequestContext,
    ) -> Result<UserProfile, UserRouteError> {
        self.caller_exists_when_self(caller, target).await?;
        self.authorize(
            caller,
            "profile",
            "read",
            AccessTarget::User(target),
            context,
        )
        .await?;
        self.users
            .find_by_id(target)
            .await
            .map_err(storage)?
            .map(|record| record.profile)
            .ok_or(UserRouteError::NotFound)
    }

    /// `profile:update` on `target` (8.4, 8.5), then the allow-listed changes.
    ///
    /// # Errors
    /// Denied, not found (or deleted), or a failure.
    pub async fn update_profile(
        &self,
        caller: UserId,
        target: UserId,
        changes: &ProfileChanges,
        context: &RequestContext,
    ) -> Result<(), UserRouteError> {
        self.caller_exists_when_self(caller, target).await?;
        self.authorize(
            caller,
            "profile",
            "update",
            AccessTarget::User(target),
            context,
        )
        .await?;
        self.users
            .update_profile(target, changes, self.clock.now())
            .await
            .map_err(storage)
    }

    /// `user:read` (8.6), then every non-deleted user.
    ///
    /// # Errors
    /// Denied or a failure.
    pub async fn list(
        &self,
        caller: UserId,
        context: &RequestContext,
    ) -> Result<Vec<UserProfile>, UserRouteError> {
        self.authorize(caller, "user", "read", AccessTarget::None, context)
            .await?;
        self.users
            .list_active()
            .await
            .map_err(UserRouteError::Storage)
    }

    /// `user:delete` on `target` (8.7), then soft deletion and revocation of every token
    /// of the user (6.7).
    ///
    /// # Errors
    /// Denied, not found (or already deleted), or a failure.
    pub async fn delete(
        &self,
        caller: UserId,
        target: UserId,
        context: &RequestContext,
    ) -> Result<(), UserRouteError> {
        self.authorize(
            caller,
            "user",
            "delete",
            AccessTarget::User(target),
            context,
        )
        .await?;
        if self
            .users
            .find_by_id(target)
            .await
            .map_err(storage)?
            .is_none()
        {
            return Err(UserRouteError::NotFound);
        }
        // Tokens first: should the deletion then fail, the account is only locked out.
        self.identity
            .revoke_all_for_user(target)
            .await
            .map_err(|e| UserRouteError::Storage(e.0))?;
        self.users
            .soft_delete(target, self.clock.now())
            .await
            .map_err(storage)?;
        self.authorization.invalidate_subject(target);
        Ok(())
    }
}
