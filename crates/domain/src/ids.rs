//! Typed identifiers, so that a task id can never be passed where a user id is expected.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DomainError;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered (v7) id, which keeps new rows close together in indexes.
            #[must_use]
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            #[must_use]
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The underlying UUID, for storage layers.
            #[must_use]
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            /// Lowercase hyphenated (`8-4-4-4-12`), the contract's wire form.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| DomainError::InvalidId(s.to_owned()))
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

id_type!(
    /// Identifies a user account (`users.id`).
    UserId
);
id_type!(
    /// Identifies a task (`tasks.id`).
    TaskId
);
id_type!(
    /// Identifies a role (`roles.id`); the seed roles have fixed ids, see [`crate::rbac`].
    RoleId
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn display_is_lowercase_hyphenated() {
        let id: UserId = "BD006D41-ADED-4040-9934-2BA4E909EF9A".parse().unwrap();
        assert_eq!(id.to_string(), "bd006d41-aded-4040-9934-2ba4e909ef9a");
    }

    #[test]
    fn from_str_rejects_non_uuids() {
        assert_eq!(
            "undefined".parse::<TaskId>(),
            Err(DomainError::InvalidId("undefined".into()))
        );
        assert!("".parse::<RoleId>().is_err());
    }

    #[test]
    fn serde_is_transparent() {
        let id = TaskId::from_uuid(Uuid::from_u128(7));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"00000000-0000-0000-0000-000000000007\"");
        assert_eq!(serde_json::from_str::<TaskId>(&json).unwrap(), id);
    }

    #[test]
    fn new_v7_ids_are_distinct_and_version_7() {
        let a = UserId::new_v7();
        let b = UserId::new_v7();
        assert_ne!(a, b);
        assert_eq!(a.as_uuid().get_version_num(), 7);
    }
}
