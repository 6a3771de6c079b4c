//! Access tokens this instance has already verified, so that a client sending the same
//! token on every request pays for the signature check and the claim parsing once.
//!
//! Only a token that passed every check of section 5 is remembered, keyed by its whole
//! text (signature included), so a tampered token can never find an entry. What depends
//! on time or on other state is still checked on every request: expiry here, revocation
//! by the caller.

use std::sync::Arc;

use quick_cache::sync::Cache;

use super::jwt::AccessIdentity;

/// How many distinct tokens are remembered; the least recently used go first.
pub const VERIFIED_TOKENS_CAPACITY: usize = 10_000;

/// What a verified token says, as far as it cannot change.
#[derive(Debug)]
pub struct VerifiedToken {
    /// `exp`, seconds since the epoch.
    pub expires_at: i64,
    /// The claims the handlers read.
    pub identity: AccessIdentity,
}

/// The remembered tokens (bounded, shared by all workers).
pub struct VerifiedTokens {
    entries: Cache<Box<str>, Arc<VerifiedToken>>,
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens")
            .field("len", &self.entries.len())
            .finish()
    }
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self::with_capacity(VERIFIED_TOKENS_CAPACITY)
    }
}

impl VerifiedTokens {
    /// An empty set remembering at most `capacity` tokens.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Cache::new(capacity.max(1)),
        }
    }

    /// The verified claims of `token`, if it was verified before.
    #[must_use]
    pub fn get(&self, token: &str) -> Option<Arc<VerifiedToken>> {
        self.entries.get(token)
    }

    /// Remembers `token` as verified.
    pub fn remember(&self, token: &str, verified: VerifiedToken) {
        self.entries.insert(token.into(), Arc::new(verified));
    }

    /// How many tokens are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use domain::UserId;

    fn verified(expires_at: i64) -> VerifiedToken {
        VerifiedToken {
            expires_at,
            identity: AccessIdentity {
                user_id: UserId::new_v7(),
                role: "user".into(),
                roles: vec!["user".into()],
                permissions: vec![],
                jti: None,
                issued_at: 1,
            },
        }
    }

    #[test]
    fn only_the_exact_token_text_finds_its_entry() {
        let tokens = VerifiedTokens::default();
        tokens.remember("a.b.c", verified(10));
        assert_eq!(tokens.get("a.b.c").unwrap().expires_at, 10);
        assert!(tokens.get("a.b.d").is_none());
        assert!(tokens.get("a.b.c ").is_none());
    }

    #[test]
    fn the_number_of_tokens_is_bounded() {
        let tokens = VerifiedTokens::with_capacity(100);
        for i in 0..1_000 {
            tokens.remember(&format!("token-{i}"), verified(i));
        }
        assert!(tokens.len() <= 100, "{} remembered", tokens.len());
        assert!(!tokens.is_empty());
    }
}
