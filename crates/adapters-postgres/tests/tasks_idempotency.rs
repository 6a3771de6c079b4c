//! `PgIdempotencyStore` against a real PostgreSQL: reserve, complete, replay, fingerprint
//! mismatch, concurrent reservations, release, expiry and take-over of abandoned keys.
#![allow(clippy::unwrap_used)]

use adapters_postgres::PgIdempotencyStore;
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use domain::UserId;
use ports::idempotency::{IDEMPOTENCY_KEY_TTL, IDEMPOTENCY_PENDING_TIMEOUT};
use ports::{IdempotencyClaim, IdempotencyStore, PortError, StoredResponse};
use testkit::TestDatabase;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

async fn add_user(connection: &mut AsyncPgConnection) -> UserId {
    let id = Uuid::new_v4();
    connection
        .batch_execute(&format!(
            "INSERT INTO users (id, username, email, password)
             VALUES ('{id}', 'i_{simple}', 'i_{simple}@example.com', 'x')",
            simple = id.simple()
        ))
        .await
        .unwrap();
    UserId::from_uuid(id)
}

fn response() -> StoredResponse {
    StoredResponse {
        status: 201,
        body: serde_json::json!({"id": "t1", "title": "once"}),
    }
}

#[tokio::test]
async fn a_completed_key_replays_its_response_and_refuses_other_requests() {
    let database = TestDatabase::new().await;
    let mut connection = database.connect().await;
    let store = PgIdempotencyStore::new(database.pool().await);
    let user = add_user(&mut connection).await;
    let other = add_user(&mut connection).await;

    assert_eq!(store.find(user, "k1", NOW).await.unwrap(), None);
    assert_eq!(
        store.reserve(user, "k1", "fp-a", NOW).await.unwrap(),
        IdempotencyClaim::Reserved
    );
    // While the first request runs, a retry is told to wait.
    assert_eq!(
        store.reserve(user, "k1", "fp-a", NOW).await.unwrap(),
        IdempotencyClaim::InProgress
    );
    let pending = store.find(user, "k1", NOW).await.unwrap().unwrap();
    assert_eq!(pending.response, None);
    assert_eq!(pending.fingerprint.as_deref(), Some("fp-a"));

    store.complete(user, "k1", &response()).await.unwrap();
    assert_eq!(
        store.reserve(user, "k1", "fp-a", NOW).await.unwrap(),
        IdempotencyClaim::Completed(response())
    );
    assert_eq!(
        store.reserve(user, "k1", "fp-b", NOW).await.unwrap(),
        IdempotencyClaim::FingerprintMismatch
    );
    let done = store.find(user, "k1", NOW).await.unwrap().unwrap();
    assert_eq!(done.response, Some(response()));
    assert_eq!(done.created_at, NOW);
    // Completing twice, or a key never reserved, is refused; release leaves it alone.
    assert_eq!(
        store.complete(user, "k1", &response()).await,
        Err(PortError::NotFound)
    );
    assert_eq!(
        store.complete(user, "nope", &response()).await,
        Err(PortError::NotFound)
    );
    store.release(user, "k1").await.unwrap();
    assert!(store.find(user, "k1", NOW).await.unwrap().is_some());

    // Keys are per user.
    assert_eq!(
        store.reserve(other, "k1", "fp-b", NOW).await.unwrap(),
        IdempotencyClaim::Reserved
    );
}

#[tokio::test]
async fn released_expired_and_abandoned_keys_can_be_reserved_again() {
    let database = TestDatabase::new().await;
    let mut connection = database.connect().await;
    let store = PgIdempotencyStore::new(database.pool().await);
    let user = add_user(&mut connection).await;

    // Released after a failure: free again at once.
    store.reserve(user, "k", "fp", NOW).await.unwrap();
    store.release(user, "k").await.unwrap();
    assert_eq!(store.find(user, "k", NOW).await.unwrap(), None);
    assert_eq!(
        store.reserve(user, "k", "fp", NOW).await.unwrap(),
        IdempotencyClaim::Reserved
    );

    // Abandoned (no response for longer than the pending timeout): taken over.
    let later = NOW + IDEMPOTENCY_PENDING_TIMEOUT + Duration::seconds(1);
    assert_eq!(
        store.reserve(user, "k", "fp-2", later).await.unwrap(),
        IdempotencyClaim::Reserved
    );
    store.complete(user, "k", &response()).await.unwrap();

    // Completed keys stay for 24 hours, then count as unused.
    let almost = later + IDEMPOTENCY_KEY_TTL - Duration::seconds(1);
    assert_eq!(
        store.reserve(user, "k", "fp-2", almost).await.unwrap(),
        IdempotencyClaim::Completed(response())
    );
    let expired = later + IDEMPOTENCY_KEY_TTL + Duration::seconds(1);
    assert_eq!(store.find(user, "k", expired).await.unwrap(), None);
    assert_eq!(
        store.reserve(user, "k", "fp-3", expired).await.unwrap(),
        IdempotencyClaim::Reserved
    );
    assert_eq!(
        store
            .purge_expired(expired + IDEMPOTENCY_KEY_TTL + Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn concurrent_reservations_have_exactly_one_winner() {
    let database = TestDatabase::new().await;
    let mut connection = database.connect().await;
    let store = PgIdempotencyStore::new(database.pool().await);
    let user = add_user(&mut connection).await;
    let attempts = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.reserve(user, "race", "fp", NOW).await.unwrap() })
    });
    let mut claims = Vec::new();
    for attempt in attempts {
        claims.push(attempt.await.unwrap());
    }
    let winners = claims
        .iter()
        .filter(|c| **c == IdempotencyClaim::Reserved)
        .count();
    assert_eq!(winners, 1, "{claims:?}");
    assert!(
        claims
            .iter()
            .all(|c| matches!(c, IdempotencyClaim::Reserved | IdempotencyClaim::InProgress))
    );
}
