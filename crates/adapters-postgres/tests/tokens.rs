//! `PgRefreshTokenStore` and `PgRevocationStore` against a real PostgreSQL database:
//! atomic rotation (one winner of a race), reuse detection by family, and durable
//! revocation of access tokens.
#![allow(clippy::unwrap_used)]

use adapters_postgres::{PgRefreshTokenStore, PgRevocationStore, PgUserRepository};
use domain::{Email, PasswordHash, USER_ROLE, UserId, Username, registration_attributes};
use ports::{
    NewUser, RefreshTokenRecord, RefreshTokenStore, RevocationStore, RotateOutcome, UserRepository,
};
use testkit::TestDatabase;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

async fn user(db: &TestDatabase, name: &str) -> UserId {
    let repo = PgUserRepository::new(db.pool().await);
    let id = UserId::new_v7();
    repo.create_with_role_and_attributes(
        &NewUser {
            id,
            username: Username::parse(name).unwrap(),
            email: Email::parse(&format!("{name}@example.com")).unwrap(),
            password_hash: PasswordHash::new("x".into()),
            first_name: "A".into(),
            last_name: "B".into(),
            department: String::new(),
            position: String::new(),
        },
        USER_ROLE,
        &registration_attributes(),
        OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    id
}

fn record(user: UserId, lifetime: Duration) -> RefreshTokenRecord {
    let jti = Uuid::new_v4();
    RefreshTokenRecord {
        jti,
        user_id: user,
        family: jti,
        digest: format!("{:064x}", jti.as_u128()),
        expires_at: OffsetDateTime::now_utc() + lifetime,
    }
}

#[tokio::test]
async fn rotation_succeeds_once_and_replay_reports_the_family() {
    let db = TestDatabase::new().await;
    let store = PgRefreshTokenStore::new(db.pool().await);
    let owner = user(&db, "owner").await;
    let first = record(owner, Duration::hours(1));
    store.store(&first).await.unwrap();
    let now = OffsetDateTime::now_utc();

    let second = record(owner, Duration::hours(1));
    assert_eq!(
        store.rotate(first.jti, &second, now).await.unwrap(),
        RotateOutcome::Rotated
    );
    let third = record(owner, Duration::hours(1));
    assert_eq!(
        store.rotate(first.jti, &third, now).await.unwrap(),
        RotateOutcome::Reused { family: first.jti }
    );
    // The successor inherited the family: revoking it ends the chain.
    assert_eq!(store.revoke_family(first.jti, now).await.unwrap(), 1);
    assert_eq!(
        store.rotate(second.jti, &third, now).await.unwrap(),
        RotateOutcome::Reused { family: first.jti }
    );

    // Unknown, expired and foreign tokens are not found.
    assert_eq!(
        store.rotate(Uuid::new_v4(), &third, now).await.unwrap(),
        RotateOutcome::NotFound
    );
    let expired = record(owner, Duration::seconds(-5));
    store.store(&expired).await.unwrap();
    assert_eq!(
        store.rotate(expired.jti, &third, now).await.unwrap(),
        RotateOutcome::NotFound
    );
    let stranger = user(&db, "stranger").await;
    let theirs = record(stranger, Duration::hours(1));
    store.store(&theirs).await.unwrap();
    assert_eq!(
        store.rotate(theirs.jti, &third, now).await.unwrap(),
        RotateOutcome::NotFound
    );
}

#[tokio::test]
async fn concurrent_rotations_of_one_token_have_exactly_one_winner() {
    let db = TestDatabase::new().await;
    let store = PgRefreshTokenStore::new(db.pool().await);
    let owner = user(&db, "racer").await;
    for _ in 0..5 {
        let old = record(owner, Duration::hours(1));
        store.store(&old).await.unwrap();
        let (a, b) = (
            record(owner, Duration::hours(1)),
            record(owner, Duration::hours(1)),
        );
        let now = OffsetDateTime::now_utc();
        let (ra, rb) = tokio::join!(
            store.rotate(old.jti, &a, now),
            store.rotate(old.jti, &b, now)
        );
        let outcomes = [ra.unwrap(), rb.unwrap()];
        let winners = outcomes
            .iter()
            .filter(|o| **o == RotateOutcome::Rotated)
            .count();
        assert_eq!(winners, 1, "{outcomes:?}");
    }
}

#[tokio::test]
async fn revoking_one_token_or_all_of_a_user() {
    let db = TestDatabase::new().await;
    let store = PgRefreshTokenStore::new(db.pool().await);
    let owner = user(&db, "many").await;
    let tokens: Vec<_> = (0..3).map(|_| record(owner, Duration::hours(1))).collect();
    for t in &tokens {
        store.store(t).await.unwrap();
    }
    let now = OffsetDateTime::now_utc();
    store.revoke(tokens[0].jti, now).await.unwrap();
    store.revoke(tokens[0].jti, now).await.unwrap();
    store.revoke(Uuid::new_v4(), now).await.unwrap();
    assert_eq!(store.revoke_all_for_user(owner, now).await.unwrap(), 2);
    let next = record(owner, Duration::hours(1));
    assert!(matches!(
        store.rotate(tokens[1].jti, &next, now).await.unwrap(),
        RotateOutcome::Reused { .. }
    ));
    // A duplicate jti is a conflict.
    assert!(matches!(
        store.store(&tokens[0]).await,
        Err(ports::PortError::Conflict(_))
    ));
}

#[tokio::test]
async fn revoked_access_tokens_and_cutoffs_are_durable() {
    let db = TestDatabase::new().await;
    let store = PgRevocationStore::new(db.pool().await);
    let owner = user(&db, "cutoff").await;
    let jti = Uuid::new_v4();
    assert!(!store.is_jti_revoked(jti).await.unwrap());
    let until = OffsetDateTime::now_utc() + Duration::hours(1);
    store.revoke_jti(jti, until).await.unwrap();
    store
        .revoke_jti(jti, until - Duration::minutes(5))
        .await
        .unwrap();
    assert!(store.is_jti_revoked(jti).await.unwrap());
    assert!(!store.is_jti_revoked(Uuid::new_v4()).await.unwrap());
    assert_eq!(
        store
            .purge_expired(OffsetDateTime::now_utc())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .purge_expired(until + Duration::seconds(1))
            .await
            .unwrap(),
        1
    );

    assert_eq!(store.user_cutoff(owner).await.unwrap(), None);
    let at = OffsetDateTime::now_utc();
    store.set_user_cutoff(owner, at).await.unwrap();
    let stored = store.user_cutoff(owner).await.unwrap().unwrap();
    assert_eq!(stored.unix_timestamp(), at.unix_timestamp());
    assert_eq!(stored.nanosecond(), 0, "whole seconds");
    // An earlier cut-off never replaces a later one.
    store
        .set_user_cutoff(owner, at - Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(store.user_cutoff(owner).await.unwrap(), Some(stored));
    store
        .set_user_cutoff(owner, at + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        store
            .user_cutoff(owner)
            .await
            .unwrap()
            .unwrap()
            .unix_timestamp(),
        (at + Duration::hours(1)).unix_timestamp()
    );
}
