//! Logging and metrics set-up: `tracing` to stdout (JSON or text), and the one Prometheus
//! recorder of the process.

use std::{io::IsTerminal, sync::OnceLock};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogFormat, LoggingConfig};

/// Installs the global `tracing` subscriber. `RUST_LOG` overrides `LOG_LEVEL`.
/// Calling it twice is harmless (the second call changes nothing).
pub fn init_logging(config: &LoggingConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match config.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(fmt::layer().with_ansi(std::io::stdout().is_terminal()))
            .try_init(),
    };
    if result.is_err() {
        tracing::debug!("a tracing subscriber was already installed");
    }
}

/// Latency buckets for `http_request_duration_seconds`, from 1 ms to 10 s; set explicitly so
/// the exporter renders a histogram, not a summary.
const HTTP_LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Durations of cache-warming jobs, from 1 ms to 30 s.
const JOB_DURATION_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0];

/// The process-wide Prometheus recorder, installed on first use. The `metrics` facade has
/// one global recorder, so every application built in this process shares it.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                HTTP_LATENCY_BUCKETS,
            )
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full("cache_job_duration_seconds".into()),
                    JOB_DURATION_BUCKETS,
                )
            })
            .expect("bucket lists are constant and non-empty");
        match builder.install_recorder() {
            Ok(handle) => {
                describe_metrics();
                handle
            }
            // Another recorder is already global (an embedding program installed its own):
            // keep a detached one so /metrics still renders something coherent.
            Err(error) => {
                tracing::warn!(%error, "metrics recorder already installed; /metrics text is local");
                PrometheusBuilder::new().build_recorder().handle()
            }
        }
    })
}

fn describe_metrics() {
    metrics::describe_counter!("http_requests_total", "Completed HTTP requests");
    metrics::describe_histogram!(
        "http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request latency"
    );
    metrics::describe_gauge!("http_requests_in_flight", "HTTP requests being served");
    metrics::describe_counter!("http_rate_limited_total", "Requests refused with 429");
    metrics::describe_gauge!(
        "process_start_time_seconds",
        metrics::Unit::Seconds,
        "Start time of the process since the Unix epoch"
    );
}
