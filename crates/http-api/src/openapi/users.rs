//! User and profile endpoints (contract section 8). Order of checks: path id syntax, body,
//! authorization, then existence of the target (so a regular user probing another id gets
//! 403, not 404).
#![allow(dead_code)]

use utoipa::ToSchema;

use super::common::{ErrorBody, MessageBody};

/// The profile object (8.1); never includes the password hash.
#[derive(ToSchema)]
pub struct UserProfile {
    pub id: uuid::Uuid,
    pub username: String,
    pub email: String,
    /// `""` when unset.
    pub first_name: String,
    /// `""` when unset.
    pub last_name: String,
    /// `""` when unset.
    pub department: String,
    /// `""` when unset.
    pub position: String,
    pub is_active: bool,
    /// `null` when the user never logged in.
    #[schema(format = DateTime, required = true)]
    pub last_login_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// Body of the profile updates (8.4, 8.5): at least one of these keys (D-4); any other key
/// is a 400 `field '<key>' cannot be updated`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct ProfileChanges {
    /// Trimmed, 1 to 50 characters.
    #[schema(required = false, min_length = 1, max_length = 50)]
    pub first_name: String,
    /// Trimmed, 1 to 50 characters.
    #[schema(required = false, min_length = 1, max_length = 50)]
    pub last_name: String,
    /// Trimmed, at most 100 characters.
    #[schema(required = false, max_length = 100)]
    pub department: String,
    /// Trimmed, at most 100 characters.
    #[schema(required = false, max_length = 100)]
    pub position: String,
}

/// The caller's own profile (`profile:read` on self).
#[utoipa::path(
    get,
    path = "/api/v1/users/profile",
    tag = "users",
    operation_id = "getOwnProfile",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The profile", body = UserProfile),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied` with the decision's `reason`", body = ErrorBody),
        (status = 404, description = "`User not found`: the account was deleted since the token was issued", body = ErrorBody),
        (status = 500, description = "`Failed to get user profile` or `Authorization check failed`", body = ErrorBody),
    )
)]
pub fn get_own_profile() {}

/// Another user's profile: the user themself and admins only (D-5).
#[utoipa::path(
    get,
    path = "/api/v1/users/profile/{user_id}",
    tag = "users",
    operation_id = "getProfile",
    security(("bearerAuth" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The profile", body = UserProfile),
        (status = 400, description = "`Invalid user ID format`", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied`, e.g. `reason` `Users can only view their own profile`", body = ErrorBody),
        (status = 404, description = "`User not found`", body = ErrorBody),
        (status = 500, description = "`Failed to get user profile` or `Authorization check failed`", body = ErrorBody),
    )
)]
pub fn get_profile() {}

/// Updates the caller's own profile (`profile:update` on self, D-3).
#[utoipa::path(
    put,
    path = "/api/v1/users/profile",
    tag = "users",
    operation_id = "updateOwnProfile",
    security(("bearerAuth" = [])),
    request_body = ProfileChanges,
    responses(
        (status = 200, description = "`User updated successfully`", body = MessageBody),
        (status = 400, description = "`Invalid request body` with `details` (not an object, empty, bad value, or `field '<key>' cannot be updated`)", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied` with the decision's `reason`", body = ErrorBody),
        (status = 404, description = "`User not found`", body = ErrorBody),
        (status = 500, description = "`Failed to update user profile` or `Authorization check failed`", body = ErrorBody),
    )
)]
pub fn update_own_profile() {}

/// Updates the profile of the user in the path: the user themself or an admin (D-3).
#[utoipa::path(
    put,
    path = "/api/v1/users/{user_id}",
    tag = "users",
    operation_id = "updateProfile",
    security(("bearerAuth" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    request_body = ProfileChanges,
    responses(
        (status = 200, description = "`User updated successfully`", body = MessageBody),
        (status = 400, description = "`Invalid user ID format`, or `Invalid request body` with `details`", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied`, e.g. `reason` `Only admins can modify other users`", body = ErrorBody),
        (status = 404, description = "`User not found`", body = ErrorBody),
        (status = 500, description = "`Failed to update user profile` or `Authorization check failed`", body = ErrorBody),
    )
)]
pub fn update_profile() {}

/// All non-deleted users, oldest first (`user:read`, D-2).
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    operation_id = "listUsers",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The users", body = Vec<UserProfile>),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied` with `reason` `User lacks required RBAC permission`", body = ErrorBody),
        (status = 500, description = "`Failed to get users` or `Authorization check failed`", body = ErrorBody),
    )
)]
pub fn list_users() {}

/// Soft-deletes a user and revokes their tokens (`user:delete` + ABAC, D-12).
#[utoipa::path(
    delete,
    path = "/api/v1/users/{user_id}",
    tag = "users",
    operation_id = "deleteUser",
    security(("bearerAuth" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "`User deleted successfully`", body = MessageBody),
        (status = 400, description = "`Invalid user ID format`", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied` with the decision's `reason`", body = ErrorBody),
        (status = 404, description = "`User not found`: no such user or already deleted", body = ErrorBody),
        (status = 500, description = "`Failed to delete user` or `Authorization check failed`", body = ErrorBody),
    )
)]
pub fn delete_user() {}
