//! The one error type of the domain: a value failed its invariant.

/// Why a value could not be built. The texts are diagnostic (they end up in the `details`
/// field of 400 bodies, whose wording clients must not parse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// An identifier was not a UUID.
    #[error("invalid id: {0:?} is not a UUID")]
    InvalidId(String),
    /// A task title was blank or longer than 255 characters after trimming.
    #[error("title must be 1 to 255 characters after trimming")]
    InvalidTitle,
    /// A task status outside the allowed set.
    #[error("invalid status {0:?}: allowed values are pending, in_progress, completed, cancelled")]
    InvalidStatus(String),
    /// A task priority outside the allowed set.
    #[error("invalid priority {0:?}: allowed values are low, medium, high, urgent")]
    InvalidPriority(String),
    /// A due date that is neither RFC 3339 nor `YYYY-MM-DD`.
    #[error("invalid due date {0:?}: expected an RFC 3339 timestamp or YYYY-MM-DD")]
    InvalidDueDate(String),
    /// An email address that fails the syntactic check.
    #[error("invalid email address")]
    InvalidEmail,
    /// A username that breaks the registration rules; the text is the contract's.
    #[error("{0}")]
    InvalidUsername(String),
    /// A duration text that is not in the form of contract section 1.6.
    #[error("invalid duration {0:?}")]
    InvalidDuration(String),
    /// An attribute data type other than string, number, boolean or date.
    #[error("invalid attribute type {0:?}")]
    InvalidAttributeType(String),
    /// A permission text that is not `resource:action`.
    #[error("invalid permission {0:?}: expected resource:action")]
    InvalidPermission(String),
    /// Text holding a NUL character, which no stored text field may contain (PostgreSQL
    /// text cannot hold it, and it is never meaningful in a title or description).
    #[error("{0} must not contain NUL characters")]
    NulCharacter(&'static str),
}
