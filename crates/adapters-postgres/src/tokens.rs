//! Token state in PostgreSQL (contract 6.6, 6.7): refresh-token records with atomic
//! rotation and reuse detection ([`PgRefreshTokenStore`]), and the durable record of revoked
//! access tokens and per-user cut-offs ([`PgRevocationStore`]), the source of truth behind
//! the Redis fast path.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::UserId;
use ports::{
    PortError, PortResult, RefreshTokenRecord, RefreshTokenStore, RevocationStore, RotateOutcome,
};
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

use crate::pool::{PgPool, map_diesel_error};
use crate::schema::{revoked_access_tokens, tokens, user_token_revocations};

diesel::define_sql_function! {
    /// SQL `greatest(a, b)` on timestamps: a later cut-off or expiry wins.
    fn greatest(a: diesel::sql_types::Timestamptz, b: diesel::sql_types::Timestamptz) -> diesel::sql_types::Timestamptz;
}

/// Refresh-token records in the `tokens` table.
#[derive(Debug, Clone)]
pub struct PgRefreshTokenStore {
    pool: PgPool,
}

impl PgRefreshTokenStore {
    /// Wraps the shared pool.
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

async fn insert_record(
    connection: &mut AsyncPgConnection,
    record: &RefreshTokenRecord,
    family: Uuid,
    now: OffsetDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(tokens::table)
        .values((
            tokens::id.eq(Uuid::now_v7()),
            tokens::user_id.eq(record.user_id.as_uuid()),
            tokens::jti.eq(record.jti),
            tokens::refresh_token.eq(&record.digest),
            tokens::expires_at.eq(record.expires_at),
            tokens::created_at.eq(now),
            tokens::updated_at.eq(now),
            tokens::family_id.eq(family),
        ))
        .execute(connection)
        .await
}

async fn rotate_in_transaction(
    connection: &mut AsyncPgConnection,
    old_jti: Uuid,
    new: &RefreshTokenRecord,
    now: OffsetDateTime,
) -> QueryResult<RotateOutcome> {
    // The conditional UPDATE takes the row lock: of two concurrent rotations the second
    // waits, then finds `deleted_at` set and updates nothing.
    let revoked: Option<(Uuid, Option<Uuid>)> = diesel::update(
        tokens::table
            .filter(tokens::jti.eq(old_jti))
            .filter(tokens::user_id.eq(new.user_id.as_uuid()))
            .filter(tokens::deleted_at.is_null())
            .filter(tokens::expires_at.gt(now)),
    )
    .set((
        tokens::deleted_at.eq(now),
        tokens::updated_at.eq(now),
        tokens::replaced_by.eq(new.jti),
    ))
    .returning((tokens::jti, tokens::family_id))
    .get_result(connection)
    .await
    .optional()?;
    if let Some((jti, family)) = revoked {
        // Legacy rows have no family: the chain starts at them.
        insert_record(connection, new, family.unwrap_or(jti), now).await?;
        return Ok(RotateOutcome::Rotated);
    }
    let existing: Option<(Uuid, Option<Uuid>, Option<OffsetDateTime>)> = tokens::table
        .filter(tokens::jti.eq(old_jti))
        .filter(tokens::user_id.eq(new.user_id.as_uuid()))
        .select((tokens::jti, tokens::family_id, tokens::deleted_at))
        .first(connection)
        .await
        .optional()?;
    Ok(match existing {
        Some((jti, family, Some(_))) => RotateOutcome::Reused {
            family: family.unwrap_or(jti),
        },
        _ => RotateOutcome::NotFound,
    })
}

#[async_trait]
impl RefreshTokenStore for PgRefreshTokenStore {
    async fn store(&self, record: &RefreshTokenRecord) -> PortResult<()> {
        let mut connection = self.pool.get().await?;
        let now = OffsetDateTime::now_utc();
        insert_record(&mut connection, record, record.family, now)
            .await
            .map_err(map_diesel_error)?;
        Ok(())
    }

    async fn rotate(
        &self,
        old_jti: Uuid,
        new: &RefreshTokenRecord,
        now: OffsetDateTime,
    ) -> PortResult<RotateOutcome> {
        let mut pooled = self.pool.get().await?;
        let connection: &mut AsyncPgConnection = &mut pooled;
        connection
            .transaction(async move |connection: &mut AsyncPgConnection| {
                rotate_in_transaction(connection, old_jti, new, now).await
            })
            .await
            .map_err(map_diesel_error)
    }

    async fn revoke(&self, jti: Uuid, now: OffsetDateTime) -> PortResult<()> {
        let mut connection = self.pool.get().await?;
        diesel::update(
            tokens::table
                .filter(tokens::jti.eq(jti))
                .filter(tokens::deleted_at.is_null()),
        )
        .set((tokens::deleted_at.eq(now), tokens::updated_at.eq(now)))
        .execute(&mut connection)
        .await
        .map_err(map_diesel_error)?;
        Ok(())
    }

