//! Cache administration and cache-warming job endpoints (contract section 9, 14.8), plus
//! the dead-letter routes of `routes::jobs`. Every one sits behind bearer authentication
//! and the admin gate of 9.0 (the database, not the token, decides who is admin).
#![allow(dead_code)]

use serde_json::Value;
use utoipa::ToSchema;

use super::common::{ErrorBody, MessageBody};

/// The in-process level.
#[derive(ToSchema)]
pub struct L1Report {
    pub items: u64,
    /// Always `memory`.
    #[schema(example = "memory")]
    #[serde(rename = "type")]
    pub kind: String,
}

/// The Redis level: pool counters and the text of `INFO memory` and `INFO stats`, or
/// `{"error": "<text>"}` when Redis is unreachable.
#[derive(ToSchema)]
pub struct L2Report {
    #[schema(required = false)]
    pub redis_info: String,
    #[schema(required = false)]
    pub pool_hits: u64,
    #[schema(required = false)]
    pub pool_misses: u64,
    #[schema(required = false)]
    pub pool_timeouts: u64,
    #[schema(required = false)]
    pub pool_total: u64,
    #[schema(required = false)]
    pub pool_idle: u64,
    #[schema(required = false)]
    pub pool_stale: u64,
    /// Only when Redis is unreachable.
    #[schema(required = false)]
    pub error: String,
}

/// Cache counters since start.
#[derive(ToSchema)]
pub struct CacheCounters {
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
    pub sets: u64,
    pub deletes: u64,
    /// Unix seconds.
    pub start_time: i64,
}

/// State of the circuit breaker around L2.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// The circuit breaker (contract 13.3).
#[derive(ToSchema)]
pub struct CircuitBreaker {
    pub state: BreakerState,
    pub failure_count: u64,
    pub success_count: u64,
    /// Unix seconds, 0 if never.
    pub last_failure: i64,
    #[schema(example = 5)]
    pub max_failures: u64,
    #[schema(example = 30)]
    pub timeout_seconds: u64,
}

/// The cache part of `GET /api/v1/cache/stats`.
#[derive(ToSchema)]
pub struct CacheReport {
    pub l1: L1Report,
    /// Absent when no Redis is configured.
    #[schema(required = false)]
    pub l2: L2Report,
    pub metrics: CacheCounters,
    /// 0 to 100.
    #[schema(minimum = 0, maximum = 100)]
    pub hit_rate_percent: f64,
    pub circuit_breaker: CircuitBreaker,
}

/// The local worker pool.
#[derive(ToSchema)]
pub struct LocalWorkerStats {
    pub workers: u32,
    pub running: bool,
    pub jobs_processed: u64,
    pub total_errors: u64,
    /// Duration text (contract 1.6).
    pub avg_duration: String,
    /// Duration text (contract 1.6).
    pub total_duration: String,
    pub queue_length: u64,
    pub queue_capacity: u64,
}

/// Which job system runs.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum SystemType {
    IntegratedRedisLocal,
    LegacyMemory,
}

/// Job-system metrics (contract 14.8).
#[derive(ToSchema)]
pub struct JobMetrics {
    pub processed_jobs: u64,
    pub failed_jobs: u64,
    pub retry_jobs: u64,
    pub distributed_jobs: u64,
    pub local_jobs: u64,
    pub redis_available: bool,
    pub distributed_workers: u64,
    pub system_type: SystemType,
    pub local_worker_stats: LocalWorkerStats,
}

/// Queue sizes (contract 14.8): only `local` in local mode.
#[derive(ToSchema)]
pub struct QueueSizes {
    pub local: u64,
    #[schema(required = false)]
    pub redis_immediate: u64,
    #[schema(required = false)]
    pub redis_delayed: u64,
    #[schema(required = false)]
    pub redis_dead_letter: u64,
}

/// Answer of `GET /api/v1/cache/stats` (9.1).
#[derive(ToSchema)]
pub struct CacheStats {
    pub cache: CacheReport,
    /// Absent when no job system is wired.
    #[schema(required = false)]
    pub cache_warming: JobMetrics,
    /// Absent when no job system is wired.
    #[schema(required = false)]
    pub queue_sizes: QueueSizes,
}

/// Job system status: `healthy` when running, `degraded` when not.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum JobSystemStatus {
    Healthy,
    Degraded,
}

