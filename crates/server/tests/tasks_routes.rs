//! Task routes (contract section 7) over real HTTP, PostgreSQL and Redis, for the four kinds
//! of caller: owner, other user, same-department reader, admin.

#![allow(clippy::unwrap_used)]

mod common;

use common::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Session, TestApp, login, register, spawn_app_with, with_admin,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Every caller of these tests is a logged-in session.
type Caller = Session;

struct World {
    app: TestApp,
    admin: Caller,
    owner: Caller,
    colleague: Caller,
    stranger: Caller,
}

/// An admin, a task owner in Engineering, a colleague whose `department` attribute is
/// Engineering, and a stranger in Sales.
async fn world() -> World {
    let app = spawn_app_with(&with_admin(&[]), None).await;
    let admin = login(&app.address, &app.client, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let owner = register(&app, "task_owner", "Engineering").await;
    let colleague = register(&app, "colleague", "Engineering").await;
    let stranger = register(&app, "stranger", "Sales").await;
    // The same-department rule compares the caller's `department` attribute (11.3).
    let set = app
        .client
        .put(app.url(&format!(
            "/api/v1/users/{}/attributes/department",
            colleague.id
        )))
        .bearer_auth(&admin.token)
        .json(&json!({"value": "Engineering"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    World {
        app,
        admin,
        owner,
        colleague,
        stranger,
    }
}

impl World {
    async fn call(
        &self,
        caller: &Caller,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self
            .app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&caller.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn list(&self, caller: &Caller, query: &str) -> Value {
        let path = format!("/api/v1/tasks{query}");
        let response = self.call(caller, Method::GET, &path, None).await;
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.unwrap()
    }

    async fn create(&self, caller: &Caller, body: Value) -> Value {
        let response = self
            .call(caller, Method::POST, "/api/v1/tasks", Some(body))
            .await;
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }
}

#[tokio::test]
async fn creating_a_task_returns_it_with_real_timestamps_and_ignores_extra_fields() {
    let w = world().await;
    let response = w
        .call(
            &w.owner,
            Method::POST,
            "/api/v1/tasks",
            Some(json!({
                "title": "  Write the report  ", "priority": "High", "due_date": "2030-01-02",
                "id": "00000000-0000-0000-0000-000000000099", "user_id": w.stranger.id,
                "created_at": "2001-01-01T00:00:00Z",
            })),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert!(response.headers().get("etag").is_some());
    let task: Value = response.json().await.unwrap();
    assert_eq!(task["title"], "Write the report");
    assert_eq!(task["description"], "");
    assert_eq!(task["status"], "pending");
    assert_eq!(task["priority"], "high");
    assert_eq!(task["due_date"], "2030-01-02T00:00:00Z");
    assert_eq!(task["user_id"], w.owner.id.as_str());
    assert_ne!(task["id"], "00000000-0000-0000-0000-000000000099");
    assert!(!task["created_at"].as_str().unwrap().starts_with("0001"));
    assert!(task["created_at"].as_str().unwrap().ends_with('Z'));
    w.app.stop().await;
}

#[tokio::test]
async fn invalid_task_input_is_a_400_and_writes_nothing() {
    let w = world().await;
    let long_title = "x".repeat(256);
    for body in [
        json!({}),
        json!({"title": "   "}),
        json!({"title": long_title}),
        json!({"title": 42}),
        json!({"title": "ok", "status": "done"}),
        json!({"title": "ok", "priority": "critical"}),
        json!({"title": "ok", "due_date": "next tuesday"}),
        json!({"title": "ok", "description": ["not", "text"]}),
        json!(["not an object"]),
    ] {
        let response = w
            .call(&w.owner, Method::POST, "/api/v1/tasks", Some(body.clone()))
            .await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], "invalid_request", "{body}");
        assert_eq!(error["message"], "Invalid request format");
    }
    let malformed = w
        .app
        .client
        .post(w.app.url("/api/v1/tasks"))
        .bearer_auth(&w.owner.token)
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let listing: Value = w
        .call(&w.owner, Method::GET, "/api/v1/tasks", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listing["total"], 0);
    w.app.stop().await;
}

#[tokio::test]
async fn reading_a_task_follows_owner_admin_department_and_stranger_rules() {
    let w = world().await;
    let task = w.create(&w.owner, json!({"title": "Shared"})).await;
    let path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());
    for caller in [&w.owner, &w.admin, &w.colleague] {
        let response = w.call(caller, Method::GET, &path, None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap()["id"], task["id"]);
    }
    let denied = w.call(&w.stranger, Method::GET, &path, None).await;
    assert_eq!(denied.status(), 403);
    assert_eq!(
        denied.json::<Value>().await.unwrap(),
        json!({"error": "Access denied", "reason": "User can only access own tasks"})
    );
    // The department rule allows reading only.
    let update = w
        .call(
            &w.colleague,
            Method::PUT,
            &path,
            Some(json!({"title": "Mine now"})),
        )
        .await;
    assert_eq!(update.status(), 403);
    let delete = w.call(&w.colleague, Method::DELETE, &path, None).await;
    assert_eq!(delete.status(), 403);
    w.app.stop().await;
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404_before_authorization() {
    let w = world().await;
    for path in [
        "/api/v1/tasks/not-a-uuid",
        "/api/v1/tasks/6f9619ff-8b86-d011-b42d-00cf4fc964ff",
    ] {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let body = (method == Method::PUT).then(|| json!({"title": "x"}));
            let response = w.call(&w.stranger, method.clone(), path, body).await;
            assert_eq!(response.status(), 404, "{method} {path}");
            assert_eq!(
                response.json::<Value>().await.unwrap(),
                json!({"error": "task not found"})
            );
        }
    }
    w.app.stop().await;
}

#[tokio::test]
async fn updates_keep_unset_fields_and_bump_updated_at() {
    let w = world().await;
    let task = w
        .create(
            &w.owner,
            json!({"title": "Draft", "description": "keep me", "due_date": "2030-05-05T10:00:00Z"}),
        )
        .await;
    let path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());
    let response = w
        .call(
            &w.owner,
            Method::PUT,
            &path,
            Some(json!({"status": "in_progress", "description": "", "title": null})),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"message": "task updated successfully"})
    );
    let updated: Value = w
        .call(&w.owner, Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(updated["status"], "in_progress");
    assert_eq!(updated["title"], "Draft");
    assert_eq!(updated["description"], "keep me");
    assert_eq!(updated["due_date"], "2030-05-05T10:00:00Z");
    assert_ne!(updated["updated_at"], task["updated_at"]);

    let cleared = w
        .call(
            &w.admin,
            Method::PUT,
            &path,
            Some(json!({"due_date": null})),
        )
        .await;
    assert_eq!(cleared.status(), 200);
    let after: Value = w
        .call(&w.owner, Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(after["due_date"].is_null());

    for body in [
        json!({"status": "archived"}),
        json!({"title": 7}),
        json!({"title": "y".repeat(256)}),
    ] {
        let response = w
            .call(&w.owner, Method::PUT, &path, Some(body.clone()))
            .await;
        assert_eq!(response.status(), 400, "{body}");
    }
    w.app.stop().await;
}

#[tokio::test]
async fn deleted_tasks_vanish_from_every_route() {
    let w = world().await;
    let task = w.create(&w.owner, json!({"title": "Short-lived"})).await;
    let path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());
    let deleted = w.call(&w.owner, Method::DELETE, &path, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        w.call(&w.owner, Method::GET, &path, None).await.status(),
        404
    );
    assert_eq!(
        w.call(&w.owner, Method::DELETE, &path, None).await.status(),
        404
    );
    let listing: Value = w
        .call(&w.owner, Method::GET, "/api/v1/tasks", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listing, json!({"tasks": [], "total": 0}));
    let own: Value = w
        .call(
            &w.owner,
            Method::GET,
            &format!("/api/v1/users/{}/tasks", w.owner.id),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own, json!([]));
    w.app.stop().await;
}

#[tokio::test]
async fn listings_are_scoped_sorted_filtered_and_paginated() {
    let w = world().await;
    for (title, priority, status) in [
        ("alpha", "low", "pending"),
        ("bravo", "urgent", "completed"),
        ("charlie", "medium", "pending"),
    ] {
        w.create(
            &w.owner,
            json!({"title": title, "priority": priority, "status": status}),
        )
        .await;
    }
    w.create(&w.stranger, json!({"title": "someone else's"}))
        .await;

    let own = w.list(&w.owner, "").await;
    assert_eq!(own["total"], 3);
    let all = w.list(&w.admin, "").await;
    assert_eq!(all["total"], 4);

    let by_priority = w.list(&w.owner, "?sortBy=priority&order=asc").await;
    let titles: Vec<&str> = by_priority["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["alpha", "charlie", "bravo"]);

    let pending = w
        .list(&w.owner, "?status=pending&sortBy=title&order=asc")
        .await;
    assert_eq!(pending["total"], 2);
    assert_eq!(pending["tasks"][0]["title"], "alpha");
    let searched = w.list(&w.owner, "?q=RAV").await;
    assert_eq!(searched["total"], 1);
    let injection = w
        .list(
            &w.owner,
            "?q=%27%3B%20DROP%20TABLE%20tasks%3B--&sortBy=title%3BDROP",
        )
        .await;
    assert_eq!(injection["total"], 0);

    let page = w
        .list(&w.owner, "?pageSize=2&page=2&sortBy=title&order=asc")
        .await;
    assert_eq!(page["total"], 3);
    assert_eq!(page["tasks"].as_array().unwrap().len(), 1);
    let past_end = w.list(&w.owner, "?pageSize=2&page=9").await;
    assert_eq!(past_end["tasks"], json!([]));
    let fallback = w
        .list(
            &w.owner,
            "?page=abc&pageSize=500&order=sideways&sortBy=nope",
        )
        .await;
    assert_eq!(fallback["tasks"].as_array().unwrap().len(), 3);

    let unknown = w
        .call(&w.owner, Method::GET, "/api/v1/tasks?status=archived", None)
        .await;
    assert_eq!(unknown.status(), 400);
    w.app.stop().await;
}

#[tokio::test]
async fn keyset_pages_follow_next_cursor_without_gaps_or_repeats() {
    let w = world().await;
    for i in 0..5 {
        w.create(&w.owner, json!({"title": format!("task {i}")}))
            .await;
    }
    let mut seen = Vec::new();
    let mut query = "?pageSize=2&cursor=".to_owned();
    let first: Value = w
        .call(&w.owner, Method::GET, "/api/v1/tasks?pageSize=2", None)
        .await
        .json()
        .await
        .unwrap();
    let mut page = first;
    loop {
        for task in page["tasks"].as_array().unwrap() {
            seen.push(task["id"].as_str().unwrap().to_owned());
        }
        // A task inserted while paging must not disturb the pages that follow.
        w.create(&w.owner, json!({"title": "inserted meanwhile"}))
            .await;
        let Some(cursor) = page["next_cursor"].as_str() else {
            break;
        };
        query.truncate("?pageSize=2&cursor=".len());
        query.push_str(cursor);
        page = w
            .call(
                &w.owner,
                Method::GET,
                &format!("/api/v1/tasks{query}"),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "a task was repeated");
    assert_eq!(
        seen.len(),
        5,
        "the five tasks that existed when paging began"
    );
    let tampered = w
        .call(&w.owner, Method::GET, "/api/v1/tasks?cursor=bm9wZQ", None)
        .await;
    assert_eq!(tampered.status(), 400);
    w.app.stop().await;
}

#[tokio::test]
async fn a_stale_if_match_loses_with_412_and_if_none_match_gives_304() {
    let w = world().await;
    let created = w
        .call(
            &w.owner,
            Method::POST,
            "/api/v1/tasks",
            Some(json!({"title": "Contested"})),
        )
        .await;
    let etag = created.headers()["etag"].to_str().unwrap().to_owned();
    let task: Value = created.json().await.unwrap();
    let path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());
    let put = |tag: String, title: &'static str| {
        w.app
            .client
            .put(w.app.url(&path))
            .bearer_auth(&w.owner.token)
            .header("If-Match", tag)
            .json(&json!({"title": title}))
            .send()
    };
    let first = put(etag.clone(), "first editor").await.unwrap();
    assert_eq!(first.status(), 200);
    let second = put(etag.clone(), "second editor").await.unwrap();
    assert_eq!(second.status(), 412);
    assert_eq!(
        second.json::<Value>().await.unwrap()["error"],
        "precondition_failed"
    );
    let current: Value = w
        .call(&w.owner, Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(current["title"], "first editor");

    let fresh = w.call(&w.owner, Method::GET, &path, None).await;
    let tag = fresh.headers()["etag"].to_str().unwrap().to_owned();
    let cached = w
        .app
        .client
        .get(w.app.url(&path))
        .bearer_auth(&w.owner.token)
        .header("If-None-Match", tag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    let stale_delete = w
        .app
        .client
        .delete(w.app.url(&path))
        .bearer_auth(&w.owner.token)
        .header("If-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(stale_delete.status(), 412);
    w.app.stop().await;
}

#[tokio::test]
async fn a_retried_idempotent_create_returns_the_first_task() {
    let w = world().await;
    let send = |title: &'static str| {
        w.app
            .client
            .post(w.app.url("/api/v1/tasks"))
            .bearer_auth(&w.owner.token)
            .header("Idempotency-Key", "create-report-1")
            .json(&json!({"title": title}))
            .send()
    };
    let first: Value = send("Report").await.unwrap().json().await.unwrap();
    let retry = send("Report").await.unwrap();
    assert_eq!(retry.status(), 201);
    let retried: Value = retry.json().await.unwrap();
    assert_eq!(retried["id"], first["id"]);
    let listing: Value = w
        .call(&w.owner, Method::GET, "/api/v1/tasks", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listing["total"], 1);
    let reused = send("Another body").await.unwrap();
    assert_eq!(reused.status(), 422);
    w.app.stop().await;
}

#[tokio::test]
async fn a_users_tasks_are_listed_for_self_admin_and_department_readers() {
    let w = world().await;
    w.create(&w.owner, json!({"title": "older"})).await;
    w.create(&w.owner, json!({"title": "newer"})).await;
    let path = format!("/api/v1/users/{}/tasks", w.owner.id);
    for caller in [&w.owner, &w.admin, &w.colleague] {
        let response = w.call(caller, Method::GET, &path, None).await;
        assert_eq!(response.status(), 200);
        let tasks: Value = response.json().await.unwrap();
        assert_eq!(tasks[0]["title"], "newer");
        assert_eq!(tasks.as_array().unwrap().len(), 2);
    }
    let denied = w.call(&w.stranger, Method::GET, &path, None).await;
    assert_eq!(denied.status(), 403);
    assert_eq!(
        denied.json::<Value>().await.unwrap(),
        json!({"error": "Access denied", "reason": "User can only access own tasks"})
    );
    let undefined = w
        .call(
            &w.stranger,
            Method::GET,
            "/api/v1/users/undefined/tasks",
            None,
        )
        .await;
    assert_eq!(undefined.status(), 200);
    assert_eq!(undefined.json::<Value>().await.unwrap(), json!([]));
    w.app.stop().await;
}

#[tokio::test]
async fn task_routes_require_a_bearer_token() {
    let w = world().await;
    let response = w.app.get("/api/v1/tasks").await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "missing_token"
    );
    w.app.stop().await;
}

#[tokio::test]
async fn every_sort_key_and_filter_works_over_http() {
    let w = world().await;
    for (title, priority, status, due) in [
        ("a-first", "medium", "pending", Some("2030-03-01")),
        ("b-second", "urgent", "in_progress", None),
        ("c-third", "low", "completed", Some("2030-01-01")),
        (
            "d-fourth",
            "high",
            "cancelled",
            Some("2030-02-01T12:00:00Z"),
        ),
    ] {
        w.create(
            &w.owner,
            json!({"title": title, "priority": priority, "status": status, "due_date": due}),
        )
        .await;
    }
    let titles = |page: &Value| -> Vec<String> {
        page["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap().to_owned())
            .collect()
    };
    // Due dates sort with the undated task last in both directions.
    let asc = w.list(&w.owner, "?sortBy=due_date&order=asc").await;
    assert_eq!(titles(&asc), ["c-third", "d-fourth", "a-first", "b-second"]);
    let desc = w.list(&w.owner, "?sortBy=due_date&order=desc").await;
    assert_eq!(
        titles(&desc),
        ["a-first", "d-fourth", "c-third", "b-second"]
    );
    let by_priority = w.list(&w.owner, "?sortBy=priority&order=desc").await;
    assert_eq!(
        titles(&by_priority),
        ["b-second", "d-fourth", "a-first", "c-third"]
    );
    let by_title = w.list(&w.owner, "?sortBy=title&order=desc").await;
    assert_eq!(
        titles(&by_title),
        ["d-fourth", "c-third", "b-second", "a-first"]
    );
    let created = w.list(&w.owner, "?sortBy=created_at&order=asc").await;
    assert_eq!(
        titles(&created),
        ["a-first", "b-second", "c-third", "d-fourth"]
    );
    let updated = w.list(&w.owner, "?sortBy=updated_at&order=asc").await;
    assert_eq!(
        titles(&updated),
        ["a-first", "b-second", "c-third", "d-fourth"]
    );

    let statuses = w
        .list(&w.owner, "?status=pending,completed&sortBy=title&order=asc")
        .await;
    assert_eq!(titles(&statuses), ["a-first", "c-third"]);
    assert_eq!(statuses["total"], 2);
    let priorities = w
        .list(&w.owner, "?priority=HIGH,Urgent&sortBy=title&order=asc")
        .await;
    assert_eq!(titles(&priorities), ["b-second", "d-fourth"]);
    let before = w
        .list(&w.owner, "?due_before=2030-02-15&sortBy=title&order=asc")
        .await;
    assert_eq!(titles(&before), ["c-third", "d-fourth"]);
    let after = w
        .list(
            &w.owner,
            "?due_after=2030-01-15T00:00:00Z&sortBy=title&order=asc",
        )
        .await;
    assert_eq!(titles(&after), ["a-first", "d-fourth"]);
    let combined = w
        .list(
            &w.owner,
            "?due_after=2029-12-31&priority=low,medium&q=THIRD",
        )
        .await;
    assert_eq!(titles(&combined), ["c-third"]);
    assert_eq!(combined["total"], 1);

    for bad in [
        "?priority=critical",
        "?due_before=someday",
        "?due_after=2030-13-45",
    ] {
        let response = w
            .call(&w.owner, Method::GET, &format!("/api/v1/tasks{bad}"), None)
            .await;
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"],
            "invalid_request"
        );
    }
    let long_q = format!("/api/v1/tasks?q={}", "x".repeat(201));
    assert_eq!(
        w.call(&w.owner, Method::GET, &long_q, None).await.status(),
        400
    );
    w.app.stop().await;
}

#[tokio::test]
async fn every_task_decision_is_audited_with_its_request() {
    let w = world().await;
    let task = w.create(&w.owner, json!({"title": "Audited"})).await;
    let path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());
    let denied = w
        .app
        .client
        .get(w.app.url(&path))
        .bearer_auth(&w.stranger.token)
        .header("X-Request-ID", "stranger-read-1")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let allowed = w
        .app
        .client
        .get(w.app.url(&path))
        .bearer_auth(&w.owner.token)
        .header("X-Request-ID", "owner-read-1")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    let stranger = w.stranger.id.clone();
    let owner = w.owner.id.clone();
    let (database, _redis) = w.app.stop().await;

    let mut connection = database.connect().await;
    let rows = audit_rows(&mut connection, "stranger-read-1").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.user_id, stranger);
    assert_eq!(row.action, "read_task");
    assert_eq!(row.decision, "denied");
    assert_eq!(
        row.reason.as_deref(),
        Some("User can only access own tasks")
    );
    assert_eq!(row.request_method.as_deref(), Some("GET"));
    assert_eq!(row.request_path.as_deref(), Some(path.as_str()));
    assert_eq!(row.resource_id.as_deref(), task["id"].as_str());

    let rows = audit_rows(&mut connection, "owner-read-1").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].user_id, owner);
    assert_eq!(rows[0].decision, "allowed");
    assert_eq!(
        rows[0].reason.as_deref(),
        Some("Access granted by RBAC and ABAC policies")
    );
}

