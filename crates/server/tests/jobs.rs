//! The cache-warming job routes (contract 9.2, 9.3, 9.5 to 9.7, section 14) over real
//! HTTP, PostgreSQL and Redis: every validation rule, the exact bodies, warmup jobs that
//! really write the cache, reserved keys recomputed from the database [D-24], scheduled
//! jobs held until `process_at`, the dead-letter path and its administration, the health
//! view, and local mode without Redis.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, login, spawn_app_with, with_admin};
use redis::AsyncCommands;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

const SECRET: &str = "jobs-routes-test-secret-0123456789abcdef";
/// How long a poll for an effect of a background job may last before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// Registers a user in Engineering and returns its access token.
async fn register(app: &TestApp, name: &str) -> String {
    common::register(app, name, "Engineering").await.token
}

/// An app with a bootstrapped admin (plus `extra` variables) and the admin's token.
async fn world(extra: &[(&str, &str)]) -> (TestApp, String) {
    let mut vars = with_admin(&[("JWT_SECRET", SECRET)]);
    vars.extend_from_slice(extra);
    let app = spawn_app_with(&vars, None).await;
    let admin = login(&app.address, &app.client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    (app, admin.token)
}

async fn send(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let response = send(app, token, Method::POST, path, Some(body)).await;
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn get_json(app: &TestApp, token: &str, path: &str) -> Value {
    let response = send(app, token, Method::GET, path, None).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

/// The stored L2 value of a logical cache key, if any.
async fn l2_value(app: &TestApp, key: &str) -> Option<Value> {
    let mut conn = app.redis.connection().await;
    let text: Option<String> = conn
        .get(format!("{}cache:{key}", app.redis.prefix))
        .await
        .unwrap();
    text.map(|text| serde_json::from_str(&text).unwrap())
}

/// Polls `probe` until it yields a value, failing after [`PATIENCE`].
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn assert_invalid(status: StatusCode, body: &Value, case: &str) {
    assert_eq!(status, 400, "{case}: {body}");
    assert_eq!(body["error"], "Invalid request", "{case}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{case}: {body}"
    );
    assert_eq!(body.as_object().unwrap().len(), 2, "{case}: {body}");
}

#[tokio::test]
async fn warmup_validates_every_rule_and_answers_the_contract_example() {
    let (app, admin) = world(&[]).await;
    let path = "/api/v1/cache/jobs/warmup";
    for (case, body) in [
        ("missing key", json!({"data": {}})),
        ("empty key", json!({"key": ""})),
        ("null key", json!({"key": null})),
        ("numeric key", json!({"key": 5})),
        ("string ttl", json!({"key": "test:k", "ttl": "15m"})),
        ("negative ttl", json!({"key": "test:k", "ttl": -1})),
        ("fractional ttl", json!({"key": "test:k", "ttl": 1.5})),
        ("boolean ttl", json!({"key": "test:k", "ttl": true})),
        (
            "string priority",
            json!({"key": "test:k", "priority": "high"}),
        ),
        (
            "fractional priority",
            json!({"key": "test:k", "priority": 2.5}),
        ),
        ("not an object", json!(["test:k"])),
    ] {
        let (status, body) = post(&app, &admin, path, body).await;
        assert_invalid(status, &body, case);
    }
    let malformed = app
        .client
        .post(app.url(path))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let status = malformed.status();
    assert_invalid(status, &malformed.json().await.unwrap(), "malformed JSON");

    let (status, body) = post(
        &app,
        &admin,
        path,
        json!({"key":"test:all","data":{},"ttl":900000000000_u64,"priority":5}),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        body,
        json!({"status":"success","message":"Warmup job enqueued successfully",
               "key":"test:all","ttl":"15m0s","priority":5})
    );
    // Absent and zero values take the defaults.
    let (status, body) = post(&app, &admin, path, json!({"key": "test:d", "ttl": 0})).await;
    assert_eq!(status, 202);
    assert_eq!(
        (&body["ttl"], &body["priority"]),
        (&json!("15m0s"), &json!(5))
    );
    let (status, body) = post(
        &app,
        &admin,
        path,
        json!({"key": "test:e", "ttl": 90_000_000_000_u64, "priority": 7}),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        (&body["ttl"], &body["priority"]),
        (&json!("1m30s"), &json!(7))
    );
}

#[tokio::test]
async fn batch_and_scheduled_validate_every_rule() {
    let (app, admin) = world(&[]).await;
    let batch = "/api/v1/cache/jobs/batch";
    for (case, body) in [
        ("absent keys", json!({"data": 1})),
        ("null keys", json!({"keys": null})),
        ("string keys", json!({"keys": "a"})),
        ("numeric key", json!({"keys": ["a", 1]})),
        ("string priority", json!({"keys": ["a"], "priority": "x"})),
    ] {
        let (status, body) = post(&app, &admin, batch, body).await;
        assert_invalid(status, &body, case);
    }
    let (status, body) = post(&app, &admin, batch, json!({"keys": []})).await;
    assert_eq!(status, 202);
    assert_eq!(
        body,
        json!({"status": "success", "message": "Batch job enqueued successfully",
               "key_count": 0, "priority": 5})
    );
    let (status, body) = post(
        &app,
        &admin,
        batch,
        json!({"keys": ["test:b1", "test:b2"], "data": {"v": 1}, "priority": 3}),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        (&body["key_count"], &body["priority"]),
        (&json!(2), &json!(3))
    );
    for key in ["test:b1", "test:b2"] {
        let value = eventually(key, || l2_value(&app, key)).await;
        assert_eq!(value, json!({"v": 1}));
    }

    let scheduled = "/api/v1/cache/jobs/scheduled";
    let later = "2999-01-01T00:00:00Z";
    for (case, body) in [
        ("missing process_at", json!({"key": "test:s"})),
        (
            "null process_at",
            json!({"key": "test:s", "process_at": null}),
        ),
        (
            "zero process_at",
            json!({"key": "test:s", "process_at": "0001-01-01T00:00:00Z"}),
        ),
        (
            "unparsable process_at",
            json!({"key": "test:s", "process_at": "tomorrow"}),
        ),
        (
            "date-only process_at",
            json!({"key": "test:s", "process_at": "2999-01-01"}),
        ),
        ("missing key", json!({"process_at": later})),
        ("empty key", json!({"key": "", "process_at": later})),
        (
            "negative ttl",
            json!({"key": "test:s", "process_at": later, "ttl": -5}),
        ),
        (
            "string ttl",
            json!({"key": "test:s", "process_at": later, "ttl": "1h"}),
        ),
        (
            "string priority",
            json!({"key": "test:s", "process_at": later, "priority": "1"}),
        ),
    ] {
        let (status, body) = post(&app, &admin, scheduled, body).await;
        assert_invalid(status, &body, case);
    }
    let (status, body) = post(
        &app,
        &admin,
        scheduled,
        json!({"key": "test:s", "process_at": later, "data": 1}),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        body,
        json!({"status": "success", "message": "Scheduled job enqueued successfully",
               "key": "test:s", "process_at": later, "ttl": "15m0s", "priority": 5})
    );
    // Scheduled jobs always go to Redis in integrated mode: it waits in the delayed queue.
    let stats = get_json(&app, &admin, "/api/v1/cache/stats").await;
    assert_eq!(stats["queue_sizes"]["redis_delayed"], 1);
    assert_eq!(stats["cache_warming"]["distributed_jobs"], 1);
}

#[tokio::test]
async fn a_warmup_job_writes_the_cache_and_counts_in_the_metrics() {
    let (app, admin) = world(&[]).await;
    assert_eq!(l2_value(&app, "test:all").await, None);
    let (status, _) = post(
        &app,
        &admin,
        "/api/v1/cache/jobs/warmup",
        json!({"key": "test:all", "data": {"hello": ["world"]}}),
    )
    .await;
    assert_eq!(status, 202);
    let value = eventually("warmup stored", || l2_value(&app, "test:all")).await;
    assert_eq!(value, json!({"hello": ["world"]}));
    let mut conn = app.redis.connection().await;
    let ttl: i64 = conn
        .pttl(format!("{}cache:test:all", app.redis.prefix))
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 15 * 60 * 1000, "ttl {ttl}");
    let metrics = eventually("processed counted", || async {
        let stats = get_json(&app, &admin, "/api/v1/cache/stats").await;
        (stats["cache_warming"]["processed_jobs"].as_u64() >= Some(1))
            .then(|| stats["cache_warming"].clone())
    })
    .await;
    assert_eq!(metrics["local_jobs"], 1);
    assert_eq!(metrics["failed_jobs"], 0);
    assert_eq!(metrics["redis_available"], true);
    assert_eq!(metrics["distributed_workers"], 5);
    assert_eq!(metrics["system_type"], "integrated_redis_local");
    assert_eq!(metrics["local_worker_stats"]["workers"], 5);
    assert_eq!(metrics["local_worker_stats"]["queue_capacity"], 10);
    let text = app
        .get("/metrics?format=prometheus")
        .await
        .text()
        .await
        .unwrap();
    for series in [
        r#"cache_jobs_enqueued_total{type="cache_warmup",destination="local"}"#,
        r#"cache_jobs_processed_total{type="cache_warmup"}"#,
        r#"cache_job_duration_seconds_bucket{type="cache_warmup",destination="local",le="0.001"}"#,
    ] {
        assert!(text.contains(series), "{series} missing from /metrics");
    }
}

#[tokio::test]
async fn stopping_the_server_stops_the_job_system_and_keeps_queued_jobs() {
    let (app, admin) = world(&[]).await;
    let at = (OffsetDateTime::now_utc() + Duration::from_secs(3600))
        .format(&Rfc3339)
        .unwrap();
    let (status, _) = post(
        &app,
        &admin,
        "/api/v1/cache/jobs/scheduled",
        json!({"key": "test:kept", "process_at": at}),
    )
    .await;
    assert_eq!(status, 202);
    // A graceful stop finishes (the workers stop) and the Redis job is still queued.
    let (_database, redis) = app.stop().await;
    let mut conn = redis.connection().await;
    let delayed: u64 = conn
        .zcard(format!("{}cache_jobs_delayed", redis.prefix))
        .await
        .unwrap();
    assert_eq!(delayed, 1);
    let processing: u64 = conn
        .zcard(format!("{}cache_jobs_processing", redis.prefix))
        .await
        .unwrap();
    assert_eq!(processing, 0);
}

#[tokio::test]
async fn reserved_keys_are_recomputed_from_the_database_and_warming_fills_all_tasks() {
    let (app, admin) = world(&[]).await;
    let user = register(&app, "jobs_user").await;
    let response = send(
        &app,
        &user,
        Method::POST,
        "/api/v1/tasks",
        Some(json!({"title": "real title"})),
    )
    .await;
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = format!("task:{id}");
    // Drop what the create cached, then ask for a forged value.
    let evicted = send(
        &app,
        &admin,
        Method::DELETE,
        &format!("/api/v1/cache/jobs/evict/{key}"),
        None,
    )
    .await;
    assert_eq!(evicted.status(), 200);
    let (status, _) = post(
        &app,
        &admin,
        "/api/v1/cache/jobs/warmup",
        json!({"key": key, "data": {"id": id, "title": "forged"}, "priority": 1}),
    )
    .await;
    assert_eq!(status, 202);
    let stored = eventually("task recomputed", || l2_value(&app, &key)).await;
    assert_eq!(stored["title"], "real title");
    assert_eq!(stored["id"], id.as_str());
    let task = get_json(&app, &user, &format!("/api/v1/tasks/{id}")).await;
    assert_eq!(task["title"], "real title");

    // POST /cache/warm recomputes the default warm set from the database.
    let response = send(&app, &admin, Method::POST, "/api/v1/cache/warm", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"status": "success", "message": "Cache warming triggered successfully"})
    );
    let all = eventually("all_tasks warmed", || l2_value(&app, "all_tasks")).await;
    let titles: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["real title"]);
}

