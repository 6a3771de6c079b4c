//! [`ports::UserRepository`] over PostgreSQL: accounts, registration in one transaction
//! (user, `user` role, attributes), soft deletion, and the active role grants that token
//! claims are built from.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::{Attribute, Email, PasswordHash, ProfileChanges, UserId, UserProfile};
use ports::{AccessGrants, NewUser, PortError, PortResult, UserRecord, UserRepository};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};
use uuid::Uuid;

use crate::pool::{PgPool, map_diesel_error};
use crate::schema::{roles, user_attributes, user_roles, users};

diesel::define_sql_function! {
    /// SQL `lower(text)`: emails compare case-insensitively [D-17].
    fn lower(text: Text) -> Text;
}

/// The unique constraint on `users.email` (baseline schema).
const EMAIL_CONSTRAINT: &str = "users_email_key";
/// The partial unique index on live usernames (migration 17, when it could be created).
const USERNAME_CONSTRAINT: &str = "idx_users_username_live";

/// User accounts in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgUserRepository {
    pool: PgPool,
}

impl PgUserRepository {
    /// Wraps the shared pool.
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

type UserColumns = (
    users::id,
    users::username,
    users::email,
    users::password,
    users::first_name,
    users::last_name,
    users::department,
    users::position,
    users::is_active,
    users::last_login_at,
    users::created_at,
    users::updated_at,
);

const USER_COLUMNS: UserColumns = (
    users::id,
    users::username,
    users::email,
    users::password,
    users::first_name,
    users::last_name,
    users::department,
    users::position,
    users::is_active,
    users::last_login_at,
    users::created_at,
    users::updated_at,
);

#[derive(Queryable)]
struct UserRow {
    id: Uuid,
    username: String,
    email: String,
    password: String,
    first_name: Option<String>,
    last_name: Option<String>,
    department: Option<String>,
    position: Option<String>,
    is_active: Option<bool>,
    last_login_at: Option<PrimitiveDateTime>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl UserRow {
    fn into_record(self) -> UserRecord {
        UserRecord {
            password_hash: PasswordHash::new(self.password),
            profile: UserProfile {
                id: UserId::from_uuid(self.id),
                username: self.username,
                email: self.email,
                first_name: self.first_name.unwrap_or_default(),
                last_name: self.last_name.unwrap_or_default(),
                department: self.department.unwrap_or_default(),
                position: self.position.unwrap_or_default(),
                // The column defaults to true; a null means nobody ever disabled it.
                is_active: self.is_active.unwrap_or(true),
                last_login_at: self.last_login_at.map(PrimitiveDateTime::assume_utc),
                created_at: self.created_at.to_offset(UtcOffset::UTC),
                updated_at: self.updated_at.to_offset(UtcOffset::UTC),
            },
        }
    }
}

/// A `timestamp without time zone` value for `at`, in UTC (the RBAC tables store UTC).
fn utc_naive(at: OffsetDateTime) -> PrimitiveDateTime {
    let utc = at.to_offset(UtcOffset::UTC);
    PrimitiveDateTime::new(utc.date(), utc.time())
}

#[derive(AsChangeset)]
#[diesel(table_name = users)]
struct ProfileChangeset<'a> {
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    department: Option<&'a str>,
    position: Option<&'a str>,
    updated_at: OffsetDateTime,
}

enum RegisterFailure {
    Database(diesel::result::Error),
    Port(PortError),
}

impl From<diesel::result::Error> for RegisterFailure {
    fn from(error: diesel::result::Error) -> Self {
        Self::Database(error)
    }
}

/// Maps a unique violation on the user table to `Conflict("email")`/`Conflict("username")`.
fn map_user_write_error(error: diesel::result::Error) -> PortError {
    match map_diesel_error(error) {
        PortError::Conflict(constraint) if constraint == EMAIL_CONSTRAINT => {
            PortError::Conflict("email".to_owned())
        }
        PortError::Conflict(constraint) if constraint == USERNAME_CONSTRAINT => {
            PortError::Conflict("username".to_owned())
        }
        other => other,
    }
}

async fn insert_registration(
    connection: &mut AsyncPgConnection,
    user: &NewUser,
    role: &str,
    attributes: &[Attribute],
    now: OffsetDateTime,
) -> Result<(), RegisterFailure> {
    let role_id = roles::table
        .filter(roles::name.eq(role))
        .select(roles::id)
        .first::<Uuid>(connection)
        .await
        .optional()?
        .ok_or(RegisterFailure::Port(PortError::NotFound))?;
    // Checked inside the transaction too, so that the common race answers a clean 409.
    let email_taken: bool = diesel::select(diesel::dsl::exists(
        users::table.filter(lower(users::email).eq(user.email.as_str())),
    ))
    .get_result(connection)
    .await?;
    if email_taken {
        return Err(RegisterFailure::Port(PortError::Conflict(
            "email".to_owned(),
        )));
    }
    let username_taken: bool = diesel::select(diesel::dsl::exists(
        users::table
            .filter(users::username.eq(user.username.as_str()))
            .filter(users::deleted_at.is_null()),
    ))
    .get_result(connection)
    .await?;
    if username_taken {
        return Err(RegisterFailure::Port(PortError::Conflict(
            "username".to_owned(),
        )));
    }
    diesel::insert_into(users::table)
        .values((
            users::id.eq(user.id.as_uuid()),
            users::username.eq(user.username.as_str()),
            users::email.eq(user.email.as_str()),
            users::password.eq(user.password_hash.expose()),
            users::first_name.eq(&user.first_name),
            users::last_name.eq(&user.last_name),
            users::department.eq(&user.department),
            users::position.eq(&user.position),
            users::is_active.eq(true),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .execute(connection)
        .await
        .map_err(|e| RegisterFailure::Port(map_user_write_error(e)))?;
    let naive_now = utc_naive(now);
    diesel::insert_into(user_roles::table)
        .values((
            user_roles::user_id.eq(user.id.as_uuid()),
            user_roles::role_id.eq(role_id),
            user_roles::assigned_at.eq(naive_now),
            user_roles::created_at.eq(naive_now),
            user_roles::updated_at.eq(naive_now),
        ))
        .execute(connection)
        .await?;
    for attribute in attributes {
        diesel::insert_into(user_attributes::table)
            .values((
                user_attributes::id.eq(Uuid::now_v7()),
                user_attributes::user_id.eq(user.id.as_uuid()),
                user_attributes::key.eq(&attribute.key),
                user_attributes::value.eq(&attribute.value),
                user_attributes::data_type.eq(attribute.data_type.as_str()),
                user_attributes::created_at.eq(naive_now),
                user_attributes::updated_at.eq(naive_now),
                user_attributes::expires_at.eq(attribute.expires_at.map(utc_naive)),
            ))
            .execute(connection)
            .await?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct RoleNameRow {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct PermissionRow {
    #[diesel(sql_type = Text)]
    permission: String,
}

const ACTIVE_ROLES_SQL: &str = "SELECT r.name AS name FROM user_roles ur \
     JOIN roles r ON r.id = ur.role_id \
     WHERE ur.user_id = $1 AND ur.deleted_at IS NULL \
       AND (ur.expires_at IS NULL OR ur.expires_at > $2) \
     ORDER BY r.name";

const ACTIVE_PERMISSIONS_SQL: &str = "SELECT DISTINCT p.resource || ':' || p.action AS permission \
     FROM user_roles ur \
     JOIN role_permissions rp ON rp.role_id = ur.role_id AND rp.deleted_at IS NULL \
     JOIN permissions p ON p.id = rp.permission_id \
     WHERE ur.user_id = $1 AND ur.deleted_at IS NULL \
       AND (ur.expires_at IS NULL OR ur.expires_at > $2)";

impl PgUserRepository {
    async fn find_one<F>(&self, filter: F) -> PortResult<Option<UserRecord>>
    where
        F: FnOnce(
            users::BoxedQuery<'static, diesel::pg::Pg>,
        ) -> users::BoxedQuery<'static, diesel::pg::Pg>,
    {
        let mut connection = self.pool.get().await?;
        let query = filter(users::table.into_boxed()).filter(users::deleted_at.is_null());
        query
            .select(USER_COLUMNS)
            .first::<UserRow>(&mut connection)
            .await
            .optional()
            .map(|row| row.map(UserRow::into_record))
            .map_err(map_diesel_error)
    }
}

#[async_trait]
impl UserRepository for PgUserRepository {
    async fn create_with_role_and_attributes(
        &self,
        user: &NewUser,
        role: &str,
        attributes: &[Attribute],
        now: OffsetDateTime,
    ) -> PortResult<UserProfile> {
        let mut pooled = self.pool.get().await?;
        let connection: &mut AsyncPgConnection = &mut pooled;
        connection
            .transaction(async move |connection: &mut AsyncPgConnection| {
                insert_registration(connection, user, role, attributes, now).await
            })
            .await
            .map_err(|failure| match failure {
                RegisterFailure::Database(error) => map_user_write_error(error),
                RegisterFailure::Port(error) => error,
            })?;
        Ok(UserProfile {
            id: user.id,
            username: user.username.as_str().to_owned(),
            email: user.email.as_str().to_owned(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            department: user.department.clone(),
            position: user.position.clone(),
            is_active: true,
            last_login_at: None,
            created_at: now,
            updated_at: now,
        })
    }

    async fn find_by_email(&self, email: &Email) -> PortResult<Option<UserRecord>> {
        let email = email.as_str().to_owned();
        self.find_one(|q| q.filter(lower(users::email).eq(email)))
            .await
    }

    async fn find_by_username(&self, username: &str) -> PortResult<Option<UserRecord>> {
        let username = username.to_owned();
        self.find_one(|q| q.filter(users::username.eq(username)))
            .await
    }

    async fn find_by_id(&self, id: UserId) -> PortResult<Option<UserRecord>> {
        self.find_one(|q| q.filter(users::id.eq(id.as_uuid())))
            .await
    }

    async fn email_exists_any(&self, email: &Email) -> PortResult<bool> {
        let mut connection = self.pool.get().await?;
        diesel::select(diesel::dsl::exists(
            users::table.filter(lower(users::email).eq(email.as_str())),
        ))
        .get_result(&mut connection)
        .await
        .map_err(map_diesel_error)
    }

    async fn username_taken(&self, username: &str) -> PortResult<bool> {
        let mut connection = self.pool.get().await?;
        diesel::select(diesel::dsl::exists(
            users::table
                .filter(users::username.eq(username))
                .filter(users::deleted_at.is_null()),
        ))
        .get_result(&mut connection)
        .await
        .map_err(map_diesel_error)
    }

    async fn update_profile(
        &self,
        id: UserId,
        changes: &ProfileChanges,
        now: OffsetDateTime,
    ) -> PortResult<()> {
        let mut connection = self.pool.get().await?;
        let changeset = ProfileChangeset {
            first_name: changes.first_name.as_deref(),
            last_name: changes.last_name.as_deref(),
            department: changes.department.as_deref(),
            position: changes.position.as_deref(),
            updated_at: now,
        };
        let updated = diesel::update(
            users::table
                .filter(users::id.eq(id.as_uuid()))
                .filter(users::deleted_at.is_null()),
        )
        .set(&changeset)
        .execute(&mut connection)
        .await
        .map_err(map_diesel_error)?;
        exactly_one(updated)
    }

    async fn set_last_login(&self, id: UserId, at: OffsetDateTime) -> PortResult<()> {
        let mut connection = self.pool.get().await?;
        let updated = diesel::update(
            users::table
                .filter(users::id.eq(id.as_uuid()))
                .filter(users::deleted_at.is_null()),
        )
        .set(users::last_login_at.eq(utc_naive(at)))
        .execute(&mut connection)
        .await
        .map_err(map_diesel_error)?;
        exactly_one(updated)
    }

    async fn soft_delete(&self, id: UserId, now: OffsetDateTime) -> PortResult<()> {
        let mut connection = self.pool.get().await?;
        let updated = diesel::update(
            users::table
                .filter(users::id.eq(id.as_uuid()))
                .filter(users::deleted_at.is_null()),
        )
        .set((users::deleted_at.eq(now), users::updated_at.eq(now)))
        .execute(&mut connection)
        .await
        .map_err(map_diesel_error)?;
        exactly_one(updated)
    }

    async fn list_active(&self) -> PortResult<Vec<UserProfile>> {
        let mut connection = self.pool.get().await?;
        let rows = users::table
            .filter(users::deleted_at.is_null())
            .order((users::created_at.asc(), users::id.asc()))
            .select(USER_COLUMNS)
            .load::<UserRow>(&mut connection)
            .await
            .map_err(map_diesel_error)?;
        Ok(rows
            .into_iter()
            .map(|row| row.into_record().profile)
            .collect())
    }

    async fn set_active(&self, id: UserId, active: bool, now: OffsetDateTime) -> PortResult<()> {
        let mut connection = self.pool.get().await?;
        let updated = diesel::update(
            users::table
                .filter(users::id.eq(id.as_uuid()))
                .filter(users::deleted_at.is_null()),
        )
        .set((users::is_active.eq(active), users::updated_at.eq(now)))
        .execute(&mut connection)
        .await
        .map_err(map_diesel_error)?;
        exactly_one(updated)
    }

    async fn active_grants(&self, id: UserId, now: OffsetDateTime) -> PortResult<AccessGrants> {
        let mut connection = self.pool.get().await?;
        let naive_now = utc_naive(now);
        let roles = diesel::sql_query(ACTIVE_ROLES_SQL)
            .bind::<SqlUuid, _>(id.as_uuid())
            .bind::<Timestamp, _>(naive_now)
            .load::<RoleNameRow>(&mut connection)
            .await
            .map_err(map_diesel_error)?;
        let permissions = diesel::sql_query(ACTIVE_PERMISSIONS_SQL)
            .bind::<SqlUuid, _>(id.as_uuid())
            .bind::<Timestamp, _>(naive_now)
            .load::<PermissionRow>(&mut connection)
            .await
            .map_err(map_diesel_error)?;
        let mut roles: Vec<String> = roles.into_iter().map(|r| r.name).collect();
        roles.sort_unstable();
        roles.dedup();
        let mut permissions: Vec<String> = permissions.into_iter().map(|p| p.permission).collect();
        // Sorted in Rust, not SQL, so the order never depends on the database collation.
        permissions.sort_unstable();
        permissions.dedup();
        Ok(AccessGrants { roles, permissions })
    }
}

/// An update that addressed one live user by id: no row changed means no such user.
fn exactly_one(updated: usize) -> PortResult<()> {
    if updated == 0 {
        Err(PortError::NotFound)
    } else {
        Ok(())
    }
}
