//! Authentication endpoints (contract section 4): register, login, refresh, logout. All
//! public; logout optionally takes the access token to revoke it as well.
#![allow(dead_code)]

use utoipa::ToSchema;

use super::common::{ErrorBody, MessageBody};

/// Body of `POST /api/v1/auth/register` (4.1). Unknown fields are ignored.
#[derive(ToSchema)]
pub struct RegisterRequest {
    /// Trimmed: 3 to 50 characters, ASCII letters, digits and `_`; unique.
    #[schema(min_length = 3, max_length = 50, example = "jane_doe")]
    pub username: String,
    /// A valid address, trimmed and lowercased; unique across all users.
    #[schema(format = Email)]
    pub email: String,
    /// 8 characters to 72 bytes, with an uppercase and a lowercase letter, a digit and a
    /// special character.
    #[schema(min_length = 8, format = Password)]
    pub password: String,
    /// Trimmed, 1 to 50 characters.
    #[schema(min_length = 1, max_length = 50)]
    pub first_name: String,
    /// Trimmed, 1 to 50 characters.
    #[schema(min_length = 1, max_length = 50)]
    pub last_name: String,
    /// Trimmed, at most 100 characters; stored as `""` when absent.
    #[schema(required = false, max_length = 100)]
    pub department: String,
    /// Trimmed, at most 100 characters; stored as `""` when absent.
    #[schema(required = false, max_length = 100)]
    pub position: String,
}

/// The account created by registration.
#[derive(ToSchema)]
pub struct RegisteredUser {
    pub id: uuid::Uuid,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// Omitted when empty.
    #[schema(required = false)]
    pub department: String,
    /// Omitted when empty.
    #[schema(required = false)]
    pub position: String,
    pub is_active: bool,
    /// Always `user`.
    #[schema(example = "user")]
    pub role: String,
}

/// Answer of a successful registration.
#[derive(ToSchema)]
pub struct RegisterResponse {
    /// `Welcome to Taskify! Your account has been created successfully.`
    pub message: String,
    pub user: RegisteredUser,
}

/// Body of `POST /api/v1/auth/login` (4.2): `email`, or `username` when `email` is absent
/// (D-36), and `password`.
#[derive(ToSchema)]
pub struct LoginRequest {
    /// Trimmed and lowercased before the lookup.
    #[schema(required = false, format = Email)]
    pub email: String,
    /// Used only when `email` is absent (D-36).
    #[schema(required = false)]
    pub username: String,
    /// At least 8 characters.
    #[schema(min_length = 8, format = Password)]
    pub password: String,
}

/// The user as seen by the login response.
#[derive(ToSchema)]
pub struct LoginUser {
    pub id: uuid::Uuid,
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
    /// The time of this login.
    #[schema(format = DateTime)]
    pub last_login_at: Option<String>,
    /// Names of the active roles, `[]` when none (D-34).
    pub roles: Vec<String>,
}

/// Answer of a successful login.
#[derive(ToSchema)]
pub struct LoginResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Access-token lifetime in seconds.
    #[schema(example = 3600)]
    pub expires_in: u64,
    pub user: LoginUser,
    /// Sorted, de-duplicated `resource:action` strings; `[]` when none.
    #[schema(example = json!(["profile:read", "profile:update", "task:create", "task:delete", "task:read", "task:update"]))]
    pub permissions: Vec<String>,
}

/// Body of `POST /api/v1/auth/refresh` and `/logout`.
#[derive(ToSchema)]
pub struct RefreshRequest {
    /// A refresh token; must be non-empty.
    #[schema(min_length = 1)]
    pub refresh_token: String,
}

/// Answer of a successful refresh (the presented refresh token is revoked).
#[derive(ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Access-token lifetime in seconds.
    #[schema(example = 3600)]
    pub expires_in: u64,
}

/// Creates an account holding the `user` role.
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    operation_id = "register",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = RegisterResponse),
        (status = 400, description = "`Invalid request data` (malformed body, missing field, length limit) or `Validation failed` (content rule), with `details`", body = ErrorBody),
        (status = 409, description = "`Registration failed`: email already registered or username taken", body = ErrorBody),
        (status = 500, description = "`Registration failed` (role missing or unexpected failure)", body = ErrorBody),
    )
)]
pub fn register() {}

/// Exchanges credentials for an access and a refresh token.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    operation_id = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 400, description = "`invalid_request`: body not JSON, a field missing, bad email, short password", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: no such user or wrong password", body = ErrorBody),
        (status = 403, description = "`account_disabled`: the account is inactive (D-16)", body = ErrorBody),
        (status = 500, description = "`token_generation_failed`, or `internal server error`", body = ErrorBody),
    )
)]
pub fn login() {}

/// Rotates a refresh token: a new pair is issued and the presented token revoked.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    operation_id = "refresh",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New token pair", body = TokenPair),
        (status = 400, description = "`invalid_request`: body not JSON or `refresh_token` missing or empty", body = ErrorBody),
        (status = 401, description = "`invalid_token`: any verification failure", body = ErrorBody),
    )
)]
pub fn refresh() {}

/// Revokes the refresh token and, when an access token accompanies it, that token too (D-12).
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    operation_id = "logout",
    request_body = RefreshRequest,
    security((), ("bearerAuth" = [])),
    responses(
        (status = 200, description = "`Successfully logged out`, whether or not the token was valid", body = MessageBody),
        (status = 400, description = "`invalid_request`: body not JSON or `refresh_token` missing or empty", body = ErrorBody),
    )
)]
pub fn logout() {}