#[tokio::test]
async fn a_scheduled_job_waits_for_process_at() {
    let (app, admin) = world(&[]).await;
    let at = OffsetDateTime::now_utc() + Duration::from_secs(3);
    let at_text = at.format(&Rfc3339).unwrap();
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/cache/jobs/scheduled",
        json!({"key": "test:later", "data": "due", "process_at": at_text, "priority": 9}),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(body["process_at"], at_text.as_str());
    assert_eq!(body["priority"], 9);
    assert_eq!(l2_value(&app, "test:later").await, None);
    let value = eventually("scheduled job ran", || l2_value(&app, "test:later")).await;
    assert_eq!(value, json!("due"));
    assert!(OffsetDateTime::now_utc() >= at, "ran before process_at");
}

fn poison_envelope(id: &str) -> String {
    let now = OffsetDateTime::now_utc().format(&Rfc3339).unwrap();
    json!({"id": id, "type": "cache_warmup", "payload": {"key": 5}, "attempts": 0,
           "max_tries": 3, "created_at": now, "process_at": now, "priority": 5})
    .to_string()
}

async fn dead_ids(app: &TestApp, admin: &str) -> Vec<String> {
    let body = get_json(app, admin, "/api/v1/cache/jobs/dead").await;
    assert_eq!(
        body["count"].as_u64().unwrap(),
        body["jobs"].as_array().unwrap().len() as u64
    );
    body["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn failing_jobs_are_retried_dead_lettered_listed_and_requeued() {
    let (app, admin) = world(&[]).await;
    assert!(dead_ids(&app, &admin).await.is_empty());
    let id = format!("poison-{}", uuid::Uuid::new_v4());
    let mut conn = app.redis.connection().await;
    let score = OffsetDateTime::now_utc().unix_timestamp() - 5;
    let _: i64 = conn
        .zadd(
            format!("{}cache_jobs", app.redis.prefix),
            poison_envelope(&id),
            score,
        )
        .await
        .unwrap();
    eventually("dead-lettered", || async {
        dead_ids(&app, &admin).await.contains(&id).then_some(())
    })
    .await;
    let stats = get_json(&app, &admin, "/api/v1/cache/stats").await;
    assert_eq!(stats["cache_warming"]["failed_jobs"], 3);
    assert_eq!(stats["cache_warming"]["retry_jobs"], 2);
    assert_eq!(stats["queue_sizes"]["redis_dead_letter"], 1);

    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/cache/jobs/dead/requeue",
        json!({"id": "no-such-job"}),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"requeued": 0})));
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/cache/jobs/dead/requeue",
        json!({"id": id}),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"requeued": 1})));
    // It runs again (three more failed attempts), then is dead-lettered again.
    eventually("ran again", || async {
        let stats = get_json(&app, &admin, "/api/v1/cache/stats").await;
        (stats["cache_warming"]["failed_jobs"] == 6
            && stats["queue_sizes"]["redis_dead_letter"] == 1)
            .then_some(())
    })
    .await;
    // Without a body, every dead letter is requeued.
    let response = send(
        &app,
        &admin,
        Method::POST,
        "/api/v1/cache/jobs/dead/requeue",
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"requeued": 1})
    );
    let (status, body) = post(
        &app,
        &admin,
        "/api/v1/cache/jobs/dead/requeue",
        json!({"id": 7}),
    )
    .await;
    assert_invalid(status, &body, "numeric id");
}

