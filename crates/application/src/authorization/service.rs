//! The authorization service: decides requests with the engine over cached subject
//! snapshots, counts and audits every decision, and keeps caches in step with changes.

use std::sync::Arc;

use authz_engine::{
    Decision, ResourceRequest, Subject, SubjectSnapshot, Target, audit_action, decide,
};
use domain::{ADMIN_ROLE, UserId};
use ports::{AuditDecision, AuditRecord, AuthzRepository, Clock};
use time::OffsetDateTime;

use super::{
    AccessRequest, AccessTarget, AuditRecorder, AuthorizationError, RequestContext, SubjectCache,
};

/// Told whenever this instance changed a user's roles or attributes (`Some(user)`) or a
/// role's grants (`None`: anyone may be affected), so other instances can drop their
/// cached snapshots too (the server publishes it over Redis and feeds what it receives to
/// [`AuthorizationService::apply_remote_invalidation`]). Must not block.
pub trait SubjectInvalidationNotifier: Send + Sync + std::fmt::Debug + 'static {
    /// The subject of `user` (or of everyone) changed.
    fn on_subject_changed(&self, user: Option<UserId>);
}

/// Decides access (contract 11.2 and 11.3) and administers roles and attributes (11.6).
pub struct AuthorizationService {
    pub(super) repository: Arc<dyn AuthzRepository>,
    audit: Arc<dyn AuditRecorder>,
    pub(super) clock: Arc<dyn Clock>,
    cache: SubjectCache,
    notifier: Option<Arc<dyn SubjectInvalidationNotifier>>,
}

impl std::fmt::Debug for AuthorizationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationService")
            .field("cache", &self.cache)
            .field("audit", &self.audit)
            .field("notifier", &self.notifier)
            .finish_non_exhaustive()
    }
}

