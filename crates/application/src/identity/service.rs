//! The identity use cases: register, login, refresh, logout, bearer authentication and
//! revoking every token of a user.

use std::sync::Arc;

use domain::user::MIN_PASSWORD_CHARS;
use domain::{
    Email, RegistrationError, RegistrationInput, USER_ROLE, UserId, UserProfile,
    registration_attributes,
};
use ports::{
    AccessGrants, Clock, NewUser, PortError, RefreshTokenRecord, RefreshTokenStore,
    RevocationStore, RotateOutcome, UserRecord, UserRepository,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::errors::{
    AccountStatusError, AuthError, LoginError, RefreshError, RegisterError, StorageFailure,
};
use super::jwt::{AccessIdentity, IssuedToken, TokenCodec, TokenRejection, TokenUse};
use super::password::PasswordHasher;
use super::verified_tokens::{VerifiedToken, VerifiedTokens};

/// The login body (4.2); `username` stands in for a missing `email` [D-36]. Wrong JSON
/// types fail deserialisation, which the HTTP layer answers with the 400 body.
#[derive(Clone, Default, Deserialize)]
pub struct LoginInput {
    /// The account's email.
    pub email: Option<String>,
    /// The account's username, used only when `email` is absent.
    pub username: Option<String>,
    /// The password.
    pub password: Option<String>,
}

impl std::fmt::Debug for LoginInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginInput")
            .field("email", &self.email)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// The refresh and logout body (4.3, 4.4).
#[derive(Clone, Default, Deserialize)]
pub struct RefreshInput {
    /// The refresh token.
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for RefreshInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshInput")
            .field("refresh_token", &"[redacted]")
            .finish()
    }
}

impl RefreshInput {
    /// The token when present and non-empty.
    ///
    /// # Errors
    /// The details text of the 400 answer.
    pub fn token(&self) -> Result<&str, String> {
        match self.refresh_token.as_deref() {
            Some(token) if !token.is_empty() => Ok(token),
            Some(_) => Err("refresh_token must not be empty".to_owned()),
            None => Err("refresh_token is required".to_owned()),
        }
    }
}

/// A successful login (4.2). `Debug` leaves the tokens out.
#[derive(Clone)]
pub struct LoginSuccess {
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
    /// The account, `last_login_at` set to this login.
    pub user: UserProfile,
    /// Active role names, sorted.
    pub roles: Vec<String>,
    /// Permission strings, sorted and de-duplicated.
    pub permissions: Vec<String>,
}

/// A new token pair (4.3). `Debug` leaves the tokens out.
#[derive(Clone)]
pub struct TokenPair {
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
}

impl std::fmt::Debug for LoginSuccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginSuccess")
            .field("user", &self.user.id)
            .field("roles", &self.roles)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// The ports and settings the identity service runs on.
pub struct IdentityDeps {
    /// Accounts.
    pub users: Arc<dyn UserRepository>,
    /// Refresh-token records.
    pub refresh_tokens: Arc<dyn RefreshTokenStore>,
    /// Access-token revocation (usually a [`super::LayeredRevocationStore`]).
    pub revocations: Arc<dyn RevocationStore>,
    /// Token signing.
    pub codec: TokenCodec,
    /// bcrypt.
    pub hasher: PasswordHasher,
    /// Now.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for IdentityDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityDeps")
            .field("codec", &self.codec)
            .field("hasher", &self.hasher)
            .finish_non_exhaustive()
    }
}

/// Registration, login, token refresh and revocation. Cheap to clone.
#[derive(Clone)]
pub struct IdentityService {
    inner: Arc<IdentityDeps>,
    /// Tokens that already passed the checks that cannot change.
    verified: Arc<VerifiedTokens>,
}

impl std::fmt::Debug for IdentityService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityService")
            .field("deps", &self.inner)
            .finish()
    }
}

/// SHA-256 of the token text, lowercase hex: what the `tokens` table stores (6.6).
#[must_use]
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn register_storage_error(error: PortError) -> RegisterError {
    if error.is_unavailable() {
        RegisterError::Unavailable(error.to_string())
    } else {
        RegisterError::Unexpected(error.to_string())
    }
}

