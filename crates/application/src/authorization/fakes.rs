//! In-memory fakes of the ports, for unit tests of the authorization service only.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use domain::{
    ADMIN_ROLE_ID, Attribute, Permission, PermissionKey, Role, RoleId, Subject, SubjectRole,
    TaskId, USER_ROLE_ID, UserId,
};
use ports::{
    AuditRecord, AuditSink, AuthzRepository, Clock, PortError, PortResult, RoleWithPermissions,
    TaskOwnership,
};
use time::{OffsetDateTime, macros::datetime};
use uuid::Uuid;

use super::{AuditRecorder, SubjectInvalidationNotifier};

pub const START: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

pub fn uid(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(n))
}

/// Seed-like people: admin (no department), john and jane (Engineering), sam (Sales).
pub const ADMIN: u128 = 0x10;
pub const JOHN: u128 = 1;
pub const JANE: u128 = 2;
pub const SAM: u128 = 3;

#[derive(Debug, Clone)]
struct Assignment {
    role: RoleId,
    expires_at: Option<OffsetDateTime>,
    deleted: bool,
}

#[derive(Debug, Default)]
struct FakeUser {
    department: Option<String>,
    assignments: Vec<Assignment>,
    attributes: Vec<Attribute>,
}

#[derive(Debug, Default)]
struct State {
    users: HashMap<UserId, FakeUser>,
    roles: Vec<Role>,
    grants: Vec<(RoleId, Permission)>,
    tasks: HashMap<TaskId, UserId>,
}

/// Roles, grants, users and tasks in memory, with call counters and a failure switch.
#[derive(Debug, Default)]
pub struct FakeRepository {
    state: Mutex<State>,
    pub subject_loads: AtomicUsize,
    pub task_loads: AtomicUsize,
    pub department_loads: AtomicUsize,
    pub failing: AtomicBool,
}

fn permission(resource: &str, action: &str) -> Permission {
    Permission {
        id: Uuid::now_v7(),
        resource: resource.into(),
        action: action.into(),
        scope: "all".into(),
        description: String::new(),
    }
}

impl FakeRepository {
    /// The seed roles (`user` with its six permissions, `admin` with more) and four users.
    pub fn seeded() -> Self {
        let repo = Self::default();
        {
            let mut state = repo.state.lock().unwrap();
            state.roles = vec![
                Role {
                    id: USER_ROLE_ID,
                    name: "user".into(),
                    description: String::new(),
                },
                Role {
                    id: ADMIN_ROLE_ID,
                    name: "admin".into(),
                    description: String::new(),
                },
            ];
            let user_perms = [
                ("profile", "read"),
                ("profile", "update"),
                ("task", "create"),
                ("task", "read"),
                ("task", "update"),
                ("task", "delete"),
            ];
            for (r, a) in user_perms {
                state.grants.push((USER_ROLE_ID, permission(r, a)));
                state.grants.push((ADMIN_ROLE_ID, permission(r, a)));
            }
            for (r, a) in [("user", "read"), ("user", "update"), ("user", "delete")] {
                state.grants.push((ADMIN_ROLE_ID, permission(r, a)));
            }
            state
                .grants
                .push((ADMIN_ROLE_ID, permission("audit", "read")));
            for (n, department, role) in [
                (ADMIN, None, ADMIN_ROLE_ID),
                (JOHN, Some("Engineering"), USER_ROLE_ID),
                (JANE, Some("Engineering"), USER_ROLE_ID),
                (SAM, Some("Sales"), USER_ROLE_ID),
            ] {
                let mut user = FakeUser {
                    department: department.map(str::to_owned),
                    ..FakeUser::default()
                };
                user.assignments.push(Assignment {
                    role,
                    expires_at: None,
                    deleted: false,
                });
                if let Some(d) = department {
                    user.attributes.push(Attribute::string("department", d));
                }
                state.users.insert(uid(n), user);
            }
        }
        repo
    }

    pub fn add_task(&self, owner: UserId) -> TaskId {
        let id = TaskId::new_v7();
        self.state.lock().unwrap().tasks.insert(id, owner);
        id
    }

    /// A change made "behind the service's back" (like direct SQL).
    pub fn set_department_attribute_directly(&self, user: UserId, value: &str) {
        let mut state = self.state.lock().unwrap();
        let attributes = &mut state.users.get_mut(&user).unwrap().attributes;
        attributes.retain(|a| a.key != "department");
        attributes.push(Attribute::string("department", value));
    }

