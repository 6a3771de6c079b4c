//! Refusal of URIs carrying an encoded NUL (`%00`), before routing.
//!
//! A NUL decoded from the path or the query would reach PostgreSQL, which refuses it in
//! text, as a name (a role, an attribute, a filter) and turn bad input into a 500; no route
//! has a use for it, so such a request is a 400 here. (NUL inside JSON bodies is refused by
//! the routes' body parser, `crate::body`.)

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

use super::json_error;

/// The 400 for a URI holding `%00`.
fn nul_in_uri_response() -> HttpResponse {
    json_error(
        StatusCode::BAD_REQUEST,
        serde_json::json!({
            "error": "invalid_request",
            "message": "The request URI must not contain NUL characters"
        }),
    )
}

/// Middleware function (wrap it with `actix_web::middleware::from_fn`) answering 400 to a
/// request whose path or query encodes a NUL.
///
/// # Errors
/// Whatever the inner service returns.
pub async fn refuse_nul_in_uri(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if req
        .uri()
        .path_and_query()
        .is_some_and(|uri| uri.as_str().contains("%00"))
    {
        return Ok(req
            .into_response(nul_in_uri_response())
            .map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::middleware::from_fn;
    use actix_web::{App, test as atest, web};

    #[actix_web::test]
    async fn an_encoded_nul_in_path_or_query_is_400_before_the_handler() {
        let app = atest::init_service(
            App::new()
                .wrap(from_fn(refuse_nul_in_uri))
                .default_service(web::to(HttpResponse::Ok)),
        )
        .await;
        for uri in ["/roles/%00", "/tasks?q=a%00b"] {
            let res =
                atest::call_service(&app, atest::TestRequest::get().uri(uri).to_request()).await;
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{uri}");
            let body: serde_json::Value = atest::read_body_json(res).await;
            assert_eq!(body["error"], "invalid_request", "{uri}");
        }
        // `%2500` is the text "%00", not a NUL.
        let req = atest::TestRequest::get().uri("/tasks?q=%2500").to_request();
        assert_eq!(
            atest::call_service(&app, req).await.status(),
            StatusCode::OK
        );
    }
}
