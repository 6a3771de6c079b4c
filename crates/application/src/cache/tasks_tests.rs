//! Unit tests of [`CachedTaskService`] over an in-memory repository that counts loads.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cache_multilevel::{CacheConfig, MultiLevelCache};
use domain::{NewTaskInput, Task, TaskChanges, TaskChangesInput, TaskId, UserId};
use ports::idempotency::IdempotencyRecord;
use ports::{
    IdempotencyClaim, IdempotencyStore, PortError, PortResult, StoredResponse, SystemClock,
    TaskPage, TaskQuery, TaskRepository, TaskScope,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::CachedTaskService;
use crate::tasks::{TaskError, TaskListParams, TaskService};

#[derive(Default)]
struct CountingTasks {
    tasks: Mutex<HashMap<TaskId, Task>>,
    finds: AtomicUsize,
    lists: AtomicUsize,
    owner_lists: AtomicUsize,
}

#[async_trait]
impl TaskRepository for CountingTasks {
    async fn insert(&self, task: &Task) -> PortResult<Task> {
        self.tasks.lock().unwrap().insert(task.id, task.clone());
        Ok(task.clone())
    }

    async fn find_by_id(&self, id: TaskId) -> PortResult<Option<Task>> {
        self.finds.fetch_add(1, Ordering::SeqCst);
        let found = self.tasks.lock().unwrap().get(&id).cloned();
        // A slow answer: concurrent callers pile up behind the first, and a write can
        // commit between this read and its caller storing the result.
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(found)
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
        _expected: Option<OffsetDateTime>,
    ) -> PortResult<()> {
        self.tasks
            .lock()
            .unwrap()
            .remove(&id)
            .map(|_| ())
            .ok_or(PortError::NotFound)
    }

    async fn list(&self, _query: &TaskQuery) -> PortResult<TaskPage> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        let tasks: Vec<Task> = self.tasks.lock().unwrap().values().cloned().collect();
        Ok(TaskPage {
            total: tasks.len() as u64,
            tasks,
            next_cursor: None,
        })
    }

    async fn list_for_owner(&self, owner: UserId) -> PortResult<Vec<Task>> {
        self.owner_lists.fetch_add(1, Ordering::SeqCst);
        let tasks = self.tasks.lock().unwrap();
        Ok(tasks
            .values()
            .filter(|t| t.owner == owner)
            .cloned()
            .collect())
    }
}

/// Idempotency is not exercised here.
struct NoKeys;

#[async_trait]
impl IdempotencyStore for NoKeys {
    async fn reserve(
        &self,
        _: UserId,
        _: &str,
        _: &str,
        _: OffsetDateTime,
    ) -> PortResult<IdempotencyClaim> {
        Err(PortError::Unavailable("unused".into()))
    }
    async fn complete(&self, _: UserId, _: &str, _: &StoredResponse) -> PortResult<()> {
        Err(PortError::Unavailable("unused".into()))
    }
    async fn release(&self, _: UserId, _: &str) -> PortResult<()> {
        Err(PortError::Unavailable("unused".into()))
    }
    async fn find(
        &self,
        _: UserId,
        _: &str,
        _: OffsetDateTime,
    ) -> PortResult<Option<IdempotencyRecord>> {
        Err(PortError::Unavailable("unused".into()))
    }
}

fn fixture() -> (CachedTaskService, Arc<CountingTasks>) {
    let tasks = Arc::new(CountingTasks::default());
    let inner = Arc::new(TaskService::new(
        tasks.clone(),
        Arc::new(NoKeys),
        Arc::new(SystemClock),
    ));
    let cache = Arc::new(MultiLevelCache::new(CacheConfig::default(), None, None));
    (CachedTaskService::new(inner, cache), tasks)
}

fn owner() -> UserId {
    UserId::from_uuid(Uuid::from_u128(7))
}

fn input(title: &str) -> NewTaskInput<'_> {
    NewTaskInput {
        title,
        description: None,
        status: None,
        priority: None,
        due_date: None,
    }
}

fn rename(title: &str) -> TaskChangesInput<'_> {
    TaskChangesInput {
        title: Some(title),
        ..TaskChangesInput::default()
    }
}

#[tokio::test]
async fn a_created_task_is_read_from_the_cache_and_an_update_replaces_it() {
    let (service, tasks) = fixture();
    let task = service.create(owner(), input("one")).await.unwrap();
    assert_eq!(service.get(task.id).await.unwrap().title, "one");
    assert_eq!(tasks.finds.load(Ordering::SeqCst), 0, "creation cached it");
    service.update(task.id, rename("two"), None).await.unwrap();
    assert_eq!(service.get(task.id).await.unwrap().title, "two");
    assert_eq!(service.get(task.id).await.unwrap().title, "two");
    assert_eq!(
        tasks.finds.load(Ordering::SeqCst),
        1,
        "one reload after the update"
    );
}

