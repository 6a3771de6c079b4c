//! `PgAuthzRepository` against a real, migrated and seeded PostgreSQL database.
#![allow(clippy::unwrap_used)]

use adapters_postgres::PgAuthzRepository;
use adapters_postgres::schema::{
    resource_attributes, role_permissions, tasks, user_attributes, user_roles, users,
};
use authz_engine::{ResourceRequest, SubjectSnapshot, decide};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::{
    ADMIN_ROLE_ID, Attribute, AttributeType, RoleId, Subject, TaskId, USER_ROLE_ID, UserId,
};
use ports::{AuthzRepository, PortError};
use testkit::TestDatabase;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, macros::datetime};
use uuid::Uuid;

const ADMIN_USER: UserId = UserId(Uuid::from_u128(0x10));
const JOHN: UserId = UserId(Uuid::from_u128(0x2000_0000_0000_0000_0000_0000_0000_0001));

async fn setup() -> (TestDatabase, PgAuthzRepository) {
    let database = TestDatabase::new().await;
    let repository = PgAuthzRepository::new(database.pool().await);
    (database, repository)
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

async fn subject(repository: &PgAuthzRepository, user: UserId) -> Subject {
    repository.load_subject(user).await.unwrap().unwrap()
}

fn role_names(subject: &Subject) -> Vec<&str> {
    subject.roles.iter().map(|r| r.name.as_str()).collect()
}

#[tokio::test]
async fn john_loads_with_the_user_role_its_permissions_and_his_attributes() {
    let (_db, repository) = setup().await;
    assert_eq!(JOHN.to_string(), "20000000-0000-0000-0000-000000000001");
    let john = subject(&repository, JOHN).await;
    assert_eq!(john.user_id, JOHN);
    assert_eq!(role_names(&john), ["user"]);
    assert_eq!(john.roles[0].expires_at, None);
    let mut permissions: Vec<String> = john.roles[0]
        .permissions
        .iter()
        .map(ToString::to_string)
        .collect();
    permissions.sort();
    assert_eq!(
        permissions,
        [
            "profile:read",
            "profile:update",
            "task:create",
            "task:delete",
            "task:read",
            "task:update"
        ]
    );
    let department = john
        .attributes
        .iter()
        .find(|a| a.key == "department")
        .unwrap();
    assert_eq!(department.value, "Engineering");
    let clearance = john
        .attributes
        .iter()
        .find(|a| a.key == "clearance_level")
        .unwrap();
    assert_eq!(clearance.data_type, AttributeType::Number);

    let snapshot = SubjectSnapshot::new(&john, now());
    assert!(!snapshot.is_admin());
    assert_eq!(snapshot.department(), Some("Engineering"));
}

#[tokio::test]
async fn admin_user_loads_as_an_admin_with_every_permission() {
    let (_db, repository) = setup().await;
    let admin = subject(&repository, ADMIN_USER).await;
    assert_eq!(role_names(&admin), ["admin"]);
    let snapshot = SubjectSnapshot::new(&admin, now());
    assert!(snapshot.is_admin());
    assert!(snapshot.has_permission("audit", "read"));
    assert!(snapshot.has_permission("user", "assign_role"));
    assert_eq!(snapshot.permissions().len(), 17);
}

#[tokio::test]
async fn unknown_and_deleted_users_load_as_none() {
    let (db, repository) = setup().await;
    assert_eq!(
        repository
            .load_subject(UserId::from_uuid(Uuid::now_v7()))
            .await
            .unwrap(),
        None
    );
    let mut connection = db.connect().await;
    diesel::update(users::table.find(JOHN.as_uuid()))
        .set(users::deleted_at.eq(Some(now())))
        .execute(&mut connection)
        .await
        .unwrap();
    assert_eq!(repository.load_subject(JOHN).await.unwrap(), None);
    assert_eq!(repository.user_department(JOHN).await.unwrap(), None);
    assert!(!repository.has_role(JOHN, "user", now()).await.unwrap());
}

#[tokio::test]
async fn soft_deleted_grants_and_attributes_are_left_out() {
    let (db, repository) = setup().await;
    let mut connection = db.connect().await;
    let task_read = Uuid::parse_str("10000000-0000-0000-0000-000000000022").unwrap();
    diesel::update(
        role_permissions::table
            .filter(role_permissions::role_id.eq(USER_ROLE_ID.as_uuid()))
            .filter(role_permissions::permission_id.eq(task_read)),
    )
    .set(role_permissions::deleted_at.eq(Some(datetime!(2026-01-01 00:00))))
    .execute(&mut connection)
    .await
    .unwrap();
    diesel::update(
        user_attributes::table
            .filter(user_attributes::user_id.eq(JOHN.as_uuid()))
            .filter(user_attributes::key.eq("department")),
    )
    .set(user_attributes::deleted_at.eq(Some(datetime!(2026-01-01 00:00))))
    .execute(&mut connection)
    .await
    .unwrap();
    let john = subject(&repository, JOHN).await;
    let snapshot = SubjectSnapshot::new(&john, now());
    assert!(!snapshot.has_permission("task", "read"));
    assert!(snapshot.has_permission("task", "update"));
    assert_eq!(snapshot.department(), None);
}

#[tokio::test]
async fn an_expired_assignment_is_loaded_with_its_expiry_and_grants_nothing() {
    let (db, repository) = setup().await;
    let expired = now() - Duration::hours(1);
    repository
        .assign_role(JOHN, ADMIN_ROLE_ID, Some(ADMIN_USER), Some(expired), now())
        .await
        .unwrap();
    let john = subject(&repository, JOHN).await;
    assert_eq!(role_names(&john), ["admin", "user"]);
    let loaded = john.roles[0].expires_at.unwrap();
    assert!((loaded - expired).abs() < Duration::milliseconds(1));

    let snapshot = SubjectSnapshot::new(&john, now());
    assert!(!snapshot.is_admin());
    let decision = decide(&snapshot, &ResourceRequest::new("audit", "read"));
    assert!(!decision.is_allowed());
    assert!(!repository.has_role(JOHN, "admin", now()).await.unwrap());

    // The column holds the UTC wall-clock value, whatever offset the caller used.
    let at = datetime!(2030-01-01 14:00 +02:00);
    repository
        .revoke_role(JOHN, ADMIN_ROLE_ID, now())
        .await
        .unwrap();
    repository
        .assign_role(JOHN, ADMIN_ROLE_ID, None, Some(at), now())
        .await
        .unwrap();
    let mut connection = db.connect().await;
    let stored: Option<PrimitiveDateTime> = user_roles::table
        .find((JOHN.as_uuid(), ADMIN_ROLE_ID.as_uuid()))
        .select(user_roles::expires_at)
        .first(&mut connection)
        .await
        .unwrap();
    assert_eq!(stored, Some(datetime!(2030-01-01 12:00)));
    assert!(repository.has_role(JOHN, "admin", now()).await.unwrap());
    assert!(
        !repository
            .has_role(JOHN, "admin", datetime!(2030-01-01 12:00 UTC))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_revoked_role_disappears_and_reassigning_reactivates_the_same_row() {
    let (db, repository) = setup().await;
    assert!(repository.has_role(JOHN, "user", now()).await.unwrap());
    repository
        .revoke_role(JOHN, USER_ROLE_ID, now())
        .await
        .unwrap();
    assert!(subject(&repository, JOHN).await.roles.is_empty());
    assert!(!repository.has_role(JOHN, "user", now()).await.unwrap());
    assert_eq!(
        repository.revoke_role(JOHN, USER_ROLE_ID, now()).await,
        Err(PortError::NotFound)
    );

    let until = now() + Duration::days(1);
    repository
        .assign_role(JOHN, USER_ROLE_ID, Some(ADMIN_USER), Some(until), now())
        .await
        .unwrap();
    let mut connection = db.connect().await;
    let rows: Vec<(
        Option<Uuid>,
        Option<PrimitiveDateTime>,
        Option<PrimitiveDateTime>,
    )> = user_roles::table
        .filter(user_roles::user_id.eq(JOHN.as_uuid()))
        .select((
            user_roles::assigned_by,
            user_roles::expires_at,
            user_roles::deleted_at,
        ))
        .load(&mut connection)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "the soft-deleted row is reused");
    assert_eq!(rows[0].0, Some(ADMIN_USER.as_uuid()));
    assert!(rows[0].1.is_some());
    assert_eq!(rows[0].2, None);
    assert_eq!(role_names(&subject(&repository, JOHN).await), ["user"]);
}

#[tokio::test]
async fn assigning_an_active_role_again_is_a_conflict_and_unknown_parties_are_not_found() {
    let (_db, repository) = setup().await;
    assert_eq!(
        repository
            .assign_role(JOHN, USER_ROLE_ID, None, None, now())
            .await,
        Err(PortError::Conflict("user already has this role".to_owned()))
    );
    assert_eq!(
        repository
            .assign_role(UserId::new_v7(), USER_ROLE_ID, None, None, now())
            .await,
        Err(PortError::NotFound)
    );
    assert_eq!(
        repository
            .assign_role(JOHN, RoleId::new_v7(), None, None, now())
            .await,
        Err(PortError::NotFound)
    );
    repository
        .assign_role(JOHN, ADMIN_ROLE_ID, Some(ADMIN_USER), None, now())
        .await
        .unwrap();
    assert!(repository.has_role(JOHN, "admin", now()).await.unwrap());
}

#[tokio::test]
async fn departments_and_task_ownership_come_from_the_users_table() {
    let (db, repository) = setup().await;
    assert_eq!(
        repository.user_department(JOHN).await.unwrap().as_deref(),
        Some("Engineering")
    );
    assert_eq!(repository.user_department(ADMIN_USER).await.unwrap(), None);
    assert_eq!(
        repository.user_department(UserId::new_v7()).await.unwrap(),
        None
    );

    let mut connection = db.connect().await;
    let task = Uuid::now_v7();
    diesel::insert_into(tasks::table)
        .values((
            tasks::id.eq(task),
            tasks::user_id.eq(JOHN.as_uuid()),
            tasks::title.eq("write tests"),
        ))
        .execute(&mut connection)
        .await
        .unwrap();
    let ownership = repository
        .task_ownership(TaskId::from_uuid(task))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ownership.owner, JOHN);
    assert_eq!(ownership.owner_department.as_deref(), Some("Engineering"));
    assert_eq!(
        repository.task_ownership(TaskId::new_v7()).await.unwrap(),
        None
    );
    diesel::update(tasks::table.find(task))
        .set(tasks::deleted_at.eq(Some(now())))
        .execute(&mut connection)
        .await
        .unwrap();
    assert_eq!(
        repository
            .task_ownership(TaskId::from_uuid(task))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn roles_are_found_by_name() {
    let (_db, repository) = setup().await;
    let admin = repository
        .find_role_by_name("admin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(admin.id, ADMIN_ROLE_ID);
    assert_eq!(admin.description, "Administrator");
    assert_eq!(repository.find_role_by_name("nobody").await.unwrap(), None);
}

async fn attribute_rows(
    db: &TestDatabase,
    user: UserId,
    key: &str,
) -> Vec<(String, Option<String>, Option<PrimitiveDateTime>)> {
    let mut connection = db.connect().await;
    user_attributes::table
        .filter(user_attributes::user_id.eq(user.as_uuid()))
        .filter(user_attributes::key.eq(key))
        .select((
            user_attributes::value,
            user_attributes::data_type,
            user_attributes::deleted_at,
        ))
        .load(&mut connection)
        .await
        .unwrap()
}

#[tokio::test]
async fn setting_a_user_attribute_inserts_replaces_and_undeletes() {
    let (db, repository) = setup().await;
    let badge = Attribute {
        data_type: AttributeType::Boolean,
        ..Attribute::string("badge", "true")
    };
    repository
        .set_user_attribute(JOHN, &badge, now())
        .await
        .unwrap();
    assert_eq!(
        attribute_rows(&db, JOHN, "badge").await,
        [("true".to_owned(), Some("boolean".to_owned()), None)]
    );

    let sales = Attribute::string("department", "Sales");
    repository
        .set_user_attribute(JOHN, &sales, now())
        .await
        .unwrap();
    assert_eq!(
        attribute_rows(&db, JOHN, "department").await,
        [("Sales".to_owned(), Some("string".to_owned()), None)]
    );

    let mut connection = db.connect().await;
    diesel::update(
        user_attributes::table
            .filter(user_attributes::user_id.eq(JOHN.as_uuid()))
            .filter(user_attributes::key.eq("department")),
    )
    .set(user_attributes::deleted_at.eq(Some(datetime!(2026-01-01 00:00))))
    .execute(&mut connection)
    .await
    .unwrap();
    let expiring = Attribute {
        expires_at: Some(datetime!(2031-05-05 10:00 UTC)),
        ..Attribute::string("department", "Engineering")
    };
    repository
        .set_user_attribute(JOHN, &expiring, now())
        .await
        .unwrap();
    let john = subject(&repository, JOHN).await;
    let department = john
        .attributes
        .iter()
        .find(|a| a.key == "department")
        .unwrap();
    assert_eq!(department, &expiring);

    assert_eq!(
        repository
            .set_user_attribute(UserId::new_v7(), &sales, now())
            .await,
        Err(PortError::NotFound)
    );
}

#[tokio::test]
async fn setting_a_resource_attribute_is_an_upsert() {
    let (db, repository) = setup().await;
    let task = Uuid::now_v7();
    repository
        .set_resource_attribute(
            "task",
            task,
            &Attribute::string("sensitivity", "low"),
            now(),
        )
        .await
        .unwrap();
    repository
        .set_resource_attribute(
            "task",
            task,
            &Attribute::string("sensitivity", "high"),
            now(),
        )
        .await
        .unwrap();
    let mut connection = db.connect().await;
    let rows: Vec<(String, String)> = resource_attributes::table
        .filter(resource_attributes::resource_id.eq(task))
        .select((resource_attributes::key, resource_attributes::value))
        .load(&mut connection)
        .await
        .unwrap();
    assert_eq!(rows, [("sensitivity".to_owned(), "high".to_owned())]);
}

#[tokio::test]
async fn roles_and_permissions_are_created_granted_and_listed() {
    let (db, repository) = setup().await;
    let auditor = repository
        .create_role("auditor", "Reads the audit log")
        .await
        .unwrap();
    assert_eq!(auditor.name, "auditor");
    assert_eq!(
        repository.find_role_by_name("auditor").await.unwrap(),
        Some(auditor.clone())
    );
    assert!(matches!(
        repository.create_role("auditor", "again").await,
        Err(PortError::Conflict(_))
    ));

    let export = repository
        .create_permission("report", "export", "all", "Export reports")
        .await
        .unwrap();
    assert_eq!(export.key().to_string(), "report:export");
    repository
        .grant_permission(auditor.id, export.id, Some(ADMIN_USER), now())
        .await
        .unwrap();
    assert!(matches!(
        repository
            .grant_permission(auditor.id, export.id, None, now())
            .await,
        Err(PortError::Conflict(_))
    ));
    assert_eq!(
        repository
            .grant_permission(auditor.id, Uuid::now_v7(), None, now())
            .await,
        Err(PortError::NotFound)
    );
    assert_eq!(
        repository
            .grant_permission(RoleId::new_v7(), export.id, None, now())
            .await,
        Err(PortError::NotFound)
    );

    let listed = repository.list_roles_with_permissions().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|r| r.role.name.as_str()).collect();
    assert_eq!(names, ["admin", "auditor", "user"]);
    assert_eq!(listed[1].permissions, std::slice::from_ref(&export));
    assert_eq!(listed[0].permissions.len(), 23);
    let user_keys: Vec<String> = listed[2]
        .permissions
        .iter()
        .map(|p| p.key().to_string())
        .collect();
    assert_eq!(
        user_keys,
        [
            "profile:read",
            "profile:update",
            "task:create",
            "task:delete",
            "task:read",
            "task:update"
        ]
    );

    // A soft-deleted grant leaves the listing and is reactivated by granting again.
    let mut connection = db.connect().await;
    diesel::update(
        role_permissions::table
            .filter(role_permissions::role_id.eq(auditor.id.as_uuid()))
            .filter(role_permissions::permission_id.eq(export.id)),
    )
    .set(role_permissions::deleted_at.eq(Some(datetime!(2026-01-01 00:00))))
    .execute(&mut connection)
    .await
    .unwrap();
    let listed = repository.list_roles_with_permissions().await.unwrap();
    assert!(listed[1].permissions.is_empty());
    repository
        .grant_permission(auditor.id, export.id, None, now())
        .await
        .unwrap();
    let listed = repository.list_roles_with_permissions().await.unwrap();
    assert_eq!(listed[1].permissions, [export]);

    // And a user holding the new role gets its permission.
    repository
        .assign_role(JOHN, auditor.id, None, None, now())
        .await
        .unwrap();
    let snapshot = SubjectSnapshot::new(&subject(&repository, JOHN).await, now());
    assert!(snapshot.has_permission("report", "export"));
}
