//! The audit log of contract 11.5 in `audit_logs`: batched writes (one multi-row `INSERT`
//! per batch) and the filtered, paginated listing operators read.

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

/// Rows per `INSERT`: 14 bound columns each stays under PostgreSQL's 65 535 parameters.
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

async fn insert(connection: &mut PooledConnection, records: &[&AuditRecord]) -> QueryResult<()> {
    let rows: Vec<_> = records
        .iter()
        .map(|r| {
            (
                audit_logs::id.eq(Uuid::now_v7()),
                audit_logs::user_id.eq(r.user_id.as_uuid()),
                audit_logs::action.eq(clip(&r.action, 255)),
                audit_logs::resource.eq(clip(&r.resource, 255)),
                audit_logs::resource_id.eq(r.resource_id),
                audit_logs::decision.eq(r.decision.as_str()),
                audit_logs::reason.eq(&r.reason),
                audit_logs::ip_address.eq(r.ip_address.map(IpNet::from)),
                audit_logs::user_agent.eq(r.user_agent.as_deref()),
                audit_logs::request_id.eq(clip(&r.request_id, 255)),
                audit_logs::request_method.eq(r.request_method.as_deref().map(|m| clip(m, 16))),
                audit_logs::request_path.eq(r.request_path.as_deref()),
                audit_logs::context.eq(&r.context),
                audit_logs::timestamp.eq(to_utc_naive(r.timestamp)),
            )
        })
        .collect();
    diesel::insert_into(audit_logs::table)
        .values(&rows)
        .execute(connection)
        .await
        .map(|_| ())
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
