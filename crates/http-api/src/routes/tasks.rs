//! Task routes (contract section 7): create, read, update, soft-delete, list, and a user's
//! tasks. Beyond the contract, additive for clients: `ETag` on task responses with
//! `If-Match` (412 when the task changed meanwhile) and `If-None-Match` (304), keyset
//! pagination through `cursor`/`next_cursor`, and `Idempotency-Key` on creation.
//!
//! Order of checks on `/tasks/{id}`: id syntax and existence (404) before authorization
//! (403), as 7.4 says.

use std::sync::Arc;

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use application::{
    CachedTaskService, TaskError, TaskListParams,
    authorization::{AccessRequest, AccessTarget, AuthorizationError, AuthorizationService},
};
use domain::{DueDateInput, NewTaskInput, Task, TaskChangesInput, TaskId, UserId};
use ports::TaskScope;
use serde_json::{Map, Value, json};

use crate::{
    ApiState,
    auth::AuthenticatedUser,
    context::request_context,
    errors::{ApiError, ErrorBody},
};

/// Registers the routes of section 7.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/tasks", web::post().to(create))
        .route("/api/v1/tasks", web::get().to(list))
        .route("/api/v1/tasks/{id}", web::get().to(get))
        .route("/api/v1/tasks/{id}", web::put().to(update))
        .route("/api/v1/tasks/{id}", web::delete().to(delete))
        .route("/api/v1/users/{user_id}/tasks", web::get().to(user_tasks));
}

struct TaskRoutes<'a> {
    /// The cached use cases when a cache is wired, else a pass-through over `state.tasks`.
    tasks: CachedTaskService,
    authorization: &'a AuthorizationService,
}

fn services(state: &ApiState) -> Result<TaskRoutes<'_>, ApiError> {
    let tasks = match (&state.cache, &state.tasks) {
        (Some((cached, _)), _) => CachedTaskService::clone(cached),
        (None, Some(tasks)) => CachedTaskService::uncached(tasks.clone()),
        (None, None) => return Err(ApiError::unavailable()),
    };
    match state.authorization.as_deref() {
        Some(authorization) => Ok(TaskRoutes {
            tasks,
            authorization,
        }),
        None => Err(ApiError::unavailable()),
    }
}

const PROCESSING_FAILED: &str = "failed to process task request";
const CREATE_FAILED: &str = "failed to create task";

fn task_not_found() -> ApiError {
    ErrorBody::new("task not found").into_error(StatusCode::NOT_FOUND)
}

fn invalid_request(details: impl Into<String>) -> ApiError {
    ErrorBody::new("invalid_request")
        .message("Invalid request format")
        .details(details)
        .into_error(StatusCode::BAD_REQUEST)
}

