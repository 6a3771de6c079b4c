//! The OpenAPI document (`http_api::openapi`, committed as `docs/openapi.json`) invents no
//! route: every documented (method, path) sent to the real server, without credentials, gets
//! an answer other than the unknown-route answer of contract 1.5.

#![allow(clippy::unwrap_used)]

mod common;

use common::spawn_app;
use serde_json::{Value, json};

/// A plausible value for a path parameter of the document.
fn fill(parameter: &str) -> String {
    match parameter {
        "role" => "user".to_owned(),
        "name" => "department".to_owned(),
        "key" => "openapi:probe".to_owned(),
        // `id`, `user_id`, `role_id`: ids are UUIDs.
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

/// The path template with every `{param}` filled.
fn concrete(template: &str) -> String {
    let mut path = String::new();
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('{') {
        let (parameter, tail) = after.split_once('}').unwrap();
        path.push_str(before);
        path.push_str(&fill(parameter));
        rest = tail;
    }
    path.push_str(rest);
    path
}

/// (method, path template) of every operation in the document.
fn documented_operations() -> Vec<(reqwest::Method, String)> {
    let document = serde_json::to_value(http_api::openapi::openapi()).unwrap();
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                operations.push((method, path.clone()));
            }
        }
    }
    operations
}

/// Sends `method path` with an empty JSON object body; returns the status and the body as
/// JSON (`Null` when it is not JSON).
async fn probe(app: &common::TestApp, method: reqwest::Method, path: &str) -> (u16, Value) {
    let response = app
        .client
        .request(method, app.url(path))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

/// Contract 1.5: an unknown path, or a known path with an unsupported method, answers 404
/// with this body (a 405 is also acceptable for the latter).
fn is_unknown_route_answer(status: u16, body: &Value) -> bool {
    status == 405
        || (status == 404 && *body == json!({"error": "not_found", "message": "Route not found"}))
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let app = spawn_app().await;
    let operations = documented_operations();
    assert!(operations.len() >= 38, "{operations:?}");

    // The check can fail: made-up paths and a documented path with a method it does not
    // document get the unknown-route answer.
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/made-up".to_owned()),
        (
            reqwest::Method::POST,
            format!("/api/v1/tasks/{}/made-up", fill("id")),
        ),
        (reqwest::Method::PATCH, "/api/v1/tasks".to_owned()),
        (reqwest::Method::DELETE, "/health".to_owned()),
    ] {
        let (status, body) = probe(&app, method.clone(), &path).await;
        assert!(
            is_unknown_route_answer(status, &body),
            "{method} {path} should be unknown, got {status} {body}"
        );
    }

    let mut invented = Vec::new();
    for (method, template) in &operations {
        let path = concrete(template);
        let (status, body) = probe(&app, method.clone(), &path).await;
        if is_unknown_route_answer(status, &body) {
            invented.push(format!("{method} {template} ({path}): {status} {body}"));
        }
    }
    assert!(
        invented.is_empty(),
        "documented operations the server does not serve:\n{}",
        invented.join("\n")
    );
    app.stop().await;
}
