//! The four public authentication endpoints (contract section 4). Each reads the body as
//! raw bytes and parses it itself, so that every malformed or wrongly typed body gets the
//! endpoint's own 400 answer.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use application::identity::{
    IdentityService, LoginError, LoginInput, RefreshError, RefreshInput, RegisterError,
    StorageFailure,
};
use domain::{RegistrationInput, UserProfile};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::{
    ApiState,
    errors::{ApiError, ErrorBody},
};

/// Registers `/api/v1/auth/{register,login,refresh,logout}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1/auth")
            .route("/register", web::post().to(register))
            .route("/login", web::post().to(login))
            .route("/refresh", web::post().to(refresh))
            .route("/logout", web::post().to(logout)),
    );
}

/// Parses a body that must be a JSON object into `T` (unknown fields ignored).
fn parse_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    crate::body::parse_object(body).map_err(|e| e.to_string())
}

fn identity(state: &ApiState) -> Result<&IdentityService, ApiError> {
    state.identity.as_ref().ok_or_else(ApiError::unavailable)
}

fn internal_error() -> HttpResponse {
    ErrorBody::new("internal server error").respond(StatusCode::INTERNAL_SERVER_ERROR)
}

fn invalid_request(details: impl Into<String>) -> HttpResponse {
    ErrorBody::new("invalid_request")
        .message("Invalid request format")
        .details(details)
        .respond(StatusCode::BAD_REQUEST)
}

fn rfc3339(at: OffsetDateTime) -> Option<String> {
    at.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok()
}

#[derive(Serialize)]
struct RegisteredUser<'a> {
    id: String,
    username: &'a str,
    email: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    department: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    position: &'a str,
    is_active: bool,
    role: &'static str,
}

impl<'a> RegisteredUser<'a> {
    fn from_profile(profile: &'a UserProfile) -> Self {
        Self {
            id: profile.id.to_string(),
            username: &profile.username,
            email: &profile.email,
            first_name: &profile.first_name,
            last_name: &profile.last_name,
            department: &profile.department,
            position: &profile.position,
            is_active: profile.is_active,
            role: domain::USER_ROLE,
        }
    }
}

fn registration_failed(status: StatusCode, details: &str) -> HttpResponse {
    ErrorBody::new("Registration failed")
        .details(details)
        .respond(status)
}

async fn register(state: web::Data<ApiState>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let identity = identity(&state)?;
    let input: RegistrationInput = match parse_object(&body) {
        Ok(input) => input,
        Err(details) => {
            return Ok(ErrorBody::new("Invalid request data")
                .details(details)
                .respond(StatusCode::BAD_REQUEST));
        }
    };
    Ok(match identity.register(&input).await {
        Ok(profile) => HttpResponse::Created().json(json!({
            "message": "Welcome to Taskify! Your account has been created successfully.",
            "user": RegisteredUser::from_profile(&profile),
        })),
        Err(RegisterError::Invalid(error)) => ErrorBody::new(error.error_text())
            .details(error.details())
            .respond(StatusCode::BAD_REQUEST),
        Err(RegisterError::EmailTaken) => registration_failed(
            StatusCode::CONFLICT,
            "An account with this email already exists",
        ),
        Err(RegisterError::UsernameTaken) => {
            registration_failed(StatusCode::CONFLICT, "This username is already taken")
        }
        Err(RegisterError::MissingRole) => {
            tracing::error!("registration failed: the `user` role does not exist");
            registration_failed(
                StatusCode::INTERNAL_SERVER_ERROR,
                "System configuration error. Please contact administrator.",
            )
        }
        Err(RegisterError::Unavailable(detail)) => {
            tracing::warn!(%detail, "registration: storage unavailable");
            return Err(ApiError::unavailable());
        }
        Err(RegisterError::Unexpected(detail)) => {
            tracing::error!(%detail, "registration failed");
            registration_failed(
                StatusCode::INTERNAL_SERVER_ERROR,
                "An unexpected error occurred. Please try again later.",
            )
        }
    })
}

