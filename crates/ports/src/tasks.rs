//! Task storage: the repository port and the listing query of contract 7.3.

use async_trait::async_trait;
use domain::{Priority, Task, TaskChanges, TaskId, TaskStatus, UserId};
use time::OffsetDateTime;

use crate::PortResult;

/// Whose tasks a listing covers [D-6].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskScope {
    /// Every task (admins).
    All,
    /// The tasks of one owner (everyone else).
    Owner(UserId),
}

/// The filters of 7.3, combined with AND; empty vectors and `None` mean "no filter".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskFilters {
    /// Any of these statuses.
    pub statuses: Vec<TaskStatus>,
    /// Any of these priorities.
    pub priorities: Vec<Priority>,
    /// Due strictly before this instant (tasks without a due date never match).
    pub due_before: Option<OffsetDateTime>,
    /// Due strictly after this instant (tasks without a due date never match).
    pub due_after: Option<OffsetDateTime>,
    /// Case-insensitive substring of title or description (at most 200 characters).
    pub q: Option<String>,
}

/// The allow-listed `sortBy` columns [D-19].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortColumn {
    /// `created_at` (default).
    #[default]
    CreatedAt,
    /// `updated_at`.
    UpdatedAt,
    /// `title`.
    Title,
    /// `due_date`, nulls last in both directions.
    DueDate,
    /// `priority`, ordered low < medium < high < urgent.
    Priority,
}

impl SortColumn {
    /// The query-parameter text.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            Self::Title => "title",
            Self::DueDate => "due_date",
            Self::Priority => "priority",
        }
    }

    /// Reads `sortBy`; an unknown value is silently `created_at` (7.3).
    #[must_use]
    pub fn from_query(text: &str) -> Self {
        [
            Self::CreatedAt,
            Self::UpdatedAt,
            Self::Title,
            Self::DueDate,
            Self::Priority,
        ]
        .into_iter()
        .find(|c| c.as_str() == text)
        .unwrap_or_default()
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortDirection {
    /// Ascending.
    Asc,
    /// Descending (default).
    #[default]
    Desc,
}

impl SortDirection {
    /// The query-parameter text.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }

    /// Reads `order`; anything but `asc` is `desc` (7.3).
    #[must_use]
    pub fn from_query(text: &str) -> Self {
        if text == "asc" { Self::Asc } else { Self::Desc }
    }
}

/// Ordering of a listing; ties are always broken by `id` ascending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TaskSort {
    /// The column.
    pub column: SortColumn,
    /// The direction.
    pub direction: SortDirection,
}

/// The position just after one row of an ordered listing, for keyset pagination: the row's
/// sort key and id. Unlike an offset it stays valid while rows are inserted or deleted before
/// it, so deep or live lists neither skip nor repeat rows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskCursor {
    /// The ordering the cursor belongs to; a cursor is only meaningful with the same sort.
    pub sort: TaskSort,
    /// The sort-column value of the last row seen.
    pub key: CursorKey,
    /// The id of the last row seen (the tie-breaker).
    pub id: TaskId,
}

/// The sort-column value stored in a [`TaskCursor`]; which variant fits which column is
/// checked by [`TaskCursor::fits_sort`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CursorKey {
    /// `created_at` or `updated_at`.
    Timestamp(OffsetDateTime),
    /// `title`.
    Title(String),
    /// `priority`.
    Priority(Priority),
    /// `due_date`; `None` means the row was in the trailing block of tasks without a due date.
    DueDate(Option<OffsetDateTime>),
}

impl TaskCursor {
    /// The cursor that continues a listing ordered by `sort` after `task`.
    #[must_use]
    pub fn after(task: &Task, sort: TaskSort) -> Self {
        let key = match sort.column {
            SortColumn::CreatedAt => CursorKey::Timestamp(task.created_at),
            SortColumn::UpdatedAt => CursorKey::Timestamp(task.updated_at),
            SortColumn::Title => CursorKey::Title(task.title.clone()),
            SortColumn::DueDate => CursorKey::DueDate(task.due_date),
            SortColumn::Priority => CursorKey::Priority(task.priority),
        };
        Self {
            sort,
            key,
            id: task.id,
        }
    }

    /// True when the key variant is the one of the cursor's sort column, so that a decoded
    /// (client-supplied) cursor can be refused before it reaches storage.
    #[must_use]
    pub fn fits_sort(&self) -> bool {
        matches!(
            (self.sort.column, &self.key),
            (
                SortColumn::CreatedAt | SortColumn::UpdatedAt,
                CursorKey::Timestamp(_)
            ) | (SortColumn::Title, CursorKey::Title(_))
                | (SortColumn::DueDate, CursorKey::DueDate(_))
                | (SortColumn::Priority, CursorKey::Priority(_))
        )
    }
}

/// Which slice of the ordered listing to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// `offset = (page - 1) * page_size`, `limit = page_size` (7.3); `page` starts at 1.
    Offset {
        /// 1-based page number.
        page: u32,
        /// Rows per page.
        page_size: u32,
    },
    /// Keyset pagination: the rows after a cursor returned as [`TaskPage::next_cursor`] by an
    /// earlier call with the same sort. The cursor's sort must equal the query's.
    After {
        /// The position to continue after.
        cursor: TaskCursor,
        /// Rows per page.
        page_size: u32,
    },
}

impl Page {
    /// Rows per page.
    #[must_use]
    pub const fn page_size(&self) -> u32 {
        match self {
            Self::Offset { page_size, .. } | Self::After { page_size, .. } => *page_size,
        }
    }
}

