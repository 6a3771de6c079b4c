//! [`PgTaskRepository`]: the task repository port over the `tasks` table.
//!
//! Every query is built with diesel's DSL, so every value is a bound parameter; the only
//! SQL text that varies with the request is chosen from the closed [`ports::SortColumn`]
//! enum (contract D-19). Soft-deleted rows (`deleted_at` set) are filtered out of every
//! statement, and the listing filters keep the `deleted_at IS NULL` predicate literal so
//! that the partial listing indexes of migration 16 apply.

mod explain;
mod listing;
mod row;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::RunQueryDsl;
use domain::{Task, TaskChanges, TaskId, UserId};
use ports::{PortError, PortResult, TaskPage, TaskQuery, TaskRepository};
use time::OffsetDateTime;

use crate::pool::{PgPool, map_diesel_error};
use crate::schema::tasks;

use row::{NewTaskRow, TaskChangeRow, TaskRow, to_storage_timestamp, truncate_to_micros};

/// Tasks stored in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgTaskRepository {
    pool: PgPool,
}

impl PgTaskRepository {
    /// A repository drawing connections from `pool`.
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The plan PostgreSQL chooses for the page query of `query` (the very statement
    /// [`TaskRepository::list`] runs, without the count), as the JSON of
    /// `EXPLAIN (FORMAT JSON)`. For tests and benchmarks that check index use.
    ///
    /// # Errors
    /// As [`TaskRepository::list`].
    pub async fn explain_list(&self, query: &TaskQuery) -> PortResult<serde_json::Value> {
        let statement = listing::page_statement(query)?;
        let mut connection = self.pool.get().await?;
        explain::Explain(statement)
            .get_result::<serde_json::Value>(&mut connection)
            .await
            .map_err(map_diesel_error)
    }

    /// `Conflict` when the task exists (so `expected_updated_at` was stale), `NotFound`
    /// otherwise; used after a conditional write touched no row.
    async fn missing_or_stale(&self, id: TaskId) -> PortError {
        match self.find_by_id(id).await {
            Ok(Some(_)) => {
                PortError::Conflict("the task was changed since the given version".to_owned())
            }
            Ok(None) => PortError::NotFound,
            Err(error) => error,
        }
    }
}

/// True when `expected` can equal a stored timestamp at all: PostgreSQL keeps microseconds,
/// so a version with finer digits never matches (and must not be rounded into a match).
fn storable(expected: OffsetDateTime) -> bool {
    truncate_to_micros(expected) == expected
}

fn map_insert_error(error: DieselError) -> PortError {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            PortError::Conflict("the task owner does not exist".to_owned())
        }
        other => map_diesel_error(other),
    }
}

#[async_trait]
impl TaskRepository for PgTaskRepository {
    async fn insert(&self, task: &Task) -> PortResult<Task> {
        let row = NewTaskRow::from_task(task);
        let mut connection = self.pool.get().await?;
        let stored: TaskRow = diesel::insert_into(tasks::table)
            .values(&row)
            .returning(TaskRow::as_returning())
            .get_result(&mut connection)
            .await
            .map_err(map_insert_error)?;
        Ok(stored.into_task())
    }

    async fn find_by_id(&self, id: TaskId) -> PortResult<Option<Task>> {
        let mut connection = self.pool.get().await?;
        let row: Option<TaskRow> = tasks::table
            .filter(tasks::id.eq(id.as_uuid()))
            .filter(tasks::deleted_at.is_null())
            .select(TaskRow::as_select())
            .first(&mut connection)
            .await
            .optional()
            .map_err(map_diesel_error)?;
        Ok(row.map(TaskRow::into_task))
    }

    async fn update(
        &self,
        id: TaskId,
        changes: &TaskChanges,
        now: OffsetDateTime,
        expected_updated_at: Option<OffsetDateTime>,
    ) -> PortResult<Task> {
        let row = TaskChangeRow::new(changes, now);
        let live = tasks::table
            .filter(tasks::id.eq(id.as_uuid()))
            .filter(tasks::deleted_at.is_null());
        let mut connection = self.pool.get().await?;
        let updated: Option<TaskRow> = match expected_updated_at {
            None => diesel::update(live)
                .set(&row)
                .returning(TaskRow::as_returning())
                .get_result(&mut connection)
                .await
                .optional(),
            Some(expected) if storable(expected) => {
                diesel::update(live.filter(tasks::updated_at.eq(to_storage_timestamp(expected))))
                    .set(&row)
                    .returning(TaskRow::as_returning())
                    .get_result(&mut connection)
                    .await
                    .optional()
            }
            Some(_) => Ok(None),
        }
        .map_err(map_diesel_error)?;
        drop(connection);
        match updated {
            Some(stored) => Ok(stored.into_task()),
            None => Err(self.missing_or_stale(id).await),
        }
    }

    async fn soft_delete(
        &self,
        id: TaskId,
        now: OffsetDateTime,
        expected_updated_at: Option<OffsetDateTime>,
    ) -> PortResult<()> {
        let deleted_at = Some(truncate_to_micros(now));
        let live = tasks::table
            .filter(tasks::id.eq(id.as_uuid()))
            .filter(tasks::deleted_at.is_null());
        let mut connection = self.pool.get().await?;
        let touched = match expected_updated_at {
            None => {
                diesel::update(live)
                    .set(tasks::deleted_at.eq(deleted_at))
                    .execute(&mut connection)
                    .await
            }
            Some(expected) if storable(expected) => {
                diesel::update(live.filter(tasks::updated_at.eq(to_storage_timestamp(expected))))
                    .set(tasks::deleted_at.eq(deleted_at))
                    .execute(&mut connection)
                    .await
            }
            Some(_) => Ok(0),
        }
        .map_err(map_diesel_error)?;
        drop(connection);
        if touched == 0 {
            return Err(self.missing_or_stale(id).await);
        }
        Ok(())
    }

    async fn list(&self, query: &TaskQuery) -> PortResult<TaskPage> {
        let statement = listing::page_statement(query)?;
        let count = listing::count_statement(query);
        let mut connection = self.pool.get().await?;
        let rows: Vec<TaskRow> = statement
            .load(&mut connection)
            .await
            .map_err(map_diesel_error)?;
        let total: i64 = count
            .get_result(&mut connection)
            .await
            .map_err(map_diesel_error)?;
        Ok(listing::into_page(
            rows,
            u64::try_from(total).unwrap_or(0),
            query,
        ))
    }

    async fn list_for_owner(&self, owner: UserId) -> PortResult<Vec<Task>> {
        let mut connection = self.pool.get().await?;
        let rows: Vec<TaskRow> = tasks::table
            .filter(tasks::user_id.eq(owner.as_uuid()))
            .filter(tasks::deleted_at.is_null())
            .order_by(tasks::created_at.desc())
            .then_order_by(tasks::id.asc())
            .select(TaskRow::as_select())
            .load(&mut connection)
            .await
            .map_err(map_diesel_error)?;
        Ok(rows.into_iter().map(TaskRow::into_task).collect())
    }
}
