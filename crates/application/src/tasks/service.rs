//! [`TaskService`]: the task use cases. Authorization is the caller's business: every
//! method takes an owner or scope the caller has already checked (the HTTP layer asks the
//! authorization service between [`TaskService::get`], which establishes existence, and the
//! write).

use std::sync::Arc;

use domain::{
    NewTask, NewTaskInput, Task, TaskChanges, TaskChangesInput, TaskId, UserId, parse_etag,
};
use ports::{
    Clock, IdempotencyClaim, IdempotencyStore, PortError, StoredResponse, TaskQuery,
    TaskRepository, TaskScope,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use super::cursor::encode_cursor;
use super::error::TaskError;
use super::query::{TaskListParams, normalise_list_params};

/// Longest accepted `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// One page of a listing as the API returns it: `{"tasks": [...], "total": n}` plus
/// `next_cursor` when another page follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskListing {
    /// The tasks of the page, `[]` past the end.
    pub tasks: Vec<Task>,
    /// How many tasks in scope match the filters.
    pub total: u64,
    /// Opaque cursor for the next page (keyset pagination), absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The result of an idempotent create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOutcome {
    /// The task: newly created, or the one the first request with the key created.
    pub task: Task,
    /// True when this is a replay of an earlier request's response.
    pub replayed: bool,
}

/// What an `If-Match` header allows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum IfMatch {
    /// `*`: any current version (the task must exist).
    Any,
    /// One of these versions (`updated_at` instants); empty when no tag was one of ours.
    Versions(Vec<OffsetDateTime>),
}

fn parse_if_match(header: &str) -> IfMatch {
    let tags: Vec<&str> = header
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if tags.contains(&"*") {
        return IfMatch::Any;
    }
    IfMatch::Versions(tags.into_iter().filter_map(parse_etag).collect())
}

