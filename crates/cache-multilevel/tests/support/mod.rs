//! In-memory stand-ins for the L2 store and the bus, for unit tests of the cache logic
//! (the Redis adapters have their own tests against a real Redis).
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cache_multilevel::{CacheConfig, ManualClock, MultiLevelCache, matches_pattern};
use ports::{Clock, InvalidationBus, InvalidationMessage, KeyValueStore, PortError, PortResult};
use time::OffsetDateTime;

#[derive(Debug)]
pub struct FakeStore {
    clock: Arc<ManualClock>,
    entries: Mutex<HashMap<String, (Vec<u8>, OffsetDateTime)>>,
    counters: Mutex<HashMap<String, u64>>,
    pub failing: AtomicBool,
    pub gets: AtomicUsize,
    pub sets: AtomicUsize,
    pub deletes: AtomicUsize,
    pub pattern_deletes: AtomicUsize,
}

impl FakeStore {
    pub fn new(clock: Arc<ManualClock>) -> Arc<Self> {
        Arc::new(Self {
            clock,
            entries: Mutex::default(),
            counters: Mutex::default(),
            failing: AtomicBool::new(false),
            gets: AtomicUsize::new(0),
            sets: AtomicUsize::new(0),
            deletes: AtomicUsize::new(0),
            pattern_deletes: AtomicUsize::new(0),
        })
    }

    pub fn fail(&self, on: bool) {
        self.failing.store(on, Ordering::SeqCst);
    }

    fn check(&self) -> PortResult<()> {
        if self.failing.load(Ordering::SeqCst) {
            Err(PortError::Unavailable("fake store is down".into()))
        } else {
            Ok(())
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        let now = self.clock.now();
        self.entries
            .lock()
            .expect("lock")
            .get(key)
            .is_some_and(|(_, exp)| *exp > now)
    }

    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.entries.lock().expect("lock").keys().cloned().collect();
        keys.sort();
        keys
    }

    pub fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl KeyValueStore for FakeStore {
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        let now = self.clock.now();
        Ok(self
            .entries
            .lock()
            .expect("lock")
            .get(key)
            .filter(|(_, exp)| *exp > now)
            .map(|(v, _)| v.clone()))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> PortResult<()> {
        self.sets.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        let exp = self.clock.now() + ttl;
        self.entries
            .lock()
            .expect("lock")
            .insert(key.to_owned(), (value.to_vec(), exp));
        Ok(())
    }

    async fn delete(&self, key: &str) -> PortResult<()> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        self.entries.lock().expect("lock").remove(key);
        Ok(())
    }

    async fn delete_matching(&self, pattern: &str) -> PortResult<u64> {
        self.pattern_deletes.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        let mut entries = self.entries.lock().expect("lock");
        let before = entries.len();
        entries.retain(|k, _| !matches_pattern(pattern, k));
        Ok((before - entries.len()) as u64)
    }

    async fn clear(&self) -> PortResult<u64> {
        self.delete_matching("*").await
    }

    async fn increment(&self, key: &str) -> PortResult<u64> {
        self.check()?;
        let mut counters = self.counters.lock().expect("lock");
        let n = counters.entry(key.to_owned()).or_insert(0);
        *n += 1;
        Ok(*n)
    }
}

/// Records every published message and, like Redis pub/sub, hands it to every subscribed
/// cache (including the sender).
#[derive(Default)]
pub struct FakeBus {
    pub published: Mutex<Vec<InvalidationMessage>>,
    pub subscribers: Mutex<Vec<std::sync::Weak<MultiLevelCache>>>,
    pub failing: AtomicBool,
}

impl std::fmt::Debug for FakeBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeBus").finish_non_exhaustive()
    }
}

impl FakeBus {
    pub fn published(&self) -> Vec<InvalidationMessage> {
        self.published.lock().expect("lock").clone()
    }

    pub fn subscribe(&self, cache: &Arc<MultiLevelCache>) {
        self.subscribers
            .lock()
            .expect("lock")
            .push(Arc::downgrade(cache));
    }
}

#[async_trait]
impl InvalidationBus for FakeBus {
    async fn publish(&self, message: &InvalidationMessage) -> PortResult<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(PortError::Unavailable("fake bus is down".into()));
        }
        self.published.lock().expect("lock").push(message.clone());
        let subscribers: Vec<_> = self.subscribers.lock().expect("lock").clone();
        for cache in subscribers.iter().filter_map(std::sync::Weak::upgrade) {
            cache.apply_remote(ports::InvalidationEvent::Message(message.clone()));
        }
        Ok(())
    }
}

pub struct Rig {
    pub clock: Arc<ManualClock>,
    pub store: Arc<FakeStore>,
    pub bus: Arc<FakeBus>,
    pub cache: Arc<MultiLevelCache>,
}

/// A cache over a fake store and bus, sharing one manual clock.
pub fn rig(config: CacheConfig) -> Rig {
    let clock = Arc::new(ManualClock::default());
    let store = FakeStore::new(clock.clone());
    let bus = Arc::new(FakeBus::default());
    let cache = instance(config, &clock, &store, &bus);
    Rig {
        clock,
        store,
        bus,
        cache,
    }
}

/// Another instance on the same store and bus.
pub fn instance(
    config: CacheConfig,
    clock: &Arc<ManualClock>,
    store: &Arc<FakeStore>,
    bus: &Arc<FakeBus>,
) -> Arc<MultiLevelCache> {
    let cache = Arc::new(MultiLevelCache::with_clock(
        config,
        Some(store.clone() as Arc<dyn KeyValueStore>),
        Some(bus.clone() as Arc<dyn InvalidationBus>),
        clock.clone(),
    ));
    bus.subscribe(&cache);
    cache
}

/// An L1-only cache on a manual clock.
pub fn l1_only(config: CacheConfig) -> (Arc<ManualClock>, MultiLevelCache) {
    let clock = Arc::new(ManualClock::default());
    let cache = MultiLevelCache::with_clock(config, None, None, clock.clone());
    (clock, cache)
}
