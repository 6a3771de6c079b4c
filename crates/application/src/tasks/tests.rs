//! Unit tests of [`TaskService`] over in-memory fakes of its ports (the PostgreSQL
//! implementations are tested against a real database in `adapters-postgres`).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use domain::{
    DueDateInput, NewTaskInput, Task, TaskChanges, TaskChangesInput, TaskId, TaskStatus, UserId,
    etag_for,
};
use ports::idempotency::IdempotencyRecord;
use ports::{
    Clock, IdempotencyClaim, IdempotencyStore, PortError, PortResult, StoredResponse, TaskPage,
    TaskQuery, TaskRepository, TaskScope,
};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

use super::{TaskError, TaskListParams, TaskService};

#[derive(Debug)]
struct FixedClock(Mutex<OffsetDateTime>);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

#[derive(Default)]
struct MemoryTasks {
    tasks: Mutex<HashMap<TaskId, Task>>,
    fail_inserts: Mutex<bool>,
    last_query: Mutex<Option<TaskQuery>>,
}

#[async_trait]
impl TaskRepository for MemoryTasks {
    async fn insert(&self, task: &Task) -> PortResult<Task> {
        if *self.fail_inserts.lock().unwrap() {
            return Err(PortError::Unavailable("down".to_owned()));
        }
        self.tasks.lock().unwrap().insert(task.id, task.clone());
        Ok(task.clone())
    }

    async fn find_by_id(&self, id: TaskId) -> PortResult<Option<Task>> {
        Ok(self.tasks.lock().unwrap().get(&id).cloned())
    }

    async fn update(
        &self,
        id: TaskId,
        changes: &TaskChanges,
        now: OffsetDateTime,
        expected: Option<OffsetDateTime>,
    ) -> PortResult<Task> {
        let mut tasks = self.tasks.lock().unwrap();
        let task = tasks.get_mut(&id).ok_or(PortError::NotFound)?;
        if expected.is_some_and(|e| e != task.updated_at) {
            return Err(PortError::Conflict("stale".to_owned()));
        }
        changes.apply_to(task, now);
        Ok(task.clone())
    }

    async fn soft_delete(
        &self,
        id: TaskId,
        _now: OffsetDateTime,
        expected: Option<OffsetDateTime>,
    ) -> PortResult<()> {
        let mut tasks = self.tasks.lock().unwrap();
        let task = tasks.get(&id).ok_or(PortError::NotFound)?;
        if expected.is_some_and(|e| e != task.updated_at) {
            return Err(PortError::Conflict("stale".to_owned()));
        }
        tasks.remove(&id);
        Ok(())
    }

    async fn list(&self, query: &TaskQuery) -> PortResult<TaskPage> {
        *self.last_query.lock().unwrap() = Some(query.clone());
        let tasks: Vec<Task> = self.tasks.lock().unwrap().values().cloned().collect();
        Ok(TaskPage {
            total: tasks.len() as u64,
            tasks,
            next_cursor: None,
        })
    }

    async fn list_for_owner(&self, owner: UserId) -> PortResult<Vec<Task>> {
        Ok(self
            .tasks
            .lock()
            .unwrap()
            .values()
            .filter(|t| t.owner == owner)
            .cloned()
            .collect())
    }
}

/// (owner, key) -> (fingerprint, response once completed).
type KeyTable = HashMap<(UserId, String), (String, Option<StoredResponse>)>;

#[derive(Default)]
struct MemoryKeys {
    keys: Mutex<KeyTable>,
}

#[async_trait]
impl IdempotencyStore for MemoryKeys {
    async fn reserve(
        &self,
        user: UserId,
        key: &str,
        fingerprint: &str,
        _now: OffsetDateTime,
    ) -> PortResult<IdempotencyClaim> {
        let mut keys = self.keys.lock().unwrap();
        match keys.get(&(user, key.to_owned())) {
            None => {
                keys.insert((user, key.to_owned()), (fingerprint.to_owned(), None));
                Ok(IdempotencyClaim::Reserved)
            }
            Some((stored, _)) if stored != fingerprint => Ok(IdempotencyClaim::FingerprintMismatch),
            Some((_, Some(response))) => Ok(IdempotencyClaim::Completed(response.clone())),
            Some((_, None)) => Ok(IdempotencyClaim::InProgress),
        }
    }

    async fn complete(&self, user: UserId, key: &str, response: &StoredResponse) -> PortResult<()> {
        let mut keys = self.keys.lock().unwrap();
        let entry = keys
            .get_mut(&(user, key.to_owned()))
            .ok_or(PortError::NotFound)?;
        entry.1 = Some(response.clone());
        Ok(())
    }

