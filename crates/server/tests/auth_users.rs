//! User and profile routes (contract section 8) over real HTTP, PostgreSQL and Redis:
//! every row of their error tables, the order of checks of 8.1, mass-assignment refusal
//! (D-4), private profiles (D-5) and deletion with token revocation.

#![allow(clippy::unwrap_used)]

mod common;

use common::{TestApp, spawn_app_with};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

const SECRET: &str = "integration-test-secret";

struct Caller {
    id: String,
    access: String,
    refresh: String,
}

async fn app() -> TestApp {
    spawn_app_with(&[("JWT_SECRET", SECRET)], None).await
}

async fn sql(app: &TestApp, statement: &str) {
    let mut connection = app.database.connect().await;
    diesel::sql_query(statement)
        .execute(&mut connection)
        .await
        .unwrap();
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, path: &str, caller: &Caller) -> (u16, Value) {
    send(app, reqwest::Method::GET, path, Some(&caller.access), None).await
}

async fn put(app: &TestApp, path: &str, caller: &Caller, body: &[u8]) -> (u16, Value) {
    send(
        app,
        reqwest::Method::PUT,
        path,
        Some(&caller.access),
        Some(body.to_vec()),
    )
    .await
}

async fn delete(app: &TestApp, path: &str, caller: &Caller) -> (u16, Value) {
    send(
        app,
        reqwest::Method::DELETE,
        path,
        Some(&caller.access),
        None,
    )
    .await
}

