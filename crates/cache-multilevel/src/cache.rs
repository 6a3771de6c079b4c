//! The two-level cache itself: read path, writes, invalidation and coalesced loading.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ports::{
    Clock, InvalidationBus, InvalidationEvent, InvalidationMessage, KeyValueStore, PortError,
    SystemClock,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::breaker::{BreakerState, BreakerStats, CircuitBreaker};
use crate::config::CacheConfig;
use crate::generations::{Generations, Known, generation_key, random_generation};
use crate::l1::{L1, L1Entry};
use crate::stats::{CacheStats, Counters, Level};

/// Lifetime of a namespace generation in L2; when it lapses the namespace simply starts a
/// new generation (an invalidation nobody asked for, which is harmless).
const GENERATION_TTL: Duration = Duration::from_secs(24 * 3600);

/// Why an invalidation or clear did not fully reach the shared levels. The local level is
/// always updated; the caller decides whether to report or only log this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// L2 failed (or its breaker is open).
    #[error("cache store failed: {0}")]
    Store(PortError),
    /// The invalidation could not be announced to the other instances.
    #[error("invalidation bus failed: {0}")]
    Bus(PortError),
}

/// A per-instance L1 over an optional shared L2, behind a circuit breaker, with
/// cross-instance invalidation through an optional bus.
pub struct MultiLevelCache {
    config: CacheConfig,
    l1: L1,
    l2: Option<Arc<dyn KeyValueStore>>,
    bus: Option<Arc<dyn InvalidationBus>>,
    breaker: CircuitBreaker,
    counters: Counters,
    clock: Arc<dyn Clock>,
    generations: Generations,
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for MultiLevelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiLevelCache")
            .field("config", &self.config)
            .field("l1_items", &self.l1.len())
            .field("l2", &self.l2.is_some())
            .field("bus", &self.bus.is_some())
            .field("breaker", &self.breaker.state())
            .finish_non_exhaustive()
    }
}

/// Removes a key's loading gate from the in-flight map when its leader is done.
struct InflightCleanup<'a> {
    map: &'a Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    key: &'a str,
    gate: &'a Arc<tokio::sync::Mutex<()>>,
}

impl Drop for InflightCleanup<'_> {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.get(self.key).is_some_and(|g| Arc::ptr_eq(g, self.gate)) {
            map.remove(self.key);
        }
    }
}

impl MultiLevelCache {
    /// A cache on the system clock. Pass `None` for `l2`/`bus` to run L1-only (no Redis).
    #[must_use]
    pub fn new(
        config: CacheConfig,
        l2: Option<Arc<dyn KeyValueStore>>,
        bus: Option<Arc<dyn InvalidationBus>>,
    ) -> Self {
        Self::with_clock(config, l2, bus, Arc::new(SystemClock))
    }

