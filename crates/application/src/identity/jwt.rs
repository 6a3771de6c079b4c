//! Issuing and verifying the service's JWTs (contract 6.1 to 6.4): HS256 only, the claims
//! of 6.2 (access) and 6.3 (refresh), and verification that reports failures in the order
//! of section 5.
//!
//! jsonwebtoken checks only the signature and the algorithm here; every claim is then
//! checked by hand, because the library's own order (expiry before audience, for instance)
//! is not the contract's.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ports::AccessGrants;
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use domain::{UserId, primary_role_claim};

/// The `iss` of every token.
pub const ISSUER: &str = "taskify-backend";
/// The `aud` of every token.
pub const AUDIENCE: &str = "taskify-users";
/// `type` of access tokens.
pub const ACCESS_TYPE: &str = "access";
/// `type` of refresh tokens.
pub const REFRESH_TYPE: &str = "refresh";

/// Why a token was refused, in the order section 5 checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    /// Malformed, bad signature, algorithm not HS256, `exp` missing, wrong `aud`, wrong
    /// `type`, `nbf` in the future.
    #[error("token validation failed")]
    Invalid,
    /// `exp` in the past.
    #[error("token has expired")]
    Expired,
    /// `iss` missing or not `taskify-backend`.
    #[error("token issuer is invalid")]
    InvalidIssuer,
    /// The `jti` is revoked or the token predates the user's cut-off.
    #[error("token has been revoked")]
    Revoked,
    /// `user_id` (or another claim the service reads) missing or malformed.
    #[error("token claims are invalid")]
    InvalidClaims,
}

/// A token just issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The compact JWT.
    pub token: String,
    /// Its `jti`.
    pub jti: Uuid,
    /// Its `exp`.
    pub expires_at: OffsetDateTime,
}

/// The token settings from configuration.
#[derive(Clone)]
pub struct JwtSettings {
    /// `JWT_SECRET`.
    pub secret: String,
    /// `ACCESS_TOKEN_TTL`.
    pub access_ttl: Duration,
    /// `REFRESH_TOKEN_TTL`.
    pub refresh_ttl: Duration,
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("secret", &"[redacted]")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish()
    }
}

/// Why the codec could not be built or a token could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("JWT error: {0}")]
pub struct JwtError(pub String);

#[derive(Serialize)]
struct AccessClaimsOut<'a> {
    user_id: String,
    role: String,
    roles: &'a [String],
    permissions: &'a [String],
    iat: i64,
    exp: i64,
    iss: &'static str,
    aud: &'static str,
    jti: String,
    #[serde(rename = "type")]
    token_type: &'static str,
}

#[derive(Serialize)]
struct RefreshClaimsOut {
    user_id: String,
    #[serde(rename = "type")]
    token_type: &'static str,
    jti: String,
    iat: i64,
    exp: i64,
    iss: &'static str,
    aud: &'static str,
}

/// Which use a token is verified for (6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// `type` absent or `access`.
    Access,
    /// `type` must be `refresh`.
    Refresh,
}

/// Claims that passed signature, `exp`, `aud`, `type`, `nbf` and `iss` checks; the claims
/// the service reads are parsed on demand so that their failures come last (section 5).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedClaims {
    claims: Map<String, Value>,
    /// `exp`, seconds since the epoch.
    pub exp: i64,
}

impl CheckedClaims {
    /// `jti` when present and a UUID.
    #[must_use]
    pub fn jti(&self) -> Option<Uuid> {
        self.claims
            .get("jti")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
    }

    /// Whether a `jti` claim is present at all (legacy tokens have none).
    #[must_use]
    pub fn has_jti(&self) -> bool {
        self.claims.contains_key("jti")
    }

