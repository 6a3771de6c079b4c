//! The request pipeline of contract section 3, as actix-web middleware.
//!
//! # Wrap order
//!
//! actix applies the **last** `.wrap()` **outermost**. Build the app like this (the calls read
//! inside-out):
//!
//! ```text
//! App::new()
//!     ...routes, default_service...
//!     .wrap(from_fn(refuse_nul_in_uri))      // innermost: 400 for `%00` in the URI
//!     .wrap(BodyLimit::new(MAX_BODY_BYTES)) // 413 before any handler
//!     .wrap(rate_limit.clone())             // RateLimit: 429 + Retry-After
//!     .wrap(cors.clone())                   // Cors: OUTSIDE the limiter [D-26]
//!     .wrap(SecurityHeaders)                // on every response, including 403/429/413/404
//!     .wrap(RequestMetrics::new(stats))     // sees every status, also the panic 500
//!     .wrap(CatchPanic)
//!     .wrap(RequestId)                      // outermost: id + access log span
//! ```
//!
//! Outermost to innermost this is: access log, panic recovery, request metrics, security
//! headers, CORS, rate limiting, body limit, NUL check, routing. It is the contract's order with one
//! exception, which the contract itself asks for (\[D-26\]: CORS headers on 429 responses):
//! CORS sits outside the rate limiter. [`Cors`] decides from the request headers before inner
//! layers run and applies its headers to whatever they return, so a 429 for an allowed origin
//! is readable by the browser. Consequences, chosen on purpose: preflights (answered 204 by
//! CORS) and disallowed origins (403) consume no rate-limit token; the contract lists
//! preflights consuming tokens as legacy behaviour.
//!
//! Panics: [`CatchPanic`] answers with an `Err` whose response already carries the security
//! headers, `X-Request-ID` and the CORS headers (no layer can modify an `Err` response, and the
//! request is gone after a panic). [`RequestMetrics`] counts the 500 whether it sits inside
//! `CatchPanic` (its future is dropped unfinished during the panic) or outside (it sees the
//! `Err`); [`RequestId`] outside logs it with status 500. Inner middleware of the application
//! should answer with responses (see [`json_error`]) rather than `Err`, so that the layers
//! above can decorate them.
//!
//! The rate limiter and the request counters must be shared by all workers: build
//! [`RateLimit`], [`Cors`] and the `Arc<RequestStats>` once and clone them into the app factory.
//! The limiter also resolves the client address ([`ClientIp`] in request extensions).

mod body_limit;
mod catch_panic;
mod client_ip;
mod cors;
mod nul_in_uri;
mod rate_limit;
mod request_id;
mod request_metrics;
mod security_headers;
#[cfg(test)]
mod test_support;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

pub use body_limit::{BodyLimit, BodyLimitService, DEFAULT_MAX_BODY_BYTES, too_large_response};
pub use catch_panic::{CatchPanic, CatchPanicService, PanicError};
pub use client_ip::{ClientIp, client_ip, default_trusted_proxies};
pub use cors::{Cors, CorsService, CorsSettings};
pub use nul_in_uri::refuse_nul_in_uri;
pub use rate_limit::{EXEMPT_PATHS, RateLimit, RateLimitService, RateLimitSettings};
pub use request_id::{REQUEST_ID_HEADER, RequestId, RequestIdService, RequestIdValue};
pub use request_metrics::{
    RequestMetrics, RequestMetricsService, RequestStats, RequestStatsSnapshot, UNMATCHED_ROUTE,
    colon_params,
};
pub use security_headers::{
    SECURITY_HEADERS, SecurityHeaders, SecurityHeadersService, apply_security_headers,
};