    async fn revoke_family(&self, family: Uuid, now: OffsetDateTime) -> PortResult<u64> {
        let mut connection = self.pool.get().await?;
        let revoked = diesel::update(
            tokens::table
                .filter(tokens::family_id.eq(family).or(tokens::jti.eq(family)))
                .filter(tokens::deleted_at.is_null()),
        )
        .set((tokens::deleted_at.eq(now), tokens::updated_at.eq(now)))
        .execute(&mut connection)
        .await
        .map_err(map_diesel_error)?;
        Ok(revoked as u64)
    }

    async fn revoke_all_for_user(&self, user: UserId, now: OffsetDateTime) -> PortResult<u64> {
        let mut connection = self.pool.get().await?;
        let revoked = diesel::update(
            tokens::table
                .filter(tokens::user_id.eq(user.as_uuid()))
                .filter(tokens::deleted_at.is_null()),
        )
        .set((tokens::deleted_at.eq(now), tokens::updated_at.eq(now)))
        .execute(&mut connection)
        .await
        .map_err(map_diesel_error)?;
        Ok(revoked as u64)
    }
}

/// Revoked access-token ids and per-user cut-offs, durable in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgRevocationStore {
    pool: PgPool,
}

impl PgRevocationStore {
    /// Wraps the shared pool.
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Deletes revoked-id rows whose token has expired anyway; returns how many.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> PortResult<u64> {
        let mut connection = self.pool.get().await?;
        let purged = diesel::delete(
            revoked_access_tokens::table.filter(revoked_access_tokens::expires_at.le(now)),
        )
        .execute(&mut connection)
        .await
        .map_err(map_diesel_error)?;
        Ok(purged as u64)
    }
}

/// Cut-offs are whole seconds (6.7).
fn whole_seconds(at: OffsetDateTime) -> PortResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(at.unix_timestamp())
        .map_err(|e| PortError::Backend(format!("cut-off out of range: {e}")))
}

#[async_trait]
impl RevocationStore for PgRevocationStore {
    async fn revoke_jti(&self, jti: Uuid, until: OffsetDateTime) -> PortResult<()> {
        let mut connection = self.pool.get().await?;
        diesel::insert_into(revoked_access_tokens::table)
            .values((
                revoked_access_tokens::jti.eq(jti),
                revoked_access_tokens::expires_at.eq(until),
                revoked_access_tokens::revoked_at.eq(OffsetDateTime::now_utc()),
            ))
            .on_conflict(revoked_access_tokens::jti)
            .do_update()
            .set(revoked_access_tokens::expires_at.eq(greatest(
                revoked_access_tokens::expires_at,
                excluded(revoked_access_tokens::expires_at),
            )))
            .execute(&mut connection)
            .await
            .map_err(map_diesel_error)?;
        Ok(())
    }

    async fn is_jti_revoked(&self, jti: Uuid) -> PortResult<bool> {
        let mut connection = self.pool.get().await?;
        // Rows are kept until purged; an expired row still says "revoked", which is right:
        // the token it names is refused for its expiry anyway.
        diesel::select(diesel::dsl::exists(
            revoked_access_tokens::table.filter(revoked_access_tokens::jti.eq(jti)),
        ))
        .get_result(&mut connection)
        .await
        .map_err(map_diesel_error)
    }

    async fn set_user_cutoff(&self, user: UserId, at: OffsetDateTime) -> PortResult<()> {
        let at = whole_seconds(at)?;
        let mut connection = self.pool.get().await?;
        diesel::insert_into(user_token_revocations::table)
            .values((
                user_token_revocations::user_id.eq(user.as_uuid()),
                user_token_revocations::revoked_before.eq(at),
            ))
            .on_conflict(user_token_revocations::user_id)
            .do_update()
            .set(user_token_revocations::revoked_before.eq(greatest(
                user_token_revocations::revoked_before,
                excluded(user_token_revocations::revoked_before),
            )))
            .execute(&mut connection)
            .await
            .map_err(map_diesel_error)?;
        Ok(())
    }

    async fn user_cutoff(&self, user: UserId) -> PortResult<Option<OffsetDateTime>> {
        let mut connection = self.pool.get().await?;
        user_token_revocations::table
            .filter(user_token_revocations::user_id.eq(user.as_uuid()))
            .select(user_token_revocations::revoked_before)
            .first::<OffsetDateTime>(&mut connection)
            .await
            .optional()
            .map(|at| at.map(|at| at.to_offset(UtcOffset::UTC)))
            .map_err(map_diesel_error)
    }
}