/// Answer of `GET /api/v1/cache/health` when the job system exists.
#[derive(ToSchema)]
pub struct JobSystemHealth {
    pub status: JobSystemStatus,
    pub running: bool,
    pub metrics: JobMetrics,
    pub queue_sizes: QueueSizes,
}

/// Answer of `GET /api/v1/cache/health` when the job system was never initialised:
/// `{"status": "unavailable", "message": "Cache manager is not initialized", "healthy": false}`.
#[derive(ToSchema)]
pub struct JobSystemUnavailable {
    /// Always `unavailable`.
    #[schema(example = "unavailable")]
    pub status: String,
    pub message: String,
    /// Always `false`.
    pub healthy: bool,
}

/// Answer of `GET /api/v1/cache/health` (9.2).
#[derive(ToSchema)]
#[serde(untagged)]
pub enum CacheHealth {
    Running(JobSystemHealth),
    Unavailable(JobSystemUnavailable),
}

/// A `{"status": "success", "message": ...}` answer.
#[derive(ToSchema)]
pub struct Success {
    /// Always `success`.
    #[schema(example = "success")]
    pub status: String,
    pub message: String,
}

/// Body of `POST /api/v1/cache/jobs/warmup` (9.5).
#[derive(ToSchema)]
pub struct WarmupRequest {
    /// A logical cache key (contract 13.1), non-empty.
    #[schema(min_length = 1, example = "test:all")]
    pub key: String,
    /// The value to store; ignored for reserved keys (D-24). Default `null`.
    #[schema(required = false)]
    pub data: Value,
    /// Nanoseconds, at least 0; absent or 0 means 15 minutes.
    #[schema(required = false, minimum = 0, example = 900_000_000_000_u64)]
    pub ttl: u64,
    /// Absent or 0 means 5.
    #[schema(required = false, example = 5)]
    pub priority: i64,
}

/// Answer of an enqueued warmup.
#[derive(ToSchema)]
pub struct WarmupAccepted {
    #[schema(example = "success")]
    pub status: String,
    /// `Warmup job enqueued successfully`.
    pub message: String,
    pub key: String,
    /// Duration text (contract 1.6), e.g. `15m0s`.
    pub ttl: String,
    pub priority: i64,
}

/// Body of `POST /api/v1/cache/jobs/batch` (9.6): every key is stored for one hour.
#[derive(ToSchema)]
pub struct BatchRequest {
    /// Required; `[]` is accepted.
    pub keys: Vec<String>,
    #[schema(required = false)]
    pub data: Value,
    /// Absent or 0 means 5.
    #[schema(required = false)]
    pub priority: i64,
}

/// Answer of an enqueued batch.
#[derive(ToSchema)]
pub struct BatchAccepted {
    #[schema(example = "success")]
    pub status: String,
    /// `Batch job enqueued successfully`.
    pub message: String,
    pub key_count: u64,
    pub priority: i64,
}

/// Body of `POST /api/v1/cache/jobs/scheduled` (9.7).
#[derive(ToSchema)]
pub struct ScheduledRequest {
    #[schema(min_length = 1)]
    pub key: String,
    #[schema(required = false)]
    pub data: Value,
    /// Nanoseconds, at least 0; absent or 0 means 15 minutes.
    #[schema(required = false, minimum = 0)]
    pub ttl: u64,
    /// When the job becomes due; the zero time counts as missing, a past time is due at once.
    #[schema(format = DateTime)]
    pub process_at: String,
    /// Absent or 0 means 5.
    #[schema(required = false)]
    pub priority: i64,
}

/// Answer of an enqueued scheduled job.
#[derive(ToSchema)]
pub struct ScheduledAccepted {
    #[schema(example = "success")]
    pub status: String,
    /// `Scheduled job enqueued successfully`.
    pub message: String,
    pub key: String,
    #[schema(format = DateTime)]
    pub process_at: String,
    /// Duration text (contract 1.6).
    pub ttl: String,
    pub priority: i64,
}

/// A pattern eviction: `Cache pattern evicted successfully`.
#[derive(ToSchema)]
pub struct PatternEvicted {
    #[schema(example = "success")]
    pub status: String,
    pub message: String,
    pub pattern: String,
}

