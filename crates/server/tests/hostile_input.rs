//! Hostile input against every route that takes a body, a path id or a query, sent by an
//! admin (so authorization never stops it first): malformed and mistyped JSON, non-UTF-8
//! bytes, deep nesting, unknown enum values, huge strings and numbers, bad ids, bad query
//! values and bad headers. Every answer must be a 4xx with the contract's error body
//! (1.4), never a 5xx, and nothing may be written: every table (but the audit log) and the
//! job counters are the same after the barrage as before it.

#![allow(clippy::unwrap_used)]

mod common;

use common::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, login, spawn_app_with, with_admin};
use diesel_async::RunQueryDsl;
use reqwest::Method;
use serde_json::{Value, json};

/// Every table a request could write, except `audit_logs` (denials and decisions are
/// audited on purpose).
const TABLES: [&str; 12] = [
    "idempotency_keys",
    "permissions",
    "resource_attributes",
    "revoked_access_tokens",
    "role_permissions",
    "roles",
    "tasks",
    "tokens",
    "user_attributes",
    "user_roles",
    "user_token_revocations",
    "users",
];

/// A digest of every row of every table in [`TABLES`].
async fn fingerprint(app: &TestApp) -> Vec<(String, String)> {
    #[derive(diesel::QueryableByName)]
    struct Digest {
        #[diesel(sql_type = diesel::sql_types::Text)]
        digest: String,
    }
    let mut connection = app.database.connect().await;
    let mut digests = Vec::new();
    for table in TABLES {
        let digest = diesel::sql_query(format!(
            "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest \
             FROM {table} t"
        ))
        .get_result::<Digest>(&mut connection)
        .await
        .unwrap()
        .digest;
        digests.push((table.to_owned(), digest));
    }
    digests
}

