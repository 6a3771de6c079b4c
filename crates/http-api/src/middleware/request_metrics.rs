//! Request counters for `/metrics` (contract section 10.4, \[D-25\]).
//!
//! Two representations of the same observations: the `metrics` facade (Prometheus text,
//! labelled by route template so cardinality stays bounded) and [`RequestStats`], the
//! counters behind the JSON `application` object.

use std::collections::BTreeMap;
use std::future::{Ready, ready};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::Error;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use time::OffsetDateTime;

use super::catch_panic::PanicScope;

/// Route label for requests that matched no route, and for the rare request that ends
/// without a response object (an error or panic inside): its pattern would cost a second
/// walk of the route table on every request, before routing, to know.
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Debug, Default)]
struct Tallies {
    status_codes: BTreeMap<String, u64>,
    endpoint_calls: BTreeMap<String, u64>,
    last_request: Option<OffsetDateTime>,
}

/// Counters behind the JSON form of `/metrics`; shared by all workers (`Arc`).
#[derive(Debug)]
pub struct RequestStats {
    start_time: OffsetDateTime,
    request_count: AtomicU64,
    total_duration_nanos: AtomicU64,
    active_requests: AtomicU64,
    error_count: AtomicU64,
    tallies: Mutex<Tallies>,
}

/// The `application` object of the JSON `/metrics` body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestStatsSnapshot {
    /// Completed requests.
    pub request_count: u64,
    /// Mean latency in milliseconds (0 before the first request).
    pub avg_request_duration_ms: f64,
    /// Requests in flight now.
    pub active_requests: u64,
    /// Completed requests with status >= 400.
    pub error_count: u64,
    /// Completed requests by reason phrase (`"OK"`, `"Not Found"`, ...).
    pub status_codes: BTreeMap<String, u64>,
    /// Completed requests by `"<METHOD> <template with :params>"`, or `"<METHOD> "`.
    pub endpoint_calls: BTreeMap<String, u64>,
    /// When the counters started.
    #[serde(with = "time::serde::rfc3339")]
    pub start_time: OffsetDateTime,
    /// When the last request completed; `null` before the first.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_request: Option<OffsetDateTime>,
}

impl Default for RequestStats {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestStats {
    /// Counters starting now.
    pub fn new() -> Self {
        Self::starting_at(OffsetDateTime::now_utc())
    }

    /// Counters starting at `start_time` (the process start, if the server knows it).
    pub fn starting_at(start_time: OffsetDateTime) -> Self {
        Self {
            start_time,
            request_count: AtomicU64::new(0),
            total_duration_nanos: AtomicU64::new(0),
            active_requests: AtomicU64::new(0),
            error_count: AtomicU64::new(0),
            tallies: Mutex::new(Tallies::default()),
        }
    }

    /// A consistent-enough copy for serialisation.
    pub fn snapshot(&self) -> RequestStatsSnapshot {
        let request_count = self.request_count.load(Ordering::Relaxed);
        let total_nanos = self.total_duration_nanos.load(Ordering::Relaxed);
        let avg_request_duration_ms = if request_count == 0 {
            0.0
        } else {
            // Precision loss only beyond 2^53 ns (104 days of summed latency): acceptable.
            #[allow(clippy::cast_precision_loss)]
            let avg = total_nanos as f64 / request_count as f64 / 1_000_000.0;
            avg
        };
        let tallies = self.tallies.lock().unwrap_or_else(PoisonError::into_inner);
        RequestStatsSnapshot {
            request_count,
            avg_request_duration_ms,
            active_requests: self.active_requests.load(Ordering::Relaxed),
            error_count: self.error_count.load(Ordering::Relaxed),
            status_codes: tallies.status_codes.clone(),
            endpoint_calls: tallies.endpoint_calls.clone(),
            start_time: self.start_time,
            last_request: tallies.last_request,
        }
    }

    fn started(&self) {
        self.active_requests.fetch_add(1, Ordering::Relaxed);
    }

    fn finished(&self) {
        self.active_requests.fetch_sub(1, Ordering::Relaxed);
    }

