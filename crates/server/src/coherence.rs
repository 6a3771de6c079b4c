//! Keeping per-instance state coherent across N instances: changes to a user's roles,
//! grants or attributes made on one instance are announced over the Redis invalidation
//! channel, and every instance drops its cached authorization snapshot of that user.
//!
//! The channel is the cache's (`REDIS_KEY_PREFIX` + `cache_invalidation`); authorization
//! messages use the logical key `authz_subject:{user_id}` (or the pattern
//! `authz_subject:*` for "everyone"), which no cache entry uses. Every event also goes to
//! the task cache's L1 ([`MultiLevelCache::apply_remote`]), so a resubscription (which may
//! have missed messages) empties both.

use std::sync::Arc;

use application::{AuthorizationService, SubjectInvalidationNotifier, cache::MultiLevelCache};
use domain::UserId;
use ports::{InvalidationBus, InvalidationEvent, InvalidationMessage};

const SUBJECT_KEY_PREFIX: &str = "authz_subject:";
const ALL_SUBJECTS: &str = "authz_subject:*";

/// Announces subject changes on the invalidation bus without blocking the caller.
pub struct BusSubjectNotifier {
    bus: Arc<dyn InvalidationBus>,
}

impl BusSubjectNotifier {
    /// A notifier publishing on `bus`.
    #[must_use]
    pub fn new(bus: Arc<dyn InvalidationBus>) -> Self {
        Self { bus }
    }
}

impl std::fmt::Debug for BusSubjectNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusSubjectNotifier").finish_non_exhaustive()
    }
}

impl SubjectInvalidationNotifier for BusSubjectNotifier {
    fn on_subject_changed(&self, user: Option<UserId>) {
        let message = subject_message(user);
        let bus = self.bus.clone();
        // Publishing is a network round trip; the caller (a request) must not wait for it.
        tokio::spawn(async move {
            if let Err(error) = bus.publish(&message).await {
                tracing::warn!(%error, "could not announce an authorization change; other instances catch up within 60 s");
            }
        });
    }
}

fn subject_message(user: Option<UserId>) -> InvalidationMessage {
    match user {
        Some(user) => InvalidationMessage::Key(format!("{SUBJECT_KEY_PREFIX}{user}")),
        None => InvalidationMessage::Pattern(ALL_SUBJECTS.to_owned()),
    }
}

/// What a received event means for the authorization cache: `Some(Some(user))` drop one
/// user, `Some(None)` drop everyone, `None` not an authorization event.
fn subject_invalidation(event: &InvalidationEvent) -> Option<Option<UserId>> {
    match event {
        // Messages may have been missed while disconnected: forget everything.
        InvalidationEvent::Resynchronise
        | InvalidationEvent::Message(InvalidationMessage::Clear) => Some(None),
        InvalidationEvent::Message(InvalidationMessage::Key(key)) => key
            .strip_prefix(SUBJECT_KEY_PREFIX)
            .and_then(|id| id.parse().ok())
            .map(Some),
        InvalidationEvent::Message(InvalidationMessage::Pattern(pattern))
            if pattern == ALL_SUBJECTS =>
        {
            Some(None)
        }
        InvalidationEvent::Message(_) => None,
    }
}

/// The subscriber's handler: applies authorization events to the local authorization
/// service and every event to the local cache's L1.
pub fn invalidation_handler(
    authorization: Arc<AuthorizationService>,
    cache: Arc<MultiLevelCache>,
) -> Arc<dyn Fn(InvalidationEvent) + Send + Sync> {
    Arc::new(move |event| {
        if let Some(user) = subject_invalidation(&event) {
            authorization.apply_remote_invalidation(user);
        }
        cache.apply_remote(event);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_to_the_user_they_name() {
        let user: UserId = "20000000-0000-0000-0000-000000000001"
            .parse()
            .expect("uuid");
        let event = InvalidationEvent::Message(subject_message(Some(user)));
        assert_eq!(subject_invalidation(&event), Some(Some(user)));
        let everyone = InvalidationEvent::Message(subject_message(None));
        assert_eq!(subject_invalidation(&everyone), Some(None));
    }

    #[test]
    fn a_resubscription_or_clear_drops_every_subject() {
        assert_eq!(
            subject_invalidation(&InvalidationEvent::Resynchronise),
            Some(None)
        );
        assert_eq!(
            subject_invalidation(&InvalidationEvent::Message(InvalidationMessage::Clear)),
            Some(None)
        );
    }

    #[test]
    fn cache_messages_are_not_authorization_events() {
        for message in [
            InvalidationMessage::Key("task:1".into()),
            InvalidationMessage::Key("authz_subject:not-a-uuid".into()),
            InvalidationMessage::Pattern("tasks_paginated:*".into()),
            InvalidationMessage::Namespace("user_tasks".into()),
        ] {
            assert_eq!(
                subject_invalidation(&InvalidationEvent::Message(message)),
                None
            );
        }
    }
}
