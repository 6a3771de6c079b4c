//! The audit log of contract 11.5 in `audit_logs`: batched writes (one `INSERT ... SELECT FROM
//! unnest(...)` per batch) and the filtered, paginated listing operators read.

use std::collections::HashSet;

use async_trait::async_trait;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::RunQueryDsl;
use domain::UserId;
use ipnet::IpNet;
use ports::{
    AuditDecision, AuditPage, AuditQuery, AuditReader, AuditRecord, AuditSink, PortResult,
    audit::StoredAuditRecord,
};
use time::PrimitiveDateTime;
use uuid::Uuid;

use crate::authz::{from_utc_naive, to_utc_naive};
use crate::pool::{PgPool, PooledConnection, map_diesel_error};
use crate::schema::{audit_logs, users};

/// Rows per `INSERT`, to keep one statement's arrays (and the transaction) modest.
const MAX_ROWS_PER_INSERT: usize = 4_000;

/// Longest page a listing returns, whatever the caller asks for.
pub const MAX_PAGE_SIZE: u32 = 1_000;

/// `audit_logs` as the audit sink and reader.
#[derive(Debug, Clone)]
pub struct PgAuditLog {
    pool: PgPool,
}

impl PgAuditLog {
    /// An audit log over the shared pool.
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// `text` cut to at most `max` characters, so that one over-long client-supplied value
/// (a huge `X-Request-ID`) cannot make PostgreSQL reject the whole batch.
fn clip(text: &str, max: usize) -> &str {
    text.char_indices()
        .nth(max)
        .map_or(text, |(end, _)| &text[..end])
}

/// One statement for any batch size: the columns travel as 14 arrays and `unnest` turns
/// them back into rows. PostgreSQL prepares it once per connection, where a multi-row
/// `VALUES` list would be parsed and planned anew for every batch.
const INSERT_BATCH: &str = r#"INSERT INTO audit_logs (id, user_id, action, resource, resource_id,
    decision, reason, ip_address, user_agent, request_id, request_method, request_path,
    context, "timestamp")
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::varchar[], $4::varchar[], $5::uuid[],
    $6::varchar[], $7::text[], $8::inet[], $9::text[], $10::varchar[], $11::varchar[],
    $12::text[], $13::jsonb[], $14::timestamp[])"#;

/// The batch as columns, in the order of [`INSERT_BATCH`]'s parameters.
#[derive(Default)]
struct Columns<'a> {
    ids: Vec<Uuid>,
    user_ids: Vec<Uuid>,
    actions: Vec<&'a str>,
    resources: Vec<&'a str>,
    resource_ids: Vec<Option<Uuid>>,
    decisions: Vec<&'a str>,
    reasons: Vec<&'a str>,
    ip_addresses: Vec<Option<IpNet>>,
    user_agents: Vec<Option<&'a str>>,
    request_ids: Vec<&'a str>,
    request_methods: Vec<Option<&'a str>>,
    request_paths: Vec<Option<&'a str>>,
    contexts: Vec<&'a serde_json::Value>,
    timestamps: Vec<PrimitiveDateTime>,
}

