//! The shared cache-warming job queue (contract 14.5, [D-40]): [`ports::JobQueue`] over
//! Redis sorted sets and a list, crash-safe through leases.
//!
//! Keys, all under `REDIS_KEY_PREFIX`:
//! - `cache_jobs` (sorted set): ready jobs, score = enqueue epoch seconds − priority;
//! - `cache_jobs_delayed` (sorted set): waiting jobs, score = `process_at` epoch seconds;
//! - `cache_jobs_dlq` (list): dead letters, newest at the head;
//! - `cache_jobs_processing` (sorted set): taken jobs, score = lease expiry epoch seconds;
//! - `cache_jobs_lease_owners` (hash): taken job text → worker id holding its lease, plus
//!   a sentinel field `''` that tells an evicted hash from an empty one.
//!
//! Members are the exact envelope text. Every move between keys is one Lua script, so a
//! job is always in exactly one place; a worker that dies leaves its jobs in the processing
//! set until [`JobQueue::requeue_expired_leases`] returns them to `cache_jobs`.
//! A worker whose lease expired can no longer settle the job (its ack, retry or dead letter
//! moves nothing), so a job returned by the reaper is never duplicated. Scores carry
//! sub-second precision, so jobs of equal priority run in enqueue order. Adding a job whose
//! exact text is already queued only updates its score.
//!
//! The queue sends its commands over one multiplexed connection checked out of the shared
//! pool (see `connection`), which saves the pool's per-checkout health check on the hot
//! path; the connection is replaced after any connection-level error.

mod connection;
mod scripts;

use std::time::Duration;

use async_trait::async_trait;
use ports::{JobEnvelope, JobQueue, LeasedJob, PortError, PortResult, QueueSizes};
use redis::{FromRedisValue, ScriptInvocation};
use time::OffsetDateTime;

use crate::pool::RedisPool;
use connection::SharedConnection;
use scripts::Scripts;

/// Ready queue key suffix.
pub const READY_QUEUE: &str = "cache_jobs";
/// Delayed queue key suffix.
pub const DELAYED_QUEUE: &str = "cache_jobs_delayed";
/// Dead-letter list key suffix.
pub const DEAD_LETTER_QUEUE: &str = "cache_jobs_dlq";
/// Processing (leased jobs) sorted set key suffix.
pub const PROCESSING_SET: &str = "cache_jobs_processing";
/// Lease owner hash key suffix.
pub const LEASE_OWNERS: &str = "cache_jobs_lease_owners";

/// Expired leases returned per script call, so one sweep never blocks Redis for long.
const REAP_BATCH: usize = 500;
/// Broken envelopes dead-lettered by one `take` before it gives up for this poll.
const MAX_BROKEN_PER_TAKE: usize = 16;

/// Physical key names of one queue.
#[derive(Debug, Clone)]
struct Keys {
    ready: String,
    delayed: String,
    dead: String,
    processing: String,
    owners: String,
}

/// The crash-safe Redis job queue shared by every instance.
#[derive(Debug, Clone)]
pub struct RedisJobQueue {
    conn: SharedConnection,
    keys: Keys,
    scripts: Scripts,
}

