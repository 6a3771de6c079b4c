//! Unit tests of the authorization service over in-memory fakes of its ports.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::Ordering;

use authz_engine::{Decision, Outcome, PolicyType, Reason};
use domain::{ADMIN_ROLE_ID, Attribute, USER_ROLE_ID};
use ports::{AuditDecision, PortError};
use time::Duration;

use super::fakes::{
    ADMIN, CountingRecorder, FakeClock, FakeRepository, JANE, JOHN, RecordingAudit,
    RecordingNotifier, SAM, START, uid,
};
use super::{
    AccessRequest, AccessTarget, AuthorizationError, AuthorizationService, RequestContext, RoleRef,
};

struct Harness {
    repo: Arc<FakeRepository>,
    audit: Arc<RecordingAudit>,
    clock: Arc<FakeClock>,
    notifier: Arc<RecordingNotifier>,
    service: AuthorizationService,
}

fn harness() -> Harness {
    let repo = Arc::new(FakeRepository::seeded());
    let audit = Arc::new(RecordingAudit::default());
    let clock = Arc::new(FakeClock::new());
    let notifier = Arc::new(RecordingNotifier::default());
    let service = AuthorizationService::new(repo.clone(), audit.clone(), clock.clone())
        .with_notifier(notifier.clone());
    Harness {
        repo,
        audit,
        clock,
        notifier,
        service,
    }
}

fn context() -> RequestContext {
    RequestContext {
        ip: Some("198.51.100.4".parse().unwrap()),
        user_agent: Some("tests".into()),
        request_id: "req-1".into(),
        method: "GET".into(),
        path: "/api/v1/tasks/x".into(),
    }
}

impl Harness {
    async fn decide(
        &self,
        user: u128,
        resource: &str,
        action: &str,
        target: AccessTarget,
    ) -> Decision {
        self.service
            .authorize(
                AccessRequest::new(uid(user), resource, action).on(target),
                &context(),
            )
            .await
            .unwrap()
    }
}

fn assert_allowed(decision: Decision, why: Reason) {
    assert_eq!(decision.outcome, Outcome::Allowed, "{decision:?}");
    assert_eq!(decision.reason, Reason::AccessGranted);
    assert_eq!(decision.policy, PolicyType::Combined);
    assert_eq!(decision.abac_reason, Some(why));
}

fn assert_denied(decision: Decision, policy: PolicyType, why: Reason) {
    assert_eq!(decision.outcome, Outcome::Denied, "{decision:?}");
    assert_eq!(decision.policy, policy);
    assert_eq!(decision.reason, why);
}

#[tokio::test]
async fn a_missing_permission_is_an_rbac_denial_and_is_audited() {
    let h = harness();
    let d = h.decide(JOHN, "user", "read", AccessTarget::None).await;
    assert_denied(d, PolicyType::Rbac, Reason::LacksRbacPermission);
    let records = h.audit.records();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.user_id, uid(JOHN));
    assert_eq!(r.action, "read_user");
    assert_eq!(r.resource, "user");
    assert_eq!(r.resource_id, None);
    assert_eq!(r.decision, AuditDecision::Denied);
    assert_eq!(r.reason, "User lacks required RBAC permission");
    assert_eq!(r.ip_address, context().ip);
    assert_eq!(r.user_agent.as_deref(), Some("tests"));
    assert_eq!(r.request_id, "req-1");
    assert_eq!(r.request_method.as_deref(), Some("GET"));
    assert_eq!(r.request_path.as_deref(), Some("/api/v1/tasks/x"));
    assert_eq!(r.context["policy_type"], "rbac");
    assert!(r.context["abac_reason"].is_null());
    assert_eq!(r.timestamp, START);
}

#[tokio::test]
async fn unknown_callers_fail_rbac() {
    let h = harness();
    let d = h.decide(999, "task", "create", AccessTarget::None).await;
    assert_denied(d, PolicyType::Rbac, Reason::LacksRbacPermission);
}