/// A key eviction: `Cache key evicted successfully`.
#[derive(ToSchema)]
pub struct KeyEvicted {
    #[schema(example = "success")]
    pub status: String,
    pub message: String,
    pub key: String,
}

/// Answer of `DELETE /api/v1/cache/jobs/evict/{key}` (9.8).
#[derive(ToSchema)]
#[serde(untagged)]
pub enum Evicted {
    Pattern(PatternEvicted),
    Key(KeyEvicted),
}

/// A job envelope as stored in the queues (contract 14.2).
#[derive(ToSchema)]
pub struct JobEnvelope {
    pub id: String,
    /// `cache_warmup`, `cache_scheduled`, `cache_batch`, `cache_eviction` or
    /// `cache_validation`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Type-specific arguments (`key`, `keys`, `data`, `ttl`).
    pub payload: Value,
    pub attempts: u32,
    pub max_tries: u32,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub process_at: String,
    pub priority: i64,
}

/// Answer of `GET /api/v1/cache/jobs/dead`.
#[derive(ToSchema)]
pub struct DeadLetters {
    pub count: u64,
    /// At most 100, newest first; `[]` in local mode.
    pub jobs: Vec<JobEnvelope>,
}

/// Body of `POST /api/v1/cache/jobs/dead/requeue`; an empty body requeues all.
#[derive(ToSchema)]
pub struct RequeueRequest {
    /// The dead letter to requeue; absent or `null` means all.
    #[schema(required = false, min_length = 1)]
    pub id: Option<String>,
}

/// Answer of a requeue.
#[derive(ToSchema)]
pub struct Requeued {
    /// How many jobs moved back to the ready queue.
    pub requeued: u64,
}

/// Cache statistics (9.1).
#[utoipa::path(
    get,
    path = "/api/v1/cache/stats",
    tag = "cache",
    operation_id = "cacheStats",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Statistics", body = CacheStats),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`forbidden`: `Admin role required for this operation`", body = ErrorBody),
        (status = 500, description = "`authorization_failed`: `Failed to verify admin role`", body = ErrorBody),
        (status = 503, description = "`Cache not available`: `Cache is not initialized`, or `service_unavailable`", body = ErrorBody),
    )
)]
pub fn cache_stats() {}

/// Job-system health (9.2); always 200 past the gate.
#[utoipa::path(
    get,
    path = "/api/v1/cache/health",
    tag = "cache",
    operation_id = "cacheHealth",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Job-system status", body = CacheHealth),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`forbidden`: `Admin role required for this operation`", body = ErrorBody),
        (status = 500, description = "`authorization_failed`: `Failed to verify admin role`", body = ErrorBody),
    )
)]
pub fn cache_health() {}

/// Warms the default warm set (9.3, D-24). No body.
#[utoipa::path(
    post,
    path = "/api/v1/cache/warm",
    tag = "cache",
    operation_id = "cacheWarm",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "`Cache warming triggered successfully`", body = Success),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`forbidden`: `Admin role required for this operation`", body = ErrorBody),
        (status = 500, description = "`Failed to trigger cache warming`, or `authorization_failed`", body = ErrorBody),
        (status = 503, description = "`Cache warming not available`: `Cache manager is not initialized`", body = ErrorBody),
    )
)]
pub fn cache_warm() {}

/// Removes every cache entry on every instance, nothing else (9.4, D-23).
#[utoipa::path(
    delete,
    path = "/api/v1/cache/clear",
    tag = "cache",
    operation_id = "cacheClear",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "`cache cleared successfully`", body = MessageBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`forbidden`: `Admin role required for this operation`", body = ErrorBody),
        (status = 500, description = "The failure's text as `error`, or `authorization_failed`", body = ErrorBody),
        (status = 503, description = "`Cache not available`: `Cache is not initialized`, or `service_unavailable`", body = ErrorBody),
    )
)]
pub fn cache_clear() {}

/// Enqueues a warmup job (9.5). The body is validated before availability is checked.
#[utoipa::path(
    post,
    path = "/api/v1/cache/jobs/warmup",
    tag = "cache",
    operation_id = "enqueueWarmup",
    security(("bearerAuth" = [])),
    request_body = WarmupRequest,
    responses(
        (status = 202, description = "Enqueued", body = WarmupAccepted),
        (status = 400, description = "`Invalid request` with `message`", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`forbidden`: `Admin role required for this operation`", body = ErrorBody),
        (status = 500, description = "`Failed to enqueue warmup job`, or `authorization_failed`", body = ErrorBody),
        (status = 503, description = "`Cache warming not available`: `Cache manager is not initialized`", body = ErrorBody),
    )
)]
pub fn enqueue_warmup() {}

