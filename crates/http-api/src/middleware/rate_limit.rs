//! Per-client token-bucket rate limiting (contract section 3.4, \[D-26\]).
//!
//! One governor keyed limiter is shared by all workers of an instance: build [`RateLimit`]
//! once and clone it into the app factory (clones share the buckets). The server calls
//! [`RateLimit::sweep_idle`] every `idle_timeout` so that memory does not grow with every
//! client address ever seen.

use std::fmt;
use std::future::{Ready, ready};
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{Error, HttpMessage};
use futures_util::future::LocalBoxFuture;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use ipnet::IpNet;

use super::client_ip::{ClientIp, client_ip, default_trusted_proxies};
use super::json_error;

/// Paths that never consume a token.
pub const EXEMPT_PATHS: [&str; 4] = ["/health", "/ready", "/live", "/metrics"];

/// Configuration of [`RateLimit`] (`RATE_LIMIT_*`, `TRUSTED_PROXIES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// `RATE_LIMIT_ENABLED`; when false every request passes.
    pub enabled: bool,
    /// `RATE_LIMIT_RPM`: refill rate is this many tokens per minute (0 is treated as 1).
    pub requests_per_minute: u32,
    /// `RATE_LIMIT_BURST`: bucket capacity (0 is treated as 1).
    pub burst: u32,
    /// `RATE_LIMIT_CLEANUP`: how often the server should call [`RateLimit::sweep_idle`].
    pub idle_timeout: Duration,
    /// `TRUSTED_PROXIES`: peers whose forwarding headers are believed.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for RateLimitSettings {
    /// The contract's defaults: enabled, 100 per minute, burst 10, cleanup every 10 minutes,
    /// loopback and private ranges trusted.
    fn default() -> Self {
        Self {
            enabled: true,
            requests_per_minute: 100,
            burst: 10,
            idle_timeout: Duration::from_secs(600),
            trusted_proxies: default_trusted_proxies(),
        }
    }
}

type KeyedLimiter<C> =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, C, NoOpMiddleware<<C as Clock>::Instant>>;

struct Shared<C: Clock> {
    settings: RateLimitSettings,
    limiter: KeyedLimiter<C>,
}

/// Rate-limiting middleware. Generic over governor's clock only so that tests can drive time;
/// the server uses the default `RateLimit` (real clock).
pub struct RateLimit<C: Clock = DefaultClock> {
    shared: Arc<Shared<C>>,
}

impl<C: Clock> Clone for RateLimit<C> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<C: Clock> fmt::Debug for RateLimit<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("settings", &self.shared.settings)
            .field("tracked_clients", &self.shared.limiter.len())
            .finish()
    }
}

impl RateLimit {
    /// Builds the limiter on the real clock.
    pub fn new(settings: RateLimitSettings) -> Self {
        Self::with_clock(settings, DefaultClock::default())
    }
}

impl<C: Clock> RateLimit<C> {
    /// Builds the limiter on the given clock.
    pub fn with_clock(settings: RateLimitSettings, clock: C) -> Self {
        let rpm = NonZeroU32::new(settings.requests_per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(rpm).allow_burst(burst);
        Self {
            shared: Arc::new(Shared {
                limiter: RateLimiter::dashmap_with_clock(quota, clock),
                settings,
            }),
        }
    }

    /// The settings this limiter was built with (the server reads `idle_timeout`).
    pub fn settings(&self) -> &RateLimitSettings {
        &self.shared.settings
    }

    /// Drops the buckets that are full again (indistinguishable from a new client) and
    /// releases the memory they used.
    pub fn sweep_idle(&self) {
        self.shared.limiter.retain_recent();
        self.shared.limiter.shrink_to_fit();
    }

    /// Number of client buckets currently held.
    pub fn tracked_clients(&self) -> usize {
        self.shared.limiter.len()
    }

    /// Takes one token for `ip`; on refusal returns the wait in whole seconds (at least 1).
    fn take(&self, ip: IpAddr) -> Result<(), u64> {
        let limiter = &self.shared.limiter;
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(limiter.clock().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            secs.max(1)
        })
    }
}

impl<S, B, C> Transform<S, ServiceRequest> for RateLimit<C>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
    C: Clock,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = RateLimitService<S, C>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RateLimitService {
            service,
            limit: self.clone(),
        }))
    }
}

/// Service produced by [`RateLimit`].
#[derive(Debug)]
pub struct RateLimitService<S, C: Clock = DefaultClock> {
    service: S,
    limit: RateLimit<C>,
}

