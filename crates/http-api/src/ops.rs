//! Operational endpoints (contract section 10): `/health`, `/ready`, `/live`, `/metrics`.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use application::DependencyStatus;
use serde_json::json;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::ApiState;

/// Registers the four operational routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/ready", web::get().to(ready))
        .route("/live", web::get().to(live))
        .route("/metrics", web::get().to(metrics));
}

const SERVICE_NAME: &str = "task-manager-backend";

async fn health(state: web::Data<ApiState>) -> HttpResponse {
    let report = state.health.check().await;
    let now = OffsetDateTime::now_utc();
    let timestamp = rfc3339(now.replace_nanosecond(0).unwrap_or(now));
    if report.is_healthy() {
        let mut body = json!({
            "status": "healthy",
            "timestamp": timestamp,
            "service": SERVICE_NAME,
            "database": report.database.as_str(),
        });
        if let Some(redis) = report.redis {
            body["redis"] = json!(redis.as_str());
        }
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(json!({
            "status": "unhealthy",
            "timestamp": timestamp,
            "service": SERVICE_NAME,
            "database": report.database.as_str(),
        }))
    }
}

async fn ready(state: web::Data<ApiState>) -> HttpResponse {
    match state.health.database_status().await {
        DependencyStatus::Up => HttpResponse::Ok().json(json!({"ready": true})),
        DependencyStatus::Down => HttpResponse::ServiceUnavailable()
            .json(json!({"ready": false, "reason": "database not ready"})),
    }
}

async fn live(state: web::Data<ApiState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "alive",
        "timestamp": rfc3339(OffsetDateTime::now_utc()),
        "uptime": domain::duration::format_duration(state.uptime()),
    }))
}

async fn metrics(req: HttpRequest, state: web::Data<ApiState>) -> HttpResponse {
    if wants_prometheus_text(&req) {
        return HttpResponse::build(StatusCode::OK)
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body((state.prometheus)());
    }
    let uptime = state.uptime();
    HttpResponse::Ok().json(json!({
        "application": state.request_stats.snapshot(),
        "system": {
            "uptime": u64::try_from(uptime.as_nanos()).unwrap_or(u64::MAX),
            "uptime_seconds": uptime.as_secs_f64(),
            "memory": {"rss_mb": resident_memory_mb()},
            "cpu_count": std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            "runtime": concat!("rust (actix-web 4, tokio 1), task-api ", env!("CARGO_PKG_VERSION")),
        },
        "timestamp": rfc3339(OffsetDateTime::now_utc()),
    }))
}

/// Content negotiation of D-25: the text format for Prometheus, JSON for everyone else.
fn wants_prometheus_text(req: &HttpRequest) -> bool {
    let accept = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    accept.contains("text/plain")
        || accept.contains("application/openmetrics-text")
        || req
            .query_string()
            .split('&')
            .any(|pair| pair == "format=prometheus")
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// Resident set size of this process in whole MiB (Linux `/proc`; 0 elsewhere).
fn resident_memory_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or(0, |kib| kib / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn prometheus_text_is_chosen_by_accept_or_query() {
        let text = TestRequest::get()
            .uri("/metrics")
            .insert_header(("Accept", "text/plain;version=0.0.4"))
            .to_http_request();
        assert!(wants_prometheus_text(&text));
        let openmetrics = TestRequest::get()
            .uri("/metrics")
            .insert_header(("Accept", "application/openmetrics-text; version=1.0.0"))
            .to_http_request();
        assert!(wants_prometheus_text(&openmetrics));
        let query = TestRequest::get()
            .uri("/metrics?format=prometheus")
            .to_http_request();
        assert!(wants_prometheus_text(&query));
        let json = TestRequest::get()
            .uri("/metrics")
            .insert_header(("Accept", "application/json"))
            .to_http_request();
        assert!(!wants_prometheus_text(&json));
        let none = TestRequest::get().uri("/metrics").to_http_request();
        assert!(!wants_prometheus_text(&none));
    }

    #[test]
    fn resident_memory_is_reported_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(resident_memory_mb() > 0);
        }
    }
}
