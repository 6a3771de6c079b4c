//! The OpenAPI 3.1 description of the HTTP API, generated with utoipa.
//!
//! Why it lives apart from the handlers: the routes in `routes` and `ops` stay plain
//! actix-web code that can change without touching documentation attributes, and the
//! description is written against the contract (`API-CONTRACT.md`) rather than inferred
//! from handler signatures, which read raw bytes and would document nothing useful. Each
//! operation is therefore a documentation-only function carrying `#[utoipa::path]`, and each
//! body a documentation-only `ToSchema` struct, one file per area.
//!
//! Two tests keep it honest: `tests/openapi.rs` compares [`openapi_json`] with the committed
//! `docs/openapi.json` (so an accidental contract change fails CI), and the server's
//! `tests/openapi_routes.rs` sends every documented (method, path) to the real server and
//! checks none gets the unknown-route answer (so the document invents no route).

mod auth;
mod authz;
mod cache;
mod common;
mod ops;
mod tasks;
mod users;

use common::Pipeline;
use utoipa::OpenApi as _;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Task API",
        description = "REST API for tasks, users and access control. The normative description \
            is the service contract (`API-CONTRACT.md`); this document is generated from the \
            `http-api` crate and snapshot-tested.\n\n\
            Every response carries the security headers of contract 3.2 and an `X-Request-ID`. \
            Requests with a disallowed `Origin` are answered 403 with an empty body before \
            routing (3.3). An unknown route answers 404 \
            `{\"error\": \"not_found\", \"message\": \"Route not found\"}` (1.5). Bodies are \
            parsed as JSON whatever the `Content-Type`; unknown fields are ignored unless an \
            operation says otherwise. A NUL character (`\\u0000`) in any string of a body is \
            the operation's 400, and a URI containing `%00` is answered 400 \
            `{\"error\": \"invalid_request\"}` before routing."
    ),
    paths(
        ops::health,
        ops::ready,
        ops::live,
        ops::metrics,
        auth::register,
        auth::login,
        auth::refresh,
        auth::logout,
        tasks::create_task,
        tasks::list_tasks,
        tasks::get_task,
        tasks::update_task,
        tasks::delete_task,
        tasks::list_user_tasks,
        users::get_own_profile,
        users::update_own_profile,
        users::get_profile,
        users::list_users,
        users::update_profile,
        users::delete_user,
        authz::list_roles,
        authz::create_role,
        authz::grant_permission,
        authz::assign_role,
        authz::revoke_role,
        authz::set_user_attribute,
        authz::explain_decision,
        authz::list_audit_logs,
        cache::cache_stats,
        cache::cache_health,
        cache::cache_warm,
        cache::cache_clear,
        cache::enqueue_warmup,
        cache::enqueue_batch,
        cache::enqueue_scheduled,
        cache::cache_evict,
        cache::list_dead_letters,
        cache::requeue_dead_letters,
    ),
    components(schemas(common::ErrorBody)),
    tags(
        (name = "ops", description = "Operational endpoints (contract 10): public, not rate limited"),
        (name = "auth", description = "Registration, login and tokens (contract 4 and 6)"),
        (name = "tasks", description = "Tasks (contract 7)"),
        (name = "users", description = "Users and profiles (contract 8)"),
        (name = "authz", description = "Roles, permissions, attributes, decisions and the audit log (contract 11)"),
        (name = "cache", description = "Cache administration and warming jobs, admins only (contract 9 and 14)"),
    ),
    modifiers(&Pipeline)
)]
struct ApiDoc;

/// The OpenAPI document of every route the server registers.
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// [`openapi`] as pretty JSON with a trailing newline: the content of `docs/openapi.json`.
///
/// # Errors
/// Only if serialisation fails, which the document's plain data never makes it do.
pub fn openapi_json() -> serde_json::Result<String> {
    openapi().to_pretty_json().map(|mut json| {
        json.push('\n');
        json
    })
}
