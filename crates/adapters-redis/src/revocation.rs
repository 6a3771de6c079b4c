//! The fast path of access-token revocation (contract 6.7): `revoked_jti:{jti}` keys that
//! expire with the token they name, and `user_tokens_revoked_at:{user_id}` cut-offs (unix
//! seconds), both under `REDIS_KEY_PREFIX`. Every instance reads the same keys, so a
//! revocation is visible everywhere as soon as it is written. PostgreSQL stays the source of
//! truth; the application falls back to it whenever Redis fails.

use async_trait::async_trait;
use domain::UserId;
use ports::{PortError, PortResult, RevocationStore};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::pool::RedisPool;

/// Sets the cut-off only when it moves forward, so a late writer never shortens it.
const RAISE_CUTOFF: &str = r"
local current = redis.call('GET', KEYS[1])
if (not current) or (tonumber(current) < tonumber(ARGV[1])) then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
";

/// Revocation keys in Redis.
#[derive(Debug, Clone)]
pub struct RedisRevocationStore {
    pool: RedisPool,
}

impl RedisRevocationStore {
    /// Wraps the shared pool.
    #[must_use]
    pub fn new(pool: RedisPool) -> Self {
        Self { pool }
    }

    /// The physical key marking `jti` as revoked.
    #[must_use]
    pub fn jti_key(&self, jti: Uuid) -> String {
        format!("{}revoked_jti:{}", self.pool.prefix(), jti.hyphenated())
    }

    /// The physical key holding the user's cut-off.
    #[must_use]
    pub fn cutoff_key(&self, user: UserId) -> String {
        format!("{}user_tokens_revoked_at:{user}", self.pool.prefix())
    }
}

#[async_trait]
impl RevocationStore for RedisRevocationStore {
    async fn revoke_jti(&self, jti: Uuid, until: OffsetDateTime) -> PortResult<()> {
        let remaining = until - OffsetDateTime::now_utc();
        let millis = remaining.whole_milliseconds();
        if millis <= 0 {
            // The token has expired: it is refused anyway, nothing to remember.
            return Ok(());
        }
        let millis = u64::try_from(millis).unwrap_or(u64::MAX);
        let _: () = self
            .pool
            .query(
                redis::cmd("SET")
                    .arg(self.jti_key(jti))
                    .arg(1)
                    .arg("PX")
                    .arg(millis),
            )
            .await?;
        Ok(())
    }

    async fn is_jti_revoked(&self, jti: Uuid) -> PortResult<bool> {
        let found: u64 = self
            .pool
            .query(redis::cmd("EXISTS").arg(self.jti_key(jti)))
            .await?;
        Ok(found > 0)
    }

    async fn set_user_cutoff(&self, user: UserId, at: OffsetDateTime) -> PortResult<()> {
        let key = self.cutoff_key(user);
        let seconds = at.unix_timestamp();
        let _: i64 = self
            .pool
            .query(
                redis::cmd("EVAL")
                    .arg(RAISE_CUTOFF)
                    .arg(1)
                    .arg(key)
                    .arg(seconds),
            )
            .await?;
        Ok(())
    }

    async fn user_cutoff(&self, user: UserId) -> PortResult<Option<OffsetDateTime>> {
        let value: Option<String> = self
            .pool
            .query(redis::cmd("GET").arg(self.cutoff_key(user)))
            .await?;
        value
            .map(|text| {
                let seconds: i64 = text.parse().map_err(|_| {
                    PortError::Backend(format!("cut-off of {user} is not a number: {text:?}"))
                })?;
                OffsetDateTime::from_unix_timestamp(seconds)
                    .map_err(|e| PortError::Backend(format!("cut-off out of range: {e}")))
            })
            .transpose()
    }
}
