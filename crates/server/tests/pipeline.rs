//! Contract section 3 and 1.5: security headers, CORS, rate limiting, body limit, unknown
//! routes and panic recovery, over real HTTP against the real server.

#![allow(clippy::unwrap_used)]

mod common;

use actix_web::{HttpResponse, web};
use common::{assert_security_headers, spawn_app, spawn_app_with};
use serde_json::{Value, json};

fn test_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/test/panic",
        web::get().to(|| async {
            let hidden: Option<u8> = std::hint::black_box(None);
            // A handler bug: the pipeline must turn it into the contract's 500.
            #[allow(clippy::unwrap_used)]
            let value = hidden.unwrap();
            HttpResponse::Ok().body(value.to_string())
        }),
    )
    .route(
        "/test/echo",
        web::post()
            .to(|body: web::Json<Value>| async move { HttpResponse::Ok().json(body.into_inner()) }),
    );
}

#[tokio::test]
async fn unknown_routes_get_the_json_404_body() {
    let app = spawn_app().await;
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/nothing-here"),
        (reqwest::Method::POST, "/what"),
        (reqwest::Method::DELETE, "/health"),
    ] {
        let response = app
            .client
            .request(method, app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_security_headers(&response);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"error": "not_found", "message": "Route not found"})
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_keeps_serving() {
    let app = spawn_app_with(&[], Some(test_routes)).await;
    for _ in 0..3 {
        let response = app.get("/test/panic").await;
        assert_eq!(response.status(), 500);
        assert_security_headers(&response);
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"error":"internal server error"}"#
        );
        let next = app.get("/health").await;
        assert_eq!(next.status(), 200);
    }
    app.stop().await;
}

