//! The listing query of contract 7.3: scope, filters, allow-listed ordering, offset and
//! keyset pages.
//!
//! Ordering is always `<column> <direction>, id ASC`; `due_date` puts NULLs last in both
//! directions and `priority` orders by a fixed rank expression (low < medium < high <
//! urgent). A keyset page continues strictly after a cursor `(key, id)`, written as
//! `key >= k AND (key > k OR id > i)` (mirrored for descending) so the first conjunct can
//! bound an index scan.

use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use ports::{
    CursorKey, Page, PortError, PortResult, SortColumn, SortDirection, TaskCursor, TaskFilters,
    TaskPage, TaskQuery, TaskScope,
};

use super::row::{TaskRow, to_storage_timestamp};
use crate::schema::tasks;

/// A listing statement under construction; every bound value is owned.
pub(crate) type BoxedTasks = tasks::BoxedQuery<'static, Pg>;

/// The page statement: [`BoxedTasks`] selecting a [`TaskRow`].
pub(crate) type PageStatement = diesel::dsl::Select<BoxedTasks, diesel::dsl::AsSelect<TaskRow, Pg>>;

/// The priority rank as SQL. A constant: no request data is ever spliced into it.
const PRIORITY_RANK_SQL: &str = "(CASE tasks.priority WHEN 'low' THEN 0 WHEN 'medium' THEN 1 \
                                 WHEN 'high' THEN 2 WHEN 'urgent' THEN 3 END)";

fn priority_rank() -> diesel::expression::SqlLiteral<Integer> {
    sql::<Integer>(PRIORITY_RANK_SQL)
}

/// `text` with the LIKE metacharacters `\`, `%` and `_` escaped (backslash is PostgreSQL's
/// default LIKE escape character), so it matches only itself inside a pattern.
pub(crate) fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Live tasks of `scope` matching `filters`, unordered.
fn filtered(scope: TaskScope, filters: &TaskFilters) -> BoxedTasks {
    let mut query = tasks::table
        .filter(tasks::deleted_at.is_null())
        .into_boxed();
    if let TaskScope::Owner(owner) = scope {
        query = query.filter(tasks::user_id.eq(owner.as_uuid()));
    }
    if !filters.statuses.is_empty() {
        let statuses: Vec<&'static str> = filters.statuses.iter().map(|s| s.as_str()).collect();
        query = query.filter(tasks::status.eq_any(statuses));
    }
    if !filters.priorities.is_empty() {
        let priorities: Vec<&'static str> = filters.priorities.iter().map(|p| p.as_str()).collect();
        query = query.filter(tasks::priority.eq_any(priorities));
    }
    if let Some(before) = filters.due_before {
        query = query.filter(tasks::due_date.lt(before));
    }
    if let Some(after) = filters.due_after {
        query = query.filter(tasks::due_date.gt(after));
    }
    if let Some(q) = filters.q.as_deref().filter(|q| !q.is_empty()) {
        let pattern = format!("%{}%", escape_like(q));
        query = query.filter(
            tasks::title
                .ilike(pattern.clone())
                .or(tasks::description.ilike(pattern)),
        );
    }
    query
}

/// `query` ordered by the allow-listed column, then by id ascending.
fn ordered(query: BoxedTasks, column: SortColumn, direction: SortDirection) -> BoxedTasks {
    use SortDirection::{Asc, Desc};
    let query = match (column, direction) {
        (SortColumn::CreatedAt, Asc) => query.order_by(tasks::created_at.asc()),
        (SortColumn::CreatedAt, Desc) => query.order_by(tasks::created_at.desc()),
        (SortColumn::UpdatedAt, Asc) => query.order_by(tasks::updated_at.asc()),
        (SortColumn::UpdatedAt, Desc) => query.order_by(tasks::updated_at.desc()),
        (SortColumn::Title, Asc) => query.order_by(tasks::title.asc()),
        (SortColumn::Title, Desc) => query.order_by(tasks::title.desc()),
        (SortColumn::DueDate, Asc) => query.order_by(tasks::due_date.asc().nulls_last()),
        (SortColumn::DueDate, Desc) => query.order_by(tasks::due_date.desc().nulls_last()),
        (SortColumn::Priority, Asc) => query.order_by(priority_rank().asc()),
        (SortColumn::Priority, Desc) => query.order_by(priority_rank().desc()),
    };
    query.then_order_by(tasks::id.asc())
}

