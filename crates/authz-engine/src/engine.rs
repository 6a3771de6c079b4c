//! The decision procedure of contract 11.2 and the ABAC policies of 11.3.

use domain::UserId;

use crate::{Decision, Outcome, PolicyType, Reason, ResourceRequest, SubjectSnapshot, Target};

/// Decides one request: RBAC first (the caller must hold `resource:action`), then ABAC
/// (admin has full access, otherwise the policy of the resource kind). Denials carry the
/// deciding policy's reason; every allowed decision has policy `combined` and reason
/// `Access granted by RBAC and ABAC policies`, the ABAC reason kept in
/// [`Decision::abac_reason`]. Empty resource or action simply fail the RBAC step.
#[must_use]
pub fn decide(snapshot: &SubjectSnapshot, request: &ResourceRequest<'_>) -> Decision {
    if !snapshot.has_permission(request.resource, request.action) {
        return Decision {
            outcome: Outcome::Denied,
            reason: Reason::LacksRbacPermission,
            policy: PolicyType::Rbac,
            abac_reason: None,
        };
    }
    let (allowed, abac_reason) = abac(snapshot, request);
    if allowed {
        Decision {
            outcome: Outcome::Allowed,
            reason: Reason::AccessGranted,
            policy: PolicyType::Combined,
            abac_reason: Some(abac_reason),
        }
    } else {
        Decision {
            outcome: Outcome::Denied,
            reason: abac_reason,
            policy: PolicyType::Abac,
            abac_reason: Some(abac_reason),
        }
    }
}

/// The audit-log action of a decision (11.5): `<action>_<resource>`, e.g. `read_task`.
#[must_use]
pub fn audit_action(resource: &str, action: &str) -> String {
    format!("{action}_{resource}")
}

fn abac(snapshot: &SubjectSnapshot, request: &ResourceRequest<'_>) -> (bool, Reason) {
    if snapshot.is_admin() {
        return (true, Reason::AdminFullAccess);
    }
    match request.resource {
        "task" => task_policy(snapshot, request),
        "user" | "profile" => user_policy(snapshot, request),
        _ => (true, Reason::NoSpecificAbacPolicy),
    }
}

fn task_policy(snapshot: &SubjectSnapshot, request: &ResourceRequest<'_>) -> (bool, Reason) {
    if request.action == "create" {
        return (true, Reason::TaskCreationAllowed);
    }
    match &request.target {
        Target::Task {
            owner,
            owner_department,
        }
        | Target::UserTasks {
            owner,
            owner_department,
        } => owner_rule(
            snapshot,
            request.action,
            *owner,
            owner_department.as_deref(),
        ),
        Target::TaskMissing => (false, Reason::TaskNotFound),
        // An id without the loaded task: fail closed rather than guess.
        Target::None if request.resource_id.is_some() => (false, Reason::TaskNotFound),
        Target::None => (true, Reason::TaskListingAllowed),
        Target::User { .. } => (false, Reason::UserCanOnlyAccessOwnTasks),
    }
}

fn owner_rule(
    snapshot: &SubjectSnapshot,
    action: &str,
    owner: UserId,
    owner_department: Option<&str>,
) -> (bool, Reason) {
    if owner == snapshot.user_id() {
        return (true, Reason::TaskOwnerHasAccess);
    }
    let same_department = match (snapshot.department(), owner_department) {
        (Some(mine), Some(theirs)) => !mine.is_empty() && mine == theirs,
        _ => false,
    };
    if same_department && action == "read" {
        (true, Reason::DepartmentMemberCanView)
    } else {
        (false, Reason::UserCanOnlyAccessOwnTasks)
    }
}

