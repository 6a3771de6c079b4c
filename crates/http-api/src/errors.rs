//! Error bodies of the contract (section 1.4) and the handlers for requests that never
//! reach a route: unknown paths, oversize or unreadable bodies.

use actix_web::{
    HttpRequest, HttpResponse, ResponseError,
    error::{JsonPayloadError, PayloadError},
    http::StatusCode,
};
use serde::Serialize;

/// The contract's largest accepted body (D-37).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// An error body: `error` always, the other fields when they say something.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ErrorBody {
    /// A body with only the `error` field.
    #[must_use]
    pub fn new(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            message: None,
            details: None,
            reason: None,
        }
    }

    /// Adds the human-readable `message`.
    #[must_use]
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Adds the diagnostic `details`.
    #[must_use]
    pub fn details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// Adds the authorization decision's `reason`.
    #[must_use]
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// The error carrying this body with `status`, for handlers that return `Result`.
    #[must_use]
    pub fn into_error(self, status: StatusCode) -> ApiError {
        ApiError::new(status, self)
    }

    /// The response carrying this body.
    #[must_use]
    pub fn respond(&self, status: StatusCode) -> HttpResponse {
        HttpResponse::build(status).json(self)
    }
}

/// An error raised while reading a request, answered with the contract's body.
#[derive(Debug, thiserror::Error)]
#[error("{}", body.error)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    /// An error with this status and body.
    #[must_use]
    pub fn new(status: StatusCode, body: ErrorBody) -> Self {
        Self { status, body }
    }

    /// 413 for a body over [`MAX_BODY_BYTES`] (D-37).
    #[must_use]
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorBody::new("request_too_large").message("Request body exceeds 1 MiB"),
        )
    }

    /// 503 when a backend the request needs does not answer.
    #[must_use]
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorBody::new("service_unavailable")
                .message("A required backend service is unavailable; try again shortly"),
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.body.respond(self.status)
    }
}

/// The JSON answer for a path no route matches (section 1.5).
pub async fn route_not_found() -> HttpResponse {
    ErrorBody::new("not_found")
        .message("Route not found")
        .respond(StatusCode::NOT_FOUND)
}

/// Maps JSON extractor failures: oversize is 413; anything else is the generic 400 that
/// routes without a more specific body use.
pub fn json_error(error: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let too_large = matches!(
        error,
        JsonPayloadError::Overflow { .. }
            | JsonPayloadError::OverflowKnownLength { .. }
            | JsonPayloadError::Payload(PayloadError::Overflow)
    );
    if too_large {
        ApiError::too_large().into()
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorBody::new("invalid_request")
                .message("Invalid request format")
                .details(error.to_string()),
        )
        .into()
    }
}
