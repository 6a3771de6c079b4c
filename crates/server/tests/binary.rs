//! The `task-api` binary itself: configuration errors, `migrate`, `healthcheck` (the
//! container probe, D-30), graceful shutdown on SIGTERM and `prune-audit-logs`.

#![allow(clippy::unwrap_used)]

use std::{
    net::TcpListener,
    process::{Command, Stdio},
    time::Duration,
};

use testkit::TestDatabase;

const BINARY: &str = env!("CARGO_BIN_EXE_task-api");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn command(database: &TestDatabase, port: u16) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("DATABASE_URL", &database.url)
        .env("REDIS_URL", "redis://127.0.0.1:1/0")
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("LOG_FORMAT", "text");
    command
}

#[tokio::test]
async fn an_unparsable_variable_stops_the_start_naming_it() {
    let database = TestDatabase::new().await;
    let output = command(&database, free_port())
        .env("ACCESS_TOKEN_TTL", "soon")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ACCESS_TOKEN_TTL"), "{stderr}");
}

#[tokio::test]
async fn production_without_secrets_refuses_to_start() {
    let database = TestDatabase::new().await;
    let output = command(&database, free_port())
        .env("ENVIRONMENT", "production")
        // DATABASE_URL wins over DB_PASSWORD, so the password check reads the URL's.
        .env(
            "DATABASE_URL",
            "postgres://postgres:set@127.0.0.1:5432/unused",
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("JWT secret must be set in production"),
        "{stderr}"
    );
}

#[tokio::test]
async fn migrate_reports_an_up_to_date_database() {
    let database = TestDatabase::new().await;
    let output = command(&database, free_port())
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("database is up to date"));
}

#[tokio::test]
async fn healthcheck_fails_without_a_server_and_passes_with_one_then_sigterm_drains() {
    let database = TestDatabase::new().await;
    let port = free_port();
    let probe = || {
        command(&database, port)
            .arg("healthcheck")
            .output()
            .unwrap()
    };
    assert!(!probe().status.success(), "no server is running yet");

    let mut server = command(&database, port)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut healthy = false;
    for _ in 0..200 {
        if probe().status.success() {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(healthy, "the server never became healthy");

    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = tokio::task::spawn_blocking(move || {
        let status = server.wait().unwrap();
        let mut logs = String::new();
        if let Some(mut stdout) = server.stdout.take() {
            std::io::Read::read_to_string(&mut stdout, &mut logs).unwrap();
        }
        (status, logs)
    })
    .await
    .unwrap();
    assert!(output.0.success(), "exit status {:?}", output.0);
    assert!(output.1.contains("SIGTERM received"), "{}", output.1);
    assert!(output.1.contains("shutdown complete"), "{}", output.1);
}

#[tokio::test]
async fn prune_audit_logs_deletes_only_records_older_than_the_age_in_batches() {
    use diesel::QueryableByName;
    use diesel_async::{RunQueryDsl, SimpleAsyncConnection};

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let database = TestDatabase::new().await;
    let mut connection = database.connect().await;
    // One record a day going back 25,000 days: more than two pruning batches.
    connection
        .batch_execute(
            r#"INSERT INTO audit_logs (user_id, action, resource, decision, "timestamp")
               SELECT (SELECT id FROM users ORDER BY id LIMIT 1), 'read_task', 'task',
                      'allowed', (now() at time zone 'utc') - i * interval '1 day'
               FROM generate_series(1, 25000) AS i"#,
        )
        .await
        .unwrap();

    let output = command(&database, free_port())
        .args(["prune-audit-logs", "2400h"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("deleted 24901 audit records"), "{stdout}");
    let left = diesel::sql_query("SELECT count(*) AS n FROM audit_logs")
        .get_result::<Count>(&mut connection)
        .await
        .unwrap()
        .n;
    assert_eq!(left, 99, "the records of the last 100 days stay");

    for bad_age in ["soon", "0s"] {
        let output = command(&database, free_port())
            .args(["prune-audit-logs", bad_age])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{bad_age}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("age"), "{bad_age}: {stderr}");
    }
}
