//! The authorization engine of the task-management service: RBAC then ABAC, exactly as
//! contract sections 11.2 and 11.3 describe, as a pure and synchronous function.
//!
//! Callers load a [`Subject`] (roles with their permissions, attributes) from storage,
//! freeze it into a [`SubjectSnapshot`] for the current instant (expired roles and attributes
//! dropped, permissions sorted for lookup), describe what is asked in a [`ResourceRequest`]
//! (with the facts the ABAC rules need already loaded into its [`Target`]) and call
//! [`decide`]. No I/O happens here, so a decision costs well under a microsecond and every
//! rule is unit-testable.

mod decision;
mod engine;
mod request;
mod subject;

pub use decision::{Decision, Outcome, PolicyType, Reason};
pub use engine::{audit_action, decide};
pub use request::{ResourceRequest, Target};
pub use subject::{Subject, SubjectRole, SubjectSnapshot};
