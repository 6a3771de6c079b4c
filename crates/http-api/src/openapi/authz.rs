//! Authorization administration (contract 11.6 exposed over HTTP by `routes::authz`):
//! roles and their permissions, user roles and attributes, the decision explainer and the
//! audit-log listing. Permission checks are made by the authorization service against the
//! caller's current roles, not the token's claims.
#![allow(dead_code)]

use serde_json::Value;
use utoipa::ToSchema;

use super::common::ErrorBody;

/// A permission granted by a role.
#[derive(ToSchema)]
pub struct Permission {
    pub id: uuid::Uuid,
    #[schema(example = "task")]
    pub resource: String,
    #[schema(example = "read")]
    pub action: String,
    /// `resource:action`.
    #[schema(example = "task:read")]
    pub name: String,
    /// Descriptive only: `own`, `all` or `department`.
    pub scope: String,
    pub description: String,
}

/// A role.
#[derive(ToSchema)]
pub struct Role {
    pub id: uuid::Uuid,
    pub name: String,
    pub description: String,
}

/// A role with the permissions it grants.
#[derive(ToSchema)]
pub struct RoleWithPermissions {
    pub id: uuid::Uuid,
    pub name: String,
    pub description: String,
    pub permissions: Vec<Permission>,
}

/// Body of `POST /api/v1/roles`.
#[derive(ToSchema)]
pub struct NewRole {
    pub name: String,
    /// Default `""`.
    #[schema(required = false)]
    pub description: String,
}

/// Body of `POST /api/v1/roles/{role}/permissions`.
#[derive(ToSchema)]
pub struct PermissionGrant {
    pub permission_id: uuid::Uuid,
}

/// Answer of a permission grant.
#[derive(ToSchema)]
pub struct PermissionGranted {
    /// `Permission granted successfully`.
    pub message: String,
    pub role: Role,
    pub permission_id: uuid::Uuid,
}

/// Body of `POST /api/v1/users/{user_id}/roles`.
#[derive(ToSchema)]
pub struct RoleAssignment {
    /// The role's name or id; must not be blank.
    #[schema(min_length = 1)]
    pub role: String,
    /// RFC 3339; the assignment stops counting then (D-14).
    #[schema(required = false, format = DateTime)]
    pub expires_at: Option<String>,
}

/// Answer of a role assignment.
#[derive(ToSchema)]
pub struct RoleAssigned {
    /// `Role assigned successfully`.
    pub message: String,
    pub user_id: uuid::Uuid,
    pub role: Role,
    #[schema(format = DateTime, required = true)]
    pub expires_at: Option<String>,
}

/// Answer of a role revocation.
#[derive(ToSchema)]
pub struct RoleRevoked {
    /// `Role revoked successfully`.
    pub message: String,
    pub user_id: uuid::Uuid,
    pub role: Role,
}

/// Data type of a user attribute.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum AttributeType {
    String,
    Number,
    Boolean,
    Date,
}

/// Body of `PUT /api/v1/users/{user_id}/attributes/{name}`.
#[derive(ToSchema)]
pub struct AttributeInput {
    pub value: String,
    /// Default `string`.
    #[schema(required = false)]
    #[serde(rename = "type")]
    pub kind: AttributeType,
    /// RFC 3339; the attribute stops counting then (D-14).
    #[schema(required = false, format = DateTime)]
    pub expires_at: Option<String>,
}

/// Answer of an attribute change.
#[derive(ToSchema)]
pub struct AttributeSet {
    /// `Attribute set successfully`.
    pub message: String,
    pub user_id: uuid::Uuid,
    pub key: String,
    pub value: String,
    #[serde(rename = "type")]
    pub kind: AttributeType,
    #[schema(format = DateTime, required = true)]
    pub expires_at: Option<String>,
}

/// Outcome of a decision.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Decision {
    Allowed,
    Denied,
}

/// Which step decided (contract 11.2).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum PolicyType {
    Rbac,
    Abac,
    Combined,
}

