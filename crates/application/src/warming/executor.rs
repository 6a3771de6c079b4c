//! [`CacheJobExecutor`]: what jobs do to the multi-level cache, with reserved keys
//! recomputed from the database through the task service [D-24].

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cache_multilevel::MultiLevelCache;
use domain::{Task, TaskId, UserId};
use ports::{PortError, PortResult, TaskScope};
use serde::{Serialize, de::DeserializeOwned};
use warming::JobExecutor;

use crate::cache::{
    ALL_TASKS_KEY, TASK_TTL, TASKS_PAGINATED_NS, TASKS_PAGINATED_TTL, USER_TASKS_TTL,
};
use crate::tasks::{
    TaskError, TaskListParams, TaskListing, TaskService, normalise_list_params, paginated_cache_key,
};

/// Lifetime cap of `all_tasks` (13.1).
pub const ALL_TASKS_TTL: Duration = Duration::from_secs(10 * 60);
/// The only listing page warming recomputes: the admin view's first page with defaults.
pub const DEFAULT_PAGE_KEY: &str = "tasks_paginated:all:created_at:desc:1:10";
/// Rows fetched per query when recomputing `all_tasks`.
const ALL_TASKS_PAGE: u32 = 100;
/// Pages read at most when recomputing `all_tasks` (bounds the work to 10,000 tasks).
const ALL_TASKS_MAX_PAGES: u32 = 100;

/// The cache operations of the job system over [`MultiLevelCache`] and the database.
///
/// Reserved keys are stored as the same typed values the cached task reads use (so a
/// warmed `task:{id}` is served by `GET /api/v1/tasks/{id}`), with the lifetime capped at
/// the key's 13.1 lifetime; listing pages go under the current `tasks_paginated`
/// generation.
#[derive(Clone)]
pub struct CacheJobExecutor {
    cache: Arc<MultiLevelCache>,
    tasks: Arc<TaskService>,
}

impl std::fmt::Debug for CacheJobExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheJobExecutor").finish_non_exhaustive()
    }
}

fn storage(error: TaskError) -> PortError {
    match error {
        TaskError::Storage(port) => port,
        other => PortError::Backend(other.to_string()),
    }
}

fn decode<T: DeserializeOwned>(key: &str, value: serde_json::Value) -> PortResult<T> {
    serde_json::from_value(value).map_err(|error| {
        PortError::Backend(format!("value for {key} has the wrong shape: {error}"))
    })
}

fn encode<T: Serialize>(value: &T) -> PortResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|error| PortError::Backend(error.to_string()))
}

impl CacheJobExecutor {
    /// The executor writing to `cache` and reading the database through `tasks`.
    #[must_use]
    pub fn new(cache: Arc<MultiLevelCache>, tasks: Arc<TaskService>) -> Self {
        Self { cache, tasks }
    }

    /// Every live task, newest first, read page by page.
    async fn all_tasks(&self) -> PortResult<Vec<Task>> {
        let mut all = Vec::new();
        for page in 1..=ALL_TASKS_MAX_PAGES {
            let params = TaskListParams {
                page: Some(page.to_string()),
                page_size: Some(ALL_TASKS_PAGE.to_string()),
                ..TaskListParams::default()
            };
            let listing = self
                .tasks
                .list(TaskScope::All, &params)
                .await
                .map_err(storage)?;
            let fetched = listing.tasks.len();
            all.extend(listing.tasks);
            if fetched < ALL_TASKS_PAGE as usize || all.len() as u64 >= listing.total {
                break;
            }
        }
        Ok(all)
    }

    /// The listing page warming recomputes, when `key` is exactly its key.
    async fn default_page(&self, key: &str) -> PortResult<Option<TaskListing>> {
        let params = TaskListParams::default();
        let normalised =
            normalise_list_params(&params).map_err(|e| PortError::Backend(e.to_string()))?;
        if paginated_cache_key(&TaskScope::All, &normalised).as_deref() != Some(key) {
            return Ok(None);
        }
        let listing = self
            .tasks
            .list(TaskScope::All, &params)
            .await
            .map_err(storage)?;
        Ok(Some(listing))
    }
}

#[async_trait]
impl JobExecutor for CacheJobExecutor {
    async fn store(&self, key: &str, data: serde_json::Value, ttl: Duration) -> PortResult<()> {
        let cache = &self.cache;
        if key.starts_with("task:") {
            let task: Task = decode(key, data)?;
            cache.set_json(key, &task, ttl.min(TASK_TTL)).await;
        } else if key.starts_with("user_tasks:") {
            let tasks: Vec<Task> = decode(key, data)?;
            cache.set_json(key, &tasks, ttl.min(USER_TASKS_TTL)).await;
        } else if key == ALL_TASKS_KEY {
            let tasks: Vec<Task> = decode(key, data)?;
            cache.set_json(key, &tasks, ttl.min(ALL_TASKS_TTL)).await;
        } else if let Some(rest) = key
            .strip_prefix(TASKS_PAGINATED_NS)
            .and_then(|rest| rest.strip_prefix(':'))
        {
            let listing: TaskListing = decode(key, data)?;
            let physical = cache.namespaced_key(TASKS_PAGINATED_NS, rest).await;
            cache
                .set_json(&physical, &listing, ttl.min(TASKS_PAGINATED_TTL))
                .await;
        } else {
            cache.set_json(key, &data, ttl).await;
        }
        Ok(())
    }

    async fn evict(&self, key: &str) -> PortResult<()> {
        self.cache
            .delete(key)
            .await
            .map_err(|error| PortError::Backend(error.to_string()))
    }

    async fn exists(&self, key: &str) -> PortResult<bool> {
        Ok(self
            .cache
            .get_json::<serde_json::Value>(key)
            .await
            .is_some())
    }

    async fn recompute(&self, key: &str) -> PortResult<Option<serde_json::Value>> {
        if let Some(id) = key.strip_prefix("task:") {
            let Ok(id) = TaskId::from_str(id) else {
                return Ok(None);
            };
            return match self.tasks.get(id).await {
                Ok(task) => encode(&task).map(Some),
                Err(TaskError::NotFound) => Ok(None),
                Err(error) => Err(storage(error)),
            };
        }
        if let Some(owner) = key.strip_prefix("user_tasks:") {
            let Ok(owner) = UserId::from_str(owner) else {
                return Ok(None);
            };
            let tasks = self.tasks.list_for_user(owner).await.map_err(storage)?;
            return encode(&tasks).map(Some);
        }
        if key == ALL_TASKS_KEY {
            return encode(&self.all_tasks().await?).map(Some);
        }
        if key.starts_with(TASKS_PAGINATED_NS) {
            return match self.default_page(key).await? {
                Some(listing) => encode(&listing).map(Some),
                None => Ok(None),
            };
        }
        Ok(None)
    }
}
