//! [`CachedTaskService`]: the task use cases with the cache of contract 13 in front of
//! the reads and the invalidation table of 13.4 behind the writes.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use cache_multilevel::MultiLevelCache;
use domain::{NewTaskInput, Task, TaskChangesInput, TaskId, UserId};
use ports::TaskScope;
use serde::{Serialize, de::DeserializeOwned};

use crate::tasks::{
    CreateOutcome, TaskError, TaskListParams, TaskListing, TaskService, normalise_list_params,
    paginated_cache_key,
};

/// Lifetime of `task:{id}` (13.1).
pub const TASK_TTL: Duration = Duration::from_secs(30 * 60);
/// Lifetime of a `tasks_paginated` page (13.1).
pub const TASKS_PAGINATED_TTL: Duration = Duration::from_secs(5 * 60);
/// Lifetime of `user_tasks:{user_id}` (13.1).
pub const USER_TASKS_TTL: Duration = Duration::from_secs(15 * 60);
/// The generation-versioned namespace of listing pages: bumping it invalidates every page
/// in O(1).
pub const TASKS_PAGINATED_NS: &str = "tasks_paginated";
/// The key of the every-task array (only warming writes it; writes delete it).
pub const ALL_TASKS_KEY: &str = "all_tasks";
/// After a write, its single-key deletions are repeated once this much later: a load on
/// another instance that read the database just before the write may have stored the old
/// value in the shared level just after the first deletion.
pub const REPEAT_DELETE_AFTER: Duration = Duration::from_secs(1);

/// `task:{id}`.
#[must_use]
pub fn task_key(id: TaskId) -> String {
    format!("task:{id}")
}

/// `user_tasks:{user_id}`.
#[must_use]
pub fn user_tasks_key(owner: UserId) -> String {
    format!("user_tasks:{owner}")
}

/// The task use cases with the same method names as [`TaskService`], reading through the
/// cache and invalidating it after every write. Without a cache it simply delegates.
/// A cache problem never fails a call: the cache swallows and counts its own errors and
/// invalidation failures are logged.
#[derive(Clone)]
pub struct CachedTaskService {
    inner: Arc<TaskService>,
    cache: Option<Arc<MultiLevelCache>>,
    /// Counts completed writes (shared by clones): a load that overlapped one may have
    /// stored what the write had just invalidated, so it removes its entry again.
    writes: Arc<AtomicU64>,
}

