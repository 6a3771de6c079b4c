//! What is being asked: resource kind, action, optional id, and the loaded facts about the
//! addressed resource that the ABAC rules compare against.

use domain::UserId;
use uuid::Uuid;

/// The facts the ABAC rules need about the addressed resource, loaded by the caller before
/// deciding (the engine does no I/O).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Target {
    /// No particular resource: a creation, a listing, or a resource kind without rules.
    /// For `user`/`profile` requests the `resource_id` of the request is the target user.
    #[default]
    None,
    /// An existing task: its owner and the owner's `department` column.
    Task {
        /// The task owner.
        owner: UserId,
        /// `users.department` of the owner (`None` or empty never matches).
        owner_department: Option<String>,
    },
    /// A task id that matches no (non-deleted) task.
    TaskMissing,
    /// A user account (profile and user routes).
    User {
        /// The addressed user.
        id: UserId,
    },
    /// All tasks of one user (`GET /users/{user_id}/tasks`), judged by the task rules
    /// applied to the target user as a whole (11.3).
    UserTasks {
        /// The user whose tasks are listed.
        owner: UserId,
        /// `users.department` of that user.
        owner_department: Option<String>,
    },
}

/// One access request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRequest<'a> {
    /// Resource kind: `task`, `user`, `profile`, ...
    pub resource: &'a str,
    /// Action: `read`, `create`, `update`, `delete`, ...
    pub action: &'a str,
    /// The addressed resource id, if any (recorded in the audit log).
    pub resource_id: Option<Uuid>,
    /// Loaded facts about the addressed resource.
    pub target: Target,
}

impl<'a> ResourceRequest<'a> {
    /// A request without a resource id (creation, listing).
    #[must_use]
    pub fn new(resource: &'a str, action: &'a str) -> Self {
        Self {
            resource,
            action,
            resource_id: None,
            target: Target::None,
        }
    }

    /// A request on one loaded task.
    #[must_use]
    pub fn task(
        action: &'a str,
        id: Uuid,
        owner: UserId,
        owner_department: Option<String>,
    ) -> Self {
        Self {
            resource: "task",
            action,
            resource_id: Some(id),
            target: Target::Task {
                owner,
                owner_department,
            },
        }
    }

    /// A request on one user or profile (`resource` is `user` or `profile`).
    #[must_use]
    pub fn user(resource: &'a str, action: &'a str, id: UserId) -> Self {
        Self {
            resource,
            action,
            resource_id: Some(id.as_uuid()),
            target: Target::User { id },
        }
    }
}
