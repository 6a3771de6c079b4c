//! CORS exactly as contract section 3.3 (hand-written: `actix-cors` cannot express the
//! same-origin-by-`Host` rule nor the 403-with-empty-body rejection).
//!
//! Placement \[D-26\]: this layer sits *outside* the rate limiter. The decision is taken from
//! the request headers before inner layers run and then applied to whatever they return, so a
//! 429 (or a 413, a 404, an error) sent to an allowed origin carries the CORS headers and the
//! browser can read it. A consequence, chosen on purpose: preflights and disallowed origins are
//! answered here and consume no rate-limit token (the contract's legacy note lists preflights
//! consuming tokens as legacy behaviour).

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::HttpMessage;
use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{Error, HttpResponse};
use futures_util::future::LocalBoxFuture;

use super::catch_panic::PanicScope;

/// Preflight cache lifetime: 12 hours.
const MAX_AGE_SECONDS: &str = "43200";

/// Configuration of [`Cors`] (`CORS_ORIGINS`, `CORS_METHODS`, `CORS_HEADERS`, \[D-27\]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsSettings {
    /// Origins allowed to make credentialed cross-origin calls, compared exactly
    /// (`"*"` allows every origin; the origin is still echoed, never `*`).
    pub allowed_origins: Vec<String>,
    /// Sent in `Access-Control-Allow-Methods` on preflights.
    pub allowed_methods: Vec<String>,
    /// Sent in `Access-Control-Allow-Headers` on preflights.
    pub allowed_headers: Vec<String>,
}

impl Default for CorsSettings {
    /// The contract's defaults.
    fn default() -> Self {
        let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
        Self {
            allowed_origins: strings(&["http://localhost:3000", "http://host.docker.internal"]),
            allowed_methods: strings(&["GET", "POST", "PUT", "DELETE", "OPTIONS"]),
            allowed_headers: strings(&["Origin", "Content-Type", "Authorization"]),
        }
    }
}

/// CORS headers an allowed, non-preflight request's response will carry. Stored in request
/// extensions so that a response built without the request (a caught panic) can carry them.
#[derive(Debug, Clone)]
pub(crate) struct CorsHeaders(pub(crate) Vec<(HeaderName, HeaderValue)>);

#[derive(Debug)]
struct Policy {
    any_origin: bool,
    origins: Vec<String>,
    allow_methods: Option<HeaderValue>,
    allow_headers: Option<HeaderValue>,
}

enum Decision {
    /// No `Origin`, or same origin: untouched.
    NotCors,
    /// Origin not allowed: 403, empty body.
    Reject,
    /// Allowed preflight: 204 with the CORS headers.
    Preflight(HeaderValue),
    /// Allowed actual request: CORS headers on whatever the inner layers answer.
    Actual(HeaderValue),
}

impl Policy {
    fn new(settings: CorsSettings) -> Self {
        let join = |items: &[String]| {
            let text = items
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(", ");
            HeaderValue::from_str(&text)
                .ok()
                .filter(|_| !text.is_empty())
        };
        Self {
            any_origin: settings.allowed_origins.iter().any(|o| o.trim() == "*"),
            origins: settings
                .allowed_origins
                .iter()
                .map(|o| o.trim().to_owned())
                .collect(),
            allow_methods: join(&settings.allowed_methods),
            allow_headers: join(&settings.allowed_headers),
        }
    }

    fn decide(&self, req: &ServiceRequest) -> Decision {
        let Some(origin) = req.headers().get(header::ORIGIN) else {
            return Decision::NotCors;
        };
        let Ok(origin_text) = origin.to_str() else {
            return Decision::Reject;
        };
        if is_same_origin(req, origin_text) {
            return Decision::NotCors;
        }
        if !(self.any_origin || self.origins.iter().any(|o| o == origin_text)) {
            return Decision::Reject;
        }
        if req.method() == Method::OPTIONS {
            Decision::Preflight(origin.clone())
        } else {
            Decision::Actual(origin.clone())
        }
    }
}

/// `Origin` equal to `http://<Host>` or `https://<Host>` (host compared case-insensitively).
fn is_same_origin(req: &ServiceRequest, origin: &str) -> bool {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let Some(host) = host else {
        return false;
    };
    ["http://", "https://"].iter().any(|scheme| {
        origin
            .strip_prefix(scheme)
            .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
    })
}

fn actual_headers(origin: HeaderValue) -> Vec<(HeaderName, HeaderValue)> {
    vec![
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, origin),
        (
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        ),
        (
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Content-Length"),
        ),
    ]
}

/// CORS middleware; see the module documentation for its placement.
///
/// Cheap to clone (shared policy), so it can be built once and cloned into the app factory.
#[derive(Debug, Clone)]
pub struct Cors {
    policy: Arc<Policy>,
}