#[tokio::test]
async fn concurrent_misses_load_once() {
    let (service, tasks) = fixture();
    let task = service
        .inner()
        .create(owner(), input("cold"))
        .await
        .unwrap();
    let mut reads = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let service = service.clone();
        reads.spawn(async move { service.get(task.id).await });
    }
    for read in reads.join_all().await {
        assert_eq!(read.unwrap().title, "cold");
    }
    assert_eq!(tasks.finds.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_deleted_task_is_gone_and_a_missing_one_is_not_cached() {
    let (service, tasks) = fixture();
    let task = service.create(owner(), input("doomed")).await.unwrap();
    service.delete(task.id, None).await.unwrap();
    assert_eq!(service.get(task.id).await, Err(TaskError::NotFound));
    assert_eq!(service.get(task.id).await, Err(TaskError::NotFound));
    // One read for the owner before deleting, then two misses that were not cached.
    assert_eq!(tasks.finds.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn lists_are_cached_until_a_write_invalidates_them() {
    let (service, tasks) = fixture();
    let params = TaskListParams::default();
    service.create(owner(), input("a")).await.unwrap();
    for _ in 0..2 {
        assert_eq!(
            service.list(TaskScope::All, &params).await.unwrap().total,
            1
        );
        assert_eq!(service.list_for_user(owner()).await.unwrap().len(), 1);
    }
    assert_eq!(tasks.lists.load(Ordering::SeqCst), 1);
    assert_eq!(tasks.owner_lists.load(Ordering::SeqCst), 1);

    let b = service.create(owner(), input("b")).await.unwrap();
    assert_eq!(
        service.list(TaskScope::All, &params).await.unwrap().total,
        2
    );
    assert_eq!(service.list_for_user(owner()).await.unwrap().len(), 2);
    service.update(b.id, rename("b2"), None).await.unwrap();
    let listed = service.list(TaskScope::All, &params).await.unwrap();
    assert!(listed.tasks.iter().any(|t| t.title == "b2"));
    let own = service.list_for_user(owner()).await.unwrap();
    assert!(own.iter().any(|t| t.title == "b2"));
    service.delete(b.id, None).await.unwrap();
    assert_eq!(
        service.list(TaskScope::All, &params).await.unwrap().total,
        1
    );
    assert_eq!(service.list_for_user(owner()).await.unwrap().len(), 1);
    assert_eq!(tasks.lists.load(Ordering::SeqCst), 4);
}

/// Reads `id` through the cache in a task of its own (the fixture's loads take time).
fn read_in_background(
    service: &CachedTaskService,
    id: TaskId,
) -> tokio::task::JoinHandle<Result<Arc<Task>, TaskError>> {
    let service = service.clone();
    tokio::spawn(async move { service.get(id).await })
}

#[tokio::test(start_paused = true)]
async fn a_load_overlapping_a_write_does_not_leave_the_old_value_cached() {
    let (service, _tasks) = fixture();
    let task = service.inner().create(owner(), input("v1")).await.unwrap();
    let reader = read_in_background(&service, task.id);
    // The reader has read "v1" and is still on its way back when the update commits.
    tokio::time::sleep(Duration::from_millis(5)).await;
    service.update(task.id, rename("v2"), None).await.unwrap();
    assert_eq!(reader.await.unwrap().unwrap().title, "v1");
    assert_eq!(service.get(task.id).await.unwrap().title, "v2");
}

#[tokio::test(start_paused = true)]
async fn a_load_overlapping_another_instances_write_does_not_keep_its_result() {
    let (service, tasks) = fixture();
    let task = service.inner().create(owner(), input("v1")).await.unwrap();
    let reader = read_in_background(&service, task.id);
    // Another instance commits "v2" while this reader is on its way back with "v1", and
    // its invalidation message arrives before the reader stores what it read.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut updated = task.clone();
    updated.title = "v2".to_owned();
    tasks.tasks.lock().unwrap().insert(task.id, updated);
    service.other_instance_wrote();
    assert_eq!(reader.await.unwrap().unwrap().title, "v1");
    assert_eq!(service.get(task.id).await.unwrap().title, "v2");
}

#[tokio::test(start_paused = true)]
async fn a_stale_value_stored_just_after_a_write_is_deleted_again() {
    let tasks = Arc::new(CountingTasks::default());
    let inner = Arc::new(TaskService::new(
        tasks.clone(),
        Arc::new(NoKeys),
        Arc::new(SystemClock),
    ));
    let cache = Arc::new(MultiLevelCache::new(CacheConfig::default(), None, None));
    let service = CachedTaskService::new(inner, cache.clone());
    let task = service.create(owner(), input("v1")).await.unwrap();
    service.update(task.id, rename("v2"), None).await.unwrap();
    // A load elsewhere that read "v1" before the update stores it after the deletion.
    cache
        .set_json(&super::task_key(task.id), &task, super::TASK_TTL)
        .await;
    assert_eq!(service.get(task.id).await.unwrap().title, "v1", "the race");
    tokio::time::sleep(super::REPEAT_DELETE_AFTER + Duration::from_millis(1)).await;
    assert_eq!(service.get(task.id).await.unwrap().title, "v2");
}
