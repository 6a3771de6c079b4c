//! The security headers of contract section 3.2, set on every response.
//!
//! The service is the single source of these headers \[D-32\], so they are *set* (replacing any
//! value an inner layer may have written) rather than appended.

use std::future::{Ready, ready};

use actix_web::Error;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use futures_util::future::LocalBoxFuture;

/// The six headers of section 3.2, lower-case name and exact value.
pub const SECURITY_HEADERS: [(&str, &str); 6] = [
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("x-xss-protection", "1; mode=block"),
    ("referrer-policy", "no-referrer"),
    ("content-security-policy", "default-src 'self'"),
];

/// Sets the six security headers on `headers`, replacing existing values.
pub fn apply_security_headers(headers: &mut HeaderMap) {
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
}

/// Middleware adding [`SECURITY_HEADERS`] to every response an inner layer produces
/// (2xx, 4xx, 5xx, including 403/429 answered by CORS and the rate limiter).
#[derive(Debug, Clone, Copy, Default)]
pub struct SecurityHeaders;

impl<S, B> Transform<S, ServiceRequest> for SecurityHeaders
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = SecurityHeadersService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SecurityHeadersService { service }))
    }
}

/// Service produced by [`SecurityHeaders`].
#[derive(Debug)]
pub struct SecurityHeadersService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for SecurityHeadersService<S>
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
        let fut = self.service.call(req);
        Box::pin(async move {
            let mut res = fut.await?;
            apply_security_headers(res.headers_mut());
            Ok(res)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::StatusCode;
    use actix_web::{App, HttpResponse, test as atest, web};

    fn assert_security_headers(headers: &HeaderMap) {
        for (name, value) in SECURITY_HEADERS {
            let values: Vec<_> = headers.get_all(name).collect();
            assert_eq!(values.len(), 1, "exactly one {name}");
            assert_eq!(values[0], value, "value of {name}");
        }
    }

    #[actix_web::test]
    async fn every_status_carries_the_six_headers() {
        let app = atest::init_service(
            App::new()
                .wrap(SecurityHeaders)
                .route("/ok", web::get().to(HttpResponse::Ok))
                .route("/boom", web::get().to(HttpResponse::InternalServerError))
                .route(
                    "/dup",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .insert_header(("x-frame-options", "SAMEORIGIN"))
                            .finish()
                    }),
                ),
        )
        .await;
        for (path, status) in [
            ("/ok", StatusCode::OK),
            ("/boom", StatusCode::INTERNAL_SERVER_ERROR),
            ("/missing", StatusCode::NOT_FOUND),
            ("/dup", StatusCode::OK),
        ] {
            let res =
                atest::call_service(&app, atest::TestRequest::get().uri(path).to_request()).await;
            assert_eq!(res.status(), status, "{path}");
            assert_security_headers(res.headers());
        }
    }
}
