//! The administration operations of contract 11.6. Every change drops the affected cached
//! snapshots here and tells the other instances: user-level changes name the user,
//! role-level changes (grants) invalidate everyone.

use authz_engine::SubjectSnapshot;
use domain::{Attribute, Permission, Role, UserId};
use ports::{PortError, RoleWithPermissions};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{AuthorizationError, AuthorizationService, RoleRef};

/// The longest text the RBAC tables store in a name or value (varchar(255)).
const MAX_TEXT: usize = 255;

fn check_text(field: &str, text: &str, allow_empty: bool) -> Result<(), AuthorizationError> {
    if !allow_empty && text.trim().is_empty() {
        return Err(AuthorizationError::InvalidInput(format!(
            "{field} must not be empty"
        )));
    }
    if text.chars().count() > MAX_TEXT {
        return Err(AuthorizationError::InvalidInput(format!(
            "{field} must be at most {MAX_TEXT} characters"
        )));
    }
    Ok(())
}

fn conflict_or_storage(error: PortError, not_found: AuthorizationError) -> AuthorizationError {
    match error {
        PortError::NotFound => not_found,
        PortError::Conflict(text) => AuthorizationError::Conflict(text),
        other => AuthorizationError::Storage(other),
    }
}

impl AuthorizationService {
    /// True when `user` holds an active (non-deleted, unexpired) assignment of `role`.
    ///
    /// # Errors
    /// [`AuthorizationError::Storage`] on storage failure.
    pub async fn has_role(&self, user: UserId, role: &str) -> Result<bool, AuthorizationError> {
        Ok(self
            .repository
            .has_role(user, role, self.clock.now())
            .await?)
    }

    /// True when an active role of `user` grants `resource:action`, read from storage
    /// (not from the cache).
    ///
    /// # Errors
    /// [`AuthorizationError::Storage`] on storage failure.
    pub async fn has_permission(
        &self,
        user: UserId,
        resource: &str,
        action: &str,
    ) -> Result<bool, AuthorizationError> {
        let Some(subject) = self.repository.load_subject(user).await? else {
            return Ok(false);
        };
        Ok(SubjectSnapshot::new(&subject, self.clock.now()).has_permission(resource, action))
    }

    /// The role `role` names.
    ///
    /// # Errors
    /// [`AuthorizationError::RoleNotFound`]; [`AuthorizationError::Storage`].
    pub async fn resolve_role(&self, role: &RoleRef) -> Result<Role, AuthorizationError> {
        let found = match role {
            RoleRef::Name(name) => self.repository.find_role_by_name(name).await?,
            RoleRef::Id(id) => self
                .repository
                .list_roles_with_permissions()
                .await?
                .into_iter()
                .map(|listed| listed.role)
                .find(|candidate| candidate.id == *id),
        };
        found.ok_or(AuthorizationError::RoleNotFound)
    }

