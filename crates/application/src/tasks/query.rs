//! The query parameters of `GET /api/v1/tasks` (contract 7.3) and their normalisation: a
//! pure function applying the contract's defaults and silent fallbacks exactly, refusing
//! only what the contract calls a 400 (unknown status or priority, unparseable due dates,
//! over-long `q`, a bad cursor), and the normalised cache key of 13.1.

use domain::{Priority, TaskStatus, parse_due_date};
use ports::{
    Page, SortColumn, SortDirection, TaskCursor, TaskFilters, TaskQuery, TaskScope, TaskSort,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::cursor::decode_cursor;
use super::error::TaskError;

/// Default and fallback `pageSize`.
pub const DEFAULT_PAGE_SIZE: u32 = 10;
/// Largest valid `pageSize`; larger values fall back to [`DEFAULT_PAGE_SIZE`].
pub const MAX_PAGE_SIZE: u32 = 100;
/// Longest `q`, in characters.
pub const MAX_Q_CHARS: usize = 200;

/// The raw query parameters, as received (names as on the wire; everything a string so
/// that bad values reach the fallback rules instead of failing deserialisation).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TaskListParams {
    /// `sortBy`.
    #[serde(rename = "sortBy")]
    pub sort_by: Option<String>,
    /// `order`.
    pub order: Option<String>,
    /// `page`.
    pub page: Option<String>,
    /// `pageSize`.
    #[serde(rename = "pageSize")]
    pub page_size: Option<String>,
    /// `status`: one value or a comma-separated list.
    pub status: Option<String>,
    /// `priority`: one value or a comma-separated list, any case.
    pub priority: Option<String>,
    /// `due_before`: RFC 3339 or `YYYY-MM-DD`.
    pub due_before: Option<String>,
    /// `due_after`: RFC 3339 or `YYYY-MM-DD`.
    pub due_after: Option<String>,
    /// `q`: substring of title or description.
    pub q: Option<String>,
    /// `cursor`: keyset pagination instead of `page`.
    pub cursor: Option<String>,
}

/// The listing request after defaults and fallbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalisedListQuery {
    /// Column and direction.
    pub sort: TaskSort,
    /// 1-based page (ignored when `cursor` is set).
    pub page: u32,
    /// Rows per page, 1 to 100.
    pub page_size: u32,
    /// Filters, in canonical order (sorted, without duplicates).
    pub filters: TaskFilters,
    /// Keyset position, when the request continues after a cursor.
    pub cursor: Option<TaskCursor>,
}

impl NormalisedListQuery {
    /// The repository query for `scope`.
    #[must_use]
    pub fn to_query(&self, scope: TaskScope) -> TaskQuery {
        let page = match &self.cursor {
            Some(cursor) => Page::After {
                cursor: cursor.clone(),
                page_size: self.page_size,
            },
            None => Page::Offset {
                page: self.page,
                page_size: self.page_size,
            },
        };
        TaskQuery {
            scope,
            filters: self.filters.clone(),
            sort: self.sort,
            page,
        }
    }

    /// True when any filter is set.
    #[must_use]
    pub fn has_filters(&self) -> bool {
        self.filters != TaskFilters::default()
    }
}

/// A present, non-empty parameter.
fn given(value: Option<&String>) -> Option<&str> {
    value.map(String::as_str).filter(|v| !v.is_empty())
}

/// `page`: an integer of at least 1, else 1.
fn normalise_page(raw: Option<&String>) -> u32 {
    raw.and_then(|p| p.parse::<u32>().ok())
        .filter(|&p| p >= 1)
        .unwrap_or(1)
}

/// `pageSize`: an integer from 1 to 100, else 10 (not clamped).
fn normalise_page_size(raw: Option<&String>) -> u32 {
    raw.and_then(|p| p.parse::<u32>().ok())
        .filter(|p| (1..=MAX_PAGE_SIZE).contains(p))
        .unwrap_or(DEFAULT_PAGE_SIZE)
}

