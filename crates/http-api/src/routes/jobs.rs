//! Cache-warming job routes (contract 9.2, 9.3, 9.5 to 9.7), behind the admin gate of 9.0,
//! plus the dead-letter administration (`GET /api/v1/cache/jobs/dead`,
//! `POST /api/v1/cache/jobs/dead/requeue`). Bodies are validated before the job system's
//! availability is checked.

use std::time::Duration;

use actix_web::{HttpResponse, http::StatusCode, web};
use application::{
    EnqueueError, JobSystem,
    warming::{batch_job, effective_priority, effective_ttl, scheduled_job, warmup_job},
};
use domain::duration::format_duration;
use serde_json::{Map, Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339, macros::datetime};

use crate::{
    ApiState,
    admin_gate::require_admin,
    auth::AuthenticatedUser,
    errors::{ApiError, ErrorBody},
};

/// Dead letters listed at most by `GET /api/v1/cache/jobs/dead`.
const DEAD_LIST_LIMIT: usize = 100;

/// Registers the job routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/cache/health", web::get().to(health))
        .route("/api/v1/cache/warm", web::post().to(warm))
        .route("/api/v1/cache/jobs/warmup", web::post().to(warmup))
        .route("/api/v1/cache/jobs/batch", web::post().to(batch))
        .route("/api/v1/cache/jobs/scheduled", web::post().to(scheduled))
        .route("/api/v1/cache/jobs/dead", web::get().to(dead))
        .route(
            "/api/v1/cache/jobs/dead/requeue",
            web::post().to(requeue_dead),
        );
}

fn invalid(message: impl Into<String>) -> ApiError {
    ErrorBody::new("Invalid request")
        .message(message)
        .into_error(StatusCode::BAD_REQUEST)
}

fn unavailable() -> ApiError {
    ErrorBody::new("Cache warming not available")
        .message("Cache manager is not initialized")
        .into_error(StatusCode::SERVICE_UNAVAILABLE)
}

/// The running job system, or the 503 of 9.0.
fn jobs(state: &ApiState) -> Result<&JobSystem, ApiError> {
    state
        .jobs
        .as_ref()
        .filter(|jobs| jobs.is_running())
        .ok_or_else(unavailable)
}

/// The 500 of an enqueue that failed (503 once the system is shut down).
fn enqueue_failed(what: &str, error: &EnqueueError) -> ApiError {
    if matches!(error, EnqueueError::ShutDown) {
        return unavailable();
    }
    tracing::error!(%error, what, "job enqueue failed");
    ErrorBody::new(what)
        .message(error.to_string())
        .into_error(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The body as a JSON object.
fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    crate::body::json_object(body).map_err(|error| invalid(error.to_string()))
}

/// `key`: a non-empty string.
fn key(body: &Map<String, Value>) -> Result<String, ApiError> {
    match body.get("key") {
        Some(Value::String(key)) if !key.is_empty() => Ok(key.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(invalid("key is required")),
        Some(_) => Err(invalid("key must be a string")),
    }
}

/// `ttl`: integer nanoseconds, at least 0; absent or 0 means 15 minutes.
fn ttl(body: &Map<String, Value>) -> Result<Duration, ApiError> {
    match body.get("ttl") {
        None | Some(Value::Null) => Ok(effective_ttl(None)),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(nanos) => Ok(effective_ttl(Some(Duration::from_nanos(nanos)))),
            None => Err(invalid(
                "ttl must be a non-negative integer number of nanoseconds",
            )),
        },
        Some(_) => Err(invalid("ttl must be an integer number of nanoseconds")),
    }
}

/// `priority`: integer; absent or 0 means 5.
fn priority(body: &Map<String, Value>) -> Result<i64, ApiError> {
    match body.get("priority") {
        None | Some(Value::Null) => Ok(effective_priority(0)),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(effective_priority)
            .ok_or_else(|| invalid("priority must be an integer")),
        Some(_) => Err(invalid("priority must be an integer")),
    }
}

fn data(body: &Map<String, Value>) -> Value {
    body.get("data").cloned().unwrap_or(Value::Null)
}

/// `process_at`: a required RFC 3339 timestamp; the zero time counts as missing.
fn process_at(body: &Map<String, Value>) -> Result<OffsetDateTime, ApiError> {
    let text = match body.get("process_at") {
        None | Some(Value::Null) => return Err(invalid("process_at is required")),
        Some(Value::String(text)) => text,
        Some(_) => return Err(invalid("process_at must be an RFC 3339 timestamp")),
    };
    let at = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| invalid("process_at must be an RFC 3339 timestamp"))?;
    if at == datetime!(0001-01-01 0:00 UTC) {
        return Err(invalid("process_at is required"));
    }
    Ok(at)
}

