//! An in-memory revocation store that can be switched off, standing in for Redis or
//! PostgreSQL in unit tests of the composition rules only.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use domain::UserId;
use ports::{PortError, PortResult, RevocationStore};
use time::OffsetDateTime;
use uuid::Uuid;

/// Revocations in memory; `down` makes every call fail, `reads` counts lookups.
#[derive(Default)]
pub(crate) struct Memory {
    pub(crate) down: AtomicBool,
    pub(crate) jtis: Mutex<HashMap<Uuid, OffsetDateTime>>,
    pub(crate) cutoffs: Mutex<HashMap<UserId, OffsetDateTime>>,
    pub(crate) reads: AtomicUsize,
}

impl Memory {
    fn check(&self) -> PortResult<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(PortError::Unavailable("down".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl RevocationStore for Memory {
    async fn revoke_jti(&self, jti: Uuid, until: OffsetDateTime) -> PortResult<()> {
        self.check()?;
        self.jtis.lock().unwrap().insert(jti, until);
        Ok(())
    }
    async fn is_jti_revoked(&self, jti: Uuid) -> PortResult<bool> {
        self.check()?;
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(self.jtis.lock().unwrap().contains_key(&jti))
    }
    async fn set_user_cutoff(&self, user: UserId, at: OffsetDateTime) -> PortResult<()> {
        self.check()?;
        self.cutoffs.lock().unwrap().insert(user, at);
        Ok(())
    }
    async fn user_cutoff(&self, user: UserId) -> PortResult<Option<OffsetDateTime>> {
        self.check()?;
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(self.cutoffs.lock().unwrap().get(&user).copied())
    }
}
