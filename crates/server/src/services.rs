//! The application services of one instance, built over the adapters: identity,
//! authorization (with its audit writer and cross-instance invalidation), users and tasks.

use std::sync::Arc;

use adapters_postgres::{
    PgAuditLog, PgAuthzRepository, PgIdempotencyStore, PgPool, PgTaskRepository, PgUserRepository,
};
use adapters_redis::{
    RedisInvalidationBus, RedisJobQueue, RedisKeyValueStore, RedisLock, RedisPool,
    invalidation_channel, spawn_invalidation_subscriber,
};
use anyhow::Context;
use application::{
    AuditWriter, AuthorizationService, CacheAdmin, CachedTaskService, L2Info, L2Inspector,
    TaskService,
    cache::{BreakerState, CacheConfig, L2InspectFuture, MultiLevelCache},
    identity::{CachedRevocationStore, IdentityService, LayeredRevocationStore, UserDirectory},
    warming::{
        CacheJobExecutor, JobSystem, JobSystemParts, WARMING_INTERVAL, WarmLock, WarmLockFuture,
    },
};
use http_api::ApiState;
use ports::{Clock, InvalidationBus, JobQueue, KeyValueStore, SystemClock};
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    coherence::{BusRevocationNotifier, BusSubjectNotifier, LocalState, invalidation_handler},
    config::Config,
    startup::CacheLevels,
};

/// Queued audit records beyond this are dropped (and counted) rather than slowing requests.
const AUDIT_QUEUE_CAPACITY: usize = 10_000;

/// How often expired L1 entries are swept (the contract asks for at least once a minute).
const L1_SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// Everything the HTTP layer calls, plus what must be stopped at shutdown.
pub(crate) struct Services {
    identity: IdentityService,
    users: UserDirectory,
    authorization: Arc<AuthorizationService>,
    tasks: Arc<TaskService>,
    cached_tasks: Arc<CachedTaskService>,
    cache_admin: Arc<CacheAdmin>,
    /// The cache-warming job system; stopped at shutdown before the pools close.
    pub(crate) jobs: JobSystem,
    audit_log: Arc<PgAuditLog>,
    /// Flushed at shutdown, after the last request and before the pool closes.
    pub(crate) audit_writer: AuditWriter,
    /// The audit writer's task and the invalidation subscriber.
    pub(crate) background: Vec<JoinHandle<()>>,
}

impl Services {
    /// Builds the services over PostgreSQL and, when configured, Redis (revocation fast
    /// path, invalidation bus). `redis_answered` (a ping at start) chooses the job
    /// system's mode (14.1).
    pub(crate) fn build(
        config: &Config,
        database: &PgPool,
        redis: Option<&RedisPool>,
        redis_answered: bool,
        cache_levels: CacheLevels,
        shutdown: &watch::Receiver<bool>,
    ) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let audit_log = Arc::new(PgAuditLog::new(database.clone()));
        let (audit_writer, writer_task) =
            AuditWriter::spawn(audit_log.clone(), AUDIT_QUEUE_CAPACITY);
        let mut authorization = AuthorizationService::new(
            Arc::new(PgAuthzRepository::new(database.clone())),
            Arc::new(audit_writer.clone()),
            clock.clone(),
        );
        let mut background = vec![writer_task];
        let bus = invalidation_bus(config, redis);
        if let Some(bus) = &bus {
            authorization =
                authorization.with_notifier(Arc::new(BusSubjectNotifier::new(bus.clone())));
        }
        let authorization = Arc::new(authorization);
        let revocations = Arc::new(revocation_view(
            layered_revocations(database, redis),
            bus.clone(),
            clock.clone(),
        ));
        let cache = Arc::new(build_cache(redis, bus, cache_levels));
        let tasks = Arc::new(TaskService::new(
            Arc::new(PgTaskRepository::new(database.clone())),
            Arc::new(PgIdempotencyStore::new(database.clone())),
            clock.clone(),
        ));
        let cached_tasks = Arc::new(CachedTaskService::new(tasks.clone(), cache.clone()));
        if redis.is_some() {
            background.push(spawn_invalidation_subscriber(
                config.redis.url.expose().to_owned(),
                invalidation_channel(&config.redis.key_prefix),
                invalidation_handler(LocalState {
                    authorization: authorization.clone(),
                    revocations: revocations.clone(),
                    cache: cache.clone(),
                    tasks: cached_tasks.clone(),
                }),
                shutdown.clone(),
            ));
        }
        background.push(spawn_l1_sweeper(cache.clone(), shutdown.clone()));