fn login_storage_error(error: PortError) -> LoginError {
    if error.is_unavailable() {
        LoginError::Unavailable(error.to_string())
    } else {
        LoginError::Internal(error.to_string())
    }
}

fn refresh_storage_error(error: PortError) -> RefreshError {
    if error.is_unavailable() {
        RefreshError::Unavailable(error.to_string())
    } else {
        RefreshError::Internal(error.to_string())
    }
}

impl IdentityService {
    /// Builds the service.
    #[must_use]
    pub fn new(deps: IdentityDeps) -> Self {
        Self {
            inner: Arc::new(deps),
            verified: Arc::new(VerifiedTokens::default()),
        }
    }

    /// The token codec (tests and benches sign with it).
    #[must_use]
    pub fn codec(&self) -> &TokenCodec {
        &self.inner.codec
    }

    fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    /// Registers an account (4.1): validation in contract order, email then username
    /// uniqueness, bcrypt, then user + `user` role + attributes in one transaction.
    ///
    /// # Errors
    /// One [`RegisterError`] per row of the contract's table.
    pub async fn register(&self, input: &RegistrationInput) -> Result<UserProfile, RegisterError> {
        let stored_text = [
            &input.username,
            &input.email,
            &input.first_name,
            &input.last_name,
            &input.department,
            &input.position,
        ];
        if stored_text
            .iter()
            .any(|v| v.as_deref().is_some_and(has_nul))
        {
            return Err(RegisterError::Invalid(RegistrationError::InvalidRequest(
                "text fields must not contain NUL characters".to_owned(),
            )));
        }
        let valid = input.validate()?;
        let users = &self.inner.users;
        if users
            .email_exists_any(&valid.email)
            .await
            .map_err(register_storage_error)?
        {
            return Err(RegisterError::EmailTaken);
        }
        if users
            .username_taken(valid.username.as_str())
            .await
            .map_err(register_storage_error)?
        {
            return Err(RegisterError::UsernameTaken);
        }
        let password_hash = self
            .inner
            .hasher
            .hash(valid.password.expose())
            .await
            .map_err(|e| RegisterError::Unexpected(e.to_string()))?;
        let new_user = NewUser {
            id: UserId::new_v7(),
            username: valid.username,
            email: valid.email,
            password_hash,
            first_name: valid.first_name,
            last_name: valid.last_name,
            department: valid.department,
            position: valid.position,
        };
        users
            .create_with_role_and_attributes(
                &new_user,
                USER_ROLE,
                &registration_attributes(),
                self.now(),
            )
            .await
            .map_err(|error| match error {
                PortError::NotFound => RegisterError::MissingRole,
                PortError::Conflict(what) if what == "email" => RegisterError::EmailTaken,
                PortError::Conflict(what) if what == "username" => RegisterError::UsernameTaken,
                other => register_storage_error(other),
            })
    }

    async fn find_login_account(
        &self,
        input: &LoginInput,
    ) -> Result<Option<UserRecord>, LoginError> {
        let users = &self.inner.users;
        // PostgreSQL text cannot hold NUL: such a name can match no account.
        if [&input.email, &input.username]
            .iter()
            .any(|v| v.as_deref().is_some_and(has_nul))
        {
            return Err(LoginError::InvalidRequest(
                "email and username must not contain NUL characters".into(),
            ));
        }
        match (&input.email, &input.username) {
            (Some(email), _) => {
                let email = Email::parse(email).map_err(|_| {
                    LoginError::InvalidRequest("email must be a valid address".into())
                })?;
                check_login_password(input.password.as_deref())?;
                users
                    .find_by_email(&email)
                    .await
                    .map_err(login_storage_error)
            }
            (None, Some(username)) => {
                let username = username.trim();
                if username.is_empty() {
                    return Err(LoginError::InvalidRequest("username is required".into()));
                }
                check_login_password(input.password.as_deref())?;
                users
                    .find_by_username(username)
                    .await
                    .map_err(login_storage_error)
            }
            (None, None) => Err(LoginError::InvalidRequest("email is required".into())),
        }
    }