/// The decision the service would make (not acted on, not audited).
#[derive(ToSchema)]
pub struct Explanation {
    pub user_id: uuid::Uuid,
    pub resource: String,
    pub action: String,
    #[schema(required = true)]
    pub resource_id: Option<uuid::Uuid>,
    pub decision: Decision,
    pub reason: String,
    pub policy_type: PolicyType,
    /// The ABAC step's reason, `null` when RBAC already denied.
    #[schema(required = true)]
    pub abac_reason: Option<String>,
}

/// One audit-log row (contract 11.5).
#[derive(ToSchema)]
pub struct AuditLogEntry {
    pub id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    /// `<action>_<resource>`, e.g. `read_task`.
    pub action: String,
    pub resource: String,
    #[schema(required = true)]
    pub resource_id: Option<uuid::Uuid>,
    pub decision: Decision,
    pub reason: String,
    #[schema(required = true)]
    pub ip_address: Option<String>,
    #[schema(required = true)]
    pub user_agent: Option<String>,
    pub request_id: String,
    #[schema(required = true)]
    pub request_method: Option<String>,
    #[schema(required = true)]
    pub request_path: Option<String>,
    /// The request context of the decision.
    pub context: Value,
    #[schema(format = DateTime, required = true)]
    pub timestamp: Option<String>,
}

/// A page of the audit log.
#[derive(ToSchema)]
pub struct AuditLogPage {
    pub audit_logs: Vec<AuditLogEntry>,
    /// Rows matching the filters (all pages).
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

/// Roles with their permissions (`role:manage`).
#[utoipa::path(
    get,
    path = "/api/v1/roles",
    tag = "authz",
    operation_id = "listRoles",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "All roles", body = Vec<RoleWithPermissions>),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied` with the decision's `reason`", body = ErrorBody),
        (status = 500, description = "`Authorization check failed`", body = ErrorBody),
    )
)]
pub fn list_roles() {}

/// Creates a role (`role:manage`).
#[utoipa::path(
    post,
    path = "/api/v1/roles",
    tag = "authz",
    operation_id = "createRole",
    security(("bearerAuth" = [])),
    request_body = NewRole,
    responses(
        (status = 201, description = "Created", body = Role),
        (status = 400, description = "`invalid_request`: malformed body, or name empty or over 255 characters", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied` with the decision's `reason`", body = ErrorBody),
        (status = 409, description = "`conflict`: a role with this name exists", body = ErrorBody),
        (status = 500, description = "`Authorization check failed`", body = ErrorBody),
    )
)]
pub fn create_role() {}

/// Grants a permission to a role (`role:manage`).
#[utoipa::path(
    post,
    path = "/api/v1/roles/{role_id}/permissions",
    tag = "authz",
    operation_id = "grantPermission",
    security(("bearerAuth" = [])),
    params(("role_id" = String, Path, description = "The role's id or name")),
    request_body = PermissionGrant,
    responses(
        (status = 200, description = "Granted", body = PermissionGranted),
        (status = 400, description = "`invalid_request`: malformed body", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied` with the decision's `reason`", body = ErrorBody),
        (status = 404, description = "`not_found`: `Role not found` or `Permission not found`", body = ErrorBody),
        (status = 409, description = "`conflict`: the role already has this permission", body = ErrorBody),
        (status = 500, description = "`Authorization check failed`", body = ErrorBody),
    )
)]
pub fn grant_permission() {}

/// Assigns a role to a user (`user:assign_role`).
#[utoipa::path(
    post,
    path = "/api/v1/users/{user_id}/roles",
    tag = "authz",
    operation_id = "assignRole",
    security(("bearerAuth" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    request_body = RoleAssignment,
    responses(
        (status = 201, description = "Assigned", body = RoleAssigned),
        (status = 400, description = "`Invalid user ID format`, or `invalid_request` (malformed body, blank role, bad `expires_at`)", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied` with the decision's `reason`", body = ErrorBody),
        (status = 404, description = "`User not found`, or `not_found` with `Role not found`", body = ErrorBody),
        (status = 409, description = "`conflict`: `user already has this role`", body = ErrorBody),
        (status = 500, description = "`Authorization check failed`", body = ErrorBody),
    )
)]
pub fn assign_role() {}