/// 9.2.
async fn health(
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &caller).await?;
    let Some(jobs) = &state.jobs else {
        return Ok(HttpResponse::Ok().json(json!({
            "status": "unavailable",
            "message": "Cache manager is not initialized",
            "healthy": false,
        })));
    };
    let running = jobs.is_running();
    Ok(HttpResponse::Ok().json(json!({
        "status": if running { "healthy" } else { "degraded" },
        "running": running,
        "metrics": jobs.metrics(),
        "queue_sizes": jobs.queue_sizes().await,
    })))
}

/// 9.3: the default warm set, recomputed from the database.
async fn warm(
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &caller).await?;
    let jobs = jobs(&state)?;
    match jobs.warm_default_set().await {
        Ok(()) => Ok(HttpResponse::Ok().json(json!({
            "status": "success",
            "message": "Cache warming triggered successfully",
        }))),
        Err(error) => Err(enqueue_failed("Failed to trigger cache warming", &error)),
    }
}

/// 9.5.
async fn warmup(
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &caller).await?;
    let body = object(&body)?;
    let (key, ttl, priority) = (key(&body)?, ttl(&body)?, priority(&body)?);
    let jobs = jobs(&state)?;
    let job = warmup_job(&key, data(&body), ttl, priority, OffsetDateTime::now_utc());
    jobs.enqueue(job)
        .await
        .map_err(|e| enqueue_failed("Failed to enqueue warmup job", &e))?;
    Ok(HttpResponse::Accepted().json(json!({
        "status": "success",
        "message": "Warmup job enqueued successfully",
        "key": key,
        "ttl": format_duration(ttl),
        "priority": priority,
    })))
}

/// 9.6.
async fn batch(
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &caller).await?;
    let body = object(&body)?;
    let keys = match body.get("keys") {
        None | Some(Value::Null) => return Err(invalid("keys is required")),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| invalid("keys must be an array of strings"))?,
        Some(_) => return Err(invalid("keys must be an array of strings")),
    };
    let priority = priority(&body)?;
    let jobs = jobs(&state)?;
    let key_count = keys.len();
    let job = batch_job(keys, data(&body), priority, OffsetDateTime::now_utc());
    jobs.enqueue(job)
        .await
        .map_err(|e| enqueue_failed("Failed to enqueue batch job", &e))?;
    Ok(HttpResponse::Accepted().json(json!({
        "status": "success",
        "message": "Batch job enqueued successfully",
        "key_count": key_count,
        "priority": priority,
    })))
}

/// 9.7.
async fn scheduled(
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &caller).await?;
    let body = object(&body)?;
    let key = key(&body)?;
    let ttl = ttl(&body)?;
    let at = process_at(&body)?;
    let priority = priority(&body)?;
    let jobs = jobs(&state)?;
    let job = scheduled_job(
        &key,
        data(&body),
        ttl,
        at,
        priority,
        OffsetDateTime::now_utc(),
    );
    jobs.enqueue(job)
        .await
        .map_err(|e| enqueue_failed("Failed to enqueue scheduled job", &e))?;
    let process_at = at
        .format(&Rfc3339)
        .map_err(|_| invalid("process_at cannot be represented in RFC 3339"))?;
    Ok(HttpResponse::Accepted().json(json!({
        "status": "success",
        "message": "Scheduled job enqueued successfully",
        "key": key,
        "process_at": process_at,
        "ttl": format_duration(ttl),
        "priority": priority,
    })))
}

fn queue_failed(error: &ports::PortError) -> ApiError {
    tracing::error!(%error, "dead-letter queue operation failed");
    ErrorBody::new("Dead-letter queue operation failed")
        .message(error.to_string())
        .into_error(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Lists up to 100 dead-lettered jobs, newest first (none in local mode).
async fn dead(
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &caller).await?;
    let jobs = jobs(&state)?;
    let dead = match jobs.queue() {
        Some(queue) => queue
            .list_dead(DEAD_LIST_LIMIT)
            .await
            .map_err(|e| queue_failed(&e))?,
        None => Vec::new(),
    };
    Ok(HttpResponse::Ok().json(json!({"count": dead.len(), "jobs": dead})))
}

/// Requeues the dead letter `{"id": ...}`, or all of them when no id is given.
async fn requeue_dead(
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    require_admin(&state, &caller).await?;
    let id = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match object(&body)?.get("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
            Some(_) => return Err(invalid("id must be a non-empty string")),
        }
    };
    let jobs = jobs(&state)?;
    let requeued = match jobs.queue() {
        Some(queue) => queue
            .requeue_dead(id.as_deref())
            .await
            .map_err(|e| queue_failed(&e))?,
        None => 0,
    };
    Ok(HttpResponse::Ok().json(json!({"requeued": requeued})))
}