#[tokio::test]
async fn an_admin_has_full_access_without_loading_the_task() {
    let h = harness();
    let task = h.repo.add_task(uid(JOHN));
    let d = h
        .decide(ADMIN, "task", "delete", AccessTarget::Task(task))
        .await;
    assert_allowed(d, Reason::AdminFullAccess);
    assert_eq!(h.repo.task_loads.load(Ordering::SeqCst), 0);
    let d = h
        .decide(ADMIN, "user", "delete", AccessTarget::User(uid(JOHN)))
        .await;
    assert_allowed(d, Reason::AdminFullAccess);
    let record = &h.audit.records()[0];
    assert_eq!(record.action, "delete_task");
    assert_eq!(record.resource_id, Some(task.as_uuid()));
    assert_eq!(record.decision, AuditDecision::Allowed);
    assert_eq!(record.reason, "Access granted by RBAC and ABAC policies");
    assert_eq!(record.context["policy_type"], "combined");
    assert_eq!(record.context["abac_reason"], "Admin has full access");
}

#[tokio::test]
async fn task_rules_owner_department_reader_and_others() {
    let h = harness();
    let task = AccessTarget::Task(h.repo.add_task(uid(JOHN)));
    for action in ["read", "update", "delete"] {
        assert_allowed(
            h.decide(JOHN, "task", action, task).await,
            Reason::TaskOwnerHasAccess,
        );
    }
    assert_allowed(
        h.decide(JANE, "task", "read", task).await,
        Reason::DepartmentMemberCanView,
    );
    for action in ["update", "delete"] {
        assert_denied(
            h.decide(JANE, "task", action, task).await,
            PolicyType::Abac,
            Reason::UserCanOnlyAccessOwnTasks,
        );
    }
    assert_denied(
        h.decide(SAM, "task", "read", task).await,
        PolicyType::Abac,
        Reason::UserCanOnlyAccessOwnTasks,
    );
    let missing = AccessTarget::Task(domain::TaskId::new_v7());
    assert_denied(
        h.decide(JOHN, "task", "read", missing).await,
        PolicyType::Abac,
        Reason::TaskNotFound,
    );
    assert_allowed(
        h.decide(JOHN, "task", "create", AccessTarget::None).await,
        Reason::TaskCreationAllowed,
    );
    assert_allowed(
        h.decide(JOHN, "task", "read", AccessTarget::None).await,
        Reason::TaskListingAllowed,
    );
    let last = h.audit.records().pop().unwrap();
    assert_eq!(last.context["abac_reason"], "Task listing allowed");
}

#[tokio::test]
async fn a_task_already_read_is_decided_without_loading_it_again() {
    let h = harness();
    let id = h.repo.add_task(uid(JOHN));
    let task = AccessTarget::OwnedTask {
        id,
        owner: uid(JOHN),
    };
    for action in ["read", "update", "delete"] {
        assert_allowed(
            h.decide(JOHN, "task", action, task).await,
            Reason::TaskOwnerHasAccess,
        );
    }
    // The owner's own requests need neither the task nor the owner's department.
    assert_eq!(h.repo.task_loads.load(Ordering::SeqCst), 0);
    assert_eq!(h.repo.department_loads.load(Ordering::SeqCst), 0);
    assert_allowed(
        h.decide(JANE, "task", "read", task).await,
        Reason::DepartmentMemberCanView,
    );
    assert_denied(
        h.decide(JANE, "task", "update", task).await,
        PolicyType::Abac,
        Reason::UserCanOnlyAccessOwnTasks,
    );
    assert_denied(
        h.decide(SAM, "task", "read", task).await,
        PolicyType::Abac,
        Reason::UserCanOnlyAccessOwnTasks,
    );
    assert_eq!(h.repo.task_loads.load(Ordering::SeqCst), 0);
    assert_eq!(h.audit.records()[0].resource_id, Some(id.as_uuid()));
}

#[tokio::test]
async fn user_tasks_listing_follows_the_task_rules_for_the_target_user() {
    let h = harness();
    assert_allowed(
        h.decide(JOHN, "task", "read", AccessTarget::UserTasks(uid(JOHN)))
            .await,
        Reason::TaskOwnerHasAccess,
    );
    assert_allowed(
        h.decide(JOHN, "task", "read", AccessTarget::UserTasks(uid(JANE)))
            .await,
        Reason::DepartmentMemberCanView,
    );
    assert_denied(
        h.decide(JOHN, "task", "read", AccessTarget::UserTasks(uid(SAM)))
            .await,
        PolicyType::Abac,
        Reason::UserCanOnlyAccessOwnTasks,
    );
    assert_allowed(
        h.decide(ADMIN, "task", "read", AccessTarget::UserTasks(uid(SAM)))
            .await,
        Reason::AdminFullAccess,
    );
}

