//! Administration of roles, permissions and attributes (contract 11.6, exposed over HTTP
//! for holders of `role:manage`, `user:assign_role`, `user:revoke_role` and `user:update`),
//! the decision explainer (admins) and the audit-log listing (`audit:read`).
//!
//! Every permission check goes through the authorization service, so it is decided by the
//! caller's current roles (not the token's claims) and written to the audit log.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use application::authorization::{
    AccessRequest, AccessTarget, AuthorizationError, AuthorizationService, RoleRef,
};
use domain::{Attribute, AttributeType, Permission, Role, UserId};
use ports::{AuditDecision, AuditQuery, audit::StoredAuditRecord};
use serde::Deserialize;
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use uuid::Uuid;

use crate::{
    ApiState,
    auth::AuthenticatedUser,
    context::request_context,
    errors::{ApiError, ErrorBody},
};

/// Registers the routes (full paths, beside the user routes of section 8).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/roles", web::get().to(list_roles))
        .route("/api/v1/roles", web::post().to(create_role))
        .route(
            "/api/v1/roles/{role_id}/permissions",
            web::post().to(grant_permission),
        )
        .route("/api/v1/users/{user_id}/roles", web::post().to(assign_role))
        .route(
            "/api/v1/users/{user_id}/roles/{role}",
            web::delete().to(revoke_role),
        )
        .route(
            "/api/v1/users/{user_id}/attributes/{name}",
            web::put().to(set_attribute),
        )
        .route("/api/v1/authz/explain", web::get().to(explain))
        .route("/api/v1/audit-logs", web::get().to(list_audit_logs));
}

fn service(state: &ApiState) -> Result<&AuthorizationService, ApiError> {
    state
        .authorization
        .as_deref()
        .ok_or_else(ApiError::unavailable)
}

/// Asks the service whether the caller may `action` the `resource`; a denial is the
/// contract's 403 body with the decision's reason.
async fn require(
    service: &AuthorizationService,
    req: &HttpRequest,
    caller: &AuthenticatedUser,
    resource: &str,
    action: &str,
    target: AccessTarget,
) -> Result<(), ApiError> {
    let request = AccessRequest::new(caller.user_id, resource, action).on(target);
    let decision = service
        .authorize(request, &request_context(req))
        .await
        .map_err(|error| error_response(&error))?;
    if decision.is_allowed() {
        Ok(())
    } else {
        Err(ErrorBody::new("Access denied")
            .reason(decision.reason.as_str())
            .into_error(StatusCode::FORBIDDEN))
    }
}

