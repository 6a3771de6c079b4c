//! The `tasks` row in its storage form and the conversions to and from [`domain::Task`].
//!
//! `created_at` and `updated_at` are `timestamp without time zone` columns holding UTC
//! (the legacy schema), so they travel as [`PrimitiveDateTime`] and are converted at this
//! edge; `due_date` and `deleted_at` are `timestamptz`. PostgreSQL keeps microseconds, so
//! every instant written is first truncated to microseconds: what the caller is told was
//! stored is exactly what a later read (and an ETag derived from it) will see.

use diesel::pg::Pg;
use diesel::prelude::*;
use domain::{Priority, Task, TaskChanges, TaskId, TaskStatus, UserId};
use time::{Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};
use uuid::Uuid;

use crate::schema::tasks;

/// `instant` without its sub-microsecond digits.
pub(crate) fn truncate_to_micros(instant: OffsetDateTime) -> OffsetDateTime {
    instant - Duration::nanoseconds(i64::from(instant.nanosecond() % 1_000))
}

/// `instant` as the UTC wall-clock value stored in a `timestamp without time zone` column.
pub(crate) fn to_storage_timestamp(instant: OffsetDateTime) -> PrimitiveDateTime {
    let utc = instant.to_offset(UtcOffset::UTC);
    PrimitiveDateTime::new(utc.date(), utc.time())
}

/// One task row as read (`deleted_at` is never selected: deleted rows are never read).
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = tasks, check_for_backend(Pg))]
pub(crate) struct TaskRow {
    id: Uuid,
    user_id: Uuid,
    title: String,
    description: Option<String>,
    status: String,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
    priority: String,
    due_date: Option<OffsetDateTime>,
}

impl TaskRow {
    /// The domain task. Legacy rows may hold a status outside the current set (the check
    /// constraint was added `NOT VALID`); rather than failing the whole listing, such a row
    /// is served as `pending` and logged.
    pub(crate) fn into_task(self) -> Task {
        let status = TaskStatus::parse(&self.status)
            .or_else(|_| TaskStatus::parse(&self.status.to_ascii_lowercase()))
            .unwrap_or_else(|_| {
                tracing::warn!(task_id = %self.id, status = %self.status,
                    "task has a status outside the allowed set; serving it as pending");
                TaskStatus::Pending
            });
        let priority = Priority::parse(&self.priority).unwrap_or_else(|_| {
            tracing::warn!(task_id = %self.id, priority = %self.priority,
                "task has an unknown priority; serving it as medium");
            Priority::Medium
        });
        Task {
            id: TaskId::from_uuid(self.id),
            owner: UserId::from_uuid(self.user_id),
            title: self.title,
            description: self.description.unwrap_or_default(),
            status,
            priority,
            due_date: self.due_date,
            created_at: self.created_at.assume_utc(),
            updated_at: self.updated_at.assume_utc(),
        }
    }
}

/// A row to insert.
#[derive(Debug, Insertable)]
#[diesel(table_name = tasks)]
pub(crate) struct NewTaskRow<'a> {
    id: Uuid,
    user_id: Uuid,
    title: &'a str,
    description: &'a str,
    status: &'static str,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
    priority: &'static str,
    due_date: Option<OffsetDateTime>,
}

impl<'a> NewTaskRow<'a> {
    pub(crate) fn from_task(task: &'a Task) -> Self {
        Self {
            id: task.id.as_uuid(),
            user_id: task.owner.as_uuid(),
            title: &task.title,
            description: &task.description,
            status: task.status.as_str(),
            created_at: to_storage_timestamp(truncate_to_micros(task.created_at)),
            updated_at: to_storage_timestamp(truncate_to_micros(task.updated_at)),
            priority: task.priority.as_str(),
            due_date: task.due_date.map(truncate_to_micros),
        }
    }
}

/// The columns an update writes; `None` fields are left out of the `SET` list, and
/// `due_date: Some(None)` writes NULL.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = tasks)]
pub(crate) struct TaskChangeRow<'a> {
    title: Option<&'a str>,
    description: Option<&'a str>,
    status: Option<&'static str>,
    priority: Option<&'static str>,
    due_date: Option<Option<OffsetDateTime>>,
    updated_at: PrimitiveDateTime,
}

impl<'a> TaskChangeRow<'a> {
    pub(crate) fn new(changes: &'a TaskChanges, now: OffsetDateTime) -> Self {
        Self {
            title: changes.title.as_ref().map(domain::TaskTitle::as_str),
            description: changes.description.as_deref(),
            status: changes.status.map(TaskStatus::as_str),
            priority: changes.priority.map(Priority::as_str),
            due_date: changes.due_date.map(|due| due.map(truncate_to_micros)),
            updated_at: to_storage_timestamp(truncate_to_micros(now)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn truncation_keeps_whole_microseconds() {
        let precise = datetime!(2026-01-02 03:04:05.123_456_789 UTC);
        assert_eq!(
            truncate_to_micros(precise),
            datetime!(2026-01-02 03:04:05.123_456 UTC)
        );
        let whole = datetime!(2026-01-02 03:04:05.5 UTC);
        assert_eq!(truncate_to_micros(whole), whole);
    }

    #[test]
    fn storage_timestamps_are_utc_wall_clock() {
        let local = datetime!(2026-01-02 03:04:05 +02:00);
        assert_eq!(to_storage_timestamp(local), datetime!(2026-01-02 01:04:05));
        assert_eq!(to_storage_timestamp(local).assume_utc(), local);
    }
}
