//! Task endpoints (contract section 7), plus the additive headers of `routes::tasks`:
//! `ETag` on task responses, `If-None-Match` (304), `If-Match` (412), `Idempotency-Key` on
//! creation, and keyset pagination through `cursor`/`next_cursor`.
#![allow(dead_code)]

use utoipa::ToSchema;

use super::common::{ErrorBody, MessageBody};

/// Where a task stands (D-9).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum TaskStatus {
    Pending,
    InProgress,
    Completed,
    Cancelled,
}

/// How urgent a task is, as stored and returned: lowercase (D-41).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Medium,
    High,
    Urgent,
}

/// The task object (7.1).
#[derive(ToSchema)]
pub struct Task {
    pub id: uuid::Uuid,
    /// The owner.
    pub user_id: uuid::Uuid,
    pub title: String,
    /// `""` when none.
    pub description: String,
    pub status: TaskStatus,
    pub priority: Priority,
    /// `null` when none.
    #[schema(format = DateTime, required = true)]
    pub due_date: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// Body of `POST /api/v1/tasks` (7.2). Other fields (`id`, `user_id`, `created_at`, ...)
/// are accepted and ignored; the owner is always the caller.
#[derive(ToSchema)]
pub struct NewTask {
    /// Trimmed, 1 to 255 characters.
    #[schema(min_length = 1, max_length = 255)]
    pub title: String,
    /// Default `""`.
    #[schema(required = false)]
    pub description: Option<String>,
    /// Default `pending`.
    #[schema(required = false)]
    pub status: Option<TaskStatus>,
    /// `low`, `medium`, `high` or `urgent`, matched without regard to case; default
    /// `medium` (D-41).
    #[schema(required = false, example = "High")]
    pub priority: Option<String>,
    /// RFC 3339 timestamp or `YYYY-MM-DD` (midnight UTC); default `null` (D-41).
    #[schema(required = false, example = "2026-12-31")]
    pub due_date: Option<String>,
}

/// Body of `PUT /api/v1/tasks/{id}` (7.5); `{}` is valid. A string field that is absent,
/// `null` or `""` leaves the stored value unchanged; for `due_date`, absent leaves it,
/// `null` clears it.
#[derive(ToSchema)]
pub struct TaskChanges {
    /// Trimmed, 1 to 255 characters when non-empty.
    #[schema(required = false, max_length = 255)]
    pub title: Option<String>,
    #[schema(required = false)]
    pub description: Option<String>,
    #[schema(required = false)]
    pub status: Option<TaskStatus>,
    /// `low`, `medium`, `high` or `urgent`, any case.
    #[schema(required = false)]
    pub priority: Option<String>,
    /// RFC 3339 timestamp or `YYYY-MM-DD`; `null` clears it.
    #[schema(required = false)]
    pub due_date: Option<String>,
}

/// Answer of `GET /api/v1/tasks` (7.3): an object, not an array.
#[derive(ToSchema)]
pub struct TaskListing {
    /// The page, `[]` past the last page.
    pub tasks: Vec<Task>,
    /// How many tasks in scope match the filters.
    pub total: u64,
    /// Opaque cursor of the next page (keyset pagination); absent on the last page.
    #[schema(required = false)]
    pub next_cursor: String,
}

/// Column of `sortBy`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum TaskSortColumn {
    CreatedAt,
    UpdatedAt,
    Title,
    DueDate,
    Priority,
}

/// Direction of `order`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum SortOrder {
    Asc,
    Desc,
}

/// Creates a task owned by the caller (`task:create`).
#[utoipa::path(
    post,
    path = "/api/v1/tasks",
    tag = "tasks",
    operation_id = "createTask",
    security(("bearerAuth" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes creation idempotent: a retry with the same key and body answers the task the first request created"),
    ),
    request_body = NewTask,
    responses(
        (status = 201, description = "Created", body = Task, headers(("ETag" = String, description = "Entity tag of the task"))),
        (status = 400, description = "`invalid_request`: body not JSON, wrong types, bad title, status, priority or due date", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied` with `reason` `User lacks required RBAC permission`", body = ErrorBody),
        (status = 409, description = "`idempotency_in_progress`: a request with this `Idempotency-Key` is still being processed", body = ErrorBody),
        (status = 422, description = "`idempotency_key_reused`: the key was used for a different request", body = ErrorBody),
        (status = 500, description = "`failed to create task`", body = ErrorBody),
    )
)]
pub fn create_task() {}

/// Lists the tasks in scope: all for admins, the caller's own otherwise (D-6).
///
/// Ordering is by the chosen column and direction, then `id` ascending. `priority` sorts
/// `low` < `medium` < `high` < `urgent`; `due_date` sorts nulls last.
#[utoipa::path(
    get,
    path = "/api/v1/tasks",
    tag = "tasks",
    operation_id = "listTasks",
    security(("bearerAuth" = [])),
    params(
        ("sortBy" = Option<TaskSortColumn>, Query, description = "Sort column, default `created_at`; any other value is silently replaced by `created_at`"),
        ("order" = Option<SortOrder>, Query, description = "Direction, default `desc`; any other value is silently replaced by `desc`"),
        ("page" = Option<u32>, Query, minimum = 1, description = "1-based page, default 1; non-numeric or below 1 becomes 1"),
        ("pageSize" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size 1 to 100, default 10; anything else becomes 10"),
        ("status" = Option<String>, Query, description = "Filter: one status or several separated by commas; an unknown value is a 400", example = "pending,in_progress"),
        ("priority" = Option<String>, Query, description = "Filter: one priority or several separated by commas, any case; an unknown value is a 400", example = "high,urgent"),
        ("due_before" = Option<String>, Query, description = "Filter: due strictly before this RFC 3339 timestamp or `YYYY-MM-DD`; tasks without a due date never match"),
        ("due_after" = Option<String>, Query, description = "Filter: due strictly after this RFC 3339 timestamp or `YYYY-MM-DD`; tasks without a due date never match"),
        ("q" = Option<String>, Query, max_length = 200, description = "Filter: case-insensitive substring of title or description"),
        ("cursor" = Option<String>, Query, description = "Keyset pagination: the `next_cursor` of the previous page, used instead of `page`"),
    ),
    responses(
        (status = 200, description = "A page of tasks", body = TaskListing),
        (status = 400, description = "`invalid_request`: unknown status or priority filter, unparsable date, `q` over 200 characters, or a cursor that does not decode", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied` with `reason` `User lacks required RBAC permission`", body = ErrorBody),
        (status = 500, description = "`failed to process task request`", body = ErrorBody),
    )
)]
pub fn list_tasks() {}