/// Epoch seconds with sub-second precision, as stored in the scores.
fn epoch_seconds(at: OffsetDateTime) -> f64 {
    at.unix_timestamp() as f64 + f64::from(at.nanosecond()) / 1e9
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn encode(job: &JobEnvelope) -> PortResult<String> {
    job.to_json()
        .map_err(|e| PortError::Backend(format!("cannot serialise job {}: {e}", job.id)))
}

impl RedisJobQueue {
    /// Wraps the shared pool; keys live under the pool's prefix.
    #[must_use]
    pub fn new(pool: RedisPool) -> Self {
        let key = |suffix: &str| format!("{}{suffix}", pool.prefix());
        let keys = Keys {
            ready: key(READY_QUEUE),
            delayed: key(DELAYED_QUEUE),
            dead: key(DEAD_LETTER_QUEUE),
            processing: key(PROCESSING_SET),
            owners: key(LEASE_OWNERS),
        };
        Self {
            conn: SharedConnection::new(pool),
            keys,
            scripts: Scripts::new(),
        }
    }

    /// The physical key of the processing set (for inspection and tests).
    #[must_use]
    pub fn processing_key(&self) -> &str {
        &self.keys.processing
    }

    /// How many jobs are currently leased (taken and not yet settled).
    ///
    /// # Errors
    /// `Unavailable`/`Timeout` when Redis cannot be reached; `Backend` otherwise.
    pub async fn processing_len(&self) -> PortResult<u64> {
        self.query(redis::cmd("ZCARD").arg(&self.keys.processing))
            .await
    }

    /// Runs one prepared script invocation, bounded by the command timeout.
    async fn invoke<T: FromRedisValue>(
        &self,
        what: &str,
        invocation: ScriptInvocation<'_>,
    ) -> PortResult<T> {
        let mut conn = self.conn.get().await?;
        let limit = self.conn.command_timeout();
        let result = tokio::time::timeout(limit, invocation.invoke_async(&mut conn)).await;
        self.conn.outcome(what, result)
    }

    /// Sends one command, bounded by the command timeout.
    async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> PortResult<T> {
        let mut conn = self.conn.get().await?;
        let limit = self.conn.command_timeout();
        let result = tokio::time::timeout(limit, cmd.query_async(&mut conn)).await;
        self.conn.outcome("command", result)
    }

    /// Settles a leased job with `script` (ack, retry or dead letter); warns when the lease
    /// had passed to another worker, in which case nothing moves.
    async fn settle(
        &self,
        what: &str,
        invocation: ScriptInvocation<'_>,
        target: Option<&str>,
        leased: &LeasedJob,
    ) -> PortResult<()> {
        let invocation = settle_keys(invocation, &self.keys, target);
        let settled: i64 = self.invoke(what, invocation).await?;
        if settled == 0 {
            tracing::warn!(
                job_id = %leased.job.id,
                worker = %leased.worker_id,
                "job lease expired and was handed out again; {what} skipped"
            );
        }
        Ok(())
    }
}

#[async_trait]
impl JobQueue for RedisJobQueue {
    async fn enqueue_ready(&self, job: &JobEnvelope) -> PortResult<()> {
        let score = epoch_seconds(now()) - job.priority as f64;
        let _: i64 = self
            .query(
                redis::cmd("ZADD")
                    .arg(&self.keys.ready)
                    .arg(score)
                    .arg(encode(job)?),
            )
            .await?;
        Ok(())
    }

    async fn enqueue_delayed(&self, job: &JobEnvelope) -> PortResult<()> {
        let _: i64 = self
            .query(
                redis::cmd("ZADD")
                    .arg(&self.keys.delayed)
                    .arg(epoch_seconds(job.process_at))
                    .arg(encode(job)?),
            )
            .await?;
        Ok(())
    }

    async fn promote_due(&self, now: OffsetDateTime, limit: usize) -> PortResult<usize> {
        if limit == 0 {
            return Ok(0);
        }
        let mut invocation = self.scripts.promote.prepare_invoke();
        invocation
            .key(&self.keys.delayed)
            .key(&self.keys.ready)
            .arg(epoch_seconds(now))
            .arg(limit);
        self.invoke("promote_due", invocation).await
    }

    async fn take(&self, worker_id: &str, lease: Duration) -> PortResult<Option<LeasedJob>> {
        for _ in 0..MAX_BROKEN_PER_TAKE {
            let lease_until = now() + lease;
            let mut invocation = self.scripts.take.prepare_invoke();
            invocation
                .key(&self.keys.ready)
                .key(&self.keys.processing)
                .key(&self.keys.owners)
                .arg(epoch_seconds(lease_until))
                .arg(worker_id);
            let Some(raw) = self.invoke::<Option<String>>("take", invocation).await? else {
                return Ok(None);
            };
            match JobEnvelope::from_json(&raw) {
                Ok(job) => {
                    return Ok(Some(LeasedJob {
                        job,
                        raw,
                        worker_id: worker_id.to_owned(),
                        lease_until,
                    }));
                }
                Err(error) => {
                    tracing::error!(%error, raw = %raw, "malformed job envelope; dead-lettered");
                    let mut invocation = self.scripts.dead.prepare_invoke();
                    invocation.arg(&raw).arg(worker_id).arg(&raw);
                    let invocation = settle_keys(invocation, &self.keys, Some(&self.keys.dead));
                    let _: i64 = self.invoke("dead_letter", invocation).await?;
                }
            }
        }
        Ok(None)
    }

    async fn ack(&self, leased: &LeasedJob) -> PortResult<()> {
        let mut invocation = self.scripts.ack.prepare_invoke();
        invocation.arg(&leased.raw).arg(&leased.worker_id);
        self.settle("ack", invocation, None, leased).await
    }

    async fn retry_later(&self, leased: &LeasedJob, job: &JobEnvelope) -> PortResult<()> {
        let mut invocation = self.scripts.retry.prepare_invoke();
        invocation
            .arg(&leased.raw)
            .arg(&leased.worker_id)
            .arg(encode(job)?)
            .arg(epoch_seconds(job.process_at));
        self.settle("retry", invocation, Some(&self.keys.delayed), leased)
            .await
    }

    async fn dead_letter(&self, leased: &LeasedJob, job: &JobEnvelope) -> PortResult<()> {
        let mut invocation = self.scripts.dead.prepare_invoke();
        invocation
            .arg(&leased.raw)
            .arg(&leased.worker_id)
            .arg(encode(job)?);
        self.settle("dead_letter", invocation, Some(&self.keys.dead), leased)
            .await
    }

    async fn requeue_expired_leases(&self, now: OffsetDateTime) -> PortResult<usize> {
        let mut total = 0;
        loop {
            let mut invocation = self.scripts.reap.prepare_invoke();
            invocation
                .key(&self.keys.processing)
                .key(&self.keys.owners)
                .key(&self.keys.ready)
                .arg(epoch_seconds(now))
                .arg(REAP_BATCH);
            let moved: usize = self.invoke("requeue_expired_leases", invocation).await?;
            total += moved;
            if moved < REAP_BATCH {
                return Ok(total);
            }
        }
    }

    async fn sizes(&self) -> PortResult<QueueSizes> {
        let mut pipe = redis::pipe();
        pipe.cmd("ZCARD")
            .arg(&self.keys.ready)
            .cmd("ZCARD")
            .arg(&self.keys.delayed)
            .cmd("LLEN")
            .arg(&self.keys.dead);
        let mut conn = self.conn.get().await?;
        let limit = self.conn.command_timeout();
        let result = tokio::time::timeout(limit, pipe.query_async(&mut conn)).await;
        let (immediate, delayed, dead_letter): (u64, u64, u64) =
            self.conn.outcome("queue sizes", result)?;
        Ok(QueueSizes {
            immediate,
            delayed,
            dead_letter,
        })
    }

    async fn list_dead(&self, limit: usize) -> PortResult<Vec<JobEnvelope>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let last = isize::try_from(limit)
            .unwrap_or(isize::MAX)
            .saturating_sub(1);
        let raws: Vec<String> = self
            .query(redis::cmd("LRANGE").arg(&self.keys.dead).arg(0).arg(last))
            .await?;
        Ok(raws
            .iter()
            .filter_map(|raw| JobEnvelope::from_json(raw).ok())
            .collect())
    }

    async fn requeue_dead(&self, id: Option<&str>) -> PortResult<usize> {
        let raws: Vec<String> = self
            .query(redis::cmd("LRANGE").arg(&self.keys.dead).arg(0).arg(-1))
            .await?;
        let mut pairs = Vec::new();
        for raw in raws {
            let Ok(mut job) = JobEnvelope::from_json(&raw) else {
                continue;
            };
            if id.is_some_and(|id| id != job.id) {
                continue;
            }
            job.attempts = 0;
            let score = epoch_seconds(now()) - job.priority as f64;
            pairs.push((raw, encode(&job)?, score));
        }
        let mut moved = 0;
        for (raw, new_raw, score) in pairs {
            let mut invocation = self.scripts.requeue_dead.prepare_invoke();
            invocation
                .key(&self.keys.dead)
                .key(&self.keys.ready)
                .arg(score)
                .arg(raw)
                .arg(new_raw);
            let n: usize = self.invoke("requeue_dead", invocation).await?;
            moved += n;
        }
        Ok(moved)
    }
}

/// Adds the keys of a settle script: processing, owners, ready, then `target` if any.
fn settle_keys<'a>(
    mut invocation: ScriptInvocation<'a>,
    keys: &Keys,
    target: Option<&str>,
) -> ScriptInvocation<'a> {
    invocation
        .key(&keys.processing)
        .key(&keys.owners)
        .key(&keys.ready);
    if let Some(target) = target {
        invocation.key(target);
    }
    invocation
}