    /// Logs in (4.2): lookup by email (or username [D-36]), a dummy comparison for unknown
    /// accounts [D-16], `account_disabled` only after a correct password, tokens, then
    /// `last_login_at` (whose failure does not fail the login).
    ///
    /// # Errors
    /// One [`LoginError`] per row of the contract's table.
    pub async fn login(&self, input: &LoginInput) -> Result<LoginSuccess, LoginError> {
        let record = self.find_login_account(input).await?;
        let password = input.password.as_deref().unwrap_or_default();
        let hasher = &self.inner.hasher;
        let Some(record) = record else {
            hasher.verify_dummy(password).await;
            return Err(LoginError::InvalidCredentials);
        };
        if !hasher.verify(password, &record.password_hash).await {
            return Err(LoginError::InvalidCredentials);
        }
        if !record.profile.is_active {
            return Err(LoginError::AccountDisabled);
        }
        let mut user = record.profile;
        let now = self.now();
        let grants = self
            .inner
            .users
            .active_grants(user.id, now)
            .await
            .map_err(|e| {
                if e.is_unavailable() {
                    LoginError::Unavailable(e.to_string())
                } else {
                    LoginError::TokenGeneration(e.to_string())
                }
            })?;
        let (access, refresh) =
            self.issue_pair(user.id, &grants, now, None)
                .await
                .map_err(|e| match e {
                    IssueFailure::Storage(e) if e.is_unavailable() => {
                        LoginError::Unavailable(e.to_string())
                    }
                    other => LoginError::TokenGeneration(other.to_string()),
                })?;
        if let Err(error) = self.inner.users.set_last_login(user.id, now).await {
            tracing::warn!(%error, user_id = %user.id, "could not record the login time");
        }
        user.last_login_at = Some(now);
        Ok(LoginSuccess {
            access_token: access.token,
            refresh_token: refresh.token,
            expires_in: self.inner.codec.access_ttl_seconds(),
            user,
            roles: grants.roles,
            permissions: grants.permissions,
        })
    }

    /// Signs an access and a refresh token; stores the refresh record, as a new family
    /// (`rotating: None`) or as the rotation of `rotating`.
    async fn issue_pair(
        &self,
        user: UserId,
        grants: &AccessGrants,
        now: OffsetDateTime,
        rotating: Option<uuid::Uuid>,
    ) -> Result<(IssuedToken, IssuedToken), IssueFailure> {
        let codec = &self.inner.codec;
        let access = codec
            .issue_access(user, grants, now)
            .map_err(|e| IssueFailure::Signing(e.to_string()))?;
        let refresh = codec
            .issue_refresh(user, now)
            .map_err(|e| IssueFailure::Signing(e.to_string()))?;
        let record = RefreshTokenRecord {
            jti: refresh.jti,
            user_id: user,
            family: refresh.jti,
            digest: token_digest(&refresh.token),
            expires_at: refresh.expires_at,
        };
        let store = &self.inner.refresh_tokens;
        match rotating {
            None => store.store(&record).await.map_err(IssueFailure::Storage)?,
            Some(old) => match store
                .rotate(old, &record, now)
                .await
                .map_err(IssueFailure::Storage)?
            {
                RotateOutcome::Rotated => {}
                RotateOutcome::Reused { family } => return Err(IssueFailure::Reused(family)),
                RotateOutcome::NotFound => return Err(IssueFailure::NotLive),
            },
        }
        Ok((access, refresh))
    }

