//! Identity: registration, login, rotating refresh tokens, logout and revocation
//! (contract sections 4 to 6).
//!
//! - [`jwt`]: HS256 tokens with the claims of 6.2/6.3, verified in the order of section 5.
//! - [`password`]: bcrypt on the blocking pool behind a per-CPU semaphore.
//! - [`revocation`]: the database as source of truth with Redis as the fast path.
//! - [`revocation_view`]: the answers kept in process, invalidated across instances.
//! - [`verified_tokens`]: tokens already verified, so a repeated token skips the signature.
//! - [`service`]: the use cases, [`IdentityService`].
//!
//! The HTTP layer calls [`IdentityService::authenticate`] for every protected route and the
//! four `/auth` use cases for the public ones; user deletion and deactivation call
//! [`IdentityService::revoke_all_for_user`].

pub mod errors;
pub mod jwt;
pub mod password;
pub mod revocation;
#[cfg(test)]
mod revocation_fakes;
pub mod revocation_view;
pub mod service;
pub mod users;
pub mod verified_tokens;

pub use errors::{
    AccountStatusError, AuthError, LoginError, RefreshError, RegisterError, StorageFailure,
};
pub use jwt::{
    AUDIENCE, AccessIdentity, ISSUER, IssuedToken, JwtError, JwtSettings, TokenCodec,
    TokenRejection, TokenUse,
};
pub use password::{HashError, PasswordHasher};
pub use revocation::LayeredRevocationStore;
pub use revocation_view::{
    CachedRevocationStore, REVOCATION_VIEW_TTL, RevocationChange, RevocationNotifier,
};
pub use service::{
    IdentityDeps, IdentityService, LoginInput, LoginSuccess, RefreshInput, TokenPair, token_digest,
};
pub use users::{UserDirectory, UserRouteError};
