//! Operational endpoints (contract section 10): `/health`, `/ready`, `/live`, `/metrics`.
//! Public, unauthenticated and exempt from the rate limiter.
#![allow(dead_code)]

use serde_json::Value;
use utoipa::ToSchema;

/// `healthy` with 200, `unhealthy` with 503.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum HealthStatus {
    Healthy,
    Unhealthy,
}

/// State of one dependency.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum DependencyState {
    Up,
    Down,
}

/// Body of `GET /health` (10.1).
#[derive(ToSchema)]
pub struct Health {
    pub status: HealthStatus,
    /// RFC 3339, whole seconds.
    #[schema(format = DateTime)]
    pub timestamp: String,
    /// Always `task-manager-backend`.
    #[schema(example = "task-manager-backend")]
    pub service: String,
    pub database: DependencyState,
    /// Present on 200 whenever Redis is configured; a Redis outage alone stays healthy.
    #[schema(required = false)]
    pub redis: DependencyState,
}

/// Body of `GET /ready` (10.2).
#[derive(ToSchema)]
pub struct Ready {
    pub ready: bool,
    /// `database not ready`, on 503 only.
    #[schema(required = false)]
    pub reason: String,
}

/// Body of `GET /live` (10.3).
#[derive(ToSchema)]
pub struct Live {
    /// Always `alive`.
    #[schema(example = "alive")]
    pub status: String,
    #[schema(format = DateTime)]
    pub timestamp: String,
    /// Duration text (contract 1.6), e.g. `1h0m0s`.
    pub uptime: String,
}

/// Request counters of the JSON metrics (10.4).
#[derive(ToSchema)]
pub struct ApplicationMetrics {
    /// Completed requests.
    pub request_count: u64,
    /// Mean latency in milliseconds.
    pub avg_request_duration_ms: f64,
    /// Requests in flight now.
    pub active_requests: u64,
    /// Responses with status >= 400.
    pub error_count: u64,
    /// Counts keyed by standard reason phrase (`OK`, `Not Found`, ...).
    pub status_codes: std::collections::BTreeMap<String, u64>,
    /// Counts keyed by `"<METHOD> <route template>"` with `:name` parameters; unmatched
    /// requests count under `"<METHOD> "`.
    pub endpoint_calls: std::collections::BTreeMap<String, u64>,
    #[schema(format = DateTime)]
    pub start_time: String,
    /// `null` before the first request.
    #[schema(format = DateTime)]
    pub last_request: Option<String>,
}

/// Process figures of the JSON metrics.
#[derive(ToSchema)]
pub struct SystemMetrics {
    /// Uptime in integer nanoseconds.
    pub uptime: u64,
    pub uptime_seconds: f64,
    #[schema(value_type = Object, example = json!({"rss_mb": 42}))]
    pub memory: Value,
    pub cpu_count: u64,
    /// Implementation and version text.
    pub runtime: String,
}

/// JSON body of `GET /metrics` (10.4).
#[derive(ToSchema)]
pub struct MetricsReport {
    pub application: ApplicationMetrics,
    pub system: SystemMetrics,
    #[schema(format = DateTime)]
    pub timestamp: String,
}

/// Liveness and dependency health.
#[utoipa::path(
    get,
    path = "/health",
    tag = "ops",
    operation_id = "health",
    responses(
        (status = 200, description = "Database reachable", body = Health),
        (status = 503, description = "Database unreachable", body = Health),
    )
)]
pub fn health() {}

/// Readiness: the database answers a ping.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "ops",
    operation_id = "ready",
    responses(
        (status = 200, description = "`{\"ready\": true}`", body = Ready),
        (status = 503, description = "`{\"ready\": false, \"reason\": \"database not ready\"}`", body = Ready),
    )
)]
pub fn ready() {}

/// Liveness: the process serves requests (D-38).
#[utoipa::path(
    get,
    path = "/live",
    tag = "ops",
    operation_id = "live",
    responses((status = 200, description = "Alive", body = Live))
)]
pub fn live() {}

/// Request and process metrics, as JSON or Prometheus text (D-25).
///
/// The Prometheus text exposition is served when `Accept` contains `text/plain` or
/// `application/openmetrics-text`, or the query string has `format=prometheus`; JSON
/// otherwise.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    operation_id = "metrics",
    params(
        ("format" = Option<String>, Query, description = "`prometheus` selects the text exposition format"),
    ),
    responses(
        (status = 200, description = "Metrics", content(
            (MetricsReport = "application/json"),
            (String = "text/plain; version=0.0.4; charset=utf-8"),
        )),
    )
)]
pub fn metrics() {}
