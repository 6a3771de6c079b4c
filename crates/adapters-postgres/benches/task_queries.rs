//! Latency of the task queries without any cache, on a table of 1,000,000 tasks across
//! 10,000 users (contract issue 5).
//!
//! Creates its own database from the migrations on the server of `TEST_DATABASE_URL` (via
//! the test harness's template), seeds it with one `INSERT ... SELECT generate_series`,
//! runs `VACUUM (ANALYZE)`, prints the plan of one user's first page, then measures:
//! one user's first page (`created_at desc`), the same with a status filter, a get by id,
//! and the admin view's first page (whose `total` counts every live task). The database is
//! dropped at the end.
//!
//! `cargo bench -p adapters-postgres --bench task_queries` seeds 1,000,000 tasks;
//! `BENCH_TASKS=<n>` overrides the size. Run without `--bench` (as `cargo test
//! --all-targets` does), it seeds 10,000 tasks and runs each query once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use adapters_postgres::PgTaskRepository;
use criterion::Criterion;
use diesel::QueryableByName;
use diesel::sql_types::Uuid as SqlUuid;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use domain::{TaskId, TaskStatus, UserId};
use ports::{Page, TaskFilters, TaskQuery, TaskRepository, TaskScope, TaskSort};
use testkit::TestDatabase;
use uuid::Uuid;

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

fn user_id(n: u64) -> UserId {
    UserId::from_uuid(
        Uuid::parse_str(&format!("60000000-0000-0000-0000-{n:012}")).expect("valid uuid"),
    )
}

struct Fixture {
    database: TestDatabase,
    repository: PgTaskRepository,
    users: u64,
    task_ids: Vec<TaskId>,
}

async fn seed(tasks: u64, users: u64) -> Fixture {
    let database = TestDatabase::new().await;
    let mut connection = database.connect().await;
    let started = Instant::now();
    connection
        .batch_execute(&format!(
            "SET maintenance_work_mem = '256MB';
             INSERT INTO users (id, username, email, password)
             SELECT ('60000000-0000-0000-0000-' || lpad(u::text, 12, '0'))::uuid,
                    'bench_' || u, 'bench_' || u || '@example.com', 'x'
             FROM generate_series(1, {users}) AS u;
             INSERT INTO tasks (id, user_id, title, description, status, priority, due_date,
                                created_at, updated_at, deleted_at)
             SELECT gen_random_uuid(),
                    ('60000000-0000-0000-0000-' || lpad((1 + t % {users})::text, 12, '0'))::uuid,
                    'task ' || t,
                    'description of task ' || t,
                    (ARRAY['pending','in_progress','completed','cancelled'])[1 + t % 4],
                    (ARRAY['low','medium','high','urgent'])[1 + (t / 7) % 4],
                    CASE WHEN t % 3 = 0 THEN NULL
                         ELSE timestamptz '2026-01-01' + (t % 365) * interval '1 day' END,
                    timestamp '2025-01-01' + t * interval '10 seconds',
                    timestamp '2025-01-01' + t * interval '10 seconds',
                    CASE WHEN (t / {users}) % 50 = 0 THEN now() END
             FROM generate_series(1, {tasks}) AS t;"
        ))
        .await
        .expect("seeding");
    let inserted = started.elapsed();
    // The steady state autovacuum would reach: statistics, and a visibility map that lets
    // counts use index-only scans. (VACUUM cannot share a statement batch.)
    connection
        .batch_execute("VACUUM (ANALYZE) users")
        .await
        .expect("vacuum users");
    connection
        .batch_execute("VACUUM (ANALYZE) tasks")
        .await
        .expect("vacuum tasks");
    println!(
        "seeded {tasks} tasks across {users} users in {:.1} s (+ VACUUM ANALYZE {:.1} s)",
        inserted.as_secs_f64(),
        (started.elapsed() - inserted).as_secs_f64()
    );
    let task_ids = diesel::sql_query(
        "SELECT id FROM tasks WHERE deleted_at IS NULL ORDER BY random() LIMIT 1000",
    )
    .load::<IdRow>(&mut connection)
    .await
    .expect("sample ids")
    .into_iter()
    .map(|row| TaskId::from_uuid(row.id))
    .collect();
    let repository = PgTaskRepository::new(database.pool().await);
    Fixture {
        database,
        repository,
        users,
        task_ids,
    }
}

fn first_page(scope: TaskScope, filters: TaskFilters) -> TaskQuery {
    TaskQuery {
        scope,
        filters,
        sort: TaskSort::default(),
        page: Page::default(),
    }
}

