//! `PgTaskRepository` against a real PostgreSQL: writes and reads, soft delete, optimistic
//! concurrency, every filter and sort key, offset and keyset pages, scope, and the plan of
//! the per-user listing.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use adapters_postgres::PgTaskRepository;
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use domain::{Priority, Task, TaskChanges, TaskId, TaskStatus, TaskTitle, UserId};
use ports::{
    Page, PortError, SortColumn, SortDirection, TaskCursor, TaskFilters, TaskQuery, TaskRepository,
    TaskScope, TaskSort,
};
use testkit::TestDatabase;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const BASE: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

async fn add_user(connection: &mut AsyncPgConnection) -> UserId {
    let id = Uuid::new_v4();
    connection
        .batch_execute(&format!(
            "INSERT INTO users (id, username, email, password)
             VALUES ('{id}', 'u_{simple}', 'u_{simple}@example.com', 'x')",
            simple = id.simple()
        ))
        .await
        .unwrap();
    UserId::from_uuid(id)
}

fn task(owner: UserId, title: &str, minute: i64) -> Task {
    let at = BASE + Duration::minutes(minute);
    Task {
        id: TaskId::new_v7(),
        owner,
        title: title.to_owned(),
        description: String::new(),
        status: TaskStatus::Pending,
        priority: Priority::Medium,
        due_date: None,
        created_at: at,
        updated_at: at,
    }
}

struct Setup {
    _database: TestDatabase,
    repository: PgTaskRepository,
    connection: AsyncPgConnection,
}

async fn setup() -> Setup {
    let database = TestDatabase::new().await;
    let repository = PgTaskRepository::new(database.pool().await);
    let connection = database.connect().await;
    Setup {
        _database: database,
        repository,
        connection,
    }
}

fn query(scope: TaskScope) -> TaskQuery {
    TaskQuery {
        scope,
        filters: TaskFilters::default(),
        sort: TaskSort::default(),
        page: Page::Offset {
            page: 1,
            page_size: 100,
        },
    }
}

fn ids(tasks: &[Task]) -> Vec<TaskId> {
    tasks.iter().map(|t| t.id).collect()
}

/// The contract's ordering computed in Rust: column and direction (due dates nulls last in
/// both directions, priorities by rank), then id ascending.
fn expected_order(tasks: &[Task], sort: TaskSort) -> Vec<TaskId> {
    let mut sorted = tasks.to_vec();
    sorted.sort_by(|a, b| {
        let flip = |o: std::cmp::Ordering| match sort.direction {
            SortDirection::Asc => o,
            SortDirection::Desc => o.reverse(),
        };
        let primary = match sort.column {
            SortColumn::CreatedAt => flip(a.created_at.cmp(&b.created_at)),
            SortColumn::UpdatedAt => flip(a.updated_at.cmp(&b.updated_at)),
            SortColumn::Title => flip(a.title.cmp(&b.title)),
            SortColumn::Priority => flip(a.priority.cmp(&b.priority)),
            SortColumn::DueDate => match (a.due_date, b.due_date) {
                (Some(x), Some(y)) => flip(x.cmp(&y)),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            },
        };
        primary.then(a.id.cmp(&b.id))
    });
    ids(&sorted)
}

const ALL_SORTS: [SortColumn; 5] = [
    SortColumn::CreatedAt,
    SortColumn::UpdatedAt,
    SortColumn::Title,
    SortColumn::DueDate,
    SortColumn::Priority,
];

/// Tasks with many ties on every sort key: few titles, priorities and due dates, some
/// without a due date.
fn varied_tasks(owner: UserId, count: i64) -> Vec<Task> {
    let titles = ["alpha", "bravo", "charlie", "delta"];
    (0..count)
        .map(|i| {
            let mut t = task(owner, titles[(i % 4) as usize], i / 3);
            t.updated_at = t.created_at + Duration::minutes((i * 7) % 5);
            t.priority = Priority::ALL[((i * 3) % 4) as usize];
            t.status = TaskStatus::ALL[(i % 4) as usize];
            t.due_date = (i % 3 != 0).then(|| BASE + Duration::days(i % 5));
            t
        })
        .collect()
}