/// Reads one task (`task:read` + ABAC: owner, admin, or same-department reader).
///
/// Existence is checked before authorization.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}",
    tag = "tasks",
    operation_id = "getTask",
    security(("bearerAuth" = [])),
    params(
        ("id" = String, Path, description = "Task id (a UUID; anything else is a 404)"),
        ("If-None-Match" = Option<String>, Header, description = "Entity tags (comma-separated) or `*`; a match answers 304"),
    ),
    responses(
        (status = 200, description = "The task", body = Task, headers(("ETag" = String, description = "Entity tag of the task"))),
        (status = 304, description = "Not modified: the task still has a tag given in `If-None-Match`", headers(("ETag" = String, description = "Entity tag of the task"))),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied` with the decision's `reason`", body = ErrorBody),
        (status = 404, description = "`task not found`: id not a UUID, or no such task", body = ErrorBody),
        (status = 500, description = "`failed to process task request`", body = ErrorBody),
    )
)]
pub fn get_task() {}

/// Updates a task (`task:update` + ABAC: owner or admin); `updated_at` always moves.
#[utoipa::path(
    put,
    path = "/api/v1/tasks/{id}",
    tag = "tasks",
    operation_id = "updateTask",
    security(("bearerAuth" = [])),
    params(
        ("id" = String, Path, description = "Task id (a UUID; anything else is a 404)"),
        ("If-Match" = Option<String>, Header, description = "Entity tag the task must still have; otherwise 412"),
    ),
    request_body = TaskChanges,
    responses(
        (status = 200, description = "`task updated successfully`", body = MessageBody, headers(("ETag" = String, description = "Entity tag of the updated task"))),
        (status = 400, description = "`invalid_request`: body missing or not a JSON object, wrong types, invalid title, status, priority or due date", body = ErrorBody),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied` with the decision's `reason`", body = ErrorBody),
        (status = 404, description = "`task not found` (D-7)", body = ErrorBody),
        (status = 412, description = "`precondition_failed`: the task changed since the `If-Match` tag", body = ErrorBody),
        (status = 500, description = "`failed to process task request`", body = ErrorBody),
    )
)]
pub fn update_task() {}

/// Soft-deletes a task (`task:delete` + ABAC: owner or admin).
#[utoipa::path(
    delete,
    path = "/api/v1/tasks/{id}",
    tag = "tasks",
    operation_id = "deleteTask",
    security(("bearerAuth" = [])),
    params(
        ("id" = String, Path, description = "Task id (a UUID; anything else is a 404)"),
        ("If-Match" = Option<String>, Header, description = "Entity tag the task must still have; otherwise 412"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied` with the decision's `reason`", body = ErrorBody),
        (status = 404, description = "`task not found` (D-7)", body = ErrorBody),
        (status = 412, description = "`precondition_failed`: the task changed since the `If-Match` tag", body = ErrorBody),
        (status = 500, description = "`failed to process task request`", body = ErrorBody),
    )
)]
pub fn delete_task() {}

/// The tasks owned by a user, newest first, unpaginated (7.7).
#[utoipa::path(
    get,
    path = "/api/v1/users/{user_id}/tasks",
    tag = "tasks",
    operation_id = "listUserTasks",
    security(("bearerAuth" = [])),
    params(
        ("user_id" = String, Path, description = "Owner id; a value that is not a UUID answers `[]`"),
    ),
    responses(
        (status = 200, description = "The user's tasks, `[]` when none", body = Vec<Task>),
        (status = 401, description = "Bearer authentication failed (contract 5): `missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer`, `invalid_claims`", body = ErrorBody),
        (status = 403, description = "`Access denied` with `reason` `User can only access own tasks` (D-6)", body = ErrorBody),
        (status = 500, description = "`failed to process task request`", body = ErrorBody),
    )
)]
pub fn list_user_tasks() {}
