//! The audit writer (11.5): decisions are queued on a bounded channel without ever waiting,
//! and a background task writes them in batches. A full queue drops the record (counted and
//! logged) rather than slow the request; a failed write is retried once, then dropped and
//! counted; shutdown drains the queue so a graceful stop loses nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ports::{AuditRecord, AuditSink};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Where the authorization service hands its audit records; never blocks.
pub trait AuditRecorder: Send + Sync + std::fmt::Debug + 'static {
    /// Queues one record for writing.
    fn record(&self, record: AuditRecord);
}

/// How the writer batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditWriterSettings {
    /// Queue length; records beyond it are dropped.
    pub capacity: usize,
    /// Most records per write.
    pub batch_size: usize,
    /// Longest wait, after the first record of a batch, for more records.
    pub flush_interval: Duration,
    /// Pause before the one retry of a failed write.
    pub retry_delay: Duration,
}

impl Default for AuditWriterSettings {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            batch_size: 500,
            flush_interval: Duration::from_millis(200),
            retry_delay: Duration::from_millis(500),
        }
    }
}

/// Counters of what the writer did (also exported as metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditWriterStats {
    /// Records stored.
    pub written: u64,
    /// Records lost: queue full, writer stopped, or a batch that failed twice.
    pub dropped: u64,
    /// Failed write attempts.
    pub write_failures: u64,
}

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    write_failures: AtomicU64,
}

/// Handle on the background audit writer; clones share the queue.
#[derive(Debug, Clone)]
pub struct AuditWriter {
    queue: mpsc::Sender<AuditRecord>,
    stop: Arc<watch::Sender<bool>>,
    done: watch::Receiver<bool>,
    counters: Arc<Counters>,
}

impl AuditWriter {
    /// Starts the writer with default batching and a queue of `capacity` records.
    #[must_use]
    pub fn spawn(sink: Arc<dyn AuditSink>, capacity: usize) -> (Self, JoinHandle<()>) {
        Self::spawn_with(
            sink,
            AuditWriterSettings {
                capacity,
                ..AuditWriterSettings::default()
            },
        )
    }

    /// Starts the writer with explicit settings. Must be called inside a tokio runtime.
    #[must_use]
    pub fn spawn_with(
        sink: Arc<dyn AuditSink>,
        settings: AuditWriterSettings,
    ) -> (Self, JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(settings.capacity.max(1));
        let (stop, stop_rx) = watch::channel(false);
        let (done_tx, done) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let worker = Worker {
            sink,
            settings: AuditWriterSettings {
                batch_size: settings.batch_size.max(1),
                ..settings
            },
            counters: Arc::clone(&counters),
        };
        let handle = tokio::spawn(async move {
            worker.run(receiver, stop_rx).await;
            let _ = done_tx.send(true);
        });
        let writer = Self {
            queue,
            stop: Arc::new(stop),
            done,
            counters,
        };
        (writer, handle)
    }

    /// What the writer has done so far.
    #[must_use]
    pub fn stats(&self) -> AuditWriterStats {
        AuditWriterStats {
            written: self.counters.written.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            write_failures: self.counters.write_failures.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting records, writes everything queued, and returns when done. Records
    /// offered afterwards (by any clone) are dropped and counted.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let mut done = self.done.clone();
        // An error means the task is gone (it panicked or was aborted): nothing to wait for.
        let _ = done.wait_for(|finished| *finished).await;
    }

    fn drop_record(&self, why: &'static str) {
        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("audit_records_dropped_total", "reason" => why).increment(1);
    }
}

impl AuditRecorder for AuditWriter {
    fn record(&self, record: AuditRecord) {
        match self.queue.try_send(record) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(record)) => {
                self.drop_record("queue_full");
                tracing::warn!(
                    request_id = %record.request_id,
                    action = %record.action,
                    "audit queue full: decision record dropped"
                );
            }
            Err(mpsc::error::TrySendError::Closed(record)) => {
                self.drop_record("stopped");
                tracing::warn!(
                    request_id = %record.request_id,
                    "audit writer stopped: decision record dropped"
                );
            }
        }
    }
}

struct Worker {
    sink: Arc<dyn AuditSink>,
    settings: AuditWriterSettings,
    counters: Arc<Counters>,
}

impl Worker {
    async fn run(
        &self,
        mut receiver: mpsc::Receiver<AuditRecord>,
        mut stop: watch::Receiver<bool>,
    ) {
        let limit = self.settings.batch_size;
        let mut batch = Vec::with_capacity(limit);
        'serve: loop {
            tokio::select! {
                biased;
                _ = stop.wait_for(|stopping| *stopping) => break 'serve,
                received = receiver.recv_many(&mut batch, limit) => {
                    if received == 0 {
                        break 'serve;
                    }
                }
            }
            let deadline = Instant::now() + self.settings.flush_interval;
            let mut stopping = false;
            while batch.len() < limit {
                let room = limit - batch.len();
                tokio::select! {
                    biased;
                    _ = stop.wait_for(|stopping| *stopping) => { stopping = true; break; }
                    received = receiver.recv_many(&mut batch, room) => {
                        if received == 0 { stopping = true; break; }
                    }
                    () = tokio::time::sleep_until(deadline) => break,
                }
            }
            self.write(&mut batch).await;
            if stopping {
                break 'serve;
            }
        }
        // Drain: refuse new records, keep the ones already queued.
        receiver.close();
        while receiver.recv_many(&mut batch, limit).await > 0 {
            self.write(&mut batch).await;
        }
        self.write(&mut batch).await;
    }

    async fn write(&self, batch: &mut Vec<AuditRecord>) {
        if batch.is_empty() {
            return;
        }
        for attempt in 1..=2 {
            match self.sink.write_batch(batch).await {
                Ok(()) => {
                    let n = batch.len() as u64;
                    self.counters.written.fetch_add(n, Ordering::Relaxed);
                    metrics::counter!("audit_records_written_total").increment(n);
                    batch.clear();
                    return;
                }
                Err(error) => {
                    self.counters.write_failures.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("audit_write_failures_total").increment(1);
                    tracing::warn!(%error, attempt, records = batch.len(), "audit write failed");
                    if attempt == 1 && !self.settings.retry_delay.is_zero() {
                        tokio::time::sleep(self.settings.retry_delay).await;
                    }
                }
            }
        }
        let n = batch.len() as u64;
        self.counters.dropped.fetch_add(n, Ordering::Relaxed);
        metrics::counter!("audit_records_dropped_total", "reason" => "write_failed").increment(n);
        tracing::error!(
            records = n,
            "audit records dropped after a retried write failed"
        );
        batch.clear();
    }
}