#[tokio::test]
async fn insert_find_update_and_soft_delete() {
    let mut s = setup().await;
    let owner = add_user(&mut s.connection).await;
    let mut new = task(owner, "Write report", 0);
    // Nanoseconds and a non-UTC offset: stored as UTC microseconds.
    new.created_at = datetime!(2026-02-03 04:05:06.123_456_789 +02:00);
    new.updated_at = new.created_at;
    new.due_date = Some(datetime!(2026-03-01 10:00:00.000_000_999 -05:00));
    new.description = "details".to_owned();
    new.priority = Priority::Urgent;
    let stored = s.repository.insert(&new).await.unwrap();
    assert_eq!(
        stored.created_at,
        datetime!(2026-02-03 02:05:06.123_456 UTC)
    );
    assert_eq!(stored.updated_at, stored.created_at);
    assert_eq!(stored.due_date, Some(datetime!(2026-03-01 15:00 UTC)));
    assert_eq!(stored.priority, Priority::Urgent);
    assert_eq!(
        s.repository.find_by_id(new.id).await.unwrap(),
        Some(stored.clone())
    );
    assert!(matches!(
        s.repository.insert(&new).await,
        Err(PortError::Conflict(_))
    ));

    // Update with the current version: applied; the ETag round-trips.
    let now = datetime!(2026-02-04 00:00:00.654_321 UTC);
    let changes = TaskChanges {
        title: Some(TaskTitle::new("Final report").unwrap()),
        status: Some(TaskStatus::Completed),
        due_date: Some(None),
        ..Default::default()
    };
    let updated = s
        .repository
        .update(new.id, &changes, now, Some(stored.updated_at))
        .await
        .unwrap();
    assert_eq!(updated.title, "Final report");
    assert_eq!(updated.status, TaskStatus::Completed);
    assert_eq!(updated.description, "details");
    assert_eq!(updated.due_date, None);
    assert_eq!(updated.updated_at, now);
    assert_eq!(updated.created_at, stored.created_at);
    assert_eq!(
        domain::parse_etag(&updated.etag()),
        Some(updated.updated_at)
    );

    // A stale version, or one finer than microseconds, loses with Conflict.
    let stale = s
        .repository
        .update(
            new.id,
            &TaskChanges::default(),
            now,
            Some(stored.updated_at),
        )
        .await;
    assert!(matches!(stale, Err(PortError::Conflict(_))), "{stale:?}");
    let finer = s
        .repository
        .update(
            new.id,
            &TaskChanges::default(),
            now,
            Some(now + Duration::nanoseconds(1)),
        )
        .await;
    assert!(matches!(finer, Err(PortError::Conflict(_))), "{finer:?}");
    let missing = TaskId::from_uuid(Uuid::new_v4());
    assert_eq!(
        s.repository
            .update(missing, &TaskChanges::default(), now, None)
            .await,
        Err(PortError::NotFound)
    );

    // Soft delete: guarded by the version, then invisible everywhere.
    assert!(matches!(
        s.repository
            .soft_delete(new.id, now, Some(stored.updated_at))
            .await,
        Err(PortError::Conflict(_))
    ));
    s.repository
        .soft_delete(new.id, now, Some(updated.updated_at))
        .await
        .unwrap();
    assert_eq!(s.repository.find_by_id(new.id).await.unwrap(), None);
    assert_eq!(
        s.repository
            .update(new.id, &TaskChanges::default(), now, None)
            .await,
        Err(PortError::NotFound)
    );
    assert_eq!(
        s.repository.soft_delete(new.id, now, None).await,
        Err(PortError::NotFound)
    );
    let page = s.repository.list(&query(TaskScope::All)).await.unwrap();
    assert_eq!((page.tasks.len(), page.total), (0, 0));
    assert!(s.repository.list_for_owner(owner).await.unwrap().is_empty());
    assert_eq!(
        s.repository.soft_delete(missing, now, None).await,
        Err(PortError::NotFound)
    );
}