#[tokio::test]
async fn health_reports_the_running_integrated_system() {
    let (app, admin) = world(&[]).await;
    let body = get_json(&app, &admin, "/api/v1/cache/health").await;
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["running"], true);
    assert_eq!(body["metrics"]["system_type"], "integrated_redis_local");
    assert_eq!(body["metrics"]["local_worker_stats"]["running"], true);
    let sizes = body["queue_sizes"].as_object().unwrap();
    let mut names: Vec<&str> = sizes.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "local",
            "redis_dead_letter",
            "redis_delayed",
            "redis_immediate"
        ]
    );
    let user = register(&app, "jobs_plain").await;
    for (method, path) in [
        (Method::GET, "/api/v1/cache/health"),
        (Method::POST, "/api/v1/cache/warm"),
        (Method::POST, "/api/v1/cache/jobs/warmup"),
        (Method::POST, "/api/v1/cache/jobs/batch"),
        (Method::POST, "/api/v1/cache/jobs/scheduled"),
        (Method::GET, "/api/v1/cache/jobs/dead"),
        (Method::POST, "/api/v1/cache/jobs/dead/requeue"),
    ] {
        let response = send(&app, &user, method.clone(), path, Some(json!({}))).await;
        assert_eq!(response.status(), 403, "{method} {path}");
    }
}

