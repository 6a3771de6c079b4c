//! Seed data of the baseline (contract 12.2) and idempotent account seeding.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use adapters_postgres::schema::{
    permissions, role_permissions, roles, user_attributes, user_roles, users,
};
use adapters_postgres::seed::{SeedAccount, ensure_account};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ports::PortError;
use testkit::TestDatabase;
use uuid::Uuid;

const USER_ROLE: Uuid = Uuid::from_u128(1);
const ADMIN_ROLE: Uuid = Uuid::from_u128(2);

async fn permission_strings(connection: &mut AsyncPgConnection, role: Uuid) -> BTreeSet<String> {
    role_permissions::table
        .inner_join(permissions::table)
        .filter(role_permissions::role_id.eq(role))
        .filter(role_permissions::deleted_at.is_null())
        .select((permissions::resource, permissions::action))
        .load::<(String, String)>(connection)
        .await
        .unwrap()
        .into_iter()
        .map(|(resource, action)| format!("{resource}:{action}"))
        .collect()
}

#[tokio::test]
async fn the_seed_has_two_roles_with_fixed_ids_and_their_permission_strings() {
    let database = TestDatabase::new().await;
    let mut connection = database.connect().await;
    let found: Vec<(Uuid, String)> = roles::table
        .select((roles::id, roles::name))
        .order(roles::id)
        .load(&mut connection)
        .await
        .unwrap();
    assert_eq!(
        found,
        vec![
            (USER_ROLE, "user".to_owned()),
            (ADMIN_ROLE, "admin".to_owned())
        ]
    );

    let user = permission_strings(&mut connection, USER_ROLE).await;
    let expected_user: BTreeSet<String> = [
        "profile:read",
        "profile:update",
        "task:create",
        "task:read",
        "task:update",
        "task:delete",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(user, expected_user);

    let admin = permission_strings(&mut connection, ADMIN_ROLE).await;
    assert_eq!(admin.len(), 17, "{admin:?}");
    assert!(admin.contains("system:admin") && admin.contains("user:revoke_role"));
    let admin_rows: i64 = role_permissions::table
        .filter(role_permissions::role_id.eq(ADMIN_ROLE))
        .count()
        .get_result(&mut connection)
        .await
        .unwrap();
    assert_eq!(admin_rows, 23);
}

#[tokio::test]
async fn the_seeded_accounts_have_the_documented_passwords_and_roles() {
    let database = TestDatabase::new().await;
    let mut connection = database.connect().await;
    let hashes: Vec<(String, String)> = users::table
        .select((users::email, users::password))
        .order(users::email)
        .load(&mut connection)
        .await
        .unwrap();
    assert_eq!(hashes.len(), 3);
    for (email, hash) in &hashes {
        match email.as_str() {
            "admin@gmail.com" | "admin@example.com" => {
                assert!(bcrypt::verify("admin", hash).unwrap(), "{email}");
            }
            "john@example.com" => assert!(bcrypt::verify("admin", hash).is_err()),
            other => panic!("unexpected seed user {other}"),
        }
    }
    let john_roles: Vec<(Uuid, Option<Uuid>)> = user_roles::table
        .filter(
            user_roles::user_id
                .eq(Uuid::parse_str("20000000-0000-0000-0000-000000000001").unwrap()),
        )
        .select((user_roles::role_id, user_roles::assigned_by))
        .load(&mut connection)
        .await
        .unwrap();
    assert_eq!(john_roles, vec![(USER_ROLE, Some(Uuid::from_u128(0x10)))]);
}

fn account<'a>(email: &'a str, hash: &'a str, roles: &'a [&'a str]) -> SeedAccount<'a> {
    SeedAccount {
        username: "bootstrap_admin",
        email,
        password_hash: hash,
        first_name: "Boot",
        last_name: "Strap",
        department: "Operations",
        position: "Administrator",
        roles,
    }
}

async fn active_roles(connection: &mut AsyncPgConnection, user: Uuid) -> Vec<Uuid> {
    user_roles::table
        .filter(user_roles::user_id.eq(user))
        .filter(user_roles::deleted_at.is_null())
        .filter(user_roles::expires_at.is_null())
        .select(user_roles::role_id)
        .order(user_roles::role_id)
        .load(connection)
        .await
        .unwrap()
}

#[tokio::test]
async fn ensure_account_twice_gives_the_same_user_holding_each_role_once() {
    let database = TestDatabase::new().await;
    let pool = database.pool().await;
    let seed = account("Boot@Example.com", "$2b$04$first", &["user", "admin"]);
    let first = ensure_account(&pool, &seed).await.unwrap();
    let second = ensure_account(&pool, &seed).await.unwrap();
    assert_eq!(first, second);

    let mut connection = database.connect().await;
    assert_eq!(
        active_roles(&mut connection, first).await,
        vec![USER_ROLE, ADMIN_ROLE]
    );
    let attributes: Vec<(String, String, Option<String>)> = user_attributes::table
        .filter(user_attributes::user_id.eq(first))
        .select((
            user_attributes::key,
            user_attributes::value,
            user_attributes::data_type,
        ))
        .order(user_attributes::key)
        .load(&mut connection)
        .await
        .unwrap();
    assert_eq!(
        attributes,
        vec![
            (
                "account_type".to_owned(),
                "standard".to_owned(),
                Some("string".to_owned())
            ),
            (
                "clearance_level".to_owned(),
                "basic".to_owned(),
                Some("string".to_owned())
            ),
        ]
    );
}

#[tokio::test]
async fn ensure_account_refreshes_an_existing_account_and_revives_its_roles() {
    let database = TestDatabase::new().await;
    let pool = database.pool().await;
    let id = ensure_account(
        &pool,
        &account("ops@example.com", "$2b$04$old", &["user", "admin"]),
    )
    .await
    .unwrap();

    let mut connection = database.connect().await;
    diesel::update(users::table.find(id))
        .set(users::is_active.eq(false))
        .execute(&mut connection)
        .await
        .unwrap();
    diesel::update(user_roles::table.find((id, ADMIN_ROLE)))
        .set(user_roles::deleted_at.eq(diesel::dsl::now.nullable()))
        .execute(&mut connection)
        .await
        .unwrap();
    diesel::update(user_roles::table.find((id, USER_ROLE)))
        .set(user_roles::expires_at.eq(diesel::dsl::now.nullable()))
        .execute(&mut connection)
        .await
        .unwrap();

    let again = ensure_account(
        &pool,
        &account("OPS@example.com", "$2b$04$new", &["user", "admin"]),
    )
    .await
    .unwrap();
    assert_eq!(again, id);
    let (hash, active): (String, Option<bool>) = users::table
        .find(id)
        .select((users::password, users::is_active))
        .first(&mut connection)
        .await
        .unwrap();
    assert_eq!((hash.as_str(), active), ("$2b$04$new", Some(true)));
    assert_eq!(
        active_roles(&mut connection, id).await,
        vec![USER_ROLE, ADMIN_ROLE]
    );
}

#[tokio::test]
async fn ensure_account_with_an_unknown_role_fails_and_writes_nothing() {
    let database = TestDatabase::new().await;
    let pool = database.pool().await;
    let error = ensure_account(
        &pool,
        &account("ghost@example.com", "$2b$04$x", &["user", "wizard"]),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, PortError::Backend(text) if text.contains("wizard")),
        "{error}"
    );
    let mut connection = database.connect().await;
    let count: i64 = users::table
        .filter(users::email.eq("ghost@example.com"))
        .count()
        .get_result(&mut connection)
        .await
        .unwrap();
    assert_eq!(count, 0);
}
