//! [`AuthzRepository`] on PostgreSQL: loading subjects for the authorization engine and the
//! role, grant and attribute administration of contract 11.6.
//!
//! The RBAC tables keep their timestamps as `timestamp without time zone`, holding UTC; the
//! conversions to and from `OffsetDateTime` are [`to_utc_naive`] and [`from_utc_naive`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use domain::{
    Attribute, AttributeType, Permission, PermissionKey, Role, RoleId, Subject, SubjectRole,
    TaskId, UserId,
};
use ports::{AuthzRepository, PortError, PortResult, RoleWithPermissions, TaskOwnership};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};
use uuid::Uuid;

use crate::pool::{PgPool, PooledConnection, map_diesel_error};
use crate::schema::{
    permissions, resource_attributes, role_permissions, roles, tasks, user_attributes, user_roles,
    users,
};

/// An instant as the UTC wall-clock value stored in a `timestamp without time zone` column.
#[must_use]
pub fn to_utc_naive(at: OffsetDateTime) -> PrimitiveDateTime {
    let utc = at.to_offset(UtcOffset::UTC);
    PrimitiveDateTime::new(utc.date(), utc.time())
}

/// A `timestamp without time zone` value (UTC by convention) as an instant.
#[must_use]
pub fn from_utc_naive(at: PrimitiveDateTime) -> OffsetDateTime {
    at.assume_utc()
}

/// Roles, permissions, assignments and attributes in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgAuthzRepository {
    pool: PgPool,
}

impl PgAuthzRepository {
    /// A repository over the shared pool.
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn connection(&self) -> PortResult<PooledConnection> {
        self.pool.get().await
    }
}

async fn user_exists(connection: &mut PooledConnection, user: UserId) -> PortResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table
            .filter(users::id.eq(user.as_uuid()))
            .filter(users::deleted_at.is_null()),
    ))
    .get_result::<bool>(connection)
    .await
    .map_err(map_diesel_error)
}

async fn role_exists(connection: &mut PooledConnection, role: RoleId) -> PortResult<bool> {
    diesel::select(diesel::dsl::exists(
        roles::table.filter(roles::id.eq(role.as_uuid())),
    ))
    .get_result::<bool>(connection)
    .await
    .map_err(map_diesel_error)
}

fn attribute_type(stored: Option<&str>) -> AttributeType {
    stored
        .and_then(|text| AttributeType::parse(text).ok())
        .unwrap_or_default()
}

fn role_of(id: Uuid, name: String, description: Option<String>) -> Role {
    Role {
        id: RoleId::from_uuid(id),
        name,
        description: description.unwrap_or_default(),
    }
}

type PermissionRow = (Uuid, String, String, Option<String>, Option<String>);

fn permission_of((id, resource, action, scope, description): PermissionRow) -> Permission {
    Permission {
        id,
        resource,
        action,
        scope: scope.unwrap_or_default(),
        description: description.unwrap_or_default(),
    }
}

#[async_trait]
impl AuthzRepository for PgAuthzRepository {
    async fn load_subject(&self, user: UserId) -> PortResult<Option<Subject>> {
        let mut connection = self.connection().await?;
        if !user_exists(&mut connection, user).await? {
            return Ok(None);
        }
        let assignments: Vec<(Uuid, String, Option<PrimitiveDateTime>)> = user_roles::table
            .inner_join(roles::table)
            .filter(user_roles::user_id.eq(user.as_uuid()))
            .filter(user_roles::deleted_at.is_null())
            .select((roles::id, roles::name, user_roles::expires_at))
            .order(roles::name)
            .load(&mut connection)
            .await
            .map_err(map_diesel_error)?;
        let role_ids: Vec<Uuid> = assignments.iter().map(|(id, _, _)| *id).collect();
        let grants: Vec<(Uuid, String, String)> = if role_ids.is_empty() {
            Vec::new()
        } else {
            role_permissions::table
                .inner_join(permissions::table)
                .filter(role_permissions::role_id.eq_any(&role_ids))
                .filter(role_permissions::deleted_at.is_null())
                .select((
                    role_permissions::role_id,
                    permissions::resource,
                    permissions::action,
                ))
                .load(&mut connection)
                .await
                .map_err(map_diesel_error)?
        };
        let attributes: Vec<(String, String, Option<String>, Option<PrimitiveDateTime>)> =
            user_attributes::table
                .filter(user_attributes::user_id.eq(user.as_uuid()))
                .filter(user_attributes::deleted_at.is_null())
                .select((
                    user_attributes::key,
                    user_attributes::value,
                    user_attributes::data_type,
                    user_attributes::expires_at,
                ))
                .order(user_attributes::key)
                .load(&mut connection)
                .await
                .map_err(map_diesel_error)?;

        let mut by_role: BTreeMap<Uuid, Vec<PermissionKey>> = BTreeMap::new();
        for (role, resource, action) in grants {
            by_role
                .entry(role)
                .or_default()
                .push(PermissionKey::new(resource, action));
        }
        let roles = assignments
            .into_iter()
            .map(|(id, name, expires_at)| SubjectRole {
                name,
                expires_at: expires_at.map(from_utc_naive),
                permissions: by_role.remove(&id).unwrap_or_default(),
            })
            .collect();
        let attributes = attributes
            .into_iter()
            .map(|(key, value, data_type, expires_at)| Attribute {
                key,
                value,
                data_type: attribute_type(data_type.as_deref()),
                expires_at: expires_at.map(from_utc_naive),
            })
            .collect();
        Ok(Some(Subject {
            user_id: user,
            roles,
            attributes,
        }))
    }

