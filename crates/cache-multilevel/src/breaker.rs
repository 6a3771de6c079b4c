//! The circuit breaker around L2 (contract 13.3): after repeated Redis failures, stop
//! calling Redis for a while instead of making every request wait for a timeout.

use std::sync::{Arc, Mutex, PoisonError};

use ports::Clock;
use serde::Serialize;
use time::OffsetDateTime;

use crate::config::BreakerConfig;

/// Where the breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// Calls fail fast.
    Open,
    /// Calls pass on probation.
    HalfOpen,
}

impl BreakerState {
    /// The value of the `cache_circuit_breaker_state` gauge.
    #[must_use]
    pub fn gauge_value(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::Open => 1.0,
            Self::HalfOpen => 2.0,
        }
    }
}

/// The breaker as shown by `/cache/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BreakerStats {
    /// Current state.
    pub state: BreakerState,
    /// Consecutive failures counted so far.
    pub failure_count: u32,
    /// Consecutive successes while half-open.
    pub success_count: u32,
    /// Unix seconds of the last failure, 0 if none yet.
    pub last_failure: i64,
    /// Failures that open the breaker.
    pub max_failures: u32,
    /// Seconds the breaker stays open.
    pub timeout_seconds: u64,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    failures: u32,
    successes: u32,
    last_failure: Option<OffsetDateTime>,
}

/// A thread-safe closed/open/half-open breaker on an injectable clock.
#[derive(Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// A closed breaker.
    #[must_use]
    pub fn new(config: BreakerConfig, clock: Arc<dyn Clock>) -> Self {
        metrics::gauge!("cache_circuit_breaker_state").set(BreakerState::Closed.gauge_value());
        Self {
            config,
            clock,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                failures: 0,
                successes: 0,
                last_failure: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_state(&self, inner: &mut Inner, state: BreakerState) {
        if inner.state != state {
            tracing::info!(from = ?inner.state, to = ?state, "cache circuit breaker changed state");
            inner.state = state;
            metrics::gauge!("cache_circuit_breaker_state").set(state.gauge_value());
        }
    }

    /// Whether a call may go to L2 now; moves an open breaker to half-open once the open
    /// period has passed since the last failure.
    pub fn allow(&self) -> bool {
        let mut inner = self.lock();
        match inner.state {
            BreakerState::Closed | BreakerState::HalfOpen => true,
            BreakerState::Open => {
                let since = inner.last_failure.map_or(self.config.open_timeout, |t| {
                    (self.clock.now() - t).unsigned_abs()
                });
                if since >= self.config.open_timeout {
                    inner.successes = 0;
                    self.set_state(&mut inner, BreakerState::HalfOpen);
                    true
                } else {
                    false
                }
            }
        }
    }

    /// Records a call that reached L2 and got an answer (a miss is an answer).
    pub fn record_success(&self) {
        let mut inner = self.lock();
        match inner.state {
            BreakerState::Closed => inner.failures = 0,
            BreakerState::HalfOpen => {
                inner.successes += 1;
                if inner.successes >= self.config.half_open_successes {
                    inner.failures = 0;
                    inner.successes = 0;
                    self.set_state(&mut inner, BreakerState::Closed);
                }
            }
            // A call admitted before the breaker opened; it proves little.
            BreakerState::Open => {}
        }
    }

    /// Records a call that failed (error or timeout).
    pub fn record_failure(&self) {
        let mut inner = self.lock();
        inner.last_failure = Some(self.clock.now());
        inner.failures = inner.failures.saturating_add(1);
        match inner.state {
            BreakerState::Closed => {
                if inner.failures >= self.config.max_failures {
                    self.set_state(&mut inner, BreakerState::Open);
                }
            }
            BreakerState::HalfOpen => {
                inner.successes = 0;
                self.set_state(&mut inner, BreakerState::Open);
            }
            BreakerState::Open => {}
        }
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> BreakerState {
        self.lock().state
    }

    /// A snapshot for `/cache/stats`.
    #[must_use]
    pub fn stats(&self) -> BreakerStats {
        let inner = self.lock();
        BreakerStats {
            state: inner.state,
            failure_count: inner.failures,
            success_count: inner.successes,
            last_failure: inner.last_failure.map_or(0, OffsetDateTime::unix_timestamp),
            max_failures: self.config.max_failures,
            timeout_seconds: self.config.open_timeout.as_secs(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;

    fn breaker() -> (Arc<ManualClock>, CircuitBreaker) {
        let clock = Arc::new(ManualClock::default());
        let b = CircuitBreaker::new(BreakerConfig::default(), clock.clone());
        (clock, b)
    }

    #[test]
    fn five_consecutive_failures_open_it_and_a_success_resets_the_count() {
        let (_clock, b) = breaker();
        for _ in 0..4 {
            assert!(b.allow());
            b.record_failure();
        }
        b.record_success();
        assert_eq!(b.stats().failure_count, 0);
        for _ in 0..4 {
            b.record_failure();
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.record_failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allow());
        let stats = b.stats();
        assert_eq!(stats.failure_count, 5);
        assert_eq!(stats.last_failure, 1_700_000_000);
        assert_eq!(stats.max_failures, 5);
        assert_eq!(stats.timeout_seconds, 30);
    }

    #[test]
    fn open_turns_half_open_after_thirty_seconds_and_three_successes_close_it() {
        let (clock, b) = breaker();
        for _ in 0..5 {
            b.record_failure();
        }
        clock.advance(Duration::from_secs(29));
        assert!(!b.allow());
        clock.advance(Duration::from_secs(1));
        assert!(b.allow());
        assert_eq!(b.state(), BreakerState::HalfOpen);
        b.record_success();
        b.record_success();
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert_eq!(b.stats().success_count, 2);
        b.record_success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.stats().failure_count, 0);
    }

    #[test]
    fn a_failure_while_half_open_reopens_and_restarts_the_wait() {
        let (clock, b) = breaker();
        for _ in 0..5 {
            b.record_failure();
        }
        clock.advance(Duration::from_secs(30));
        assert!(b.allow());
        b.record_success();
        b.record_failure();
        assert_eq!(b.state(), BreakerState::Open);
        clock.advance(Duration::from_secs(20));
        assert!(!b.allow(), "the 30 s restart from the half-open failure");
        clock.advance(Duration::from_secs(10));
        assert!(b.allow());
    }

    #[test]
    fn the_state_serializes_as_the_contract_spells_it() {
        let json = serde_json::to_string(&[
            BreakerState::Closed,
            BreakerState::Open,
            BreakerState::HalfOpen,
        ])
        .expect("serialize");
        assert_eq!(json, r#"["closed","open","half-open"]"#);
    }
}
