//! The connection pool: lazy (the server starts while PostgreSQL is down), bounded by
//! explicit timeouts, and mapping every "cannot get a connection" to
//! [`PortError::Unavailable`] so that callers answer 503 rather than hang or 500.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use deadpool::managed::{HookError, PoolError as DeadpoolError, TimeoutType};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Hook, Object, Pool};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ports::{HealthProbe, PortError, PortResult};

/// A connection checked out of [`PgPool`]; it returns to the pool when dropped.
pub type PooledConnection = Object<AsyncPgConnection>;

/// How to reach PostgreSQL and how long to wait for it.
#[derive(Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// `postgres://user:password@host:port/database` (redacted in `Debug`).
    pub database_url: String,
    /// Upper bound of open connections of this instance.
    pub max_connections: usize,
    /// Longest wait for a free connection slot.
    pub wait_timeout: Duration,
    /// Longest time to open a new connection.
    pub connect_timeout: Duration,
    /// Longest time for the liveness check of a connection on checkout.
    pub recycle_timeout: Duration,
    /// Connections older than this are closed instead of reused.
    pub max_lifetime: Duration,
    /// Connections unused for longer than this are closed instead of reused.
    pub max_idle_time: Duration,
}

impl PoolSettings {
    /// Settings with the service defaults (10 connections, 5 s wait and connect, 2 s recycle,
    /// 30 min lifetime, 10 min idle) for `database_url`.
    #[must_use]
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            max_connections: 10,
            wait_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            recycle_timeout: Duration::from_secs(2),
            max_lifetime: Duration::from_secs(30 * 60),
            max_idle_time: Duration::from_secs(10 * 60),
        }
    }
}

impl fmt::Debug for PoolSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolSettings")
            .field("database_url", &redact_url(&self.database_url))
            .field("max_connections", &self.max_connections)
            .field("wait_timeout", &self.wait_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("recycle_timeout", &self.recycle_timeout)
            .field("max_lifetime", &self.max_lifetime)
            .field("max_idle_time", &self.max_idle_time)
            .finish()
    }
}

/// `database_url` with any password replaced by `***`, fit for logs.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let mut out = match url.split_once("://") {
        Some((scheme, rest)) => {
            // The authority ends at the first '/', '?' or '#'; userinfo ends at its last '@'.
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
                    None => url.to_owned(),
                },
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    };
    // key=value forms: `password=...` in a DSN or in the query string.
    let mut search_from = 0;
    while let Some(pos) = out[search_from..].find("password=") {
        let start = search_from + pos + "password=".len();
        let end = out[start..]
            .find(['&', ' '])
            .map_or(out.len(), |offset| start + offset);
        out.replace_range(start..end, "***");
        search_from = start + 3;
    }
    out
}

/// A cloneable handle on the shared PostgreSQL connection pool.
#[derive(Clone)]
pub struct PgPool {
    inner: Pool<AsyncPgConnection>,
    wait_timeout: Duration,
}

impl fmt::Debug for PgPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgPool")
            .field("status", &self.inner.status())
            .field("wait_timeout", &self.wait_timeout)
            .finish()
    }
}

