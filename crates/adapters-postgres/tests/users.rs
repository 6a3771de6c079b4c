//! `PgUserRepository` against a real PostgreSQL database: registration in one transaction,
//! lookups that skip deleted users, uniqueness rules, and the active grants behind token
//! claims.
#![allow(clippy::unwrap_used)]

use adapters_postgres::PgUserRepository;
use diesel_async::RunQueryDsl;
use domain::{
    Email, PasswordHash, ProfileChanges, USER_ROLE, UserId, Username, registration_attributes,
};
use ports::{NewUser, PortError, UserRepository};
use testkit::TestDatabase;
use time::OffsetDateTime;

fn new_user(name: &str, email: &str) -> NewUser {
    NewUser {
        id: UserId::new_v7(),
        username: Username::parse(name).unwrap(),
        email: Email::parse(email).unwrap(),
        password_hash: PasswordHash::new("$2b$04$abcdefghijklmnopqrstuv".into()),
        first_name: "Jane".into(),
        last_name: "Doe".into(),
        department: String::new(),
        position: "Dev".into(),
    }
}

async fn sql(db: &TestDatabase, statement: &str) {
    let mut connection = db.connect().await;
    diesel::sql_query(statement)
        .execute(&mut connection)
        .await
        .unwrap();
}

async fn setup() -> (TestDatabase, PgUserRepository) {
    let db = TestDatabase::new().await;
    let repo = PgUserRepository::new(db.pool().await);
    (db, repo)
}

async fn create(repo: &PgUserRepository, user: &NewUser) -> Result<domain::UserProfile, PortError> {
    repo.create_with_role_and_attributes(
        user,
        USER_ROLE,
        &registration_attributes(),
        OffsetDateTime::now_utc(),
    )
    .await
}