/// The admin view's free-text search (`q`, 7.3): title or description containing the text.
fn admin_search() -> TaskQuery {
    first_page(
        TaskScope::All,
        TaskFilters {
            q: Some("task 4242".to_owned()),
            ..Default::default()
        },
    )
}

fn plan_summary(plan: &serde_json::Value, out: &mut Vec<String>) {
    match plan {
        serde_json::Value::Object(map) => {
            if let Some(kind) = map.get("Node Type").and_then(|v| v.as_str()) {
                match map.get("Index Name").and_then(|v| v.as_str()) {
                    Some(index) => out.push(format!("{kind} using {index}")),
                    None => out.push(kind.to_owned()),
                }
            }
            map.values().for_each(|v| plan_summary(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| plan_summary(v, out)),
        _ => {}
    }
}

fn main() {
    let bench_mode = std::env::args().any(|arg| arg == "--bench");
    let default_tasks = if bench_mode { 1_000_000 } else { 10_000 };
    let tasks: u64 = std::env::var("BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_tasks);
    let users = (tasks / 100).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let fixture = runtime.block_on(seed(tasks, users));

    for (label, query) in [
        (
            "one user's first page",
            first_page(TaskScope::Owner(user_id(7)), TaskFilters::default()),
        ),
        (
            "one user's first page, status=completed",
            first_page(
                TaskScope::Owner(user_id(7)),
                TaskFilters {
                    statuses: vec![TaskStatus::Completed],
                    ..Default::default()
                },
            ),
        ),
        (
            "admin first page",
            first_page(TaskScope::All, TaskFilters::default()),
        ),
        ("admin search q=task 4242", admin_search()),
    ] {
        let plan = runtime
            .block_on(fixture.repository.explain_list(&query))
            .expect("explain");
        let mut nodes = Vec::new();
        plan_summary(&plan, &mut nodes);
        println!("plan of {label}: {}", nodes.join(" -> "));
    }

    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let next_user = AtomicU64::new(0);
    let pick_user = || user_id(1 + next_user.fetch_add(1, Ordering::Relaxed) % fixture.users);
    let mut group = criterion.benchmark_group(format!("tasks_{tasks}"));
    group.bench_function("list_own_first_page_created_desc", |b| {
        b.iter(|| {
            let query = first_page(TaskScope::Owner(pick_user()), TaskFilters::default());
            let page = runtime.block_on(fixture.repository.list(&query)).unwrap();
            assert!(page.total > 0);
        });
    });
    group.bench_function("list_own_first_page_status_filter", |b| {
        b.iter(|| {
            let query = first_page(
                TaskScope::Owner(pick_user()),
                TaskFilters {
                    statuses: vec![TaskStatus::Completed, TaskStatus::InProgress],
                    ..Default::default()
                },
            );
            runtime.block_on(fixture.repository.list(&query)).unwrap()
        });
    });
    let next_task = AtomicU64::new(0);
    group.bench_function("get_by_id", |b| {
        b.iter(|| {
            let i = next_task.fetch_add(1, Ordering::Relaxed) as usize % fixture.task_ids.len();
            let found = runtime
                .block_on(fixture.repository.find_by_id(fixture.task_ids[i]))
                .unwrap();
            assert!(found.is_some());
        });
    });
    group.bench_function("list_admin_first_page_with_total", |b| {
        b.iter(|| {
            let query = first_page(TaskScope::All, TaskFilters::default());
            runtime.block_on(fixture.repository.list(&query)).unwrap()
        });
    });
    let search = |b: &mut criterion::Bencher<'_>| {
        b.iter(|| {
            let page = runtime
                .block_on(fixture.repository.list(&admin_search()))
                .unwrap();
            assert!(page.total > 0);
        });
    };
    group.bench_function("list_admin_search_first_page_with_total", search);
    // The baseline in the same run: the same search once the trigram indexes are gone.
    runtime.block_on(async {
        fixture
            .database
            .connect()
            .await
            .batch_execute(
                "DROP INDEX idx_tasks_live_title_trgm; DROP INDEX idx_tasks_live_description_trgm",
            )
            .await
            .expect("drop the trigram indexes");
    });
    group.bench_function("list_admin_search_without_trigram_indexes", search);
    group.finish();
    criterion.final_summary();
    println!("dropping benchmark database {}", fixture.database.name);
    drop(fixture);
}
