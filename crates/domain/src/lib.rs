//! The model of the task-management service: tasks, users, roles, permissions and
//! attributes, with the invariants the API contract demands enforced in their constructors
//! (`TaskTitle::new`, `Email::parse`, `check_password`, ...), so that an invalid value cannot
//! exist past the edge of the system.
//!
//! This crate is pure: no async, no I/O, no framework types. Besides the service itself,
//! other Rust services embed it to validate and serialise the same data the HTTP API does
//! (the serde forms of [`task::Task`] and [`user::UserProfile`] are the contract's JSON).

pub mod duration;
pub mod error;
pub mod ids;
pub mod rbac;
pub mod task;
pub mod user;

mod timefmt;

pub use duration::{format_duration, format_nanos, format_time_duration, parse_duration};
pub use error::DomainError;
pub use ids::{RoleId, TaskId, UserId};
pub use rbac::{
    ADMIN_ROLE, ADMIN_ROLE_ID, Attribute, AttributeType, DEPARTMENT_ATTRIBUTE, Permission,
    PermissionKey, Role, RoleAssignment, Subject, SubjectRole, USER_ROLE, USER_ROLE_ID,
    permission_strings, primary_role_claim, registration_attributes,
};
pub use task::{
    DueDateInput, NewTask, NewTaskInput, Priority, Task, TaskChanges, TaskChangesInput, TaskStatus,
    TaskTitle, etag_for, parse_due_date, parse_etag,
};
pub use user::{
    CharClass, Email, Password, PasswordHash, PasswordRuleViolation, ProfileChanges,
    ProfileUpdateError, RegistrationError, RegistrationInput, User, UserProfile, Username,
    ValidRegistration, check_password,
};