#[tokio::test]
async fn security_headers_are_on_success_and_error_responses() {
    let app = spawn_app_with(&[], Some(test_routes)).await;
    let ok = app.get("/health").await;
    assert_eq!(ok.status(), 200);
    assert_security_headers(&ok);
    let bad = app
        .client
        .post(app.url("/test/echo"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_security_headers(&bad);
    app.stop().await;
}

#[tokio::test]
async fn json_bodies_are_parsed_whatever_the_content_type() {
    let app = spawn_app_with(&[], Some(test_routes)).await;
    for content_type in [None, Some("text/plain"), Some("application/json")] {
        let mut request = app.client.post(app.url("/test/echo")).body(r#"{"a":1}"#);
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{content_type:?}");
        assert_eq!(response.json::<Value>().await.unwrap(), json!({"a": 1}));
    }
    app.stop().await;
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_refused_with_413() {
    let app = spawn_app_with(&[], Some(test_routes)).await;
    let oversize = format!(r#"{{"a":"{}"}}"#, "x".repeat(1024 * 1024));
    // With a Content-Length header...
    let response = app
        .client
        .post(app.url("/test/echo"))
        .body(oversize.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_security_headers(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "request_too_large", "message": "Request body exceeds 1 MiB"})
    );
    // ...and streamed without one (chunked transfer encoding).
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = oversize
        .into_bytes()
        .chunks(64 * 1024)
        .map(|chunk| Ok(chunk.to_vec()))
        .collect();
    let response = app
        .client
        .post(app.url("/test/echo"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "request_too_large");
    // A body just under the limit is fine.
    let fits = format!(r#"{{"a":"{}"}}"#, "x".repeat(1024 * 1024 - 100));
    let response = app
        .client
        .post(app.url("/test/echo"))
        .body(fits)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn cors_allows_configured_origins_and_rejects_others() {
    let app = spawn_app().await;
    let allowed = app
        .client
        .get(app.url("/health"))
        .header("Origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    assert_eq!(
        allowed.headers()["access-control-expose-headers"],
        "Content-Length"
    );

    let denied = app
        .client
        .get(app.url("/health"))
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    assert_security_headers(&denied);
    assert!(
        denied
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_eq!(denied.text().await.unwrap(), "");

    let no_origin = app.get("/health").await;
    assert_eq!(no_origin.status(), 200);
    assert!(
        no_origin
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    app.stop().await;
}

#[tokio::test]
async fn cors_treats_the_hosts_own_origin_as_same_origin() {
    let app = spawn_app().await;
    let same = app
        .client
        .get(app.url("/health"))
        .header("Origin", format!("http://127.0.0.1:{}", app.port))
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 200);
    assert!(same.headers().get("access-control-allow-origin").is_none());
    app.stop().await;
}

#[tokio::test]
async fn cors_preflight_from_an_allowed_origin_is_answered_204() {
    let app = spawn_app().await;
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/tasks"))
        .header("Origin", "http://host.docker.internal")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "Content-Type, Authorization",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://host.docker.internal"
    );
    assert_eq!(headers["access-control-max-age"], "43200");
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    for method in ["GET", "POST", "PUT", "DELETE", "OPTIONS"] {
        assert!(methods.contains(method), "{methods}");
    }
    let allowed_headers = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for header in ["origin", "content-type", "authorization"] {
        assert!(allowed_headers.contains(header), "{allowed_headers}");
    }
    assert_security_headers(&response);
    app.stop().await;
}

#[tokio::test]
async fn cors_origins_are_configurable() {
    let app = spawn_app_with(&[("CORS_ORIGINS", "https://app.example")], None).await;
    let custom = app
        .client
        .get(app.url("/health"))
        .header("Origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(custom.status(), 200);
    let old_default = app
        .client
        .get(app.url("/health"))
        .header("Origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(old_default.status(), 403);
    app.stop().await;
}

const LIMITED: &[(&str, &str)] = &[
    ("RATE_LIMIT_ENABLED", "true"),
    ("RATE_LIMIT_RPM", "1"),
    ("RATE_LIMIT_BURST", "3"),
];

#[tokio::test]
async fn over_the_limit_answers_429_with_retry_after_and_cors_headers() {
    let app = spawn_app_with(LIMITED, None).await;
    let send = || {
        app.client
            .get(app.url("/api/v1/anything"))
            .header("Origin", "http://localhost:3000")
            .send()
    };
    for _ in 0..3 {
        assert_eq!(send().await.unwrap().status(), 404);
    }
    let limited = send().await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_security_headers(&limited);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        limited.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(
        limited.json::<Value>().await.unwrap(),
        json!({"error": "rate limit exceeded"})
    );
    app.stop().await;
}

#[tokio::test]
async fn operational_endpoints_are_never_rate_limited() {
    let app = spawn_app_with(LIMITED, None).await;
    for path in ["/health", "/ready", "/live", "/metrics"] {
        for _ in 0..6 {
            assert_eq!(app.get(path).await.status(), 200, "{path}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_forged_forwarded_for_from_an_untrusted_peer_gets_no_fresh_bucket() {
    // Loopback is not trusted here, so the test client is an ordinary untrusted peer.
    let mut vars = LIMITED.to_vec();
    vars.push(("TRUSTED_PROXIES", "10.0.0.0/8"));
    let app = spawn_app_with(&vars, None).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let response = app
            .client
            .get(app.url("/api/v1/anything"))
            .header("X-Forwarded-For", format!("203.0.113.{i}"))
            .header("X-Real-IP", format!("198.51.100.{i}"))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [404, 404, 404, 429, 429]);
    app.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    // Loopback is trusted by default: the test client plays the reverse proxy.
    let app = spawn_app_with(LIMITED, None).await;
    for client in ["203.0.113.7", "203.0.113.8"] {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            let response = app
                .client
                .get(app.url("/api/v1/anything"))
                .header("X-Forwarded-For", format!("198.51.100.1, {client}"))
                .send()
                .await
                .unwrap();
            statuses.push(response.status().as_u16());
        }
        assert_eq!(statuses, [404, 404, 404, 429], "{client}");
    }
    app.stop().await;
}

#[tokio::test]
async fn rate_limiting_can_be_disabled() {
    let app = spawn_app_with(
        &[("RATE_LIMIT_ENABLED", "false"), ("RATE_LIMIT_BURST", "1")],
        None,
    )
    .await;
    for _ in 0..5 {
        assert_eq!(app.get("/api/v1/anything").await.status(), 404);
    }
    app.stop().await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let generated = app.get("/health").await;
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert!(!id.is_empty());
    let honoured = app
        .client
        .get(app.url("/health"))
        .header("X-Request-ID", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(honoured.headers()["x-request-id"], "trace-abc-123");
    app.stop().await;
}