#[tokio::test]
async fn profile_rules_self_only_for_regular_users() {
    let h = harness();
    assert_allowed(
        h.decide(JOHN, "profile", "read", AccessTarget::User(uid(JOHN)))
            .await,
        Reason::UserCanAccessOwnProfile,
    );
    assert_denied(
        h.decide(JOHN, "profile", "read", AccessTarget::User(uid(JANE)))
            .await,
        PolicyType::Abac,
        Reason::UsersCanOnlyViewOwnProfile,
    );
    assert_denied(
        h.decide(JOHN, "profile", "update", AccessTarget::User(uid(JANE)))
            .await,
        PolicyType::Abac,
        Reason::OnlyAdminsCanModifyOtherUsers,
    );
    assert_denied(
        h.decide(JOHN, "user", "update", AccessTarget::User(uid(JANE)))
            .await,
        PolicyType::Rbac,
        Reason::LacksRbacPermission,
    );
    // A regular user given `user:read` through a new role may list users.
    let directory = h.service.create_role("directory", "").await.unwrap();
    let user_read = h.repo.permission_id(ADMIN_ROLE_ID, "user", "read");
    h.service
        .grant_permission(&RoleRef::Id(directory.id), user_read, None)
        .await
        .unwrap();
    h.service
        .assign_role(uid(JOHN), &RoleRef::Name("directory".into()), None, None)
        .await
        .unwrap();
    assert_allowed(
        h.decide(JOHN, "user", "read", AccessTarget::None).await,
        Reason::UserListingAllowed,
    );
    assert_allowed(
        h.decide(ADMIN, "audit", "read", AccessTarget::None).await,
        Reason::AdminFullAccess,
    );
}

#[tokio::test]
async fn storage_failures_are_errors_and_nothing_is_audited() {
    let h = harness();
    h.repo.failing.store(true, Ordering::SeqCst);
    let result = h
        .service
        .authorize(AccessRequest::new(uid(JOHN), "task", "read"), &context())
        .await;
    assert!(matches!(
        result,
        Err(AuthorizationError::Storage(PortError::Unavailable(_)))
    ));
    assert!(h.audit.records().is_empty());
    assert!(matches!(
        h.service.is_admin(uid(ADMIN)).await,
        Err(AuthorizationError::Storage(_))
    ));
}

#[tokio::test]
async fn explain_decides_without_auditing() {
    let h = harness();
    let d = h
        .service
        .explain(AccessRequest::new(uid(JOHN), "profile", "read").on(AccessTarget::User(uid(SAM))))
        .await
        .unwrap();
    assert_denied(d, PolicyType::Abac, Reason::UsersCanOnlyViewOwnProfile);
    assert!(h.audit.records().is_empty());
}

