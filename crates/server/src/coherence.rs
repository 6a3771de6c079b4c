//! Keeping per-instance state coherent across N instances: changes to a user's roles,
//! grants or attributes, and token revocations, made on one instance are announced over
//! the Redis invalidation channel, and every instance drops what it holds in process about
//! them (authorization snapshots, revocation answers).
//!
//! The channel is the cache's (`REDIS_KEY_PREFIX` + `cache_invalidation`); these messages
//! use logical keys no cache entry uses: `authz_subject:{user_id}` (or the pattern
//! `authz_subject:*` for "everyone"), `revoked_jti:{jti}` and
//! `user_tokens_revoked_at:{user_id}` (named after the Redis revocation records). Every
//! event also goes to the task cache's L1 ([`MultiLevelCache::apply_remote`]), and a
//! resubscription (which may have missed messages) empties all three.

use std::sync::Arc;

use application::{
    AuthorizationService, CachedTaskService, SubjectInvalidationNotifier,
    cache::MultiLevelCache,
    identity::{CachedRevocationStore, RevocationChange, RevocationNotifier},
};
use async_trait::async_trait;
use domain::UserId;
use ports::{InvalidationBus, InvalidationEvent, InvalidationMessage};

const SUBJECT_KEY_PREFIX: &str = "authz_subject:";
const ALL_SUBJECTS: &str = "authz_subject:*";
const REVOKED_JTI_PREFIX: &str = "revoked_jti:";
const USER_CUTOFF_PREFIX: &str = "user_tokens_revoked_at:";

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

/// Announces this instance's token revocations on the invalidation bus. The revoking
/// request waits for the publish (one round trip), so that when it returns every
/// subscribed instance has the message.
pub struct BusRevocationNotifier {
    bus: Arc<dyn InvalidationBus>,
}

impl BusRevocationNotifier {
    /// A notifier publishing on `bus`.
    #[must_use]
    pub fn new(bus: Arc<dyn InvalidationBus>) -> Self {
        Self { bus }
    }
}

impl std::fmt::Debug for BusRevocationNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusRevocationNotifier")
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl RevocationNotifier for BusRevocationNotifier {
    async fn announce(&self, change: RevocationChange) {
        if let Err(error) = self.bus.publish(&revocation_message(change)).await {
            tracing::warn!(%error, "could not announce a token revocation; other instances see it within their revocation view's lifetime");
        }
    }
}

fn revocation_message(change: RevocationChange) -> InvalidationMessage {
    InvalidationMessage::Key(match change {
        RevocationChange::Jti(jti) => format!("{REVOKED_JTI_PREFIX}{jti}"),
        RevocationChange::UserCutoff(user) => format!("{USER_CUTOFF_PREFIX}{user}"),
    })
}

/// The revocation a received message announces, if it is one.
fn revocation_change(event: &InvalidationEvent) -> Option<RevocationChange> {
    let InvalidationEvent::Message(InvalidationMessage::Key(key)) = event else {
        return None;
    };
    if let Some(jti) = key.strip_prefix(REVOKED_JTI_PREFIX) {
        return jti.parse().ok().map(RevocationChange::Jti);
    }
    key.strip_prefix(USER_CUTOFF_PREFIX)
        .and_then(|user| user.parse().ok())
        .map(RevocationChange::UserCutoff)
}

/// Whether `event` may have invalidated task cache entries (anything but the
/// authorization and revocation messages).
fn concerns_task_cache(event: &InvalidationEvent) -> bool {
    match event {
        InvalidationEvent::Resynchronise => true,
        InvalidationEvent::Message(InvalidationMessage::Key(key)) => {
            ![SUBJECT_KEY_PREFIX, REVOKED_JTI_PREFIX, USER_CUTOFF_PREFIX]
                .iter()
                .any(|prefix| key.starts_with(prefix))
        }
        InvalidationEvent::Message(InvalidationMessage::Pattern(pattern)) => {
            pattern != ALL_SUBJECTS
        }
        InvalidationEvent::Message(
            InvalidationMessage::Namespace(_) | InvalidationMessage::Clear,
        ) => true,
    }
}

/// What the invalidation subscriber keeps coherent on this instance.
pub struct LocalState {
    /// Authorization snapshots.
    pub authorization: Arc<AuthorizationService>,
    /// Revocation answers.
    pub revocations: Arc<CachedRevocationStore>,
    /// The task cache's L1.
    pub cache: Arc<MultiLevelCache>,
    /// The cached task service, whose loads in flight must not keep what another
    /// instance's write just invalidated.
    pub tasks: Arc<CachedTaskService>,
}

/// The subscriber's handler: applies authorization and revocation events to their
/// in-process views and every event to the local cache's L1.
pub fn invalidation_handler(local: LocalState) -> Arc<dyn Fn(InvalidationEvent) + Send + Sync> {
    Arc::new(move |event| {
        if let Some(user) = subject_invalidation(&event) {
            local.authorization.apply_remote_invalidation(user);
        }
        if let Some(change) = revocation_change(&event) {
            local.revocations.apply_remote(change);
        } else if event == InvalidationEvent::Resynchronise {
            local.revocations.forget_all();
        }
        if concerns_task_cache(&event) {
            local.tasks.other_instance_wrote();
        }
        local.cache.apply_remote(event);
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
    fn revocation_messages_round_trip_to_what_they_name() {
        let jti = uuid::Uuid::from_u128(7);
        let user: UserId = "20000000-0000-0000-0000-000000000002"
            .parse()
            .expect("uuid");
        for change in [
            RevocationChange::Jti(jti),
            RevocationChange::UserCutoff(user),
        ] {
            let event = InvalidationEvent::Message(revocation_message(change));
            assert_eq!(revocation_change(&event), Some(change));
            assert_eq!(subject_invalidation(&event), None);
        }
        for key in ["revoked_jti:nope", "user_tokens_revoked_at:", "task:1"] {
            let event = InvalidationEvent::Message(InvalidationMessage::Key(key.into()));
            assert_eq!(revocation_change(&event), None);
        }
    }

    #[test]
    fn only_task_cache_messages_concern_loads_in_flight() {
        let key = |k: &str| InvalidationEvent::Message(InvalidationMessage::Key(k.into()));
        assert!(concerns_task_cache(&key("task:1")));
        assert!(concerns_task_cache(&InvalidationEvent::Resynchronise));
        assert!(concerns_task_cache(&InvalidationEvent::Message(
            InvalidationMessage::Namespace("tasks_paginated".into())
        )));
        assert!(!concerns_task_cache(&key("authz_subject:x")));
        assert!(!concerns_task_cache(&key("revoked_jti:x")));
        assert!(!concerns_task_cache(&key("user_tokens_revoked_at:x")));
        assert!(!concerns_task_cache(&InvalidationEvent::Message(
            subject_message(None)
        )));
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