impl<'a> Columns<'a> {
    fn of(records: &[&'a AuditRecord]) -> Self {
        let mut columns = Self::default();
        for r in records {
            columns.ids.push(Uuid::now_v7());
            columns.user_ids.push(r.user_id.as_uuid());
            columns.actions.push(clip(&r.action, 255));
            columns.resources.push(clip(&r.resource, 255));
            columns.resource_ids.push(r.resource_id);
            columns.decisions.push(r.decision.as_str());
            columns.reasons.push(&r.reason);
            columns.ip_addresses.push(r.ip_address.map(IpNet::from));
            columns.user_agents.push(r.user_agent.as_deref());
            columns.request_ids.push(clip(&r.request_id, 255));
            columns
                .request_methods
                .push(r.request_method.as_deref().map(|m| clip(m, 16)));
            columns.request_paths.push(r.request_path.as_deref());
            columns.contexts.push(&r.context);
            columns.timestamps.push(to_utc_naive(r.timestamp));
        }
        columns
    }
}

async fn insert(connection: &mut PooledConnection, records: &[&AuditRecord]) -> QueryResult<()> {
    use diesel::sql_types::{Array, Inet, Jsonb, Nullable, Text, Timestamp, Uuid as SqlUuid};
    let c = Columns::of(records);
    diesel::sql_query(INSERT_BATCH)
        .bind::<Array<SqlUuid>, _>(&c.ids)
        .bind::<Array<SqlUuid>, _>(&c.user_ids)
        .bind::<Array<Text>, _>(&c.actions)
        .bind::<Array<Text>, _>(&c.resources)
        .bind::<Array<Nullable<SqlUuid>>, _>(&c.resource_ids)
        .bind::<Array<Text>, _>(&c.decisions)
        .bind::<Array<Text>, _>(&c.reasons)
        .bind::<Array<Nullable<Inet>>, _>(&c.ip_addresses)
        .bind::<Array<Nullable<Text>>, _>(&c.user_agents)
        .bind::<Array<Text>, _>(&c.request_ids)
        .bind::<Array<Nullable<Text>>, _>(&c.request_methods)
        .bind::<Array<Nullable<Text>>, _>(&c.request_paths)
        .bind::<Array<Jsonb>, _>(&c.contexts)
        .bind::<Array<Timestamp>, _>(&c.timestamps)
        .execute(connection)
        .await
        .map(|_| ())
}

/// Rows deleted per statement when pruning, so that no single transaction holds locks on
/// millions of rows or bloats the WAL in one burst.
pub const PRUNE_BATCH_ROWS: i64 = 10_000;

impl PgAuditLog {
    /// Deletes the records older than `cutoff` (by `timestamp`), in batches of
    /// [`PRUNE_BATCH_ROWS`] through the timestamp index; returns how many went. The audit
    /// log grows by one row per authorization decision, so deployments prune it on a
    /// schedule (`task-api prune-audit-logs`).
    ///
    /// # Errors
    /// Storage failures; the batches already committed stay deleted.
    pub async fn prune_older_than(&self, cutoff: time::OffsetDateTime) -> PortResult<u64> {
        let cutoff = to_utc_naive(cutoff);
        let mut connection = self.pool.get().await?;
        let mut deleted = 0_u64;
        loop {
            let rows = diesel::sql_query(
                r#"DELETE FROM audit_logs WHERE id IN (
                    SELECT id FROM audit_logs WHERE "timestamp" < $1 LIMIT $2)"#,
            )
            .bind::<diesel::sql_types::Timestamp, _>(cutoff)
            .bind::<diesel::sql_types::BigInt, _>(PRUNE_BATCH_ROWS)
            .execute(&mut connection)
            .await
            .map_err(map_diesel_error)?;
            deleted += u64::try_from(rows).unwrap_or(0);
            if i64::try_from(rows).unwrap_or(i64::MAX) < PRUNE_BATCH_ROWS {
                return Ok(deleted);
            }
        }
    }
}

#[async_trait]
impl AuditSink for PgAuditLog {
    async fn write_batch(&self, records: &[AuditRecord]) -> PortResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut connection = self.pool.get().await?;
        for chunk in records.chunks(MAX_ROWS_PER_INSERT) {
            let all: Vec<&AuditRecord> = chunk.iter().collect();
            match insert(&mut connection, &all).await {
                Ok(()) => {}
                // One caller id without a `users` row must not cost the rest of the batch:
                // keep the records whose user exists and write those.
                Err(DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)) => {
                    let ids: Vec<Uuid> = all.iter().map(|r| r.user_id.as_uuid()).collect();
                    let known: HashSet<Uuid> = users::table
                        .filter(users::id.eq_any(&ids))
                        .select(users::id)
                        .load::<Uuid>(&mut connection)
                        .await
                        .map_err(map_diesel_error)?
                        .into_iter()
                        .collect();
                    let (kept, skipped): (Vec<&AuditRecord>, Vec<&AuditRecord>) = all
                        .into_iter()
                        .partition(|r| known.contains(&r.user_id.as_uuid()));
                    tracing::warn!(
                        skipped = skipped.len(),
                        "audit records for unknown users were not written"
                    );
                    if !kept.is_empty() {
                        insert(&mut connection, &kept)
                            .await
                            .map_err(map_diesel_error)?;
                    }
                }
                Err(other) => return Err(map_diesel_error(other)),
            }
        }
        Ok(())
    }
}

