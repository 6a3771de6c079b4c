//! The admin gate of contract 9.0: after bearer authentication, the database (not the
//! token's `role` claim) decides whether the caller holds the `admin` role.

use actix_web::http::StatusCode;

use crate::{
    ApiState,
    auth::AuthenticatedUser,
    errors::{ApiError, ErrorBody},
};

/// Passes admins; answers 403 for everyone else and 500 when the role lookup fails, with
/// the bodies of 9.0. (A caller id that is not a UUID never gets past authentication.)
pub(crate) async fn require_admin(
    state: &ApiState,
    caller: &AuthenticatedUser,
) -> Result<(), ApiError> {
    let Some(authorization) = state.authorization.as_deref() else {
        return Err(ApiError::unavailable());
    };
    match authorization.is_admin(caller.user_id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ErrorBody::new("forbidden")
            .message("Admin role required for this operation")
            .into_error(StatusCode::FORBIDDEN)),
        Err(error) => {
            tracing::error!(%error, "admin role lookup failed");
            Err(ErrorBody::new("authorization_failed")
                .message("Failed to verify admin role")
                .into_error(StatusCode::INTERNAL_SERVER_ERROR))
        }
    }
}
