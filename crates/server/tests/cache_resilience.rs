//! Redis going away in the middle of traffic and coming back: no request may fail because
//! of it (contract 13.2, D-35). The outage is simulated with a switchable TCP proxy in front
//! of the real Redis, so the shared server is never touched.

#![allow(clippy::unwrap_used)]

mod common;

use common::{base_vars, start};
use serde_json::{Value, json};
use testkit::{TcpProxy, TestDatabase, TestRedis};

const ADMIN_EMAIL: &str = "root@example.com";
const ADMIN_PASSWORD: &str = "Root-Pass-123!";

#[tokio::test]
async fn redis_stopping_and_returning_mid_traffic_causes_no_server_error() {
    let database = TestDatabase::new().await;
    let redis = TestRedis::new().await;
    let proxy = TcpProxy::start(redis.socket_address()).await;
    let mut vars = base_vars(&database, &redis);
    vars.insert("REDIS_URL".into(), format!("redis://{}/0", proxy.address()));
    vars.insert("ADMIN_BOOTSTRAP_EMAIL".into(), ADMIN_EMAIL.into());
    vars.insert("ADMIN_BOOTSTRAP_PASSWORD".into(), ADMIN_PASSWORD.into());
    let app = start(vars, database, redis, None).await;

    let login: Value = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    let created: Value = app
        .client
        .post(app.url("/api/v1/tasks"))
        .bearer_auth(&token)
        .json(&json!({"title": "survives outages"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let task_path = format!("/api/v1/tasks/{}", created["id"].as_str().unwrap());

    let mut statuses = Vec::new();
    for i in 0..120 {
        if i == 30 {
            proxy.go_down().await;
        }
        if i == 90 {
            proxy.come_back();
        }
        let request = match i % 4 {
            0 => app.client.get(app.url(&task_path)),
            1 => app.client.get(app.url("/api/v1/tasks")),
            2 => app
                .client
                .put(app.url(&task_path))
                .json(&json!({"description": format!("edit {i}")})),
            _ => app.client.get(app.url("/health")),
        };
        let response = request.bearer_auth(&token).send().await.unwrap();
        statuses.push((i, response.status().as_u16()));
    }
    let failures: Vec<_> = statuses.iter().filter(|(_, s)| *s >= 500).collect();
    assert!(
        failures.is_empty(),
        "server errors during the outage: {failures:?}"
    );
    assert!(statuses.iter().all(|(_, s)| *s == 200), "{statuses:?}");

    // The last edit is what every read returns, whatever happened to Redis meanwhile.
    let task: Value = app
        .client
        .get(app.url(&task_path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(task["description"], "edit 118");
    let stats: Value = app
        .client
        .get(app.url("/api/v1/cache/stats"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The outage was seen and counted: five consecutive L2 failures open the breaker,
    // which then answers without touching Redis until its 30 s timeout passes.
    assert!(
        stats["cache"]["metrics"]["errors"].as_u64().unwrap() >= 5,
        "{stats}"
    );
    assert_ne!(
        stats["cache"]["circuit_breaker"]["last_failure"], 0,
        "{stats}"
    );
    app.stop().await;
}
