//! Test doubles: a recording cache executor, an in-memory job queue with the semantics the
//! port documents, and clocks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ports::{Clock, JobEnvelope, JobQueue, LeasedJob, PortError, PortResult, QueueSizes};
use time::OffsetDateTime;
use tokio::sync::Semaphore;

use crate::executor::JobExecutor;

/// A cache operation that succeeded, in call order.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Store(String, serde_json::Value, Duration),
    Evict(String),
    Recompute(String),
}

/// Records operations; keys in `failing` fail; `gate`, when set, makes every store wait for
/// a permit; `delay` makes every store take that long (in Tokio time).
#[derive(Debug, Default)]
pub struct FakeExecutor {
    ops: Mutex<Vec<Op>>,
    entries: Mutex<HashMap<String, serde_json::Value>>,
    failing: Mutex<HashSet<String>>,
    recomputed: Mutex<HashMap<String, Option<serde_json::Value>>>,
    entered: Mutex<Vec<String>>,
    gate: Mutex<Option<Arc<Semaphore>>>,
    delay: Mutex<Duration>,
}

impl FakeExecutor {
    pub fn ops(&self) -> Vec<Op> {
        self.ops.lock().unwrap().clone()
    }
    pub fn stored_keys(&self) -> Vec<String> {
        self.ops()
            .into_iter()
            .filter_map(|op| match op {
                Op::Store(k, ..) => Some(k),
                _ => None,
            })
            .collect()
    }
    /// Keys whose store started, in order (whether or not it finished).
    pub fn entered(&self) -> Vec<String> {
        self.entered.lock().unwrap().clone()
    }
    pub fn fail_key(&self, key: &str) {
        self.failing.lock().unwrap().insert(key.to_owned());
    }
    pub fn set_recomputed(&self, key: &str, value: Option<serde_json::Value>) {
        self.recomputed
            .lock()
            .unwrap()
            .insert(key.to_owned(), value);
    }
    /// Closes the gate: stores wait until [`FakeExecutor::release`] hands out permits.
    pub fn close_gate(&self) -> Arc<Semaphore> {
        let gate = Arc::new(Semaphore::new(0));
        *self.gate.lock().unwrap() = Some(Arc::clone(&gate));
        gate
    }
    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }
    fn check(&self, key: &str) -> PortResult<()> {
        if self.failing.lock().unwrap().contains(key) {
            Err(PortError::Unavailable(format!(
                "injected failure for {key}"
            )))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl JobExecutor for FakeExecutor {
    async fn store(&self, key: &str, data: serde_json::Value, ttl: Duration) -> PortResult<()> {
        self.entered.lock().unwrap().push(key.to_owned());
        let gate = self.gate.lock().unwrap().clone();
        if let Some(gate) = gate {
            gate.acquire().await.expect("gate open").forget();
        }
        let delay = *self.delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        self.check(key)?;
        self.entries
            .lock()
            .unwrap()
            .insert(key.to_owned(), data.clone());
        self.ops
            .lock()
            .unwrap()
            .push(Op::Store(key.to_owned(), data, ttl));
        Ok(())
    }
    async fn evict(&self, key: &str) -> PortResult<()> {
        self.check(key)?;
        self.entries.lock().unwrap().remove(key);
        self.ops.lock().unwrap().push(Op::Evict(key.to_owned()));
        Ok(())
    }
    async fn exists(&self, key: &str) -> PortResult<bool> {
        self.check(key)?;
        Ok(self.entries.lock().unwrap().contains_key(key))
    }
    async fn recompute(&self, key: &str) -> PortResult<Option<serde_json::Value>> {
        self.check(key)?;
        self.ops.lock().unwrap().push(Op::Recompute(key.to_owned()));
        Ok(self.recomputed.lock().unwrap().get(key).cloned().flatten())
    }
}

/// A clock the test sets by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(at: OffsetDateTime) -> Self {
        Self(Mutex::new(at))
    }
    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// A clock that moves with Tokio's (pausable) time, so `tokio::time::advance` moves both.
#[derive(Debug)]
pub struct TokioClock {
    base: OffsetDateTime,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn new(base: OffsetDateTime) -> Self {
        Self {
            base,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> OffsetDateTime {
        self.base + self.start.elapsed()
    }
}

#[derive(Debug, Default)]
struct QueueState {
    /// (score, insertion order, stored text)
    ready: Vec<(i64, u64, String)>,
    delayed: Vec<(OffsetDateTime, String)>,
    processing: Vec<(String, String, OffsetDateTime)>,
    dead: VecDeque<String>,
    seq: u64,
}

/// An in-memory [`JobQueue`] with the documented semantics (scores in epoch seconds).
#[derive(Debug)]
pub struct FakeQueue {
    state: Mutex<QueueState>,
    clock: Arc<dyn Clock>,
    pub unavailable: std::sync::atomic::AtomicBool,
}

impl FakeQueue {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::default(),
            clock,
            unavailable: Default::default(),
        }
    }
    fn up(&self) -> PortResult<()> {
        if self.unavailable.load(std::sync::atomic::Ordering::SeqCst) {
            Err(PortError::Unavailable("fake queue down".into()))
        } else {
            Ok(())
        }
    }
    fn push_ready(st: &mut QueueState, score: i64, raw: String) {
        st.seq += 1;
        let seq = st.seq;
        st.ready.push((score, seq, raw));
    }
    pub fn delayed(&self) -> Vec<JobEnvelope> {
        let st = self.state.lock().unwrap();
        st.delayed
            .iter()
            .map(|(_, raw)| JobEnvelope::from_json(raw).unwrap())
            .collect()
    }
    pub fn processing_len(&self) -> usize {
        self.state.lock().unwrap().processing.len()
    }
    fn remove_processing(st: &mut QueueState, leased: &LeasedJob) {
        st.processing
            .retain(|(raw, worker, _)| !(raw == &leased.raw && worker == &leased.worker_id));
    }
}

#[async_trait]
impl JobQueue for FakeQueue {
    async fn enqueue_ready(&self, job: &JobEnvelope) -> PortResult<()> {
        self.up()?;
        let score = self.clock.now().unix_timestamp() - job.priority;
        Self::push_ready(
            &mut self.state.lock().unwrap(),
            score,
            job.to_json().unwrap(),
        );
        Ok(())
    }
    async fn enqueue_delayed(&self, job: &JobEnvelope) -> PortResult<()> {
        self.up()?;
        self.state
            .lock()
            .unwrap()
            .delayed
            .push((job.process_at, job.to_json().unwrap()));
        Ok(())
    }
    async fn promote_due(&self, now: OffsetDateTime, limit: usize) -> PortResult<usize> {
        self.up()?;
        let mut st = self.state.lock().unwrap();
        st.delayed.sort_by_key(|(at, _)| *at);
        let due = st
            .delayed
            .iter()
            .take_while(|(at, _)| *at <= now)
            .count()
            .min(limit);
        let moved: Vec<_> = st.delayed.drain(..due).collect();
        for (_, raw) in moved {
            let priority = JobEnvelope::from_json(&raw).unwrap().priority;
            Self::push_ready(&mut st, now.unix_timestamp() - priority, raw);
        }
        Ok(due)
    }
    async fn take(&self, worker_id: &str, lease: Duration) -> PortResult<Option<LeasedJob>> {
        self.up()?;
        let mut st = self.state.lock().unwrap();
        let Some(index) = (0..st.ready.len()).min_by_key(|&i| (st.ready[i].0, st.ready[i].1))
        else {
            return Ok(None);
        };
        let (_, _, raw) = st.ready.remove(index);
        let lease_until = self.clock.now() + lease;
        st.processing
            .push((raw.clone(), worker_id.to_owned(), lease_until));
        let job = JobEnvelope::from_json(&raw).unwrap();
        Ok(Some(LeasedJob {
            job,
            raw,
            worker_id: worker_id.to_owned(),
            lease_until,
        }))
    }
    async fn ack(&self, leased: &LeasedJob) -> PortResult<()> {
        self.up()?;
        Self::remove_processing(&mut self.state.lock().unwrap(), leased);
        Ok(())
    }
    async fn retry_later(&self, leased: &LeasedJob, job: &JobEnvelope) -> PortResult<()> {
        self.up()?;
        let mut st = self.state.lock().unwrap();
        Self::remove_processing(&mut st, leased);
        st.delayed.push((job.process_at, job.to_json().unwrap()));
        Ok(())
    }
    async fn dead_letter(&self, leased: &LeasedJob, job: &JobEnvelope) -> PortResult<()> {
        self.up()?;
        let mut st = self.state.lock().unwrap();
        Self::remove_processing(&mut st, leased);
        st.dead.push_front(job.to_json().unwrap());
        Ok(())
    }
    async fn requeue_expired_leases(&self, now: OffsetDateTime) -> PortResult<usize> {
        self.up()?;
        let mut st = self.state.lock().unwrap();
        let (expired, kept): (Vec<_>, Vec<_>) = st
            .processing
            .drain(..)
            .partition(|(_, _, until)| *until < now);
        st.processing = kept;
        let n = expired.len();
        for (raw, ..) in expired {
            let priority = JobEnvelope::from_json(&raw).unwrap().priority;
            Self::push_ready(&mut st, now.unix_timestamp() - priority, raw);
        }
        Ok(n)
    }
    async fn sizes(&self) -> PortResult<QueueSizes> {
        self.up()?;
        let st = self.state.lock().unwrap();
        Ok(QueueSizes {
            immediate: st.ready.len() as u64,
            delayed: st.delayed.len() as u64,
            dead_letter: st.dead.len() as u64,
        })
    }
    async fn list_dead(&self, limit: usize) -> PortResult<Vec<JobEnvelope>> {
        self.up()?;
        let st = self.state.lock().unwrap();
        Ok(st
            .dead
            .iter()
            .take(limit)
            .filter_map(|raw| JobEnvelope::from_json(raw).ok())
            .collect())
    }
    async fn requeue_dead(&self, id: Option<&str>) -> PortResult<usize> {
        self.up()?;
        let now = self.clock.now().unix_timestamp();
        let mut st = self.state.lock().unwrap();
        let dead: Vec<_> = st.dead.drain(..).collect();
        let mut moved = 0;
        for raw in dead {
            let mut job = JobEnvelope::from_json(&raw).unwrap();
            if id.is_none_or(|id| id == job.id) {
                job.attempts = 0;
                Self::push_ready(&mut st, now - job.priority, job.to_json().unwrap());
                moved += 1;
            } else {
                st.dead.push_back(raw);
            }
        }
        Ok(moved)
    }
}

/// Yields (in Tokio time) until `condition` holds; panics after many tries.
pub async fn wait_until(mut condition: impl FnMut() -> bool) {
    for _ in 0..100_000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("condition never became true");
}