impl Cors {
    /// Builds the middleware from its settings.
    pub fn new(settings: CorsSettings) -> Self {
        Self {
            policy: Arc::new(Policy::new(settings)),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Cors
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = CorsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CorsService {
            service,
            policy: Arc::clone(&self.policy),
        }))
    }
}

/// Service produced by [`Cors`].
#[derive(Debug)]
pub struct CorsService<S> {
    service: S,
    policy: Arc<Policy>,
}

impl<S, B> Service<ServiceRequest> for CorsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        match self.policy.decide(&req) {
            Decision::NotCors => {
                let fut = self.service.call(req);
                Box::pin(async move { fut.await.map(ServiceResponse::map_into_left_body) })
            }
            Decision::Reject => {
                let res = req.into_response(HttpResponse::Forbidden().finish());
                Box::pin(ready(Ok(res.map_into_right_body())))
            }
            Decision::Preflight(origin) => {
                let mut builder = HttpResponse::NoContent();
                for pair in actual_headers(origin) {
                    builder.insert_header(pair);
                }
                if let Some(methods) = &self.policy.allow_methods {
                    builder.insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, methods.clone()));
                }
                if let Some(headers) = &self.policy.allow_headers {
                    builder.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, headers.clone()));
                }
                builder.insert_header((
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static(MAX_AGE_SECONDS),
                ));
                builder.append_header((header::VARY, HeaderValue::from_static("Origin")));
                let res = req.into_response(builder.finish());
                Box::pin(ready(Ok(res.map_into_right_body())))
            }
            Decision::Actual(origin) => {
                let headers = actual_headers(origin);
                PanicScope::add_headers(&req, &headers);
                req.extensions_mut().insert(CorsHeaders(headers.clone()));
                let fut = self.service.call(req);
                Box::pin(async move {
                    let mut res = fut.await?;
                    let map = res.headers_mut();
                    for (name, value) in headers {
                        map.insert(name, value);
                    }
                    map.append(header::VARY, HeaderValue::from_static("Origin"));
                    Ok(res.map_into_left_body())
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::StatusCode;
    use actix_web::{App, test as atest, web};
    use std::cell::Cell;
    use std::rc::Rc;

    const ALLOWED: &str = "http://localhost:3000";

    macro_rules! app {
        ($hits:expr) => {
            atest::init_service(
                App::new()
                    .wrap(Cors::new(CorsSettings::default()))
                    .default_service(web::to({
                        let hits: Rc<Cell<u32>> = $hits;
                        move || {
                            hits.set(hits.get() + 1);
                            async { HttpResponse::Ok().json(serde_json::json!({"ok": true})) }
                        }
                    })),
            )
            .await
        };
    }

    fn header<'a>(
        res: &'a ServiceResponse<impl actix_web::body::MessageBody>,
        name: &str,
    ) -> Option<&'a str> {
        res.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[actix_web::test]
    async fn a_request_without_origin_is_untouched() {
        let hits = Rc::new(Cell::new(0));
        let app = app!(Rc::clone(&hits));
        let res = atest::call_service(&app, atest::TestRequest::get().uri("/x").to_request()).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(hits.get(), 1);
        assert!(header(&res, "access-control-allow-origin").is_none());
        assert!(header(&res, "vary").is_none());
    }

    #[actix_web::test]
    async fn same_origin_by_host_is_untouched_for_both_schemes() {
        let hits = Rc::new(Cell::new(0));
        let app = app!(Rc::clone(&hits));
        for origin in ["http://localhost", "https://localhost", "http://LOCALHOST"] {
            let req = atest::TestRequest::post()
                .uri("/x")
                .insert_header(("host", "localhost"))
                .insert_header(("origin", origin))
                .to_request();
            let res = atest::call_service(&app, req).await;
            assert_eq!(res.status(), StatusCode::OK, "{origin}");
            assert!(header(&res, "access-control-allow-origin").is_none());
        }
        // The port is part of the host: a different port is cross-origin (and not allowed).
        let req = atest::TestRequest::get()
            .uri("/x")
            .insert_header(("host", "localhost:8080"))
            .insert_header(("origin", "http://localhost"))
            .to_request();
        assert_eq!(
            atest::call_service(&app, req).await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(hits.get(), 3);
    }

    #[actix_web::test]
    async fn an_allowed_origin_is_echoed_with_credentials_and_vary() {
        let hits = Rc::new(Cell::new(0));
        let app = app!(Rc::clone(&hits));
        let req = atest::TestRequest::get()
            .uri("/x")
            .insert_header(("host", "api.example"))
            .insert_header(("origin", ALLOWED))
            .to_request();
        let res = atest::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(hits.get(), 1);
        assert_eq!(header(&res, "access-control-allow-origin"), Some(ALLOWED));
        assert_eq!(
            header(&res, "access-control-allow-credentials"),
            Some("true")
        );
        assert_eq!(
            header(&res, "access-control-expose-headers"),
            Some("Content-Length")
        );
        assert_eq!(header(&res, "vary"), Some("Origin"));
        assert!(header(&res, "access-control-max-age").is_none());
    }

    #[actix_web::test]
    async fn an_allowed_preflight_is_answered_204_and_not_routed() {
        let hits = Rc::new(Cell::new(0));
        let app = app!(Rc::clone(&hits));
        let req = atest::TestRequest::default()
            .method(Method::OPTIONS)
            .uri("/api/v1/tasks")
            .insert_header(("origin", "http://host.docker.internal"))
            .insert_header(("access-control-request-method", "POST"))
            .insert_header(("access-control-request-headers", "authorization"))
            .to_request();
        let res = atest::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert_eq!(hits.get(), 0);
        assert_eq!(
            header(&res, "access-control-allow-origin"),
            Some("http://host.docker.internal")
        );
        assert_eq!(
            header(&res, "access-control-allow-credentials"),
            Some("true")
        );
        assert_eq!(
            header(&res, "access-control-allow-methods"),
            Some("GET, POST, PUT, DELETE, OPTIONS")
        );
        assert_eq!(
            header(&res, "access-control-allow-headers"),
            Some("Origin, Content-Type, Authorization")
        );
        assert_eq!(header(&res, "access-control-max-age"), Some("43200"));
        let body = atest::read_body(res).await;
        assert!(body.is_empty());
    }

    #[actix_web::test]
    async fn a_disallowed_origin_is_403_with_an_empty_body_and_not_processed() {
        let hits = Rc::new(Cell::new(0));
        let app = app!(Rc::clone(&hits));
        for method in [Method::GET, Method::OPTIONS] {
            let req = atest::TestRequest::default()
                .method(method.clone())
                .uri("/x")
                .insert_header(("host", "localhost"))
                .insert_header(("origin", "http://evil.example"))
                .insert_header(("access-control-request-method", "GET"))
                .to_request();
            let res = atest::call_service(&app, req).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{method}");
            assert!(header(&res, "access-control-allow-origin").is_none());
            assert!(atest::read_body(res).await.is_empty());
        }
        assert_eq!(hits.get(), 0);
    }

    #[actix_web::test]
    async fn configured_lists_replace_the_defaults() {
        let settings = CorsSettings {
            allowed_origins: vec!["http://localhost:8080".into()],
            allowed_methods: vec!["GET".into()],
            allowed_headers: vec!["X-Custom".into()],
        };
        let app = atest::init_service(
            App::new()
                .wrap(Cors::new(settings))
                .default_service(web::to(HttpResponse::Ok)),
        )
        .await;
        let req = atest::TestRequest::get()
            .uri("/x")
            .insert_header(("origin", ALLOWED))
            .to_request();
        assert_eq!(
            atest::call_service(&app, req).await.status(),
            StatusCode::FORBIDDEN
        );
        let req = atest::TestRequest::default()
            .method(Method::OPTIONS)
            .uri("/x")
            .insert_header(("origin", "http://localhost:8080"))
            .insert_header(("access-control-request-method", "GET"))
            .to_request();
        let res = atest::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert_eq!(header(&res, "access-control-allow-methods"), Some("GET"));
        assert_eq!(
            header(&res, "access-control-allow-headers"),
            Some("X-Custom")
        );
    }

    #[actix_web::test]
    async fn a_wildcard_allows_any_origin_but_echoes_it() {
        let settings = CorsSettings {
            allowed_origins: vec!["*".into()],
            ..CorsSettings::default()
        };
        let app = atest::init_service(
            App::new()
                .wrap(Cors::new(settings))
                .default_service(web::to(HttpResponse::Ok)),
        )
        .await;
        let req = atest::TestRequest::get()
            .uri("/x")
            .insert_header(("origin", "http://anything.example"))
            .to_request();
        let res = atest::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            header(&res, "access-control-allow-origin"),
            Some("http://anything.example")
        );
    }

    #[actix_web::test]
    async fn cors_headers_are_added_to_error_responses_of_inner_layers() {
        let app = atest::init_service(App::new().wrap(Cors::new(CorsSettings::default())).route(
            "/limited",
            web::get().to(|| async {
                HttpResponse::TooManyRequests()
                    .insert_header(("retry-after", "3"))
                    .finish()
            }),
        ))
        .await;
        let req = atest::TestRequest::get()
            .uri("/limited")
            .insert_header(("origin", ALLOWED))
            .to_request();
        let res = atest::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&res, "access-control-allow-origin"), Some(ALLOWED));
        assert_eq!(header(&res, "retry-after"), Some("3"));
    }
}
