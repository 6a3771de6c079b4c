//! Building and running the application: adapters, wiring, HTTP server, background tasks,
//! graceful shutdown.

use std::{net::TcpListener, sync::Arc, time::Duration};

use actix_web::{HttpServer, dev::ServerHandle};
use adapters_postgres::{PgPool, PoolSettings, migrations};
use adapters_redis::{RedisPool, RedisSettings};
use anyhow::Context;
use application::{AuditWriter, HealthService, JobSystem};
use http_api::{
    ApiState, ExtraRoutes, HttpSettings, Pipeline, build_app,
    middleware::{CorsSettings, RateLimitSettings, RequestStats},
};
use ports::HealthProbe;
use tokio::{sync::watch, task::JoinHandle};

use crate::{bootstrap, config::Config, services::Services, telemetry};

/// How long in-flight requests may run on after a shutdown signal (contract 3.5).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Start-up waits for the database: 3 attempts, 2 seconds apart (contract section 15).
const DATABASE_ATTEMPTS: u32 = 3;
const DATABASE_RETRY_DELAY: Duration = Duration::from_secs(2);
/// The ping that chooses the job system's mode (contract 14.1).
const REDIS_MODE_PING: Duration = Duration::from_secs(2);

/// Choices that differ between the binary and tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartOptions {
    /// Bind to an OS-chosen port instead of `PORT` (tests).
    pub ephemeral_port: bool,
    /// Let SIGINT/SIGTERM stop the server gracefully (the binary).
    pub handle_signals: bool,
    /// Extra routes, such as a deliberately panicking one in tests.
    pub extra_routes: Option<ExtraRoutes>,
    /// Which cache levels serve reads (benches compare them; the binary uses both).
    pub cache_levels: CacheLevels,
}

/// Which levels of the two-level cache serve reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CacheLevels {
    /// In-process L1 over Redis L2: what the service runs with.
    #[default]
    Both,
    /// Redis only: every L1 entry expires at once, so each read is an L2 lookup.
    L2Only,
    /// No cache: every read goes to the database.
    Off,
}

/// A built application: bound to its port, not yet serving.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    shutdown: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
    database: PgPool,
    redis: Option<RedisPool>,
    audit_writer: AuditWriter,
    jobs: JobSystem,
    handle_signals: bool,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Connects to the backing services, applies pending migrations, bootstraps the admin
    /// account if configured, and binds the HTTP listener.
    ///
    /// # Errors
    /// The database does not answer after the start-up attempts, migrations fail, the
    /// bootstrap account is invalid, or the address cannot be bound.
    pub async fn build(config: Config, options: StartOptions) -> anyhow::Result<Self> {
        // Install the recorder before anything records a metric.
        telemetry::prometheus();
        let started = time::OffsetDateTime::now_utc();
        #[allow(clippy::cast_precision_loss)] // seconds since 1970 fit an f64 exactly
        metrics::gauge!("process_start_time_seconds").set(started.unix_timestamp() as f64);

        let database = PgPool::new(&pool_settings(&config))
            .context("could not configure the PostgreSQL pool")?;
        wait_for_database(&database, DATABASE_ATTEMPTS, DATABASE_RETRY_DELAY).await?;
        let applied = migrations::run_pending(config.database.url.expose())
            .await
            .context("database migrations failed")?;
        if !applied.is_empty() {
            tracing::info!(?applied, "applied database migrations");
        }
        if let Some(admin) = &config.admin_bootstrap {
            let id = bootstrap::ensure_admin(&database, admin, config.auth.bcrypt_cost)
                .await
                .context("admin bootstrap failed")?;
            tracing::info!(admin_id = %id, "bootstrap admin account is ready");
        }

        let redis = connect_redis(&config).await;
        let health = HealthService::new(
            Arc::new(database.clone()),
            redis
                .clone()
                .map(|pool| Arc::new(pool) as Arc<dyn HealthProbe>),
        );
        let request_stats = Arc::new(RequestStats::new());
        let state = ApiState::new(
            health,
            request_stats.clone(),
            Arc::new(|| telemetry::prometheus().render()),
        );
        let (shutdown, shutdown_rx) = watch::channel(false);
        let redis_answered = match &redis {
            Some(pool) => matches!(
                tokio::time::timeout(REDIS_MODE_PING, pool.ping()).await,
                Ok(Ok(()))
            ),
            None => false,
        };
        let services = Services::build(
            &config,
            &database,
            redis.as_ref(),
            redis_answered,
            options.cache_levels,
            &shutdown_rx,
        )?;
        let state = services.install(state);
        let pipeline = Pipeline::new(http_settings(&config), request_stats);

        let address = if options.ephemeral_port {
            (config.server.host.clone(), 0)
        } else {
            (config.server.host.clone(), config.server.port)
        };
        let listener = TcpListener::bind(&address)
            .with_context(|| format!("could not listen on {}:{}", address.0, address.1))?;
        let port = listener.local_addr()?.port();

        let extra_routes = options.extra_routes;
        let app_pipeline = pipeline.clone();
        let server =
            HttpServer::new(move || build_app(state.clone(), app_pipeline.clone(), extra_routes))
                .listen(listener)?
                .disable_signals()
                .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
                .client_request_timeout(config.server.read_timeout)
                .client_disconnect_timeout(config.server.write_timeout)
                .keep_alive(config.server.idle_timeout)
                .run();

        let background = vec![spawn_rate_limit_sweeper(
            pipeline,
            config.rate_limit.cleanup,
            shutdown_rx,
        )];
        let background: Vec<JoinHandle<()>> = background
            .into_iter()
            .chain([spawn_revocation_purge(
                database.clone(),
                shutdown.subscribe(),
            )])
            .chain(services.background)
            .collect();
        tracing::info!(port, "task-api listening");
        Ok(Self {
            port,
            server,
            shutdown,
            background,
            database,
            redis,
            audit_writer: services.audit_writer,
            jobs: services.jobs,
            handle_signals: options.handle_signals,
        })
    }

    /// The port the server listens on (useful with [`StartOptions::ephemeral_port`]).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that can stop the server gracefully from elsewhere (tests, signals).
    #[must_use]
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (by a signal when enabled, or through [`Self::handle`]), then
    /// lets in-flight requests finish (up to 30 s), stops the background tasks and closes
    /// the pools.
    ///
    /// # Errors
    /// The HTTP server failed while running.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let signals = self
            .handle_signals
            .then(|| tokio::spawn(stop_on_signal(handle)));
        let served = self.server.await;
        if let Some(signals) = signals {
            signals.abort();
        }
        tracing::info!("HTTP server stopped; stopping background tasks");
        let _ = self.shutdown.send(true);
        // Every request has finished: write the audit records still queued while the
        // database pool is open, so graceful shutdown loses none.
        if tokio::time::timeout(SHUTDOWN_GRACE, self.audit_writer.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("audit records still queued after 30 s were not written");
        }
        // Workers finish the job in hand (bounded); leased jobs they could not finish
        // return to the queue when their lease expires.
        self.jobs.shutdown().await;
        for task in self.background {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, task).await;
        }
        self.database.close();
        if let Some(redis) = &self.redis {
            redis.close();
        }
        tracing::info!("shutdown complete");
        served.context("HTTP server failed")
    }
}

