//! The embedded migrations against a real PostgreSQL: reversible, safe to run from several
//! instances at once, and able to adopt a database built by the legacy migration tool.
#![allow(clippy::unwrap_used)]

use adapters_postgres::migrations::{
    BASELINE_VERSION, MIGRATIONS, MigrationError, pending, revert_all, run_pending,
};
use diesel::QueryableByName;
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sql_types::{Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use testkit::TestDatabase;

const LEGACY_BASELINE_SQL: &str =
    include_str!("../../../migrations/00000000000000_legacy_baseline/up.sql");
const LEGACY_TASK_ID: &str = "30000000-0000-0000-0000-000000000001";

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

#[derive(QueryableByName)]
struct OptionalText {
    #[diesel(sql_type = Nullable<Text>)]
    value: Option<String>,
}

fn all_versions() -> Vec<String> {
    let mut versions: Vec<String> = MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .unwrap()
        .iter()
        .map(|migration| migration.name().version().to_string())
        .collect();
    versions.sort();
    versions
}

/// A canonical text dump of the schema from the catalog: extensions, columns (type,
/// default, nullability), constraints and indexes, each line sorted.
async fn catalog_dump(connection: &mut AsyncPgConnection) -> Vec<String> {
    let sql = "
        SELECT 'extension ' || extname AS line FROM pg_extension WHERE extname <> 'plpgsql'
        UNION ALL
        SELECT format('column %s.%s %s default=%s not_null=%s', c.relname, a.attname,
                      format_type(a.atttypid, a.atttypmod),
                      coalesce(pg_get_expr(d.adbin, d.adrelid), '-'), a.attnotnull)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
          AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        SELECT format('constraint %s.%s %s', conrelid::regclass, conname,
                      pg_get_constraintdef(oid))
        FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
        UNION ALL
        SELECT format('index %s.%s %s', tablename, indexname, indexdef)
        FROM pg_indexes WHERE schemaname = current_schema()
        ORDER BY 1";
    diesel::sql_query(sql)
        .load::<Line>(connection)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.line)
        .filter(|line| !line.contains("__diesel_schema_migrations"))
        .collect()
}

async fn public_tables(connection: &mut AsyncPgConnection) -> Vec<String> {
    diesel::sql_query(
        "SELECT tablename::text AS line FROM pg_tables WHERE schemaname = current_schema() \
         ORDER BY 1",
    )
    .load::<Line>(connection)
    .await
    .unwrap()
    .into_iter()
    .map(|row| row.line)
    .collect()
}

