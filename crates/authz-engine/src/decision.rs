//! The answer of the engine: outcome, reason and which policy decided (contract 11.4).

use std::fmt;

use serde::Serialize;

/// Allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The request may proceed.
    Allowed,
    /// The request is refused (403 with the reason).
    Denied,
}

impl Outcome {
    /// The stored text (`audit_logs.decision`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
        }
    }
}

/// Which policy produced the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyType {
    /// Denied for lack of a permission.
    Rbac,
    /// Denied by an attribute rule.
    Abac,
    /// Allowed by both.
    Combined,
}

impl PolicyType {
    /// The record text.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Rbac => "rbac",
            Self::Abac => "abac",
            Self::Combined => "combined",
        }
    }
}

/// Every reason the engine can give; [`Reason::as_str`] is the exact contract text, which
/// reaches clients in the `reason` field of 403 bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// RBAC step failed.
    LacksRbacPermission,
    /// ABAC: the caller is admin.
    AdminFullAccess,
    /// ABAC: `task:create`.
    TaskCreationAllowed,
    /// ABAC: the addressed task does not exist.
    TaskNotFound,
    /// ABAC: the caller owns the task.
    TaskOwnerHasAccess,
    /// ABAC: same department, read only.
    DepartmentMemberCanView,
    /// ABAC: someone else's task.
    UserCanOnlyAccessOwnTasks,
    /// ABAC: task listing (scoped by the caller).
    TaskListingAllowed,
    /// ABAC: the caller addresses themself.
    UserCanAccessOwnProfile,
    /// ABAC: update or delete of another user.
    OnlyAdminsCanModifyOtherUsers,
    /// ABAC: read of another user [D-5].
    UsersCanOnlyViewOwnProfile,
    /// ABAC: user listing.
    UserListingAllowed,
    /// ABAC: a resource without attribute rules.
    NoSpecificAbacPolicy,
    /// Final reason of every allowed decision.
    AccessGranted,
}

impl Reason {
    /// The contract text.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LacksRbacPermission => "User lacks required RBAC permission",
            Self::AdminFullAccess => "Admin has full access",
            Self::TaskCreationAllowed => "Task creation allowed",
            Self::TaskNotFound => "Task not found",
            Self::TaskOwnerHasAccess => "Task owner has access",
            Self::DepartmentMemberCanView => "Department member can view task",
            Self::UserCanOnlyAccessOwnTasks => "User can only access own tasks",
            Self::TaskListingAllowed => "Task listing allowed",
            Self::UserCanAccessOwnProfile => "User can access own profile",
            Self::OnlyAdminsCanModifyOtherUsers => "Only admins can modify other users",
            Self::UsersCanOnlyViewOwnProfile => "Users can only view their own profile",
            Self::UserListingAllowed => "User listing allowed",
            Self::NoSpecificAbacPolicy => "No specific ABAC policy, allowing based on RBAC",
            Self::AccessGranted => "Access granted by RBAC and ABAC policies",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The engine's answer. `reason` is the record's reason (11.4); `abac_reason` is what the
/// ABAC step said (the owner/admin/department rule that let the request through, or the
/// rule that refused it), for explain output. It is `None` when RBAC already denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Allowed or denied.
    pub outcome: Outcome,
    /// The reason recorded and returned in 403 bodies.
    pub reason: Reason,
    /// The policy that decided.
    pub policy: PolicyType,
    /// The ABAC step's own reason, when it ran.
    pub abac_reason: Option<Reason>,
}

impl Decision {
    /// True when the request may proceed.
    #[must_use]
    pub const fn is_allowed(&self) -> bool {
        matches!(self.outcome, Outcome::Allowed)
    }
}
