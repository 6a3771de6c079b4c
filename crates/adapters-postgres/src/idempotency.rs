//! [`PgIdempotencyStore`]: the idempotency-key port over the `idempotency_keys` table
//! (migration 19).
//!
//! A reservation is a row whose `status_code` is [`PENDING`] (0, never an HTTP status) and
//! whose `response` is JSON `null`; completing it stores the real status and body. Reserving
//! is one `INSERT ... ON CONFLICT DO UPDATE ... WHERE` statement, so two concurrent requests
//! with the same key can never both win; the `WHERE` lets a request take over a key that
//! expired (24 h) or a reservation whose request died before completing.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use domain::UserId;
use ports::idempotency::{IDEMPOTENCY_KEY_TTL, IDEMPOTENCY_PENDING_TIMEOUT, IdempotencyRecord};
use ports::{IdempotencyClaim, IdempotencyStore, PortError, PortResult, StoredResponse};
use time::OffsetDateTime;

use crate::pool::{PgPool, map_diesel_error};
use crate::schema::idempotency_keys;

/// `status_code` of a reservation without a response yet.
pub const PENDING: i32 = 0;

/// How often `reserve` re-reads after losing a race with a concurrent release.
const RESERVE_ATTEMPTS: usize = 3;

/// Idempotency keys stored in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgIdempotencyStore {
    pool: PgPool,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys, check_for_backend(diesel::pg::Pg))]
struct KeyRow {
    request_fingerprint: Option<String>,
    status_code: i32,
    response: serde_json::Value,
    created_at: OffsetDateTime,
}

impl KeyRow {
    fn stored_response(&self) -> Option<StoredResponse> {
        if self.status_code == PENDING {
            return None;
        }
        Some(StoredResponse {
            status: u16::try_from(self.status_code).unwrap_or(500),
            body: self.response.clone(),
        })
    }
}

impl PgIdempotencyStore {
    /// A store drawing connections from `pool`.
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Deletes keys older than [`IDEMPOTENCY_KEY_TTL`] at `now`; returns how many. Expired
    /// keys are already ignored, this only reclaims space (housekeeping).
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> PortResult<u64> {
        let mut connection = self.pool.get().await?;
        let deleted = diesel::delete(
            idempotency_keys::table
                .filter(idempotency_keys::created_at.lt(now - IDEMPOTENCY_KEY_TTL)),
        )
        .execute(&mut connection)
        .await
        .map_err(map_diesel_error)?;
        Ok(deleted as u64)
    }
}

#[async_trait]
impl IdempotencyStore for PgIdempotencyStore {
    async fn reserve(
        &self,
        user: UserId,
        key: &str,
        fingerprint: &str,
        now: OffsetDateTime,
    ) -> PortResult<IdempotencyClaim> {
        use idempotency_keys::dsl as k;
        let mut connection = self.pool.get().await?;
        for _ in 0..RESERVE_ATTEMPTS {
            let upsert = diesel::insert_into(k::idempotency_keys)
                .values((
                    k::user_id.eq(user.as_uuid()),
                    k::key.eq(key),
                    k::request_fingerprint.eq(Some(fingerprint)),
                    k::status_code.eq(PENDING),
                    k::response.eq(serde_json::Value::Null),
                    k::created_at.eq(now),
                ))
                .on_conflict((k::user_id, k::key))
                .do_update()
                .set((
                    k::request_fingerprint.eq(excluded(k::request_fingerprint)),
                    k::status_code.eq(PENDING),
                    k::response.eq(serde_json::Value::Null),
                    k::created_at.eq(excluded(k::created_at)),
                ));
            // `ON CONFLICT ... DO UPDATE ... WHERE`: only an expired key or an abandoned
            // reservation is taken over.
            let taken = diesel::query_dsl::methods::FilterDsl::filter(
                upsert,
                k::created_at
                    .lt(now - IDEMPOTENCY_KEY_TTL)
                    .or(k::status_code
                        .eq(PENDING)
                        .and(k::created_at.lt(now - IDEMPOTENCY_PENDING_TIMEOUT))),
            )
            .execute(&mut connection)
            .await
            .map_err(map_diesel_error)?;
            if taken == 1 {
                return Ok(IdempotencyClaim::Reserved);
            }
            let existing: Option<KeyRow> = k::idempotency_keys
                .filter(k::user_id.eq(user.as_uuid()))
                .filter(k::key.eq(key))
                .select(KeyRow::as_select())
                .first(&mut connection)
                .await
                .optional()
                .map_err(map_diesel_error)?;
            // None: released between the two statements; try to reserve again.
            if let Some(row) = existing {
                if row.request_fingerprint.as_deref() != Some(fingerprint) {
                    return Ok(IdempotencyClaim::FingerprintMismatch);
                }
                return Ok(match row.stored_response() {
                    Some(response) => IdempotencyClaim::Completed(response),
                    None => IdempotencyClaim::InProgress,
                });
            }
        }
        Err(PortError::Conflict(
            "idempotency key is being reserved and released concurrently".to_owned(),
        ))
    }

    async fn complete(&self, user: UserId, key: &str, response: &StoredResponse) -> PortResult<()> {
        use idempotency_keys::dsl as k;
        let mut connection = self.pool.get().await?;
        let updated = diesel::update(
            k::idempotency_keys
                .filter(k::user_id.eq(user.as_uuid()))
                .filter(k::key.eq(key))
                .filter(k::status_code.eq(PENDING)),
        )
        .set((
            k::status_code.eq(i32::from(response.status)),
            k::response.eq(&response.body),
        ))
        .execute(&mut connection)
        .await
        .map_err(map_diesel_error)?;
        if updated == 0 {
            return Err(PortError::NotFound);
        }
        Ok(())
    }

    async fn release(&self, user: UserId, key: &str) -> PortResult<()> {
        use idempotency_keys::dsl as k;
        let mut connection = self.pool.get().await?;
        diesel::delete(
            k::idempotency_keys
                .filter(k::user_id.eq(user.as_uuid()))
                .filter(k::key.eq(key))
                .filter(k::status_code.eq(PENDING)),
        )
        .execute(&mut connection)
        .await
        .map_err(map_diesel_error)?;
        Ok(())
    }

    async fn find(
        &self,
        user: UserId,
        key: &str,
        now: OffsetDateTime,
    ) -> PortResult<Option<IdempotencyRecord>> {
        use idempotency_keys::dsl as k;
        let mut connection = self.pool.get().await?;
        let row: Option<KeyRow> = k::idempotency_keys
            .filter(k::user_id.eq(user.as_uuid()))
            .filter(k::key.eq(key))
            .filter(k::created_at.ge(now - IDEMPOTENCY_KEY_TTL))
            .select(KeyRow::as_select())
            .first(&mut connection)
            .await
            .optional()
            .map_err(map_diesel_error)?;
        Ok(row.map(|row| IdempotencyRecord {
            response: row.stored_response(),
            fingerprint: row.request_fingerprint,
            created_at: row.created_at,
        }))
    }
}
