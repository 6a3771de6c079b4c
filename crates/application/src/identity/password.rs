//! bcrypt hashing and verification off the async workers: every call runs on tokio's
//! blocking pool behind a semaphore with one permit per CPU, so a burst of logins queues
//! here instead of occupying every blocking thread or stalling request handling.

use std::sync::Arc;

use domain::PasswordHash;
use tokio::sync::{OnceCell, Semaphore};

/// The text hashed once to make the dummy hash compared for unknown accounts [D-16].
const DUMMY_PASSWORD: &str = "Dummy-password-for-timing-1!";

/// Why hashing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(pub String);

/// The bounded bcrypt worker.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    cost: u32,
    permits: Arc<Semaphore>,
    dummy: Arc<OnceCell<String>>,
}

impl PasswordHasher {
    /// A hasher with `cost` (`BCRYPT_COST`) and one permit per available CPU.
    #[must_use]
    pub fn new(cost: u32) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self::with_permits(cost, cpus)
    }

    /// A hasher with an explicit number of concurrent bcrypt computations.
    #[must_use]
    pub fn with_permits(cost: u32, permits: usize) -> Self {
        Self {
            cost,
            permits: Arc::new(Semaphore::new(permits.max(1))),
            dummy: Arc::new(OnceCell::new()),
        }
    }

    /// The configured cost.
    #[must_use]
    pub fn cost(&self) -> u32 {
        self.cost
    }

    async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| HashError(e.to_string()))
    }

    /// Hashes a password (at most 72 bytes; longer ones are refused, never truncated).
    ///
    /// # Errors
    /// The password is over 72 bytes or the blocking task failed.
    pub async fn hash(&self, password: &str) -> Result<PasswordHash, HashError> {
        let password = password.to_owned();
        let cost = self.cost;
        self.run(move || bcrypt::non_truncating_hash(password, cost))
            .await?
            .map(PasswordHash::new)
            .map_err(|e| HashError(e.to_string()))
    }

    /// Whether `password` matches `hash`. A malformed stored hash, or a password over
    /// 72 bytes, never matches.
    pub async fn verify(&self, password: &str, hash: &PasswordHash) -> bool {
        let password = password.to_owned();
        let hash = hash.expose().to_owned();
        self.run(move || bcrypt::non_truncating_verify(password, &hash).unwrap_or(false))
            .await
            .unwrap_or(false)
    }

    /// Spends the time of one comparison against a fixed hash of the configured cost, for
    /// logins naming no account, so response time does not tell whether it exists [D-16].
    pub async fn verify_dummy(&self, password: &str) {
        let dummy = self
            .dummy
            .get_or_try_init(|| async {
                self.hash(DUMMY_PASSWORD)
                    .await
                    .map(|h| h.expose().to_owned())
            })
            .await;
        if let Ok(dummy) = dummy {
            let _ = self
                .verify(password, &PasswordHash::new(dummy.clone()))
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_reject() {
        let hasher = PasswordHasher::with_permits(4, 1);
        let hash = hasher.hash("Secret@123").await.unwrap();
        assert!(hash.expose().starts_with("$2"));
        assert!(hasher.verify("Secret@123", &hash).await);
        assert!(!hasher.verify("Secret@124", &hash).await);
        assert!(
            !hasher
                .verify("x", &PasswordHash::new("not-a-hash".into()))
                .await
        );
        let long = "a".repeat(73);
        assert!(hasher.hash(&long).await.is_err());
        hasher.verify_dummy("anything").await;
        assert!(hasher.dummy.get().is_some());
    }
}