/// A JSON error response (`Content-Type: application/json`) with the given status and body.
pub fn json_error(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status).json(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::dev::Service;
    use actix_web::http::Method;
    use actix_web::{App, test as atest, web};
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    const ALLOWED: &str = "http://localhost:3000";

    async fn boom() -> HttpResponse {
        panic!("handler bug")
    }

    macro_rules! pipeline {
        ($limit:expr, $stats:expr) => {
            atest::init_service(
            App::new()
                .route(
                    "/api/v1/tasks/{id}",
                    web::get().to(|| async { HttpResponse::Ok().json(serde_json::json!({"ok": true})) }),
                )
                .route("/api/v1/boom", web::get().to(boom))
                .route("/health", web::get().to(HttpResponse::Ok))
                .default_service(web::to(|| async {
                    json_error(
                        StatusCode::NOT_FOUND,
                        serde_json::json!({"error": "not_found", "message": "Route not found"}),
                    )
                }))
                .wrap(BodyLimit::default())
                .wrap($limit)
                .wrap(Cors::new(CorsSettings::default()))
                .wrap(SecurityHeaders)
                .wrap(RequestMetrics::new($stats))
                .wrap(CatchPanic)
                .wrap(RequestId),
        )
        .await
        };
    }

    fn limit(burst: u32) -> RateLimit {
        RateLimit::new(RateLimitSettings {
            requests_per_minute: 1,
            burst,
            idle_timeout: Duration::from_secs(600),
            ..RateLimitSettings::default()
        })
    }

    fn from(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().expect("test address"), 5555)
    }

    fn assert_security_headers(headers: &actix_web::http::header::HeaderMap, what: &str) {
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(
                headers.get(name).and_then(|v| v.to_str().ok()),
                Some(value),
                "{name} on {what}"
            );
        }
    }

    #[actix_web::test]
    async fn every_kind_of_response_carries_the_security_headers_and_a_request_id() {
        let stats = Arc::new(RequestStats::new());
        let app = pipeline!(limit(3), Arc::clone(&stats));

        let ok = atest::call_service(
            &app,
            atest::TestRequest::get()
                .uri("/api/v1/tasks/1")
                .peer_addr(from("203.0.113.1"))
                .to_request(),
        )
        .await;
        assert_eq!(ok.status(), StatusCode::OK);
        assert_security_headers(ok.headers(), "200");
        assert!(ok.headers().contains_key("x-request-id"));

        let missing = atest::call_service(
            &app,
            atest::TestRequest::get()
                .uri("/nope")
                .peer_addr(from("203.0.113.1"))
                .to_request(),
        )
        .await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_security_headers(missing.headers(), "404");

        let rejected = atest::call_service(
            &app,
            atest::TestRequest::get()
                .uri("/api/v1/tasks/1")
                .peer_addr(from("203.0.113.1"))
                .insert_header(("origin", "http://evil.example"))
                .to_request(),
        )
        .await;
        assert_eq!(rejected.status(), StatusCode::FORBIDDEN);
        assert_security_headers(rejected.headers(), "403");
        assert!(atest::read_body(rejected).await.is_empty());

        let too_large = atest::call_service(
            &app,
            atest::TestRequest::post()
                .uri("/api/v1/tasks/1")
                .peer_addr(from("203.0.113.1"))
                .insert_header(("content-length", "2000000"))
                .to_request(),
        )
        .await;
        assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_security_headers(too_large.headers(), "413");

        // The burst of 3 is spent (200, 404, 413; the 403 took no token).
        let limited = atest::call_service(
            &app,
            atest::TestRequest::get()
                .uri("/api/v1/tasks/1")
                .peer_addr(from("203.0.113.1"))
                .to_request(),
        )
        .await;
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_security_headers(limited.headers(), "429");
        assert!(limited.headers().contains_key("x-request-id"));

        let snap = stats.snapshot();
        assert_eq!(snap.status_codes.get("Too Many Requests"), Some(&1));
        assert_eq!(snap.status_codes.get("Forbidden"), Some(&1));
        // Requests refused before routing are still labelled by the route their path matches.
        assert_eq!(snap.endpoint_calls.get("GET /api/v1/tasks/:id"), Some(&3));
        assert_eq!(snap.endpoint_calls.get("POST /api/v1/tasks/:id"), Some(&1));
        assert_eq!(snap.endpoint_calls.get("GET "), Some(&1));
    }

    #[actix_web::test]
    async fn a_panic_is_a_500_with_every_header_and_the_service_keeps_serving() {
        let stats = Arc::new(RequestStats::new());
        let app = pipeline!(limit(10), Arc::clone(&stats));
        let err = app
            .call(
                atest::TestRequest::get()
                    .uri("/api/v1/boom")
                    .peer_addr(from("203.0.113.9"))
                    .insert_header(("origin", ALLOWED))
                    .insert_header(("x-request-id", "panic-req"))
                    .to_request(),
            )
            .await
            .expect_err("the panic surfaces as an error response");
        let res = err.error_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_security_headers(res.headers(), "500");
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(header("x-request-id").as_deref(), Some("panic-req"));
        assert_eq!(
            header("access-control-allow-origin").as_deref(),
            Some(ALLOWED)
        );
        let body = actix_web::body::to_bytes(res.into_body())
            .await
            .expect("body");
        assert_eq!(body, r#"{"error":"internal server error"}"#);

        let snap = stats.snapshot();
        assert_eq!(snap.status_codes.get("Internal Server Error"), Some(&1));
        assert_eq!(snap.active_requests, 0);

        let ok = atest::call_service(
            &app,
            atest::TestRequest::get()
                .uri("/api/v1/tasks/2")
                .peer_addr(from("203.0.113.9"))
                .to_request(),
        )
        .await;
        assert_eq!(ok.status(), StatusCode::OK);
    }

    #[actix_web::test]
    async fn a_429_for_an_allowed_origin_is_readable_by_the_browser() {
        let app = pipeline!(limit(1), Arc::new(RequestStats::new()));
        let call = || {
            atest::TestRequest::get()
                .uri("/api/v1/tasks/1")
                .peer_addr(from("203.0.113.2"))
                .insert_header(("origin", ALLOWED))
                .to_request()
        };
        assert_eq!(
            atest::call_service(&app, call()).await.status(),
            StatusCode::OK
        );
        let res = atest::call_service(&app, call()).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok());
        assert_eq!(header("access-control-allow-origin"), Some(ALLOWED));
        assert_eq!(header("access-control-allow-credentials"), Some("true"));
        let retry: u64 = header("retry-after")
            .expect("retry-after")
            .parse()
            .expect("whole seconds");
        // One token per minute: the wait is at most a minute and at least a second.
        assert!((1..=60).contains(&retry), "{retry}");
        assert_security_headers(res.headers(), "429");
    }

    #[actix_web::test]
    async fn preflights_are_answered_by_cors_and_never_rate_limited() {
        let app = pipeline!(limit(1), Arc::new(RequestStats::new()));
        for _ in 0..5 {
            let res = atest::call_service(
                &app,
                atest::TestRequest::default()
                    .method(Method::OPTIONS)
                    .uri("/api/v1/tasks/1")
                    .peer_addr(from("203.0.113.3"))
                    .insert_header(("origin", ALLOWED))
                    .insert_header(("access-control-request-method", "PUT"))
                    .to_request(),
            )
            .await;
            assert_eq!(res.status(), StatusCode::NO_CONTENT);
            assert_security_headers(res.headers(), "204");
        }
        // The single token is still there.
        let res = atest::call_service(
            &app,
            atest::TestRequest::get()
                .uri("/api/v1/tasks/1")
                .peer_addr(from("203.0.113.3"))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
    }

    #[actix_web::test]
    async fn exempt_paths_never_get_429() {
        let app = pipeline!(limit(1), Arc::new(RequestStats::new()));
        let res = atest::call_service(
            &app,
            atest::TestRequest::get()
                .uri("/api/v1/tasks/1")
                .peer_addr(from("203.0.113.4"))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        for _ in 0..20 {
            let res = atest::call_service(
                &app,
                atest::TestRequest::get()
                    .uri("/health")
                    .peer_addr(from("203.0.113.4"))
                    .to_request(),
            )
            .await;
            assert_eq!(res.status(), StatusCode::OK);
        }
        for path in ["/ready", "/live", "/metrics"] {
            let res = atest::call_service(
                &app,
                atest::TestRequest::get()
                    .uri(path)
                    .peer_addr(from("203.0.113.4"))
                    .to_request(),
            )
            .await;
            assert_eq!(
                res.status(),
                StatusCode::NOT_FOUND,
                "{path} is routed (404 here), not limited"
            );
        }
    }

    #[actix_web::test]
    async fn json_error_sets_status_and_json_body() {
        let res = json_error(StatusCode::CONFLICT, serde_json::json!({"error": "x"}));
        assert_eq!(res.status(), StatusCode::CONFLICT);
        assert_eq!(
            res.headers().get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
        let body = actix_web::body::to_bytes(res.into_body())
            .await
            .expect("body");
        assert_eq!(body, r#"{"error":"x"}"#);
    }

    #[test]
    fn the_metrics_facade_gets_route_templates_statuses_and_rate_limit_refusals() {
        let recorder = test_support::TestRecorder::default();
        metrics::with_local_recorder(&recorder, || {
            actix_web::rt::System::new().block_on(async {
                let app = pipeline!(limit(2), Arc::new(RequestStats::new()));
                for path in [
                    "/api/v1/tasks/1",
                    "/api/v1/tasks/2",
                    "/api/v1/tasks/3",
                    "/x",
                ] {
                    let req = atest::TestRequest::get()
                        .uri(path)
                        .peer_addr(from("203.0.113.5"))
                        .to_request();
                    atest::call_service(&app, req).await;
                }
                let boom = atest::TestRequest::get()
                    .uri("/api/v1/boom")
                    .peer_addr(from("203.0.113.6"))
                    .to_request();
                app.call(boom)
                    .await
                    .expect_err("panic answered as an error response");
            });
        });
        let value = |key: &str| recorder.value(key);
        assert_eq!(
            value("http_requests_total{method=GET,route=/api/v1/tasks/{id},status=200}"),
            Some(2.0)
        );
        assert_eq!(
            value("http_requests_total{method=GET,route=/api/v1/tasks/{id},status=429}"),
            Some(1.0)
        );
        assert_eq!(
            value("http_requests_total{method=GET,route=unmatched,status=429}"),
            Some(1.0)
        );
        // A panic leaves no response to read the route from (see `UNMATCHED_ROUTE`).
        assert_eq!(
            value("http_requests_total{method=GET,route=unmatched,status=500}"),
            Some(1.0)
        );
        assert_eq!(value("http_rate_limited_total"), Some(2.0));
        assert_eq!(
            value("http_request_duration_seconds{method=GET,route=/api/v1/tasks/{id}}"),
            Some(3.0)
        );
        assert_eq!(value("http_requests_in_flight"), Some(0.0));
    }
}
