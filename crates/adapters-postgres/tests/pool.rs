//! The pool against a real PostgreSQL and against an address where nothing listens.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use adapters_postgres::{PgPool, PoolSettings};
use diesel::QueryableByName;
use diesel::sql_types::Integer;
use diesel_async::RunQueryDsl;
use ports::{HealthProbe, PortError};
use testkit::TestDatabase;

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

fn quick(url: &str) -> PoolSettings {
    let mut settings = PoolSettings::new(url);
    settings.wait_timeout = Duration::from_millis(500);
    settings.connect_timeout = Duration::from_millis(500);
    settings.recycle_timeout = Duration::from_millis(500);
    settings
}

async fn backend_pid(pool: &PgPool) -> i32 {
    let mut connection = pool.get().await.unwrap();
    diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result::<Pid>(&mut connection)
        .await
        .unwrap()
        .pid
}

#[tokio::test]
async fn a_pool_on_an_unreachable_server_builds_and_then_reports_unavailable() {
    let pool = PgPool::new(&quick("postgres://postgres@127.0.0.1:1/nothing")).unwrap();
    let error = pool.ping().await.unwrap_err();
    assert!(error.is_unavailable(), "{error}");
    let error = pool.get().await.map(|_| ()).unwrap_err();
    assert!(matches!(error, PortError::Unavailable(_)), "{error}");
}

#[tokio::test]
async fn a_pool_on_a_live_database_answers_the_ping_and_reuses_connections() {
    let database = TestDatabase::new().await;
    let pool = PgPool::new(&quick(&database.url)).unwrap();
    pool.ping().await.unwrap();
    assert_eq!(backend_pid(&pool).await, backend_pid(&pool).await);
}

#[tokio::test]
async fn connections_past_their_lifetime_are_replaced_on_checkout() {
    let database = TestDatabase::new().await;
    let mut settings = quick(&database.url);
    settings.max_lifetime = Duration::ZERO;
    let pool = PgPool::new(&settings).unwrap();
    assert_ne!(backend_pid(&pool).await, backend_pid(&pool).await);
}

#[tokio::test]
async fn the_settings_debug_output_never_shows_the_password() {
    let settings = quick("postgres://app:hunter2@127.0.0.1/tasks");
    assert!(!format!("{settings:?}").contains("hunter2"));
}
