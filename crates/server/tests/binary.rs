//! The `task-api` binary itself: configuration errors, `migrate`, `healthcheck` (the
//! container probe, D-30) and graceful shutdown on SIGTERM.

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
