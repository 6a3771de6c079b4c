//! Liveness checks of backing services, used by `/health` and `/ready`.

use async_trait::async_trait;

use crate::PortResult;

/// A backing service that can be asked whether it answers right now.
#[async_trait]
pub trait HealthProbe: Send + Sync + 'static {
    /// Sends the cheapest round trip the backend offers (`SELECT 1`, `PING`).
    ///
    /// # Errors
    /// [`crate::PortError::Unavailable`] or [`crate::PortError::Timeout`] when the backend
    /// does not answer within the adapter's configured timeout.
    async fn ping(&self) -> PortResult<()>;
}
