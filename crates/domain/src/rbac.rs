//! The authorization vocabulary (contract 11.1): permissions as `resource:action`, roles,
//! time-limited role assignments and user attributes, the fixed seed ids, and the rule that
//! picks the single `role` claim of an access token.

use std::{cmp::Ordering, fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{DomainError, RoleId, timefmt};

/// Name of the role every registered user receives.
pub const USER_ROLE: &str = "user";
/// Name of the role that makes a user an admin (11.1).
pub const ADMIN_ROLE: &str = "admin";
/// Fixed id of the `user` role (seed data; operators rely on it).
pub const USER_ROLE_ID: RoleId = RoleId(Uuid::from_u128(1));
/// Fixed id of the `admin` role (operators promote users by inserting it).
pub const ADMIN_ROLE_ID: RoleId = RoleId(Uuid::from_u128(2));
/// The attribute key compared by the same-department read rule (11.3).
pub const DEPARTMENT_ATTRIBUTE: &str = "department";

/// What a permission allows: an action on a resource kind. Decisions look only at this
/// pair (11.1). Ordered by resource, then action.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PermissionKey {
    /// The resource kind, e.g. `task`.
    pub resource: String,
    /// The action, e.g. `read`.
    pub action: String,
}

impl PermissionKey {
    /// Builds a key from its parts.
    #[must_use]
    pub fn new(resource: impl Into<String>, action: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            action: action.into(),
        }
    }

    /// Parses `resource:action` (split at the first colon; neither part may be empty).
    ///
    /// # Errors
    /// [`DomainError::InvalidPermission`] for any other text.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        match text.split_once(':') {
            Some((r, a)) if !r.is_empty() && !a.is_empty() => Ok(Self::new(r, a)),
            _ => Err(DomainError::InvalidPermission(text.to_owned())),
        }
    }

    /// Compares with a borrowed pair without allocating, consistently with `Ord`.
    #[must_use]
    pub fn cmp_parts(&self, resource: &str, action: &str) -> Ordering {
        (self.resource.as_str(), self.action.as_str()).cmp(&(resource, action))
    }
}

impl fmt::Display for PermissionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.resource, self.action)
    }
}

impl FromStr for PermissionKey {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for PermissionKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PermissionKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The permission strings of a token or login response: `resource:action`, sorted as
/// strings and de-duplicated (6.2); empty when there are none.
#[must_use]
pub fn permission_strings<'a>(keys: impl IntoIterator<Item = &'a PermissionKey>) -> Vec<String> {
    let mut out: Vec<String> = keys.into_iter().map(ToString::to_string).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// A role: a named bundle of permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// The role id.
    pub id: RoleId,
    /// Unique name, e.g. `admin`.
    pub name: String,
    /// Free text.
    pub description: String,
}

/// A permission row: the key plus a descriptive scope (`own`, `all`, `department`), which
/// decisions do not consult.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    /// The permission id.
    pub id: Uuid,
    /// The resource kind.
    pub resource: String,
    /// The action.
    pub action: String,
    /// Descriptive scope.
    pub scope: String,
    /// Free text.
    pub description: String,
}

impl Permission {
    /// The `resource:action` key decisions use.
    #[must_use]
    pub fn key(&self) -> PermissionKey {
        PermissionKey::new(self.resource.clone(), self.action.clone())
    }
}

fn unexpired(expires_at: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    expires_at.is_none_or(|at| at > now)
}

/// A (non-deleted) assignment of a role to a user, possibly time-limited [D-14].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleAssignment {
    /// The role name.
    pub role: String,
    /// When the assignment stops counting; `None` for never.
    #[serde(with = "timefmt::option")]
    pub expires_at: Option<OffsetDateTime>,
}

impl RoleAssignment {
    /// True while the assignment counts: no expiry, or an expiry in the future.
    #[must_use]
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        unexpired(self.expires_at, now)
    }
}

/// The data type recorded with an attribute value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributeType {
    /// Text (the column default).
    #[default]
    String,
    /// A number written as text.
    Number,
    /// `true`/`false` as text.
    Boolean,
    /// A date or timestamp as text.
    Date,
}

impl AttributeType {
    /// Every type.
    pub const ALL: [Self; 4] = [Self::String, Self::Number, Self::Boolean, Self::Date];

    /// The stored text.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Date => "date",
        }
    }

    /// Parses the stored text (exact lowercase).
    ///
    /// # Errors
    /// [`DomainError::InvalidAttributeType`] for any other text.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == text)
            .ok_or_else(|| DomainError::InvalidAttributeType(text.to_owned()))
    }
}

impl fmt::Display for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A (non-deleted) user or resource attribute, possibly time-limited [D-14].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    /// The key, unique per owner.
    pub key: String,
    /// The value, as text.
    pub value: String,
    /// How to read the value.
    pub data_type: AttributeType,
    /// When the attribute stops counting; `None` for never.
    #[serde(with = "timefmt::option")]
    pub expires_at: Option<OffsetDateTime>,
}

impl Attribute {
    /// A non-expiring string attribute.
    #[must_use]
    pub fn string(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            data_type: AttributeType::String,
            expires_at: None,
        }
    }

    /// True while the attribute counts: no expiry, or an expiry in the future.
    #[must_use]
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        unexpired(self.expires_at, now)
    }
}

/// A role a user holds through a non-deleted assignment, with the permissions of its
/// non-deleted grants. Expiry is judged later, against "now" (see `authz-engine`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectRole {
    /// Role name.
    pub name: String,
    /// Assignment expiry; `None` for never.
    #[serde(with = "timefmt::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Permissions granted to the role.
    pub permissions: Vec<PermissionKey>,
}