impl<S, B, C> Service<ServiceRequest> for RateLimitService<S, C>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
    C: Clock,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let settings = &self.limit.shared.settings;
        let ip = client_ip(
            req.peer_addr().map(|a| a.ip()),
            req.headers(),
            &settings.trusted_proxies,
        );
        if let Some(ip) = ip {
            req.extensions_mut().insert(ClientIp(ip));
        }
        let exempt = !settings.enabled || EXEMPT_PATHS.contains(&req.path());
        if !exempt {
            // A request without a peer address (not possible over TCP) shares one bucket
            // rather than escaping the limit.
            let key = ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            if let Err(retry_after) = self.limit.take(key) {
                metrics::counter!("http_rate_limited_total").increment(1);
                tracing::debug!(client_ip = %key, retry_after, "rate limit exceeded");
                let mut res = json_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    serde_json::json!({"error": "rate limit exceeded"}),
                );
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                return Box::pin(ready(Ok(req.into_response(res).map_into_right_body())));
            }
        }
        let fut = self.service.call(req);
        Box::pin(async move { fut.await.map(ServiceResponse::map_into_left_body) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, HttpRequest, HttpResponse, test as atest, web};
    use governor::clock::FakeRelativeClock;
    use std::net::SocketAddr;

    fn settings(rpm: u32, burst: u32) -> RateLimitSettings {
        RateLimitSettings {
            requests_per_minute: rpm,
            burst,
            ..RateLimitSettings::default()
        }
    }

    fn peer(s: &str) -> SocketAddr {
        SocketAddr::new(s.parse().expect("test address"), 40000)
    }

    fn get(path: &str, from: &str) -> actix_web::test::TestRequest {
        atest::TestRequest::get().uri(path).peer_addr(peer(from))
    }

    async fn echo_client_ip(req: HttpRequest) -> HttpResponse {
        let ip = req.extensions().get::<ClientIp>().map(|c| c.0.to_string());
        HttpResponse::Ok().body(ip.unwrap_or_default())
    }

    macro_rules! app {
        ($limit:expr) => {
            atest::init_service(
                App::new()
                    .wrap($limit)
                    .default_service(web::to(echo_client_ip)),
            )
            .await
        };
    }

    #[actix_web::test]
    async fn the_burst_passes_then_429_with_body_and_retry_after() {
        let clock = FakeRelativeClock::default();
        let app = app!(RateLimit::with_clock(settings(60, 3), clock.clone()));
        for _ in 0..3 {
            let res =
                atest::call_service(&app, get("/api/v1/tasks", "203.0.113.1").to_request()).await;
            assert_eq!(res.status(), StatusCode::OK);
        }
        let res = atest::call_service(&app, get("/api/v1/tasks", "203.0.113.1").to_request()).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        // 60 per minute: one token per second, so the wait is exactly one second.
        assert_eq!(
            res.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        assert!(
            res.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| ct.starts_with("application/json"))
        );
        let body: serde_json::Value = atest::read_body_json(res).await;
        assert_eq!(body, serde_json::json!({"error": "rate limit exceeded"}));
    }

    #[actix_web::test]
    async fn tokens_refill_at_rpm_over_sixty_per_second() {
        let clock = FakeRelativeClock::default();
        let app = app!(RateLimit::with_clock(settings(6, 1), clock.clone()));
        let call = || get("/x", "203.0.113.1").to_request();
        assert_eq!(
            atest::call_service(&app, call()).await.status(),
            StatusCode::OK
        );
        let res = atest::call_service(&app, call()).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        // 6 per minute: one token every 10 s.
        assert_eq!(
            res.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"10"[..])
        );
        clock.advance(Duration::from_millis(9_500));
        let res = atest::call_service(&app, call()).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        // 0.5 s left is rounded up to a whole second.
        assert_eq!(
            res.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        clock.advance(Duration::from_millis(500));
        assert_eq!(
            atest::call_service(&app, call()).await.status(),
            StatusCode::OK
        );
    }

    #[actix_web::test]
    async fn buckets_are_per_client_address() {
        let app = app!(RateLimit::with_clock(
            settings(60, 1),
            FakeRelativeClock::default()
        ));
        assert_eq!(
            atest::call_service(&app, get("/x", "203.0.113.1").to_request())
                .await
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            atest::call_service(&app, get("/x", "203.0.113.1").to_request())
                .await
                .status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            atest::call_service(&app, get("/x", "203.0.113.2").to_request())
                .await
                .status(),
            StatusCode::OK
        );
    }

    #[actix_web::test]
    async fn a_forged_forwarded_for_does_not_give_a_fresh_bucket() {
        let app = app!(RateLimit::with_clock(
            settings(60, 1),
            FakeRelativeClock::default()
        ));
        let forged = |n: u8| {
            get("/x", "203.0.113.1")
                .insert_header(("x-forwarded-for", format!("198.51.100.{n}")))
                .to_request()
        };
        assert_eq!(
            atest::call_service(&app, forged(1)).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            atest::call_service(&app, forged(2)).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }

    #[actix_web::test]
    async fn behind_a_trusted_proxy_clients_are_told_apart_by_forwarded_for() {
        let app = app!(RateLimit::with_clock(
            settings(60, 1),
            FakeRelativeClock::default()
        ));
        let via_proxy = |client: &str| {
            get("/x", "127.0.0.1")
                .insert_header(("x-forwarded-for", client.to_owned()))
                .to_request()
        };
        let res = atest::call_service(&app, via_proxy("198.51.100.1")).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(atest::read_body(res).await, "198.51.100.1");
        assert_eq!(
            atest::call_service(&app, via_proxy("198.51.100.2"))
                .await
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            atest::call_service(&app, via_proxy("198.51.100.1"))
                .await
                .status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }

    #[actix_web::test]
    async fn operational_paths_are_exempt() {
        let app = app!(RateLimit::with_clock(
            settings(60, 1),
            FakeRelativeClock::default()
        ));
        for _ in 0..5 {
            for path in EXEMPT_PATHS {
                let res = atest::call_service(&app, get(path, "203.0.113.1").to_request()).await;
                assert_eq!(res.status(), StatusCode::OK, "{path}");
            }
        }
        // The exempt calls took no token: the first limited call still passes.
        assert_eq!(
            atest::call_service(&app, get("/x", "203.0.113.1").to_request())
                .await
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            atest::call_service(&app, get("/healthz", "203.0.113.1").to_request())
                .await
                .status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }

    #[actix_web::test]
    async fn disabled_limiter_lets_everything_through_and_still_records_the_client() {
        let limit = RateLimit::with_clock(
            RateLimitSettings {
                enabled: false,
                ..settings(60, 1)
            },
            FakeRelativeClock::default(),
        );
        let app = app!(limit.clone());
        for _ in 0..5 {
            let res = atest::call_service(&app, get("/x", "203.0.113.1").to_request()).await;
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(atest::read_body(res).await, "203.0.113.1");
        }
        assert_eq!(limit.tracked_clients(), 0);
    }

    #[actix_web::test]
    async fn requests_without_peer_share_one_bucket() {
        let app = app!(RateLimit::with_clock(
            settings(60, 1),
            FakeRelativeClock::default()
        ));
        assert_eq!(
            atest::call_service(&app, atest::TestRequest::get().uri("/x").to_request())
                .await
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            atest::call_service(&app, atest::TestRequest::get().uri("/x").to_request())
                .await
                .status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }

    #[actix_web::test]
    async fn sweep_idle_drops_refilled_buckets_only() {
        let clock = FakeRelativeClock::default();
        let limit = RateLimit::with_clock(settings(60, 2), clock.clone());
        let app = app!(limit.clone());
        atest::call_service(&app, get("/x", "203.0.113.1").to_request()).await;
        atest::call_service(&app, get("/x", "203.0.113.2").to_request()).await;
        assert_eq!(limit.tracked_clients(), 2);
        limit.sweep_idle();
        assert_eq!(limit.tracked_clients(), 2, "buckets not yet full stay");
        clock.advance(Duration::from_secs(5));
        atest::call_service(&app, get("/x", "203.0.113.2").to_request()).await;
        clock.advance(Duration::from_secs(1));
        limit.sweep_idle();
        assert_eq!(
            limit.tracked_clients(),
            1,
            "only the recently used bucket stays"
        );
        clock.advance(Duration::from_secs(60));
        limit.sweep_idle();
        assert_eq!(limit.tracked_clients(), 0);
    }

    #[test]
    fn defaults_match_the_contract() {
        let s = RateLimitSettings::default();
        assert!(s.enabled);
        assert_eq!((s.requests_per_minute, s.burst), (100, 10));
        assert_eq!(s.idle_timeout, Duration::from_secs(600));
        assert_eq!(s.trusted_proxies, default_trusted_proxies());
    }
}