fn user_policy(snapshot: &SubjectSnapshot, request: &ResourceRequest<'_>) -> (bool, Reason) {
    let target = match &request.target {
        Target::User { id } => Some(*id),
        _ => request.resource_id.map(UserId::from_uuid),
    };
    match target {
        None => (true, Reason::UserListingAllowed),
        Some(id) if id == snapshot.user_id() => (true, Reason::UserCanAccessOwnProfile),
        Some(_) if request.action == "read" => (false, Reason::UsersCanOnlyViewOwnProfile),
        // update, delete, and any other action on someone else is a modification.
        Some(_) => (false, Reason::OnlyAdminsCanModifyOtherUsers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Subject, SubjectRole};
    use domain::{Attribute, PermissionKey};
    use proptest::prelude::*;
    use time::{Duration, OffsetDateTime, macros::datetime};
    use uuid::Uuid;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);
    const USER_PERMS: [(&str, &str); 6] = [
        ("profile", "read"),
        ("profile", "update"),
        ("task", "create"),
        ("task", "read"),
        ("task", "update"),
        ("task", "delete"),
    ];

    fn uid(n: u128) -> UserId {
        UserId::from_uuid(Uuid::from_u128(n))
    }

    fn role(name: &str, perms: &[(&str, &str)]) -> SubjectRole {
        SubjectRole {
            name: name.into(),
            expires_at: None,
            permissions: perms
                .iter()
                .map(|(r, a)| PermissionKey::new(*r, *a))
                .collect(),
        }
    }

    fn user(dept: Option<&str>) -> SubjectSnapshot {
        let subject = Subject {
            user_id: uid(1),
            roles: vec![role("user", &USER_PERMS)],
            attributes: dept
                .map(|d| Attribute::string("department", d))
                .into_iter()
                .collect(),
        };
        SubjectSnapshot::new(&subject, NOW)
    }

    fn admin() -> SubjectSnapshot {
        let mut perms = USER_PERMS.to_vec();
        perms.extend([("user", "read"), ("user", "delete"), ("user", "update")]);
        let subject = Subject {
            user_id: uid(9),
            roles: vec![role("admin", &perms)],
            attributes: vec![],
        };
        SubjectSnapshot::new(&subject, NOW)
    }

    fn task_of(
        owner: UserId,
        dept: Option<&str>,
        action: &'static str,
    ) -> ResourceRequest<'static> {
        ResourceRequest::task(action, Uuid::from_u128(77), owner, dept.map(str::to_owned))
    }

    fn denied(d: Decision, policy: PolicyType, reason: Reason) {
        assert_eq!(d.outcome, Outcome::Denied);
        assert_eq!(d.policy, policy);
        assert_eq!(d.reason, reason);
    }

    fn allowed(d: Decision, abac_reason: Reason) {
        assert!(d.is_allowed());
        assert_eq!(d.policy, PolicyType::Combined);
        assert_eq!(d.reason, Reason::AccessGranted);
        assert_eq!(d.abac_reason, Some(abac_reason));
    }

    #[test]
    fn missing_permission_is_an_rbac_denial() {
        let d = decide(&user(None), &ResourceRequest::new("user", "read"));
        denied(d, PolicyType::Rbac, Reason::LacksRbacPermission);
        assert_eq!(d.abac_reason, None);
        let unknown = SubjectSnapshot::new(&Subject::unknown(uid(3)), NOW);
        denied(
            decide(&unknown, &ResourceRequest::new("task", "create")),
            PolicyType::Rbac,
            Reason::LacksRbacPermission,
        );
        denied(
            decide(&user(None), &ResourceRequest::new("", "")),
            PolicyType::Rbac,
            Reason::LacksRbacPermission,
        );
    }

    #[test]
    fn admin_passes_abac_everywhere() {
        allowed(
            decide(&admin(), &task_of(uid(1), None, "delete")),
            Reason::AdminFullAccess,
        );
        allowed(
            decide(&admin(), &ResourceRequest::user("user", "delete", uid(1))),
            Reason::AdminFullAccess,
        );
    }

    #[test]
    fn task_rules() {
        let me = user(Some("Engineering"));
        allowed(
            decide(&me, &ResourceRequest::new("task", "create")),
            Reason::TaskCreationAllowed,
        );
        allowed(
            decide(&me, &ResourceRequest::new("task", "read")),
            Reason::TaskListingAllowed,
        );
        allowed(
            decide(&me, &task_of(uid(1), None, "update")),
            Reason::TaskOwnerHasAccess,
        );
        allowed(
            decide(&me, &task_of(uid(2), Some("Engineering"), "read")),
            Reason::DepartmentMemberCanView,
        );
        for action in ["update", "delete"] {
            denied(
                decide(&me, &task_of(uid(2), Some("Engineering"), action)),
                PolicyType::Abac,
                Reason::UserCanOnlyAccessOwnTasks,
            );
        }
        denied(
            decide(&me, &task_of(uid(2), Some("Sales"), "read")),
            PolicyType::Abac,
            Reason::UserCanOnlyAccessOwnTasks,
        );
        let missing = ResourceRequest {
            resource_id: Some(Uuid::from_u128(3)),
            target: Target::TaskMissing,
            ..ResourceRequest::new("task", "read")
        };
        denied(
            decide(&me, &missing),
            PolicyType::Abac,
            Reason::TaskNotFound,
        );
        let unloaded = ResourceRequest {
            resource_id: Some(Uuid::from_u128(3)),
            ..ResourceRequest::new("task", "read")
        };
        denied(
            decide(&me, &unloaded),
            PolicyType::Abac,
            Reason::TaskNotFound,
        );
    }

    #[test]
    fn department_rule_needs_a_real_matching_department() {
        denied(
            decide(&user(None), &task_of(uid(2), Some("Engineering"), "read")),
            PolicyType::Abac,
            Reason::UserCanOnlyAccessOwnTasks,
        );
        denied(
            decide(&user(Some("")), &task_of(uid(2), Some(""), "read")),
            PolicyType::Abac,
            Reason::UserCanOnlyAccessOwnTasks,
        );
        denied(
            decide(&user(Some("Engineering")), &task_of(uid(2), None, "read")),
            PolicyType::Abac,
            Reason::UserCanOnlyAccessOwnTasks,
        );
    }

    #[test]
    fn user_tasks_rule() {
        let me = user(Some("Engineering"));
        let of = |owner, dept: Option<&str>| ResourceRequest {
            resource_id: Some(Uuid::from_u128(2)),
            target: Target::UserTasks {
                owner,
                owner_department: dept.map(str::to_owned),
            },
            ..ResourceRequest::new("task", "read")
        };
        allowed(decide(&me, &of(uid(1), None)), Reason::TaskOwnerHasAccess);
        allowed(
            decide(&me, &of(uid(2), Some("Engineering"))),
            Reason::DepartmentMemberCanView,
        );
        denied(
            decide(&me, &of(uid(2), Some("Sales"))),
            PolicyType::Abac,
            Reason::UserCanOnlyAccessOwnTasks,
        );
    }

    #[test]
    fn user_and_profile_rules() {
        let me = user(None);
        allowed(
            decide(&me, &ResourceRequest::user("profile", "read", uid(1))),
            Reason::UserCanAccessOwnProfile,
        );
        allowed(
            decide(&me, &ResourceRequest::user("profile", "update", uid(1))),
            Reason::UserCanAccessOwnProfile,
        );
        denied(
            decide(&me, &ResourceRequest::user("profile", "read", uid(2))),
            PolicyType::Abac,
            Reason::UsersCanOnlyViewOwnProfile,
        );
        denied(
            decide(&me, &ResourceRequest::user("profile", "update", uid(2))),
            PolicyType::Abac,
            Reason::OnlyAdminsCanModifyOtherUsers,
        );
        // The id alone identifies the target user.
        let by_id = ResourceRequest {
            resource_id: Some(Uuid::from_u128(2)),
            ..ResourceRequest::new("profile", "read")
        };
        denied(
            decide(&me, &by_id),
            PolicyType::Abac,
            Reason::UsersCanOnlyViewOwnProfile,
        );

        let lister = SubjectSnapshot::new(
            &Subject {
                user_id: uid(1),
                roles: vec![role("support", &[("user", "read"), ("user", "delete")])],
                attributes: vec![],
            },
            NOW,
        );
        allowed(
            decide(&lister, &ResourceRequest::new("user", "read")),
            Reason::UserListingAllowed,
        );
        denied(
            decide(&lister, &ResourceRequest::user("user", "delete", uid(2))),
            PolicyType::Abac,
            Reason::OnlyAdminsCanModifyOtherUsers,
        );
    }

    #[test]
    fn other_resources_follow_rbac() {
        let snap = SubjectSnapshot::new(
            &Subject {
                user_id: uid(1),
                roles: vec![role("auditor", &[("audit", "read")])],
                attributes: vec![],
            },
            NOW,
        );
        allowed(
            decide(&snap, &ResourceRequest::new("audit", "read")),
            Reason::NoSpecificAbacPolicy,
        );
    }

    #[test]
    fn texts_are_exact() {
        assert_eq!(Outcome::Allowed.as_str(), "allowed");
        assert_eq!(Outcome::Denied.as_str(), "denied");
        assert_eq!(PolicyType::Combined.as_str(), "combined");
        assert_eq!(PolicyType::Rbac.as_str(), "rbac");
        assert_eq!(PolicyType::Abac.as_str(), "abac");
        assert_eq!(
            Reason::AccessGranted.to_string(),
            "Access granted by RBAC and ABAC policies"
        );
        assert_eq!(
            Reason::NoSpecificAbacPolicy.as_str(),
            "No specific ABAC policy, allowing based on RBAC"
        );
        assert_eq!(audit_action("task", "read"), "read_task");
        assert_eq!(audit_action("user", "delete"), "delete_user");
    }

    fn arb_request() -> impl Strategy<Value = ResourceRequest<'static>> {
        let resources = prop::sample::select(vec!["task", "user", "profile", "audit", "x"]);
        let actions = prop::sample::select(vec!["read", "create", "update", "delete", "list"]);
        let targets = prop_oneof![
            Just(Target::None),
            Just(Target::TaskMissing),
            (0u128..4).prop_map(|n| Target::User { id: uid(n) }),
            (0u128..4, any::<bool>()).prop_map(|(n, d)| Target::Task {
                owner: uid(n),
                owner_department: d.then(|| "Engineering".to_owned()),
            }),
            (0u128..4).prop_map(|n| Target::UserTasks {
                owner: uid(n),
                owner_department: Some("Engineering".to_owned()),
            }),
        ];
        (resources, actions, proptest::option::of(0u128..4), targets).prop_map(
            |(resource, action, id, target)| ResourceRequest {
                resource,
                action,
                resource_id: id.map(Uuid::from_u128),
                target,
            },
        )
    }

    proptest! {
        #[test]
        fn without_the_permission_always_denied(req in arb_request(), admin_role in any::<bool>()) {
            let others: Vec<(&str, &str)> = USER_PERMS
                .iter()
                .copied()
                .filter(|(r, a)| (*r, *a) != (req.resource, req.action))
                .collect();
            let subject = Subject {
                user_id: uid(1),
                roles: vec![role(if admin_role { "admin" } else { "user" }, &others)],
                attributes: vec![Attribute::string("department", "Engineering")],
            };
            let d = decide(&SubjectSnapshot::new(&subject, NOW), &req);
            prop_assert_eq!(d.outcome, Outcome::Denied);
            prop_assert_eq!(d.reason, Reason::LacksRbacPermission);
        }

        #[test]
        fn admin_with_the_permission_always_allowed(req in arb_request()) {
            let subject = Subject {
                user_id: uid(1),
                roles: vec![role("admin", &[(req.resource, req.action)])],
                attributes: vec![],
            };
            let d = decide(&SubjectSnapshot::new(&subject, NOW), &req);
            prop_assert!(d.is_allowed());
            prop_assert_eq!(d.abac_reason, Some(Reason::AdminFullAccess));
        }

        #[test]
        fn an_expired_role_never_grants(req in arb_request(), ago in 0i64..1_000_000) {
            let mut expired = role("admin", &[(req.resource, req.action)]);
            expired.expires_at = Some(NOW - Duration::seconds(ago));
            let subject = Subject { user_id: uid(1), roles: vec![expired], attributes: vec![] };
            let snap = SubjectSnapshot::new(&subject, NOW);
            prop_assert!(!snap.is_admin());
            prop_assert_eq!(decide(&snap, &req).reason, Reason::LacksRbacPermission);
        }
    }
}
