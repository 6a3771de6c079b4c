//! Operator commands on accounts, run as `task-api deactivate-user <email>` and
//! `task-api activate-user <email>` with the server's own configuration. The API has no
//! route for this (the contract defines none), yet deactivation must end every session
//! (6.7), which a bare SQL update would not do.

use std::sync::Arc;

use adapters_postgres::PgPool;
use anyhow::Context;
use domain::UserId;
use ports::{Clock, SystemClock};

use crate::{
    config::Config,
    services::{build_identity, invalidation_bus, layered_revocations, revocation_view},
    startup::{connect_redis, pool_settings},
};

/// Marks the account with `email` active or inactive through the identity service, so a
/// deactivation also revokes its tokens, in PostgreSQL and Redis, and tells the running
/// instances at once.
///
/// # Errors
/// Bad configuration, an unreachable database, an invalid or unknown email, or a storage
/// failure.
pub async fn set_account_active(
    config: &Config,
    email: &str,
    active: bool,
) -> anyhow::Result<UserId> {
    let database =
        PgPool::new(&pool_settings(config)).context("could not configure the PostgreSQL pool")?;
    let redis = connect_redis(config).await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = layered_revocations(&database, redis.as_ref());
    let revocations = Arc::new(revocation_view(
        store.clone(),
        invalidation_bus(config, redis.as_ref()),
        clock.clone(),
    ));
    let identity = build_identity(config, &database, revocations, clock)?;
    let user = identity.set_account_active(email, active).await?;
    // This process's background retries end with it: instances that read revocations from
    // Redis would not see one that never got there.
    anyhow::ensure!(
        store.mirrored().await,
        "account {user} is updated and its sessions are revoked in PostgreSQL, but Redis could \
         not be told; run the command again once Redis is reachable"
    );
    Ok(user)
}
