//! The task cache and the cache administration routes (contract sections 9 and 13) over
//! real HTTP, PostgreSQL and Redis: hit and miss counting, the invalidation table of 13.4,
//! coherence between two instances, clearing and eviction confined to the cache, the admin
//! gate, and service without Redis.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Session, TestApp, login, register, spawn_app_with,
    spawn_second_instance, with_admin,
};
use redis::AsyncCommands;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SECRET: &str = "cache-routes-test-secret-0123456789abcdef";

/// Every caller of these tests is a logged-in session.
type Caller = Session;

/// An app with a bootstrapped admin (plus `extra` variables), the admin and one user.
async fn world(extra: &[(&str, &str)]) -> (TestApp, Caller, Caller) {
    let mut vars = with_admin(&[("JWT_SECRET", SECRET)]);
    vars.extend_from_slice(extra);
    let app = spawn_app_with(&vars, None).await;
    let admin = login(&app.address, &app.client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let user = register(&app, "cache_user", "Engineering").await;
    (app, admin, user)
}

async fn call(
    client: &reqwest::Client,
    url: String,
    caller: &Caller,
    method: Method,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = client.request(method, url).bearer_auth(&caller.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn send(
    app: &TestApp,
    caller: &Caller,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    call(&app.client, app.url(path), caller, method, body).await
}

async fn json_of(app: &TestApp, caller: &Caller, path: &str) -> Value {
    let response = send(app, caller, Method::GET, path, None).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

async fn create_task(app: &TestApp, caller: &Caller, title: &str) -> String {
    let response = send(
        app,
        caller,
        Method::POST,
        "/api/v1/tasks",
        Some(json!({"title": title})),
    )
    .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

async fn stats(app: &TestApp, admin: &Caller) -> Value {
    json_of(app, admin, "/api/v1/cache/stats").await
}

/// The titles of a listing (`{"tasks": [...]}`) or of a bare array of tasks.
fn titles(body: &Value) -> Vec<String> {
    let tasks = body.get("tasks").unwrap_or(body);
    tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn physical_exists(app: &TestApp, key: &str) -> bool {
    let mut conn = app.redis.connection().await;
    conn.exists(format!("{}{key}", app.redis.prefix))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_task_read_is_a_miss_then_a_hit_and_stats_have_the_contract_shape() {
    let (app, admin, user) = world(&[]).await;
    let id = create_task(&app, &user, "counted").await;
    // Creation wrote task:{id}; evict it so the next read starts cold.
    let evicted = send(
        &app,
        &admin,
        Method::DELETE,
        &format!("/api/v1/cache/jobs/evict/task:{id}"),
        None,
    )
    .await;
    assert_eq!(evicted.status(), 200);

    let before = stats(&app, &admin).await["cache"]["metrics"].clone();
    for _ in 0..2 {
        let body = json_of(&app, &user, &format!("/api/v1/tasks/{id}")).await;
        assert_eq!(body["title"], "counted");
    }
    let body = stats(&app, &admin).await;
    let after = &body["cache"]["metrics"];
    let delta = |name: &str| after[name].as_u64().unwrap() - before[name].as_u64().unwrap();
    assert_eq!(delta("misses"), 1, "the first read misses: {body}");
    assert_eq!(delta("hits"), 1, "the second read hits: {body}");
    assert!(after["sets"].as_u64().unwrap() >= 1);
    assert!(after["start_time"].as_i64().unwrap() > 0);

    let cache = &body["cache"];
    assert_eq!(cache["l1"]["type"], "memory");
    assert!(cache["l1"]["items"].as_u64().unwrap() >= 1);
    let l2 = &cache["l2"];
    assert!(l2["redis_info"].as_str().unwrap().contains("used_memory"));
    for counter in [
        "pool_hits",
        "pool_misses",
        "pool_timeouts",
        "pool_total",
        "pool_idle",
        "pool_stale",
    ] {
        assert!(l2[counter].is_u64(), "{counter} in {l2}");
    }
    let rate = cache["hit_rate_percent"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&rate) && rate > 0.0);
    let breaker = &cache["circuit_breaker"];
    assert_eq!(breaker["state"], "closed");
    assert_eq!(breaker["max_failures"], 5);
    assert_eq!(breaker["timeout_seconds"], 30);
    assert_eq!(breaker["last_failure"], 0);
    // The job system's metrics and queue sizes (14.8) ride along.
    assert_eq!(
        body["cache_warming"]["system_type"],
        "integrated_redis_local"
    );
    assert_eq!(body["queue_sizes"]["redis_dead_letter"], 0);
}

#[tokio::test]
async fn no_read_after_a_write_returns_what_the_write_invalidated() {
    let (app, admin, user) = world(&[]).await;
    let own_list = "/api/v1/tasks".to_owned();
    let user_tasks = format!("/api/v1/users/{}/tasks", user.id);
    let first = create_task(&app, &user, "first").await;
    // Warm every cached read, twice so each is served from the cache.
    for _ in 0..2 {
        assert_eq!(titles(&json_of(&app, &user, &own_list).await), ["first"]);
        assert_eq!(titles(&json_of(&app, &user, &user_tasks).await), ["first"]);
        assert!(titles(&json_of(&app, &admin, &own_list).await).contains(&"first".into()));
        json_of(&app, &user, &format!("/api/v1/tasks/{first}")).await;
    }

    // Created: the lists show it at once, for the owner, per user and for the admin.
    let second = create_task(&app, &user, "second").await;
    let mut listed = titles(&json_of(&app, &user, &own_list).await);
    listed.sort();
    assert_eq!(listed, ["first", "second"]);
    assert_eq!(titles(&json_of(&app, &user, &user_tasks).await).len(), 2);
    assert!(titles(&json_of(&app, &admin, &own_list).await).contains(&"second".into()));
    let fetched = json_of(&app, &user, &format!("/api/v1/tasks/{second}")).await;
    assert_eq!(fetched["title"], "second");

    // Updated: the task and every list show the new title.
    let path = format!("/api/v1/tasks/{first}");
    let updated = send(
        &app,
        &user,
        Method::PUT,
        &path,
        Some(json!({"title": "renamed"})),
    )
    .await;
    assert_eq!(updated.status(), 200);
    assert_eq!(json_of(&app, &user, &path).await["title"], "renamed");
    assert!(titles(&json_of(&app, &user, &own_list).await).contains(&"renamed".into()));
    assert!(titles(&json_of(&app, &user, &user_tasks).await).contains(&"renamed".into()));
    assert!(titles(&json_of(&app, &admin, &own_list).await).contains(&"renamed".into()));
    assert!(!titles(&json_of(&app, &admin, &own_list).await).contains(&"first".into()));

    // Deleted: the task is gone and no list shows it.
    let deleted = send(&app, &user, Method::DELETE, &path, None).await;
    assert_eq!(deleted.status(), 204);
    let gone = send(&app, &user, Method::GET, &path, None).await;
    assert_eq!(gone.status(), 404);
    assert_eq!(titles(&json_of(&app, &user, &own_list).await), ["second"]);
    assert_eq!(titles(&json_of(&app, &user, &user_tasks).await), ["second"]);
    assert!(!titles(&json_of(&app, &admin, &own_list).await).contains(&"renamed".into()));
}

#[tokio::test]
async fn a_stale_if_match_is_refused_even_when_the_task_is_cached() {
    let (app, _admin, user) = world(&[]).await;
    let id = create_task(&app, &user, "guarded").await;
    let path = format!("/api/v1/tasks/{id}");
    let first = send(&app, &user, Method::GET, &path, None).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let changed = send(
        &app,
        &user,
        Method::PUT,
        &path,
        Some(json!({"title": "v2"})),
    )
    .await;
    assert_eq!(changed.status(), 200);
    // Cache the new version, then write with the old tag: the database decides.
    json_of(&app, &user, &path).await;
    let stale = app
        .client
        .put(app.url(&path))
        .bearer_auth(&user.token)
        .header("If-Match", &etag)
        .json(&json!({"title": "v3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    assert_eq!(json_of(&app, &user, &path).await["title"], "v2");
}

#[tokio::test]
async fn an_update_on_one_instance_is_served_by_the_other_within_a_second() {
    let (app, _admin, user) = world(&[]).await;
    let second = spawn_second_instance(&app, &[("JWT_SECRET", SECRET)], None).await;
    let id = create_task(&app, &user, "before").await;
    let path = format!("/api/v1/tasks/{id}");
    let read_on_b = || call(&second.client, second.url(&path), &user, Method::GET, None);
    for _ in 0..2 {
        let response = read_on_b().await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["title"], "before");
    }

    let updated = send(
        &app,
        &user,
        Method::PUT,
        &path,
        Some(json!({"title": "after"})),
    )
    .await;
    assert_eq!(updated.status(), 200);
    let mut seen = Value::Null;
    for _ in 0..20 {
        let body: Value = read_on_b().await.json().await.unwrap();
        seen = body["title"].clone();
        if seen == "after" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, "after", "instance B kept serving the old title");

    let deleted = send(&app, &user, Method::DELETE, &path, None).await;
    assert_eq!(deleted.status(), 204);
    let mut status = StatusCode::OK;
    for _ in 0..20 {
        status = read_on_b().await.status();
        if status == StatusCode::NOT_FOUND {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "instance B kept serving a deleted task"
    );
    second.stop().await;
}

#[tokio::test]
async fn clearing_the_cache_leaves_job_queues_and_revocations_alone() {
    let (app, admin, user) = world(&[]).await;
    let id = create_task(&app, &user, "cached").await;
    let entry = format!("cache:task:{id}");
    assert!(physical_exists(&app, &entry).await, "creation writes L2");
    let prefix = app.redis.prefix.clone();
    let mut conn = app.redis.connection().await;
    let _: () = conn
        .rpush(format!("{prefix}cache_jobs"), "job")
        .await
        .unwrap();
    let _: () = conn
        .set(format!("{prefix}revoked_jti:x"), "1")
        .await
        .unwrap();

    let response = send(&app, &admin, Method::DELETE, "/api/v1/cache/clear", None).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"message": "cache cleared successfully"}));
    assert!(
        !physical_exists(&app, &entry).await,
        "the cache entry is gone"
    );
    assert!(physical_exists(&app, "cache_jobs").await);
    assert!(physical_exists(&app, "revoked_jti:x").await);
    assert!(app.redis.key_count().await >= 2);
    // The service still answers from the database.
    assert_eq!(
        json_of(&app, &user, &format!("/api/v1/tasks/{id}")).await["title"],
        "cached"
    );
}

#[tokio::test]
async fn eviction_removes_one_key_or_every_key_matching_a_pattern() {
    let (app, admin, user) = world(&[]).await;
    let one = create_task(&app, &user, "one").await;
    let two = create_task(&app, &user, "two").await;
    assert!(physical_exists(&app, &format!("cache:task:{one}")).await);
    assert!(physical_exists(&app, &format!("cache:task:{two}")).await);

    let response = send(
        &app,
        &admin,
        Method::DELETE,
        &format!("/api/v1/cache/jobs/evict/task:{one}"),
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "success", "message": "Cache key evicted successfully",
               "key": format!("task:{one}")})
    );
    assert!(!physical_exists(&app, &format!("cache:task:{one}")).await);
    assert!(physical_exists(&app, &format!("cache:task:{two}")).await);

    // Percent-encoded `task:*` is a pattern.
    let response = send(
        &app,
        &admin,
        Method::DELETE,
        "/api/v1/cache/jobs/evict/task%3A%2A",
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "success", "message": "Cache pattern evicted successfully",
               "pattern": "task:*"})
    );
    assert!(!physical_exists(&app, &format!("cache:task:{two}")).await);
    // Evicting nothing is still a success.
    let response = send(
        &app,
        &admin,
        Method::DELETE,
        "/api/v1/cache/jobs/evict/nothing:here",
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn only_admins_pass_the_gate() {
    let (app, admin, user) = world(&[]).await;
    for (method, path) in [
        (Method::GET, "/api/v1/cache/stats"),
        (Method::DELETE, "/api/v1/cache/clear"),
        (Method::DELETE, "/api/v1/cache/jobs/evict/task:1"),
    ] {
        let response = send(&app, &user, method.clone(), path, None).await;
        assert_eq!(response.status(), 403, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"error": "forbidden", "message": "Admin role required for this operation"})
        );
        let anonymous = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401, "{method} {path}");
    }
    let response = send(&app, &admin, Method::GET, "/api/v1/cache/stats", None).await;
    assert_eq!(response.status(), 200);
    // The job-system routes are served behind the same gate.
    let warm = send(&app, &admin, Method::POST, "/api/v1/cache/warm", None).await;
    assert_eq!(warm.status(), 200);
}

#[tokio::test]
async fn without_redis_tasks_are_served_and_stats_report_the_l2_error() {
    let (app, admin, user) = world(&[("REDIS_URL", "redis://127.0.0.1:1")]).await;
    let id = create_task(&app, &user, "local").await;
    let path = format!("/api/v1/tasks/{id}");
    for _ in 0..2 {
        assert_eq!(json_of(&app, &user, &path).await["title"], "local");
        assert_eq!(
            titles(&json_of(&app, &user, "/api/v1/tasks").await),
            ["local"]
        );
    }
    let updated = send(
        &app,
        &user,
        Method::PUT,
        &path,
        Some(json!({"title": "moved"})),
    )
    .await;
    assert_eq!(updated.status(), 200);
    assert_eq!(json_of(&app, &user, &path).await["title"], "moved");
    assert_eq!(
        titles(&json_of(&app, &user, "/api/v1/tasks").await),
        ["moved"]
    );
    let deleted = send(&app, &user, Method::DELETE, &path, None).await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        send(&app, &user, Method::GET, &path, None).await.status(),
        404
    );

    let body = stats(&app, &admin).await;
    let l2 = &body["cache"]["l2"];
    assert!(l2["error"].is_string(), "l2 reports the error: {body}");
    assert!(body["cache"]["metrics"]["hits"].as_u64().unwrap() >= 1);
}
