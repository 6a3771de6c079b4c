//! Authorization (contract 11): every protected route asks [`AuthorizationService`], which
//! decides with the `authz-engine` over a cached snapshot of the caller, counts the
//! decision and hands an audit record to the [`AuditWriter`] (batched, never blocking).
//! The 11.6 administration operations live here too and keep the snapshot caches of every
//! instance in step through a [`SubjectInvalidationNotifier`].

mod admin;
mod cache;
mod error;
mod request;
mod service;
mod writer;

#[cfg(test)]
pub(crate) mod fakes;
#[cfg(test)]
mod service_tests;
#[cfg(test)]
mod writer_tests;

pub use cache::{DEFAULT_SUBJECT_CAPACITY, DEFAULT_SUBJECT_TTL, SubjectCache, Ticket};
pub use error::AuthorizationError;
pub use request::{AccessRequest, AccessTarget, RequestContext, RoleRef};
pub use service::{AuthorizationService, SubjectInvalidationNotifier};
pub use writer::{AuditRecorder, AuditWriter, AuditWriterSettings, AuditWriterStats};