    fn check(&self) -> PortResult<()> {
        if self.failing.load(Ordering::SeqCst) {
            Err(PortError::Unavailable("fake storage is down".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl AuthzRepository for FakeRepository {
    async fn load_subject(&self, user: UserId) -> PortResult<Option<Subject>> {
        self.check()?;
        self.subject_loads.fetch_add(1, Ordering::SeqCst);
        let state = self.state.lock().unwrap();
        let Some(found) = state.users.get(&user) else {
            return Ok(None);
        };
        let roles = found
            .assignments
            .iter()
            .filter(|a| !a.deleted)
            .map(|a| SubjectRole {
                name: state
                    .roles
                    .iter()
                    .find(|r| r.id == a.role)
                    .unwrap()
                    .name
                    .clone(),
                expires_at: a.expires_at,
                permissions: state
                    .grants
                    .iter()
                    .filter(|(r, _)| *r == a.role)
                    .map(|(_, p)| PermissionKey::new(p.resource.clone(), p.action.clone()))
                    .collect(),
            })
            .collect();
        Ok(Some(Subject {
            user_id: user,
            roles,
            attributes: found.attributes.clone(),
        }))
    }

    async fn user_department(&self, user: UserId) -> PortResult<Option<String>> {
        self.check()?;
        self.department_loads.fetch_add(1, Ordering::SeqCst);
        let state = self.state.lock().unwrap();
        Ok(state.users.get(&user).and_then(|u| u.department.clone()))
    }

    async fn task_ownership(&self, task: TaskId) -> PortResult<Option<TaskOwnership>> {
        self.check()?;
        self.task_loads.fetch_add(1, Ordering::SeqCst);
        let state = self.state.lock().unwrap();
        Ok(state.tasks.get(&task).map(|owner| TaskOwnership {
            owner: *owner,
            owner_department: state.users.get(owner).and_then(|u| u.department.clone()),
        }))
    }

    async fn has_role(&self, user: UserId, role: &str, now: OffsetDateTime) -> PortResult<bool> {
        self.check()?;
        let state = self.state.lock().unwrap();
        let Some(role) = state.roles.iter().find(|r| r.name == role) else {
            return Ok(false);
        };
        Ok(state.users.get(&user).is_some_and(|u| {
            u.assignments
                .iter()
                .any(|a| a.role == role.id && !a.deleted && a.expires_at.is_none_or(|at| at > now))
        }))
    }

    async fn find_role_by_name(&self, name: &str) -> PortResult<Option<Role>> {
        self.check()?;
        let state = self.state.lock().unwrap();
        Ok(state.roles.iter().find(|r| r.name == name).cloned())
    }

    async fn assign_role(
        &self,
        user: UserId,
        role: RoleId,
        _assigned_by: Option<UserId>,
        expires_at: Option<OffsetDateTime>,
        _now: OffsetDateTime,
    ) -> PortResult<()> {
        self.check()?;
        let mut state = self.state.lock().unwrap();
        if !state.roles.iter().any(|r| r.id == role) {
            return Err(PortError::NotFound);
        }
        let found = state.users.get_mut(&user).ok_or(PortError::NotFound)?;
        match found.assignments.iter_mut().find(|a| a.role == role) {
            Some(a) if !a.deleted => Err(PortError::Conflict("user already has this role".into())),
            Some(a) => {
                a.deleted = false;
                a.expires_at = expires_at;
                Ok(())
            }
            None => {
                found.assignments.push(Assignment {
                    role,
                    expires_at,
                    deleted: false,
                });
                Ok(())
            }
        }
    }

    async fn revoke_role(
        &self,
        user: UserId,
        role: RoleId,
        _now: OffsetDateTime,
    ) -> PortResult<()> {
        self.check()?;
        let mut state = self.state.lock().unwrap();
        let found = state.users.get_mut(&user).ok_or(PortError::NotFound)?;
        let assignment = found
            .assignments
            .iter_mut()
            .find(|a| a.role == role && !a.deleted)
            .ok_or(PortError::NotFound)?;
        assignment.deleted = true;
        Ok(())
    }

    async fn set_user_attribute(
        &self,
        user: UserId,
        attribute: &Attribute,
        _now: OffsetDateTime,
    ) -> PortResult<()> {
        self.check()?;
        let mut state = self.state.lock().unwrap();
        let found = state.users.get_mut(&user).ok_or(PortError::NotFound)?;
        found.attributes.retain(|a| a.key != attribute.key);
        found.attributes.push(attribute.clone());
        Ok(())
    }

    async fn set_resource_attribute(
        &self,
        _resource_type: &str,
        _resource_id: Uuid,
        _attribute: &Attribute,
        _now: OffsetDateTime,
    ) -> PortResult<()> {
        self.check()
    }

    async fn create_role(&self, name: &str, description: &str) -> PortResult<Role> {
        self.check()?;
        let mut state = self.state.lock().unwrap();
        if state.roles.iter().any(|r| r.name == name) {
            return Err(PortError::Conflict("role already exists".into()));
        }
        let role = Role {
            id: RoleId::new_v7(),
            name: name.into(),
            description: description.into(),
        };
        state.roles.push(role.clone());
        Ok(role)
    }

    async fn create_permission(
        &self,
        resource: &str,
        action: &str,
        _scope: &str,
        _description: &str,
    ) -> PortResult<Permission> {
        self.check()?;
        Ok(permission(resource, action))
    }

    async fn grant_permission(
        &self,
        role: RoleId,
        permission: Uuid,
        _granted_by: Option<UserId>,
        _now: OffsetDateTime,
    ) -> PortResult<()> {
        self.check()?;
        let mut state = self.state.lock().unwrap();
        let known = state
            .grants
            .iter()
            .find(|(_, p)| p.id == permission)
            .map(|(_, p)| p.clone())
            .ok_or(PortError::NotFound)?;
        if state
            .grants
            .iter()
            .any(|(r, p)| *r == role && p.id == permission)
        {
            return Err(PortError::Conflict(
                "role already has this permission".into(),
            ));
        }
        state.grants.push((role, known));
        Ok(())
    }

    async fn list_roles_with_permissions(&self) -> PortResult<Vec<RoleWithPermissions>> {
        self.check()?;
        let state = self.state.lock().unwrap();
        Ok(state
            .roles
            .iter()
            .map(|role| RoleWithPermissions {
                role: role.clone(),
                permissions: state
                    .grants
                    .iter()
                    .filter(|(r, _)| *r == role.id)
                    .map(|(_, p)| p.clone())
                    .collect(),
            })
            .collect())
    }
}

impl FakeRepository {
    /// The id of a permission granted to `role`, for grant tests.
    pub fn permission_id(&self, role: RoleId, resource: &str, action: &str) -> Uuid {
        let state = self.state.lock().unwrap();
        state
            .grants
            .iter()
            .find(|(r, p)| *r == role && p.resource == resource && p.action == action)
            .unwrap()
            .1
            .id
    }
}

/// A clock the test moves.
#[derive(Debug)]
pub struct FakeClock(Mutex<OffsetDateTime>);

impl FakeClock {
    pub fn new() -> Self {
        Self(Mutex::new(START))
    }

    pub fn advance(&self, by: time::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// Keeps the audit records the service hands over.
#[derive(Debug, Default)]
pub struct RecordingAudit(Mutex<Vec<AuditRecord>>);

impl RecordingAudit {
    pub fn records(&self) -> Vec<AuditRecord> {
        self.0.lock().unwrap().clone()
    }
}

impl AuditRecorder for RecordingAudit {
    fn record(&self, record: AuditRecord) {
        self.0.lock().unwrap().push(record);
    }
}

/// Keeps the invalidations the service publishes.
#[derive(Debug, Default)]
pub struct RecordingNotifier(Mutex<Vec<Option<UserId>>>);

impl RecordingNotifier {
    pub fn published(&self) -> Vec<Option<UserId>> {
        self.0.lock().unwrap().clone()
    }
}

impl SubjectInvalidationNotifier for RecordingNotifier {
    fn on_subject_changed(&self, user: Option<UserId>) {
        self.0.lock().unwrap().push(user);
    }
}

/// An audit sink keeping each batch; it fails the first `failures` writes.
#[derive(Debug, Default)]
pub struct CollectingSink {
    batches: Mutex<Vec<Vec<AuditRecord>>>,
    pub failures: AtomicUsize,
}

impl CollectingSink {
    pub fn failing(times: usize) -> Self {
        Self {
            failures: AtomicUsize::new(times),
            ..Self::default()
        }
    }

    pub fn batch_sizes(&self) -> Vec<usize> {
        self.batches.lock().unwrap().iter().map(Vec::len).collect()
    }

    pub fn records(&self) -> Vec<AuditRecord> {
        self.batches.lock().unwrap().concat()
    }
}

#[async_trait]
impl AuditSink for CollectingSink {
    async fn write_batch(&self, records: &[AuditRecord]) -> PortResult<()> {
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(PortError::Unavailable("fake sink is down".into()));
        }
        self.batches.lock().unwrap().push(records.to_vec());
        Ok(())
    }
}

/// A metrics recorder for one test thread: counter totals by `name{label=value,...}`.
#[derive(Debug, Default)]
pub struct CountingRecorder {
    counts: std::sync::Arc<Mutex<std::collections::BTreeMap<String, u64>>>,
}

#[derive(Debug)]
struct CountingCell {
    key: String,
    counts: std::sync::Arc<Mutex<std::collections::BTreeMap<String, u64>>>,
}

impl metrics::CounterFn for CountingCell {
    fn increment(&self, value: u64) {
        *self
            .counts
            .lock()
            .unwrap()
            .entry(self.key.clone())
            .or_default() += value;
    }

    fn absolute(&self, value: u64) {
        self.counts.lock().unwrap().insert(self.key.clone(), value);
    }
}

impl CountingRecorder {
    /// The total of the counter `key` (`name{label=value,...}`, labels in emission order).
    pub fn count(&self, key: &str) -> u64 {
        self.counts.lock().unwrap().get(key).copied().unwrap_or(0)
    }
}

impl metrics::Recorder for CountingRecorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = if labels.is_empty() {
            key.name().to_owned()
        } else {
            format!("{}{{{}}}", key.name(), labels.join(","))
        };
        metrics::Counter::from_arc(std::sync::Arc::new(CountingCell {
            key: name,
            counts: self.counts.clone(),
        }))
    }

    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }

    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}
