//! Role, permission and attribute administration over HTTP, the decision explainer and the
//! audit-log listing, against the real server, PostgreSQL and Redis.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{
    ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, USER_PASSWORD, login, register, spawn_app_with,
    spawn_second_instance, with_admin,
};
use serde_json::{Value, json};

const JOHN: &str = "20000000-0000-0000-0000-000000000001";

async fn start() -> TestApp {
    spawn_app_with(&with_admin(&[]), None).await
}

/// Registers a regular user and returns (user id, access token).
async fn regular_user(app: &TestApp, name: &str) -> (String, String) {
    let session = register(app, name, "").await;
    (session.id, session.token)
}

async fn admin_token(app: &TestApp) -> String {
    login(&app.address, &app.client, ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .token
}

fn with_token(request: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
    request.bearer_auth(token)
}

#[tokio::test]
async fn roles_are_listed_for_role_managers_only() {
    let app = start().await;
    let admin = admin_token(&app).await;
    let response = with_token(app.client.get(app.url("/api/v1/roles")), &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let roles: Value = response.json().await.unwrap();
    let admin_role = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|role| role["name"] == "admin")
        .unwrap();
    assert_eq!(admin_role["id"], "00000000-0000-0000-0000-000000000002");
    assert_eq!(admin_role["permissions"].as_array().unwrap().len(), 23);

    let (_, user) = regular_user(&app, "plain_user").await;
    let denied = with_token(app.client.get(app.url("/api/v1/roles")), &user)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    assert_eq!(
        denied.json::<Value>().await.unwrap(),
        json!({"error": "Access denied", "reason": "User lacks required RBAC permission"})
    );
    let anonymous = app.get("/api/v1/roles").await;
    assert_eq!(anonymous.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn creating_a_role_and_granting_a_permission() {
    let app = start().await;
    let admin = admin_token(&app).await;
    let created = with_token(app.client.post(app.url("/api/v1/roles")), &admin)
        .json(&json!({"name": "auditor", "description": "Reads the audit log"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let role: Value = created.json().await.unwrap();
    assert_eq!(role["name"], "auditor");

    let again = with_token(app.client.post(app.url("/api/v1/roles")), &admin)
        .json(&json!({"name": "auditor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);

    let audit_read = "10000000-0000-0000-0000-000000000032";
    let granted = with_token(
        app.client
            .post(app.url("/api/v1/roles/auditor/permissions")),
        &admin,
    )
    .json(&json!({"permission_id": audit_read}))
    .send()
    .await
    .unwrap();
    assert_eq!(granted.status(), 200);
    let twice = with_token(
        app.client
            .post(app.url("/api/v1/roles/auditor/permissions")),
        &admin,
    )
    .json(&json!({"permission_id": audit_read}))
    .send()
    .await
    .unwrap();
    assert_eq!(twice.status(), 409);
    let unknown = with_token(
        app.client
            .post(app.url("/api/v1/roles/auditor/permissions")),
        &admin,
    )
    .json(&json!({"permission_id": "10000000-0000-0000-0000-0000000000ff"}))
    .send()
    .await
    .unwrap();
    assert_eq!(unknown.status(), 404);
    let malformed = with_token(
        app.client
            .post(app.url("/api/v1/roles/auditor/permissions")),
        &admin,
    )
    .json(&json!({"permission_id": 7}))
    .send()
    .await
    .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        malformed.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_granted_role_takes_effect_at_once_even_for_an_older_token_and_revoking_ends_it() {
    let app = start().await;
    let admin = admin_token(&app).await;
    let (user_id, user) = regular_user(&app, "soon_admin").await;
    let roles = || with_token(app.client.get(app.url("/api/v1/roles")), &user).send();
    assert_eq!(roles().await.unwrap().status(), 403);

    let assign = || {
        with_token(
            app.client
                .post(app.url(&format!("/api/v1/users/{user_id}/roles"))),
            &admin,
        )
        .json(&json!({"role": "admin"}))
        .send()
    };
    let assigned = assign().await.unwrap();
    assert_eq!(assigned.status(), 201);
    assert_eq!(
        roles().await.unwrap().status(),
        200,
        "token issued before the grant"
    );

    let duplicate = assign().await.unwrap();
    assert_eq!(duplicate.status(), 409);
    assert_eq!(
        duplicate.json::<Value>().await.unwrap()["message"],
        "user already has this role"
    );

    let revoked = with_token(
        app.client
            .delete(app.url(&format!("/api/v1/users/{user_id}/roles/admin"))),
        &admin,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(roles().await.unwrap().status(), 403);

    let not_held = with_token(
        app.client
            .delete(app.url(&format!("/api/v1/users/{user_id}/roles/admin"))),
        &admin,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(not_held.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn role_assignment_errors_follow_the_contract_bodies() {
    let app = start().await;
    let admin = admin_token(&app).await;
    let (user_id, user) = regular_user(&app, "some_user").await;
    let post = |path: String, token: &str, body: Value| {
        with_token(app.client.post(app.url(&path)), token)
            .json(&body)
            .send()
    };
    let bad_id = post(
        "/api/v1/users/not-a-uuid/roles".into(),
        &admin,
        json!({"role": "admin"}),
    )
    .await
    .unwrap();
    assert_eq!(bad_id.status(), 400);
    assert_eq!(
        bad_id.json::<Value>().await.unwrap(),
        json!({"error": "Invalid user ID format"})
    );
    let unknown_role = post(
        format!("/api/v1/users/{user_id}/roles"),
        &admin,
        json!({"role": "emperor"}),
    )
    .await
    .unwrap();
    assert_eq!(unknown_role.status(), 404);
    let bad_expiry = post(
        format!("/api/v1/users/{user_id}/roles"),
        &admin,
        json!({"role": "admin", "expires_at": "tomorrow"}),
    )
    .await
    .unwrap();
    assert_eq!(bad_expiry.status(), 400);
    let not_allowed = post(
        format!("/api/v1/users/{JOHN}/roles"),
        &user,
        json!({"role": "admin"}),
    )
    .await
    .unwrap();
    assert_eq!(not_allowed.status(), 403);
    // An assignment that expired already grants nothing.
    let expired = post(
        format!("/api/v1/users/{user_id}/roles"),
        &admin,
        json!({"role": "admin", "expires_at": "2020-01-01T00:00:00Z"}),
    )
    .await
    .unwrap();
    assert_eq!(expired.status(), 201);
    let roles = with_token(app.client.get(app.url("/api/v1/roles")), &user)
        .send()
        .await
        .unwrap();
    assert_eq!(roles.status(), 403);
    app.stop().await;
}

#[tokio::test]
async fn attributes_are_set_and_replaced() {
    let app = start().await;
    let admin = admin_token(&app).await;
    let put = |body: Value| {
        with_token(
            app.client
                .put(app.url(&format!("/api/v1/users/{JOHN}/attributes/location"))),
            &admin,
        )
        .json(&body)
        .send()
    };
    let set = put(json!({"value": "EU-Central", "type": "string"}))
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    assert_eq!(set.json::<Value>().await.unwrap()["value"], "EU-Central");
    let replaced = put(json!({"value": "EU-West"})).await.unwrap();
    assert_eq!(replaced.status(), 200);
    let mut connection = app.database.connect().await;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let rows: Vec<Row> = diesel_async::RunQueryDsl::load(
        diesel::sql_query(format!(
            "SELECT value FROM user_attributes WHERE user_id = '{JOHN}' AND key = 'location'"
        )),
        &mut connection,
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].value, "EU-West");

    let bad_type = put(json!({"value": "x", "type": "colour"})).await.unwrap();
    assert_eq!(bad_type.status(), 400);
    let missing_value = put(json!({"type": "string"})).await.unwrap();
    assert_eq!(missing_value.status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn explain_returns_the_decision_for_admins_only() {
    let app = start().await;
    let admin = admin_token(&app).await;
    let explain = |token: &str, query: &str| {
        with_token(
            app.client
                .get(app.url(&format!("/api/v1/authz/explain?{query}"))),
            token,
        )
        .send()
    };
    let response = explain(
        &admin,
        &format!(
            "user_id={JOHN}&resource=profile&action=read&resource_id=00000000-0000-0000-0000-000000000010"
        ),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["decision"], "denied");
    assert_eq!(body["reason"], "Users can only view their own profile");
    assert_eq!(body["policy_type"], "abac");

    let own = explain(
        &admin,
        &format!("user_id={JOHN}&resource=profile&action=read&resource_id={JOHN}"),
    )
    .await
    .unwrap();
    let body: Value = own.json().await.unwrap();
    assert_eq!(body["decision"], "allowed");
    assert_eq!(body["policy_type"], "combined");

    let missing = explain(&admin, "resource=task").await.unwrap();
    assert_eq!(missing.status(), 400);

    let (_, user) = regular_user(&app, "curious").await;
    let forbidden = explain(&user, &format!("user_id={JOHN}&resource=task&action=read"))
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    assert_eq!(
        forbidden.json::<Value>().await.unwrap(),
        json!({"error": "forbidden", "message": "Admin role required for this operation"})
    );
    app.stop().await;
}

#[tokio::test]
async fn denied_decisions_are_in_the_audit_log_with_their_request() {
    let app = start().await;
    let admin = admin_token(&app).await;
    let (user_id, user) = regular_user(&app, "nosy_user").await;
    let denied = with_token(app.client.get(app.url("/api/v1/roles")), &user)
        .header("X-Request-ID", "audit-trail-42")
        .header("User-Agent", "audit-test/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);

    // Audit records are written asynchronously in batches: poll until the row appears.
    let mut found = None;
    for _ in 0..50 {
        let page: Value = with_token(
            app.client.get(app.url(&format!(
                "/api/v1/audit-logs?user_id={user_id}&decision=denied&resource=role"
            ))),
            &admin,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        if let Some(record) = page["audit_logs"]
            .as_array()
            .and_then(|records| records.iter().find(|r| r["request_id"] == "audit-trail-42"))
        {
            found = Some(record.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let record = found.expect("the denied decision reaches the audit log");
    assert_eq!(record["action"], "manage_role");
    assert_eq!(record["decision"], "denied");
    assert_eq!(record["reason"], "User lacks required RBAC permission");
    assert_eq!(record["request_method"], "GET");
    assert_eq!(record["request_path"], "/api/v1/roles");
    assert_eq!(record["user_agent"], "audit-test/1.0");
    assert_eq!(record["ip_address"], "127.0.0.1");

    let bad = with_token(
        app.client.get(app.url("/api/v1/audit-logs?decision=maybe")),
        &admin,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
    let forbidden = with_token(app.client.get(app.url("/api/v1/audit-logs")), &user)
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    app.stop().await;
}

#[tokio::test]
async fn a_role_change_on_one_instance_is_decided_on_by_another_within_a_second() {
    let app = start().await;
    let second = spawn_second_instance(&app, &[], None).await;
    let admin = admin_token(&app).await;
    let (user_id, user) = regular_user(&app, "two_sites").await;
    let roles_on_second = || {
        second
            .client
            .get(second.url("/api/v1/roles"))
            .bearer_auth(&user)
            .send()
    };
    // The second instance caches the user's subject as it is now.
    assert_eq!(roles_on_second().await.unwrap().status(), 403);

    let assigned = with_token(
        app.client
            .post(app.url(&format!("/api/v1/users/{user_id}/roles"))),
        &admin,
    )
    .json(&json!({"role": "admin"}))
    .send()
    .await
    .unwrap();
    assert_eq!(assigned.status(), 201);
    let mut allowed = false;
    for _ in 0..20 {
        if roles_on_second().await.unwrap().status() == 200 {
            allowed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        allowed,
        "the second instance still decided on the old roles after 1 s"
    );

    let revoked = with_token(
        app.client
            .delete(app.url(&format!("/api/v1/users/{user_id}/roles/admin"))),
        &admin,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(revoked.status(), 200);
    let mut denied = false;
    for _ in 0..20 {
        if roles_on_second().await.unwrap().status() == 403 {
            denied = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        denied,
        "the second instance still allowed after the revocation"
    );
    second.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_writes_every_queued_audit_record() {
    let app = start().await;
    let (user_id, user) = regular_user(&app, "last_words").await;
    for i in 0..25 {
        let response = with_token(app.client.get(app.url("/api/v1/roles")), &user)
            .header("X-Request-ID", format!("final-{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
    }
    // Stop at once: the records may still be queued in the writer.
    let (database, _redis) = app.stop().await;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut connection = database.connect().await;
    let count: Count = diesel_async::RunQueryDsl::get_result(
        diesel::sql_query(format!(
            "SELECT count(*) AS n FROM audit_logs WHERE user_id = '{user_id}' AND request_id LIKE 'final-%'"
        )),
        &mut connection,
    )
    .await
    .unwrap();
    assert_eq!(count.n, 25);
}

#[tokio::test]
async fn a_role_granted_by_direct_sql_counts_from_the_next_login() {
    let app = start().await;
    let (user_id, before) = regular_user(&app, "promoted_by_sql").await;
    let roles = |token: String| with_token(app.client.get(app.url("/api/v1/roles")), &token).send();
    assert_eq!(roles(before).await.unwrap().status(), 403);
    // The operators' promotion step of contract 12.3, behind the service's back.
    let mut connection = app.database.connect().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "INSERT INTO user_roles (user_id, role_id) VALUES ('{user_id}', '00000000-0000-0000-0000-000000000002')"
        )),
        &mut connection,
    )
    .await
    .unwrap();
    let after = login(
        &app.address,
        &app.client,
        "promoted_by_sql@example.com",
        USER_PASSWORD,
    )
    .await;
    assert_eq!(roles(after.token).await.unwrap().status(), 200);
    app.stop().await;
}