async fn build_legacy_database(version: i64, dirty: bool) -> TestDatabase {
    let database = TestDatabase::empty().await;
    let mut connection = database.connect().await;
    connection.batch_execute(LEGACY_BASELINE_SQL).await.unwrap();
    connection
        .batch_execute(&format!(
            "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, \
             dirty boolean NOT NULL);
             INSERT INTO schema_migrations VALUES ({version}, {dirty});
             INSERT INTO tasks (id, user_id, title, status)
             VALUES ('{LEGACY_TASK_ID}', '20000000-0000-0000-0000-000000000001',
                     'written before the service existed', 'some legacy status');"
        ))
        .await
        .unwrap();
    database
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again_to_the_same_schema() {
    let database = TestDatabase::empty().await;
    assert_eq!(pending(&database.url).await.unwrap(), all_versions());

    assert_eq!(run_pending(&database.url).await.unwrap(), all_versions());
    let mut connection = database.connect().await;
    let first = catalog_dump(&mut connection).await;
    assert!(
        first
            .iter()
            .any(|line| line.starts_with("index tasks.idx_tasks_live_user_created"))
    );
    assert!(pending(&database.url).await.unwrap().is_empty());

    let mut reverted = revert_all(&database.url).await.unwrap();
    reverted.sort();
    assert_eq!(reverted, all_versions());
    assert_eq!(
        public_tables(&mut connection).await,
        vec!["__diesel_schema_migrations".to_owned()],
        "every down.sql must remove what its up.sql created"
    );

    assert_eq!(run_pending(&database.url).await.unwrap(), all_versions());
    let second = catalog_dump(&mut connection).await;
    assert_eq!(first, second);
    assert!(run_pending(&database.url).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_clean_legacy_database_at_version_12_is_adopted_without_rerunning_the_baseline() {
    let database = build_legacy_database(12, false).await;
    let expected: Vec<String> = all_versions()
        .into_iter()
        .filter(|version| version != BASELINE_VERSION)
        .collect();
    assert_eq!(pending(&database.url).await.unwrap(), expected);

    let applied = run_pending(&database.url).await.unwrap();
    assert_eq!(applied, expected);

    let mut connection = database.connect().await;
    let priority: OptionalText = diesel::sql_query(format!(
        "SELECT priority::text AS value FROM tasks WHERE id = '{LEGACY_TASK_ID}'"
    ))
    .get_result(&mut connection)
    .await
    .unwrap();
    assert_eq!(
        priority.value.as_deref(),
        Some("medium"),
        "legacy row kept and extended"
    );

    let recorded: Vec<Line> = diesel::sql_query(
        "SELECT version::text AS line FROM __diesel_schema_migrations ORDER BY 1",
    )
    .load(&mut connection)
    .await
    .unwrap();
    let recorded: Vec<String> = recorded.into_iter().map(|row| row.line).collect();
    assert_eq!(recorded, all_versions());
    assert!(run_pending(&database.url).await.unwrap().is_empty());
}

#[tokio::test]
async fn legacy_rows_that_break_the_new_rules_do_not_stop_the_migrations() {
    let database = build_legacy_database(12, false).await;
    let mut connection = database.connect().await;
    connection
        .batch_execute(
            "INSERT INTO users (id, username, email, password) VALUES
             ('50000000-0000-0000-0000-000000000001', 'twin', 'twin1@example.com', 'x'),
             ('50000000-0000-0000-0000-000000000002', 'twin', 'twin2@example.com', 'x');",
        )
        .await
        .unwrap();
    run_pending(&database.url).await.unwrap();

    let dump = catalog_dump(&mut connection).await;
    assert!(
        !dump
            .iter()
            .any(|line| line.contains("idx_users_username_live")),
        "no unique username index while duplicates exist"
    );
    // The legacy task with a free-text status survived; new rows must use a known status.
    let invalid = connection
        .batch_execute(
            "INSERT INTO tasks (id, user_id, title, status) VALUES
             (gen_random_uuid(), '20000000-0000-0000-0000-000000000001', 't', 'bogus')",
        )
        .await;
    let error = invalid.unwrap_err().to_string();
    assert!(error.contains("tasks_status_check"), "{error}");
}

#[tokio::test]
async fn usernames_of_live_users_are_unique_when_the_data_allows_it() {
    let database = TestDatabase::new().await;
    let mut connection = database.connect().await;
    let duplicate = connection
        .batch_execute(
            "INSERT INTO users (id, username, email, password)
             VALUES (gen_random_uuid(), 'john_user', 'other@example.com', 'x')",
        )
        .await;
    let error = duplicate.unwrap_err().to_string();
    assert!(error.contains("idx_users_username_live"), "{error}");
}

#[tokio::test]
async fn an_adopted_legacy_database_has_the_same_schema_as_a_fresh_one() {
    let legacy = build_legacy_database(12, false).await;
    run_pending(&legacy.url).await.unwrap();
    let fresh = TestDatabase::empty().await;
    run_pending(&fresh.url).await.unwrap();
    let legacy_dump: Vec<String> = catalog_dump(&mut legacy.connect().await)
        .await
        .into_iter()
        .filter(|line| !line.contains("schema_migrations"))
        .collect();
    assert_eq!(legacy_dump, catalog_dump(&mut fresh.connect().await).await);
}

#[tokio::test]
async fn a_dirty_legacy_database_is_refused_and_left_untouched() {
    let database = build_legacy_database(12, true).await;
    let error = run_pending(&database.url).await.unwrap_err();
    assert!(
        matches!(
            error,
            MigrationError::LegacyNotAdoptable {
                version: 12,
                dirty: true
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("dirty = true"), "{error}");
    assert!(pending(&database.url).await.is_err());

    let mut connection = database.connect().await;
    let tables = public_tables(&mut connection).await;
    assert!(
        !tables.contains(&"revoked_access_tokens".to_owned()),
        "{tables:?}"
    );
}

#[tokio::test]
async fn a_legacy_database_older_than_version_12_is_refused() {
    let database = build_legacy_database(10, false).await;
    let error = run_pending(&database.url).await.unwrap_err();
    assert!(
        matches!(
            error,
            MigrationError::LegacyNotAdoptable {
                version: 10,
                dirty: false
            }
        ),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_migrating_at_the_same_time_apply_each_migration_once() {
    let database = TestDatabase::empty().await;
    let (first, second, third) = tokio::join!(
        run_pending(&database.url),
        run_pending(&database.url),
        run_pending(&database.url)
    );
    let mut applied: Vec<String> = [first.unwrap(), second.unwrap(), third.unwrap()].concat();
    applied.sort();
    assert_eq!(
        applied,
        all_versions(),
        "each version applied by exactly one instance"
    );
    assert!(run_pending(&database.url).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unreachable_database_is_a_connect_error() {
    let error = run_pending("postgres://postgres@127.0.0.1:1/nothing")
        .await
        .unwrap_err();
    assert!(matches!(error, MigrationError::Connect(_)), "{error}");
}