/// The task use cases.
#[derive(Clone)]
pub struct TaskService {
    tasks: Arc<dyn TaskRepository>,
    idempotency: Arc<dyn IdempotencyStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TaskService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskService")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl TaskService {
    /// A service over these ports.
    #[must_use]
    pub fn new(
        tasks: Arc<dyn TaskRepository>,
        idempotency: Arc<dyn IdempotencyStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            tasks,
            idempotency,
            clock,
        }
    }

    /// "Now", truncated to the microseconds PostgreSQL keeps, so that the timestamps and
    /// ETags handed out equal what a later read returns.
    fn now(&self) -> OffsetDateTime {
        let now = self.clock.now();
        now - Duration::nanoseconds(i64::from(now.nanosecond() % 1_000))
    }

    /// Creates a task owned by `owner` (7.2).
    ///
    /// # Errors
    /// `Validation` for invalid input (nothing is written); `Storage` on storage failure.
    pub async fn create(&self, owner: UserId, input: NewTaskInput<'_>) -> Result<Task, TaskError> {
        let new = NewTask::validate(input)?;
        self.insert(owner, new).await
    }

    async fn insert(&self, owner: UserId, new: NewTask) -> Result<Task, TaskError> {
        let task = Task::create(TaskId::new_v7(), owner, new, self.now());
        self.tasks.insert(&task).await.map_err(TaskError::Storage)
    }

    /// Creates a task at most once per (`owner`, `key`) within 24 hours: a retry with the
    /// same key and the same body returns the first result (`replayed: true`).
    ///
    /// # Errors
    /// `Validation` for invalid input or an unusable key (1 to 255 visible ASCII
    /// characters); `IdempotencyKeyReused` when the key came with another body;
    /// `IdempotencyInProgress` while the first request is still running; `Storage` on
    /// storage failure.
    pub async fn create_idempotent(
        &self,
        owner: UserId,
        key: &str,
        input: NewTaskInput<'_>,
    ) -> Result<CreateOutcome, TaskError> {
        if key.is_empty()
            || key.len() > MAX_IDEMPOTENCY_KEY_LEN
            || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(TaskError::Validation(format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"
            )));
        }
        let new = NewTask::validate(input)?;
        let fingerprint = fingerprint(&new);
        match self
            .idempotency
            .reserve(owner, key, &fingerprint, self.now())
            .await
            .map_err(TaskError::Storage)?
        {
            IdempotencyClaim::Reserved => {}
            IdempotencyClaim::Completed(response) => {
                let task = serde_json::from_value::<Task>(response.body).map_err(|error| {
                    TaskError::Storage(PortError::Backend(format!(
                        "stored idempotent response is not a task: {error}"
                    )))
                })?;
                return Ok(CreateOutcome {
                    task,
                    replayed: true,
                });
            }
            IdempotencyClaim::InProgress => return Err(TaskError::IdempotencyInProgress),
            IdempotencyClaim::FingerprintMismatch => return Err(TaskError::IdempotencyKeyReused),
        }
        let task = match self.insert(owner, new).await {
            Ok(task) => task,
            Err(error) => {
                if let Err(release) = self.idempotency.release(owner, key).await {
                    tracing::warn!(error = %release, "could not release an idempotency key");
                }
                return Err(error);
            }
        };
        let body = serde_json::to_value(&task).map_err(|error| {
            TaskError::Storage(PortError::Backend(format!(
                "cannot serialise task: {error}"
            )))
        })?;
        if let Err(error) = self
            .idempotency
            .complete(owner, key, &StoredResponse { status: 201, body })
            .await
        {
            // The task exists; only the replay record is missing. A retry within the pending
            // timeout gets 409, a later one creates a second task.
            tracing::warn!(%error, task_id = %task.id, "could not store an idempotent response");
        }
        Ok(CreateOutcome {
            task,
            replayed: false,
        })
    }

    /// The live task with this id (7.4). Call this before authorizing: existence is
    /// checked first.
    ///
    /// # Errors
    /// `NotFound`; `Storage` on storage failure.
    pub async fn get(&self, id: TaskId) -> Result<Task, TaskError> {
        self.tasks
            .find_by_id(id)
            .await
            .map_err(TaskError::Storage)?
            .ok_or(TaskError::NotFound)
    }

    /// Resolves `If-Match` into the version the write must find, or fails.
    async fn expected_version(
        &self,
        id: TaskId,
        if_match: Option<&str>,
    ) -> Result<Option<OffsetDateTime>, TaskError> {
        let Some(header) = if_match else {
            return Ok(None);
        };
        match parse_if_match(header) {
            IfMatch::Any => Ok(None),
            IfMatch::Versions(versions) if versions.len() == 1 => Ok(versions.first().copied()),
            IfMatch::Versions(versions) => {
                // Several tags, or none of ours: compare with the current version here; the
                // conditional write then still guards against a change in between.
                let current = self.get(id).await?;
                if versions.contains(&current.updated_at) {
                    Ok(Some(current.updated_at))
                } else {
                    Err(TaskError::PreconditionFailed)
                }
            }
        }
    }

    /// Updates a task (7.5) and returns it as stored (its new ETag included). With
    /// `if_match` (the `If-Match` header), the update happens only if the task is still at
    /// that version.
    ///
    /// # Errors
    /// `Validation` for invalid input (nothing is written); `NotFound`;
    /// `PreconditionFailed` when `if_match` names another version; `Storage`.
    pub async fn update(
        &self,
        id: TaskId,
        input: TaskChangesInput<'_>,
        if_match: Option<&str>,
    ) -> Result<Task, TaskError> {
        let changes = TaskChanges::validate(input)?;
        let expected = self.expected_version(id, if_match).await?;
        self.tasks
            .update(id, &changes, self.now(), expected)
            .await
            .map_err(|error| match error {
                PortError::NotFound => TaskError::NotFound,
                PortError::Conflict(_) => TaskError::PreconditionFailed,
                other => TaskError::Storage(other),
            })
    }

    /// Soft-deletes a task (7.6), with the same `if_match` rule as [`Self::update`].
    ///
    /// # Errors
    /// `NotFound`; `PreconditionFailed`; `Storage`.
    pub async fn delete(&self, id: TaskId, if_match: Option<&str>) -> Result<(), TaskError> {
        let expected = self.expected_version(id, if_match).await?;
        self.tasks
            .soft_delete(id, self.now(), expected)
            .await
            .map_err(|error| match error {
                PortError::NotFound => TaskError::NotFound,
                PortError::Conflict(_) => TaskError::PreconditionFailed,
                other => TaskError::Storage(other),
            })
    }

    /// One page of `GET /api/v1/tasks` (7.3) for an already-decided `scope` (all for
    /// admins, the caller otherwise).
    ///
    /// # Errors
    /// `Validation` or `InvalidCursor` for bad filters or cursor (see
    /// [`normalise_list_params`]); `Storage`.
    pub async fn list(
        &self,
        scope: TaskScope,
        params: &TaskListParams,
    ) -> Result<TaskListing, TaskError> {
        let normalised = normalise_list_params(params)?;
        self.run_query(&normalised.to_query(scope)).await
    }

    /// Runs an already-normalised listing query (for callers such as a cache decorator
    /// that normalise first to compute the cache key).
    ///
    /// # Errors
    /// `InvalidCursor` when the cursor does not fit the query; `Storage`.
    pub async fn run_query(&self, query: &TaskQuery) -> Result<TaskListing, TaskError> {
        let page = self.tasks.list(query).await.map_err(|error| match error {
            PortError::Conflict(text) => TaskError::InvalidCursor(text),
            other => TaskError::Storage(other),
        })?;
        Ok(TaskListing {
            tasks: page.tasks,
            total: page.total,
            next_cursor: page.next_cursor.as_ref().map(encode_cursor),
        })
    }

    /// Every live task of `owner`, newest first (7.7).
    ///
    /// # Errors
    /// `Storage`.
    pub async fn list_for_user(&self, owner: UserId) -> Result<Vec<Task>, TaskError> {
        self.tasks
            .list_for_owner(owner)
            .await
            .map_err(TaskError::Storage)
    }
}

/// A digest of the validated request, so that a key reused with another body is detected.
pub(crate) fn fingerprint(new: &NewTask) -> String {
    let canonical = serde_json::json!([
        new.title.as_str(),
        new.description,
        new.status.as_str(),
        new.priority.as_str(),
        new.due_date.map(|at| at.unix_timestamp_nanos().to_string()),
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}
