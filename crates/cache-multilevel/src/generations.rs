//! Namespace generations: the O(1) way to invalidate every entry of a namespace.
//!
//! A namespace's keys carry its current generation (`{ns}:g{generation}:{rest}`). Bumping
//! the generation makes every older entry unreachable at once; the old entries simply
//! expire. The shared generation lives in L2 under the logical key `__generation:{ns}` and
//! is a random number written with a plain `set` (never a counter): random values never
//! repeat, so an entry written under a dead generation can never come back to life, even
//! after `clear` deleted the generation keys, and concurrent bumps need no atomicity (the
//! last write wins and was made after every bump's data change). Each instance remembers a
//! generation for at most the L1 lifetime cap and forgets it when told (`Namespace`
//! message, resynchronisation), which bounds staleness when a message is lost.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

/// Logical L2 key holding the generation of `ns`.
#[must_use]
pub fn generation_key(ns: &str) -> String {
    format!("__generation:{ns}")
}

/// A fresh, practically unique generation.
pub(crate) fn random_generation() -> u64 {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(SEQUENCE.fetch_add(1, Ordering::Relaxed));
    hasher.write_i128(OffsetDateTime::now_utc().unix_timestamp_nanos());
    hasher.finish()
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Known {
    pub generation: u64,
    pub learned_at: OffsetDateTime,
    /// A local bump that L2 has not recorded yet (it was unavailable).
    pub unshared: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Generations {
    known: Mutex<HashMap<String, Known>>,
}

impl Generations {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Known>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn get(&self, ns: &str) -> Option<Known> {
        self.lock().get(ns).copied()
    }

    pub fn remember(&self, ns: &str, known: Known) {
        self.lock().insert(ns.to_owned(), known);
    }

    /// Forgets what another instance may have changed; unshared local bumps are kept,
    /// because L2 does not know them yet.
    pub fn forget(&self, ns: &str) {
        let mut known = self.lock();
        if known.get(ns).is_some_and(|k| !k.unshared) {
            known.remove(ns);
        }
    }

    pub fn forget_all(&self) {
        self.lock().retain(|_, k| k.unshared);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_generations_differ() {
        let a = random_generation();
        let b = random_generation();
        assert_ne!(a, b);
    }
}
