//! Bearer authentication of protected routes (contract section 5).
//!
//! # For route authors
//!
//! Add an [`AuthenticatedUser`] argument to a handler and the route is protected:
//!
//! ```
//! use actix_web::{HttpResponse, web};
//! use http_api::{ApiState, auth::AuthenticatedUser};
//!
//! async fn my_route(caller: AuthenticatedUser, _state: web::Data<ApiState>) -> HttpResponse {
//!     // `caller.user_id` is the verified caller.
//!     HttpResponse::Ok().body(caller.user_id.to_string())
//! }
//! ```
//!
//! Before the handler runs, the extractor performs every check of section 5 in order:
//! missing header (`missing_token`), not `Bearer ` (`invalid_token_format`), malformed /
//! bad signature / not HS256 / no `exp` / wrong `aud` / refresh token (`invalid_token`,
//! "Token validation failed"), expired (`expired_token`), bad issuer (`invalid_issuer`),
//! revoked `jti` or issued before the user's cut-off (`invalid_token`, "Token has been
//! revoked"), bad `user_id` (`invalid_claims`) — each a 401 with the contract's body. When
//! the revocation store cannot be read it answers 503 (fail closed).
//!
//! The optional role and permission rows of section 5 are available as
//! [`AuthenticatedUser::require_role`] and [`AuthenticatedUser::require_permission`];
//! resource routes normally ask the authorization service instead (section 11).
//!
//! Extract it at most once per handler (each extraction re-verifies the token).

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::StatusCode, http::header, web};
use application::identity::{AccessIdentity, AuthError};
use domain::UserId;
use uuid::Uuid;

use crate::{
    ApiState,
    errors::{ApiError, ErrorBody},
};

/// The verified caller of a protected route, from the access token's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    /// The caller's id (`user_id` claim).
    pub user_id: UserId,
    /// The single `role` claim.
    pub role: String,
    /// All role names (`roles` claim; the `role` alone for legacy tokens).
    pub roles: Vec<String>,
    /// `resource:action` strings (`permissions` claim).
    pub permissions: Vec<String>,
    /// The token id, for revocation (`None` on legacy tokens).
    pub jti: Option<Uuid>,
    /// `iat`, seconds since the epoch.
    pub issued_at: i64,
}

impl From<AccessIdentity> for AuthenticatedUser {
    fn from(identity: AccessIdentity) -> Self {
        Self {
            user_id: identity.user_id,
            role: identity.role,
            roles: identity.roles,
            permissions: identity.permissions,
            jti: identity.jti,
            issued_at: identity.issued_at,
        }
    }
}

impl AuthenticatedUser {
    /// 403 `insufficient_role` unless the `role` claim is `role` or `admin` (section 5).
    ///
    /// # Errors
    /// The contract's 403 body.
    pub fn require_role(&self, role: &str) -> Result<(), ApiError> {
        if self.role == role || self.role == domain::ADMIN_ROLE {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorBody::new("insufficient_role")
                    .message("User role does not have access to this resource"),
            ))
        }
    }

    /// 403 `missing_permission` unless `permission` is in the `permissions` claim.
    ///
    /// # Errors
    /// The contract's 403 body.
    pub fn require_permission(&self, permission: &str) -> Result<(), ApiError> {
        if self.permissions.iter().any(|p| p == permission) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorBody::new("missing_permission").message(format!(
                    "User does not have required permission: {permission}"
                )),
            ))
        }
    }
}

fn unauthorized(error: &str, message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorBody::new(error).message(message),
    )
}

/// The contract's answer to an authentication failure.
#[must_use]
pub fn auth_error_response(error: &AuthError) -> ApiError {
    match error {
        AuthError::MissingToken => {
            unauthorized("missing_token", "Authorization header is required")
        }
        AuthError::InvalidFormat => unauthorized(
            "invalid_token_format",
            "Authorization header must use Bearer token",
        ),
        AuthError::InvalidToken => unauthorized("invalid_token", "Token validation failed"),
        AuthError::Expired => unauthorized("expired_token", "Token has expired"),
        AuthError::InvalidIssuer => unauthorized("invalid_issuer", "Token issuer is invalid"),
        AuthError::Revoked => unauthorized("invalid_token", "Token has been revoked"),
        AuthError::InvalidClaims => unauthorized("invalid_claims", "Token claims are invalid"),
        AuthError::Unavailable(detail) => {
            tracing::warn!(%detail, "token revocation store unavailable");
            ApiError::unavailable()
        }
    }
}

/// The `Authorization` header as text; a value that is not valid UTF-8 keeps its readable
/// prefix so that the `Bearer ` check still decides the answer.
fn authorization_header(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

impl FromRequest for AuthenticatedUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let identity = req
            .app_data::<web::Data<ApiState>>()
            .and_then(|state| state.identity.clone());
        let authorization = authorization_header(req);
        Box::pin(async move {
            let Some(identity) = identity else {
                return Err(ApiError::unavailable());
            };
            identity
                .authenticate(authorization.as_deref())
                .await
                .map(Self::from)
                .map_err(|e| auth_error_response(&e))
        })
    }
}
