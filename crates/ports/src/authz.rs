//! Storage behind the authorization service (contract 11): loading subjects for the engine
//! and the role/permission/attribute administration of 11.6.

use async_trait::async_trait;
use domain::{Attribute, Permission, Role, RoleId, Subject, TaskId, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::PortResult;

/// Who owns a task, and the owner's `department` column (for the same-department rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOwnership {
    /// The owner.
    pub owner: UserId,
    /// `users.department` of the owner; `None` when null.
    pub owner_department: Option<String>,
}

/// A role with the permissions of its non-deleted grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleWithPermissions {
    /// The role.
    pub role: Role,
    /// Its permissions, sorted by resource then action.
    pub permissions: Vec<Permission>,
}

/// Storage of roles, permissions, assignments and attributes.
#[async_trait]
pub trait AuthzRepository: Send + Sync + 'static {
    /// The subject for a decision, or `None` when the user does not exist or is deleted.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn load_subject(&self, user: UserId) -> PortResult<Option<Subject>>;

    /// `users.department` of a non-deleted user (`None` when null or no such user).
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn user_department(&self, user: UserId) -> PortResult<Option<String>>;

    /// Owner and owner's department of a non-deleted task; `None` when there is none.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn task_ownership(&self, task: TaskId) -> PortResult<Option<TaskOwnership>>;

    /// Whether the user holds an active (non-deleted, unexpired at `now`) assignment of the
    /// role named `role` (the `/cache` admin gate, 9.0).
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn has_role(&self, user: UserId, role: &str, now: OffsetDateTime) -> PortResult<bool>;

    /// The role with this name.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn find_role_by_name(&self, name: &str) -> PortResult<Option<Role>>;

    /// Assigns a role; a soft-deleted assignment of the same pair is reactivated (11.6).
    ///
    /// # Errors
    /// `Conflict("user already has this role")` when an active assignment exists;
    /// `NotFound` when the user or role does not exist; `Unavailable`/`Timeout`/`Backend`
    /// on storage failure.
    async fn assign_role(
        &self,
        user: UserId,
        role: RoleId,
        assigned_by: Option<UserId>,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> PortResult<()>;

    /// Soft-deletes the assignment.
    ///
    /// # Errors
    /// `NotFound` when no non-deleted assignment exists; `Unavailable`/`Timeout`/`Backend`
    /// on storage failure.
    async fn revoke_role(&self, user: UserId, role: RoleId, now: OffsetDateTime) -> PortResult<()>;

    /// Inserts or replaces (and undeletes) the user's attribute with this key [D-14].
    ///
    /// # Errors
    /// `NotFound` when the user does not exist; `Unavailable`/`Timeout`/`Backend` on
    /// storage failure.
    async fn set_user_attribute(
        &self,
        user: UserId,
        attribute: &Attribute,
        now: OffsetDateTime,
    ) -> PortResult<()>;

    /// Inserts or replaces (and undeletes) a resource attribute with this key.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn set_resource_attribute(
        &self,
        resource_type: &str,
        resource_id: Uuid,
        attribute: &Attribute,
        now: OffsetDateTime,
    ) -> PortResult<()>;

    /// Creates a role.
    ///
    /// # Errors
    /// `Conflict` when the name exists; `Unavailable`/`Timeout`/`Backend` on storage
    /// failure.
    async fn create_role(&self, name: &str, description: &str) -> PortResult<Role>;

    /// Creates a permission (its display name is `resource:action`).
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn create_permission(
        &self,
        resource: &str,
        action: &str,
        scope: &str,
        description: &str,
    ) -> PortResult<Permission>;

    /// Grants a permission to a role; a soft-deleted grant of the same pair is reactivated.
    ///
    /// # Errors
    /// `Conflict` when an active grant exists; `NotFound` when the role or permission does
    /// not exist; `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn grant_permission(
        &self,
        role: RoleId,
        permission: Uuid,
        granted_by: Option<UserId>,
        now: OffsetDateTime,
    ) -> PortResult<()>;

    /// Every role with its active grants, roles ordered by name.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn list_roles_with_permissions(&self) -> PortResult<Vec<RoleWithPermissions>>;
}

// The port is used as `Arc<dyn AuthzRepository>`: keep it object-safe.
const _: Option<&dyn AuthzRepository> = None;