fn error_response(error: &AuthorizationError) -> ApiError {
    let not_found = |message: &str| {
        ErrorBody::new("not_found")
            .message(message)
            .into_error(StatusCode::NOT_FOUND)
    };
    match error {
        AuthorizationError::UserNotFound => {
            ErrorBody::new("User not found").into_error(StatusCode::NOT_FOUND)
        }
        AuthorizationError::RoleNotFound => not_found("Role not found"),
        AuthorizationError::PermissionNotFound => not_found("Permission not found"),
        AuthorizationError::NotAssigned => not_found("user does not have this role"),
        AuthorizationError::Conflict(text) => ErrorBody::new("conflict")
            .message(text.clone())
            .into_error(StatusCode::CONFLICT),
        AuthorizationError::InvalidInput(text) => invalid_request(text.clone()),
        AuthorizationError::Storage(port) if port.is_unavailable() => ApiError::unavailable(),
        AuthorizationError::Storage(port) => {
            tracing::error!(error = %port, "authorization storage failure");
            ErrorBody::new("Authorization check failed")
                .into_error(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

fn invalid_request(details: impl Into<String>) -> ApiError {
    ErrorBody::new("invalid_request")
        .message("Invalid request format")
        .details(details)
        .into_error(StatusCode::BAD_REQUEST)
}

fn parse_user_id(text: &str) -> Result<UserId, ApiError> {
    text.parse()
        .map_err(|_| ErrorBody::new("Invalid user ID format").into_error(StatusCode::BAD_REQUEST))
}

/// Parses a JSON body into `T`, answering the contract's 400 on anything malformed.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    crate::body::parse(body).map_err(|error| invalid_request(error.to_string()))
}

fn parse_time(text: &str, field: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| invalid_request(format!("{field} must be an RFC 3339 timestamp")))
}

fn role_json(role: &Role) -> Value {
    json!({"id": role.id, "name": role.name, "description": role.description})
}

fn permission_json(permission: &Permission) -> Value {
    json!({
        "id": permission.id,
        "resource": permission.resource,
        "action": permission.action,
        "name": format!("{}:{}", permission.resource, permission.action),
        "scope": permission.scope,
        "description": permission.description,
    })
}

async fn list_roles(
    req: HttpRequest,
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    let service = service(&state)?;
    require(service, &req, &caller, "role", "manage", AccessTarget::None).await?;
    Ok(match service.list_roles().await {
        Ok(roles) => HttpResponse::Ok().json(
            roles
                .iter()
                .map(|entry| {
                    let mut role = role_json(&entry.role);
                    role["permissions"] = entry.permissions.iter().map(permission_json).collect();
                    role
                })
                .collect::<Vec<_>>(),
        ),
        Err(error) => return Err(error_response(&error)),
    })
}

#[derive(Deserialize)]
struct NewRole {
    name: String,
    #[serde(default)]
    description: String,
}

async fn create_role(
    req: HttpRequest,
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let service = service(&state)?;
    let input: NewRole = parse_body(&body)?;
    require(service, &req, &caller, "role", "manage", AccessTarget::None).await?;
    Ok(
        match service.create_role(&input.name, &input.description).await {
            Ok(role) => HttpResponse::Created().json(role_json(&role)),
            Err(error) => return Err(error_response(&error)),
        },
    )
}

#[derive(Deserialize)]
struct Grant {
    permission_id: Uuid,
}

async fn grant_permission(
    req: HttpRequest,
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let service = service(&state)?;
    let role = RoleRef::parse(&path.into_inner());
    let grant: Grant = parse_body(&body)?;
    require(service, &req, &caller, "role", "manage", AccessTarget::None).await?;
    Ok(
        match service
            .grant_permission(&role, grant.permission_id, Some(caller.user_id))
            .await
        {
            Ok(role) => HttpResponse::Ok().json(json!({
                "message": "Permission granted successfully",
                "role": role_json(&role),
                "permission_id": grant.permission_id,
            })),
            Err(error) => return Err(error_response(&error)),
        },
    )
}

#[derive(Deserialize)]
struct Assignment {
    role: String,
    #[serde(default)]
    expires_at: Option<String>,
}

async fn assign_role(
    req: HttpRequest,
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let service = service(&state)?;
    let user = parse_user_id(&path.into_inner())?;
    let assignment: Assignment = parse_body(&body)?;
    if assignment.role.trim().is_empty() {
        return Err(invalid_request("role is required"));
    }
    let expires_at = match assignment.expires_at.as_deref() {
        None => None,
        Some(text) => Some(parse_time(text, "expires_at")?),
    };
    let target = AccessTarget::User(user);
    require(service, &req, &caller, "user", "assign_role", target).await?;
    let role = RoleRef::parse(&assignment.role);
    Ok(
        match service
            .assign_role(user, &role, Some(caller.user_id), expires_at)
            .await
        {
            Ok(role) => HttpResponse::Created().json(json!({
                "message": "Role assigned successfully",
                "user_id": user,
                "role": role_json(&role),
                "expires_at": expires_at.and_then(|at| at.format(&Rfc3339).ok()),
            })),
            Err(error) => return Err(error_response(&error)),
        },
    )
}

async fn revoke_role(
    req: HttpRequest,
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let service = service(&state)?;
    let (user, role) = path.into_inner();
    let user = parse_user_id(&user)?;
    let target = AccessTarget::User(user);
    require(service, &req, &caller, "user", "revoke_role", target).await?;
    Ok(
        match service.revoke_role(user, &RoleRef::parse(&role)).await {
            Ok(role) => HttpResponse::Ok().json(json!({
                "message": "Role revoked successfully",
                "user_id": user,
                "role": role_json(&role),
            })),
            Err(error) => return Err(error_response(&error)),
        },
    )
}

#[derive(Deserialize)]
struct AttributeInput {
    value: String,
    #[serde(default, rename = "type")]
    data_type: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
}

async fn set_attribute(
    req: HttpRequest,
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let service = service(&state)?;
    let (user, name) = path.into_inner();
    let user = parse_user_id(&user)?;
    let input: AttributeInput = parse_body(&body)?;
    let data_type = match input.data_type.as_deref() {
        None => AttributeType::String,
        Some(text) => match AttributeType::parse(text) {
            Ok(data_type) => data_type,
            Err(_) => {
                return Err(invalid_request(
                    "type must be one of string, number, boolean, date",
                ));
            }
        },
    };
    let expires_at = match input.expires_at.as_deref() {
        None => None,
        Some(text) => Some(parse_time(text, "expires_at")?),
    };
    let target = AccessTarget::User(user);
    require(service, &req, &caller, "user", "update", target).await?;
    let attribute = Attribute {
        key: name,
        value: input.value,
        data_type,
        expires_at,
    };
    Ok(match service.set_user_attribute(user, &attribute).await {
        Ok(()) => HttpResponse::Ok().json(json!({
            "message": "Attribute set successfully",
            "user_id": user,
            "key": attribute.key,
            "value": attribute.value,
            "type": attribute.data_type.as_str(),
            "expires_at": attribute.expires_at.and_then(|at| at.format(&Rfc3339).ok()),
        })),
        Err(error) => return Err(error_response(&error)),
    })
}

#[derive(Deserialize)]
struct ExplainQuery {
    user_id: Option<String>,
    resource: Option<String>,
    action: Option<String>,
    resource_id: Option<String>,
}

/// The decision the service would make, without acting on it or auditing it; admins only,
/// checked against the database like the admin gate of 9.0.
async fn explain(
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
    query: web::Query<ExplainQuery>,
) -> Result<HttpResponse, ApiError> {
    let service = service(&state)?;
    match service.is_admin(caller.user_id).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(ErrorBody::new("forbidden")
                .message("Admin role required for this operation")
                .into_error(StatusCode::FORBIDDEN));
        }
        Err(error) => return Err(error_response(&error)),
    }
    let query = query.into_inner();
    let (Some(user), Some(resource), Some(action)) = (
        query.user_id.as_deref(),
        query.resource.as_deref(),
        query.action.as_deref(),
    ) else {
        return Err(invalid_request("user_id, resource and action are required"));
    };
    let Ok(user) = user.parse::<UserId>() else {
        return Err(invalid_request("user_id must be a UUID"));
    };
    let target = match query.resource_id.as_deref() {
        None | Some("") => AccessTarget::None,
        Some(text) => match Uuid::parse_str(text) {
            Ok(id) if resource == "task" => AccessTarget::Task(id.into()),
            Ok(id) if resource == "user" || resource == "profile" => AccessTarget::User(id.into()),
            Ok(_) => AccessTarget::None,
            Err(_) => return Err(invalid_request("resource_id must be a UUID")),
        },
    };
    let request = AccessRequest::new(user, resource, action).on(target);
    Ok(match service.explain(request).await {
        Ok(decision) => HttpResponse::Ok().json(json!({
            "user_id": user,
            "resource": resource,
            "action": action,
            "resource_id": target.resource_id(),
            "decision": decision.outcome.as_str(),
            "reason": decision.reason.as_str(),
            "policy_type": decision.policy.as_str(),
            "abac_reason": decision.abac_reason.map(|reason| reason.as_str()),
        })),
        Err(error) => return Err(error_response(&error)),
    })
}

