//! Bearer authentication (contract section 5) and revocation (6.7) over real HTTP: every
//! row of the section 5 table in order, forged tokens, logout and user deletion, and
//! revocation seen by a second instance sharing the database and Redis.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use actix_web::{HttpResponse, web};
use common::{
    ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, login, spawn_app_with, spawn_second_instance, with_admin,
};
use http_api::{auth::AuthenticatedUser, errors::ApiError};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use testkit::TcpProxy;

const SECRET: &str = "integration-test-secret";
const WHOAMI: &str = "/test/whoami";
const ADMIN_ONLY: &str = "/test/admin-only";

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(WHOAMI, web::get().to(whoami))
        .route(ADMIN_ONLY, web::get().to(admin_only));
}

async fn whoami(caller: AuthenticatedUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "user_id": caller.user_id.to_string(),
        "role": caller.role,
        "roles": caller.roles,
        "permissions": caller.permissions,
        "jti": caller.jti.map(|j| j.to_string()),
        "issued_at": caller.issued_at,
    }))
}

async fn admin_only(caller: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    caller.require_role("admin")?;
    caller.require_permission("system:admin")?;
    Ok(HttpResponse::Ok().json(json!({"ok": true})))
}

async fn app() -> TestApp {
    spawn_app_with(&[("JWT_SECRET", SECRET)], Some(routes)).await
}