    async fn user_department(&self, user: UserId) -> PortResult<Option<String>> {
        let mut connection = self.connection().await?;
        let department: Option<Option<String>> = users::table
            .filter(users::id.eq(user.as_uuid()))
            .filter(users::deleted_at.is_null())
            .select(users::department)
            .first(&mut connection)
            .await
            .optional()
            .map_err(map_diesel_error)?;
        Ok(department.flatten())
    }

    async fn task_ownership(&self, task: TaskId) -> PortResult<Option<TaskOwnership>> {
        let mut connection = self.connection().await?;
        let row: Option<(Uuid, Option<String>)> = tasks::table
            .inner_join(users::table)
            .filter(tasks::id.eq(task.as_uuid()))
            .filter(tasks::deleted_at.is_null())
            .select((tasks::user_id, users::department))
            .first(&mut connection)
            .await
            .optional()
            .map_err(map_diesel_error)?;
        Ok(row.map(|(owner, owner_department)| TaskOwnership {
            owner: UserId::from_uuid(owner),
            owner_department,
        }))
    }

    async fn has_role(&self, user: UserId, role: &str, now: OffsetDateTime) -> PortResult<bool> {
        let mut connection = self.connection().await?;
        let now = to_utc_naive(now);
        let live_user = diesel::dsl::exists(
            users::table
                .filter(users::id.eq(user.as_uuid()))
                .filter(users::deleted_at.is_null()),
        );
        let active_assignment = diesel::dsl::exists(
            user_roles::table
                .inner_join(roles::table)
                .filter(user_roles::user_id.eq(user.as_uuid()))
                .filter(roles::name.eq(role))
                .filter(user_roles::deleted_at.is_null())
                .filter(
                    user_roles::expires_at
                        .is_null()
                        .or(user_roles::expires_at.gt(now)),
                ),
        );
        diesel::select(live_user.and(active_assignment))
            .get_result::<bool>(&mut connection)
            .await
            .map_err(map_diesel_error)
    }

    async fn find_role_by_name(&self, name: &str) -> PortResult<Option<Role>> {
        let mut connection = self.connection().await?;
        let row: Option<(Uuid, String, Option<String>)> = roles::table
            .filter(roles::name.eq(name))
            .select((roles::id, roles::name, roles::description))
            .first(&mut connection)
            .await
            .optional()
            .map_err(map_diesel_error)?;
        Ok(row.map(|(id, name, description)| role_of(id, name, description)))
    }

