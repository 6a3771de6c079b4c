//! Cache administration routes (contract section 9), behind the admin gate of 9.0:
//! statistics (9.1), clearing (9.4) and eviction of a key or pattern (9.8). The job-system
//! routes (9.2, 9.3, 9.5 to 9.7) are in `routes::jobs`.

use actix_web::{HttpResponse, http::StatusCode, web};
use application::{CacheAdmin, cache::Eviction};
use serde_json::json;

use crate::{
    ApiState,
    admin_gate::require_admin,
    auth::AuthenticatedUser,
    errors::{ApiError, ErrorBody},
};

/// Registers the routes of 9.1, 9.4 and 9.8.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/cache/stats", web::get().to(stats))
        .route("/api/v1/cache/clear", web::delete().to(clear))
        .route("/api/v1/cache/jobs/evict/{key}", web::delete().to(evict));
}

/// The gate, then the cache administration (503 of 9.8 when no cache is wired).
async fn admin<'s>(
    state: &'s ApiState,
    caller: &AuthenticatedUser,
) -> Result<&'s CacheAdmin, ApiError> {
    require_admin(state, caller).await?;
    state
        .cache
        .as_ref()
        .map(|(_, admin)| &**admin)
        .ok_or_else(|| {
            ErrorBody::new("Cache not available")
                .message("Cache is not initialized")
                .into_error(StatusCode::SERVICE_UNAVAILABLE)
        })
}

/// 9.1. `cache_warming` and `queue_sizes` (14.8) are omitted when no job system is wired.
async fn stats(
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    let admin = admin(&state, &caller).await?;
    let mut body = json!({"cache": admin.report().await});
    if let Some(jobs) = &state.jobs {
        body["cache_warming"] = json!(jobs.metrics());
        body["queue_sizes"] = json!(jobs.queue_sizes().await);
    }
    Ok(HttpResponse::Ok().json(body))
}

/// 9.4.
async fn clear(
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    let admin = admin(&state, &caller).await?;
    match admin.clear().await {
        Ok(_) => Ok(HttpResponse::Ok().json(json!({"message": "cache cleared successfully"}))),
        Err(error) => {
            tracing::error!(%error, "cache clear failed");
            Err(ErrorBody::new(error.to_string()).into_error(StatusCode::INTERNAL_SERVER_ERROR))
        }
    }
}

/// 9.8: `{key}` (percent-decoded by the router) is a pattern when it begins or ends
/// with `*`.
async fn evict(
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = admin(&state, &caller).await?;
    let key = path.into_inner();
    match admin.evict(&key).await {
        Ok(Eviction::Pattern(pattern, _)) => Ok(HttpResponse::Ok().json(json!({
            "status": "success",
            "message": "Cache pattern evicted successfully",
            "pattern": pattern,
        }))),
        Ok(Eviction::Key(key)) => Ok(HttpResponse::Ok().json(json!({
            "status": "success",
            "message": "Cache key evicted successfully",
            "key": key,
        }))),
        Err(error) => {
            tracing::error!(%error, key, "cache eviction failed");
            let what = if key.starts_with('*') || key.ends_with('*') {
                "Failed to evict cache pattern"
            } else {
                "Failed to evict cache key"
            };
            Err(ErrorBody::new(what)
                .message(error.to_string())
                .into_error(StatusCode::INTERNAL_SERVER_ERROR))
        }
    }
}
