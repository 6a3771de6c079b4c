//! The use cases of the task-management service.
//!
//! Each service here orchestrates ports (storage, cache, queues), the authorization engine
//! and the domain rules to carry out one capability (health reporting, registration, login,
//! tasks, users, cache administration). Nothing here knows about HTTP or about which
//! database or cache sits behind a port: `http-api` translates requests into calls of these
//! services, and `server` wires concrete adapters into them.

pub mod authorization;
pub mod cache;
pub mod guarded_cache;
pub mod health;
pub mod identity;
pub mod tasks;
pub mod warming;

pub use self::warming::{CacheJobExecutor, EnqueueError, JobSystem, JobSystemParts, WarmLock};
pub use authorization::{
    AccessRequest, AccessTarget, AuditRecorder, AuditWriter, AuthorizationError,
    AuthorizationService, RequestContext, RoleRef, SubjectCache, SubjectInvalidationNotifier,
};
pub use cache::{CacheAdmin, CachedTaskService, L2Info, L2Inspector};
pub use health::{DependencyStatus, HealthReport, HealthService};
pub use identity::IdentityService;
pub use tasks::{TaskError, TaskListParams, TaskListing, TaskService};