/// A comma-separated list of values parsed by `parse`, sorted and without duplicates;
/// empty items (`a,,b`, a trailing comma) are skipped.
fn parse_list<T: Ord, E: std::fmt::Display>(
    raw: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, TaskError> {
    let mut values = raw
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| parse(item).map_err(|e| TaskError::Validation(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    values.sort();
    values.dedup();
    Ok(values)
}

fn status_order(status: &TaskStatus) -> usize {
    TaskStatus::ALL
        .iter()
        .position(|s| s == status)
        .unwrap_or(usize::MAX)
}

/// Applies 7.3: sort, order, page and page size fall back silently; filters and the cursor
/// are validated.
///
/// # Errors
/// [`TaskError::Validation`] for an unknown status or priority, an unparseable due date or
/// a `q` over 200 characters; [`TaskError::InvalidCursor`] for a cursor that does not decode
/// or was issued for another ordering than the one requested.
pub fn normalise_list_params(params: &TaskListParams) -> Result<NormalisedListQuery, TaskError> {
    let requested_sort = TaskSort {
        column: params
            .sort_by
            .as_deref()
            .map(SortColumn::from_query)
            .unwrap_or_default(),
        direction: params
            .order
            .as_deref()
            .map(SortDirection::from_query)
            .unwrap_or_default(),
    };

    let mut statuses = Vec::new();
    if let Some(raw) = given(params.status.as_ref()) {
        let mut parsed = raw
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(TaskStatus::parse)
            .collect::<Result<Vec<_>, _>>()?;
        parsed.sort_by_key(status_order);
        parsed.dedup();
        statuses = parsed;
    }
    let priorities = match given(params.priority.as_ref()) {
        Some(raw) => parse_list(raw, Priority::parse)?,
        None => Vec::new(),
    };
    let due_before = given(params.due_before.as_ref())
        .map(parse_due_date)
        .transpose()?;
    let due_after = given(params.due_after.as_ref())
        .map(parse_due_date)
        .transpose()?;
    let q = given(params.q.as_ref()).map(str::to_owned);
    if let Some(q) = &q
        && q.chars().count() > MAX_Q_CHARS
    {
        return Err(TaskError::Validation(format!(
            "q must be at most {MAX_Q_CHARS} characters"
        )));
    }
    // No stored text can hold NUL, and PostgreSQL refuses it in a pattern.
    if q.as_deref().is_some_and(|q| q.contains('\0')) {
        return Err(TaskError::Validation(
            "q must not contain NUL characters".to_owned(),
        ));
    }

    let cursor = given(params.cursor.as_ref())
        .map(|raw| decode_cursor(raw).map_err(TaskError::InvalidCursor))
        .transpose()?;
    let sort = match &cursor {
        // Without sortBy and order the cursor's own ordering applies; with them, they must
        // agree with it (a cursor is a position in one particular ordering).
        Some(cursor) if params.sort_by.is_none() && params.order.is_none() => cursor.sort,
        Some(cursor) if cursor.sort != requested_sort => {
            return Err(TaskError::InvalidCursor(format!(
                "it was issued for sortBy={} order={}",
                cursor.sort.column.as_str(),
                cursor.sort.direction.as_str()
            )));
        }
        _ => requested_sort,
    };

    Ok(NormalisedListQuery {
        sort,
        page: normalise_page(params.page.as_ref()),
        page_size: normalise_page_size(params.page_size.as_ref()),
        filters: TaskFilters {
            statuses,
            priorities,
            due_before,
            due_after,
            q,
        },
        cursor,
    })
}

/// The `{scope}` part of cache keys: `all` for the admin view, else the owner's id [D-21].
#[must_use]
pub fn scope_key(scope: &TaskScope) -> String {
    match scope {
        TaskScope::All => "all".to_owned(),
        TaskScope::Owner(owner) => owner.to_string(),
    }
}

/// A canonical text of the filters: equal filter sets give equal texts.
fn canonical_filters(filters: &TaskFilters) -> String {
    let statuses: Vec<&str> = filters.statuses.iter().map(|s| s.as_str()).collect();
    let priorities: Vec<&str> = filters.priorities.iter().map(|p| p.as_str()).collect();
    let instant = |at: Option<time::OffsetDateTime>| {
        at.map_or_else(String::new, |at| at.unix_timestamp_nanos().to_string())
    };
    // JSON keeps the free-text `q` unambiguous.
    serde_json::json!([
        statuses,
        priorities,
        instant(filters.due_before),
        instant(filters.due_after),
        filters.q.as_deref().unwrap_or_default(),
    ])
    .to_string()
}

/// The cache key of one listing page (contract 13.1):
/// `tasks_paginated:{scope}:{sortBy}:{order}:{page}:{pageSize}`, followed by
/// `:f:<32 hex digits of SHA-256 of the canonical filters>` only when filters are set.
/// `None` for keyset (cursor) requests, which are not cached.
#[must_use]
pub fn paginated_cache_key(scope: &TaskScope, query: &NormalisedListQuery) -> Option<String> {
    if query.cursor.is_some() {
        return None;
    }
    let mut key = format!(
        "tasks_paginated:{}:{}:{}:{}:{}",
        scope_key(scope),
        query.sort.column.as_str(),
        query.sort.direction.as_str(),
        query.page,
        query.page_size
    );
    if query.has_filters() {
        let digest = Sha256::digest(canonical_filters(&query.filters).as_bytes());
        key.push_str(":f:");
        key.push_str(&hex::encode(&digest[..16]));
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tasks::cursor::encode_cursor;
    use domain::{TaskId, UserId};
    use ports::CursorKey;
    use time::macros::datetime;
    use uuid::Uuid;

    fn params(pairs: &[(&str, &str)]) -> TaskListParams {
        let mut p = TaskListParams::default();
        for (name, value) in pairs {
            let value = Some((*value).to_owned());
            match *name {
                "sortBy" => p.sort_by = value,
                "order" => p.order = value,
                "page" => p.page = value,
                "pageSize" => p.page_size = value,
                "status" => p.status = value,
                "priority" => p.priority = value,
                "due_before" => p.due_before = value,
                "due_after" => p.due_after = value,
                "q" => p.q = value,
                "cursor" => p.cursor = value,
                other => panic!("unknown parameter {other}"),
            }
        }
        p
    }

    fn norm(pairs: &[(&str, &str)]) -> NormalisedListQuery {
        normalise_list_params(&params(pairs)).unwrap()
    }

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let n = norm(&[]);
        assert_eq!(n.sort.column, SortColumn::CreatedAt);
        assert_eq!(n.sort.direction, SortDirection::Desc);
        assert_eq!((n.page, n.page_size), (1, 10));
        assert!(!n.has_filters());
        assert_eq!(n.cursor, None);
    }

    #[test]
    fn sort_and_order_fall_back_silently() {
        for (raw, expected) in [
            ("created_at", SortColumn::CreatedAt),
            ("updated_at", SortColumn::UpdatedAt),
            ("title", SortColumn::Title),
            ("due_date", SortColumn::DueDate),
            ("priority", SortColumn::Priority),
            ("Title", SortColumn::CreatedAt),
            ("id; DROP TABLE tasks; --", SortColumn::CreatedAt),
            ("", SortColumn::CreatedAt),
            ("password", SortColumn::CreatedAt),
        ] {
            assert_eq!(norm(&[("sortBy", raw)]).sort.column, expected, "{raw}");
        }
        for (raw, expected) in [
            ("asc", SortDirection::Asc),
            ("desc", SortDirection::Desc),
            ("ASC", SortDirection::Desc),
            ("up", SortDirection::Desc),
            ("", SortDirection::Desc),
        ] {
            assert_eq!(norm(&[("order", raw)]).sort.direction, expected, "{raw}");
        }
    }

    #[test]
    fn page_falls_back_to_one() {
        for (raw, expected) in [
            ("1", 1),
            ("3", 3),
            ("01", 1),
            ("007", 7),
            ("0", 1),
            ("-2", 1),
            ("abc", 1),
            ("2.5", 1),
            ("", 1),
            ("99999999999999999999", 1),
        ] {
            assert_eq!(norm(&[("page", raw)]).page, expected, "{raw}");
        }
    }

    #[test]
    fn page_size_falls_back_to_ten_not_clamped() {
        for (raw, expected) in [
            ("1", 1),
            ("25", 25),
            ("100", 100),
            ("101", 10),
            ("1000", 10),
            ("0", 10),
            ("-5", 10),
            ("ten", 10),
            ("", 10),
        ] {
            assert_eq!(norm(&[("pageSize", raw)]).page_size, expected, "{raw}");
        }
    }

    #[test]
    fn status_and_priority_lists_are_validated_and_canonical() {
        let n = norm(&[("status", "completed, pending,completed,")]);
        assert_eq!(
            n.filters.statuses,
            vec![TaskStatus::Pending, TaskStatus::Completed]
        );
        let n = norm(&[("priority", "Urgent,low,HIGH,low")]);
        assert_eq!(
            n.filters.priorities,
            vec![Priority::Low, Priority::High, Priority::Urgent]
        );
        for bad in [
            ("status", "done"),
            ("status", "pending,Done"),
            ("status", "Pending"),
            ("priority", "critical"),
            ("priority", "high,'; DROP TABLE tasks; --"),
        ] {
            assert!(
                matches!(
                    normalise_list_params(&params(&[bad])),
                    Err(TaskError::Validation(_))
                ),
                "{bad:?}"
            );
        }
        assert!(!norm(&[("status", ""), ("priority", "")]).has_filters());
    }

    #[test]
    fn due_dates_accept_rfc3339_and_plain_dates() {
        let n = norm(&[
            ("due_before", "2026-05-01"),
            ("due_after", "2026-04-01T12:00:00+02:00"),
        ]);
        assert_eq!(n.filters.due_before, Some(datetime!(2026-05-01 00:00 UTC)));
        assert_eq!(n.filters.due_after, Some(datetime!(2026-04-01 10:00 UTC)));
        for bad in [
            ("due_before", "tomorrow"),
            ("due_after", "2026-13-01"),
            ("due_before", "01/05/2026"),
        ] {
            assert!(
                matches!(
                    normalise_list_params(&params(&[bad])),
                    Err(TaskError::Validation(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn q_is_limited_to_200_characters() {
        let ok = "é".repeat(200);
        assert_eq!(norm(&[("q", &ok)]).filters.q.as_deref(), Some(ok.as_str()));
        let too_long = "a".repeat(201);
        assert!(matches!(
            normalise_list_params(&params(&[("q", &too_long)])),
            Err(TaskError::Validation(_))
        ));
        assert_eq!(norm(&[("q", "")]).filters.q, None);
        assert!(matches!(
            normalise_list_params(&params(&[("q", "a\0")])),
            Err(TaskError::Validation(_))
        ));
        assert_eq!(
            norm(&[("q", "50%_' OR 1=1 --")]).filters.q.as_deref(),
            Some("50%_' OR 1=1 --")
        );
    }

    fn title_cursor() -> TaskCursor {
        TaskCursor {
            sort: TaskSort {
                column: SortColumn::Title,
                direction: SortDirection::Asc,
            },
            key: CursorKey::Title("m".to_owned()),
            id: TaskId::from_uuid(Uuid::from_u128(9)),
        }
    }

    #[test]
    fn a_cursor_brings_its_ordering_or_must_match_the_requested_one() {
        let text = encode_cursor(&title_cursor());
        let n = norm(&[("cursor", &text), ("pageSize", "5")]);
        assert_eq!(n.cursor, Some(title_cursor()));
        assert_eq!(n.sort, title_cursor().sort);
        assert_eq!(
            n.to_query(TaskScope::All).page,
            Page::After {
                cursor: title_cursor(),
                page_size: 5
            }
        );
        let n = norm(&[("cursor", &text), ("sortBy", "title"), ("order", "asc")]);
        assert_eq!(n.cursor, Some(title_cursor()));
        assert!(matches!(
            normalise_list_params(&params(&[("cursor", &text), ("sortBy", "priority")])),
            Err(TaskError::InvalidCursor(_))
        ));
        assert!(matches!(
            normalise_list_params(&params(&[("cursor", "garbage")])),
            Err(TaskError::InvalidCursor(_))
        ));
    }

    #[test]
    fn offset_queries_map_to_offset_pages() {
        let owner = UserId::from_uuid(Uuid::from_u128(7));
        let query = norm(&[("page", "3"), ("pageSize", "20")]).to_query(TaskScope::Owner(owner));
        assert_eq!(query.scope, TaskScope::Owner(owner));
        assert_eq!(
            query.page,
            Page::Offset {
                page: 3,
                page_size: 20
            }
        );
    }

    #[test]
    fn cache_keys_are_scoped_normalised_and_filter_aware() {
        let owner = UserId::from_uuid(Uuid::from_u128(7));
        let scope = TaskScope::Owner(owner);
        assert_eq!(
            paginated_cache_key(&TaskScope::All, &norm(&[])).unwrap(),
            "tasks_paginated:all:created_at:desc:1:10"
        );
        assert_eq!(
            paginated_cache_key(
                &scope,
                &norm(&[("page", "01"), ("sortBy", "bogus"), ("pageSize", "500")])
            )
            .unwrap(),
            format!("tasks_paginated:{owner}:created_at:desc:1:10")
        );
        assert_eq!(
            paginated_cache_key(&scope, &norm(&[("sortBy", "priority"), ("order", "asc")]))
                .unwrap(),
            format!("tasks_paginated:{owner}:priority:asc:1:10")
        );

        let a = paginated_cache_key(&scope, &norm(&[("status", "pending,completed")])).unwrap();
        let b =
            paginated_cache_key(&scope, &norm(&[("status", "completed,pending,pending")])).unwrap();
        let c = paginated_cache_key(&scope, &norm(&[("status", "pending")])).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let prefix = format!("tasks_paginated:{owner}:created_at:desc:1:10:f:");
        assert!(a.starts_with(&prefix), "{a}");
        assert_eq!(a.len(), prefix.len() + 32);

        let p1 = paginated_cache_key(&scope, &norm(&[("priority", "HIGH")])).unwrap();
        let p2 = paginated_cache_key(&scope, &norm(&[("priority", "high")])).unwrap();
        assert_eq!(p1, p2);
        let q1 = paginated_cache_key(&scope, &norm(&[("q", "a")])).unwrap();
        let q2 = paginated_cache_key(&scope, &norm(&[("q", "b")])).unwrap();
        assert_ne!(q1, q2);
        let d1 = paginated_cache_key(&scope, &norm(&[("due_before", "2026-05-01")])).unwrap();
        let d2 = paginated_cache_key(
            &scope,
            &norm(&[("due_before", "2026-05-01T02:00:00+02:00")]),
        )
        .unwrap();
        assert_eq!(d1, d2);
        let d3 = paginated_cache_key(&scope, &norm(&[("due_after", "2026-05-01")])).unwrap();
        assert_ne!(d1, d3);

        let text = encode_cursor(&title_cursor());
        assert_eq!(
            paginated_cache_key(&scope, &norm(&[("cursor", &text)])),
            None
        );
    }
}