/// A user as authorization sees them, as loaded from storage: soft-deleted assignments,
/// grants and attributes already left out; expired ones may still be present. Its serde
/// form lets a cache keep it between requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The user.
    pub user_id: crate::UserId,
    /// Roles with their permissions.
    pub roles: Vec<SubjectRole>,
    /// User attributes.
    pub attributes: Vec<Attribute>,
}

impl Subject {
    /// A subject with no roles and no attributes: what an unknown or deleted caller is
    /// judged as, so that every request of theirs fails the RBAC step (11.2).
    #[must_use]
    pub fn unknown(user_id: crate::UserId) -> Self {
        Self {
            user_id,
            roles: Vec::new(),
            attributes: Vec::new(),
        }
    }
}

/// The attributes every new registration receives (4.1): `account_type` = `standard` and
/// `clearance_level` = `basic`, both strings.
#[must_use]
pub fn registration_attributes() -> Vec<Attribute> {
    vec![
        Attribute::string("account_type", "standard"),
        Attribute::string("clearance_level", "basic"),
    ]
}

/// The single `role` claim of an access token (6.2) [D-13]: `admin` if held, else `user`
/// if held, else the alphabetically first role, and `user` when no role is held.
#[must_use]
pub fn primary_role_claim(active_roles: &[String]) -> String {
    if active_roles.iter().any(|r| r == ADMIN_ROLE) {
        return ADMIN_ROLE.to_owned();
    }
    if active_roles.iter().any(|r| r == USER_ROLE) {
        return USER_ROLE.to_owned();
    }
    active_roles
        .iter()
        .min()
        .cloned()
        .unwrap_or_else(|| USER_ROLE.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn permission_key_displays_and_parses() {
        let k = PermissionKey::new("task", "read");
        assert_eq!(k.to_string(), "task:read");
        assert_eq!(
            PermissionKey::parse("user:assign_role").unwrap().action,
            "assign_role"
        );
        for bad in ["task", ":read", "task:", ""] {
            assert!(PermissionKey::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            serde_json::to_string(&k).unwrap(),
            "\"task:read\"",
            "serialises as its text"
        );
    }

    #[test]
    fn permission_keys_order_by_resource_then_action() {
        let mut keys = [
            PermissionKey::new("task", "read"),
            PermissionKey::new("profile", "update"),
            PermissionKey::new("task", "create"),
        ];
        keys.sort();
        let texts: Vec<String> = keys.iter().map(ToString::to_string).collect();
        assert_eq!(texts, ["profile:update", "task:create", "task:read"]);
        assert_eq!(keys[1].cmp_parts("task", "create"), Ordering::Equal);
        assert_eq!(keys[1].cmp_parts("task", "delete"), Ordering::Less);
    }

    #[test]
    fn permission_strings_are_sorted_and_unique() {
        let keys = [
            PermissionKey::new("task", "read"),
            PermissionKey::new("audit", "read"),
            PermissionKey::new("task", "read"),
        ];
        assert_eq!(permission_strings(&keys), ["audit:read", "task:read"]);
        assert!(permission_strings(&[]).is_empty());
    }

    #[test]
    fn expiry_is_exclusive_of_now() {
        let now = datetime!(2026-06-01 12:00 UTC);
        let mut a = RoleAssignment {
            role: "user".into(),
            expires_at: None,
        };
        assert!(a.is_active(now));
        a.expires_at = Some(now);
        assert!(!a.is_active(now));
        a.expires_at = Some(now + time::Duration::seconds(1));
        assert!(a.is_active(now));
        let mut attr = Attribute::string("department", "Engineering");
        assert!(attr.is_active(now));
        attr.expires_at = Some(now - time::Duration::days(1));
        assert!(!attr.is_active(now));
    }

    #[test]
    fn subjects_survive_a_serde_round_trip() {
        let subject = Subject {
            user_id: crate::UserId::from_uuid(Uuid::from_u128(3)),
            roles: vec![SubjectRole {
                name: "user".into(),
                expires_at: Some(datetime!(2026-06-01 12:00 UTC)),
                permissions: vec![PermissionKey::new("task", "read")],
            }],
            attributes: vec![Attribute {
                data_type: AttributeType::Number,
                ..Attribute::string("clearance_level", "2")
            }],
        };
        let json = serde_json::to_value(&subject).unwrap();
        assert_eq!(json["roles"][0]["permissions"][0], "task:read");
        assert_eq!(json["roles"][0]["expires_at"], "2026-06-01T12:00:00Z");
        assert_eq!(json["attributes"][0]["data_type"], "number");
        assert_eq!(serde_json::from_value::<Subject>(json).unwrap(), subject);
    }

    #[test]
    fn attribute_types_round_trip() {
        for t in AttributeType::ALL {
            assert_eq!(AttributeType::parse(t.as_str()).unwrap(), t);
        }
        assert!(AttributeType::parse("String").is_err());
    }

    #[test]
    fn seed_ids_are_fixed() {
        assert_eq!(
            USER_ROLE_ID.to_string(),
            "00000000-0000-0000-0000-000000000001"
        );
        assert_eq!(
            ADMIN_ROLE_ID.to_string(),
            "00000000-0000-0000-0000-000000000002"
        );
        let attrs = registration_attributes();
        assert_eq!(attrs[0].key, "account_type");
        assert_eq!(attrs[1].value, "basic");
    }

    #[test]
    fn primary_role_prefers_admin_then_user_then_alphabetical() {
        let roles = |r: &[&str]| r.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(primary_role_claim(&roles(&["user", "admin"])), "admin");
        assert_eq!(primary_role_claim(&roles(&["editor", "user"])), "user");
        assert_eq!(primary_role_claim(&roles(&["zeta", "beta"])), "beta");
        assert_eq!(primary_role_claim(&[]), "user");
    }
}