async fn get_with(
    client: &reqwest::Client,
    url: String,
    authorization: Option<&str>,
) -> (u16, Value) {
    let mut request = client.get(url);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn whoami_as(app: &TestApp, token: &str) -> (u16, Value) {
    get_with(
        &app.client,
        app.url(WHOAMI),
        Some(&format!("Bearer {token}")),
    )
    .await
}

async fn post(app: &TestApp, path: &str, body: &Value, bearer: Option<&str>) -> (u16, Value) {
    let mut request = app.client.post(app.url(path)).json(body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Registers `name` and logs in; returns the login body.
async fn login_new_user(app: &TestApp, name: &str) -> Value {
    let registration = json!({
        "username": name, "email": format!("{name}@example.com"), "password": "Secure@123",
        "first_name": "Test", "last_name": "User",
    });
    assert_eq!(
        post(app, "/api/v1/auth/register", &registration, None)
            .await
            .0,
        201
    );
    let (status, body) = post(
        app,
        "/api/v1/auth/login",
        &json!({"email": format!("{name}@example.com"), "password": "Secure@123"}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn error(code: &str, message: &str) -> (u16, Value) {
    (401, json!({"error": code, "message": message}))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn claims(user_id: &str) -> Value {
    json!({
        "user_id": user_id, "role": "user", "roles": ["user"], "permissions": ["task:read"],
        "iat": now(), "exp": now() + 600, "iss": "taskify-backend", "aud": "taskify-users",
        "jti": uuid::Uuid::new_v4().to_string(), "type": "access",
    })
}

fn sign_with(alg: Algorithm, secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn sign(claims: &Value) -> String {
    sign_with(Algorithm::HS256, SECRET, claims)
}

fn set(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn unset(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

/// An instance that bootstraps the admin account, for the flows that need one.
async fn app_with_admin() -> TestApp {
    spawn_app_with(&with_admin(&[("JWT_SECRET", SECRET)]), Some(routes)).await
}

/// Deletes `user_id` through the admin route of 8.7 on `base` (which revokes all the
/// user's tokens).
async fn delete_as_admin(base: &str, client: &reqwest::Client, user_id: &str) {
    let admin = login(base, client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let response = client
        .delete(format!("{base}/api/v1/users/{user_id}"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "deletion of {user_id}");
}

/// What `url` answers `bearer`, asked until the answer has the status of `expected` or
/// the contract's bound for revocations to reach every instance (5 s, section 6.7) has
/// passed.
async fn answer_within_contract_bound(
    client: &reqwest::Client,
    url: &str,
    bearer: &str,
    expected: &(u16, Value),
) -> (u16, Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let seen = get_with(client, url.to_owned(), Some(bearer)).await;
        if seen.0 == expected.0 || tokio::time::Instant::now() >= deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_valid_access_token_reaches_the_handler_with_its_claims() {
    let app = app().await;
    let login = login_new_user(&app, "bearer_ok").await;
    let (status, body) = whoami_as(&app, login["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], login["user"]["id"]);
    assert_eq!(body["role"], "user");
    assert_eq!(body["roles"], json!(["user"]));
    assert_eq!(body["permissions"], login["permissions"]);
    assert!(body["jti"].is_string());

    // A legacy token (no jti, roles or type) is still accepted until it expires (6.2).
    let user_id = login["user"]["id"].as_str().unwrap();
    let legacy = unset(unset(unset(claims(user_id), "jti"), "roles"), "type");
    let (status, body) = whoami_as(&app, &sign(&legacy)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["roles"], json!(["user"]));
    assert_eq!(body["jti"], Value::Null);
    // The audience may be an array containing ours.
    let token = sign(&set(
        claims(user_id),
        "aud",
        json!(["other", "taskify-users"]),
    ));
    assert_eq!(whoami_as(&app, &token).await.0, 200);
}

#[tokio::test]
async fn every_row_of_the_bearer_table_answers_its_body() {
    let app = app().await;
    let login = login_new_user(&app, "bearer_rows").await;
    let user_id = login["user"]["id"].as_str().unwrap().to_owned();
    let url = app.url(WHOAMI);
    let invalid = error("invalid_token", "Token validation failed");

    assert_eq!(
        get_with(&app.client, url.clone(), None).await,
        error("missing_token", "Authorization header is required")
    );
    let access = login["access_token"].as_str().unwrap();
    for header in [
        format!("bearer {access}"),
        format!("Token {access}"),
        format!("Bearer{access}"),
        "Bearer".to_owned(),
        String::new(),
    ] {
        assert_eq!(
            get_with(&app.client, url.clone(), Some(&header)).await,
            error(
                "invalid_token_format",
                "Authorization header must use Bearer token"
            ),
            "{header}"
        );
    }

    let base = claims(&user_id);
    let past = now() - 30;
    let refresh = login["refresh_token"].as_str().unwrap().to_owned();
    let invalid_cases = [
        // ("Bearer " with nothing after it arrives trimmed to "Bearer": a format error.)
        ("malformed", "not-a-jwt".to_owned()),
        ("three garbage parts", "a.b.c".to_owned()),
        (
            "wrong secret",
            sign_with(Algorithm::HS256, "another-secret", &base),
        ),
        ("HS512", sign_with(Algorithm::HS512, SECRET, &base)),
        ("HS384", sign_with(Algorithm::HS384, SECRET, &base)),
        (
            "alg none",
            format!(
                "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
                access.split('.').nth(1).unwrap()
            ),
        ),
        ("missing exp", sign(&unset(base.clone(), "exp"))),
        (
            "string exp",
            sign(&set(base.clone(), "exp", json!("tomorrow"))),
        ),
        (
            "wrong aud",
            sign(&set(base.clone(), "aud", json!("someone-else"))),
        ),
        ("missing aud", sign(&unset(base.clone(), "aud"))),
        ("refresh token", refresh),
        (
            "refresh type",
            sign(&set(base.clone(), "type", json!("refresh"))),
        ),
        (
            "future nbf",
            sign(&set(base.clone(), "nbf", json!(now() + 600))),
        ),
        // Order: audience before expiry, expiry before issuer.
        (
            "expired and wrong aud",
            sign(&set(
                set(base.clone(), "exp", json!(past)),
                "aud",
                json!("x"),
            )),
        ),
    ];
    for (case, token) in invalid_cases {
        assert_eq!(whoami_as(&app, &token).await, invalid, "{case}");
    }

    let expired = error("expired_token", "Token has expired");
    assert_eq!(
        whoami_as(&app, &sign(&set(base.clone(), "exp", json!(past)))).await,
        expired
    );
    assert_eq!(
        whoami_as(
            &app,
            &sign(&set(
                set(base.clone(), "exp", json!(past)),
                "iss",
                json!("evil")
            ))
        )
        .await,
        expired,
        "expiry answers before the issuer"
    );

    let bad_issuer = error("invalid_issuer", "Token issuer is invalid");
    assert_eq!(
        whoami_as(&app, &sign(&unset(base.clone(), "iss"))).await,
        bad_issuer
    );
    assert_eq!(
        whoami_as(&app, &sign(&set(base.clone(), "iss", json!("evil")))).await,
        bad_issuer
    );
    assert_eq!(
        whoami_as(
            &app,
            &sign(&set(
                set(base.clone(), "iss", json!("evil")),
                "user_id",
                json!("x")
            ))
        )
        .await,
        bad_issuer,
        "issuer answers before the claims"
    );

    let bad_claims = error("invalid_claims", "Token claims are invalid");
    assert_eq!(
        whoami_as(&app, &sign(&unset(base.clone(), "user_id"))).await,
        bad_claims
    );
    assert_eq!(
        whoami_as(
            &app,
            &sign(&set(base.clone(), "user_id", json!("not-a-uuid")))
        )
        .await,
        bad_claims
    );
    assert_eq!(
        whoami_as(&app, &sign(&set(base.clone(), "user_id", json!(7)))).await,
        bad_claims
    );

    // Role and permission rows of the authentication layer (403).
    let (status, body) = get_with(
        &app.client,
        app.url(ADMIN_ONLY),
        Some(&format!("Bearer {access}")),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"error": "insufficient_role", "message": "User role does not have access to this resource"})
        )
    );
    let admin_without_permission = sign(&set(base.clone(), "role", json!("admin")));
    let (status, body) = get_with(
        &app.client,
        app.url(ADMIN_ONLY),
        Some(&format!("Bearer {admin_without_permission}")),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"error": "missing_permission", "message": "User does not have required permission: system:admin"})
        )
    );
    let full_admin = sign(&set(
        set(base, "role", json!("admin")),
        "permissions",
        json!(["system:admin"]),
    ));
    let (status, _) = get_with(
        &app.client,
        app.url(ADMIN_ONLY),
        Some(&format!("Bearer {full_admin}")),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_token_accepted_before_is_refused_once_it_expires() {
    let app = app().await;
    let login = login_new_user(&app, "bearer_expiring").await;
    let user_id = login["user"]["id"].as_str().unwrap();
    let expires_at = now() + 2;
    let token = sign(&set(claims(user_id), "exp", json!(expires_at)));
    // Accepted once, so this instance now remembers it as verified.
    assert_eq!(whoami_as(&app, &token).await.0, 200);
    // Asked again after its expiry, the remembered verification does not count.
    while now() <= expires_at {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        whoami_as(&app, &token).await,
        error("expired_token", "Token has expired")
    );
}

#[tokio::test]
async fn logout_revokes_the_access_token_and_the_refresh_token() {
    let app = app().await;
    let login = login_new_user(&app, "logout_user").await;
    let access = login["access_token"].as_str().unwrap();
    let other = post(
        &app,
        "/api/v1/auth/login",
        &json!({"email": "logout_user@example.com", "password": "Secure@123"}),
        None,
    )
    .await
    .1;
    let (status, me) = whoami_as(&app, access).await;
    assert_eq!(status, 200);
    let jti = me["jti"].as_str().unwrap().to_owned();
    let (status, body) = post(
        &app,
        "/api/v1/auth/logout",
        &json!({"refresh_token": login["refresh_token"]}),
        Some(access),
    )
    .await;
    assert_eq!(
        (status, body),
        (200, json!({"message": "Successfully logged out"}))
    );
    assert_eq!(
        whoami_as(&app, access).await,
        error("invalid_token", "Token has been revoked")
    );
    let (status, body) = post(
        &app,
        "/api/v1/auth/refresh",
        &json!({"refresh_token": login["refresh_token"]}),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    // The other session of the same user is untouched.
    assert_eq!(
        whoami_as(&app, other["access_token"].as_str().unwrap())
            .await
            .0,
        200
    );
    // The revocation is mirrored in Redis with the token's remaining lifetime.
    let mut redis = app.redis.connection().await;
    let key = format!("{}revoked_jti:{jti}", app.redis.prefix);
    let ttl: i64 = redis::cmd("TTL")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(ttl > 3000 && ttl <= 3600, "{ttl}");
}

#[tokio::test]
async fn a_deleted_users_tokens_are_refused() {
    let app = app_with_admin().await;
    let login = login_new_user(&app, "deleted_user").await;
    let access = login["access_token"].as_str().unwrap();
    // The access token was checked (and its answer kept in process) before the deletion.
    assert_eq!(whoami_as(&app, access).await.0, 200);
    // Tokens issued in the same second as the cut-off are refused too (iat <= cut-off).
    delete_as_admin(
        &app.address,
        &app.client,
        login["user"]["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        whoami_as(&app, access).await,
        error("invalid_token", "Token has been revoked")
    );
    let (status, _) = post(
        &app,
        "/api/v1/auth/refresh",
        &json!({"refresh_token": login["refresh_token"]}),
        None,
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn revocation_is_seen_by_a_second_instance_sharing_database_and_redis() {
    let app = app_with_admin().await;
    let second = spawn_second_instance(&app, &[("JWT_SECRET", SECRET)], Some(routes)).await;
    let revoked = error("invalid_token", "Token has been revoked");
    let login = login_new_user(&app, "two_instances").await;
    let access = login["access_token"].as_str().unwrap();
    let bearer = format!("Bearer {access}");
    // Issued by one instance, accepted by the other (same secret); the second now holds
    // "not revoked" in process.
    assert_eq!(
        get_with(&second.client, second.url(WHOAMI), Some(&bearer))
            .await
            .0,
        200
    );
    let (status, _) = post(
        &app,
        "/api/v1/auth/logout",
        &json!({"refresh_token": login["refresh_token"]}),
        Some(access),
    )
    .await;
    assert_eq!(status, 200);
    // The logout announced the revocation before returning; the second drops its answer
    // when the message arrives (milliseconds), long before the contract's bound.
    assert_eq!(
        answer_within_contract_bound(&second.client, &second.url(WHOAMI), &bearer, &revoked).await,
        revoked
    );

    // A user-wide cut-off (deletion on the first instance) is seen by the second too.
    let login = login_new_user(&app, "cutoff_user").await;
    let bearer = format!("Bearer {}", login["access_token"].as_str().unwrap());
    assert_eq!(
        get_with(&second.client, second.url(WHOAMI), Some(&bearer))
            .await
            .0,
        200
    );
    delete_as_admin(
        &app.address,
        &app.client,
        login["user"]["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        answer_within_contract_bound(&second.client, &second.url(WHOAMI), &bearer, &revoked).await,
        revoked
    );
    second.stop().await;
}

#[tokio::test]
async fn a_redis_outage_does_not_resurrect_revoked_tokens() {
    let app = app().await;
    // Same database; its Redis sits behind a proxy the test can switch off.
    let redis_address: std::net::SocketAddr = app
        .redis
        .url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let proxy = TcpProxy::start(redis_address).await;
    let proxied_url = format!("redis://{}", proxy.address());
    let second = spawn_second_instance(
        &app,
        &[("JWT_SECRET", SECRET), ("REDIS_URL", proxied_url.as_str())],
        Some(routes),
    )
    .await;
    let revoked = error("invalid_token", "Token has been revoked");

    // Revoked while Redis was up, then Redis goes away: the database still answers.
    let login = login_new_user(&app, "outage_user").await;
    let access = login["access_token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {access}");
    assert_eq!(
        get_with(&second.client, second.url(WHOAMI), Some(&bearer))
            .await
            .0,
        200
    );
    let logout = json!({"refresh_token": login["refresh_token"]});
    assert_eq!(
        post(&app, "/api/v1/auth/logout", &logout, Some(&access))
            .await
            .0,
        200
    );
    // The announcement reached the second instance through the proxy, or its answer held
    // in process expires within a second: either way the database decides after that.
    proxy.go_down().await;
    assert_eq!(
        answer_within_contract_bound(&second.client, &second.url(WHOAMI), &bearer, &revoked).await,
        revoked
    );

    // Revoked while this instance cannot reach Redis: refused here at once (database), and
    // copied to Redis once it is back, so the other instance refuses it too.
    let login = login_new_user(&app, "outage_user2").await;
    let access = login["access_token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {access}");
    let response = second
        .client
        .post(second.url("/api/v1/auth/logout"))
        .bearer_auth(&access)
        .json(&json!({"refresh_token": login["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        get_with(&second.client, second.url(WHOAMI), Some(&bearer)).await,
        revoked
    );
    proxy.come_back();
    let mut seen = get_with(&app.client, app.url(WHOAMI), Some(&bearer)).await;
    for _ in 0..100 {
        if seen == revoked {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = get_with(&app.client, app.url(WHOAMI), Some(&bearer)).await;
    }
    assert_eq!(
        seen, revoked,
        "the revocation reached Redis after the outage"
    );
    second.stop().await;
}

/// Rewrites `postgres://user@host:port/db` to go through `proxy`.
fn through_proxy(url: &str, proxy: std::net::SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let credentials = authority
        .rsplit_once('@')
        .map(|(c, _)| format!("{c}@"))
        .unwrap_or_default();
    format!("{scheme}://{credentials}{proxy}/{path}")
}

#[tokio::test]
async fn storage_outages_answer_503_and_never_let_a_token_through_unchecked() {
    let app = app().await;
    let login = login_new_user(&app, "outage_503").await;
    let access = login["access_token"].as_str().unwrap().to_owned();
    // A second instance whose PostgreSQL and Redis both sit behind switchable proxies.
    let pg_target: std::net::SocketAddr = {
        let rest = app.database.url.split_once("://").unwrap().1;
        let authority = rest.split('/').next().unwrap();
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        host.replace("localhost", "127.0.0.1").parse().unwrap()
    };
    let redis_target: std::net::SocketAddr = app
        .redis
        .url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let pg_proxy = TcpProxy::start(pg_target).await;
    let redis_proxy = TcpProxy::start(redis_target).await;
    let database_url = through_proxy(&app.database.url, pg_proxy.address());
    let redis_url = format!("redis://{}", redis_proxy.address());
    let second = spawn_second_instance(
        &app,
        &[
            ("JWT_SECRET", SECRET),
            ("DATABASE_URL", database_url.as_str()),
            ("REDIS_URL", redis_url.as_str()),
        ],
        Some(routes),
    )
    .await;
    let bearer = format!("Bearer {access}");
    assert_eq!(
        get_with(&second.client, second.url(WHOAMI), Some(&bearer))
            .await
            .0,
        200
    );

    pg_proxy.go_down().await;
    redis_proxy.go_down().await;
    let unavailable = |status: u16, body: &Value| {
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"], "service_unavailable", "{body}");
    };
    // Bearer authentication fails closed when no revocation store answers, once the
    // answer this instance keeps in process (at most a second old) has expired.
    let (status, body) = answer_within_contract_bound(
        &second.client,
        &second.url(WHOAMI),
        &bearer,
        &(503, json!({"error": "service_unavailable"})),
    )
    .await;
    unavailable(status, &body);
    for (path, payload) in [
        (
            "/api/v1/auth/login",
            json!({"email": "outage_503@example.com", "password": "Secure@123"}),
        ),
        (
            "/api/v1/auth/refresh",
            json!({"refresh_token": login["refresh_token"]}),
        ),
        (
            "/api/v1/auth/register",
            json!({"username": "later", "email": "later@example.com", "password": "Secure@123",
                   "first_name": "A", "last_name": "B"}),
        ),
    ] {
        let response = second
            .client
            .post(second.url(path))
            .json(&payload)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        unavailable(status, &response.json().await.unwrap());
    }
    // Input errors are still answered without storage.
    let response = second
        .client
        .post(second.url("/api/v1/auth/login"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    pg_proxy.come_back();
    redis_proxy.come_back();
    let mut status = 0;
    for _ in 0..60 {
        status = get_with(&second.client, second.url(WHOAMI), Some(&bearer))
            .await
            .0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, 200, "the instance recovered by itself");
    second.stop().await;
}