/// `query` restricted to the rows strictly after `cursor` in the cursor's ordering.
fn after(query: BoxedTasks, cursor: &TaskCursor) -> PortResult<BoxedTasks> {
    use SortDirection::{Asc, Desc};
    let id = cursor.id.as_uuid();
    let direction = cursor.sort.direction;
    let query = match (cursor.sort.column, &cursor.key) {
        (SortColumn::CreatedAt, CursorKey::Timestamp(at)) => {
            let at = to_storage_timestamp(*at);
            match direction {
                Asc => query.filter(
                    tasks::created_at
                        .ge(at)
                        .and(tasks::created_at.gt(at).or(tasks::id.gt(id))),
                ),
                Desc => query.filter(
                    tasks::created_at
                        .le(at)
                        .and(tasks::created_at.lt(at).or(tasks::id.gt(id))),
                ),
            }
        }
        (SortColumn::UpdatedAt, CursorKey::Timestamp(at)) => {
            let at = to_storage_timestamp(*at);
            match direction {
                Asc => query.filter(
                    tasks::updated_at
                        .ge(at)
                        .and(tasks::updated_at.gt(at).or(tasks::id.gt(id))),
                ),
                Desc => query.filter(
                    tasks::updated_at
                        .le(at)
                        .and(tasks::updated_at.lt(at).or(tasks::id.gt(id))),
                ),
            }
        }
        (SortColumn::Title, CursorKey::Title(title)) => match direction {
            Asc => query.filter(
                tasks::title
                    .ge(title.clone())
                    .and(tasks::title.gt(title.clone()).or(tasks::id.gt(id))),
            ),
            Desc => query.filter(
                tasks::title
                    .le(title.clone())
                    .and(tasks::title.lt(title.clone()).or(tasks::id.gt(id))),
            ),
        },
        (SortColumn::Priority, CursorKey::Priority(priority)) => {
            let rank = i32::from(priority.rank());
            match direction {
                Asc => query.filter(
                    priority_rank()
                        .ge(rank)
                        .and(priority_rank().gt(rank).or(tasks::id.gt(id))),
                ),
                Desc => query.filter(
                    priority_rank()
                        .le(rank)
                        .and(priority_rank().lt(rank).or(tasks::id.gt(id))),
                ),
            }
        }
        // NULLs come last in both directions: after a dated row come the later-ordered
        // dated rows and then every undated row; after an undated row only undated rows
        // with a greater id.
        (SortColumn::DueDate, CursorKey::DueDate(Some(due))) => match direction {
            Asc => query.filter(
                tasks::due_date.is_null().or(tasks::due_date
                    .ge(*due)
                    .and(tasks::due_date.gt(*due).or(tasks::id.gt(id)))),
            ),
            Desc => query.filter(
                tasks::due_date.is_null().or(tasks::due_date
                    .le(*due)
                    .and(tasks::due_date.lt(*due).or(tasks::id.gt(id)))),
            ),
        },
        (SortColumn::DueDate, CursorKey::DueDate(None)) => {
            query.filter(tasks::due_date.is_null().and(tasks::id.gt(id)))
        }
        _ => {
            return Err(PortError::Conflict(
                "invalid cursor: its key does not fit its sort column".to_owned(),
            ));
        }
    };
    Ok(query)
}

/// The statement for one page of `query`, fetching one row more than the page size so the
/// caller can tell whether another page follows.
///
/// # Errors
/// `Conflict` when a cursor's sort differs from the query's or its key does not fit.
pub(crate) fn page_statement(query: &TaskQuery) -> PortResult<PageStatement> {
    let base = ordered(
        filtered(query.scope, &query.filters),
        query.sort.column,
        query.sort.direction,
    );
    let statement = match &query.page {
        Page::Offset { page, page_size } => {
            let offset = i64::from(page.saturating_sub(1)) * i64::from(*page_size);
            base.offset(offset).limit(i64::from(*page_size) + 1)
        }
        Page::After { cursor, page_size } => {
            if cursor.sort != query.sort {
                return Err(PortError::Conflict(format!(
                    "invalid cursor: it was issued for sortBy={} order={}",
                    cursor.sort.column.as_str(),
                    cursor.sort.direction.as_str()
                )));
            }
            after(base, cursor)?.limit(i64::from(*page_size) + 1)
        }
    };
    Ok(statement.select(TaskRow::as_select()))
}

/// `SELECT count(*)` of the live tasks in scope matching the filters.
pub(crate) fn count_statement(query: &TaskQuery) -> tasks::BoxedQuery<'static, Pg, BigInt> {
    filtered(query.scope, &query.filters).count()
}

/// The page from the rows of [`page_statement`] (at most one more than the page size).
pub(crate) fn into_page(mut rows: Vec<TaskRow>, total: u64, query: &TaskQuery) -> TaskPage {
    let page_size = usize::try_from(query.page.page_size()).unwrap_or(usize::MAX);
    let more = rows.len() > page_size;
    rows.truncate(page_size);
    let tasks: Vec<_> = rows.into_iter().map(TaskRow::into_task).collect();
    let next_cursor = if more {
        tasks.last().map(|last| TaskCursor::after(last, query.sort))
    } else {
        None
    };
    TaskPage {
        tasks,
        total,
        next_cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(escape_like("plain"), "plain");
        assert_eq!(
            escape_like("'; DROP TABLE tasks; --"),
            "'; DROP TABLE tasks; --"
        );
    }

    #[test]
    fn sort_sql_only_ever_contains_fixed_text() {
        for column in [
            SortColumn::CreatedAt,
            SortColumn::UpdatedAt,
            SortColumn::Title,
            SortColumn::DueDate,
            SortColumn::Priority,
        ] {
            for direction in [SortDirection::Asc, SortDirection::Desc] {
                let statement = ordered(
                    filtered(TaskScope::All, &TaskFilters::default()),
                    column,
                    direction,
                );
                let text = diesel::debug_query::<Pg, _>(&statement).to_string();
                assert!(text.contains("ORDER BY"), "{text}");
                assert!(text.contains("\"tasks\".\"id\" ASC"), "{text}");
                if column == SortColumn::DueDate {
                    assert!(text.contains("NULLS LAST"), "{text}");
                }
            }
        }
    }
}