        let identity = build_identity(config, database, revocations, clock.clone())?;
        let users = UserDirectory::new(
            Arc::new(PgUserRepository::new(database.clone())),
            authorization.clone(),
            identity.clone(),
            clock.clone(),
        );
        let jobs = build_job_system(
            cache.clone(),
            tasks.clone(),
            redis.filter(|_| redis_answered),
        );
        let inspector = redis
            .map(|pool| Arc::new(RedisInspector { pool: pool.clone() }) as Arc<dyn L2Inspector>);
        let cache_admin = Arc::new(CacheAdmin::new(cache, inspector));
        Ok(Self {
            identity,
            users,
            authorization,
            tasks,
            cached_tasks,
            cache_admin,
            jobs,
            audit_log,
            audit_writer,
            background,
        })
    }

    /// Hands the services to the HTTP layer's state.
    pub(crate) fn install(&self, state: ApiState) -> ApiState {
        state
            .with_identity(self.identity.clone())
            .with_users(self.users.clone())
            .with_authorization(self.authorization.clone(), self.audit_log.clone())
            .with_tasks(self.tasks.clone())
            .with_cache(self.cached_tasks.clone(), self.cache_admin.clone())
            .with_jobs(self.jobs.clone())
    }
}

/// This instance's end of the invalidation channel (`REDIS_KEY_PREFIX` +
/// `cache_invalidation`), shared by everything that announces changes, when Redis exists.
pub(crate) fn invalidation_bus(
    config: &Config,
    redis: Option<&RedisPool>,
) -> Option<Arc<dyn InvalidationBus>> {
    redis.map(|pool| {
        Arc::new(RedisInvalidationBus::new(
            pool.clone(),
            invalidation_channel(&config.redis.key_prefix),
        )) as Arc<dyn InvalidationBus>
    })
}

/// The instance's one two-level cache: L1 always, Redis as L2 and `bus` for invalidations
/// when a Redis pool exists (contract 13.2).
fn build_cache(
    redis: Option<&RedisPool>,
    bus: Option<Arc<dyn InvalidationBus>>,
    levels: CacheLevels,
) -> MultiLevelCache {
    let redis = redis.filter(|_| levels != CacheLevels::Off);
    let settings = match levels {
        CacheLevels::Both => CacheConfig::default(),
        // An L1 lifetime of zero: every entry is expired as soon as it is written.
        CacheLevels::L2Only | CacheLevels::Off => CacheConfig {
            l1_ttl_cap: std::time::Duration::ZERO,
            ..CacheConfig::default()
        },
    };
    let l2 =
        redis.map(|pool| Arc::new(RedisKeyValueStore::new(pool.clone())) as Arc<dyn KeyValueStore>);
    MultiLevelCache::new(settings, l2.clone(), l2.and(bus))
}

/// The job system: integrated over the Redis queue when Redis answered at start, local
/// otherwise (14.1).
fn build_job_system(
    cache: Arc<MultiLevelCache>,
    tasks: Arc<TaskService>,
    redis: Option<&RedisPool>,
) -> JobSystem {
    let instance_id = uuid::Uuid::new_v4().to_string();
    let queue = redis.map(|pool| Arc::new(RedisJobQueue::new(pool.clone())) as Arc<dyn JobQueue>);
    let lock = redis.map(|pool| {
        Arc::new(RedisWarmLock(RedisLock::new(
            pool.clone(),
            instance_id.clone(),
        ))) as Arc<dyn WarmLock>
    });
    let health = cache.clone();
    let jobs = JobSystem::start(JobSystemParts {
        exec: Arc::new(CacheJobExecutor::new(cache, tasks)),
        queue,
        lock,
        clock: Arc::new(SystemClock),
        instance_id,
        cache_healthy: Arc::new(move || health.breaker_state() != BreakerState::Open),
        interval: WARMING_INTERVAL,
    });
    tracing::info!(
        integrated = jobs.is_integrated(),
        "cache-warming job system started"
    );
    jobs
}