    /// A cache on an injected clock (tests drive expiry and the breaker with it).
    #[must_use]
    pub fn with_clock(
        config: CacheConfig,
        l2: Option<Arc<dyn KeyValueStore>>,
        bus: Option<Arc<dyn InvalidationBus>>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let start = clock.now().unix_timestamp();
        metrics::gauge!("cache_l1_items").set(0.0);
        Self {
            l1: L1::new(config.l1_max_entries, config.l1_max_bytes),
            breaker: CircuitBreaker::new(config.breaker, clock.clone()),
            counters: Counters::new(start),
            config,
            l2,
            bus,
            clock,
            generations: Generations::default(),
            inflight: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Whether an L2 is configured (false in L1-only mode).
    #[must_use]
    pub fn has_l2(&self) -> bool {
        self.l2.is_some()
    }

    // ----- reads -------------------------------------------------------------------------

    /// Looks `key` up in L1, then in L2 through the breaker; an L2 hit is copied into L1
    /// for `min(promotion_ttl, l1_ttl_cap)`. Errors, open breaker and undecodable values
    /// are misses: a cache problem never fails the caller.
    pub async fn get_json<T>(&self, key: &str) -> Option<Arc<T>>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        if let Some(value) = self.l1.get::<T>(key, self.clock.now()) {
            self.counters.hit(Level::L1);
            return Some(value);
        }
        match self.l2_get::<T>(key).await {
            Some((value, bytes)) => {
                self.counters.hit(Level::L2);
                let ttl = self.config.promotion_ttl.min(self.config.l1_ttl_cap);
                self.l1_insert(key, value.clone(), bytes, ttl);
                Some(value)
            }
            None => {
                self.counters.miss();
                None
            }
        }
    }

    /// Returns the cached value, or runs `loader` once however many callers miss `key` at
    /// the same time (the others wait and then read what it stored), writing its result
    /// to both levels with `ttl` (L1 capped). A loader error is returned and not cached.
    ///
    /// # Errors
    /// Whatever `loader` returns.
    pub async fn get_or_load<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        loader: F,
    ) -> Result<Arc<T>, E>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(value) = self.l1.get::<T>(key, self.clock.now()) {
            self.counters.hit(Level::L1);
            return Ok(value);
        }
        let gate = {
            let mut map = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
            map.entry(key.to_owned()).or_default().clone()
        };
        let _turn = gate.lock().await;
        let _cleanup = InflightCleanup {
            map: &self.inflight,
            key,
            gate: &gate,
        };
        if let Some(value) = self.get_json::<T>(key).await {
            return Ok(value);
        }
        let value = Arc::new(loader().await?);
        self.set_arc(key, value.clone(), ttl).await;
        Ok(value)
    }

    // ----- writes ------------------------------------------------------------------------

    /// Stores `value` in L1 (lifetime capped) and in L2 (through the breaker). Write
    /// failures are counted and logged, never returned. A zero `ttl` stores nothing.
    pub async fn set_json<T>(&self, key: &str, value: &T, ttl: Duration)
    where
        T: Serialize + Clone + Send + Sync + 'static,
    {
        self.set_arc(key, Arc::new(value.clone()), ttl).await;
    }

    /// [`Self::set_json`] for a value that is already shared.
    pub async fn set_arc<T>(&self, key: &str, value: Arc<T>, ttl: Duration)
    where
        T: Serialize + Send + Sync + 'static,
    {
        if ttl.is_zero() {
            return;
        }
        let bytes = match serde_json::to_vec(value.as_ref()) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(key, %error, "value cannot be cached: not serializable");
                return;
            }
        };
        self.counters.set();
        self.l1_insert(
            key,
            value,
            bytes.len() as u64,
            ttl.min(self.config.l1_ttl_cap),
        );
        let Some(l2) = &self.l2 else { return };
        if !self.breaker.allow() {
            return;
        }
        match l2.set(key, &bytes, ttl).await {
            Ok(()) => self.breaker.record_success(),
            Err(error) => self.l2_failed("set", key, &error),
        }
    }

    // ----- invalidation ------------------------------------------------------------------

    /// Removes one key from L1, from L2 (through the breaker) and, via the bus, from every
    /// other instance's L1.
    ///
    /// # Errors
    /// [`CacheError`] when L2 or the bus could not be reached (L1 is updated regardless).
    pub async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.l1.remove(key);
        self.update_l1_gauge();
        self.counters.delete();
        let store = match &self.l2 {
            None => Ok(()),
            Some(_) if !self.breaker.allow() => Err(CacheError::Store(breaker_open())),
            Some(l2) => match l2.delete(key).await {
                Ok(()) => {
                    self.breaker.record_success();
                    Ok(())
                }
                Err(error) => {
                    self.l2_failed("delete", key, &error);
                    Err(CacheError::Store(error))
                }
            },
        };
        let bus = self.publish(InvalidationMessage::Key(key.to_owned())).await;
        store.and(bus)
    }

    /// Removes every key matching `pattern` (`*` anywhere) from L1, from L2 (walking the
    /// namespace, bypassing the breaker) and from every other instance's L1. Returns how
    /// many L2 entries went (L1 entries in L1-only mode).
    ///
    /// # Errors
    /// [`CacheError`] when L2 or the bus could not be reached (L1 is updated regardless).
    pub async fn delete_pattern(&self, pattern: &str) -> Result<u64, CacheError> {
        let local = self.l1.remove_matching(pattern);
        self.update_l1_gauge();
        let store = match &self.l2 {
            None => Ok(local),
            Some(l2) => l2.delete_matching(pattern).await.map_err(|error| {
                self.counters.error();
                tracing::warn!(pattern, %error, "L2 pattern deletion failed");
                CacheError::Store(error)
            }),
        };
        let bus = self
            .publish(InvalidationMessage::Pattern(pattern.to_owned()))
            .await;
        let removed = store?;
        bus.map(|()| removed)
    }

    /// Empties L1 here and on every instance and removes every L2 entry of the cache
    /// namespace (nothing else in Redis). Returns how many L2 entries went.
    ///
    /// # Errors
    /// [`CacheError`] when L2 or the bus could not be reached (L1 is emptied regardless).
    pub async fn clear(&self) -> Result<u64, CacheError> {
        let local = self.l1.len() as u64;
        self.l1.clear();
        self.generations.forget_all();
        self.update_l1_gauge();
        let store = match &self.l2 {
            None => Ok(local),
            Some(l2) => l2.clear().await.map_err(|error| {
                self.counters.error();
                tracing::warn!(%error, "L2 clear failed");
                CacheError::Store(error)
            }),
        };
        let bus = self.publish(InvalidationMessage::Clear).await;
        let removed = store?;
        bus.map(|()| removed)
    }

    /// Applies what the invalidation subscriber received: evicts from L1 only (L2 is
    /// shared and was already updated by the sender). `Resynchronise` empties L1 because
    /// messages may have been lost.
    pub fn apply_remote(&self, event: InvalidationEvent) {
        match event {
            InvalidationEvent::Message(InvalidationMessage::Key(key)) => {
                self.l1.remove(&key);
            }
            InvalidationEvent::Message(InvalidationMessage::Pattern(pattern)) => {
                self.l1.remove_matching(&pattern);
            }
            InvalidationEvent::Message(InvalidationMessage::Namespace(ns)) => {
                self.generations.forget(&ns);
                self.l1.remove_prefix(&format!("{ns}:"));
            }
            InvalidationEvent::Message(InvalidationMessage::Clear)
            | InvalidationEvent::Resynchronise => {
                self.l1.clear();
                self.generations.forget_all();
            }
        }
        self.update_l1_gauge();
    }

    // ----- namespaces --------------------------------------------------------------------

    /// The current generation of namespace `ns` (see the crate docs): remembered locally
    /// for at most `l1_ttl_cap`, otherwise read from L2 (and created there when absent).
    pub async fn namespace_generation(&self, ns: &str) -> u64 {
        let now = self.clock.now();
        let known = self.generations.get(ns);
        let Some(l2) = &self.l2 else {
            return known.map_or_else(|| self.adopt_local(ns, false), |k| k.generation);
        };
        if let Some(k) = known {
            if k.unshared {
                self.share_generation(l2.as_ref(), ns, k.generation).await;
                return k.generation;
            }
            if (now - k.learned_at).unsigned_abs() < self.config.l1_ttl_cap {
                return k.generation;
            }
        }
        if !self.breaker.allow() {
            return known.map_or_else(|| self.adopt_local(ns, false), |k| k.generation);
        }
        let key = generation_key(ns);
        match l2.get(&key).await {
            Ok(found) => {
                self.breaker.record_success();
                if let Some(generation) = found.as_deref().and_then(parse_generation) {
                    self.remember(ns, generation, false);
                    return generation;
                }
            }
            Err(error) => {
                self.l2_failed("get", &key, &error);
                return known.map_or_else(|| self.adopt_local(ns, false), |k| k.generation);
            }
        }
        // No generation yet (first use, cleared or lapsed): start one, then adopt whatever
        // won if another instance started one at the same moment.
        let seed = random_generation();
        if let Err(error) = l2
            .set(&key, seed.to_string().as_bytes(), GENERATION_TTL)
            .await
        {
            self.l2_failed("set", &key, &error);
            self.remember(ns, seed, false);
            return seed;
        }
        self.breaker.record_success();
        let generation = match l2.get(&key).await {
            Ok(found) => found.as_deref().and_then(parse_generation).unwrap_or(seed),
            Err(_) => seed,
        };
        self.remember(ns, generation, false);
        generation
    }

    /// `{ns}:g{generation}:{rest}`: the key of an entry in a generation-versioned namespace.
    pub async fn namespaced_key(&self, ns: &str, rest: &str) -> String {
        let generation = self.namespace_generation(ns).await;
        format!("{ns}:g{generation}:{rest}")
    }

    /// Moves namespace `ns` to a new generation, so every existing entry of it becomes
    /// unreachable in O(1) on every instance; its L1 entries here are dropped and the
    /// other instances are told (`Namespace(ns)`). Returns the new generation.
    ///
    /// # Errors
    /// [`CacheError`] when L2 or the bus could not be reached; the bump still holds locally
    /// and is written to L2 on the next use once L2 answers again.
    pub async fn bump_namespace(&self, ns: &str) -> Result<u64, CacheError> {
        let generation = random_generation();
        self.l1.remove_prefix(&format!("{ns}:"));
        self.update_l1_gauge();
        let store = match &self.l2 {
            None => {
                self.remember(ns, generation, false);
                Ok(())
            }
            Some(l2) => {
                self.remember(ns, generation, true);
                if self.share_generation(l2.as_ref(), ns, generation).await {
                    Ok(())
                } else {
                    Err(CacheError::Store(PortError::Unavailable(
                        "namespace generation not recorded in L2".to_owned(),
                    )))
                }
            }
        };
        let bus = self
            .publish(InvalidationMessage::Namespace(ns.to_owned()))
            .await;
        store.and(bus).map(|()| generation)
    }

    // ----- maintenance and statistics ----------------------------------------------------

    /// Drops expired L1 entries (the server calls this every 30 s); returns how many.
    pub fn sweep_expired(&self) -> u64 {
        let removed = self.l1.remove_expired(self.clock.now());
        self.update_l1_gauge();
        removed
    }

    /// Entries currently in L1 (expired ones not yet swept included).
    #[must_use]
    pub fn l1_len(&self) -> usize {
        self.l1.len()
    }

    /// Weight (bytes, see [`crate::CacheConfig::l1_max_bytes`]) currently held by L1.
    #[must_use]
    pub fn l1_weight(&self) -> u64 {
        self.l1.weight()
    }

    /// Hits, misses, errors, sets, deletes and start time.
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        self.counters.snapshot()
    }

    /// hits / (hits + misses) x 100, or 0 before any lookup.
    #[must_use]
    pub fn hit_rate_percent(&self) -> f64 {
        self.stats().hit_rate_percent()
    }

    /// The breaker as `/cache/stats` shows it.
    #[must_use]
    pub fn breaker_stats(&self) -> BreakerStats {
        self.breaker.stats()
    }

    /// The breaker's current state.
    #[must_use]
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    // ----- internals ---------------------------------------------------------------------

    async fn l2_get<T>(&self, key: &str) -> Option<(Arc<T>, u64)>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let l2 = self.l2.as_ref()?;
        if !self.breaker.allow() {
            return None;
        }
        match l2.get(key).await {
            Ok(Some(bytes)) => {
                self.breaker.record_success();
                match serde_json::from_slice::<T>(&bytes) {
                    Ok(value) => Some((Arc::new(value), bytes.len() as u64)),
                    Err(error) => {
                        tracing::debug!(key, %error, "L2 value does not decode; treated as a miss");
                        None
                    }
                }
            }
            Ok(None) => {
                self.breaker.record_success();
                None
            }
            Err(error) => {
                self.l2_failed("get", key, &error);
                None
            }
        }
    }

    fn l1_insert(&self, key: &str, value: Arc<dyn Any + Send + Sync>, bytes: u64, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        self.l1.insert(
            key,
            L1Entry {
                value,
                bytes,
                expires_at: self.clock.now() + ttl,
            },
        );
        self.update_l1_gauge();
    }

    fn l2_failed(&self, op: &str, key: &str, error: &PortError) {
        self.breaker.record_failure();
        self.counters.error();
        tracing::debug!(op, key, %error, "L2 call failed");
    }

    fn update_l1_gauge(&self) {
        metrics::gauge!("cache_l1_items").set(self.l1.len() as f64);
    }

    async fn publish(&self, message: InvalidationMessage) -> Result<(), CacheError> {
        let Some(bus) = &self.bus else { return Ok(()) };
        bus.publish(&message).await.map_err(|error| {
            tracing::warn!(?message, %error, "cache invalidation could not be broadcast");
            CacheError::Bus(error)
        })
    }

    fn remember(&self, ns: &str, generation: u64, unshared: bool) {
        self.generations.remember(
            ns,
            Known {
                generation,
                learned_at: self.clock.now(),
                unshared,
            },
        );
    }

    fn adopt_local(&self, ns: &str, unshared: bool) -> u64 {
        let generation = random_generation();
        self.remember(ns, generation, unshared);
        generation
    }

    /// Writes a locally chosen generation to L2; true when it got there.
    async fn share_generation(&self, l2: &dyn KeyValueStore, ns: &str, generation: u64) -> bool {
        if !self.breaker.allow() {
            return false;
        }
        let key = generation_key(ns);
        match l2
            .set(&key, generation.to_string().as_bytes(), GENERATION_TTL)
            .await
        {
            Ok(()) => {
                self.breaker.record_success();
                // Only mark it shared if nobody moved the namespace on meanwhile.
                if self
                    .generations
                    .get(ns)
                    .is_some_and(|k| k.generation == generation)
                {
                    self.remember(ns, generation, false);
                }
                true
            }
            Err(error) => {
                self.l2_failed("set", &key, &error);
                false
            }
        }
    }
}

fn parse_generation(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

fn breaker_open() -> PortError {
    PortError::Unavailable("cache circuit breaker is open".to_owned())
}
