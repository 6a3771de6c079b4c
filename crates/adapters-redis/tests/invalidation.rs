//! Pub/sub invalidation against a real Redis: round trip and resubscription.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters_redis::{
    RedisInvalidationBus, invalidation_channel, spawn_invalidation_subscriber,
    subscriber_client_name,
};
use common::{eventually, setup};
use ports::{InvalidationBus, InvalidationEvent, InvalidationMessage};

type Seen = Arc<Mutex<Vec<InvalidationEvent>>>;

fn recorder() -> (Seen, Arc<dyn Fn(InvalidationEvent) + Send + Sync>) {
    let seen: Seen = Arc::default();
    let sink = seen.clone();
    let handler = Arc::new(move |event| sink.lock().expect("lock").push(event));
    (seen, handler)
}

async fn subscriber_count(url: &str, channel: &str) -> u64 {
    let client = redis::Client::open(url).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let (_, n): (String, u64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query_async(&mut conn)
        .await
        .expect("PUBSUB NUMSUB");
    n
}

#[tokio::test]
async fn a_published_message_reaches_the_subscriber() {
    let (redis, pool, _store) = setup().await;
    let channel = invalidation_channel(&redis.prefix);
    let (seen, handler) = recorder();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = spawn_invalidation_subscriber(redis.url.clone(), channel.clone(), handler, stopped);

    assert!(
        eventually(Duration::from_secs(5), || subscriber_count(
            &redis.url, &channel
        )
        .map_ok_one())
        .await,
        "the subscriber should subscribe"
    );

    let bus = RedisInvalidationBus::new(pool, channel.clone());
    let messages = [
        InvalidationMessage::Key("task:1".into()),
        InvalidationMessage::Pattern("tasks_paginated:*".into()),
        InvalidationMessage::Namespace("tasks_paginated".into()),
        InvalidationMessage::Clear,
    ];
    for m in &messages {
        bus.publish(m).await.expect("publish");
    }
    let expected: Vec<InvalidationEvent> = messages
        .iter()
        .cloned()
        .map(InvalidationEvent::Message)
        .collect();
    assert!(
        eventually(Duration::from_secs(2), || async {
            *seen.lock().expect("lock") == expected
        })
        .await,
        "got {:?}",
        seen.lock().expect("lock")
    );

    stop.send(true).expect("stop");
    task.await.expect("subscriber ends cleanly");
    assert_eq!(subscriber_count(&redis.url, &channel).await, 0);
}

#[tokio::test]
async fn a_killed_subscription_is_re_established_and_announces_a_resynchronisation() {
    let (redis, pool, _store) = setup().await;
    let channel = invalidation_channel(&redis.prefix);
    let (seen, handler) = recorder();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = spawn_invalidation_subscriber(redis.url.clone(), channel.clone(), handler, stopped);
    assert!(
        eventually(Duration::from_secs(5), || subscriber_count(
            &redis.url, &channel
        )
        .map_ok_one())
        .await
    );
    assert!(
        seen.lock().expect("lock").is_empty(),
        "no resync on the first subscription"
    );

    // Find our subscriber by its client name and kill that one connection only.
    let mut conn = redis.connection().await;
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut conn)
        .await
        .expect("CLIENT LIST");
    let name = format!("name={}", subscriber_client_name(&channel));
    let id = list
        .lines()
        .find(|line| line.split(' ').any(|field| field == name))
        .and_then(|line| line.split(' ').find_map(|f| f.strip_prefix("id=")))
        .expect("the subscriber's connection is listed under its name")
        .to_owned();
    let killed: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(&id)
        .query_async(&mut conn)
        .await
        .expect("CLIENT KILL");
    assert_eq!(killed, 1);

    assert!(
        eventually(Duration::from_secs(5), || async {
            seen.lock()
                .expect("lock")
                .contains(&InvalidationEvent::Resynchronise)
        })
        .await,
        "a resubscription must announce Resynchronise"
    );
    assert!(
        eventually(Duration::from_secs(5), || subscriber_count(
            &redis.url, &channel
        )
        .map_ok_one())
        .await
    );
    // Messages flow again on the new connection.
    let bus = RedisInvalidationBus::new(pool, channel.clone());
    bus.publish(&InvalidationMessage::Key("task:9".into()))
        .await
        .expect("publish");
    assert!(
        eventually(Duration::from_secs(2), || async {
            seen.lock()
                .expect("lock")
                .contains(&InvalidationEvent::Message(InvalidationMessage::Key(
                    "task:9".into(),
                )))
        })
        .await
    );
    stop.send(true).expect("stop");
    task.await.expect("subscriber ends cleanly");
}

trait CountIsOne {
    fn map_ok_one(self) -> impl std::future::Future<Output = bool>;
}

impl<F: std::future::Future<Output = u64>> CountIsOne for F {
    async fn map_ok_one(self) -> bool {
        self.await == 1
    }
}
