//! Contract section 10: `/health`, `/ready`, `/live`, `/metrics`, over real HTTP against a
//! real PostgreSQL and Redis.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use common::{spawn_app, spawn_app_with};
use serde_json::Value;

fn is_rfc3339_utc(text: &str) -> bool {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok()
        && text.ends_with('Z')
}

#[tokio::test]
async fn health_reports_database_and_redis_up() {
    let app = spawn_app().await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["service"], "task-manager-backend");
    assert_eq!(body["database"], "up");
    assert_eq!(body["redis"], "up");
    let timestamp = body["timestamp"].as_str().unwrap();
    assert!(is_rfc3339_utc(timestamp), "{timestamp}");
    assert!(!timestamp.contains('.'), "whole seconds: {timestamp}");
    app.stop().await;
}

#[tokio::test]
async fn health_stays_200_with_redis_down() {
    // Nothing listens on port 1: Redis is "configured but down" from the start.
    let app = spawn_app_with(&[("REDIS_URL", "redis://127.0.0.1:1/0")], None).await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["database"], "up");
    assert_eq!(body["redis"], "down");
    app.stop().await;
}

#[tokio::test]
async fn ready_and_live_answer() {
    let app = spawn_app().await;
    let ready = app.get("/ready").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        serde_json::json!({"ready": true})
    );

    let live = app.get("/live").await;
    assert_eq!(live.status(), 200);
    let body: Value = live.json().await.unwrap();
    assert_eq!(body["status"], "alive");
    assert!(is_rfc3339_utc(body["timestamp"].as_str().unwrap()));
    let uptime = body["uptime"].as_str().unwrap();
    assert!(
        domain::duration::parse_duration(uptime).is_ok(),
        "uptime uses the duration text: {uptime}"
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_json_counts_requests_by_status_and_route_template() {
    let app = spawn_app().await;
    app.get("/health").await;
    app.get("/health").await;
    app.get("/no/such/route").await;

    let body: Value = app.get("/metrics").await.json().await.unwrap();
    let application = &body["application"];
    // The /metrics request itself is still in flight while the snapshot is taken.
    assert_eq!(application["request_count"], 3);
    assert_eq!(application["active_requests"], 1);
    assert_eq!(application["error_count"], 1);
    assert_eq!(application["status_codes"]["OK"], 2);
    assert_eq!(application["status_codes"]["Not Found"], 1);
    assert_eq!(application["endpoint_calls"]["GET /health"], 2);
    assert_eq!(application["endpoint_calls"]["GET "], 1);
    assert!(application["avg_request_duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(is_rfc3339_utc(application["start_time"].as_str().unwrap()));
    assert!(is_rfc3339_utc(
        application["last_request"].as_str().unwrap()
    ));

    let system = &body["system"];
    assert!(system["uptime"].as_u64().unwrap() > 0);
    assert!(system["uptime_seconds"].as_f64().unwrap() > 0.0);
    assert!(system["memory"]["rss_mb"].as_u64().unwrap() > 0);
    assert!(system["cpu_count"].as_u64().unwrap() >= 1);
    assert!(system["runtime"].as_str().unwrap().contains("rust"));
    assert!(is_rfc3339_utc(body["timestamp"].as_str().unwrap()));
    app.stop().await;
}

#[tokio::test]
async fn metrics_before_any_request_has_null_last_request() {
    let app = spawn_app().await;
    let body: Value = app.get("/metrics").await.json().await.unwrap();
    assert_eq!(body["application"]["request_count"], 0);
    assert!(body["application"]["last_request"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn metrics_text_parses_as_the_prometheus_exposition_format() {
    let app = spawn_app().await;
    app.get("/health").await;
    app.get("/nowhere").await;
    for request in [
        app.client
            .get(app.url("/metrics"))
            .header("Accept", "text/plain; version=0.0.4"),
        app.client.get(app.url("/metrics?format=prometheus")),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        let text = response.text().await.unwrap();
        let samples = parse_exposition(&text);
        let request_series = samples
            .iter()
            .filter(|s| s.name == "http_requests_total")
            .collect::<Vec<_>>();
        assert!(
            request_series
                .iter()
                .any(
                    |s| s.labels.get("route").map(String::as_str) == Some("/health")
                        && s.labels.get("method").map(String::as_str) == Some("GET")
                        && s.labels.get("status").map(String::as_str) == Some("200")
                ),
            "{text}"
        );
        assert!(
            request_series
                .iter()
                .any(|s| s.labels.get("route").map(String::as_str) == Some("unmatched")),
            "unmatched routes are labelled so: {text}"
        );
        assert!(
            samples
                .iter()
                .any(|s| s.name == "http_request_duration_seconds_bucket"
                    && s.labels.get("le").map(String::as_str) == Some("0.005")),
            "explicit histogram buckets: {text}"
        );
        assert!(
            samples
                .iter()
                .any(|s| s.name == "process_start_time_seconds")
        );
    }
    app.stop().await;
}

struct Sample {
    name: String,
    labels: HashMap<String, String>,
}

/// A strict reader of the text exposition format 0.0.4: every line is a comment, a HELP or
/// TYPE line, or `name{label="value",...} number [timestamp]`; every sample belongs to a
/// family declared by a TYPE line.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut families = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a name and a kind");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "bad TYPE line {line}"
            );
            families.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let sample = parse_sample(line);
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                sample.name.strip_suffix(suffix).filter(|base| {
                    families
                        .get(*base)
                        .is_some_and(|k| k == "histogram" || k == "summary")
                })
            })
            .unwrap_or(&sample.name);
        assert!(families.contains_key(family), "sample without TYPE: {line}");
        samples.push(sample);
    }
    samples
}

fn parse_sample(line: &str) -> Sample {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    assert!(
        !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()),
        "bad name: {line}"
    );
    let mut rest = &line[name_end..];
    let mut labels = HashMap::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        let mut chars = after_brace.char_indices().peekable();
        let mut key = String::new();
        let close;
        loop {
            let (i, c) = chars.next().expect("unterminated label set");
            match c {
                '}' => {
                    close = i;
                    break;
                }
                '=' => {
                    assert_eq!(
                        chars.next().map(|(_, c)| c),
                        Some('"'),
                        "label value must be quoted: {line}"
                    );
                    let mut value = String::new();
                    loop {
                        let (_, c) = chars.next().expect("unterminated label value");
                        match c {
                            '\\' => value.push(chars.next().expect("escape").1),
                            '"' => break,
                            other => value.push(other),
                        }
                    }
                    assert!(!key.is_empty(), "empty label name: {line}");
                    labels.insert(std::mem::take(&mut key), value);
                }
                ',' => {}
                c if c.is_ascii_alphanumeric() || c == '_' => key.push(c),
                other => panic!("unexpected {other:?} in labels: {line}"),
            }
        }
        rest = &after_brace[close + 1..];
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().expect("a sample has a value");
    assert!(
        value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
        "bad value {value}: {line}"
    );
    if let Some(timestamp) = fields.next() {
        assert!(timestamp.parse::<i64>().is_ok(), "bad timestamp: {line}");
    }
    assert!(fields.next().is_none(), "trailing fields: {line}");
    Sample {
        name: name.to_owned(),
        labels,
    }
}