    /// Exchanges a refresh token for a new pair (4.3), rotating it atomically. Presenting a
    /// token that was already rotated revokes its whole family (reuse detection).
    ///
    /// # Errors
    /// [`RefreshError::InvalidToken`] for every refusal of the contract's 401 row.
    pub async fn refresh(&self, token: &str) -> Result<TokenPair, RefreshError> {
        let now = self.now();
        let claims = self
            .inner
            .codec
            .verify(token, TokenUse::Refresh, now)
            .map_err(|_| RefreshError::InvalidToken)?;
        let (Some(jti), Some(user_id)) = (claims.jti(), claims.user_id()) else {
            return Err(RefreshError::InvalidToken);
        };
        let user = self
            .inner
            .users
            .find_by_id(user_id)
            .await
            .map_err(refresh_storage_error)?;
        match user {
            Some(user) if user.profile.is_active => {}
            _ => return Err(RefreshError::InvalidToken),
        }
        let grants = self
            .inner
            .users
            .active_grants(user_id, now)
            .await
            .map_err(refresh_storage_error)?;
        match self.issue_pair(user_id, &grants, now, Some(jti)).await {
            Ok((access, refresh)) => Ok(TokenPair {
                access_token: access.token,
                refresh_token: refresh.token,
                expires_in: self.inner.codec.access_ttl_seconds(),
            }),
            Err(IssueFailure::Reused(family)) => {
                tracing::warn!(%user_id, %family, "refresh token reused; revoking its family");
                self.inner
                    .refresh_tokens
                    .revoke_family(family, now)
                    .await
                    .map_err(refresh_storage_error)?;
                Err(RefreshError::InvalidToken)
            }
            Err(IssueFailure::NotLive) => Err(RefreshError::InvalidToken),
            Err(IssueFailure::Storage(e)) => Err(refresh_storage_error(e)),
            Err(IssueFailure::Signing(e)) => Err(RefreshError::Internal(e)),
        }
    }

    /// Logs out (4.4): revokes the refresh token's record when its signature is valid (even
    /// if expired), and the accompanying access token's `jti` until its `exp` when that
    /// token is valid. Invalid, unknown or revoked tokens are not an error.
    ///
    /// # Errors
    /// Only storage failures while revoking.
    pub async fn logout(
        &self,
        refresh_token: &str,
        access_token: Option<&str>,
    ) -> Result<(), StorageFailure> {
        let now = self.now();
        let codec = &self.inner.codec;
        if let Ok(claims) = codec.signed_claims(refresh_token)
            && let Some(jti) = claims
                .get("jti")
                .and_then(serde_json::Value::as_str)
                .and_then(|s| uuid::Uuid::parse_str(s).ok())
        {
            self.inner
                .refresh_tokens
                .revoke(jti, now)
                .await
                .map_err(StorageFailure)?;
        }
        if let Some(token) = access_token
            && let Ok(checked) = codec.verify(token, TokenUse::Access, now)
            && let Some(jti) = checked.jti()
        {
            self.inner
                .revocations
                .revoke_jti(jti, checked.expires_at())
                .await
                .map_err(StorageFailure)?;
        }
        Ok(())
    }

