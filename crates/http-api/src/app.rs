//! Assembles the actix-web application: the pipeline of contract section 3 around the
//! routes. The binary calls [`build_app`] once per worker; tests call it the same way.

use std::sync::Arc;

use actix_web::{
    App, Error,
    body::MessageBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    middleware::from_fn,
    web,
};

use crate::{
    ApiState,
    errors::{self, MAX_BODY_BYTES},
    middleware::{
        BodyLimit, CatchPanic, Cors, CorsSettings, RateLimit, RateLimitSettings, RequestId,
        RequestMetrics, RequestStats, SecurityHeaders, refuse_nul_in_uri,
    },
    ops,
};

/// The configurable parts of the pipeline.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub cors: CorsSettings,
    pub rate_limit: RateLimitSettings,
}

/// The pipeline's shared pieces, built once per process and shared by every worker (the
/// rate limiter's buckets and the request counters must not be per worker).
#[derive(Clone)]
pub struct Pipeline {
    cors: Cors,
    rate_limit: RateLimit,
    request_stats: Arc<RequestStats>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Builds the shared middleware state.
    #[must_use]
    pub fn new(settings: HttpSettings, request_stats: Arc<RequestStats>) -> Self {
        Self {
            cors: Cors::new(settings.cors),
            rate_limit: RateLimit::new(settings.rate_limit),
            request_stats,
        }
    }

    /// The limiter, so the binary can drop idle buckets periodically.
    #[must_use]
    pub fn rate_limiter(&self) -> &RateLimit {
        &self.rate_limit
    }
}

/// Extra routes a caller may add (tests add a panicking route through this).
pub type ExtraRoutes = fn(&mut web::ServiceConfig);

/// The whole application: middleware in the contract's order, then the routes.
///
/// actix applies the last `.wrap()` outermost, so the calls below read inside-out.
pub fn build_app(
    state: ApiState,
    pipeline: Pipeline,
    extra_routes: Option<ExtraRoutes>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let json_config = web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .content_type_required(false)
        .error_handler(errors::json_error);
    App::new()
        .app_data(web::Data::new(state))
        .app_data(json_config)
        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .configure(ops::configure)
        .configure(crate::routes::auth::configure)
        // Routes are tried in order, and each `{param}` pattern is a regular expression:
        // the busiest ones (tasks) go first. No task pattern overlaps a user pattern.
        .configure(crate::routes::tasks::configure)
        .configure(crate::routes::users::configure)
        .configure(crate::routes::authz::configure)
        .configure(crate::routes::cache::configure)
        .configure(crate::routes::jobs::configure)
        .configure(|cfg| {
            if let Some(extra) = extra_routes {
                extra(cfg);
            }
        })
        .default_service(web::to(errors::route_not_found))
        .wrap(from_fn(refuse_nul_in_uri))
        .wrap(BodyLimit::new(MAX_BODY_BYTES))
        // CORS sits outside the limiter so that a 429 carries CORS headers (D-26); this is the
        // one departure from section 3's order, and it spares preflights a token.
        .wrap(pipeline.rate_limit)
        .wrap(pipeline.cors)
        .wrap(SecurityHeaders)
        .wrap(RequestMetrics::new(pipeline.request_stats))
        .wrap(CatchPanic)
        .wrap(RequestId)
}