#[derive(Deserialize)]
struct AuditLogQuery {
    user_id: Option<String>,
    resource: Option<String>,
    decision: Option<String>,
    since: Option<String>,
    until: Option<String>,
    page: Option<String>,
    #[serde(rename = "pageSize")]
    page_size: Option<String>,
}

const AUDIT_PAGE_SIZE: u32 = 50;
const AUDIT_MAX_PAGE_SIZE: u32 = 500;

fn audit_query(raw: AuditLogQuery) -> Result<AuditQuery, ApiError> {
    let user_id = match raw.user_id.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<UserId>()
                .map_err(|_| invalid_request("user_id must be a UUID"))?,
        ),
    };
    let decision = match raw.decision.as_deref() {
        None | Some("") => None,
        Some("allowed") => Some(AuditDecision::Allowed),
        Some("denied") => Some(AuditDecision::Denied),
        Some(_) => return Err(invalid_request("decision must be allowed or denied")),
    };
    let time = |text: Option<&str>, field| match text {
        None | Some("") => Ok(None),
        Some(text) => parse_time(text, field).map(Some),
    };
    // Paging follows the task listing's habit: a bad value falls back to the default.
    let page = raw
        .page
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let page_size = raw
        .page_size
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|p| (1..=AUDIT_MAX_PAGE_SIZE).contains(p))
        .unwrap_or(AUDIT_PAGE_SIZE);
    Ok(AuditQuery {
        user_id,
        resource: raw.resource.filter(|r| !r.is_empty()),
        decision,
        since: time(raw.since.as_deref(), "since")?,
        until: time(raw.until.as_deref(), "until")?,
        page,
        page_size,
    })
}

fn audit_json(stored: &StoredAuditRecord) -> Value {
    let record = &stored.record;
    json!({
        "id": stored.id,
        "user_id": record.user_id,
        "action": record.action,
        "resource": record.resource,
        "resource_id": record.resource_id,
        "decision": record.decision.as_str(),
        "reason": record.reason,
        "ip_address": record.ip_address.map(|ip| ip.to_string()),
        "user_agent": record.user_agent,
        "request_id": record.request_id,
        "request_method": record.request_method,
        "request_path": record.request_path,
        "context": record.context,
        "timestamp": record.timestamp.format(&Rfc3339).ok(),
    })
}

async fn list_audit_logs(
    req: HttpRequest,
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
    query: web::Query<AuditLogQuery>,
) -> Result<HttpResponse, ApiError> {
    let service = service(&state)?;
    let reader = state.audit_log.as_ref().ok_or_else(ApiError::unavailable)?;
    let query = audit_query(query.into_inner())?;
    require(service, &req, &caller, "audit", "read", AccessTarget::None).await?;
    let page = reader
        .list(&query)
        .await
        .map_err(|error| error_response(&AuthorizationError::Storage(error)))?;
    Ok(HttpResponse::Ok().json(json!({
        "audit_logs": page.records.iter().map(audit_json).collect::<Vec<_>>(),
        "total": page.total,
        "page": query.page,
        "page_size": query.page_size,
    })))
}
