//! `task-api deactivate-user` and `task-api activate-user`, run as the real binary against
//! the database and Redis of a running server: deactivation ends every session on that
//! server within the contract's 5 seconds (6.7), refresh is refused and login answers
//! `account_disabled`; activation lets the account log in again.

#![allow(clippy::unwrap_used)]

mod common;

use std::{
    process::{Command, Output},
    time::{Duration, Instant},
};

use common::{TestApp, USER_PASSWORD, register, spawn_app_with};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_task-api");
const SECRET: &str = "account-status-secret";

/// Runs `task-api <args>` with the server's database, Redis and secret.
async fn task_api(app: &TestApp, args: &[&str]) -> Output {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env_clear()
        .env("DATABASE_URL", &app.database.url)
        .env("REDIS_URL", &app.redis.url)
        .env("REDIS_KEY_PREFIX", &app.redis.prefix)
        .env("JWT_SECRET", SECRET)
        .env("LOG_FORMAT", "text")
        .env("LOG_LEVEL", "warn");
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

async fn post(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(path))
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn profile_status(app: &TestApp, token: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url("/api/v1/users/profile"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn deactivation_ends_sessions_everywhere_and_activation_restores_login() {
    let app = spawn_app_with(&[("JWT_SECRET", SECRET)], None).await;
    let session = register(&app, "leaver", "sales").await;
    let credentials = json!({"email": "leaver@example.com", "password": USER_PASSWORD});
    let (status, login) = post(&app, "/api/v1/auth/login", &credentials).await;
    assert_eq!(status, 200);
    // Both tokens are in use, so the server holds their verification and revocation answers.
    for token in [&session.token, login["access_token"].as_str().unwrap()] {
        assert_eq!(profile_status(&app, token).await.0, 200);
    }

    let output = task_api(&app, &["deactivate-user", "Leaver@Example.com"]).await;
    let cut_off_by = time::OffsetDateTime::now_utc().unix_timestamp();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&session.id) && stdout.contains("inactive"),
        "{stdout}"
    );

    let revoked = (
        401,
        json!({"error": "invalid_token", "message": "Token has been revoked"}),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while profile_status(&app, &session.token).await != revoked {
        assert!(Instant::now() < deadline, "still accepted after 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        profile_status(&app, login["access_token"].as_str().unwrap()).await,
        revoked
    );
    let (status, _) = post(
        &app,
        "/api/v1/auth/refresh",
        &json!({"refresh_token": login["refresh_token"]}),
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = post(&app, "/api/v1/auth/login", &credentials).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("account_disabled"))
    );

    let output = task_api(&app, &["activate-user", "leaver@example.com"]).await;
    assert!(output.status.success());
    // Tokens issued in the cut-off's own second are refused (iat <= cut-off, 6.7).
    while time::OffsetDateTime::now_utc().unix_timestamp() <= cut_off_by {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, login) = post(&app, "/api/v1/auth/login", &credentials).await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(
        profile_status(&app, login["access_token"].as_str().unwrap())
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn unknown_or_invalid_emails_and_a_missing_argument_fail_with_a_message() {
    let app = spawn_app_with(&[("JWT_SECRET", SECRET)], None).await;
    for (args, expected) in [
        (&["deactivate-user", "nobody@example.com"][..], "no account"),
        (
            &["activate-user", "not an email"][..],
            "not an email address",
        ),
        (&["deactivate-user"][..], "usage"),
    ] {
        let output = task_api(&app, args).await;
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
