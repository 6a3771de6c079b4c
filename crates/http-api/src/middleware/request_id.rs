//! Request id and access log (the outermost stage of contract section 3).
//!
//! Every request gets an id: the incoming `X-Request-ID` when it is 1 to 128 visible ASCII
//! characters, otherwise a new UUID v4. The id is stored in request extensions
//! ([`RequestIdValue`], read by handlers and the audit log), echoed in the response's
//! `X-Request-ID`, and recorded on a tracing span (`http_request`) that is entered for the whole
//! request, so every log line emitted while serving it carries `request_id`. One access-log line
//! is written at completion with method, path, route, status and latency.

use std::future::{Ready, ready};
use std::time::Instant;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage};
use futures_util::future::LocalBoxFuture;
use tracing::Instrument;
use tracing::field::Empty;

use super::catch_panic::PanicScope;

/// The request id header, lower-case.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request, in request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIdValue(pub String);

/// Accepts an incoming id only if it is short and made of visible ASCII (no spaces or control
/// characters), so that it is safe in logs and headers.
fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

fn request_id_of(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable(id))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// Middleware assigning the request id and writing the access log.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestId;

impl<S, B> Transform<S, ServiceRequest> for RequestId
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RequestIdService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestIdService { service }))
    }
}

/// Service produced by [`RequestId`].
#[derive(Debug)]
pub struct RequestIdService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for RequestIdService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let id = request_id_of(&req);
        let header_value = HeaderValue::from_str(&id).ok();
        // ERROR level so that the span is enabled whenever any event is (a `warn` filter
        // would otherwise disable an INFO span and strip request_id from warnings).
        let span = tracing::error_span!(
            "http_request",
            request_id = %id,
            method = %req.method(),
            path = %req.path(),
            route = Empty,
            status = Empty,
            latency_ms = Empty,
        );
        if let Some(value) = &header_value {
            PanicScope::add_headers(&req, &[(REQUEST_ID_HEADER, value.clone())]);
        }
        req.extensions_mut().insert(RequestIdValue(id));
        let started = Instant::now();
        let fut = {
            let _entered = span.enter();
            self.service.call(req)
        };
        let log_span = span.clone();
        Box::pin(
            async move {
                let mut result = fut.await;
                let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
                let (status, route) = match &mut result {
                    Ok(res) => {
                        if let Some(value) = header_value {
                            res.headers_mut().insert(REQUEST_ID_HEADER, value);
                        }
                        (res.status(), res.request().match_pattern())
                    }
                    Err(err) => (err.as_response_error().status_code(), None),
                };
                let route = route.unwrap_or_else(|| super::UNMATCHED_ROUTE.to_owned());
                log_span.record("route", tracing::field::display(&route));
                log_span.record("status", status.as_u16());
                log_span.record("latency_ms", latency_ms);
                // The span (entered here) carries request_id, method, path, route, status and
                // latency_ms, so the event needs no fields of its own.
                if status.is_server_error() {
                    tracing::warn!("request completed");
                } else {
                    tracing::info!("request completed");
                }
                result
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::StatusCode;
    use actix_web::{App, HttpRequest, HttpResponse, test as atest, web};
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    async fn echo_id(req: HttpRequest) -> HttpResponse {
        let id = req
            .extensions()
            .get::<RequestIdValue>()
            .map(|v| v.0.clone());
        tracing::info!("inside handler");
        HttpResponse::Ok().body(id.unwrap_or_default())
    }

    fn header(res: &ServiceResponse<impl actix_web::body::MessageBody>) -> String {
        res.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .expect("x-request-id set")
            .to_owned()
    }

    #[actix_web::test]
    async fn an_acceptable_incoming_id_is_kept_in_extensions_and_echoed() {
        let app = atest::init_service(
            App::new()
                .wrap(RequestId)
                .route("/", web::get().to(echo_id)),
        )
        .await;
        let req = atest::TestRequest::get()
            .uri("/")
            .insert_header(("x-request-id", "abc-123_XYZ"))
            .to_request();
        let res = atest::call_service(&app, req).await;
        assert_eq!(header(&res), "abc-123_XYZ");
        assert_eq!(atest::read_body(res).await, "abc-123_XYZ");
    }

    #[actix_web::test]
    async fn a_missing_or_unacceptable_id_is_replaced_by_a_uuid_v4() {
        let app = atest::init_service(
            App::new()
                .wrap(RequestId)
                .route("/", web::get().to(echo_id)),
        )
        .await;
        let too_long = "a".repeat(129);
        for incoming in [None, Some(""), Some("has space"), Some(too_long.as_str())] {
            let mut req = atest::TestRequest::get().uri("/");
            if let Some(value) = incoming {
                req = req.insert_header(("x-request-id", value));
            }
            let res = atest::call_service(&app, req.to_request()).await;
            let id = header(&res);
            let parsed = uuid::Uuid::parse_str(&id).expect("a uuid");
            assert_eq!(parsed.get_version_num(), 4);
            assert_eq!(atest::read_body(res).await, id.as_str());
        }
        let max = "b".repeat(128);
        let req = atest::TestRequest::get()
            .uri("/")
            .insert_header(("x-request-id", max.as_str()))
            .to_request();
        assert_eq!(header(&atest::call_service(&app, req).await), max);
    }

    #[actix_web::test]
    async fn the_header_is_set_on_error_statuses_too() {
        let app = atest::init_service(App::new().wrap(RequestId)).await;
        let res =
            atest::call_service(&app, atest::TestRequest::get().uri("/none").to_request()).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert!(!header(&res).is_empty());
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_log_line_of_the_request_carries_its_id_and_one_access_line_is_written() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        let serve_one = || {
            actix_web::rt::System::new().block_on(async {
                let app = atest::init_service(
                    App::new()
                        .wrap(RequestId)
                        .route("/items/{id}", web::get().to(echo_id)),
                )
                .await;
                let req = atest::TestRequest::get()
                    .uri("/items/7")
                    .insert_header(("x-request-id", "trace-me-42"))
                    .to_request();
                atest::call_service(&app, req).await;
            });
        };
        // tracing caches each callsite's interest globally. With a single registered
        // dispatcher it asks only the *registering thread's* default, so a parallel test thread
        // hitting our callsites first would disable them for good. A second live dispatcher
        // makes every registration consult all of them, ours included.
        let _second = tracing::Dispatch::new(tracing_subscriber::registry());
        tracing::subscriber::with_default(subscriber, || {
            tracing::callsite::rebuild_interest_cache();
            serve_one();
        });
        let output =
            String::from_utf8(buffer.0.lock().expect("buffer lock").clone()).expect("utf-8");
        let handler_line = output
            .lines()
            .find(|l| l.contains("inside handler"))
            .expect("handler logged");
        assert!(
            handler_line.contains("request_id=trace-me-42"),
            "{handler_line}"
        );
        let access: Vec<&str> = output
            .lines()
            .filter(|l| l.contains("request completed"))
            .collect();
        assert_eq!(access.len(), 1, "{output}");
        assert!(
            access[0].contains("request_id=trace-me-42"),
            "{}",
            access[0]
        );
        assert!(access[0].contains("status=200"), "{}", access[0]);
        assert!(access[0].contains("route=/items/{id}"), "{}", access[0]);
    }
}