#[tokio::test]
async fn without_redis_jobs_run_locally() {
    let (app, admin) = world(&[("REDIS_URL", "redis://127.0.0.1:1")]).await;
    let body = get_json(&app, &admin, "/api/v1/cache/health").await;
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["metrics"]["system_type"], "legacy_memory");
    assert_eq!(body["metrics"]["redis_available"], false);
    assert_eq!(body["metrics"]["distributed_workers"], 0);
    assert_eq!(body["queue_sizes"], json!({"local": 0}));
    let before = get_json(&app, &admin, "/api/v1/cache/stats").await["cache"]["l1"]["items"]
        .as_u64()
        .unwrap();
    let (status, _) = post(
        &app,
        &admin,
        "/api/v1/cache/jobs/warmup",
        json!({"key": "test:local", "data": 1}),
    )
    .await;
    assert_eq!(status, 202);
    let at = (OffsetDateTime::now_utc() + Duration::from_secs(3600))
        .format(&Rfc3339)
        .unwrap();
    let (status, _) = post(
        &app,
        &admin,
        "/api/v1/cache/jobs/scheduled",
        json!({"key": "test:held", "data": 1, "process_at": at}),
    )
    .await;
    assert_eq!(status, 202);
    let stats = eventually("local warmup stored", || async {
        let stats = get_json(&app, &admin, "/api/v1/cache/stats").await;
        (stats["cache"]["l1"]["items"].as_u64().unwrap() > before).then_some(stats)
    })
    .await;
    assert_eq!(stats["cache_warming"]["local_jobs"], 2);
    assert_eq!(stats["cache_warming"]["distributed_jobs"], 0);
    assert_eq!(stats["queue_sizes"], json!({"local": 0}));
    assert!(
        get_json(&app, &admin, "/api/v1/cache/jobs/dead").await["jobs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
