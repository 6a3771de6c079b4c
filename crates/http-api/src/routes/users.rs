//! User and profile routes (contract section 8). Checks run in the order of 8.1: bearer
//! authentication, path id syntax, request body, authorization, existence of the target.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use application::identity::{UserDirectory, UserRouteError};
use domain::{ProfileChanges, UserId};
use serde_json::json;

use crate::{
    ApiState,
    auth::AuthenticatedUser,
    context::request_context,
    errors::{ApiError, ErrorBody},
};

/// Registers the section 8 routes with full paths (no `/api/v1/users` scope, so that
/// `/api/v1/users/{id}/tasks` stays free for the task routes). The literal `profile` is
/// registered before `{user_id}` so it wins (route precedence, section 2).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/users/profile", web::get().to(own_profile))
        .route("/api/v1/users/profile", web::put().to(update_own_profile))
        .route(
            "/api/v1/users/profile/{user_id}",
            web::get().to(profile_by_id),
        )
        .route("/api/v1/users", web::get().to(list_users))
        .route(
            "/api/v1/users/{user_id}",
            web::put().to(update_profile_by_id),
        )
        .route("/api/v1/users/{user_id}", web::delete().to(delete_user));
}

fn directory(state: &ApiState) -> Result<&UserDirectory, ApiError> {
    state.users.as_ref().ok_or_else(ApiError::unavailable)
}

fn invalid_user_id() -> HttpResponse {
    ErrorBody::new("Invalid user ID format").respond(StatusCode::BAD_REQUEST)
}

fn parse_user_id(text: &str) -> Option<UserId> {
    text.parse().ok()
}

fn invalid_body(details: impl Into<String>) -> HttpResponse {
    ErrorBody::new("Invalid request body")
        .details(details)
        .respond(StatusCode::BAD_REQUEST)
}

/// The validated changes, or the details of the 400 answer.
fn parse_changes(body: &[u8]) -> Result<ProfileChanges, String> {
    let object = crate::body::json_object(body).map_err(|e| e.to_string())?;
    ProfileChanges::from_json_object(&object).map_err(|e| e.0)
}

/// The answer to a failed use case; `failure` is the route's own 500 `error` text.
fn failure_response(error: UserRouteError, failure: &str) -> Result<HttpResponse, ApiError> {
    if error.is_unavailable() {
        tracing::warn!(%error, "user route: backend unavailable");
        return Err(ApiError::unavailable());
    }
    Ok(match error {
        UserRouteError::Denied(reason) => ErrorBody {
            reason: Some(reason),
            ..ErrorBody::new("Access denied")
        }
        .respond(StatusCode::FORBIDDEN),
        UserRouteError::NotFound => ErrorBody::new("User not found").respond(StatusCode::NOT_FOUND),
        UserRouteError::AuthorizationFailed(error) => {
            tracing::error!(%error, "authorization check failed");
            ErrorBody::new("Authorization check failed").respond(StatusCode::INTERNAL_SERVER_ERROR)
        }
        UserRouteError::Storage(error) => {
            tracing::error!(%error, "{failure}");
            ErrorBody::new(failure).respond(StatusCode::INTERNAL_SERVER_ERROR)
        }
    })
}

const GET_FAILED: &str = "Failed to get user profile";
const UPDATE_FAILED: &str = "Failed to update user profile";

async fn show_profile(
    state: &ApiState,
    req: &HttpRequest,
    caller: UserId,
    target: UserId,
) -> Result<HttpResponse, ApiError> {
    match directory(state)?
        .profile(caller, target, &request_context(req))
        .await
    {
        Ok(profile) => Ok(HttpResponse::Ok().json(profile)),
        Err(error) => failure_response(error, GET_FAILED),
    }
}

async fn own_profile(
    caller: AuthenticatedUser,
    state: web::Data<ApiState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    show_profile(&state, &req, caller.user_id, caller.user_id).await
}

async fn profile_by_id(
    caller: AuthenticatedUser,
    state: web::Data<ApiState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some(target) = parse_user_id(&path) else {
        return Ok(invalid_user_id());
    };
    show_profile(&state, &req, caller.user_id, target).await
}

async fn apply_update(
    state: &ApiState,
    req: &HttpRequest,
    caller: UserId,
    target: UserId,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let changes = match parse_changes(body) {
        Ok(changes) => changes,
        Err(details) => return Ok(invalid_body(details)),
    };
    match directory(state)?
        .update_profile(caller, target, &changes, &request_context(req))
        .await
    {
        Ok(()) => Ok(HttpResponse::Ok().json(json!({"message": "User updated successfully"}))),
        Err(error) => failure_response(error, UPDATE_FAILED),
    }
}

async fn update_own_profile(
    caller: AuthenticatedUser,
    state: web::Data<ApiState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    apply_update(&state, &req, caller.user_id, caller.user_id, &body).await
}

async fn update_profile_by_id(
    caller: AuthenticatedUser,
    state: web::Data<ApiState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let Some(target) = parse_user_id(&path) else {
        return Ok(invalid_user_id());
    };
    apply_update(&state, &req, caller.user_id, target, &body).await
}

async fn list_users(
    caller: AuthenticatedUser,
    state: web::Data<ApiState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    match directory(&state)?
        .list(caller.user_id, &request_context(&req))
        .await
    {
        Ok(users) => Ok(HttpResponse::Ok().json(users)),
        Err(error) => failure_response(error, "Failed to get users"),
    }
}

async fn delete_user(
    caller: AuthenticatedUser,
    state: web::Data<ApiState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some(target) = parse_user_id(&path) else {
        return Ok(invalid_user_id());
    };
    match directory(&state)?
        .delete(caller.user_id, target, &request_context(&req))
        .await
    {
        Ok(()) => Ok(HttpResponse::Ok().json(json!({"message": "User deleted successfully"}))),
        Err(error) => failure_response(error, "Failed to delete user"),
    }
}