    /// Records one completed request. `route` is the matched pattern, if any.
    fn record(&self, method: &str, route: Option<&str>, status: StatusCode, elapsed: Duration) {
        self.request_count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.total_duration_nanos
            .fetch_add(nanos, Ordering::Relaxed);
        if status.as_u16() >= 400 {
            self.error_count.fetch_add(1, Ordering::Relaxed);
        }
        let reason = status
            .canonical_reason()
            .map_or_else(|| status.as_str().to_owned(), str::to_owned);
        let endpoint = format!("{method} {}", route.map(colon_params).unwrap_or_default());
        let mut tallies = self.tallies.lock().unwrap_or_else(PoisonError::into_inner);
        *tallies.status_codes.entry(reason).or_insert(0) += 1;
        *tallies.endpoint_calls.entry(endpoint).or_insert(0) += 1;
        tallies.last_request = Some(OffsetDateTime::now_utc());
    }
}

/// Rewrites actix path parameters `{name}` / `{name:regex}` as `:name`.
pub fn colon_params(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let inner = &after[..close];
        let name = inner.split(':').next().unwrap_or(inner);
        out.push(':');
        out.push_str(name);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Follows one request: counts it in flight from creation to drop (so the counters stay right
/// when the client goes away and the future is dropped) and records its completion once.
struct Tracker {
    stats: Arc<RequestStats>,
    method: String,
    started: Instant,
    panic_scope: Option<PanicScope>,
    done: bool,
}

impl Tracker {
    fn start(stats: Arc<RequestStats>, req: &ServiceRequest) -> Self {
        stats.started();
        metrics::gauge!("http_requests_in_flight").increment(1.0);
        Self {
            stats,
            method: req.method().as_str().to_owned(),
            started: Instant::now(),
            panic_scope: PanicScope::of(req),
            done: false,
        }
    }

    fn finish(&mut self, status: StatusCode, route: Option<String>) {
        self.done = true;
        let elapsed = self.started.elapsed();
        self.stats
            .record(&self.method, route.as_deref(), status, elapsed);
        let route_label = route.unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
        metrics::counter!(
            "http_requests_total",
            "method" => self.method.clone(),
            "route" => route_label.clone(),
            "status" => status.as_str().to_owned()
        )
        .increment(1);
        metrics::histogram!(
            "http_request_duration_seconds",
            "method" => self.method.clone(),
            "route" => route_label
        )
        .record(elapsed.as_secs_f64());
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        // A panic inside drops this layer's future unfinished, either while unwinding through
        // it or, once a `CatchPanic` outside caught it, right after: count the 500 the client
        // receives. Otherwise an unfinished request was abandoned by the client.
        let panicked =
            std::thread::panicking() || self.panic_scope.as_ref().is_some_and(PanicScope::panicked);
        if !self.done && panicked {
            self.finish(StatusCode::INTERNAL_SERVER_ERROR, None);
        }
        self.stats.finished();
        metrics::gauge!("http_requests_in_flight").decrement(1.0);
    }
}

/// Middleware recording every request into the metrics facade and [`RequestStats`].
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    stats: Arc<RequestStats>,
}

impl RequestMetrics {
    /// Records into `stats` (which the `/metrics` handler snapshots).
    pub fn new(stats: Arc<RequestStats>) -> Self {
        Self { stats }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequestMetrics
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RequestMetricsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestMetricsService {
            service,
            stats: Arc::clone(&self.stats),
        }))
    }
}

/// Service produced by [`RequestMetrics`].
#[derive(Debug)]
pub struct RequestMetricsService<S> {
    service: S,
    stats: Arc<RequestStats>,
}

