//! Unit tests of the batching audit writer over an in-memory sink.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use ports::{AuditDecision, AuditRecord};

use super::fakes::{CollectingSink, CountingRecorder, JOHN, START, uid};
use super::{AuditRecorder, AuditWriter, AuditWriterSettings};

fn record(n: usize) -> AuditRecord {
    AuditRecord {
        user_id: uid(JOHN),
        action: "read_task".into(),
        resource: "task".into(),
        resource_id: None,
        decision: AuditDecision::Allowed,
        reason: "Access granted by RBAC and ABAC policies".into(),
        ip_address: None,
        user_agent: None,
        request_id: format!("req-{n}"),
        request_method: Some("GET".into()),
        request_path: Some("/api/v1/tasks".into()),
        context: serde_json::json!({}),
        timestamp: START,
    }
}

fn settings(capacity: usize) -> AuditWriterSettings {
    AuditWriterSettings {
        capacity,
        batch_size: 100,
        flush_interval: Duration::from_millis(200),
        retry_delay: Duration::ZERO,
    }
}

fn request_ids(records: &[AuditRecord]) -> Vec<String> {
    records.iter().map(|r| r.request_id.clone()).collect()
}

#[tokio::test(start_paused = true)]
async fn records_are_written_in_batches_of_at_most_one_hundred() {
    let sink = Arc::new(CollectingSink::default());
    let (writer, _task) = AuditWriter::spawn_with(sink.clone(), settings(1_000));
    for n in 0..150 {
        writer.record(record(n));
    }
    // Paused time: sleeping lets the writer run and jumps past the flush interval.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.batch_sizes(), [100, 50]);
    assert_eq!(writer.stats().written, 150);
    let expected: Vec<String> = (0..150).map(|n| format!("req-{n}")).collect();
    assert_eq!(request_ids(&sink.records()), expected, "in order");
}

#[tokio::test(start_paused = true)]
async fn a_partial_batch_waits_for_the_flush_interval() {
    let sink = Arc::new(CollectingSink::default());
    let (writer, _task) = AuditWriter::spawn_with(sink.clone(), settings(1_000));
    writer.record(record(1));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(sink.batch_sizes().is_empty(), "still collecting");
    writer.record(record(2));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(sink.batch_sizes(), [2]);
}

#[tokio::test]
async fn a_full_queue_drops_records_without_blocking() {
    let recorder = CountingRecorder::default();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let sink = Arc::new(CollectingSink::default());
    let (writer, task) = AuditWriter::spawn_with(sink.clone(), settings(4));
    // The writer task cannot run before this test yields, so the queue fills up.
    for n in 0..10 {
        writer.record(record(n));
    }
    assert_eq!(writer.stats().dropped, 6);
    assert_eq!(
        recorder.count("audit_records_dropped_total{reason=queue_full}"),
        6
    );
    writer.clone().shutdown().await;
    task.await.unwrap();
    assert_eq!(
        request_ids(&sink.records()),
        ["req-0", "req-1", "req-2", "req-3"]
    );
    assert_eq!(writer.stats().written, 4);
}

#[tokio::test]
async fn shutdown_flushes_everything_queued_and_later_records_are_dropped() {
    let sink = Arc::new(CollectingSink::default());
    let batch = AuditWriterSettings::default().batch_size;
    let (writer, task) = AuditWriter::spawn(sink.clone(), 10 * batch);
    let other_handle = writer.clone();
    let total = 2 * batch + batch / 2;
    for n in 0..total {
        writer.record(record(n));
    }
    writer.shutdown().await;
    assert_eq!(sink.batch_sizes(), [batch, batch, batch / 2]);
    task.await.unwrap();
    other_handle.record(record(999));
    let stats = other_handle.stats();
    assert_eq!(stats.written, u64::try_from(total).unwrap());
    assert_eq!(stats.dropped, 1);
}

#[tokio::test]
async fn a_failed_write_is_retried_once() {
    let sink = Arc::new(CollectingSink::failing(1));
    let (writer, _task) = AuditWriter::spawn_with(sink.clone(), settings(100));
    for n in 0..3 {
        writer.record(record(n));
    }
    let handle = writer.clone();
    writer.shutdown().await;
    assert_eq!(sink.batch_sizes(), [3]);
    let stats = handle.stats();
    assert_eq!(stats.write_failures, 1);
    assert_eq!(stats.written, 3);
    assert_eq!(stats.dropped, 0);
}

#[tokio::test]
async fn a_failing_sink_is_counted_and_does_not_stop_the_writer() {
    let recorder = CountingRecorder::default();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let sink = Arc::new(CollectingSink::failing(2));
    let (writer, task) = AuditWriter::spawn_with(sink.clone(), settings(100));
    for n in 0..3 {
        writer.record(record(n));
    }
    let handle = writer.clone();
    // Let the first batch fail twice and be dropped, then send more.
    tokio::task::yield_now().await;
    while handle.stats().write_failures < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    writer.record(record(3));
    writer.shutdown().await;
    task.await.unwrap();
    let stats = handle.stats();
    assert_eq!(stats.write_failures, 2);
    assert_eq!(stats.dropped, 3);
    assert_eq!(stats.written, 1);
    assert_eq!(request_ids(&sink.records()), ["req-3"]);
    assert_eq!(recorder.count("audit_write_failures_total"), 2);
    assert_eq!(
        recorder.count("audit_records_dropped_total{reason=write_failed}"),
        3
    );
}
