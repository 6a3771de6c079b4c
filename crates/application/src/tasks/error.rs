//! The one error type of the task use cases, shaped for the HTTP layer's mapping.

use domain::DomainError;
use ports::PortError;

/// Why a task use case failed. Suggested HTTP mapping (contract section 7):
///
/// | variant | status | body |
/// |---|---|---|
/// | `Validation` | 400 | `{"error":"invalid_request","message":"Invalid request format","details":<text>}` |
/// | `InvalidCursor` | 400 | as `Validation` |
/// | `NotFound` | 404 | `{"error":"task not found"}` |
/// | `PreconditionFailed` | 412 | `{"error":"precondition_failed",...}` |
/// | `IdempotencyKeyReused` | 422 | the key was used for another request |
/// | `IdempotencyInProgress` | 409 | a request with the key is still running |
/// | `Storage` | 503 when `is_unavailable()`, else 500 | the route's storage-failure body |
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The input broke a rule; the text goes to `details`.
    #[error("{0}")]
    Validation(String),
    /// A `cursor` that is malformed, tampered with, or issued for another ordering.
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
    /// No live task has this id.
    #[error("task not found")]
    NotFound,
    /// `If-Match` named a version that is not the current one.
    #[error("precondition failed: the task was changed since the given version")]
    PreconditionFailed,
    /// The `Idempotency-Key` was already used for a request with another body.
    #[error("the idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    /// A request with this `Idempotency-Key` is still being processed.
    #[error("a request with this idempotency key is still in progress")]
    IdempotencyInProgress,
    /// Storage failed.
    #[error("storage failure: {0}")]
    Storage(PortError),
}

impl TaskError {
    /// True when the failure is a backend outage or timeout (HTTP 503 rather than 500).
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Storage(error) if error.is_unavailable())
    }
}

impl From<DomainError> for TaskError {
    fn from(error: DomainError) -> Self {
        Self::Validation(error.to_string())
    }
}

impl From<PortError> for TaskError {
    /// `NotFound` stays `NotFound`; everything else is a storage failure. Use cases that
    /// give `Conflict` a meaning map it themselves before this applies.
    fn from(error: PortError) -> Self {
        match error {
            PortError::NotFound => Self::NotFound,
            other => Self::Storage(other),
        }
    }
}
