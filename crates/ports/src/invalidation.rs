//! Cross-instance cache coherence: every instance announces what it invalidated, and every
//! instance evicts the same entries from its in-process cache.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::PortResult;

/// What an instance invalidated, as sent to all the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "target", rename_all = "snake_case")]
pub enum InvalidationMessage {
    /// One logical key.
    Key(String),
    /// Every logical key matching a `*` pattern.
    Pattern(String),
    /// A namespace generation moved on: entries of the old generation are dead.
    Namespace(String),
    /// Everything.
    Clear,
}

/// What a subscriber hands to the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidationEvent {
    /// Another instance (or this one) invalidated something.
    Message(InvalidationMessage),
    /// The subscription was interrupted and re-established; messages may have been lost,
    /// so the receiver must drop everything it holds in process.
    Resynchronise,
}

/// Publishes invalidations to every instance (Redis pub/sub in production).
#[async_trait]
pub trait InvalidationBus: Send + Sync + 'static {
    /// Announces one invalidation. Delivery is best effort; the 60-second L1 cap bounds
    /// the damage of a lost message.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when the bus cannot be reached.
    async fn publish(&self, message: &InvalidationMessage) -> PortResult<()>;
}