    /// `user_id` when present and a UUID.
    #[must_use]
    pub fn user_id(&self) -> Option<UserId> {
        self.claims
            .get("user_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
    }

    /// `iat`, seconds since the epoch, when present and numeric.
    #[must_use]
    pub fn issued_at(&self) -> Option<i64> {
        self.claims.get("iat").and_then(number_seconds)
    }

    /// `exp` as a time.
    #[must_use]
    pub fn expires_at(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.exp).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// The claims of an access token the handler needs.
    ///
    /// # Errors
    /// [`TokenRejection::InvalidClaims`] when `user_id` is missing or not a UUID, or `jti`,
    /// `role`, `roles` or `permissions` has the wrong shape.
    pub fn access_identity(&self) -> Result<AccessIdentity, TokenRejection> {
        let user_id = self.user_id().ok_or(TokenRejection::InvalidClaims)?;
        let jti = match self.claims.get("jti") {
            None | Some(Value::Null) => None,
            Some(_) => Some(self.jti().ok_or(TokenRejection::InvalidClaims)?),
        };
        let strings = |key: &str| -> Result<Option<Vec<String>>, TokenRejection> {
            match self.claims.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .ok_or(TokenRejection::InvalidClaims)
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err(TokenRejection::InvalidClaims),
            }
        };
        let roles = strings("roles")?;
        let permissions = strings("permissions")?.unwrap_or_default();
        let role = match self.claims.get("role") {
            Some(Value::String(role)) => role.clone(),
            None | Some(Value::Null) => primary_role_claim(roles.as_deref().unwrap_or_default()),
            Some(_) => return Err(TokenRejection::InvalidClaims),
        };
        // Legacy tokens have no `roles`: their one role stands for the list.
        let roles = roles.unwrap_or_else(|| vec![role.clone()]);
        Ok(AccessIdentity {
            user_id,
            role,
            roles,
            permissions,
            jti,
            issued_at: self.issued_at().unwrap_or(0),
        })
    }
}

/// Who an access token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessIdentity {
    /// The caller.
    pub user_id: UserId,
    /// The single role claim.
    pub role: String,
    /// All role names.
    pub roles: Vec<String>,
    /// `resource:action` strings.
    pub permissions: Vec<String>,
    /// The token id (absent on legacy tokens).
    pub jti: Option<Uuid>,
    /// `iat`, seconds since the epoch (0 when absent).
    pub issued_at: i64,
}

fn number_seconds(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value.as_f64().and_then(|f| {
            #[allow(clippy::cast_possible_truncation)] // checked to be in range just below
            let whole = f.floor() as i64;
            (f.is_finite() && f.abs() < 1e15).then_some(whole)
        })
    })
}

/// Signs and verifies tokens with the shared secret.
#[derive(Clone)]
pub struct TokenCodec {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: time::Duration,
    refresh_ttl: time::Duration,
}

impl std::fmt::Debug for TokenCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCodec")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish_non_exhaustive()
    }
}