    async fn assign_role(
        &self,
        user: UserId,
        role: RoleId,
        assigned_by: Option<UserId>,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> PortResult<()> {
        let mut connection = self.connection().await?;
        if !user_exists(&mut connection, user).await? || !role_exists(&mut connection, role).await?
        {
            return Err(PortError::NotFound);
        }
        let now = to_utc_naive(now);
        // A soft-deleted assignment is the same primary-key row: reactivate it in place.
        // An active one makes the conflict update match nothing, so no row is touched.
        let upsert = diesel::insert_into(user_roles::table)
            .values((
                user_roles::user_id.eq(user.as_uuid()),
                user_roles::role_id.eq(role.as_uuid()),
                user_roles::assigned_by.eq(assigned_by.map(|u| u.as_uuid())),
                user_roles::assigned_at.eq(now),
                user_roles::expires_at.eq(expires_at.map(to_utc_naive)),
                user_roles::created_at.eq(now),
                user_roles::updated_at.eq(now),
            ))
            .on_conflict((user_roles::user_id, user_roles::role_id))
            .do_update()
            .set((
                user_roles::deleted_at.eq(None::<PrimitiveDateTime>),
                user_roles::assigned_by.eq(excluded(user_roles::assigned_by)),
                user_roles::assigned_at.eq(excluded(user_roles::assigned_at)),
                user_roles::expires_at.eq(excluded(user_roles::expires_at)),
                user_roles::updated_at.eq(excluded(user_roles::updated_at)),
            ));
        // The `WHERE` of `ON CONFLICT DO UPDATE` (not `QueryDsl::filter`, which needs a query).
        let touched = diesel::query_dsl::methods::FilterDsl::filter(
            upsert,
            user_roles::deleted_at.is_not_null(),
        )
        .execute(&mut connection)
        .await
        .map_err(map_diesel_error)?;
        if touched == 0 {
            return Err(PortError::Conflict("user already has this role".to_owned()));
        }
        Ok(())
    }

    async fn revoke_role(&self, user: UserId, role: RoleId, now: OffsetDateTime) -> PortResult<()> {
        let mut connection = self.connection().await?;
        let now = to_utc_naive(now);
        let touched = diesel::update(
            user_roles::table
                .filter(user_roles::user_id.eq(user.as_uuid()))
                .filter(user_roles::role_id.eq(role.as_uuid()))
                .filter(user_roles::deleted_at.is_null()),
        )
        .set((
            user_roles::deleted_at.eq(Some(now)),
            user_roles::updated_at.eq(Some(now)),
        ))
        .execute(&mut connection)
        .await
        .map_err(map_diesel_error)?;
        if touched == 0 {
            return Err(PortError::NotFound);
        }
        Ok(())
    }

    async fn set_user_attribute(
        &self,
        user: UserId,
        attribute: &Attribute,
        now: OffsetDateTime,
    ) -> PortResult<()> {
        let mut connection = self.connection().await?;
        if !user_exists(&mut connection, user).await? {
            return Err(PortError::NotFound);
        }
        let now = to_utc_naive(now);
        diesel::insert_into(user_attributes::table)
            .values((
                user_attributes::id.eq(Uuid::now_v7()),
                user_attributes::user_id.eq(user.as_uuid()),
                user_attributes::key.eq(&attribute.key),
                user_attributes::value.eq(&attribute.value),
                user_attributes::data_type.eq(attribute.data_type.as_str()),
                user_attributes::expires_at.eq(attribute.expires_at.map(to_utc_naive)),
                user_attributes::created_at.eq(now),
                user_attributes::updated_at.eq(now),
            ))
            .on_conflict((user_attributes::user_id, user_attributes::key))
            .do_update()
            .set((
                user_attributes::value.eq(excluded(user_attributes::value)),
                user_attributes::data_type.eq(excluded(user_attributes::data_type)),
                user_attributes::expires_at.eq(excluded(user_attributes::expires_at)),
                user_attributes::updated_at.eq(excluded(user_attributes::updated_at)),
                user_attributes::deleted_at.eq(None::<PrimitiveDateTime>),
            ))
            .execute(&mut connection)
            .await
            .map_err(map_diesel_error)?;
        Ok(())
    }

    async fn set_resource_attribute(
        &self,
        resource_type: &str,
        resource_id: Uuid,
        attribute: &Attribute,
        now: OffsetDateTime,
    ) -> PortResult<()> {
        let mut connection = self.connection().await?;
        let now = to_utc_naive(now);
        diesel::insert_into(resource_attributes::table)
            .values((
                resource_attributes::id.eq(Uuid::now_v7()),
                resource_attributes::resource_type.eq(resource_type),
                resource_attributes::resource_id.eq(resource_id),
                resource_attributes::key.eq(&attribute.key),
                resource_attributes::value.eq(&attribute.value),
                resource_attributes::data_type.eq(attribute.data_type.as_str()),
                resource_attributes::expires_at.eq(attribute.expires_at.map(to_utc_naive)),
                resource_attributes::created_at.eq(now),
                resource_attributes::updated_at.eq(now),
            ))
            .on_conflict((
                resource_attributes::resource_type,
                resource_attributes::resource_id,
                resource_attributes::key,
            ))
            .do_update()
            .set((
                resource_attributes::value.eq(excluded(resource_attributes::value)),
                resource_attributes::data_type.eq(excluded(resource_attributes::data_type)),
                resource_attributes::expires_at.eq(excluded(resource_attributes::expires_at)),
                resource_attributes::updated_at.eq(excluded(resource_attributes::updated_at)),
                resource_attributes::deleted_at.eq(None::<PrimitiveDateTime>),
            ))
            .execute(&mut connection)
            .await
            .map_err(map_diesel_error)?;
        Ok(())
    }

    async fn create_role(&self, name: &str, description: &str) -> PortResult<Role> {
        let mut connection = self.connection().await?;
        let id = Uuid::now_v7();
        diesel::insert_into(roles::table)
            .values((
                roles::id.eq(id),
                roles::name.eq(name),
                roles::description.eq(description),
            ))
            .execute(&mut connection)
            .await
            .map_err(|error| match map_diesel_error(error) {
                PortError::Conflict(_) => PortError::Conflict("role already exists".to_owned()),
                other => other,
            })?;
        Ok(role_of(id, name.to_owned(), Some(description.to_owned())))
    }

    async fn create_permission(
        &self,
        resource: &str,
        action: &str,
        scope: &str,
        description: &str,
    ) -> PortResult<Permission> {
        let mut connection = self.connection().await?;
        let row = (
            Uuid::now_v7(),
            resource.to_owned(),
            action.to_owned(),
            Some(scope.to_owned()),
            Some(description.to_owned()),
        );
        diesel::insert_into(permissions::table)
            .values((
                permissions::id.eq(row.0),
                permissions::resource.eq(&row.1),
                permissions::action.eq(&row.2),
                permissions::scope.eq(&row.3),
                permissions::description.eq(&row.4),
            ))
            .execute(&mut connection)
            .await
            .map_err(map_diesel_error)?;
        Ok(permission_of(row))
    }

    async fn grant_permission(
        &self,
        role: RoleId,
        permission: Uuid,
        granted_by: Option<UserId>,
        now: OffsetDateTime,
    ) -> PortResult<()> {
        let mut connection = self.connection().await?;
        let permission_exists = diesel::select(diesel::dsl::exists(
            permissions::table.filter(permissions::id.eq(permission)),
        ))
        .get_result::<bool>(&mut connection)
        .await
        .map_err(map_diesel_error)?;
        if !permission_exists || !role_exists(&mut connection, role).await? {
            return Err(PortError::NotFound);
        }
        let now = to_utc_naive(now);
        let upsert = diesel::insert_into(role_permissions::table)
            .values((
                role_permissions::role_id.eq(role.as_uuid()),
                role_permissions::permission_id.eq(permission),
                role_permissions::granted_by.eq(granted_by.map(|u| u.as_uuid())),
                role_permissions::granted_at.eq(now),
                role_permissions::created_at.eq(now),
                role_permissions::updated_at.eq(now),
            ))
            .on_conflict((role_permissions::role_id, role_permissions::permission_id))
            .do_update()
            .set((
                role_permissions::deleted_at.eq(None::<PrimitiveDateTime>),
                role_permissions::granted_by.eq(excluded(role_permissions::granted_by)),
                role_permissions::granted_at.eq(excluded(role_permissions::granted_at)),
                role_permissions::updated_at.eq(excluded(role_permissions::updated_at)),
            ));
        // The `WHERE` of `ON CONFLICT DO UPDATE` (not `QueryDsl::filter`, which needs a query).
        let touched = diesel::query_dsl::methods::FilterDsl::filter(
            upsert,
            role_permissions::deleted_at.is_not_null(),
        )
        .execute(&mut connection)
        .await
        .map_err(map_diesel_error)?;
        if touched == 0 {
            return Err(PortError::Conflict(
                "role already has this permission".to_owned(),
            ));
        }
        Ok(())
    }

    async fn list_roles_with_permissions(&self) -> PortResult<Vec<RoleWithPermissions>> {
        let mut connection = self.connection().await?;
        let all_roles: Vec<(Uuid, String, Option<String>)> = roles::table
            .select((roles::id, roles::name, roles::description))
            .order(roles::name)
            .load(&mut connection)
            .await
            .map_err(map_diesel_error)?;
        let grants: Vec<(Uuid, PermissionRow)> = role_permissions::table
            .inner_join(permissions::table)
            .filter(role_permissions::deleted_at.is_null())
            .select((
                role_permissions::role_id,
                (
                    permissions::id,
                    permissions::resource,
                    permissions::action,
                    permissions::scope,
                    permissions::description,
                ),
            ))
            .order((permissions::resource, permissions::action, permissions::id))
            .load(&mut connection)
            .await
            .map_err(map_diesel_error)?;
        let mut by_role: BTreeMap<Uuid, Vec<Permission>> = BTreeMap::new();
        for (role, permission) in grants {
            by_role
                .entry(role)
                .or_default()
                .push(permission_of(permission));
        }
        Ok(all_roles
            .into_iter()
            .map(|(id, name, description)| RoleWithPermissions {
                permissions: by_role.remove(&id).unwrap_or_default(),
                role: role_of(id, name, description),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn naive_utc_round_trips_across_offsets() {
        let at = datetime!(2026-06-01 14:30 +02:00);
        let naive = to_utc_naive(at);
        assert_eq!(naive, datetime!(2026-06-01 12:30));
        assert_eq!(from_utc_naive(naive), at);
    }

    #[test]
    fn unknown_attribute_types_read_as_string() {
        assert_eq!(attribute_type(Some("number")), AttributeType::Number);
        assert_eq!(attribute_type(Some("weird")), AttributeType::String);
        assert_eq!(attribute_type(None), AttributeType::String);
    }
}