type AuditRow = (
    Uuid,
    Uuid,
    String,
    String,
    Option<Uuid>,
    String,
    Option<String>,
    Option<IpNet>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<serde_json::Value>,
    Option<PrimitiveDateTime>,
    Option<PrimitiveDateTime>,
);

fn stored(row: AuditRow) -> StoredAuditRecord {
    let (
        id,
        user_id,
        action,
        resource,
        resource_id,
        decision,
        reason,
        ip_address,
        user_agent,
        request_id,
        request_method,
        request_path,
        context,
        timestamp,
        created_at,
    ) = row;
    StoredAuditRecord {
        id,
        record: AuditRecord {
            user_id: UserId::from_uuid(user_id),
            action,
            resource,
            resource_id,
            decision: AuditDecision::from_allowed(decision == AuditDecision::Allowed.as_str()),
            reason: reason.unwrap_or_default(),
            ip_address: ip_address.map(|net| net.addr()),
            user_agent,
            request_id: request_id.unwrap_or_default(),
            request_method,
            request_path,
            context: context.unwrap_or_else(|| serde_json::json!({})),
            timestamp: timestamp
                .or(created_at)
                .map_or(time::OffsetDateTime::UNIX_EPOCH, from_utc_naive),
        },
    }
}

fn filtered(query: &AuditQuery) -> audit_logs::BoxedQuery<'static, Pg> {
    let mut q = audit_logs::table
        .filter(audit_logs::deleted_at.is_null())
        .into_boxed();
    if let Some(user) = query.user_id {
        q = q.filter(audit_logs::user_id.eq(user.as_uuid()));
    }
    if let Some(resource) = &query.resource {
        q = q.filter(audit_logs::resource.eq(resource.clone()));
    }
    if let Some(decision) = query.decision {
        q = q.filter(audit_logs::decision.eq(decision.as_str()));
    }
    if let Some(since) = query.since {
        q = q.filter(audit_logs::timestamp.ge(to_utc_naive(since)));
    }
    if let Some(until) = query.until {
        q = q.filter(audit_logs::timestamp.lt(to_utc_naive(until)));
    }
    q
}

#[async_trait]
impl AuditReader for PgAuditLog {
    async fn list(&self, query: &AuditQuery) -> PortResult<AuditPage> {
        let page_size = query.page_size.clamp(1, MAX_PAGE_SIZE);
        let page = query.page.max(1);
        let offset = i64::from(page - 1) * i64::from(page_size);
        let mut connection = self.pool.get().await?;
        let total: i64 = filtered(query)
            .count()
            .get_result(&mut connection)
            .await
            .map_err(map_diesel_error)?;
        let rows: Vec<AuditRow> = filtered(query)
            .select((
                audit_logs::id,
                audit_logs::user_id,
                audit_logs::action,
                audit_logs::resource,
                audit_logs::resource_id,
                audit_logs::decision,
                audit_logs::reason,
                audit_logs::ip_address,
                audit_logs::user_agent,
                audit_logs::request_id,
                audit_logs::request_method,
                audit_logs::request_path,
                audit_logs::context,
                audit_logs::timestamp,
                audit_logs::created_at,
            ))
            .order((
                audit_logs::timestamp.desc().nulls_last(),
                audit_logs::id.desc(),
            ))
            .limit(i64::from(page_size))
            .offset(offset)
            .load(&mut connection)
            .await
            .map_err(map_diesel_error)?;
        Ok(AuditPage {
            records: rows.into_iter().map(stored).collect(),
            total: u64::try_from(total).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn clipping_counts_characters_not_bytes() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdef", 3), "abc");
        assert_eq!(clip("ééé", 2), "éé");
    }
}
