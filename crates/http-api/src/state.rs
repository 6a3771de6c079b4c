//! What every handler can reach: the application services and the telemetry handles.

use std::{sync::Arc, time::Instant};

use application::HealthService;
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
        }
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