impl Default for Page {
    fn default() -> Self {
        Self::Offset {
            page: 1,
            page_size: 10,
        }
    }
}

/// A complete listing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskQuery {
    /// Whose tasks.
    pub scope: TaskScope,
    /// Filters.
    pub filters: TaskFilters,
    /// Ordering.
    pub sort: TaskSort,
    /// Slice.
    pub page: Page,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPage {
    /// The tasks of the page, `[]` past the end.
    pub tasks: Vec<Task>,
    /// How many non-deleted tasks in scope match the filters (all pages).
    pub total: u64,
    /// Where the next page starts, `None` when no row follows this page.
    pub next_cursor: Option<TaskCursor>,
}

/// Storage of tasks. Soft-deleted tasks are invisible to every method [D-41].
#[async_trait]
pub trait TaskRepository: Send + Sync + 'static {
    /// Stores a new task (id and timestamps already set by the caller) and returns it as
    /// stored, timestamps at storage precision.
    ///
    /// # Errors
    /// `Conflict` when the id exists; `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn insert(&self, task: &Task) -> PortResult<Task>;

    /// The non-deleted task with this id, or `None`.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn find_by_id(&self, id: TaskId) -> PortResult<Option<Task>>;

    /// Applies `changes` and sets `updated_at` to `now`, returning the stored task. With
    /// `expected_updated_at`, the write happens only if the stored `updated_at` still equals
    /// it (optimistic concurrency, `If-Match`).
    ///
    /// # Errors
    /// `NotFound` when no non-deleted task has this id; `Conflict` when
    /// `expected_updated_at` does not match; `Unavailable`/`Timeout`/`Backend` on storage
    /// failure.
    async fn update(
        &self,
        id: TaskId,
        changes: &TaskChanges,
        now: OffsetDateTime,
        expected_updated_at: Option<OffsetDateTime>,
    ) -> PortResult<Task>;

    /// Marks the task deleted at `now`. With `expected_updated_at`, only if the stored
    /// `updated_at` still equals it (`If-Match`).
    ///
    /// # Errors
    /// `NotFound` when no non-deleted task has this id; `Conflict` when
    /// `expected_updated_at` does not match; `Unavailable`/`Timeout`/`Backend` on storage
    /// failure.
    async fn soft_delete(
        &self,
        id: TaskId,
        now: OffsetDateTime,
        expected_updated_at: Option<OffsetDateTime>,
    ) -> PortResult<()>;

    /// One page of the listing of 7.3.
    ///
    /// # Errors
    /// `Conflict` for a cursor whose sort differs from the query's or whose key does not fit
    /// its sort column; `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn list(&self, query: &TaskQuery) -> PortResult<TaskPage>;

    /// Every non-deleted task of one owner, newest `created_at` first (7.7).
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn list_for_owner(&self, owner: UserId) -> PortResult<Vec<Task>>;
}

// The port is used as `Arc<dyn TaskRepository>`: keep it object-safe.
const _: Option<&dyn TaskRepository> = None;

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_task() -> Task {
        let at = time::macros::datetime!(2026-01-02 03:04:05 UTC);
        Task {
            id: TaskId::from_uuid(uuid::Uuid::from_u128(5)),
            owner: UserId::from_uuid(uuid::Uuid::from_u128(6)),
            title: "report".to_owned(),
            description: String::new(),
            status: TaskStatus::Pending,
            priority: Priority::High,
            due_date: None,
            created_at: at,
            updated_at: at + time::Duration::minutes(1),
        }
    }

    #[test]
    fn a_cursor_after_a_task_carries_the_key_of_its_sort_column() {
        let task = sample_task();
        let sort = |column| TaskSort {
            column,
            direction: SortDirection::Asc,
        };
        let expected = [
            (SortColumn::CreatedAt, CursorKey::Timestamp(task.created_at)),
            (SortColumn::UpdatedAt, CursorKey::Timestamp(task.updated_at)),
            (SortColumn::Title, CursorKey::Title("report".to_owned())),
            (SortColumn::DueDate, CursorKey::DueDate(None)),
            (SortColumn::Priority, CursorKey::Priority(Priority::High)),
        ];
        for (column, key) in expected {
            let cursor = TaskCursor::after(&task, sort(column));
            assert_eq!(cursor.key, key);
            assert_eq!(cursor.id, task.id);
            assert!(cursor.fits_sort());
        }
        let mismatched = TaskCursor {
            sort: sort(SortColumn::Title),
            key: CursorKey::Priority(Priority::Low),
            id: task.id,
        };
        assert!(!mismatched.fits_sort());
        assert_eq!(
            Page::After {
                cursor: mismatched,
                page_size: 7
            }
            .page_size(),
            7
        );
    }

    #[test]
    fn invalid_query_values_fall_back_to_defaults() {
        assert_eq!(SortColumn::from_query("priority"), SortColumn::Priority);
        assert_eq!(
            SortColumn::from_query("id; DROP TABLE"),
            SortColumn::CreatedAt
        );
        assert_eq!(SortColumn::from_query("Title"), SortColumn::CreatedAt);
        assert_eq!(SortDirection::from_query("asc"), SortDirection::Asc);
        assert_eq!(SortDirection::from_query("ASC"), SortDirection::Desc);
        assert_eq!(
            Page::default(),
            Page::Offset {
                page: 1,
                page_size: 10
            }
        );
    }
}