/// The one mapping of task use-case errors to responses; `storage_error` is the route's
/// 500 body (creation and the other routes differ).
fn task_error(error: &TaskError, storage_error: &str) -> ApiError {
    match error {
        TaskError::Validation(details) | TaskError::InvalidCursor(details) => {
            invalid_request(details.clone())
        }
        TaskError::NotFound => task_not_found(),
        TaskError::PreconditionFailed => ErrorBody::new("precondition_failed")
            .message("The task was changed since the version given in If-Match")
            .into_error(StatusCode::PRECONDITION_FAILED),
        TaskError::IdempotencyKeyReused => ErrorBody::new("idempotency_key_reused")
            .message("The Idempotency-Key was already used for a different request")
            .into_error(StatusCode::UNPROCESSABLE_ENTITY),
        TaskError::IdempotencyInProgress => ErrorBody::new("idempotency_in_progress")
            .message("A request with this Idempotency-Key is still being processed")
            .into_error(StatusCode::CONFLICT),
        TaskError::Storage(_) if error.is_unavailable() => ApiError::unavailable(),
        TaskError::Storage(port) => {
            tracing::error!(error = %port, "task storage failure");
            let mut body = ErrorBody::new(storage_error);
            if storage_error == CREATE_FAILED {
                body = body.details("the task could not be stored");
            }
            body.into_error(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// Asks the authorization service; a denial is the contract's 403 with the reason.
async fn authorize(
    authorization: &AuthorizationService,
    req: &HttpRequest,
    caller: &AuthenticatedUser,
    action: &str,
    target: AccessTarget,
) -> Result<(), ApiError> {
    let request = AccessRequest::new(caller.user_id, "task", action).on(target);
    match authorization
        .authorize(request, &request_context(req))
        .await
    {
        Ok(decision) if decision.is_allowed() => Ok(()),
        Ok(decision) => Err(ErrorBody::new("Access denied")
            .reason(decision.reason.as_str())
            .into_error(StatusCode::FORBIDDEN)),
        Err(error) => Err(authorization_failure(&error)),
    }
}

fn authorization_failure(error: &AuthorizationError) -> ApiError {
    if let AuthorizationError::Storage(port) = error
        && port.is_unavailable()
    {
        return ApiError::unavailable();
    }
    tracing::error!(%error, "authorization failed on a task route");
    ErrorBody::new(PROCESSING_FAILED).into_error(StatusCode::INTERNAL_SERVER_ERROR)
}

fn with_etag(mut response: HttpResponse, task: &Task) -> HttpResponse {
    if let Ok(value) = header::HeaderValue::from_str(&task.etag()) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

fn header_text<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// The body as a JSON object; anything else is the 400 of the route.
fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    crate::body::json_object(body).map_err(|error| invalid_request(error.to_string()))
}

/// A string field that may be absent or null; any other type is a 400.
fn optional_string<'m>(
    map: &'m Map<String, Value>,
    field: &str,
) -> Result<Option<&'m str>, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(invalid_request(format!("field '{field}' must be a string"))),
    }
}

fn new_task_input(map: &Map<String, Value>) -> Result<NewTaskInput<'_>, ApiError> {
    let Some(title) = optional_string(map, "title")? else {
        return Err(invalid_request("field 'title' is required"));
    };
    Ok(NewTaskInput {
        title,
        description: optional_string(map, "description")?,
        status: optional_string(map, "status")?,
        priority: optional_string(map, "priority")?,
        due_date: optional_string(map, "due_date")?,
    })
}

fn task_changes_input(map: &Map<String, Value>) -> Result<TaskChangesInput<'_>, ApiError> {
    let due_date = match map.get("due_date") {
        None => DueDateInput::Absent,
        Some(Value::Null) => DueDateInput::Null,
        Some(Value::String(text)) => DueDateInput::Value(text),
        Some(_) => return Err(invalid_request("field 'due_date' must be a string or null")),
    };
    // Absent, null or "" leave a string field unchanged (7.5).
    let field =
        |name| optional_string(map, name).map(|value| value.filter(|text| !text.is_empty()));
    Ok(TaskChangesInput {
        title: field("title")?,
        description: field("description")?,
        status: field("status")?,
        priority: field("priority")?,
        due_date,
    })
}

fn parse_task_id(text: &str) -> Result<TaskId, ApiError> {
    text.parse().map_err(|_| task_not_found())
}

async fn create(
    req: HttpRequest,
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let routes = services(&state)?;
    let map = json_object(&body)?;
    let input = new_task_input(&map)?;
    authorize(
        routes.authorization,
        &req,
        &caller,
        "create",
        AccessTarget::None,
    )
    .await?;
    let created = match header_text(&req, "Idempotency-Key") {
        Some(key) => routes
            .tasks
            .create_idempotent(caller.user_id, key, input)
            .await
            .map(|outcome| outcome.task),
        None => routes.tasks.create(caller.user_id, input).await,
    };
    let task = created.map_err(|error| task_error(&error, CREATE_FAILED))?;
    Ok(with_etag(HttpResponse::Created().json(&task), &task))
}

