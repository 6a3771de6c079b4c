//! What callers ask the authorization service: who, which action on which resource, and
//! the HTTP request it was made for (recorded in the audit log).

use std::net::IpAddr;

use domain::{RoleId, TaskId, UserId};
use uuid::Uuid;

/// The resource a request addresses; the service loads the facts the ABAC rules need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessTarget {
    /// No particular resource: creation, listing, or a kind without attribute rules.
    #[default]
    None,
    /// One task (its owner and the owner's department are loaded).
    Task(TaskId),
    /// One task the caller has already read, so its owner is known; only the owner's
    /// department is loaded, and only when the caller is not the owner.
    OwnedTask {
        /// The task.
        id: TaskId,
        /// Its owner, from the task just read.
        owner: UserId,
    },
    /// One user account or profile.
    User(UserId),
    /// All tasks of one user (`GET /users/{user_id}/tasks`).
    UserTasks(UserId),
}

impl AccessTarget {
    /// The id recorded as `resource_id`.
    #[must_use]
    pub fn resource_id(self) -> Option<Uuid> {
        match self {
            Self::None => None,
            Self::Task(id) | Self::OwnedTask { id, .. } => Some(id.as_uuid()),
            Self::User(id) | Self::UserTasks(id) => Some(id.as_uuid()),
        }
    }
}

/// One access question: may `user` do `action` on `resource` (`target`)?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessRequest<'a> {
    /// The caller.
    pub user: UserId,
    /// Resource kind: `task`, `user`, `profile`, `audit`, ...
    pub resource: &'a str,
    /// Action: `read`, `create`, `update`, `delete`, ...
    pub action: &'a str,
    /// The addressed resource.
    pub target: AccessTarget,
}

impl<'a> AccessRequest<'a> {
    /// A request without a target (creation, listing).
    #[must_use]
    pub fn new(user: UserId, resource: &'a str, action: &'a str) -> Self {
        Self {
            user,
            resource,
            action,
            target: AccessTarget::None,
        }
    }

    /// The same request addressing `target`.
    #[must_use]
    pub fn on(self, target: AccessTarget) -> Self {
        Self { target, ..self }
    }
}

/// The HTTP request a decision is made for, as the audit log records it (11.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestContext {
    /// Client address, when it is a valid one.
    pub ip: Option<IpAddr>,
    /// `User-Agent` header.
    pub user_agent: Option<String>,
    /// `X-Request-ID` or the generated id.
    pub request_id: String,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
}

/// A role named by its name or by its id (the role routes accept either).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleRef {
    /// By `roles.id`.
    Id(RoleId),
    /// By `roles.name`.
    Name(String),
}

impl RoleRef {
    /// A UUID text is an id, anything else a name.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        Uuid::parse_str(text.trim()).map_or_else(
            |_| Self::Name(text.trim().to_owned()),
            |id| Self::Id(RoleId::from_uuid(id)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_refs_are_ids_when_they_parse_as_uuids() {
        assert_eq!(RoleRef::parse("admin"), RoleRef::Name("admin".into()));
        assert_eq!(
            RoleRef::parse("00000000-0000-0000-0000-000000000002"),
            RoleRef::Id(domain::ADMIN_ROLE_ID)
        );
    }

    #[test]
    fn targets_give_the_audited_resource_id() {
        let id = Uuid::from_u128(7);
        assert_eq!(AccessTarget::None.resource_id(), None);
        assert_eq!(
            AccessTarget::Task(TaskId::from_uuid(id)).resource_id(),
            Some(id)
        );
        assert_eq!(
            AccessTarget::UserTasks(UserId::from_uuid(id)).resource_id(),
            Some(id)
        );
        let request = AccessRequest::new(UserId::from_uuid(id), "task", "read")
            .on(AccessTarget::User(UserId::from_uuid(id)));
        assert_eq!(request.target, AccessTarget::User(UserId::from_uuid(id)));
    }
}
