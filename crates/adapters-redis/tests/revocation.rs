//! `RedisRevocationStore` against a real Redis, each test in its own key prefix.
#![allow(clippy::unwrap_used)]

mod common;

use adapters_redis::RedisRevocationStore;
use common::setup;
use domain::UserId;
use ports::{PortError, RevocationStore};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

#[tokio::test]
async fn a_revoked_jti_lives_as_long_as_its_token_under_the_prefix() {
    let (redis, pool, _) = setup().await;
    let store = RedisRevocationStore::new(pool);
    let jti = Uuid::new_v4();
    assert!(!store.is_jti_revoked(jti).await.unwrap());
    store
        .revoke_jti(jti, OffsetDateTime::now_utc() + Duration::minutes(10))
        .await
        .unwrap();
    assert!(store.is_jti_revoked(jti).await.unwrap());
    let key = store.jti_key(jti);
    assert_eq!(key, format!("{}revoked_jti:{jti}", redis.prefix));
    let mut conn = redis.connection().await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 590_000 && ttl <= 600_000, "{ttl}");

    // A token that already expired needs no entry.
    let old = Uuid::new_v4();
    store
        .revoke_jti(old, OffsetDateTime::now_utc() - Duration::seconds(1))
        .await
        .unwrap();
    assert!(!store.is_jti_revoked(old).await.unwrap());
}

#[tokio::test]
async fn user_cutoffs_only_move_forward() {
    let (redis, pool, _) = setup().await;
    let store = RedisRevocationStore::new(pool);
    let user = UserId::new_v7();
    assert_eq!(store.user_cutoff(user).await.unwrap(), None);
    let at = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
    store.set_user_cutoff(user, at).await.unwrap();
    assert_eq!(store.user_cutoff(user).await.unwrap(), Some(at));
    store
        .set_user_cutoff(user, at - Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(store.user_cutoff(user).await.unwrap(), Some(at));
    let later = at + Duration::seconds(1);
    store.set_user_cutoff(user, later).await.unwrap();
    assert_eq!(store.user_cutoff(user).await.unwrap(), Some(later));
    assert_eq!(
        store.cutoff_key(user),
        format!("{}user_tokens_revoked_at:{user}", redis.prefix)
    );

    // Garbage in the key is a backend error, never "no cut-off".
    let mut conn = redis.connection().await;
    let _: () = redis::cmd("SET")
        .arg(store.cutoff_key(user))
        .arg("soon")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(matches!(
        store.user_cutoff(user).await,
        Err(PortError::Backend(_))
    ));
}
