//! Health and readiness: is the database answering, is Redis answering.

use std::{sync::Arc, time::Duration};

use ports::{HealthProbe, PortError};

/// Whether one backing service answered its probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DependencyStatus {
    /// It answered in time.
    Up,
    /// It failed or did not answer in time.
    Down,
}

impl DependencyStatus {
    /// The wire text of the contract (`up` / `down`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

/// The state of every dependency, as `/health` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthReport {
    /// PostgreSQL: the service cannot work without it.
    pub database: DependencyStatus,
    /// Redis, when one is configured: the service degrades to L1 without it (D-35).
    pub redis: Option<DependencyStatus>,
}

impl HealthReport {
    /// Healthy means the database answers; Redis alone never makes the service unhealthy.
    #[must_use]
    pub fn is_healthy(&self) -> bool {
        self.database == DependencyStatus::Up
    }
}

/// Probes the service's dependencies with bounded waits.
#[derive(Clone)]
pub struct HealthService {
    database: Arc<dyn HealthProbe>,
    redis: Option<Arc<dyn HealthProbe>>,
    redis_timeout: Duration,
}

impl std::fmt::Debug for HealthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthService")
            .field("redis_configured", &self.redis.is_some())
            .field("redis_timeout", &self.redis_timeout)
            .finish()
    }
}

/// The contract's bound on the Redis health check (section 10.1).
pub const REDIS_HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

impl HealthService {
    /// A health service over the database probe and, when Redis is configured, its probe.
    #[must_use]
    pub fn new(database: Arc<dyn HealthProbe>, redis: Option<Arc<dyn HealthProbe>>) -> Self {
        Self {
            database,
            redis,
            redis_timeout: REDIS_HEALTH_TIMEOUT,
        }
    }

    /// Probes the database and Redis concurrently.
    pub async fn check(&self) -> HealthReport {
        let database = self.database_status();
        let redis = async {
            match &self.redis {
                Some(probe) => Some(probe_with_timeout(probe.as_ref(), self.redis_timeout).await),
                None => None,
            }
        };
        let (database, redis) = tokio::join!(database, redis);
        HealthReport { database, redis }
    }

    /// Whether the database answers a ping: the readiness signal.
    pub async fn database_status(&self) -> DependencyStatus {
        // The pool's own wait timeout bounds this call; no extra timer is needed.
        status_of(self.database.ping().await)
    }
}

async fn probe_with_timeout(probe: &dyn HealthProbe, limit: Duration) -> DependencyStatus {
    match tokio::time::timeout(limit, probe.ping()).await {
        Ok(result) => status_of(result),
        Err(_) => DependencyStatus::Down,
    }
}

fn status_of(result: Result<(), PortError>) -> DependencyStatus {
    match result {
        Ok(()) => DependencyStatus::Up,
        Err(error) => {
            tracing::debug!(%error, "health probe failed");
            DependencyStatus::Down
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use ports::PortResult;

    struct FixedProbe(bool);

    #[async_trait]
    impl HealthProbe for FixedProbe {
        async fn ping(&self) -> PortResult<()> {
            if self.0 {
                Ok(())
            } else {
                Err(PortError::Unavailable("down".into()))
            }
        }
    }

    struct HangingProbe;

    #[async_trait]
    impl HealthProbe for HangingProbe {
        async fn ping(&self) -> PortResult<()> {
            std::future::pending::<()>().await;
            Ok(())
        }
    }

    #[tokio::test]
    async fn redis_down_alone_keeps_the_service_healthy() {
        let service = HealthService::new(
            Arc::new(FixedProbe(true)),
            Some(Arc::new(FixedProbe(false))),
        );
        let report = service.check().await;
        assert_eq!(report.database, DependencyStatus::Up);
        assert_eq!(report.redis, Some(DependencyStatus::Down));
        assert!(report.is_healthy());
    }

    #[tokio::test]
    async fn database_down_makes_the_service_unhealthy() {
        let service = HealthService::new(Arc::new(FixedProbe(false)), None);
        let report = service.check().await;
        assert_eq!(report.database, DependencyStatus::Down);
        assert_eq!(report.redis, None);
        assert!(!report.is_healthy());
    }

    #[tokio::test(start_paused = true)]
    async fn a_redis_probe_that_never_answers_is_down_after_the_timeout() {
        let service = HealthService::new(Arc::new(FixedProbe(true)), Some(Arc::new(HangingProbe)));
        let report = service.check().await;
        assert_eq!(report.redis, Some(DependencyStatus::Down));
    }
}