    async fn release(&self, user: UserId, key: &str) -> PortResult<()> {
        let mut keys = self.keys.lock().unwrap();
        if keys
            .get(&(user, key.to_owned()))
            .is_some_and(|(_, response)| response.is_none())
        {
            keys.remove(&(user, key.to_owned()));
        }
        Ok(())
    }

    async fn find(
        &self,
        user: UserId,
        key: &str,
        now: OffsetDateTime,
    ) -> PortResult<Option<IdempotencyRecord>> {
        Ok(self
            .keys
            .lock()
            .unwrap()
            .get(&(user, key.to_owned()))
            .map(|(fingerprint, response)| IdempotencyRecord {
                fingerprint: Some(fingerprint.clone()),
                response: response.clone(),
                created_at: now,
            }))
    }
}

struct Fixture {
    service: TaskService,
    tasks: Arc<MemoryTasks>,
    keys: Arc<MemoryKeys>,
    clock: Arc<FixedClock>,
}

fn fixture() -> Fixture {
    let tasks = Arc::new(MemoryTasks::default());
    let keys = Arc::new(MemoryKeys::default());
    let clock = Arc::new(FixedClock(Mutex::new(datetime!(
        2026-03-01 12:00:00.123_456_789 UTC
    ))));
    let service = TaskService::new(tasks.clone(), keys.clone(), clock.clone());
    Fixture {
        service,
        tasks,
        keys,
        clock,
    }
}

fn owner() -> UserId {
    UserId::from_uuid(Uuid::from_u128(1))
}

fn input(title: &str) -> NewTaskInput<'_> {
    NewTaskInput {
        title,
        ..Default::default()
    }
}

#[tokio::test]
async fn create_validates_and_truncates_timestamps_to_microseconds() {
    let f = fixture();
    let task = f.service.create(owner(), input("  Plan  ")).await.unwrap();
    assert_eq!(task.title, "Plan");
    assert_eq!(task.owner, owner());
    assert_eq!(task.created_at, datetime!(2026-03-01 12:00:00.123_456 UTC));
    assert_eq!(task.updated_at, task.created_at);

    let too_long = "x".repeat(256);
    let error = f
        .service
        .create(owner(), input(&too_long))
        .await
        .unwrap_err();
    assert!(matches!(error, TaskError::Validation(_)));
    let bad_priority = NewTaskInput {
        title: "x",
        priority: Some("critical"),
        ..Default::default()
    };
    assert!(matches!(
        f.service.create(owner(), bad_priority).await,
        Err(TaskError::Validation(_))
    ));
    assert_eq!(
        f.tasks.tasks.lock().unwrap().len(),
        1,
        "nothing half-written"
    );
}

#[tokio::test]
async fn get_update_and_delete_report_missing_tasks() {
    let f = fixture();
    let missing = TaskId::from_uuid(Uuid::from_u128(99));
    assert_eq!(f.service.get(missing).await, Err(TaskError::NotFound));
    assert_eq!(
        f.service
            .update(missing, TaskChangesInput::default(), None)
            .await,
        Err(TaskError::NotFound)
    );
    assert_eq!(
        f.service.delete(missing, Some("\"1\"")).await,
        Err(TaskError::NotFound)
    );
    assert_eq!(
        f.service.delete(missing, Some("garbage")).await,
        Err(TaskError::NotFound),
        "existence before precondition"
    );
}

#[tokio::test]
async fn if_match_guards_updates_and_deletes() {
    let f = fixture();
    let task = f.service.create(owner(), input("a")).await.unwrap();
    let first_tag = task.etag();

    *f.clock.0.lock().unwrap() = datetime!(2026-03-01 13:00 UTC);
    let changes = TaskChangesInput {
        status: Some("completed"),
        due_date: DueDateInput::Value("2026-04-01"),
        ..Default::default()
    };
    let updated = f
        .service
        .update(task.id, changes, Some(&first_tag))
        .await
        .unwrap();
    assert_eq!(updated.status, TaskStatus::Completed);
    assert_ne!(updated.etag(), first_tag);

    // The first editor's tag is stale now.
    assert_eq!(
        f.service
            .update(task.id, TaskChangesInput::default(), Some(&first_tag))
            .await,
        Err(TaskError::PreconditionFailed)
    );
    assert_eq!(
        f.service.delete(task.id, Some(&first_tag)).await,
        Err(TaskError::PreconditionFailed)
    );
    // A foreign tag can never match; a list containing the current tag does; * always does.
    assert_eq!(
        f.service
            .update(task.id, TaskChangesInput::default(), Some("\"abc\""))
            .await,
        Err(TaskError::PreconditionFailed)
    );
    let list = format!("{first_tag}, {}", updated.etag());
    let again = f
        .service
        .update(task.id, TaskChangesInput::default(), Some(&list))
        .await
        .unwrap();
    f.service
        .update(task.id, TaskChangesInput::default(), Some("*"))
        .await
        .unwrap();
    assert_eq!(again.etag(), etag_for(again.updated_at));
    f.service.delete(task.id, Some("*")).await.unwrap();
    assert_eq!(f.service.get(task.id).await, Err(TaskError::NotFound));
}

