//! The listing indexes do their job: a page of one user's live tasks (and of everyone's, for
//! the admin view) is read from an index in order, without sorting the table; free-text
//! search over everyone's tasks uses the trigram indexes instead of scanning the table.
#![allow(clippy::unwrap_used)]

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use testkit::TestDatabase;

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

async fn plan(connection: &mut AsyncPgConnection, query: &str) -> String {
    diesel::sql_query(format!("EXPLAIN {query}"))
        .load::<PlanLine>(connection)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.line)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn task_pages_are_read_in_index_order_without_a_sort() {
    let database = TestDatabase::new().await;
    let mut connection = database.connect().await;
    // 200 users with 250 tasks each; every tenth task soft-deleted.
    connection
        .batch_execute(
            "INSERT INTO users (id, username, email, password)
             SELECT ('40000000-0000-0000-0000-' || lpad(u::text, 12, '0'))::uuid,
                    'load_' || u, 'load_' || u || '@example.com', 'x'
             FROM generate_series(1, 200) AS u;
             INSERT INTO tasks (id, user_id, title, created_at, updated_at, deleted_at)
             SELECT gen_random_uuid(),
                    ('40000000-0000-0000-0000-' || lpad((1 + t % 200)::text, 12, '0'))::uuid,
                    'task ' || t,
                    timestamp '2026-01-01' + t * interval '1 minute',
                    timestamp '2026-01-01' + t * interval '1 minute',
                    CASE WHEN t % 10 = 0 THEN now() END
             FROM generate_series(1, 50000) AS t;
             ANALYZE tasks;",
        )
        .await
        .unwrap();

    let own = plan(
        &mut connection,
        "SELECT * FROM tasks
         WHERE user_id = '40000000-0000-0000-0000-000000000007' AND deleted_at IS NULL
         ORDER BY created_at DESC, id ASC LIMIT 10 OFFSET 20",
    )
    .await;
    assert!(own.contains("idx_tasks_live_user_created"), "{own}");
    assert!(!own.contains("Sort"), "{own}");

    let admin = plan(
        &mut connection,
        "SELECT * FROM tasks WHERE deleted_at IS NULL
         ORDER BY created_at DESC, id ASC LIMIT 10",
    )
    .await;
    assert!(admin.contains("idx_tasks_live_created"), "{admin}");
    assert!(!admin.contains("Sort"), "{admin}");

    // The admin view's `q` (7.3): a substring of the title or the description.
    let search = plan(
        &mut connection,
        "SELECT count(*) FROM tasks WHERE deleted_at IS NULL
         AND (title ILIKE '%task 4242%' OR description ILIKE '%task 4242%')",
    )
    .await;
    assert!(search.contains("idx_tasks_live_title_trgm"), "{search}");
    assert!(
        search.contains("idx_tasks_live_description_trgm"),
        "{search}"
    );
    assert!(!search.contains("Seq Scan"), "{search}");
}
