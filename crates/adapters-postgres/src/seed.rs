//! Idempotent seeding of accounts: the optional admin bootstrap at start-up (D-33) and
//! `cargo xtask seed` create or refresh one account with its roles, in one transaction,
//! however often they run.

use std::fmt;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ports::PortError;
use uuid::Uuid;

use crate::pool::{PgPool, map_diesel_error};
use crate::schema::{roles, user_attributes, user_roles, users};

diesel::define_sql_function! {
    /// SQL `lower(text)`: emails are compared case-insensitively (D-17).
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// One account to create or refresh.
#[derive(Clone, Copy)]
pub struct SeedAccount<'a> {
    /// Username for a new account (an existing account keeps its username).
    pub username: &'a str,
    /// Email identifying the account (compared case-insensitively).
    pub email: &'a str,
    /// bcrypt hash to store as the password.
    pub password_hash: &'a str,
    /// First name.
    pub first_name: &'a str,
    /// Last name.
    pub last_name: &'a str,
    /// Department.
    pub department: &'a str,
    /// Position.
    pub position: &'a str,
    /// Names of roles the account must hold (for example `["user", "admin"]`).
    pub roles: &'a [&'a str],
}

impl fmt::Debug for SeedAccount<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeedAccount")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password_hash", &"<redacted>")
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
enum SeedError {
    Database(diesel::result::Error),
    UnknownRole(String),
}

impl From<diesel::result::Error> for SeedError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Database(error)
    }
}

/// Creates the account, or (when a non-deleted user with that email exists) updates its
/// password hash and names and reactivates it; then makes sure it holds each named role
/// (reactivating a soft-deleted assignment and clearing any expiry). A new account also
/// gets the attributes `account_type=standard` and `clearance_level=basic`, as registration
/// gives them. Returns the user id.
///
/// # Errors
/// [`PortError::Backend`] naming an unknown role; [`PortError::Conflict`] when the email
/// belongs to a deleted account; [`PortError::Unavailable`] when PostgreSQL is down.
pub async fn ensure_account(pool: &PgPool, account: &SeedAccount<'_>) -> Result<Uuid, PortError> {
    let mut pooled = pool.get().await?;
    let connection: &mut AsyncPgConnection = &mut pooled;
    let account = *account;
    connection
        .transaction(async move |connection: &mut AsyncPgConnection| {
            ensure_in_transaction(connection, &account).await
        })
        .await
        .map_err(|error| match error {
            SeedError::Database(error) => map_diesel_error(error),
            SeedError::UnknownRole(name) => {
                PortError::Backend(format!("seed: role \"{name}\" does not exist"))
            }
        })
}

async fn ensure_in_transaction(
    connection: &mut AsyncPgConnection,
    account: &SeedAccount<'_>,
) -> Result<Uuid, SeedError> {
    let mut role_ids = Vec::with_capacity(account.roles.len());
    for name in account.roles {
        let id = roles::table
            .filter(roles::name.eq(*name))
            .select(roles::id)
            .first::<Uuid>(connection)
            .await
            .optional()?
            .ok_or_else(|| SeedError::UnknownRole((*name).to_owned()))?;
        role_ids.push(id);
    }

    let email = account.email.trim().to_lowercase();
    let existing = users::table
        .filter(lower(users::email).eq(&email))
        .filter(users::deleted_at.is_null())
        .select(users::id)
        .first::<Uuid>(connection)
        .await
        .optional()?;

    let user_id = match existing {
        Some(id) => {
            diesel::update(users::table.find(id))
                .set((
                    users::password.eq(account.password_hash),
                    users::first_name.eq(account.first_name),
                    users::last_name.eq(account.last_name),
                    users::department.eq(account.department),
                    users::position.eq(account.position),
                    users::is_active.eq(true),
                    users::updated_at.eq(diesel::dsl::now),
                ))
                .execute(connection)
                .await?;
            id
        }
        None => {
            let id = Uuid::now_v7();
            diesel::insert_into(users::table)
                .values((
                    users::id.eq(id),
                    users::username.eq(account.username),
                    users::email.eq(&email),
                    users::password.eq(account.password_hash),
                    users::first_name.eq(account.first_name),
                    users::last_name.eq(account.last_name),
                    users::department.eq(account.department),
                    users::position.eq(account.position),
                    users::is_active.eq(true),
                ))
                .execute(connection)
                .await?;
            diesel::insert_into(user_attributes::table)
                .values(&vec![
                    (
                        user_attributes::user_id.eq(id),
                        user_attributes::key.eq("account_type"),
                        user_attributes::value.eq("standard"),
                        user_attributes::data_type.eq("string"),
                    ),
                    (
                        user_attributes::user_id.eq(id),
                        user_attributes::key.eq("clearance_level"),
                        user_attributes::value.eq("basic"),
                        user_attributes::data_type.eq("string"),
                    ),
                ])
                .execute(connection)
                .await?;
            id
        }
    };

    for role_id in role_ids {
        diesel::insert_into(user_roles::table)
            .values((
                user_roles::user_id.eq(user_id),
                user_roles::role_id.eq(role_id),
            ))
            .on_conflict((user_roles::user_id, user_roles::role_id))
            .do_update()
            .set((
                user_roles::deleted_at.eq(None::<time::PrimitiveDateTime>),
                user_roles::expires_at.eq(None::<time::PrimitiveDateTime>),
                user_roles::updated_at.eq(diesel::dsl::now.nullable()),
            ))
            .execute(connection)
            .await?;
    }
    Ok(user_id)
}