    /// Assigns `role` to `user` (reactivating a soft-deleted assignment), optionally until
    /// `expires_at`.
    ///
    /// # Errors
    /// `RoleNotFound`, `UserNotFound`, `Conflict("user already has this role")`, `Storage`.
    pub async fn assign_role(
        &self,
        user: UserId,
        role: &RoleRef,
        assigned_by: Option<UserId>,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<Role, AuthorizationError> {
        let role = self.resolve_role(role).await?;
        let result = self
            .repository
            .assign_role(user, role.id, assigned_by, expires_at, self.clock.now())
            .await;
        self.subjects_changed(Some(user));
        result.map_err(|e| conflict_or_storage(e, AuthorizationError::UserNotFound))?;
        Ok(role)
    }

    /// Revokes (soft-deletes) the assignment of `role` to `user`.
    ///
    /// # Errors
    /// `RoleNotFound`, `NotAssigned`, `Storage`.
    pub async fn revoke_role(
        &self,
        user: UserId,
        role: &RoleRef,
    ) -> Result<Role, AuthorizationError> {
        let role = self.resolve_role(role).await?;
        let result = self
            .repository
            .revoke_role(user, role.id, self.clock.now())
            .await;
        self.subjects_changed(Some(user));
        result.map_err(|e| conflict_or_storage(e, AuthorizationError::NotAssigned))?;
        Ok(role)
    }

    /// Sets (inserts, replaces or undeletes) an attribute of `user` [D-14].
    ///
    /// # Errors
    /// `InvalidInput`, `UserNotFound`, `Storage`.
    pub async fn set_user_attribute(
        &self,
        user: UserId,
        attribute: &Attribute,
    ) -> Result<(), AuthorizationError> {
        check_text("attribute name", &attribute.key, false)?;
        check_text("attribute value", &attribute.value, true)?;
        let result = self
            .repository
            .set_user_attribute(user, attribute, self.clock.now())
            .await;
        self.subjects_changed(Some(user));
        result.map_err(|e| conflict_or_storage(e, AuthorizationError::UserNotFound))
    }

    /// Sets (inserts, replaces or undeletes) an attribute of a resource. Resource
    /// attributes are stored but not consulted by decisions (11.3).
    ///
    /// # Errors
    /// `InvalidInput`, `Storage`.
    pub async fn set_resource_attribute(
        &self,
        resource_type: &str,
        resource_id: Uuid,
        attribute: &Attribute,
    ) -> Result<(), AuthorizationError> {
        check_text("resource type", resource_type, false)?;
        check_text("attribute name", &attribute.key, false)?;
        check_text("attribute value", &attribute.value, true)?;
        Ok(self
            .repository
            .set_resource_attribute(resource_type, resource_id, attribute, self.clock.now())
            .await?)
    }

    /// Creates a role without permissions.
    ///
    /// # Errors
    /// `InvalidInput`, `Conflict` (name taken), `Storage`.
    pub async fn create_role(
        &self,
        name: &str,
        description: &str,
    ) -> Result<Role, AuthorizationError> {
        check_text("role name", name, false)?;
        self.repository
            .create_role(name.trim(), description)
            .await
            .map_err(|e| conflict_or_storage(e, AuthorizationError::RoleNotFound))
    }

    /// Creates a permission `resource:action` with a descriptive scope.
    ///
    /// # Errors
    /// `InvalidInput` (empty parts, a colon in the resource), `Storage`.
    pub async fn create_permission(
        &self,
        resource: &str,
        action: &str,
        scope: &str,
        description: &str,
    ) -> Result<Permission, AuthorizationError> {
        check_text("resource", resource, false)?;
        check_text("action", action, false)?;
        check_text("scope", scope, true)?;
        if resource.contains(':') {
            return Err(AuthorizationError::InvalidInput(
                "resource must not contain ':'".to_owned(),
            ));
        }
        Ok(self
            .repository
            .create_permission(resource.trim(), action.trim(), scope, description)
            .await?)
    }

    /// Grants a permission to a role (reactivating a soft-deleted grant); every cached
    /// snapshot is dropped, since any holder of the role gains it.
    ///
    /// # Errors
    /// `RoleNotFound`, `PermissionNotFound`, `Conflict`, `Storage`.
    pub async fn grant_permission(
        &self,
        role: &RoleRef,
        permission: Uuid,
        granted_by: Option<UserId>,
    ) -> Result<Role, AuthorizationError> {
        let role = self.resolve_role(role).await?;
        let result = self
            .repository
            .grant_permission(role.id, permission, granted_by, self.clock.now())
            .await;
        self.subjects_changed(None);
        result.map_err(|e| conflict_or_storage(e, AuthorizationError::PermissionNotFound))?;
        Ok(role)
    }

    /// Every role with its active grants, ordered by name.
    ///
    /// # Errors
    /// `Storage`.
    pub async fn list_roles(&self) -> Result<Vec<RoleWithPermissions>, AuthorizationError> {
        Ok(self.repository.list_roles_with_permissions().await?)
    }
}