/// Caller, method, path, body, the audit action expected, and the decision expected.
type RouteCase<'a> = (
    &'a Caller,
    Method,
    String,
    Option<Value>,
    &'static str,
    &'static str,
);

#[tokio::test]
async fn every_task_and_user_route_writes_an_audit_row_for_its_decision() {
    let w = world().await;
    let task = w.create(&w.owner, json!({"title": "Traced"})).await;
    let task_path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());
    let owner_tasks = format!("/api/v1/users/{}/tasks", w.owner.id);
    let stranger_profile = format!("/api/v1/users/profile/{}", w.stranger.id);
    let stranger_user = format!("/api/v1/users/{}", w.stranger.id);
    // (caller, method, path, body, expected action, expected decision)
    let cases: Vec<RouteCase<'_>> = vec![
        (
            &w.owner,
            Method::POST,
            "/api/v1/tasks".into(),
            Some(json!({"title": "t"})),
            "create_task",
            "allowed",
        ),
        (
            &w.owner,
            Method::GET,
            "/api/v1/tasks".into(),
            None,
            "read_task",
            "allowed",
        ),
        (
            &w.stranger,
            Method::GET,
            task_path.clone(),
            None,
            "read_task",
            "denied",
        ),
        (
            &w.colleague,
            Method::PUT,
            task_path.clone(),
            Some(json!({"title": "x"})),
            "update_task",
            "denied",
        ),
        (
            &w.owner,
            Method::GET,
            owner_tasks.clone(),
            None,
            "read_task",
            "allowed",
        ),
        (
            &w.stranger,
            Method::GET,
            owner_tasks,
            None,
            "read_task",
            "denied",
        ),
        (
            &w.owner,
            Method::GET,
            "/api/v1/users/profile".into(),
            None,
            "read_profile",
            "allowed",
        ),
        (
            &w.owner,
            Method::GET,
            stranger_profile,
            None,
            "read_profile",
            "denied",
        ),
        (
            &w.owner,
            Method::PUT,
            "/api/v1/users/profile".into(),
            Some(json!({"position": "Lead"})),
            "update_profile",
            "allowed",
        ),
        (
            &w.owner,
            Method::PUT,
            stranger_user.clone(),
            Some(json!({"position": "Intern"})),
            "update_profile",
            "denied",
        ),
        (
            &w.owner,
            Method::GET,
            "/api/v1/users".into(),
            None,
            "read_user",
            "denied",
        ),
        (
            &w.owner,
            Method::DELETE,
            stranger_user,
            None,
            "delete_user",
            "denied",
        ),
        (
            &w.owner,
            Method::DELETE,
            task_path.clone(),
            None,
            "delete_task",
            "allowed",
        ),
    ];
    let mut expected = Vec::new();
    for (index, (caller, method, path, body, action, decision)) in cases.into_iter().enumerate() {
        let request_id = format!("route-audit-{index}");
        let mut request = w
            .app
            .client
            .request(method.clone(), w.app.url(&path))
            .bearer_auth(&caller.token)
            .header("X-Request-ID", &request_id);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        assert!(
            (decision == "allowed") == (status < 300),
            "{method} {path}: {status} for an expected {decision}"
        );
        expected.push((
            request_id,
            caller.id.clone(),
            method,
            path,
            action,
            decision,
        ));
    }
    let (database, _redis) = w.app.stop().await;

    let mut connection = database.connect().await;
    for (request_id, user, method, path, action, decision) in expected {
        let rows = audit_rows(&mut connection, &request_id).await;
        assert!(!rows.is_empty(), "no audit row for {method} {path}");
        let row = rows
            .iter()
            .find(|row| row.action == action)
            .unwrap_or_else(|| panic!("no {action} row for {method} {path}: {rows:?}"));
        assert_eq!(row.user_id, user, "{path}");
        assert_eq!(row.decision, decision, "{method} {path}");
        assert!(row.reason.as_deref().is_some_and(|r| !r.is_empty()));
        assert_eq!(row.request_method.as_deref(), Some(method.as_str()));
        assert_eq!(row.request_path.as_deref(), Some(path.as_str()));
    }
}

/// An audit row as the tests read it back.
#[derive(diesel::QueryableByName, Debug)]
struct AuditRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    user_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    action: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    decision: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    reason: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    request_method: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    request_path: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    resource_id: Option<String>,
}

/// The audit rows written for the request with this `X-Request-ID`.
async fn audit_rows(
    connection: &mut diesel_async::AsyncPgConnection,
    request_id: &str,
) -> Vec<AuditRow> {
    diesel_async::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT user_id::text AS user_id, action, decision, reason, request_method, \
             request_path, resource_id::text AS resource_id FROM audit_logs \
             WHERE request_id = $1",
        )
        .bind::<diesel::sql_types::Text, _>(request_id),
        connection,
    )
    .await
    .unwrap()
}