async fn login(state: web::Data<ApiState>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let identity = identity(&state)?;
    let input: LoginInput = match parse_object(&body) {
        Ok(input) => input,
        Err(details) => return Ok(invalid_request(details)),
    };
    Ok(match identity.login(&input).await {
        Ok(success) => {
            let user = &success.user;
            // Roles changed behind the service's back (direct SQL) count from the next login
            // on, not only when the cached authorization snapshot expires.
            if let Some(authorization) = &state.authorization {
                authorization.invalidate_subject(user.id);
            }
            HttpResponse::Ok().json(json!({
                "access_token": success.access_token,
                "refresh_token": success.refresh_token,
                "token_type": "Bearer",
                "expires_in": success.expires_in,
                "user": {
                    "id": user.id.to_string(),
                    "email": user.email,
                    "first_name": user.first_name,
                    "last_name": user.last_name,
                    "department": user.department,
                    "position": user.position,
                    "is_active": user.is_active,
                    "last_login_at": user.last_login_at.and_then(rfc3339),
                    "roles": success.roles,
                },
                "permissions": success.permissions,
            }))
        }
        Err(LoginError::InvalidRequest(details)) => invalid_request(details),
        Err(LoginError::InvalidCredentials) => ErrorBody::new("invalid_credentials")
            .message("Invalid email or password")
            .respond(StatusCode::UNAUTHORIZED),
        Err(LoginError::AccountDisabled) => ErrorBody::new("account_disabled")
            .message("Your account has been disabled. Please contact support.")
            .respond(StatusCode::FORBIDDEN),
        Err(LoginError::TokenGeneration(detail)) => {
            tracing::error!(%detail, "login: token generation failed");
            ErrorBody::new("token_generation_failed")
                .message("Failed to generate authentication tokens")
                .respond(StatusCode::INTERNAL_SERVER_ERROR)
        }
        Err(LoginError::Unavailable(detail)) => {
            tracing::warn!(%detail, "login: storage unavailable");
            return Err(ApiError::unavailable());
        }
        Err(LoginError::Internal(detail)) => {
            tracing::error!(%detail, "login failed");
            internal_error()
        }
    })
}

/// The `refresh_token` of a refresh or logout body, or the details of the 400 answer.
fn refresh_token_of(body: &[u8]) -> Result<String, String> {
    let input: RefreshInput = parse_object(body)?;
    input.token().map(str::to_owned)
}

async fn refresh(state: web::Data<ApiState>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let identity = identity(&state)?;
    let token = match refresh_token_of(&body) {
        Ok(token) => token,
        Err(details) => return Ok(invalid_request(details)),
    };
    Ok(match identity.refresh(&token).await {
        Ok(pair) => HttpResponse::Ok().json(json!({
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "token_type": "Bearer",
            "expires_in": pair.expires_in,
        })),
        Err(RefreshError::InvalidToken) => ErrorBody::new("invalid_token")
            .message("Invalid or expired refresh token")
            .respond(StatusCode::UNAUTHORIZED),
        Err(RefreshError::Unavailable(detail)) => {
            tracing::warn!(%detail, "refresh: storage unavailable");
            return Err(ApiError::unavailable());
        }
        Err(RefreshError::Internal(detail)) => {
            tracing::error!(%detail, "refresh failed");
            internal_error()
        }
    })
}

async fn logout(
    state: web::Data<ApiState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let identity = identity(&state)?;
    let token = match refresh_token_of(&body) {
        Ok(token) => token,
        Err(details) => return Ok(invalid_request(details)),
    };
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match identity.logout(&token, authorization).await {
        Ok(()) => Ok(HttpResponse::Ok().json(json!({"message": "Successfully logged out"}))),
        Err(StorageFailure(error)) if error.is_unavailable() => {
            tracing::warn!(%error, "logout: storage unavailable");
            Err(ApiError::unavailable())
        }
        Err(StorageFailure(error)) => {
            tracing::error!(%error, "logout failed");
            Ok(internal_error())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_json_objects_are_accepted() {
        assert!(parse_object::<LoginInput>(br#"{"email":"a@b.co"}"#).is_ok());
        for bad in [
            &b"[]"[..],
            b"null",
            b"\"x\"",
            b"",
            b"{",
            br#"["a@b.co","x"]"#,
        ] {
            assert!(parse_object::<LoginInput>(bad).is_err(), "{bad:?}");
        }
        assert!(parse_object::<LoginInput>(br#"{"email":5}"#).is_err());
    }
}