#[tokio::test]
async fn registration_writes_user_role_and_attributes_and_lookups_find_it() {
    let (_db, repo) = setup().await;
    let user = new_user("jane_doe", "Jane@Example.com");
    let profile = create(&repo, &user).await.unwrap();
    assert_eq!(profile.email, "jane@example.com");
    assert!(profile.is_active);

    let by_email = repo
        .find_by_email(&Email::parse("JANE@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_email.profile.id, user.id);
    assert_eq!(by_email.profile.department, "");
    assert_eq!(by_email.profile.position, "Dev");
    assert_eq!(by_email.password_hash, user.password_hash);
    assert!(repo.find_by_username("jane_doe").await.unwrap().is_some());
    assert!(repo.find_by_username("Jane_Doe").await.unwrap().is_none());
    assert!(repo.find_by_id(user.id).await.unwrap().is_some());

    let grants = repo
        .active_grants(user.id, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(grants.roles, vec!["user"]);
    assert_eq!(
        grants.permissions,
        vec![
            "profile:read",
            "profile:update",
            "task:create",
            "task:delete",
            "task:read",
            "task:update"
        ]
    );
}

#[tokio::test]
async fn uniqueness_conflicts_name_the_field_and_write_nothing() {
    let (db, repo) = setup().await;
    create(&repo, &new_user("first", "first@example.com"))
        .await
        .unwrap();
    let dup_email = new_user("second", "FIRST@example.com");
    assert_eq!(
        create(&repo, &dup_email).await,
        Err(PortError::Conflict("email".into()))
    );
    let dup_name = new_user("first", "other@example.com");
    assert_eq!(
        create(&repo, &dup_name).await,
        Err(PortError::Conflict("username".into()))
    );
    assert!(repo.find_by_id(dup_email.id).await.unwrap().is_none());
    assert!(repo.find_by_id(dup_name.id).await.unwrap().is_none());

    // Deleted users keep their email [D-39] but free their username.
    sql(
        &db,
        "UPDATE users SET deleted_at = now() WHERE username = 'first'",
    )
    .await;
    let email = Email::parse("first@example.com").unwrap();
    assert!(repo.email_exists_any(&email).await.unwrap());
    assert!(repo.find_by_email(&email).await.unwrap().is_none());
    assert!(!repo.username_taken("first").await.unwrap());
    create(&repo, &new_user("first", "new@example.com"))
        .await
        .unwrap();
    assert!(repo.username_taken("first").await.unwrap());
}

#[tokio::test]
async fn a_missing_role_is_not_found_and_rolls_back() {
    let (_db, repo) = setup().await;
    let user = new_user("lonely", "lonely@example.com");
    let result = repo
        .create_with_role_and_attributes(
            &user,
            "no_such_role",
            &registration_attributes(),
            OffsetDateTime::now_utc(),
        )
        .await;
    assert_eq!(result, Err(PortError::NotFound));
    assert!(
        !repo
            .email_exists_any(&Email::parse("lonely@example.com").unwrap())
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn updates_deletion_and_listing() {
    let (_db, repo) = setup().await;
    let a = new_user("alpha", "alpha@example.com");
    let b = new_user("beta", "beta@example.com");
    create(&repo, &a).await.unwrap();
    create(&repo, &b).await.unwrap();
    let now = OffsetDateTime::now_utc();

    let changes = ProfileChanges {
        first_name: Some("Alicia".into()),
        department: Some("Ops".into()),
        ..ProfileChanges::default()
    };
    repo.update_profile(a.id, &changes, now).await.unwrap();
    let alpha = repo.find_by_id(a.id).await.unwrap().unwrap().profile;
    assert_eq!(
        (alpha.first_name.as_str(), alpha.last_name.as_str()),
        ("Alicia", "Doe")
    );
    assert_eq!(alpha.department, "Ops");

    repo.set_last_login(a.id, now).await.unwrap();
    let alpha = repo.find_by_id(a.id).await.unwrap().unwrap().profile;
    assert_eq!(
        alpha.last_login_at.unwrap().unix_timestamp(),
        now.unix_timestamp()
    );

    repo.set_active(b.id, false, now).await.unwrap();
    assert!(
        !repo
            .find_by_id(b.id)
            .await
            .unwrap()
            .unwrap()
            .profile
            .is_active
    );

    let listed: Vec<UserId> = repo
        .list_active()
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert!(listed.contains(&a.id) && listed.contains(&b.id));
    let pos = |id| listed.iter().position(|x| *x == id).unwrap();
    assert!(pos(a.id) < pos(b.id), "created_at ascending");

    repo.soft_delete(a.id, now).await.unwrap();
    assert!(repo.find_by_id(a.id).await.unwrap().is_none());
    assert_eq!(repo.soft_delete(a.id, now).await, Err(PortError::NotFound));
    assert_eq!(
        repo.update_profile(a.id, &changes, now).await,
        Err(PortError::NotFound)
    );
    assert!(
        !repo
            .list_active()
            .await
            .unwrap()
            .iter()
            .any(|p| p.id == a.id)
    );
}

#[tokio::test]
async fn active_grants_skip_expired_and_deleted_assignments_and_grants() {
    let (db, repo) = setup().await;
    let user = new_user("promoted", "promoted@example.com");
    create(&repo, &user).await.unwrap();
    let id = user.id;
    sql(
        &db,
        &format!("INSERT INTO user_roles (user_id, role_id) VALUES ('{id}', '00000000-0000-0000-0000-000000000002')"),
    )
    .await;
    let now = OffsetDateTime::now_utc();
    let grants = repo.active_grants(id, now).await.unwrap();
    assert_eq!(grants.roles, vec!["admin", "user"]);
    assert_eq!(grants.permissions.len(), 17);

    sql(&db, &format!("UPDATE user_roles SET expires_at = (now() AT TIME ZONE 'UTC') - interval '1 second' WHERE user_id = '{id}' AND role_id = '00000000-0000-0000-0000-000000000002'")).await;
    let grants = repo.active_grants(id, now).await.unwrap();
    assert_eq!(grants.roles, vec!["user"]);
    assert_eq!(grants.permissions.len(), 6);

    // A soft-deleted grant of the user role drops that permission.
    sql(&db, "UPDATE role_permissions SET deleted_at = now() WHERE role_id = '00000000-0000-0000-0000-000000000001' AND permission_id = '10000000-0000-0000-0000-000000000024'").await;
    let grants = repo.active_grants(id, now).await.unwrap();
    assert!(!grants.permissions.contains(&"task:delete".to_owned()));

    sql(
        &db,
        &format!("UPDATE user_roles SET deleted_at = now() WHERE user_id = '{id}'"),
    )
    .await;
    let grants = repo.active_grants(id, now).await.unwrap();
    assert!(grants.roles.is_empty() && grants.permissions.is_empty());
}