impl PgPool {
    /// Builds the pool without opening any connection, so the service can start (and report
    /// itself not ready) while PostgreSQL is down.
    ///
    /// # Errors
    /// [`PortError::Backend`] when the settings are unusable (zero connections).
    pub fn new(settings: &PoolSettings) -> Result<Self, PortError> {
        if settings.max_connections == 0 {
            return Err(PortError::Backend(
                "database pool: max_connections must be at least 1".to_owned(),
            ));
        }
        let manager =
            AsyncDieselConnectionManager::<AsyncPgConnection>::new(settings.database_url.clone());
        let max_lifetime = settings.max_lifetime;
        let max_idle_time = settings.max_idle_time;
        let inner = Pool::builder(manager)
            .max_size(settings.max_connections)
            .wait_timeout(Some(settings.wait_timeout))
            .create_timeout(Some(settings.connect_timeout))
            .recycle_timeout(Some(settings.recycle_timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .pre_recycle(Hook::sync_fn(move |_connection, metrics| {
                if metrics.age() > max_lifetime {
                    Err(HookError::message(
                        "connection reached its maximum lifetime",
                    ))
                } else if metrics.last_used() > max_idle_time {
                    Err(HookError::message("connection was idle too long"))
                } else {
                    Ok(())
                }
            }))
            .build()
            .map_err(|error| PortError::Backend(format!("database pool: {error}")))?;
        Ok(Self {
            inner,
            wait_timeout: settings.wait_timeout,
        })
    }

    /// Checks a connection out of the pool.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when no connection can be had within the configured
    /// timeouts (pool exhausted, PostgreSQL unreachable or refusing).
    pub async fn get(&self) -> PortResult<PooledConnection> {
        self.inner.get().await.map_err(map_pool_error)
    }

    /// Current size and number of idle connections, for metrics.
    #[must_use]
    pub fn status(&self) -> deadpool::Status {
        self.inner.status()
    }

    /// The configured wait timeout (also the bound of [`HealthProbe::ping`]).
    #[must_use]
    pub fn wait_timeout(&self) -> Duration {
        self.wait_timeout
    }

    /// Closes the pool at shutdown: idle connections are dropped at once, checked-out ones
    /// when they come back, and every later `get` fails.
    pub fn close(&self) {
        self.inner.close();
    }
}

fn map_pool_error(error: DeadpoolError<diesel_async::pooled_connection::PoolError>) -> PortError {
    let text = match &error {
        DeadpoolError::Timeout(TimeoutType::Wait) => {
            "database pool exhausted: no connection became free in time".to_owned()
        }
        DeadpoolError::Timeout(TimeoutType::Create) => {
            "cannot connect to PostgreSQL: connecting timed out".to_owned()
        }
        DeadpoolError::Timeout(TimeoutType::Recycle) => {
            "PostgreSQL did not answer the connection check in time".to_owned()
        }
        DeadpoolError::Backend(inner) => format!("cannot connect to PostgreSQL: {inner}"),
        DeadpoolError::Closed => "database pool is closed".to_owned(),
        other => format!("database pool: {other}"),
    };
    PortError::Unavailable(text)
}

/// Maps a diesel error to the port vocabulary: unique violation -> `Conflict`, no row ->
/// `NotFound`, lost connection -> `Unavailable`, anything else -> `Backend`.
#[must_use]
pub fn map_diesel_error(error: DieselError) -> PortError {
    match error {
        DieselError::NotFound => PortError::NotFound,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            PortError::Conflict(
                info.constraint_name()
                    .map_or_else(|| info.message().to_owned(), str::to_owned),
            )
        }
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
            PortError::Unavailable(format!("PostgreSQL connection lost: {}", info.message()))
        }
        other => PortError::Backend(other.to_string()),
    }
}

#[async_trait]
impl HealthProbe for PgPool {
    async fn ping(&self) -> PortResult<()> {
        let round_trip = async {
            let mut connection = self.get().await?;
            diesel::sql_query("SELECT 1")
                .execute(&mut connection)
                .await
                .map_err(map_diesel_error)?;
            Ok(())
        };
        tokio::time::timeout(self.wait_timeout, round_trip)
            .await
            .map_err(|_| {
                PortError::Timeout(format!(
                    "PostgreSQL did not answer within {:?}",
                    self.wait_timeout
                ))
            })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_settings_hides_the_password() {
        let settings = PoolSettings::new("postgres://app:s3cret@db:5432/tasks");
        let shown = format!("{settings:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("postgres://app:***@db:5432/tasks"),
            "{shown}"
        );
    }

    #[test]
    fn redaction_handles_key_value_forms_and_urls_without_password() {
        assert_eq!(
            redact_url("host=db user=app password=s3cret dbname=tasks"),
            "host=db user=app password=*** dbname=tasks"
        );
        assert_eq!(
            redact_url("postgres://app@db/tasks?password=s3cret&sslmode=off"),
            "postgres://app@db/tasks?password=***&sslmode=off"
        );
        assert_eq!(redact_url("postgres://db/tasks"), "postgres://db/tasks");
    }

    #[test]
    fn zero_connections_is_refused() {
        let mut settings = PoolSettings::new("postgres://db/tasks");
        settings.max_connections = 0;
        assert!(matches!(PgPool::new(&settings), Err(PortError::Backend(_))));
    }

    #[test]
    fn diesel_errors_map_to_port_errors() {
        assert_eq!(map_diesel_error(DieselError::NotFound), PortError::NotFound);
        assert!(matches!(
            map_diesel_error(DieselError::RollbackTransaction),
            PortError::Backend(_)
        ));
    }
}