/// Revokes a role from a user (`user:revoke_role`).
#[utoipa::path(
    delete,
    path = "/api/v1/users/{user_id}/roles/{role}",
    tag = "authz",
    operation_id = "revokeRole",
    security(("bearerAuth" = [])),
    params(
        ("user_id" = uuid::Uuid, Path, description = "The user's id"),
        ("role" = String, Path, description = "The role's id or name"),
    ),
    responses(
        (status = 200, description = "Revoked", body = RoleRevoked),
        (status = 400, description = "`Invalid user ID format`", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied` with the decision's `reason`", body = ErrorBody),
        (status = 404, description = "`User not found`, or `not_found` with `Role not found` or `user does not have this role`", body = ErrorBody),
        (status = 500, description = "`Authorization check failed`", body = ErrorBody),
    )
)]
pub fn revoke_role() {}

/// Sets (inserts or replaces) a user attribute (`user:update`, D-14).
#[utoipa::path(
    put,
    path = "/api/v1/users/{user_id}/attributes/{name}",
    tag = "authz",
    operation_id = "setUserAttribute",
    security(("bearerAuth" = [])),
    params(
        ("user_id" = uuid::Uuid, Path, description = "The user's id"),
        ("name" = String, Path, description = "The attribute key, e.g. `department`"),
    ),
    request_body = AttributeInput,
    responses(
        (status = 200, description = "Set", body = AttributeSet),
        (status = 400, description = "`Invalid user ID format`, or `invalid_request` (malformed body, unknown type, bad `expires_at`, key or value empty or over 255 characters)", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied` with the decision's `reason`", body = ErrorBody),
        (status = 404, description = "`User not found`", body = ErrorBody),
        (status = 500, description = "`Authorization check failed`", body = ErrorBody),
    )
)]
pub fn set_user_attribute() {}

/// Explains the decision the service would make for a request (admins, checked in the
/// database like the admin gate of 9.0). Nothing is audited.
#[utoipa::path(
    get,
    path = "/api/v1/authz/explain",
    tag = "authz",
    operation_id = "explainDecision",
    security(("bearerAuth" = [])),
    params(
        ("user_id" = uuid::Uuid, Query, description = "The caller to decide for (required)"),
        ("resource" = String, Query, description = "Resource, e.g. `task` (required)"),
        ("action" = String, Query, description = "Action, e.g. `read` (required)"),
        ("resource_id" = Option<uuid::Uuid>, Query, description = "Target id for `task`, `user` or `profile`"),
    ),
    responses(
        (status = 200, description = "The decision", body = Explanation),
        (status = 400, description = "`invalid_request`: a required parameter missing, or an id not a UUID", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`forbidden`: `Admin role required for this operation`", body = ErrorBody),
        (status = 500, description = "`Authorization check failed`", body = ErrorBody),
    )
)]
pub fn explain_decision() {}

/// Lists audit-log rows, newest first (`audit:read`, D-15).
#[utoipa::path(
    get,
    path = "/api/v1/audit-logs",
    tag = "authz",
    operation_id = "listAuditLogs",
    security(("bearerAuth" = [])),
    params(
        ("user_id" = Option<uuid::Uuid>, Query, description = "Filter: the deciding caller"),
        ("resource" = Option<String>, Query, description = "Filter: resource"),
        ("decision" = Option<Decision>, Query, description = "Filter: `allowed` or `denied`"),
        ("since" = Option<String>, Query, format = DateTime, description = "Filter: RFC 3339 lower bound"),
        ("until" = Option<String>, Query, format = DateTime, description = "Filter: RFC 3339 upper bound"),
        ("page" = Option<u32>, Query, minimum = 1, description = "1-based page, default 1; a bad value becomes 1"),
        ("pageSize" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Rows per page, 1 to 500, default 50; a bad value becomes 50"),
    ),
    responses(
        (status = 200, description = "A page of audit rows", body = AuditLogPage),
        (status = 400, description = "`invalid_request`: bad `user_id`, `decision`, `since` or `until`", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied` with the decision's `reason`", body = ErrorBody),
        (status = 500, description = "`Authorization check failed`", body = ErrorBody),
    )
)]
pub fn list_audit_logs() {}