async fn new_caller(app: &TestApp, name: &str, admin: bool) -> Caller {
    let registration = json!({
        "username": name, "email": format!("{name}@example.com"), "password": "Secure@123",
        "first_name": "First", "last_name": "Last", "department": "Engineering",
    });
    let (status, body) = send(
        app,
        reqwest::Method::POST,
        "/api/v1/auth/register",
        None,
        Some(serde_json::to_vec(&registration).unwrap()),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["user"]["id"].as_str().unwrap().to_owned();
    if admin {
        sql(app, &format!("INSERT INTO user_roles (user_id, role_id) VALUES ('{id}', '00000000-0000-0000-0000-000000000002')")).await;
    }
    let login = json!({"email": format!("{name}@example.com"), "password": "Secure@123"});
    let (status, body) = send(
        app,
        reqwest::Method::POST,
        "/api/v1/auth/login",
        None,
        Some(serde_json::to_vec(&login).unwrap()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    Caller {
        id,
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

fn denied(reason: &str) -> (u16, Value) {
    (403, json!({"error": "Access denied", "reason": reason}))
}

fn not_found() -> (u16, Value) {
    (404, json!({"error": "User not found"}))
}

fn bad_id() -> (u16, Value) {
    (400, json!({"error": "Invalid user ID format"}))
}

const MISSING: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

#[tokio::test]
async fn profiles_are_visible_to_their_owner_and_admins_only() {
    let app = app().await;
    let alice = new_caller(&app, "alice", false).await;
    let bob = new_caller(&app, "bob", false).await;
    let admin = new_caller(&app, "boss", true).await;

    let (status, me) = get(&app, "/api/v1/users/profile", &alice).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["id"], alice.id.as_str());
    assert_eq!(me["username"], "alice");
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["department"], "Engineering");
    assert!(me["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(me["updated_at"].is_string());
    assert!(me.get("password").is_none());
    assert!(!me.to_string().contains("$2"), "no hash anywhere");

    assert_eq!(
        get(&app, &format!("/api/v1/users/profile/{}", alice.id), &alice)
            .await
            .0,
        200
    );
    assert_eq!(
        get(&app, &format!("/api/v1/users/profile/{}", bob.id), &alice).await,
        denied("Users can only view their own profile")
    );
    let (status, other) = get(&app, &format!("/api/v1/users/profile/{}", bob.id), &admin).await;
    assert_eq!((status, other["username"].as_str()), (200, Some("bob")));
    assert_eq!(
        get(&app, "/api/v1/users/profile/not-a-uuid", &alice).await,
        bad_id()
    );
    // Authorization before existence: a regular user probing an unknown id is denied.
    assert_eq!(
        get(&app, &format!("/api/v1/users/profile/{MISSING}"), &alice).await,
        denied("Users can only view their own profile")
    );
    assert_eq!(
        get(&app, &format!("/api/v1/users/profile/{MISSING}"), &admin).await,
        not_found()
    );

    // Without the profile:read grant the caller is denied by RBAC.
    sql(
        &app,
        &format!(
            "UPDATE user_roles SET deleted_at = now() WHERE user_id = '{}'",
            bob.id
        ),
    )
    .await;
    assert_eq!(
        get(&app, "/api/v1/users/profile", &bob).await,
        denied("User lacks required RBAC permission")
    );
    // A caller whose account was deleted after the token was issued: 404.
    sql(
        &app,
        &format!(
            "UPDATE users SET deleted_at = now() WHERE id = '{}'",
            alice.id
        ),
    )
    .await;
    assert_eq!(
        get(&app, "/api/v1/users/profile", &alice).await,
        not_found()
    );
    // Unauthenticated: the bearer layer answers first.
    let (status, body) = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/users/profile",
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("missing_token"))
    );
}

#[tokio::test]
async fn profile_updates_accept_only_the_allow_list() {
    let app = app().await;
    let alice = new_caller(&app, "alice", false).await;
    let bob = new_caller(&app, "bob", false).await;
    let admin = new_caller(&app, "boss", true).await;
    let updated = (200, json!({"message": "User updated successfully"}));

    assert_eq!(
        put(
            &app,
            "/api/v1/users/profile",
            &alice,
            br#"{"first_name":" Alicia ","position":"Lead"}"#
        )
        .await,
        updated
    );
    let (_, me) = get(&app, "/api/v1/users/profile", &alice).await;
    assert_eq!(
        (me["first_name"].as_str(), me["last_name"].as_str()),
        (Some("Alicia"), Some("Last"))
    );
    assert_eq!(me["position"], "Lead");
    assert_ne!(me["updated_at"], me["created_at"]);

    for key in [
        "password",
        "email",
        "is_active",
        "id",
        "username",
        "deleted_at",
    ] {
        let body = format!(r#"{{"first_name":"X","{key}":"y"}}"#);
        assert_eq!(
            put(&app, "/api/v1/users/profile", &alice, body.as_bytes()).await,
            (
                400,
                json!({"error": "Invalid request body", "details": format!("field '{key}' cannot be updated")})
            ),
            "{key}"
        );
    }
    let long = format!(r#"{{"first_name":"{}"}}"#, "x".repeat(51));
    for body in [
        &b"not json"[..],
        b"",
        b"[]",
        b"\"x\"",
        b"{}",
        br#"{"first_name":5}"#,
        br#"{"first_name":"   "}"#,
        br#"{"department":null}"#,
        long.as_bytes(),
    ] {
        let (status, value) = put(&app, "/api/v1/users/profile", &alice, body).await;
        assert_eq!(status, 400, "{body:?}: {value}");
        assert_eq!(value["error"], "Invalid request body");
        assert!(value["details"].is_string());
    }
    // Nothing of the refused bodies was written.
    let (_, me) = get(&app, "/api/v1/users/profile", &alice).await;
    assert_eq!(me["first_name"], "Alicia");
    assert_eq!(me["email"], "alice@example.com");

    // PUT /users/{id}: self and admins only [D-3].
    let path = format!("/api/v1/users/{}", bob.id);
    assert_eq!(
        put(&app, &path, &bob, br#"{"last_name":"Builder"}"#).await,
        updated
    );
    assert_eq!(
        put(&app, &path, &alice, br#"{"last_name":"Hacker"}"#).await,
        denied("Only admins can modify other users")
    );
    assert_eq!(
        put(&app, &path, &admin, br#"{"department":""}"#).await,
        updated
    );
    let (_, other) = get(&app, &format!("/api/v1/users/profile/{}", bob.id), &admin).await;
    assert_eq!(
        (other["last_name"].as_str(), other["department"].as_str()),
        (Some("Builder"), Some(""))
    );

    // Order of checks: id syntax, then body, then authorization, then existence.
    assert_eq!(
        put(&app, "/api/v1/users/nope", &alice, b"garbage").await,
        bad_id()
    );
    assert_eq!(put(&app, &path, &alice, b"{}").await.0, 400);
    assert_eq!(
        put(
            &app,
            &format!("/api/v1/users/{MISSING}"),
            &alice,
            br#"{"last_name":"X"}"#
        )
        .await,
        denied("Only admins can modify other users")
    );
    assert_eq!(
        put(
            &app,
            &format!("/api/v1/users/{MISSING}"),
            &admin,
            br#"{"last_name":"X"}"#
        )
        .await,
        not_found()
    );
    sql(
        &app,
        &format!(
            "UPDATE users SET deleted_at = now() WHERE id = '{}'",
            alice.id
        ),
    )
    .await;
    assert_eq!(
        put(
            &app,
            "/api/v1/users/profile",
            &alice,
            br#"{"last_name":"X"}"#
        )
        .await,
        not_found()
    );
}

#[tokio::test]
async fn only_admins_list_users_in_creation_order() {
    let app = app().await;
    let alice = new_caller(&app, "alice", false).await;
    let admin = new_caller(&app, "boss", true).await;
    assert_eq!(
        get(&app, "/api/v1/users", &alice).await,
        denied("User lacks required RBAC permission")
    );
    let (status, list) = get(&app, "/api/v1/users", &admin).await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap();
    let names: Vec<&str> = list
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    // Seeded accounts first, then registrations in order.
    let alice_at = names.iter().position(|n| *n == "alice").unwrap();
    let boss_at = names.iter().position(|n| *n == "boss").unwrap();
    assert!(alice_at < boss_at, "{names:?}");
    assert!(names.contains(&"john_user"));
    let created: Vec<&str> = list
        .iter()
        .map(|u| u["created_at"].as_str().unwrap())
        .collect();
    let mut sorted = created.clone();
    sorted.sort_unstable();
    assert_eq!(created, sorted);
    assert!(list.iter().all(|u| u.get("password").is_none()));
}

#[tokio::test]
async fn deleting_a_user_ends_their_sessions() {
    let app = app().await;
    let alice = new_caller(&app, "alice", false).await;
    let bob = new_caller(&app, "bob", false).await;
    let admin = new_caller(&app, "boss", true).await;
    let path = format!("/api/v1/users/{}", alice.id);

    assert_eq!(delete(&app, "/api/v1/users/12345", &admin).await, bad_id());
    assert_eq!(delete(&app, &path, &bob).await.0, 403);
    assert_eq!(
        delete(&app, &format!("/api/v1/users/{MISSING}"), &bob)
            .await
            .0,
        403
    );
    assert_eq!(
        delete(&app, &format!("/api/v1/users/{MISSING}"), &admin).await,
        not_found()
    );
    assert_eq!(get(&app, "/api/v1/users/profile", &alice).await.0, 200);

    assert_eq!(
        delete(&app, &path, &admin).await,
        (200, json!({"message": "User deleted successfully"}))
    );
    assert_eq!(delete(&app, &path, &admin).await, not_found());
    // The deleted user's access and refresh tokens stop working (6.7).
    let (status, body) = get(&app, "/api/v1/users/profile", &alice).await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"error": "invalid_token", "message": "Token has been revoked"})
        )
    );
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(serde_json::to_vec(&json!({"refresh_token": alice.refresh})).unwrap()),
    )
    .await;
    assert_eq!(status, 401);
    // Other users are unaffected; the profile is gone for admins too.
    assert_eq!(get(&app, "/api/v1/users/profile", &bob).await.0, 200);
    assert_eq!(
        get(&app, &format!("/api/v1/users/profile/{}", alice.id), &admin).await,
        not_found()
    );
    // An admin may delete their own account.
    assert_eq!(
        delete(&app, &format!("/api/v1/users/{}", admin.id), &admin)
            .await
            .0,
        200
    );
}

/// The 500 rows of section 8: a storage failure that is not an outage (a broken schema
/// here, in this test's own database) answers each route's exact body, never a 503.
#[tokio::test]
async fn storage_failures_answer_each_routes_500_body() {
    let app = app().await;
    let admin = new_caller(&app, "failing_admin", true).await;
    let target = new_caller(&app, "failing_target", false).await;
    // Decisions are cached per user: warm the admin's snapshot so that the authorization
    // step passes and the route's own storage call is the one that fails.
    assert_eq!(get(&app, "/api/v1/users/profile", &admin).await.0, 200);
    sql(&app, "ALTER TABLE users RENAME TO users_gone").await;
    assert_eq!(
        get(&app, "/api/v1/users/profile", &admin).await,
        (500, json!({"error": "Failed to get user profile"}))
    );
    assert_eq!(
        get(
            &app,
            &format!("/api/v1/users/profile/{}", target.id),
            &admin
        )
        .await,
        (500, json!({"error": "Failed to get user profile"}))
    );
    assert_eq!(
        put(
            &app,
            "/api/v1/users/profile",
            &admin,
            br#"{"first_name": "New"}"#
        )
        .await,
        (500, json!({"error": "Failed to update user profile"}))
    );
    assert_eq!(
        get(&app, "/api/v1/users", &admin).await,
        (500, json!({"error": "Failed to get users"}))
    );
    assert_eq!(
        delete(&app, &format!("/api/v1/users/{}", target.id), &admin).await,
        (500, json!({"error": "Failed to delete user"}))
    );
    sql(&app, "ALTER TABLE users_gone RENAME TO users").await;

    // The authorization service itself failing: a subject that is not cached yet cannot be
    // loaded while the role tables are broken.
    sql(&app, "ALTER TABLE user_roles RENAME TO user_roles_gone").await;
    assert_eq!(
        get(&app, "/api/v1/users/profile", &target).await,
        (500, json!({"error": "Authorization check failed"}))
    );
    sql(&app, "ALTER TABLE user_roles_gone RENAME TO user_roles").await;
    assert_eq!(get(&app, "/api/v1/users/profile", &target).await.0, 200);
    app.stop().await;
}