impl std::fmt::Debug for CachedTaskService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedTaskService")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl CachedTaskService {
    /// The decorator over `inner`, caching in `cache`.
    #[must_use]
    pub fn new(inner: Arc<TaskService>, cache: Arc<MultiLevelCache>) -> Self {
        Self {
            inner,
            cache: Some(cache),
            writes: Arc::default(),
        }
    }

    /// A pass-through decorator (no cache configured).
    #[must_use]
    pub fn uncached(inner: Arc<TaskService>) -> Self {
        Self {
            inner,
            cache: None,
            writes: Arc::default(),
        }
    }

    /// The undecorated service.
    #[must_use]
    pub fn inner(&self) -> &TaskService {
        &self.inner
    }

    /// Told when another instance announced a task cache invalidation: a load running
    /// here may have read the data before that write, so it must not keep its result.
    pub fn other_instance_wrote(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }

    /// Creates a task (7.2) and caches it; see [`TaskService::create`].
    ///
    /// # Errors
    /// As [`TaskService::create`].
    pub async fn create(&self, owner: UserId, input: NewTaskInput<'_>) -> Result<Task, TaskError> {
        let task = self.inner.create(owner, input).await?;
        self.created(&task).await;
        Ok(task)
    }

    /// Creates a task at most once per key; see [`TaskService::create_idempotent`]. A
    /// replay changes nothing, so it invalidates nothing.
    ///
    /// # Errors
    /// As [`TaskService::create_idempotent`].
    pub async fn create_idempotent(
        &self,
        owner: UserId,
        key: &str,
        input: NewTaskInput<'_>,
    ) -> Result<CreateOutcome, TaskError> {
        let outcome = self.inner.create_idempotent(owner, key, input).await?;
        if !outcome.replayed {
            self.created(&outcome.task).await;
        }
        Ok(outcome)
    }

    /// The live task (7.4), from `task:{id}` when cached; concurrent misses load once. A
    /// hit hands out the cached value itself (shared, never copied).
    ///
    /// # Errors
    /// As [`TaskService::get`] (a missing task is never cached).
    pub async fn get(&self, id: TaskId) -> Result<Arc<Task>, TaskError> {
        let Some(cache) = &self.cache else {
            return self.inner.get(id).await.map(Arc::new);
        };
        self.read_through(cache, &task_key(id), TASK_TTL, || self.inner.get(id))
            .await
    }

    /// Updates a task (7.5); the `If-Match` check always happens in the database. Then
    /// deletes `task:{id}` and the owner's and everyone's lists.
    ///
    /// # Errors
    /// As [`TaskService::update`].
    pub async fn update(
        &self,
        id: TaskId,
        input: TaskChangesInput<'_>,
        if_match: Option<&str>,
    ) -> Result<Task, TaskError> {
        let task = self.inner.update(id, input, if_match).await?;
        self.changed(id, task.owner).await;
        Ok(task)
    }

    /// Soft-deletes a task (7.6): reads the owner from the database first, deletes (the
    /// `If-Match` check in the database), then invalidates as for an update.
    ///
    /// # Errors
    /// As [`TaskService::delete`].
    pub async fn delete(&self, id: TaskId, if_match: Option<&str>) -> Result<(), TaskError> {
        if self.cache.is_none() {
            return self.inner.delete(id, if_match).await;
        }
        let owner = self.inner.get(id).await?.owner;
        let result = self.inner.delete(id, if_match).await;
        if matches!(result, Ok(()) | Err(TaskError::NotFound)) {
            // Also when it vanished meanwhile: a cached copy must not outlive it.
            self.changed(id, owner).await;
        }
        result
    }

    /// One listing page (7.3), cached under the `tasks_paginated` generation; keyset
    /// (cursor) requests are not cached.
    ///
    /// # Errors
    /// As [`TaskService::list`].
    pub async fn list(
        &self,
        scope: TaskScope,
        params: &TaskListParams,
    ) -> Result<TaskListing, TaskError> {
        let Some(cache) = &self.cache else {
            return self.inner.list(scope, params).await;
        };
        let normalised = normalise_list_params(params)?;
        let key = paginated_cache_key(&scope, &normalised);
        let query = normalised.to_query(scope);
        let Some(key) = key else {
            return self.inner.run_query(&query).await;
        };
        let rest = key
            .strip_prefix(TASKS_PAGINATED_NS)
            .and_then(|rest| rest.strip_prefix(':'))
            .unwrap_or(&key);
        let key = cache.namespaced_key(TASKS_PAGINATED_NS, rest).await;
        let listing = cache
            .get_or_load(&key, TASKS_PAGINATED_TTL, || self.inner.run_query(&query))
            .await?;
        Ok(TaskListing::clone(&listing))
    }

    /// Every live task of `owner` (7.7), cached under `user_tasks:{owner}`.
    ///
    /// # Errors
    /// As [`TaskService::list_for_user`].
    pub async fn list_for_user(&self, owner: UserId) -> Result<Vec<Task>, TaskError> {
        let Some(cache) = &self.cache else {
            return self.inner.list_for_user(owner).await;
        };
        let tasks = self
            .read_through(cache, &user_tasks_key(owner), USER_TASKS_TTL, || {
                self.inner.list_for_user(owner)
            })
            .await?;
        Ok(Vec::clone(&tasks))
    }

    /// [`MultiLevelCache::get_or_load`] for a single-key entry, guarding against the race
    /// where a load reads the database before a write commits and stores its result after
    /// the write's invalidation: the write count is read before and after, and if this
    /// call loaded while a write completed, the entry is removed again. (Generation-keyed
    /// listings need no guard: an overlapping load stores under the old generation.)
    async fn read_through<T, F, Fut>(
        &self,
        cache: &MultiLevelCache,
        key: &str,
        ttl: Duration,
        loader: F,
    ) -> Result<Arc<T>, TaskError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, TaskError>>,
    {
        let before = self.writes.load(Ordering::SeqCst);
        let loaded = AtomicBool::new(false);
        let value = cache
            .get_or_load(key, ttl, || {
                loaded.store(true, Ordering::SeqCst);
                loader()
            })
            .await?;
        if loaded.load(Ordering::SeqCst) && self.writes.load(Ordering::SeqCst) != before {
            log_failure(key, cache.delete(key).await);
        }
        Ok(value)
    }

    /// 13.4 "task created": write `task:{id}`, then the list invalidations.
    async fn created(&self, task: &Task) {
        let Some(cache) = &self.cache else { return };
        self.writes.fetch_add(1, Ordering::SeqCst);
        let key = task_key(task.id);
        tokio::join!(
            cache.set_json(&key, task, TASK_TTL),
            self.lists_changed(cache, task.owner),
        );
    }

    /// 13.4 "task updated" and "task deleted": delete `task:{id}`, then the lists.
    async fn changed(&self, id: TaskId, owner: UserId) {
        let Some(cache) = &self.cache else { return };
        self.writes.fetch_add(1, Ordering::SeqCst);
        let key = task_key(id);
        let (deleted, ()) = tokio::join!(cache.delete(&key), self.lists_changed(cache, owner));
        log_failure(&key, deleted);
        repeat_deletes_later(cache, vec![key]);
    }

    /// The owner's `user_tasks`, every `tasks_paginated` page (one generation bump) and
    /// `all_tasks`.
    ///
    /// 13.4 also names the pattern `user_tasks:{owner}:*` (D-21). No key of that form can
    /// exist: the service caches only `user_tasks:{owner}`, and a warming job on a
    /// reserved `user_tasks:` key that is not exactly an owner id stores nothing (it
    /// evicts). Walking the keyspace on every write to delete nothing is therefore left out.
    async fn lists_changed(&self, cache: &Arc<MultiLevelCache>, owner: UserId) {
        let user_key = user_tasks_key(owner);
        let (user, pages, all) = tokio::join!(
            cache.delete(&user_key),
            cache.bump_namespace(TASKS_PAGINATED_NS),
            cache.delete(ALL_TASKS_KEY),
        );
        log_failure(&user_key, user);
        log_failure(TASKS_PAGINATED_NS, pages.map(|_| ()));
        log_failure(ALL_TASKS_KEY, all);
        // Listing pages need no repeat: a late store lands under the old generation.
        repeat_deletes_later(cache, vec![user_key, ALL_TASKS_KEY.to_owned()]);
    }
}

/// Deletes `keys` again after [`REPEAT_DELETE_AFTER`], in the background (see there).
fn repeat_deletes_later(cache: &Arc<MultiLevelCache>, keys: Vec<String>) {
    let cache = Arc::clone(cache);
    tokio::spawn(async move {
        tokio::time::sleep(REPEAT_DELETE_AFTER).await;
        for key in keys {
            log_failure(&key, cache.delete(&key).await);
        }
    });
}

fn log_failure(key: &str, result: Result<(), cache_multilevel::CacheError>) {
    if let Err(error) = result {
        tracing::warn!(key, %error, "cache invalidation did not fully reach the shared level");
    }
}
