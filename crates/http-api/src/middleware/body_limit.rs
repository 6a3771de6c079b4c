//! Early refusal of oversized bodies (contract 1.2, \[D-37\]).
//!
//! A request announcing a `Content-Length` above the limit is answered 413 before any handler
//! runs or any byte of the body is read. Bodies without `Content-Length` (chunked) are limited
//! by the extractors' `JsonConfig` / `PayloadConfig`, configured by the application with the
//! same limit and body ([`too_large_response`]).

use std::future::{Ready, ready};

use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{Error, HttpResponse};
use futures_util::future::LocalBoxFuture;

use super::json_error;

/// The contract's limit: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// The contract's 413 response.
pub fn too_large_response() -> HttpResponse {
    json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        serde_json::json!({
            "error": "request_too_large",
            "message": "Request body exceeds 1 MiB"
        }),
    )
}

/// Middleware refusing requests whose `Content-Length` exceeds `max_bytes`.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    max_bytes: usize,
}

impl BodyLimit {
    /// Limit in bytes; the contract's value is [`DEFAULT_MAX_BODY_BYTES`].
    pub fn new(max_bytes: usize) -> Self {
        Self { max_bytes }
    }
}

impl Default for BodyLimit {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_BODY_BYTES)
    }
}

impl<S, B> Transform<S, ServiceRequest> for BodyLimit
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = BodyLimitService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(BodyLimitService {
            service,
            max_bytes: self.max_bytes,
        }))
    }
}

/// Service produced by [`BodyLimit`].
#[derive(Debug)]
pub struct BodyLimitService<S> {
    service: S,
    max_bytes: usize,
}

impl<S, B> Service<ServiceRequest> for BodyLimitService<S>
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
        let announced = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if announced
            .is_some_and(|len| usize::try_from(len).map_or(true, |len| len > self.max_bytes))
        {
            let res = req.into_response(too_large_response());
            return Box::pin(ready(Ok(res.map_into_right_body())));
        }
        let fut = self.service.call(req);
        Box::pin(async move { fut.await.map(ServiceResponse::map_into_left_body) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, test as atest, web};
    use std::cell::Cell;
    use std::rc::Rc;

    #[actix_web::test]
    async fn an_announced_oversized_body_is_413_before_the_handler() {
        let hits = Rc::new(Cell::new(0_u32));
        let seen = Rc::clone(&hits);
        let app = atest::init_service(
            App::new()
                .wrap(BodyLimit::default())
                .app_data(web::PayloadConfig::new(4 * 1024 * 1024))
                .route(
                    "/upload",
                    web::post().to(move |body: web::Bytes| {
                        seen.set(seen.get() + 1);
                        let len = body.len();
                        async move { HttpResponse::Ok().body(len.to_string()) }
                    }),
                ),
        )
        .await;

        let exact = vec![b'a'; 1024 * 1024];
        let req = atest::TestRequest::post()
            .uri("/upload")
            .set_payload(exact)
            .to_request();
        let res = atest::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(hits.get(), 1);

        let req = atest::TestRequest::post()
            .uri("/upload")
            .insert_header(("content-length", "1048577"))
            .to_request();
        let res = atest::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(hits.get(), 1, "handler not run");
        let body: serde_json::Value = atest::read_body_json(res).await;
        assert_eq!(
            body,
            serde_json::json!({"error": "request_too_large", "message": "Request body exceeds 1 MiB"})
        );
    }

    #[actix_web::test]
    async fn the_limit_is_configurable() {
        let app = atest::init_service(
            App::new()
                .wrap(BodyLimit::new(4))
                .default_service(web::to(HttpResponse::Ok)),
        )
        .await;
        let req = atest::TestRequest::post()
            .uri("/")
            .set_payload("1234")
            .to_request();
        assert_eq!(
            atest::call_service(&app, req).await.status(),
            StatusCode::OK
        );
        let req = atest::TestRequest::post()
            .uri("/")
            .set_payload("12345")
            .to_request();
        assert_eq!(
            atest::call_service(&app, req).await.status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }
}
