//! A minimal `metrics` recorder for tests: sums counters, tracks gauges and counts histogram
//! samples, keyed by `name{label=value,...}` (labels in emission order).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

#[derive(Debug, Default, Clone)]
pub(crate) struct TestRecorder {
    values: Arc<Mutex<BTreeMap<String, f64>>>,
}

#[derive(Debug)]
struct Handle {
    key: String,
    values: Arc<Mutex<BTreeMap<String, f64>>>,
}

impl Handle {
    fn update(&self, f: impl FnOnce(&mut f64)) {
        let mut values = self.values.lock().expect("recorder lock");
        f(values.entry(self.key.clone()).or_insert(0.0));
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        // Test counts are small: exact in f64.
        #[allow(clippy::cast_precision_loss)]
        self.update(|v| *v += value as f64);
    }
    fn absolute(&self, value: u64) {
        #[allow(clippy::cast_precision_loss)]
        self.update(|v| *v = value as f64);
    }
}

impl GaugeFn for Handle {
    fn increment(&self, value: f64) {
        self.update(|v| *v += value);
    }
    fn decrement(&self, value: f64) {
        self.update(|v| *v -= value);
    }
    fn set(&self, value: f64) {
        self.update(|v| *v = value);
    }
}

impl HistogramFn for Handle {
    /// Counts samples (their values are latencies, not asserted by tests).
    fn record(&self, _value: f64) {
        self.update(|v| *v += 1.0);
    }
}

impl TestRecorder {
    fn handle(&self, key: &Key) -> Arc<Handle> {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let key = if labels.is_empty() {
            key.name().to_owned()
        } else {
            format!("{}{{{}}}", key.name(), labels.join(","))
        };
        Arc::new(Handle {
            key,
            values: Arc::clone(&self.values),
        })
    }

    /// The value recorded under `key` (`name` or `name{a=b,c=d}`), if any.
    pub(crate) fn value(&self, key: &str) -> Option<f64> {
        self.values.lock().expect("recorder lock").get(key).copied()
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.handle(key))
    }
}
