//! Failures of the authorization service.

use ports::PortError;

/// Why an authorization call failed. `Storage` is an infrastructure failure (HTTP 500, or
/// 503 when [`PortError::is_unavailable`]); the others are answers about the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    /// The user does not exist (or is deleted).
    #[error("user not found")]
    UserNotFound,
    /// No role with that name or id.
    #[error("role not found")]
    RoleNotFound,
    /// No permission with that id.
    #[error("permission not found")]
    PermissionNotFound,
    /// Revoking a role the user does not hold.
    #[error("user does not have this role")]
    NotAssigned,
    /// The change would duplicate an active row; the text says which
    /// (`user already has this role`, `role already exists`, ...).
    #[error("{0}")]
    Conflict(String),
    /// Input the storage would reject (empty or over-long names and values).
    #[error("{0}")]
    InvalidInput(String),
    /// Storage failed while loading or changing data.
    #[error("authorization storage failed: {0}")]
    Storage(PortError),
}

impl From<PortError> for AuthorizationError {
    fn from(error: PortError) -> Self {
        Self::Storage(error)
    }
}
