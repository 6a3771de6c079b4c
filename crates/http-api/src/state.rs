//! What every handler can reach: the application services and the telemetry handles.

use std::{sync::Arc, time::Instant};

use application::HealthService;
use application::identity::{IdentityService, UserDirectory};
use application::{AuthorizationService, CacheAdmin, CachedTaskService, JobSystem, TaskService};
use ports::AuditReader;
use time::OffsetDateTime;

use crate::middleware::RequestStats;

/// Renders the Prometheus text exposition; provided by the binary, which owns the exporter.
pub type PrometheusRenderer = Arc<dyn Fn() -> String + Send + Sync>;

/// Shared state of the HTTP layer, cloned cheaply into every worker.
#[derive(Clone)]
pub struct ApiState {
    /// Database and Redis probes for `/health` and `/ready`.
    pub health: HealthService,
    /// The counters behind the JSON form of `/metrics`.
    pub request_stats: Arc<RequestStats>,
    /// The text form of `/metrics`.
    pub prometheus: PrometheusRenderer,
    /// When the process started, for `/live` and `/metrics`.
    pub started_at: OffsetDateTime,
    started: Instant,
    /// Registration, login, tokens and bearer authentication; `None` answers 503 on the
    /// routes that need it (set with [`ApiState::with_identity`]).
    pub identity: Option<IdentityService>,
    /// The user and profile routes (section 8); `None` answers 503 on them (set with
    /// [`ApiState::with_users`]).
    pub users: Option<UserDirectory>,
    /// Decisions for task and administration routes (set with
    /// [`ApiState::with_authorization`]); `None` answers 503 on them.
    pub authorization: Option<Arc<AuthorizationService>>,
    /// The task use cases (set with [`ApiState::with_tasks`]).
    pub tasks: Option<Arc<TaskService>>,
    /// The audit-log reader behind `GET /api/v1/audit-logs`.
    pub audit_log: Option<Arc<dyn AuditReader>>,
    /// The cached task use cases and the cache administration (set with
    /// [`ApiState::with_cache`]); without them task routes use `tasks` uncached and the
    /// `/api/v1/cache/*` routes answer 503.
    pub cache: Option<(Arc<CachedTaskService>, Arc<CacheAdmin>)>,
    /// The cache-warming job system (set with [`ApiState::with_jobs`]); without it the
    /// job routes answer 503 (9.0).
    pub jobs: Option<JobSystem>,
}

impl ApiState {
    /// State for a process that started now.
    #[must_use]
    pub fn new(
        health: HealthService,
        request_stats: Arc<RequestStats>,
        prometheus: PrometheusRenderer,
    ) -> Self {
        Self {
            health,
            request_stats,
            prometheus,
            started_at: OffsetDateTime::now_utc(),
            started: Instant::now(),
            identity: None,
            users: None,
            authorization: None,
            tasks: None,
            audit_log: None,
            cache: None,
            jobs: None,
        }
    }

    /// Adds the identity service (auth routes and bearer authentication).
    #[must_use]
    pub fn with_identity(mut self, identity: IdentityService) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Adds the user directory (the routes of section 8).
    #[must_use]
    pub fn with_users(mut self, users: UserDirectory) -> Self {
        self.users = Some(users);
        self
    }

    /// Adds the authorization service and the audit-log reader (task, role, attribute,
    /// explain and audit-log routes).
    #[must_use]
    pub fn with_authorization(
        mut self,
        authorization: Arc<AuthorizationService>,
        audit_log: Arc<dyn AuditReader>,
    ) -> Self {
        self.authorization = Some(authorization);
        self.audit_log = Some(audit_log);
        self
    }

    /// Adds the task use cases.
    #[must_use]
    pub fn with_tasks(mut self, tasks: Arc<TaskService>) -> Self {
        self.tasks = Some(tasks);
        self
    }

    /// Adds the cache: the cached task use cases (used by the task routes instead of
    /// `tasks`) and its administration (the `/api/v1/cache/*` routes).
    #[must_use]
    pub fn with_cache(mut self, tasks: Arc<CachedTaskService>, admin: Arc<CacheAdmin>) -> Self {
        self.cache = Some((tasks, admin));
        self
    }

    /// Adds the cache-warming job system (the routes of 9.2, 9.3, 9.5 to 9.7).
    #[must_use]
    pub fn with_jobs(mut self, jobs: JobSystem) -> Self {
        self.jobs = Some(jobs);
        self
    }

    /// Time since start, from a monotonic clock.
    #[must_use]
    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("health", &self.health)
            .field("started_at", &self.started_at)
            .finish_non_exhaustive()
    }
}