#[tokio::test]
async fn snapshots_are_cached_and_dropped_when_roles_change_through_the_service() {
    let h = harness();
    let loads = || h.repo.subject_loads.load(Ordering::SeqCst);
    assert_denied(
        h.decide(JOHN, "audit", "read", AccessTarget::None).await,
        PolicyType::Rbac,
        Reason::LacksRbacPermission,
    );
    h.decide(JOHN, "task", "read", AccessTarget::None).await;
    assert_eq!(loads(), 1, "the second decision used the cached snapshot");

    let role = h
        .service
        .assign_role(
            uid(JOHN),
            &RoleRef::Name("admin".into()),
            Some(uid(ADMIN)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(role.id, ADMIN_ROLE_ID);
    assert_eq!(h.notifier.published(), [Some(uid(JOHN))]);
    assert_allowed(
        h.decide(JOHN, "audit", "read", AccessTarget::None).await,
        Reason::AdminFullAccess,
    );
    assert_eq!(loads(), 2);

    h.service
        .revoke_role(uid(JOHN), &RoleRef::Id(ADMIN_ROLE_ID))
        .await
        .unwrap();
    assert_denied(
        h.decide(JOHN, "audit", "read", AccessTarget::None).await,
        PolicyType::Rbac,
        Reason::LacksRbacPermission,
    );
    assert_eq!(h.notifier.published(), [Some(uid(JOHN)), Some(uid(JOHN))]);
}

#[tokio::test]
async fn an_attribute_change_through_the_service_counts_at_once() {
    let h = harness();
    let task = AccessTarget::Task(h.repo.add_task(uid(JOHN)));
    assert_denied(
        h.decide(SAM, "task", "read", task).await,
        PolicyType::Abac,
        Reason::UserCanOnlyAccessOwnTasks,
    );
    h.service
        .set_user_attribute(uid(SAM), &Attribute::string("department", "Engineering"))
        .await
        .unwrap();
    assert_allowed(
        h.decide(SAM, "task", "read", task).await,
        Reason::DepartmentMemberCanView,
    );
}

#[tokio::test]
async fn changes_behind_the_services_back_count_within_sixty_seconds() {
    let h = harness();
    let task = AccessTarget::Task(h.repo.add_task(uid(JOHN)));
    assert_denied(
        h.decide(SAM, "task", "read", task).await,
        PolicyType::Abac,
        Reason::UserCanOnlyAccessOwnTasks,
    );
    h.repo
        .set_department_attribute_directly(uid(SAM), "Engineering");
    h.clock.advance(Duration::seconds(59));
    assert_denied(
        h.decide(SAM, "task", "read", task).await,
        PolicyType::Abac,
        Reason::UserCanOnlyAccessOwnTasks,
    );
    h.clock.advance(Duration::seconds(1));
    assert_allowed(
        h.decide(SAM, "task", "read", task).await,
        Reason::DepartmentMemberCanView,
    );
}

#[tokio::test]
async fn a_time_limited_role_stops_counting_at_its_expiry_even_when_cached() {
    let h = harness();
    h.service
        .assign_role(
            uid(JOHN),
            &RoleRef::Name("admin".into()),
            None,
            Some(START + Duration::seconds(10)),
        )
        .await
        .unwrap();
    assert_allowed(
        h.decide(JOHN, "audit", "read", AccessTarget::None).await,
        Reason::AdminFullAccess,
    );
    h.clock.advance(Duration::seconds(10));
    assert_denied(
        h.decide(JOHN, "audit", "read", AccessTarget::None).await,
        PolicyType::Rbac,
        Reason::LacksRbacPermission,
    );
}

#[tokio::test]
async fn remote_and_login_invalidations_drop_snapshots() {
    let h = harness();
    h.decide(JOHN, "task", "read", AccessTarget::None).await;
    h.service.apply_remote_invalidation(Some(uid(JOHN)));
    h.decide(JOHN, "task", "read", AccessTarget::None).await;
    assert_eq!(h.repo.subject_loads.load(Ordering::SeqCst), 2);
    assert!(
        h.notifier.published().is_empty(),
        "remote ones are not re-published"
    );
    h.service.apply_remote_invalidation(None);
    h.decide(JOHN, "task", "read", AccessTarget::None).await;
    assert_eq!(h.repo.subject_loads.load(Ordering::SeqCst), 3);
    h.service.invalidate_subject(uid(JOHN));
    assert_eq!(h.notifier.published(), [Some(uid(JOHN))]);
    h.decide(JOHN, "task", "read", AccessTarget::None).await;
    assert_eq!(h.repo.subject_loads.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn granting_a_permission_invalidates_everyone() {
    let h = harness();
    assert_denied(
        h.decide(JOHN, "audit", "read", AccessTarget::None).await,
        PolicyType::Rbac,
        Reason::LacksRbacPermission,
    );
    let audit_read = h.repo.permission_id(ADMIN_ROLE_ID, "audit", "read");
    h.service
        .grant_permission(&RoleRef::Id(USER_ROLE_ID), audit_read, Some(uid(ADMIN)))
        .await
        .unwrap();
    assert_eq!(h.notifier.published(), [None]);
    assert_allowed(
        h.decide(JOHN, "audit", "read", AccessTarget::None).await,
        Reason::NoSpecificAbacPolicy,
    );
    assert_eq!(
        h.service
            .grant_permission(&RoleRef::Name("user".into()), audit_read, None)
            .await,
        Err(AuthorizationError::Conflict(
            "role already has this permission".into()
        ))
    );
}

#[tokio::test]
async fn administration_errors_name_what_is_wrong() {
    let h = harness();
    assert_eq!(
        h.service
            .assign_role(uid(JOHN), &RoleRef::Name("user".into()), None, None)
            .await,
        Err(AuthorizationError::Conflict(
            "user already has this role".into()
        ))
    );
    assert_eq!(
        h.service
            .assign_role(uid(JOHN), &RoleRef::Name("nope".into()), None, None)
            .await,
        Err(AuthorizationError::RoleNotFound)
    );
    assert_eq!(
        h.service
            .assign_role(uid(999), &RoleRef::Name("admin".into()), None, None)
            .await,
        Err(AuthorizationError::UserNotFound)
    );
    assert_eq!(
        h.service
            .revoke_role(uid(JOHN), &RoleRef::Name("admin".into()))
            .await,
        Err(AuthorizationError::NotAssigned)
    );
    assert!(matches!(
        h.service
            .set_user_attribute(uid(JOHN), &Attribute::string(" ", "x"))
            .await,
        Err(AuthorizationError::InvalidInput(_))
    ));
    assert!(matches!(
        h.service
            .set_user_attribute(uid(JOHN), &Attribute::string("k", "x".repeat(256)))
            .await,
        Err(AuthorizationError::InvalidInput(_))
    ));
    assert_eq!(
        h.service
            .set_user_attribute(uid(999), &Attribute::string("k", "v"))
            .await,
        Err(AuthorizationError::UserNotFound)
    );
    assert!(matches!(
        h.service.create_permission("a:b", "read", "all", "").await,
        Err(AuthorizationError::InvalidInput(_))
    ));
    assert_eq!(
        h.service
            .grant_permission(&RoleRef::Name("user".into()), uuid::Uuid::now_v7(), None)
            .await,
        Err(AuthorizationError::PermissionNotFound)
    );
}

#[tokio::test]
async fn roles_are_created_listed_and_queried() {
    let h = harness();
    let auditor = h
        .service
        .create_role("auditor", "reads logs")
        .await
        .unwrap();
    assert!(matches!(
        h.service.create_role("auditor", "again").await,
        Err(AuthorizationError::Conflict(_))
    ));
    let names: Vec<String> = h
        .service
        .list_roles()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.role.name)
        .collect();
    assert_eq!(names, ["user", "admin", "auditor"]);
    assert_eq!(
        h.service.resolve_role(&RoleRef::Id(auditor.id)).await,
        Ok(auditor)
    );
    assert!(h.service.is_admin(uid(ADMIN)).await.unwrap());
    assert!(!h.service.is_admin(uid(JOHN)).await.unwrap());
    assert!(h.service.has_role(uid(JOHN), "user").await.unwrap());
    assert!(
        h.service
            .has_permission(uid(JOHN), "task", "read")
            .await
            .unwrap()
    );
    assert!(
        !h.service
            .has_permission(uid(JOHN), "user", "read")
            .await
            .unwrap()
    );
    assert!(
        !h.service
            .has_permission(uid(999), "task", "read")
            .await
            .unwrap()
    );
    let snapshot = h.service.subject(uid(ADMIN)).await.unwrap();
    assert!(snapshot.is_admin());
}

#[tokio::test]
async fn each_decision_is_counted_by_resource_action_and_outcome() {
    let recorder = CountingRecorder::default();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let h = harness();
    h.decide(JOHN, "task", "read", AccessTarget::None).await;
    h.decide(JOHN, "task", "read", AccessTarget::None).await;
    h.decide(JOHN, "user", "delete", AccessTarget::User(uid(SAM)))
        .await;
    assert_eq!(
        recorder.count("authz_decisions_total{resource=task,action=read,decision=allowed}"),
        2
    );
    assert_eq!(
        recorder.count("authz_decisions_total{resource=user,action=delete,decision=denied}"),
        1
    );
    h.service
        .explain(AccessRequest::new(uid(JOHN), "task", "read"))
        .await
        .unwrap();
    assert_eq!(
        recorder.count("authz_decisions_total{resource=task,action=read,decision=allowed}"),
        2,
        "explain is not counted"
    );
}
