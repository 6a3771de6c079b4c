//! The failures of the identity use cases, one enum per use case, each variant matching one
//! row of the contract's tables so that `http-api` maps them one to one.

use domain::RegistrationError;
use ports::PortError;

/// Registration (4.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// A structural or content rule failed (the two 400 answers).
    #[error(transparent)]
    Invalid(#[from] RegistrationError),
    /// 409, `An account with this email already exists`.
    #[error("email already registered")]
    EmailTaken,
    /// 409, `This username is already taken`.
    #[error("username already taken")]
    UsernameTaken,
    /// 500, the `user` role is missing.
    #[error("the user role does not exist")]
    MissingRole,
    /// 503, storage unreachable.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// 500, anything else.
    #[error("registration failed: {0}")]
    Unexpected(String),
}

/// Login (4.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// 400, the details text says what is wrong.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// 401.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 403, only after a correct password.
    #[error("account disabled")]
    AccountDisabled,
    /// 500, `token_generation_failed`.
    #[error("token generation failed: {0}")]
    TokenGeneration(String),
    /// 503, storage unreachable.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// 500, another storage failure.
    #[error("login failed: {0}")]
    Internal(String),
}

/// Refresh (4.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    /// 401 `invalid_token`: any verification failure, unknown/revoked/reused token, user
    /// deleted or inactive.
    #[error("invalid or expired refresh token")]
    InvalidToken,
    /// 503, storage unreachable.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// 500.
    #[error("refresh failed: {0}")]
    Internal(String),
}

/// Bearer authentication (section 5), in the order of its table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing token")]
    MissingToken,
    /// The header does not start with `Bearer `.
    #[error("invalid token format")]
    InvalidFormat,
    /// Malformed, bad signature, wrong algorithm, no `exp`, wrong `aud` or `type`.
    #[error("invalid token")]
    InvalidToken,
    /// `exp` in the past.
    #[error("expired token")]
    Expired,
    /// `iss` missing or wrong.
    #[error("invalid issuer")]
    InvalidIssuer,
    /// Revoked `jti` or issued at/before the user's cut-off.
    #[error("token revoked")]
    Revoked,
    /// `user_id` missing or not a UUID.
    #[error("invalid claims")]
    InvalidClaims,
    /// The revocation store could not be read (fail closed: 503).
    #[error("revocation store unavailable: {0}")]
    Unavailable(String),
}

/// Why an operator could not activate or deactivate an account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountStatusError {
    /// The text is not an email address.
    #[error("{0:?} is not an email address")]
    InvalidEmail(String),
    /// No live (non-deleted) account has this email.
    #[error("no account with the email {0:?}")]
    NotFound(String),
    /// The database or the revocation store failed; the account may be locked out (its
    /// sessions ended) without being marked inactive yet, so the command should be rerun.
    #[error("storage failure: {0}")]
    Storage(PortError),
}

/// A storage failure of a use case that otherwise always succeeds (logout, revoke-all).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StorageFailure(pub PortError);

impl StorageFailure {
    /// True when the backend was down or slow (503 rather than 500).
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        self.0.is_unavailable()
    }
}