/// How many jobs were ever routed (14.8), so an accepted job would show.
async fn jobs_routed(app: &TestApp, token: &str) -> (Value, Value) {
    let stats: Value = app
        .client
        .get(app.url("/api/v1/cache/stats"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let warming = &stats["cache_warming"];
    assert!(warming.is_object(), "{stats}");
    (
        warming["local_jobs"].clone(),
        warming["distributed_jobs"].clone(),
    )
}

/// Bodies that no route may accept.
fn bad_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let wrong_types = json!({
        "title": 1, "description": [], "status": {}, "priority": [7], "due_date": "not a date",
        "email": 5, "password": [], "username": {}, "first_name": 1, "last_name": true,
        "refresh_token": 5, "name": 1, "permission_id": "x", "role_id": 3, "role": 5,
        "value": {}, "type": 9, "expires_at": 5, "key": 1, "keys": "x", "data": 1, "ttl": [],
        "process_at": "yesterday", "department": 4,
    });
    let unknown_enums = json!({
        "title": "t", "status": "done", "priority": "extreme", "type": "complex",
        "ttl": "forever", "process_at": "someday", "key": "k", "keys": ["k"], "data": {},
        "value": "v", "expires_at": "whenever", "role": "no-such-role",
        "permission_id": "not-a-uuid",
    });
    let huge_numbers =
        br#"{"title": "t", "priority": 1e400, "ttl": 18446744073709551616, "process_at": -1e308}"#;
    vec![
        ("truncated JSON", br#"{"title": "#.to_vec()),
        ("not JSON", b"title=hello".to_vec()),
        ("an array", b"[]".to_vec()),
        ("a string", br#""text""#.to_vec()),
        ("a number", b"42".to_vec()),
        ("null", b"null".to_vec()),
        ("empty", Vec::new()),
        ("non-UTF-8 bytes", vec![0xff, 0xfe, 0x00, 0x7b]),
        ("deep nesting", "[".repeat(100_000).into_bytes()),
        ("wrong field types", wrong_types.to_string().into_bytes()),
        ("unknown enum values", unknown_enums.to_string().into_bytes()),
        ("numbers out of range", huge_numbers.to_vec()),
        (
            "NUL in strings",
            json!({"title": "a\u{0}b", "name": "a\u{0}b", "email": "a\u{0}@b.c", "key": "\u{0}"})
                .to_string()
                .into_bytes(),
        ),
        (
            "over-long strings",
            json!({
                "title": "x".repeat(300_000), "description": "y".repeat(300_000),
                "name": "z".repeat(100_000), "email": format!("{}@example.com", "e".repeat(100_000)),
            })
            .to_string()
            .into_bytes(),
        ),
        ("over 1 MiB", vec![b' '; 1_100_000]),
    ]
}

/// Asserts a 4xx whose body (when it has one) is the contract's error object.
async fn assert_client_error(response: reqwest::Response, what: &str) {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    assert!((400..500).contains(&status), "{what}: answered {status}");
    let parsed: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("{what}: {status} body is not JSON: {body:?}"));
    assert!(parsed["error"].is_string(), "{what}: {status} {parsed}");
}

async fn get_as(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Asserts any answer but a server error; an error answer must carry the contract's body.
async fn assert_no_server_error(response: reqwest::Response, what: &str) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert!(status < 500, "{what}: {status} {body}");
    if status >= 400 {
        assert!(body["error"].is_string(), "{what}: {status} {body}");
    }
}

#[tokio::test]
async fn hostile_input_gets_4xx_error_bodies_and_writes_nothing() {
    let app = spawn_app_with(&with_admin(&[]), None).await;
    let admin = login(&app.address, &app.client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let task: Value = app
        .client
        .post(app.url("/api/v1/tasks"))
        .bearer_auth(&admin.token)
        .json(&json!({"title": "Target"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let task_id = task["id"].as_str().unwrap().to_owned();
    let user = &admin.id;
    let body_routes = [
        (Method::POST, "/api/v1/auth/register".to_owned()),
        (Method::POST, "/api/v1/auth/login".to_owned()),
        (Method::POST, "/api/v1/auth/refresh".to_owned()),
        (Method::POST, "/api/v1/auth/logout".to_owned()),
        (Method::POST, "/api/v1/tasks".to_owned()),
        (Method::PUT, format!("/api/v1/tasks/{task_id}")),
        (Method::PUT, "/api/v1/users/profile".to_owned()),
        (Method::PUT, format!("/api/v1/users/{user}")),
        (Method::POST, "/api/v1/roles".to_owned()),
        (
            Method::POST,
            format!("/api/v1/roles/{}/permissions", uuid::Uuid::new_v4()),
        ),
        (Method::POST, format!("/api/v1/users/{user}/roles")),
        (
            Method::PUT,
            format!("/api/v1/users/{user}/attributes/department"),
        ),
        (Method::POST, "/api/v1/cache/jobs/warmup".to_owned()),
        (Method::POST, "/api/v1/cache/jobs/batch".to_owned()),
        (Method::POST, "/api/v1/cache/jobs/scheduled".to_owned()),
    ];
    let before = fingerprint(&app).await;
    let jobs_before = jobs_routed(&app, &admin.token).await;

    for (method, path) in &body_routes {
        for (name, body) in bad_bodies() {
            // Whatever the content type says, the body is parsed as JSON (1.2).
            for content_type in ["application/json", "text/plain"] {
                let response = app
                    .client
                    .request(method.clone(), app.url(path))
                    .bearer_auth(&admin.token)
                    .header("Content-Type", content_type)
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_client_error(response, &format!("{method} {path} with {name}")).await;
            }
        }
    }

    let long_id = "a".repeat(5_000);
    for bad_id in [
        "not-a-uuid",
        "00000000-0000-0000-0000-00000000000g",
        "%00",
        "..%2F..%2Fhealth",
        "%F0%28%8C%BC",
        long_id.as_str(),
    ] {
        for (method, path) in [
            (Method::GET, format!("/api/v1/tasks/{bad_id}")),
            (Method::PUT, format!("/api/v1/tasks/{bad_id}")),
            (Method::DELETE, format!("/api/v1/tasks/{bad_id}")),
            (Method::GET, format!("/api/v1/users/profile/{bad_id}")),
            (Method::PUT, format!("/api/v1/users/{bad_id}")),
            (Method::DELETE, format!("/api/v1/users/{bad_id}")),
            (Method::POST, format!("/api/v1/roles/{bad_id}/permissions")),
            (Method::POST, format!("/api/v1/users/{bad_id}/roles")),
            (Method::DELETE, format!("/api/v1/users/{bad_id}/roles/user")),
            (Method::PUT, format!("/api/v1/users/{bad_id}/attributes/x")),
        ] {
            let response = app
                .client
                .request(method.clone(), app.url(&path))
                .bearer_auth(&admin.token)
                .json(&json!({"title": "t", "role_id": uuid::Uuid::new_v4(), "value": "v"}))
                .send()
                .await
                .unwrap();
            assert_client_error(response, &format!("{method} {path}")).await;
        }
    }

    for query in [
        "/api/v1/tasks?status=done",
        "/api/v1/tasks?priority=extreme",
        "/api/v1/tasks?status=pending,done",
        "/api/v1/tasks?cursor=%25%25%25",
        "/api/v1/tasks?cursor=eyJub3QiOiJhIGN1cnNvciJ9",
        "/api/v1/tasks?due_before=yesterday",
        "/api/v1/tasks?due_after=2026-13-45T99:99:99Z",
        "/api/v1/tasks?q=%00",
        "/api/v1/audit-logs?user_id=not-a-uuid",
        "/api/v1/audit-logs?since=yesterday",
        "/api/v1/audit-logs?until=2026-13-45T99:99:99Z",
        "/api/v1/audit-logs?decision=maybe",
        "/api/v1/authz/explain?user_id=not-a-uuid&resource=task&action=read",
        "/api/v1/authz/explain",
    ] {
        assert_client_error(
            get_as(&app, &admin.token, query).await,
            &format!("GET {query}"),
        )
        .await;
    }
    // Values the contract replaces by defaults (7.3) or that are merely extreme: any
    // answer but a server error.
    let long_q = format!("/api/v1/tasks?q={}", "%25".repeat(5_000));
    for query in [
        "/api/v1/tasks?page=-1&pageSize=abc&sortBy=x;drop&order=sideways",
        "/api/v1/tasks?page=9223372036854775807&pageSize=100",
        "/api/v1/tasks?page=99999999999999999999999",
        "/api/v1/tasks?due_before=9999-12-31&due_after=0001-01-01",
        "/api/v1/audit-logs?pageSize=-5&page=9223372036854775807",
        "/api/v1/audit-logs?pageSize=99999999999&page=4294967295",
        long_q.as_str(),
        "/api/v1/tasks?q=%25%5F%5C",
        "/api/v1/audit-logs?resource=%00",
        "/api/v1/users?page=%00",
    ] {
        assert_no_server_error(
            get_as(&app, &admin.token, query).await,
            &format!("GET {query}"),
        )
        .await;
    }

    // NUL in path segments and query values that name things rather than ids.
    for (method, path) in [
        (
            Method::GET,
            format!("/api/v1/authz/explain?user_id={user}&resource=%00&action=read"),
        ),
        (Method::DELETE, format!("/api/v1/users/{user}/roles/%00")),
        (Method::PUT, format!("/api/v1/users/{user}/attributes/%00")),
        (Method::DELETE, "/api/v1/cache/jobs/evict/%00".to_owned()),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(&admin.token)
            .json(&json!({"value": "v"}))
            .send()
            .await
            .unwrap();
        assert_no_server_error(response, &format!("{method} {path}")).await;
    }

    // Header bytes that are not UTF-8 (obs-text) reach the request context and the audit log.
    let response = app
        .client
        .get(app.url(&format!("/api/v1/tasks/{task_id}")))
        .bearer_auth(&admin.token)
        .header(
            "User-Agent",
            reqwest::header::HeaderValue::from_bytes(b"agent \xff\xfe").unwrap(),
        )
        .header(
            "X-Request-ID",
            reqwest::header::HeaderValue::from_bytes(b"id-\xff").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    for (header, value) in [
        ("If-Match", "\"not-a-version\""),
        (
            "If-Match",
            "W/\"99999999999999999999999999999999999999999\"",
        ),
    ] {
        let response = app
            .client
            .put(app.url(&format!("/api/v1/tasks/{task_id}")))
            .bearer_auth(&admin.token)
            .header(header, value)
            .json(&json!({"title": "changed"}))
            .send()
            .await
            .unwrap();
        assert_client_error(response, &format!("PUT task with {header}: {value}")).await;
    }
    let response = app
        .client
        .post(app.url("/api/v1/tasks"))
        .bearer_auth(&admin.token)
        .header("Idempotency-Key", "k".repeat(10_000))
        .json(&json!({"title": "with an over-long idempotency key"}))
        .send()
        .await
        .unwrap();
    assert_client_error(
        response,
        "POST task with a 10,000-character Idempotency-Key",
    )
    .await;

    assert_eq!(fingerprint(&app).await, before, "something was written");
    assert_eq!(jobs_routed(&app, &admin.token).await, jobs_before);
}