    /// Ends every session of a user (deletion, deactivation; 6.7): revokes all refresh
    /// tokens and sets the access-token cut-off to now.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn revoke_all_for_user(&self, user: UserId) -> Result<(), StorageFailure> {
        let now = self.now();
        self.inner
            .revocations
            .set_user_cutoff(user, now)
            .await
            .map_err(StorageFailure)?;
        self.inner
            .refresh_tokens
            .revoke_all_for_user(user, now)
            .await
            .map_err(StorageFailure)?;
        Ok(())
    }

    /// Marks the account with `email` active or inactive (an operator's action; there is no
    /// route for it). Deactivation ends every session first (6.7: refresh tokens revoked,
    /// access tokens issued until now refused, announced to other instances), then marks
    /// the account inactive, so a failure half way leaves it locked out rather than active
    /// with live tokens. An inactive account's login answers `account_disabled` (4.2).
    ///
    /// # Errors
    /// An invalid email, no live account with it, or a storage failure.
    pub async fn set_account_active(
        &self,
        email: &str,
        active: bool,
    ) -> Result<UserId, AccountStatusError> {
        let parsed =
            Email::parse(email).map_err(|_| AccountStatusError::InvalidEmail(email.to_owned()))?;
        let user = self
            .inner
            .users
            .find_by_email(&parsed)
            .await
            .map_err(AccountStatusError::Storage)?
            .ok_or_else(|| AccountStatusError::NotFound(parsed.as_str().to_owned()))?
            .profile
            .id;
        if !active {
            self.revoke_all_for_user(user)
                .await
                .map_err(|failure| AccountStatusError::Storage(failure.0))?;
        }
        self.inner
            .users
            .set_active(user, active, self.now())
            .await
            .map_err(AccountStatusError::Storage)?;
        Ok(user)
    }

    /// Authenticates a request from its `Authorization` header value (section 5), checks in
    /// the contract's order, the revocation lookup included.
    ///
    /// # Errors
    /// The first failing check.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<AccessIdentity, AuthError> {
        let header = authorization.ok_or(AuthError::MissingToken)?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or(AuthError::InvalidFormat)?;
        let now = self.now();
        if let Some(known) = self.verified.get(token) {
            // Signature and claims were checked before; only time and revocation can
            // have changed since.
            if known.expires_at <= now.unix_timestamp() {
                return Err(AuthError::Expired);
            }
            let identity = &known.identity;
            self.check_not_revoked(
                identity.jti,
                Some(identity.user_id),
                Some(identity.issued_at),
            )
            .await?;
            return Ok(identity.clone());
        }
        let checked = self
            .inner
            .codec
            .verify(token, TokenUse::Access, now)
            .map_err(|rejection| match rejection {
                TokenRejection::Expired => AuthError::Expired,
                TokenRejection::InvalidIssuer => AuthError::InvalidIssuer,
                TokenRejection::InvalidClaims => AuthError::InvalidClaims,
                TokenRejection::Revoked => AuthError::Revoked,
                TokenRejection::Invalid => AuthError::InvalidToken,
            })?;
        self.check_not_revoked(checked.jti(), checked.user_id(), checked.issued_at())
            .await?;
        let identity = checked
            .access_identity()
            .map_err(|_| AuthError::InvalidClaims)?;
        self.verified.remember(
            token,
            VerifiedToken {
                expires_at: checked.exp,
                identity: identity.clone(),
            },
        );
        Ok(identity)
    }

    /// Fails when the token `jti` is revoked, or when `user`'s tokens issued at or before
    /// `issued_at` (a token without `iat` counts as issued before) were cut off.
    async fn check_not_revoked(
        &self,
        jti: Option<uuid::Uuid>,
        user: Option<UserId>,
        issued_at: Option<i64>,
    ) -> Result<(), AuthError> {
        let revocations = &self.inner.revocations;
        let unavailable = |e: PortError| AuthError::Unavailable(e.to_string());
        if let Some(jti) = jti
            && revocations.is_jti_revoked(jti).await.map_err(unavailable)?
        {
            return Err(AuthError::Revoked);
        }
        if let Some(user) = user
            && let Some(cutoff) = revocations.user_cutoff(user).await.map_err(unavailable)?
            && issued_at.is_none_or(|iat| iat <= cutoff.unix_timestamp())
        {
            return Err(AuthError::Revoked);
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
enum IssueFailure {
    #[error("signing failed: {0}")]
    Signing(String),
    #[error("storage failed: {0}")]
    Storage(PortError),
    #[error("refresh token reused")]
    Reused(uuid::Uuid),
    #[error("refresh token not live")]
    NotLive,
}

/// PostgreSQL text cannot store NUL, so such input is refused before it reaches storage.
fn has_nul(text: &str) -> bool {
    text.contains('\0')
}

fn check_login_password(password: Option<&str>) -> Result<(), LoginError> {
    match password {
        None => Err(LoginError::InvalidRequest("password is required".into())),
        Some(p) if p.chars().count() < MIN_PASSWORD_CHARS => Err(LoginError::InvalidRequest(
            "password must be at least 8 characters".into(),
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_digest_is_lowercase_sha256_hex() {
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn request_bodies_never_print_secrets() {
        let login = LoginInput {
            email: Some("a@b.co".into()),
            username: None,
            password: Some("Secret@123".into()),
        };
        let shown = format!("{login:?}");
        assert!(
            shown.contains("a@b.co") && !shown.contains("Secret@123"),
            "{shown}"
        );
        let refresh = RefreshInput {
            refresh_token: Some("eyJ.secret.token".into()),
        };
        assert!(!format!("{refresh:?}").contains("secret"));
        assert_eq!(refresh.token(), Ok("eyJ.secret.token"));
        assert!(RefreshInput::default().token().is_err());
        assert!(
            RefreshInput {
                refresh_token: Some(String::new())
            }
            .token()
            .is_err()
        );
    }

    #[test]
    fn login_passwords_need_eight_characters() {
        assert!(check_login_password(None).is_err());
        assert!(check_login_password(Some("1234567")).is_err());
        assert!(check_login_password(Some("éééééééé")).is_ok());
    }
}