/// Enqueues a batch job (9.6).
#[utoipa::path(
    post,
    path = "/api/v1/cache/jobs/batch",
    tag = "cache",
    operation_id = "enqueueBatch",
    security(("bearerAuth" = [])),
    request_body = BatchRequest,
    responses(
        (status = 202, description = "Enqueued", body = BatchAccepted),
        (status = 400, description = "`Invalid request` with `message`", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`forbidden`: `Admin role required for this operation`", body = ErrorBody),
        (status = 500, description = "`Failed to enqueue batch job`, or `authorization_failed`", body = ErrorBody),
        (status = 503, description = "`Cache warming not available`: `Cache manager is not initialized`", body = ErrorBody),
    )
)]
pub fn enqueue_batch() {}

/// Enqueues a job due at `process_at` (9.7).
#[utoipa::path(
    post,
    path = "/api/v1/cache/jobs/scheduled",
    tag = "cache",
    operation_id = "enqueueScheduled",
    security(("bearerAuth" = [])),
    request_body = ScheduledRequest,
    responses(
        (status = 202, description = "Enqueued", body = ScheduledAccepted),
        (status = 400, description = "`Invalid request` with `message`", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`forbidden`: `Admin role required for this operation`", body = ErrorBody),
        (status = 500, description = "`Failed to enqueue scheduled job`, or `authorization_failed`", body = ErrorBody),
        (status = 503, description = "`Cache warming not available`: `Cache manager is not initialized`", body = ErrorBody),
    )
)]
pub fn enqueue_scheduled() {}

/// Evicts a key, or every entry matching a pattern when `{key}` begins or ends with `*`
/// (9.8). Removing nothing is still a success.
#[utoipa::path(
    delete,
    path = "/api/v1/cache/jobs/evict/{key}",
    tag = "cache",
    operation_id = "cacheEvict",
    security(("bearerAuth" = [])),
    params(("key" = String, Path, description = "One percent-decoded path segment: a logical key, or a pattern with `*`")),
    responses(
        (status = 200, description = "Evicted", body = Evicted),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`forbidden`: `Admin role required for this operation`", body = ErrorBody),
        (status = 500, description = "`Failed to evict cache pattern` or `Failed to evict cache key` with `message`, or `authorization_failed`", body = ErrorBody),
        (status = 503, description = "`Cache not available`: `Cache is not initialized`, or `service_unavailable`", body = ErrorBody),
    )
)]
pub fn cache_evict() {}

/// Lists up to 100 dead-lettered jobs, newest first (none in local mode).
#[utoipa::path(
    get,
    path = "/api/v1/cache/jobs/dead",
    tag = "cache",
    operation_id = "listDeadLetters",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Dead letters", body = DeadLetters),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`forbidden`: `Admin role required for this operation`", body = ErrorBody),
        (status = 500, description = "`Dead-letter queue operation failed`, or `authorization_failed`", body = ErrorBody),
        (status = 503, description = "`Cache warming not available`: `Cache manager is not initialized`", body = ErrorBody),
    )
)]
pub fn list_dead_letters() {}

/// Moves one dead letter (`{"id": ...}`), or all of them (empty body), back to the ready
/// queue with `attempts` reset.
#[utoipa::path(
    post,
    path = "/api/v1/cache/jobs/dead/requeue",
    tag = "cache",
    operation_id = "requeueDeadLetters",
    security(("bearerAuth" = [])),
    request_body(content = Option<RequeueRequest>, description = "Optional; empty means all"),
    responses(
        (status = 200, description = "Requeued", body = Requeued),
        (status = 400, description = "`Invalid request`: not a JSON object, or `id` not a non-empty string", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`forbidden`: `Admin role required for this operation`", body = ErrorBody),
        (status = 500, description = "`Dead-letter queue operation failed`, or `authorization_failed`", body = ErrorBody),
        (status = 503, description = "`Cache warming not available`: `Cache manager is not initialized`", body = ErrorBody),
    )
)]
pub fn requeue_dead_letters() {}