impl<S, B> Service<ServiceRequest> for RequestMetricsService<S>
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
        let mut tracker = Tracker::start(Arc::clone(&self.stats), &req);
        let fut = self.service.call(req);
        Box::pin(async move {
            let result = fut.await;
            // The exact pattern is known only after routing, i.e. after the inner service ran.
            let (status, route) = match &result {
                Ok(res) => (res.status(), res.request().match_pattern()),
                Err(err) => (err.as_response_error().status_code(), None),
            };
            tracker.finish(status, route);
            drop(tracker);
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, HttpResponse, test as atest, web};

    #[test]
    fn colon_params_rewrites_every_parameter() {
        assert_eq!(colon_params("/api/v1/tasks/{id}"), "/api/v1/tasks/:id");
        assert_eq!(
            colon_params("/api/v1/users/{user_id}/tasks"),
            "/api/v1/users/:user_id/tasks"
        );
        assert_eq!(colon_params("/a/{x:\\d+}/b/{y}"), "/a/:x/b/:y");
        assert_eq!(colon_params("/health"), "/health");
        assert_eq!(colon_params("/broken/{x"), "/broken/{x");
    }

    #[test]
    fn an_empty_snapshot_has_null_last_request_and_zero_average() {
        let stats = RequestStats::starting_at(time::macros::datetime!(2026-01-02 03:04:05 UTC));
        let json = serde_json::to_value(stats.snapshot()).expect("serialisable");
        assert_eq!(
            json,
            serde_json::json!({
                "request_count": 0,
                "avg_request_duration_ms": 0.0,
                "active_requests": 0,
                "error_count": 0,
                "status_codes": {},
                "endpoint_calls": {},
                "start_time": "2026-01-02T03:04:05Z",
                "last_request": null
            })
        );
    }

    #[test]
    fn record_computes_average_in_milliseconds_and_error_count() {
        let stats = RequestStats::new();
        stats.record("GET", Some("/a"), StatusCode::OK, Duration::from_millis(10));
        stats.record(
            "GET",
            None,
            StatusCode::NOT_FOUND,
            Duration::from_millis(30),
        );
        let snap = stats.snapshot();
        assert_eq!(snap.request_count, 2);
        assert!((snap.avg_request_duration_ms - 20.0).abs() < 1e-9);
        assert_eq!(snap.error_count, 1);
        assert!(snap.last_request.is_some());
        assert_eq!(snap.endpoint_calls.get("GET "), Some(&1));
    }

    #[actix_web::test]
    async fn counts_requests_by_reason_phrase_and_route_template() {
        let stats = Arc::new(RequestStats::new());
        let app = atest::init_service(
            App::new()
                .wrap(RequestMetrics::new(Arc::clone(&stats)))
                .service(
                    web::scope("/api/v1")
                        .route("/tasks/{id}", web::get().to(HttpResponse::Ok))
                        .route("/users/{user_id}/tasks", web::get().to(HttpResponse::Ok))
                        .route("/tasks", web::post().to(HttpResponse::Created)),
                )
                .route("/limited", web::get().to(HttpResponse::TooManyRequests)),
        )
        .await;
        for (method, path) in [
            ("GET", "/api/v1/tasks/1"),
            ("GET", "/api/v1/tasks/2"),
            ("GET", "/api/v1/users/9/tasks"),
            ("POST", "/api/v1/tasks"),
            ("GET", "/nowhere"),
            ("DELETE", "/nowhere/else"),
            ("GET", "/limited"),
        ] {
            let req = atest::TestRequest::default()
                .method(method.parse().expect("method"))
                .uri(path)
                .to_request();
            atest::call_service(&app, req).await;
        }
        let snap = stats.snapshot();
        assert_eq!(snap.request_count, 7);
        assert_eq!(snap.active_requests, 0);
        assert_eq!(snap.error_count, 3);
        let expected_status: BTreeMap<String, u64> = [
            ("OK".to_owned(), 3),
            ("Created".to_owned(), 1),
            ("Not Found".to_owned(), 2),
            ("Too Many Requests".to_owned(), 1),
        ]
        .into();
        assert_eq!(snap.status_codes, expected_status);
        let expected_calls: BTreeMap<String, u64> = [
            ("GET /api/v1/tasks/:id".to_owned(), 2),
            ("GET /api/v1/users/:user_id/tasks".to_owned(), 1),
            ("POST /api/v1/tasks".to_owned(), 1),
            ("GET ".to_owned(), 1),
            ("DELETE ".to_owned(), 1),
            ("GET /limited".to_owned(), 1),
        ]
        .into();
        assert_eq!(snap.endpoint_calls, expected_calls);
        let last = snap.last_request.expect("set after a request");
        assert!(last >= snap.start_time);
    }

    #[actix_web::test]
    async fn active_requests_counts_the_request_being_served() {
        let stats = Arc::new(RequestStats::new());
        let inside = Arc::clone(&stats);
        let app = atest::init_service(
            App::new()
                .wrap(RequestMetrics::new(Arc::clone(&stats)))
                .route(
                    "/peek",
                    web::get().to(move || {
                        let active = inside.snapshot().active_requests;
                        async move { HttpResponse::Ok().body(active.to_string()) }
                    }),
                ),
        )
        .await;
        let res =
            atest::call_service(&app, atest::TestRequest::get().uri("/peek").to_request()).await;
        assert_eq!(atest::read_body(res).await, "1");
        assert_eq!(stats.snapshot().active_requests, 0);
    }
}
