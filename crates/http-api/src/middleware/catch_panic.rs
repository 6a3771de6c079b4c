//! Panic recovery (contract section 3.1): a panic in an inner service or handler, including
//! while its future is polled, answers 500 `{"error":"internal server error"}` and the worker
//! keeps serving.
//!
//! actix cannot build a `ServiceResponse` without the request, and the request is lost when the
//! handler unwinds (holding a clone of it across routing would make routing panic). So the
//! 500 is returned as an `Err(actix_web::Error)` whose response is rendered by the server. Outer
//! layers cannot add headers to such an error, therefore the response already carries what they
//! would have added: the security headers, `X-Request-ID` (when [`super::RequestId`] ran
//! before) and the CORS headers (when [`super::Cors`] ran before). Outer layers still observe
//! the 500 status through `ResponseError::status_code` (metrics, access log).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{Ready, ready};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError};
use futures_util::FutureExt as _;
use futures_util::future::LocalBoxFuture;

use super::cors::CorsHeaders;
use super::request_id::{REQUEST_ID_HEADER, RequestIdValue};
use super::security_headers::apply_security_headers;

/// Per-request link between [`CatchPanic`] and the layers inside it, in request extensions.
///
/// Layers inside that add response headers ([`super::Cors`], [`super::RequestId`]) record them
/// here so the panic 500 carries them whatever the wrap order; [`super::RequestMetrics`] reads
/// `panicked` when its future is dropped unfinished, to count the 500.
#[derive(Debug, Clone, Default)]
pub(crate) struct PanicScope(Rc<PanicScopeInner>);

#[derive(Debug, Default)]
struct PanicScopeInner {
    headers: RefCell<Vec<(HeaderName, HeaderValue)>>,
    panicked: Cell<bool>,
}

impl PanicScope {
    /// The scope of this request, if a [`CatchPanic`] is outside the caller.
    pub(crate) fn of(req: &ServiceRequest) -> Option<Self> {
        req.extensions().get::<Self>().cloned()
    }

    /// Records `headers` for a possible panic response, if a [`CatchPanic`] is outside.
    pub(crate) fn add_headers(req: &ServiceRequest, headers: &[(HeaderName, HeaderValue)]) {
        if let Some(scope) = req.extensions().get::<Self>() {
            scope.0.headers.borrow_mut().extend(headers.iter().cloned());
        }
    }

    /// Whether the request's inner service panicked. Set before the inner future is dropped.
    pub(crate) fn panicked(&self) -> bool {
        self.0.panicked.get()
    }
}

/// The error a caught panic becomes; its response is the contract's exact 500.
#[derive(Debug)]
pub struct PanicError {
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl fmt::Display for PanicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("internal server error")
    }
}

impl ResponseError for PanicError {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::InternalServerError()
            .content_type("application/json")
            .body(r#"{"error":"internal server error"}"#);
        let headers = res.headers_mut();
        apply_security_headers(headers);
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        res
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload")
}

/// Middleware turning panics of inner layers into the contract's 500.
#[derive(Debug, Clone, Copy, Default)]
pub struct CatchPanic;

impl<S, B> Transform<S, ServiceRequest> for CatchPanic
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = CatchPanicService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CatchPanicService { service }))
    }
}

/// Service produced by [`CatchPanic`].
#[derive(Debug)]
pub struct CatchPanicService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for CatchPanicService<S>
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
        // Headers of layers that already ran (outside this one) ...
        let mut known = Vec::new();
        {
            let ext = req.extensions();
            if let Some(id) = ext.get::<RequestIdValue>()
                && let Ok(value) = HeaderValue::from_str(&id.0)
            {
                known.push((REQUEST_ID_HEADER, value));
            }
            if let Some(cors) = ext.get::<CorsHeaders>() {
                known.extend(cors.0.iter().cloned());
            }
        }
        // ... and of layers that will run inside it.
        let scope = PanicScope::default();
        scope.0.headers.replace(known);
        req.extensions_mut().insert(scope.clone());

        let method = req.method().clone();
        let path = req.path().to_owned();
        // The call itself may panic before returning a future.
        let called = std::panic::catch_unwind(AssertUnwindSafe(|| self.service.call(req)));
        Box::pin(async move {
            let outcome = match called {
                Ok(fut) => {
                    let guarded = std::pin::pin!(AssertUnwindSafe(fut).catch_unwind());
                    let outcome = guarded.await;
                    // Mark before the inner future is dropped (end of this block), so that
                    // layers inside see the panic from their drop guards.
                    scope.0.panicked.set(outcome.is_err());
                    outcome
                }
                Err(payload) => {
                    scope.0.panicked.set(true);
                    Err(payload)
                }
            };
            outcome.unwrap_or_else(|payload| {
                tracing::error!(
                    %method,
                    %path,
                    panic = panic_message(payload.as_ref()),
                    "handler panicked; answered 500"
                );
                let headers = scope.0.headers.borrow().clone();
                Err(PanicError { headers }.into())
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, test as atest, web};

    async fn boom() -> HttpResponse {
        panic!("boom in handler")
    }

    #[actix_web::test]
    async fn a_panicking_handler_answers_500_and_the_service_keeps_serving() {
        let app = atest::init_service(
            App::new()
                .wrap(CatchPanic)
                .route("/boom", web::get().to(boom))
                .route(
                    "/ok",
                    web::get().to(|| async { HttpResponse::Ok().body("fine") }),
                ),
        )
        .await;
        let err = app
            .call(atest::TestRequest::get().uri("/boom").to_request())
            .await
            .expect_err("a panic becomes an error response");
        assert_eq!(
            err.as_response_error().status_code(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let res = err.error_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            res.headers().get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
        assert_eq!(
            res.headers()
                .get("x-content-type-options")
                .map(|v| v.as_bytes()),
            Some(&b"nosniff"[..])
        );
        let body = actix_web::body::to_bytes(res.into_body())
            .await
            .expect("body readable");
        assert_eq!(body, r#"{"error":"internal server error"}"#);

        for _ in 0..2 {
            let res =
                atest::call_service(&app, atest::TestRequest::get().uri("/ok").to_request()).await;
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(atest::read_body(res).await, "fine");
        }
    }

    #[actix_web::test]
    async fn a_panic_while_polling_after_an_await_is_caught_too() {
        let app = atest::init_service(App::new().wrap(CatchPanic).route(
            "/late",
            web::get().to(|| async {
                actix_web::rt::task::yield_now().await;
                let values: Vec<u8> = Vec::new();
                // Index out of bounds, after the first poll returned Pending.
                HttpResponse::Ok().body(values[usize::from(values.is_empty())].to_string())
            }),
        ))
        .await;
        let err = app
            .call(atest::TestRequest::get().uri("/late").to_request())
            .await
            .expect_err("caught");
        assert_eq!(
            err.error_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn panic_messages_are_extracted_from_str_and_string_payloads() {
        let s: Box<dyn Any + Send> = Box::new("static");
        assert_eq!(panic_message(s.as_ref()), "static");
        let s: Box<dyn Any + Send> = Box::new(String::from("owned"));
        assert_eq!(panic_message(s.as_ref()), "owned");
        let s: Box<dyn Any + Send> = Box::new(7_u8);
        assert_eq!(panic_message(s.as_ref()), "non-string panic payload");
    }
}
