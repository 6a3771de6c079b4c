//! `task-api prune-audit-logs <age>`: deletes audit records older than `age` (duration text
//! of contract 1.6, for example `2160h` for 90 days). Every authorization decision is one
//! row (11.5), so a busy deployment runs this on a schedule (a cron job or a Kubernetes
//! CronJob running the same image) to keep the table's size bounded.

use adapters_postgres::{PgAuditLog, PgPool};
use anyhow::Context;

use crate::{config::Config, startup::pool_settings};

/// Deletes the audit records older than `age`; returns how many.
///
/// # Errors
/// An unparsable or zero `age`, an unreachable database or a failed deletion (batches
/// already deleted stay deleted; running it again continues).
pub async fn prune_audit_logs(config: &Config, age: &str) -> anyhow::Result<u64> {
    let age = domain::parse_duration(age).with_context(|| format!("age {age:?}"))?;
    anyhow::ensure!(!age.is_zero(), "the age must be more than zero");
    let cutoff = time::OffsetDateTime::now_utc() - age;
    let database =
        PgPool::new(&pool_settings(config)).context("could not configure the PostgreSQL pool")?;
    Ok(PgAuditLog::new(database).prune_older_than(cutoff).await?)
}