#[tokio::test]
async fn legacy_rows_with_null_description_read_as_empty() {
    let mut s = setup().await;
    let owner = add_user(&mut s.connection).await;
    let id = Uuid::new_v4();
    s.connection
        .batch_execute(&format!(
            "INSERT INTO tasks (id, user_id, title, description, created_at, updated_at)
             VALUES ('{id}', '{owner}', 'legacy', NULL, '2026-01-01 10:00', '2026-01-01 10:00')"
        ))
        .await
        .unwrap();
    let task = s
        .repository
        .find_by_id(TaskId::from_uuid(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.description, "");
    assert_eq!(task.status, TaskStatus::Pending);
    assert_eq!(task.priority, Priority::Medium);
    assert_eq!(task.created_at, datetime!(2026-01-01 10:00 UTC));
}

#[tokio::test]
async fn every_sort_key_orders_as_the_contract_says() {
    let mut s = setup().await;
    let owner = add_user(&mut s.connection).await;
    let tasks = varied_tasks(owner, 24);
    for t in &tasks {
        s.repository.insert(t).await.unwrap();
    }
    for column in ALL_SORTS {
        for direction in [SortDirection::Asc, SortDirection::Desc] {
            let sort = TaskSort { column, direction };
            let mut q = query(TaskScope::Owner(owner));
            q.sort = sort;
            let page = s.repository.list(&q).await.unwrap();
            assert_eq!(
                ids(&page.tasks),
                expected_order(&tasks, sort),
                "{column:?} {direction:?}"
            );
            assert_eq!(page.total, 24);
        }
    }
    // Spot checks of the rules themselves.
    let mut q = query(TaskScope::Owner(owner));
    for direction in [SortDirection::Asc, SortDirection::Desc] {
        q.sort = TaskSort {
            column: SortColumn::DueDate,
            direction,
        };
        let page = s.repository.list(&q).await.unwrap();
        let first_null = page
            .tasks
            .iter()
            .position(|t| t.due_date.is_none())
            .unwrap();
        assert!(
            page.tasks[first_null..]
                .iter()
                .all(|t| t.due_date.is_none())
        );
    }
    q.sort = TaskSort {
        column: SortColumn::Priority,
        direction: SortDirection::Asc,
    };
    let page = s.repository.list(&q).await.unwrap();
    assert_eq!(page.tasks.first().unwrap().priority, Priority::Low);
    assert_eq!(page.tasks.last().unwrap().priority, Priority::Urgent);

    // list_for_owner: newest created_at first, ties by id.
    let all = s.repository.list_for_owner(owner).await.unwrap();
    assert_eq!(ids(&all), expected_order(&tasks, TaskSort::default()));
}

#[tokio::test]
async fn each_filter_narrows_the_listing_and_the_total() {
    let mut s = setup().await;
    let owner = add_user(&mut s.connection).await;
    let tasks = varied_tasks(owner, 24);
    for t in &tasks {
        s.repository.insert(t).await.unwrap();
    }
    let check = |filters: TaskFilters, keep: &dyn Fn(&Task) -> bool| {
        let expected: Vec<Task> = tasks.iter().filter(|t| keep(t)).cloned().collect();
        (filters, expected)
    };
    let cutoff = BASE + Duration::days(2);
    let cases = [
        check(
            TaskFilters {
                statuses: vec![TaskStatus::Completed, TaskStatus::Cancelled],
                ..Default::default()
            },
            &|t| matches!(t.status, TaskStatus::Completed | TaskStatus::Cancelled),
        ),
        check(
            TaskFilters {
                priorities: vec![Priority::Urgent],
                ..Default::default()
            },
            &|t| t.priority == Priority::Urgent,
        ),
        check(
            TaskFilters {
                due_before: Some(cutoff),
                ..Default::default()
            },
            &|t| t.due_date.is_some_and(|d| d < cutoff),
        ),
        check(
            TaskFilters {
                due_after: Some(cutoff),
                ..Default::default()
            },
            &|t| t.due_date.is_some_and(|d| d > cutoff),
        ),
        check(
            TaskFilters {
                q: Some("ALPH".to_owned()),
                ..Default::default()
            },
            &|t| t.title == "alpha",
        ),
        check(
            TaskFilters {
                statuses: vec![TaskStatus::Pending],
                priorities: vec![Priority::Low, Priority::Medium],
                due_after: Some(BASE),
                q: Some("a".to_owned()),
                ..Default::default()
            },
            &|t| {
                t.status == TaskStatus::Pending
                    && matches!(t.priority, Priority::Low | Priority::Medium)
                    && t.due_date.is_some_and(|d| d > BASE)
                    && t.title.contains('a')
            },
        ),
    ];
    for (filters, expected) in cases {
        let mut q = query(TaskScope::Owner(owner));
        q.filters = filters.clone();
        q.page = Page::Offset {
            page: 1,
            page_size: 3,
        };
        let page = s.repository.list(&q).await.unwrap();
        assert_eq!(page.total, expected.len() as u64, "{filters:?}");
        let wanted = expected_order(&expected, TaskSort::default());
        assert_eq!(
            ids(&page.tasks),
            wanted[..wanted.len().min(3)].to_vec(),
            "{filters:?}"
        );
    }
}

#[tokio::test]
async fn q_matches_like_metacharacters_literally_and_sql_text_harmlessly() {
    let mut s = setup().await;
    let owner = add_user(&mut s.connection).await;
    let titled = |title: &str, description: &str, minute| {
        let mut t = task(owner, title, minute);
        t.description = description.to_owned();
        t
    };
    let tasks = [
        titled("100% done", "", 0),
        titled("under_score", "", 1),
        titled("back\\slash", "", 2),
        titled("plain", "Mentions PERCENT in the description", 3),
        titled("quote's", "", 4),
    ];
    for t in &tasks {
        s.repository.insert(t).await.unwrap();
    }
    for (q, expected) in [
        ("%", vec!["100% done"]),
        ("_", vec!["under_score"]),
        ("\\", vec!["back\\slash"]),
        ("0% D", vec!["100% done"]),
        ("percent", vec!["plain"]),
        ("'", vec!["quote's"]),
        ("' OR '1'='1", vec![]),
        ("'; DROP TABLE tasks; --", vec![]),
        ("%%", vec![]),
    ] {
        let mut query = query(TaskScope::Owner(owner));
        query.filters.q = Some(q.to_owned());
        let page = s.repository.list(&query).await.unwrap();
        let mut titles: Vec<&str> = page.tasks.iter().map(|t| t.title.as_str()).collect();
        titles.sort_unstable();
        assert_eq!(titles, expected, "q = {q:?}");
        assert_eq!(page.total, expected.len() as u64);
    }
    let all = s.repository.list(&query(TaskScope::All)).await.unwrap();
    assert_eq!(all.total, 5, "the table is intact");
}

#[tokio::test]
async fn offset_pages_cover_the_listing_and_end_empty() {
    let mut s = setup().await;
    let owner = add_user(&mut s.connection).await;
    let other = add_user(&mut s.connection).await;
    let mine: Vec<Task> = (0..23).map(|i| task(owner, "mine", i)).collect();
    let theirs: Vec<Task> = (0..5).map(|i| task(other, "theirs", i)).collect();
    for t in mine.iter().chain(&theirs) {
        s.repository.insert(t).await.unwrap();
    }
    let expected = expected_order(&mine, TaskSort::default());
    let mut seen = Vec::new();
    for page in 1..=3 {
        let mut q = query(TaskScope::Owner(owner));
        q.page = Page::Offset {
            page,
            page_size: 10,
        };
        let result = s.repository.list(&q).await.unwrap();
        assert_eq!(result.total, 23);
        assert_eq!(result.next_cursor.is_some(), page < 3, "page {page}");
        seen.extend(ids(&result.tasks));
    }
    assert_eq!(seen, expected);
    let mut past = query(TaskScope::Owner(owner));
    past.page = Page::Offset {
        page: 4,
        page_size: 10,
    };
    let result = s.repository.list(&past).await.unwrap();
    assert!(result.tasks.is_empty());
    assert_eq!(result.total, 23);
    assert_eq!(result.next_cursor, None);

    // Scope: the admin view sees both users, an owner only their own.
    let all = s.repository.list(&query(TaskScope::All)).await.unwrap();
    assert_eq!(all.total, 28);
    let other_page = s
        .repository
        .list(&query(TaskScope::Owner(other)))
        .await
        .unwrap();
    assert_eq!(other_page.total, 5);
    assert!(other_page.tasks.iter().all(|t| t.owner == other));
    assert_eq!(s.repository.list_for_owner(other).await.unwrap().len(), 5);
}

#[tokio::test]
async fn keyset_pages_neither_skip_nor_repeat_while_tasks_are_inserted() {
    let mut s = setup().await;
    let mut extra_minute = 10_000;
    for column in ALL_SORTS {
        for direction in [SortDirection::Asc, SortDirection::Desc] {
            let sort = TaskSort { column, direction };
            // A fresh owner per ordering, so earlier insertions do not pile up.
            let owner = add_user(&mut s.connection).await;
            let original = varied_tasks(owner, 30);
            for t in &original {
                s.repository.insert(t).await.unwrap();
            }
            let original_ids: HashSet<TaskId> = original.iter().map(|t| t.id).collect();
            let mut q = query(TaskScope::Owner(owner));
            q.sort = sort;
            q.page = Page::Offset {
                page: 1,
                page_size: 7,
            };
            let mut seen: Vec<TaskId> = Vec::new();
            let mut pages = 0;
            loop {
                let result = s.repository.list(&q).await.unwrap();
                seen.extend(ids(&result.tasks));
                pages += 1;
                assert!(pages < 50, "{sort:?}: no end in sight");
                let Some(cursor) = result.next_cursor else {
                    break;
                };
                // Other writers insert between page fetches, before and after the cursor.
                for title in ["aaa", "zzz"] {
                    let mut t = task(owner, title, extra_minute);
                    extra_minute += 1;
                    t.priority = Priority::High;
                    t.due_date = Some(BASE + Duration::days(2));
                    s.repository.insert(&t).await.unwrap();
                }
                q.page = Page::After {
                    cursor,
                    page_size: 7,
                };
            }
            let unique: HashSet<TaskId> = seen.iter().copied().collect();
            assert_eq!(unique.len(), seen.len(), "{sort:?}: a task was repeated");
            assert!(
                original_ids.is_subset(&unique),
                "{sort:?}: an original task was skipped"
            );
        }
    }
}

#[tokio::test]
async fn a_cursor_for_another_sort_is_refused() {
    let mut s = setup().await;
    let owner = add_user(&mut s.connection).await;
    let t = s.repository.insert(&task(owner, "a", 0)).await.unwrap();
    let title_sort = TaskSort {
        column: SortColumn::Title,
        direction: SortDirection::Asc,
    };
    let mut q = query(TaskScope::Owner(owner));
    q.page = Page::After {
        cursor: TaskCursor::after(&t, title_sort),
        page_size: 5,
    };
    assert!(matches!(
        s.repository.list(&q).await,
        Err(PortError::Conflict(_))
    ));
    q.sort = title_sort;
    let page = s.repository.list(&q).await.unwrap();
    assert!(page.tasks.is_empty());
    assert_eq!(page.total, 1);
}

fn plan_nodes(plan: &serde_json::Value, out: &mut Vec<(String, Option<String>)>) {
    match plan {
        serde_json::Value::Object(map) => {
            if let Some(kind) = map.get("Node Type").and_then(|v| v.as_str()) {
                let index = map
                    .get("Index Name")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned);
                out.push((kind.to_owned(), index));
            }
            map.values().for_each(|v| plan_nodes(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| plan_nodes(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn one_users_first_page_is_an_index_scan() {
    let mut s = setup().await;
    s.connection
        .batch_execute(
            "INSERT INTO users (id, username, email, password)
             SELECT ('50000000-0000-0000-0000-' || lpad(u::text, 12, '0'))::uuid,
                    'plan_' || u, 'plan_' || u || '@example.com', 'x'
             FROM generate_series(1, 200) AS u;
             INSERT INTO tasks (id, user_id, title, status, priority, due_date,
                                created_at, updated_at)
             SELECT gen_random_uuid(),
                    ('50000000-0000-0000-0000-' || lpad((1 + t % 200)::text, 12, '0'))::uuid,
                    'task ' || t,
                    (ARRAY['pending','in_progress','completed','cancelled'])[1 + t % 4],
                    (ARRAY['low','medium','high','urgent'])[1 + t % 4],
                    CASE WHEN t % 3 = 0 THEN NULL
                         ELSE timestamptz '2026-01-01' + (t % 90) * interval '1 day' END,
                    timestamp '2026-01-01' + t * interval '1 minute',
                    timestamp '2026-01-01' + t * interval '1 minute'
             FROM generate_series(1, 20000) AS t;
             ANALYZE tasks;",
        )
        .await
        .unwrap();
    let user = UserId::from_uuid(Uuid::parse_str("50000000-0000-0000-0000-000000000007").unwrap());
    // The contract's default first page: created_at desc, 10 rows.
    let mut first_page = query(TaskScope::Owner(user));
    first_page.page = Page::default();
    let plan = s.repository.explain_list(&first_page).await.unwrap();
    let mut nodes = Vec::new();
    plan_nodes(&plan, &mut nodes);
    assert!(
        nodes.iter().any(|(kind, index)| kind.starts_with("Index")
            && index.as_deref().is_some_and(|i| i.starts_with("idx_tasks"))),
        "{plan:#}"
    );
    assert!(
        !nodes.iter().any(|(kind, _)| kind == "Seq Scan"),
        "{plan:#}"
    );
    // The listing itself still answers correctly on this data.
    let page = s
        .repository
        .list(&query(TaskScope::Owner(user)))
        .await
        .unwrap();
    assert_eq!(page.total, 100);
}