impl AuthorizationService {
    /// A service with the default subject cache (60 s per entry) and no notifier.
    #[must_use]
    pub fn new(
        repository: Arc<dyn AuthzRepository>,
        audit: Arc<dyn AuditRecorder>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            repository,
            audit,
            clock,
            cache: SubjectCache::default(),
            notifier: None,
        }
    }

    /// Uses `cache` for snapshots instead of the default one.
    #[must_use]
    pub fn with_cache(mut self, cache: SubjectCache) -> Self {
        self.cache = cache;
        self
    }

    /// Publishes local changes through `notifier`.
    #[must_use]
    pub fn with_notifier(mut self, notifier: Arc<dyn SubjectInvalidationNotifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Decides `request` for an HTTP request: counts the decision in
    /// `authz_decisions_total` and queues its audit record (never waiting for the write).
    ///
    /// # Errors
    /// [`AuthorizationError::Storage`] when the subject or the target's facts cannot be
    /// loaded; nothing is recorded then.
    pub async fn authorize(
        &self,
        request: AccessRequest<'_>,
        context: &RequestContext,
    ) -> Result<Decision, AuthorizationError> {
        let now = self.clock.now();
        let decision = self.evaluate(&request, now).await?;
        metrics::counter!(
            "authz_decisions_total",
            "resource" => request.resource.to_owned(),
            "action" => request.action.to_owned(),
            "decision" => decision.outcome.as_str(),
        )
        .increment(1);
        self.audit
            .record(audit_record(&request, &decision, context, now));
        Ok(decision)
    }

    /// The decision `request` would get, without counting or auditing it (the explain
    /// route).
    ///
    /// # Errors
    /// [`AuthorizationError::Storage`] when loading fails.
    pub async fn explain(
        &self,
        request: AccessRequest<'_>,
    ) -> Result<Decision, AuthorizationError> {
        self.evaluate(&request, self.clock.now()).await
    }

    /// The caller's snapshot as decisions see it (cached): roles, permissions, admin flag,
    /// department. Unknown or deleted users get an empty snapshot.
    ///
    /// # Errors
    /// [`AuthorizationError::Storage`] when loading fails.
    pub async fn subject(&self, user: UserId) -> Result<Arc<SubjectSnapshot>, AuthorizationError> {
        self.snapshot(user, self.clock.now()).await
    }

    /// Whether `user` holds an active `admin` assignment, asked of the database rather
    /// than the token or the cache (the admin gate of 9.0).
    ///
    /// # Errors
    /// [`AuthorizationError::Storage`] when the lookup fails.
    pub async fn is_admin(&self, user: UserId) -> Result<bool, AuthorizationError> {
        Ok(self
            .repository
            .has_role(user, ADMIN_ROLE, self.clock.now())
            .await?)
    }

    /// Drops the cached snapshot of `user` here and on other instances (for example at
    /// login, so that changes made directly in the database count at once).
    pub fn invalidate_subject(&self, user: UserId) {
        self.subjects_changed(Some(user));
    }

    /// Applies an invalidation received from another instance: `Some(user)` drops that
    /// user's snapshot, `None` drops all. Not published again.
    pub fn apply_remote_invalidation(&self, user: Option<UserId>) {
        match user {
            Some(user) => self.cache.invalidate(user),
            None => self.cache.invalidate_all(),
        }
    }

    pub(super) fn subjects_changed(&self, user: Option<UserId>) {
        self.apply_remote_invalidation(user);
        if let Some(notifier) = &self.notifier {
            notifier.on_subject_changed(user);
        }
    }

    async fn snapshot(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Arc<SubjectSnapshot>, AuthorizationError> {
        if let Some(snapshot) = self.cache.get(user, now) {
            return Ok(snapshot);
        }
        let ticket = self.cache.ticket();
        let subject = self
            .repository
            .load_subject(user)
            .await?
            .unwrap_or_else(|| Subject::unknown(user));
        let snapshot = Arc::new(SubjectSnapshot::new(&subject, now));
        self.cache.insert(ticket, Arc::clone(&snapshot), now);
        Ok(snapshot)
    }

    async fn evaluate(
        &self,
        request: &AccessRequest<'_>,
        now: OffsetDateTime,
    ) -> Result<Decision, AuthorizationError> {
        let snapshot = self.snapshot(request.user, now).await?;
        let mut resource = ResourceRequest::new(request.resource, request.action);
        resource.resource_id = request.target.resource_id();
        // The facts of the target only matter when the ABAC rules of 11.3 will look at
        // them: not when RBAC already denies, nor for an admin (full access).
        let rules_apply =
            snapshot.has_permission(request.resource, request.action) && !snapshot.is_admin();
        resource.target = match request.target {
            AccessTarget::None => Target::None,
            AccessTarget::User(id) => Target::User { id },
            AccessTarget::Task(_) | AccessTarget::OwnedTask { .. } | AccessTarget::UserTasks(_)
                if !rules_apply =>
            {
                Target::None
            }
            AccessTarget::OwnedTask { owner, .. } => Target::Task {
                owner,
                owner_department: self.department_unless_self(request.user, owner).await?,
            },
            AccessTarget::Task(task) => match self.repository.task_ownership(task).await? {
                Some(ownership) => Target::Task {
                    owner: ownership.owner,
                    owner_department: ownership.owner_department,
                },
                None => Target::TaskMissing,
            },
            AccessTarget::UserTasks(owner) => Target::UserTasks {
                owner,
                owner_department: self.department_unless_self(request.user, owner).await?,
            },
        };
        Ok(decide(&snapshot, &resource))
    }

    /// The owner's department for the same-department rule; the owner's own requests are
    /// decided without it, so they cost no query.
    async fn department_unless_self(
        &self,
        caller: UserId,
        owner: UserId,
    ) -> Result<Option<String>, AuthorizationError> {
        if caller == owner {
            Ok(None)
        } else {
            Ok(self.repository.user_department(owner).await?)
        }
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

fn audit_record(
    request: &AccessRequest<'_>,
    decision: &Decision,
    context: &RequestContext,
    now: OffsetDateTime,
) -> AuditRecord {
    AuditRecord {
        user_id: request.user,
        action: audit_action(request.resource, request.action),
        resource: request.resource.to_owned(),
        resource_id: request.target.resource_id(),
        decision: AuditDecision::from_allowed(decision.is_allowed()),
        reason: decision.reason.as_str().to_owned(),
        ip_address: context.ip,
        user_agent: context.user_agent.clone(),
        request_id: context.request_id.clone(),
        request_method: non_empty(&context.method),
        request_path: non_empty(&context.path),
        context: serde_json::json!({
            "policy_type": decision.policy.as_str(),
            "abac_reason": decision.abac_reason.map(|reason| reason.as_str()),
        }),
        timestamp: now,
    }
}
