//! The authorization service wired to the real PostgreSQL adapters: decisions reach
//! `audit_logs` through the batching writer, and role changes decide the next request,
//! on this instance and (through the invalidation hook) on another one.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use adapters_postgres::{PgAuditLog, PgAuthzRepository};
use application::authorization::{
    AccessRequest, AccessTarget, AuditWriter, AuthorizationService, RequestContext, RoleRef,
    SubjectInvalidationNotifier,
};
use authz_engine::{Outcome, Reason};
use domain::UserId;
use ports::{AuditDecision, AuditQuery, AuditReader, SystemClock};
use testkit::TestDatabase;
use uuid::Uuid;

const ADMIN_USER: UserId = UserId(Uuid::from_u128(0x10));
const JOHN: UserId = UserId(Uuid::from_u128(0x2000_0000_0000_0000_0000_0000_0000_0001));

fn context(request_id: &str, method: &str, path: &str) -> RequestContext {
    RequestContext {
        ip: Some("192.0.2.10".parse().unwrap()),
        user_agent: Some("integration".into()),
        request_id: request_id.into(),
        method: method.into(),
        path: path.into(),
    }
}

#[tokio::test]
async fn decisions_are_written_to_audit_logs_with_every_column_after_shutdown() {
    let database = TestDatabase::new().await;
    let pool = database.pool().await;
    let log = Arc::new(PgAuditLog::new(pool.clone()));
    let (writer, task) = AuditWriter::spawn(log.clone(), 100);
    let service = AuthorizationService::new(
        Arc::new(PgAuthzRepository::new(pool)),
        Arc::new(writer.clone()),
        Arc::new(SystemClock),
    );

    let denied = service
        .authorize(
            AccessRequest::new(JOHN, "profile", "read").on(AccessTarget::User(ADMIN_USER)),
            &context("req-denied", "GET", "/api/v1/users/profile/x"),
        )
        .await
        .unwrap();
    assert_eq!(denied.reason, Reason::UsersCanOnlyViewOwnProfile);
    let allowed = service
        .authorize(
            AccessRequest::new(JOHN, "task", "create"),
            &context("req-allowed", "POST", "/api/v1/tasks"),
        )
        .await
        .unwrap();
    assert!(allowed.is_allowed());

    writer.shutdown().await;
    task.await.unwrap();

    let page = log.list(&AuditQuery::default()).await.unwrap();
    assert_eq!(page.total, 2);
    let mut records: Vec<_> = page.records.into_iter().map(|s| s.record).collect();
    records.sort_by(|a, b| a.request_id.cmp(&b.request_id));
    let (allowed, denied) = (&records[0], &records[1]);

    assert_eq!(denied.request_id, "req-denied");
    assert_eq!(denied.user_id, JOHN);
    assert_eq!(denied.action, "read_profile");
    assert_eq!(denied.resource, "profile");
    assert_eq!(denied.resource_id, Some(ADMIN_USER.as_uuid()));
    assert_eq!(denied.decision, AuditDecision::Denied);
    assert_eq!(denied.reason, "Users can only view their own profile");
    assert_eq!(denied.request_method.as_deref(), Some("GET"));
    assert_eq!(
        denied.request_path.as_deref(),
        Some("/api/v1/users/profile/x")
    );
    assert_eq!(denied.ip_address, Some("192.0.2.10".parse().unwrap()));
    assert_eq!(denied.user_agent.as_deref(), Some("integration"));
    assert_eq!(denied.context["policy_type"], "abac");

    assert_eq!(allowed.request_id, "req-allowed");
    assert_eq!(allowed.action, "create_task");
    assert_eq!(allowed.resource_id, None);
    assert_eq!(allowed.decision, AuditDecision::Allowed);
    assert_eq!(allowed.reason, "Access granted by RBAC and ABAC policies");
    assert_eq!(allowed.request_method.as_deref(), Some("POST"));
    assert_eq!(allowed.context["abac_reason"], "Task creation allowed");
}

/// Stands in for the Redis pub/sub the server wires: hands changes to another instance.
#[derive(Debug)]
struct ToOtherInstance(Arc<AuthorizationService>);

impl SubjectInvalidationNotifier for ToOtherInstance {
    fn on_subject_changed(&self, user: Option<UserId>) {
        self.0.apply_remote_invalidation(user);
    }
}

#[tokio::test]
async fn a_role_granted_then_revoked_changes_the_next_decision_on_both_instances() {
    let database = TestDatabase::new().await;
    let pool = database.pool().await;
    let log = Arc::new(PgAuditLog::new(pool.clone()));
    let (writer, task) = AuditWriter::spawn(log.clone(), 100);
    let instance = |notifier: Option<Arc<AuthorizationService>>| {
        let service = AuthorizationService::new(
            Arc::new(PgAuthzRepository::new(pool.clone())),
            Arc::new(writer.clone()),
            Arc::new(SystemClock),
        );
        match notifier {
            Some(other) => service.with_notifier(Arc::new(ToOtherInstance(other))),
            None => service,
        }
    };
    let other = Arc::new(instance(None));
    let here = instance(Some(other.clone()));
    let read_audit = || AccessRequest::new(JOHN, "audit", "read");
    let ctx = context("req", "GET", "/api/v1/audit-logs");

    for service in [&here, other.as_ref()] {
        let decision = service.authorize(read_audit(), &ctx).await.unwrap();
        assert_eq!(decision.reason, Reason::LacksRbacPermission);
    }

    here.assign_role(JOHN, &RoleRef::parse("admin"), Some(ADMIN_USER), None)
        .await
        .unwrap();
    assert!(here.is_admin(JOHN).await.unwrap());
    for service in [&here, other.as_ref()] {
        let decision = service.authorize(read_audit(), &ctx).await.unwrap();
        assert_eq!(decision.outcome, Outcome::Allowed);
        assert_eq!(decision.abac_reason, Some(Reason::AdminFullAccess));
    }

    here.revoke_role(
        JOHN,
        &RoleRef::parse("00000000-0000-0000-0000-000000000002"),
    )
    .await
    .unwrap();
    assert!(!here.is_admin(JOHN).await.unwrap());
    for service in [&here, other.as_ref()] {
        let decision = service.authorize(read_audit(), &ctx).await.unwrap();
        assert_eq!(decision.reason, Reason::LacksRbacPermission);
    }

    writer.shutdown().await;
    task.await.unwrap();
    let denied = AuditQuery {
        user_id: Some(JOHN),
        decision: Some(AuditDecision::Denied),
        ..AuditQuery::default()
    };
    assert_eq!(log.list(&denied).await.unwrap().total, 4);
    assert_eq!(log.list(&AuditQuery::default()).await.unwrap().total, 6);
}