async fn list(
    req: HttpRequest,
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    let routes = services(&state)?;
    // Unparsable query strings fall back to the defaults, as every listing parameter does.
    let params = web::Query::<TaskListParams>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    authorize(
        routes.authorization,
        &req,
        &caller,
        "read",
        AccessTarget::None,
    )
    .await?;
    let subject = routes
        .authorization
        .subject(caller.user_id)
        .await
        .map_err(|error| authorization_failure(&error))?;
    let scope = if subject.is_admin() {
        TaskScope::All
    } else {
        TaskScope::Owner(caller.user_id)
    };
    let listing = routes
        .tasks
        .list(scope, &params)
        .await
        .map_err(|error| task_error(&error, PROCESSING_FAILED))?;
    Ok(HttpResponse::Ok().json(listing))
}

/// The task as an authorization target: its owner is already known from the read that
/// checked its existence, so the decision needs no second lookup.
fn owned(task: &Task) -> AccessTarget {
    AccessTarget::OwnedTask {
        id: task.id,
        owner: task.owner,
    }
}

/// The live task, or the 404 (existence is checked before authorization, 7.4).
async fn existing(tasks: &CachedTaskService, id: TaskId) -> Result<Arc<Task>, ApiError> {
    tasks
        .get(id)
        .await
        .map_err(|error| task_error(&error, PROCESSING_FAILED))
}

async fn get(
    req: HttpRequest,
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let routes = services(&state)?;
    let id = parse_task_id(&path)?;
    let task = existing(&routes.tasks, id).await?;
    authorize(routes.authorization, &req, &caller, "read", owned(&task)).await?;
    let etag = task.etag();
    let not_modified = header_text(&req, "If-None-Match").is_some_and(|tags| {
        tags.split(',')
            .map(str::trim)
            .any(|tag| tag == etag || tag == "*")
    });
    if not_modified {
        return Ok(with_etag(HttpResponse::NotModified().finish(), &task));
    }
    Ok(with_etag(HttpResponse::Ok().json(task.as_ref()), &task))
}

async fn update(
    req: HttpRequest,
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let routes = services(&state)?;
    let id = parse_task_id(&path)?;
    let map = json_object(&body)?;
    let input = task_changes_input(&map)?;
    let current = existing(&routes.tasks, id).await?;
    authorize(
        routes.authorization,
        &req,
        &caller,
        "update",
        owned(&current),
    )
    .await?;
    let task = routes
        .tasks
        .update(id, input, header_text(&req, "If-Match"))
        .await
        .map_err(|error| task_error(&error, PROCESSING_FAILED))?;
    Ok(with_etag(
        HttpResponse::Ok().json(json!({"message": "task updated successfully"})),
        &task,
    ))
}

async fn delete(
    req: HttpRequest,
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let routes = services(&state)?;
    let id = parse_task_id(&path)?;
    let current = existing(&routes.tasks, id).await?;
    authorize(
        routes.authorization,
        &req,
        &caller,
        "delete",
        owned(&current),
    )
    .await?;
    routes
        .tasks
        .delete(id, header_text(&req, "If-Match"))
        .await
        .map_err(|error| task_error(&error, PROCESSING_FAILED))?;
    Ok(HttpResponse::NoContent().finish())
}

async fn user_tasks(
    req: HttpRequest,
    state: web::Data<ApiState>,
    caller: AuthenticatedUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let routes = services(&state)?;
    // The web client calls this with an undefined id before its login data loads (7.7).
    let Ok(owner) = path.parse::<UserId>() else {
        return Ok(HttpResponse::Ok().json(Vec::<Task>::new()));
    };
    let target = AccessTarget::UserTasks(owner);
    authorize(routes.authorization, &req, &caller, "read", target).await?;
    let tasks = routes
        .tasks
        .list_for_user(owner)
        .await
        .map_err(|error| task_error(&error, PROCESSING_FAILED))?;
    Ok(HttpResponse::Ok().json(tasks))
}