/// [`WarmLock`] over [`RedisLock`].
struct RedisWarmLock(RedisLock);

impl WarmLock for RedisWarmLock {
    fn try_acquire<'a>(&'a self, name: &'a str, ttl: std::time::Duration) -> WarmLockFuture<'a> {
        Box::pin(self.0.try_acquire(name, ttl))
    }
}

/// Drops expired L1 entries every [`L1_SWEEP_INTERVAL`] until shutdown.
fn spawn_l1_sweeper(
    cache: Arc<MultiLevelCache>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(L1_SWEEP_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {
                    let removed = cache.sweep_expired();
                    if removed > 0 {
                        tracing::debug!(removed, "swept expired L1 entries");
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
    })
}

/// `/cache/stats` view of the Redis pool (9.1); deadpool does not count checkout hits,
/// misses or stale connections, so those are 0.
struct RedisInspector {
    pool: RedisPool,
}

impl L2Inspector for RedisInspector {
    fn inspect(&self) -> L2InspectFuture<'_> {
        Box::pin(async move {
            let redis_info = self.pool.info().await.map_err(|error| error.to_string())?;
            let status = self.pool.status();
            Ok(L2Info {
                redis_info,
                pool_hits: 0,
                pool_misses: 0,
                pool_timeouts: status.timeouts,
                pool_total: status.size as u64,
                pool_idle: status.available as u64,
                pool_stale: 0,
            })
        })
    }
}

/// Revocation state (contract 6.7): PostgreSQL as the source of truth, Redis as the
/// shared fast path when a Redis pool exists.
pub(crate) fn layered_revocations(
    database: &PgPool,
    redis: Option<&RedisPool>,
) -> Arc<LayeredRevocationStore> {
    let fast = redis.map(|pool| {
        Arc::new(adapters_redis::RedisRevocationStore::new(pool.clone()))
            as Arc<dyn ports::RevocationStore>
    });
    Arc::new(LayeredRevocationStore::new(
        Arc::new(adapters_postgres::PgRevocationStore::new(database.clone())),
        fast,
    ))
}

/// The revocation answers kept in process in front of `store`; with a `bus`, every
/// revocation made here is announced to the other instances.
pub(crate) fn revocation_view(
    store: Arc<LayeredRevocationStore>,
    bus: Option<Arc<dyn InvalidationBus>>,
    clock: Arc<dyn Clock>,
) -> CachedRevocationStore {
    let view = CachedRevocationStore::new(store, clock);
    match bus {
        Some(bus) => view.with_notifier(Arc::new(BusRevocationNotifier::new(bus))),
        None => view,
    }
}

/// The identity service over PostgreSQL and the revocation view.
pub(crate) fn build_identity(
    config: &Config,
    database: &PgPool,
    revocations: Arc<CachedRevocationStore>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<application::identity::IdentityService> {
    use application::identity::{
        IdentityDeps, IdentityService, JwtSettings, PasswordHasher, TokenCodec,
    };
    let codec = TokenCodec::new(&JwtSettings {
        secret: config.auth.jwt_secret.expose().to_owned(),
        access_ttl: config.auth.access_token_ttl,
        refresh_ttl: config.auth.refresh_token_ttl,
    })
    .context("invalid JWT settings")?;
    Ok(IdentityService::new(IdentityDeps {
        users: Arc::new(adapters_postgres::PgUserRepository::new(database.clone())),
        refresh_tokens: Arc::new(adapters_postgres::PgRefreshTokenStore::new(
            database.clone(),
        )),
        revocations,
        codec,
        hasher: PasswordHasher::new(config.auth.bcrypt_cost),
        clock,
    }))
}