/// Pings the database until it answers, `attempts` times at most.
///
/// # Errors
/// The database did not answer any attempt.
pub async fn wait_for_database(
    database: &PgPool,
    attempts: u32,
    delay: Duration,
) -> anyhow::Result<()> {
    let mut last_error = None;
    for attempt in 1..=attempts {
        match database.ping().await {
            Ok(()) => return Ok(()),
            Err(error) => {
                tracing::warn!(attempt, attempts, %error, "database not answering yet");
                last_error = Some(error);
                if attempt < attempts {
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
    Err(anyhow::anyhow!(
        "database unreachable after {attempts} attempts: {}",
        last_error.map(|e| e.to_string()).unwrap_or_default()
    ))
}

/// Redis is optional: when it does not answer, the service runs with its in-process cache
/// and says so once; the pool keeps trying on later calls.
pub(crate) async fn connect_redis(config: &Config) -> Option<RedisPool> {
    let settings = RedisSettings {
        url: config.redis.url.expose().to_owned(),
        pool_size: config.redis.pool_size as usize,
        connect_timeout: config.redis.dial_timeout,
        command_timeout: config.redis.read_timeout.max(config.redis.write_timeout),
        key_prefix: config.redis.key_prefix.clone(),
    };
    match RedisPool::new(&settings) {
        Ok(pool) => {
            if let Err(error) = pool.ping().await {
                tracing::warn!(%error, "Redis is unavailable; running with the in-process cache only until it returns");
            }
            Some(pool)
        }
        Err(error) => {
            tracing::warn!(%error, "Redis is not configured correctly; running without it");
            None
        }
    }
}

pub(crate) fn pool_settings(config: &Config) -> PoolSettings {
    PoolSettings {
        database_url: config.database.url.expose().to_owned(),
        max_connections: config.database.max_open_conns as usize,
        // Requests that need the database answer 503 within this bound when it is down.
        wait_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        recycle_timeout: Duration::from_secs(5),
        max_lifetime: config.database.conn_max_lifetime,
        max_idle_time: config.database.conn_max_idle_time,
    }
}

fn http_settings(config: &Config) -> HttpSettings {
    HttpSettings {
        cors: CorsSettings {
            allowed_origins: config.cors.origins.clone(),
            allowed_methods: config.cors.methods.clone(),
            allowed_headers: config.cors.headers.clone(),
        },
        rate_limit: RateLimitSettings {
            enabled: config.rate_limit.enabled,
            requests_per_minute: config.rate_limit.requests_per_minute,
            burst: config.rate_limit.burst,
            idle_timeout: config.rate_limit.cleanup,
            trusted_proxies: config.rate_limit.trusted_proxies.clone(),
        },
    }
}

/// Drops idle rate-limit buckets every `RATE_LIMIT_CLEANUP` so memory does not grow with
/// every client address ever seen (D-26).
fn spawn_rate_limit_sweeper(
    pipeline: Pipeline,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => pipeline.rate_limiter().sweep_idle(),
                _ = shutdown.changed() => break,
            }
        }
    })
}

/// How often rows of revoked access tokens that have expired anyway are deleted.
const REVOCATION_PURGE_EVERY: Duration = Duration::from_secs(15 * 60);

/// Deletes expired rows of `revoked_access_tokens` now and then, so the table stays small.
fn spawn_revocation_purge(database: PgPool, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    let store = adapters_postgres::PgRevocationStore::new(database);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(REVOCATION_PURGE_EVERY);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    match store.purge_expired(time::OffsetDateTime::now_utc()).await {
                        Ok(0) => {}
                        Ok(purged) => tracing::debug!(purged, "purged expired token revocations"),
                        Err(error) => tracing::warn!(%error, "could not purge expired token revocations"),
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
    })
}

async fn stop_on_signal(handle: ServerHandle) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT received; draining"),
        () = terminate => tracing::info!("SIGTERM received; draining"),
    }
    handle.stop(true).await;
}
