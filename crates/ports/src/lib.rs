//! The sockets of the hexagon: the traits the core of the task-management service needs
//! from the outside world (storage, cache, queues, message bus, clock) and the records that
//! pass through them.
//!
//! Adapters (`adapters-postgres`, `adapters-redis`) implement these traits; `application`,
//! `cache-multilevel` and `warming` depend only on them. Every port reports failures as
//! [`PortError`], whose variants tell the caller whether the backend is unavailable (a 503
//! upstream) or the request itself was at fault.

pub mod audit;
pub mod authz;
pub mod clock;
pub mod error;
pub mod health;
pub mod idempotency;
pub mod invalidation;
pub mod jobs;
pub mod kv;
pub mod tasks;
pub mod tokens;
pub mod users;

pub use audit::{AuditDecision, AuditPage, AuditQuery, AuditReader, AuditRecord, AuditSink};
pub use authz::{AuthzRepository, RoleWithPermissions, TaskOwnership};
pub use clock::{Clock, SystemClock};
pub use error::{PortError, PortResult};
pub use health::HealthProbe;
pub use idempotency::{IdempotencyClaim, IdempotencyRecord, IdempotencyStore, StoredResponse};
pub use invalidation::{InvalidationBus, InvalidationEvent, InvalidationMessage};
pub use jobs::{JobEnvelope, JobQueue, JobType, LeasedJob, QueueSizes};
pub use kv::KeyValueStore;
pub use tasks::{
    CursorKey, Page, SortColumn, SortDirection, TaskCursor, TaskFilters, TaskPage, TaskQuery,
    TaskRepository, TaskScope, TaskSort,
};
pub use tokens::{RefreshTokenRecord, RefreshTokenStore, RevocationStore, RotateOutcome};
pub use users::{AccessGrants, NewUser, UserRecord, UserRepository};