#[tokio::test]
async fn idempotent_create_replays_and_refuses_a_reused_key() {
    let f = fixture();
    let first = f
        .service
        .create_idempotent(owner(), "key-1", input("once"))
        .await
        .unwrap();
    assert!(!first.replayed);
    let retry = f
        .service
        .create_idempotent(owner(), "key-1", input("once"))
        .await
        .unwrap();
    assert!(retry.replayed);
    assert_eq!(retry.task, first.task);
    assert_eq!(f.tasks.tasks.lock().unwrap().len(), 1);

    assert_eq!(
        f.service
            .create_idempotent(owner(), "key-1", input("other body"))
            .await,
        Err(TaskError::IdempotencyKeyReused)
    );
    // Another user may use the same key text.
    let other = UserId::from_uuid(Uuid::from_u128(2));
    let theirs = f
        .service
        .create_idempotent(other, "key-1", input("once"))
        .await
        .unwrap();
    assert!(!theirs.replayed);
    assert_ne!(theirs.task.id, first.task.id);

    for bad in ["", "has space", "ключ", &"k".repeat(256)] {
        assert!(matches!(
            f.service.create_idempotent(owner(), bad, input("x")).await,
            Err(TaskError::Validation(_))
        ));
    }
}

#[tokio::test]
async fn a_failed_idempotent_create_releases_its_key() {
    let f = fixture();
    *f.tasks.fail_inserts.lock().unwrap() = true;
    let error = f
        .service
        .create_idempotent(owner(), "k", input("x"))
        .await
        .unwrap_err();
    assert!(error.is_unavailable());
    assert!(f.keys.keys.lock().unwrap().is_empty());
    *f.tasks.fail_inserts.lock().unwrap() = false;
    let outcome = f
        .service
        .create_idempotent(owner(), "k", input("x"))
        .await
        .unwrap();
    assert!(!outcome.replayed);
}

#[tokio::test]
async fn a_concurrent_retry_is_told_to_wait() {
    let f = fixture();
    let new = domain::NewTask::validate(input("x")).unwrap();
    // Reserve the key as the first request would, without completing it.
    let fingerprint = super::service::fingerprint(&new);
    f.keys
        .reserve(owner(), "k", &fingerprint, datetime!(2026-03-01 00:00 UTC))
        .await
        .unwrap();
    assert_eq!(
        f.service.create_idempotent(owner(), "k", input("x")).await,
        Err(TaskError::IdempotencyInProgress)
    );
}

#[tokio::test]
async fn list_passes_the_scope_and_normalised_query() {
    let f = fixture();
    f.service.create(owner(), input("a")).await.unwrap();
    let params = TaskListParams {
        page: Some("02".to_owned()),
        page_size: Some("500".to_owned()),
        ..Default::default()
    };
    let listing = f
        .service
        .list(TaskScope::Owner(owner()), &params)
        .await
        .unwrap();
    assert_eq!(listing.total, 1);
    assert_eq!(listing.next_cursor, None);
    let query = f.tasks.last_query.lock().unwrap().clone().unwrap();
    assert_eq!(query.scope, TaskScope::Owner(owner()));
    assert_eq!(
        query.page,
        ports::Page::Offset {
            page: 2,
            page_size: 10
        }
    );
    let bad = TaskListParams {
        status: Some("done".to_owned()),
        ..Default::default()
    };
    assert!(matches!(
        f.service.list(TaskScope::All, &bad).await,
        Err(TaskError::Validation(_))
    ));
    assert_eq!(
        serde_json::to_value(&listing).unwrap()["total"],
        serde_json::json!(1)
    );
    assert!(
        serde_json::to_value(&listing)
            .unwrap()
            .get("next_cursor")
            .is_none()
    );
    assert_eq!(f.service.list_for_user(owner()).await.unwrap().len(), 1);
}
