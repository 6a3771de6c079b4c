//! What the authorization service and the audit log need to know about the HTTP request a
//! decision is made for (contract 11.4, 11.5).

use actix_web::{HttpMessage, HttpRequest, http::header};
use application::authorization::RequestContext;

use crate::middleware::{ClientIp, RequestIdValue};

/// The request's client address (as the rate limiter resolved it, trusted proxies
/// considered), user agent, request id, method and path.
#[must_use]
pub fn request_context(req: &HttpRequest) -> RequestContext {
    let extensions = req.extensions();
    RequestContext {
        ip: extensions
            .get::<ClientIp>()
            .map(|ip| ip.0)
            .or_else(|| req.peer_addr().map(|address| address.ip())),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        request_id: extensions
            .get::<RequestIdValue>()
            .map(|id| id.0.clone())
            .unwrap_or_default(),
        method: req.method().as_str().to_owned(),
        path: req.path().to_owned(),
    }
}