impl TokenCodec {
    /// Builds the keys from the settings.
    ///
    /// # Errors
    /// An empty secret, or a lifetime too large to represent.
    pub fn new(settings: &JwtSettings) -> Result<Self, JwtError> {
        let secret = settings.secret.as_bytes();
        let encoding = EncodingKey::from_secret(secret).map_err(|e| JwtError(e.to_string()))?;
        let decoding = DecodingKey::from_secret(secret).map_err(|e| JwtError(e.to_string()))?;
        // Only the signature and the algorithm are left to the library; see the module doc.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        let ttl = |d: Duration| {
            time::Duration::try_from(d).map_err(|e| JwtError(format!("token lifetime: {e}")))
        };
        Ok(Self {
            encoding,
            decoding,
            validation,
            access_ttl: ttl(settings.access_ttl)?,
            refresh_ttl: ttl(settings.refresh_ttl)?,
        })
    }

    /// The access-token lifetime in whole seconds (`expires_in`).
    #[must_use]
    pub fn access_ttl_seconds(&self) -> u64 {
        u64::try_from(self.access_ttl.whole_seconds()).unwrap_or(0)
    }

    fn sign<T: Serialize>(&self, claims: &T) -> Result<String, JwtError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| JwtError(e.to_string()))
    }

    /// An access token with the claims of 6.2: `role` by the preference rule, `roles` and
    /// `permissions` sorted and de-duplicated, a fresh `jti`.
    ///
    /// # Errors
    /// Signing failed.
    pub fn issue_access(
        &self,
        user: UserId,
        grants: &AccessGrants,
        now: OffsetDateTime,
    ) -> Result<IssuedToken, JwtError> {
        let mut roles = grants.roles.clone();
        roles.sort_unstable();
        roles.dedup();
        let mut permissions = grants.permissions.clone();
        permissions.sort_unstable();
        permissions.dedup();
        let jti = Uuid::new_v4();
        let iat = now.unix_timestamp();
        let expires_at = whole_second(now) + self.access_ttl;
        let claims = AccessClaimsOut {
            user_id: user.to_string(),
            role: primary_role_claim(&roles),
            roles: &roles,
            permissions: &permissions,
            iat,
            exp: expires_at.unix_timestamp(),
            iss: ISSUER,
            aud: AUDIENCE,
            jti: jti.to_string(),
            token_type: ACCESS_TYPE,
        };
        Ok(IssuedToken {
            token: self.sign(&claims)?,
            jti,
            expires_at,
        })
    }

    /// A refresh token with the claims of 6.3.
    ///
    /// # Errors
    /// Signing failed.
    pub fn issue_refresh(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<IssuedToken, JwtError> {
        let jti = Uuid::new_v4();
        let expires_at = whole_second(now) + self.refresh_ttl;
        let claims = RefreshClaimsOut {
            user_id: user.to_string(),
            token_type: REFRESH_TYPE,
            jti: jti.to_string(),
            iat: now.unix_timestamp(),
            exp: expires_at.unix_timestamp(),
            iss: ISSUER,
            aud: AUDIENCE,
        };
        Ok(IssuedToken {
            token: self.sign(&claims)?,
            jti,
            expires_at,
        })
    }

    /// Checks signature and algorithm only; the claims of a token this service signed.
    ///
    /// # Errors
    /// [`TokenRejection::Invalid`] when the token is malformed, not HS256 or not signed with
    /// the secret.
    pub fn signed_claims(&self, token: &str) -> Result<Map<String, Value>, TokenRejection> {
        match jsonwebtoken::decode::<Value>(token, &self.decoding, &self.validation) {
            Ok(data) => match data.claims {
                Value::Object(map) => Ok(map),
                _ => Err(TokenRejection::Invalid),
            },
            Err(_) => Err(TokenRejection::Invalid),
        }
    }

    /// Verifies a token for `usage` at `now` with the rules of 6.4, failing in the order of
    /// section 5 up to the issuer check. Revocation and the service's own claims come after,
    /// see [`CheckedClaims`].
    ///
    /// # Errors
    /// The first failed rule.
    pub fn verify(
        &self,
        token: &str,
        usage: TokenUse,
        now: OffsetDateTime,
    ) -> Result<CheckedClaims, TokenRejection> {
        let claims = self.signed_claims(token)?;
        let exp = claims
            .get("exp")
            .and_then(number_seconds)
            .ok_or(TokenRejection::Invalid)?;
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => aud == AUDIENCE,
            Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(AUDIENCE)),
            _ => false,
        };
        if !audience_ok {
            return Err(TokenRejection::Invalid);
        }
        let type_ok = match (usage, claims.get("type")) {
            (TokenUse::Access, None) => true,
            (TokenUse::Access, Some(Value::String(t))) => t == ACCESS_TYPE,
            (TokenUse::Refresh, Some(Value::String(t))) => t == REFRESH_TYPE,
            _ => false,
        };
        if !type_ok {
            return Err(TokenRejection::Invalid);
        }
        let now_seconds = now.unix_timestamp();
        if let Some(nbf) = claims.get("nbf") {
            match number_seconds(nbf) {
                Some(nbf) if nbf <= now_seconds => {}
                _ => return Err(TokenRejection::Invalid),
            }
        }
        if exp <= now_seconds {
            return Err(TokenRejection::Expired);
        }
        if claims.get("iss").and_then(Value::as_str) != Some(ISSUER) {
            return Err(TokenRejection::InvalidIssuer);
        }
        Ok(CheckedClaims { claims, exp })
    }
}

