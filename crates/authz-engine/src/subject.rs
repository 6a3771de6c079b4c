//! Who is asking: the precomputed snapshot of a [`Subject`] that decisions are evaluated
//! against. `Subject` and `SubjectRole` are defined in `domain` (so storage ports can
//! produce them) and re-exported here.

use domain::{ADMIN_ROLE, Attribute, PermissionKey, UserId, rbac::DEPARTMENT_ATTRIBUTE};
pub use domain::{Subject, SubjectRole};
use time::OffsetDateTime;

/// A subject frozen at one instant: only active roles and attributes, permissions sorted
/// and de-duplicated for a binary search, admin and department precomputed. Cheap to keep
/// in a cache until [`SubjectSnapshot::valid_until`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectSnapshot {
    user_id: UserId,
    roles: Vec<String>,
    permissions: Vec<PermissionKey>,
    attributes: Vec<Attribute>,
    is_admin: bool,
    department: Option<String>,
    valid_until: Option<OffsetDateTime>,
}

impl SubjectSnapshot {
    /// Keeps what counts at `now` (11.1): roles whose assignment has not expired (with their
    /// permissions) and unexpired attributes.
    #[must_use]
    pub fn new(subject: &Subject, now: OffsetDateTime) -> Self {
        let mut valid_until: Option<OffsetDateTime> = None;
        let mut note_expiry = |at: Option<OffsetDateTime>| {
            if let Some(at) = at {
                valid_until = Some(valid_until.map_or(at, |v| v.min(at)));
            }
        };
        let active_roles: Vec<&SubjectRole> = subject
            .roles
            .iter()
            .filter(|r| r.expires_at.is_none_or(|at| at > now))
            .collect();
        let mut roles: Vec<String> = active_roles.iter().map(|r| r.name.clone()).collect();
        roles.sort_unstable();
        roles.dedup();
        let mut permissions: Vec<PermissionKey> = active_roles
            .iter()
            .flat_map(|r| r.permissions.iter().cloned())
            .collect();
        permissions.sort_unstable();
        permissions.dedup();
        for r in &active_roles {
            note_expiry(r.expires_at);
        }
        let attributes: Vec<Attribute> = subject
            .attributes
            .iter()
            .filter(|a| a.is_active(now))
            .cloned()
            .collect();
        for a in &attributes {
            note_expiry(a.expires_at);
        }
        let department = attributes
            .iter()
            .find(|a| a.key == DEPARTMENT_ATTRIBUTE)
            .map(|a| a.value.clone());
        Self {
            user_id: subject.user_id,
            is_admin: roles.iter().any(|r| r == ADMIN_ROLE),
            roles,
            permissions,
            attributes,
            department,
            valid_until,
        }
    }

    /// The caller.
    #[must_use]
    pub const fn user_id(&self) -> UserId {
        self.user_id
    }

    /// Names of the active roles, sorted (the `roles` claim).
    #[must_use]
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// The single `role` claim (6.2).
    #[must_use]
    pub fn primary_role(&self) -> String {
        domain::primary_role_claim(&self.roles)
    }

    /// True when the caller holds an active `admin` assignment.
    #[must_use]
    pub const fn is_admin(&self) -> bool {
        self.is_admin
    }

    /// The caller's active `department` attribute.
    #[must_use]
    pub fn department(&self) -> Option<&str> {
        self.department.as_deref()
    }

    /// Active attributes.
    #[must_use]
    pub fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }

    /// Permissions of the active roles, sorted by resource then action, unique.
    #[must_use]
    pub fn permissions(&self) -> &[PermissionKey] {
        &self.permissions
    }

    /// The `permissions` claim and login list: `resource:action` texts, sorted, unique.
    #[must_use]
    pub fn permission_strings(&self) -> Vec<String> {
        domain::rbac::permission_strings(&self.permissions)
    }

    /// The RBAC test of 11.2 step 1, without allocating.
    #[must_use]
    pub fn has_permission(&self, resource: &str, action: &str) -> bool {
        self.permissions
            .binary_search_by(|k| k.cmp_parts(resource, action))
            .is_ok()
    }

    /// The earliest expiry among what the snapshot counted: after it, rebuild the snapshot.
    /// `None` when nothing it holds expires.
    #[must_use]
    pub const fn valid_until(&self) -> Option<OffsetDateTime> {
        self.valid_until
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::{Duration, macros::datetime};
    use uuid::Uuid;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

    fn subject() -> Subject {
        Subject {
            user_id: UserId::from_uuid(Uuid::from_u128(5)),
            roles: vec![
                SubjectRole {
                    name: "user".into(),
                    expires_at: None,
                    permissions: vec![
                        PermissionKey::new("task", "read"),
                        PermissionKey::new("profile", "read"),
                    ],
                },
                SubjectRole {
                    name: "admin".into(),
                    expires_at: Some(NOW - Duration::hours(1)),
                    permissions: vec![PermissionKey::new("user", "delete")],
                },
                SubjectRole {
                    name: "auditor".into(),
                    expires_at: Some(NOW + Duration::hours(2)),
                    permissions: vec![
                        PermissionKey::new("audit", "read"),
                        PermissionKey::new("task", "read"),
                    ],
                },
            ],
            attributes: vec![
                Attribute::string("department", "Engineering"),
                Attribute {
                    expires_at: Some(NOW + Duration::hours(1)),
                    ..Attribute::string("location", "US-West")
                },
                Attribute {
                    expires_at: Some(NOW),
                    ..Attribute::string("clearance_level", "5")
                },
            ],
        }
    }

    #[test]
    fn expired_roles_and_attributes_do_not_count() {
        let snap = SubjectSnapshot::new(&subject(), NOW);
        assert_eq!(snap.roles(), ["auditor", "user"]);
        assert!(!snap.is_admin());
        assert!(!snap.has_permission("user", "delete"));
        assert!(snap.has_permission("audit", "read"));
        assert_eq!(
            snap.permission_strings(),
            ["audit:read", "profile:read", "task:read"]
        );
        assert_eq!(snap.attributes().len(), 2);
        assert_eq!(snap.department(), Some("Engineering"));
        assert_eq!(snap.primary_role(), "user");
        assert_eq!(snap.valid_until(), Some(NOW + Duration::hours(1)));
    }

    #[test]
    fn an_active_admin_assignment_makes_an_admin() {
        let snap = SubjectSnapshot::new(&subject(), NOW - Duration::hours(2));
        assert!(snap.is_admin());
        assert_eq!(snap.primary_role(), "admin");
        assert!(snap.has_permission("user", "delete"));
    }

    #[test]
    fn unknown_or_empty_permissions_are_absent() {
        let snap = SubjectSnapshot::new(&subject(), NOW);
        assert!(!snap.has_permission("", ""));
        assert!(!snap.has_permission("task", ""));
        assert!(!snap.has_permission("task", "update"));
    }
}
