//! The one error type every port returns.

/// Why a port call failed.
///
/// The variants are chosen by what the caller must do about them, not by which backend
/// produced them: `Unavailable` and `Timeout` mean "try again later" (HTTP 503), `NotFound`
/// and `Conflict` are answers about the data, `Backend` is anything else (HTTP 500).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// The backend could not be reached: connection refused, pool exhausted, breaker open.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// The backend did not answer within the configured time.
    #[error("backend timed out: {0}")]
    Timeout(String),
    /// The record the call addressed does not exist.
    #[error("not found")]
    NotFound,
    /// The write would break a uniqueness or state rule; the text says which.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Any other backend failure. The text is diagnostic and never shown to clients.
    #[error("backend error: {0}")]
    Backend(String),
}

impl PortError {
    /// True when retrying later may succeed (the backend was down or slow), which the HTTP
    /// layer answers with 503 rather than 500.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Timeout(_))
    }
}

/// Shorthand for results of port calls.
pub type PortResult<T> = Result<T, PortError>;