fn whole_second(at: OffsetDateTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(at.unix_timestamp()).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    const SECRET: &str = "test-secret";

    fn codec() -> TokenCodec {
        TokenCodec::new(&JwtSettings {
            secret: SECRET.into(),
            access_ttl: Duration::from_secs(3600),
            refresh_ttl: Duration::from_secs(7 * 24 * 3600),
        })
        .unwrap()
    }

    fn sign(alg: Algorithm, claims: &Value) -> String {
        jsonwebtoken::encode(
            &Header::new(alg),
            claims,
            &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn good_claims() -> Value {
        let now = now().unix_timestamp();
        json!({
            "user_id": Uuid::new_v4().to_string(), "role": "user", "roles": ["user"],
            "permissions": ["task:read"], "iat": now, "exp": now + 60,
            "iss": ISSUER, "aud": AUDIENCE, "jti": Uuid::new_v4().to_string(), "type": "access"
        })
    }

    fn with(mut claims: Value, key: &str, value: Value) -> Value {
        claims[key] = value;
        claims
    }

    fn without(mut claims: Value, key: &str) -> Value {
        claims.as_object_mut().unwrap().remove(key);
        claims
    }

    #[test]
    fn issued_access_token_round_trips_with_sorted_claims() {
        let c = codec();
        let user = UserId::new_v7();
        let grants = AccessGrants {
            roles: vec!["user".into(), "admin".into()],
            permissions: vec!["task:read".into(), "audit:read".into(), "task:read".into()],
        };
        let issued = c.issue_access(user, &grants, now()).unwrap();
        let checked = c.verify(&issued.token, TokenUse::Access, now()).unwrap();
        let id = checked.access_identity().unwrap();
        assert_eq!(id.user_id, user);
        assert_eq!(id.role, "admin");
        assert_eq!(id.roles, vec!["admin", "user"]);
        assert_eq!(id.permissions, vec!["audit:read", "task:read"]);
        assert_eq!(id.jti, Some(issued.jti));
        assert_eq!(checked.exp, issued.expires_at.unix_timestamp());
        assert_eq!(
            checked.exp - id.issued_at,
            3600,
            "exp is iat plus the access lifetime"
        );
    }

    #[test]
    fn refresh_and_access_tokens_are_not_interchangeable() {
        let c = codec();
        let user = UserId::new_v7();
        let refresh = c.issue_refresh(user, now()).unwrap();
        assert_eq!(
            c.verify(&refresh.token, TokenUse::Access, now()),
            Err(TokenRejection::Invalid)
        );
        let checked = c.verify(&refresh.token, TokenUse::Refresh, now()).unwrap();
        assert_eq!(checked.jti(), Some(refresh.jti));
        let access = c
            .issue_access(user, &AccessGrants::default(), now())
            .unwrap();
        assert_eq!(
            c.verify(&access.token, TokenUse::Refresh, now()),
            Err(TokenRejection::Invalid)
        );
    }

    #[test]
    fn rejections_follow_the_contract_order() {
        let c = codec();
        let past = now().unix_timestamp() - 10;
        let cases = [
            (
                sign(Algorithm::HS512, &good_claims()),
                TokenRejection::Invalid,
            ),
            (
                sign(Algorithm::HS256, &without(good_claims(), "exp")),
                TokenRejection::Invalid,
            ),
            (
                sign(
                    Algorithm::HS256,
                    &with(good_claims(), "aud", json!("other")),
                ),
                TokenRejection::Invalid,
            ),
            (
                // Expired *and* wrong audience: the audience answers first.
                sign(
                    Algorithm::HS256,
                    &with(with(good_claims(), "aud", json!("x")), "exp", json!(past)),
                ),
                TokenRejection::Invalid,
            ),
            (
                sign(Algorithm::HS256, &with(good_claims(), "exp", json!(past))),
                TokenRejection::Expired,
            ),
            (
                // Expired *and* wrong issuer: expiry answers first.
                sign(
                    Algorithm::HS256,
                    &with(with(good_claims(), "iss", json!("x")), "exp", json!(past)),
                ),
                TokenRejection::Expired,
            ),
            (
                sign(Algorithm::HS256, &without(good_claims(), "iss")),
                TokenRejection::InvalidIssuer,
            ),
            (
                sign(
                    Algorithm::HS256,
                    &with(good_claims(), "nbf", json!(now().unix_timestamp() + 100)),
                ),
                TokenRejection::Invalid,
            ),
            ("not.a.jwt".to_owned(), TokenRejection::Invalid),
        ];
        for (n, (token, expected)) in cases.iter().enumerate() {
            assert_eq!(
                c.verify(token, TokenUse::Access, now()).map(|_| ()),
                Err(*expected),
                "case {n}"
            );
        }
    }

    #[test]
    fn audience_may_be_an_array_and_legacy_tokens_pass() {
        let c = codec();
        let legacy = without(
            without(
                without(with(good_claims(), "aud", json!(["a", AUDIENCE])), "jti"),
                "roles",
            ),
            "type",
        );
        let checked = c
            .verify(&sign(Algorithm::HS256, &legacy), TokenUse::Access, now())
            .unwrap();
        let id = checked.access_identity().unwrap();
        assert_eq!(id.jti, None);
        assert_eq!(id.roles, vec!["user"]);
    }

    #[test]
    fn bad_user_id_is_invalid_claims() {
        let c = codec();
        for claims in [
            without(good_claims(), "user_id"),
            with(good_claims(), "user_id", json!("not-a-uuid")),
            with(good_claims(), "user_id", json!(42)),
        ] {
            let checked = c
                .verify(&sign(Algorithm::HS256, &claims), TokenUse::Access, now())
                .unwrap();
            assert_eq!(
                checked.access_identity(),
                Err(TokenRejection::InvalidClaims)
            );
        }
    }

    #[test]
    fn alg_none_is_refused() {
        let c = codec();
        let header = base64_url(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = base64_url(good_claims().to_string().as_bytes());
        let token = format!("{header}.{payload}.");
        assert_eq!(
            c.verify(&token, TokenUse::Access, now()).map(|_| ()),
            Err(TokenRejection::Invalid)
        );
    }

    fn base64_url(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}
