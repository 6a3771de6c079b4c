//! `docs/openapi.json` is generated from `http_api::openapi`; this test keeps it that way, and
//! checks that every route registered in the sources is documented.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn openapi_json_matches_the_code() {
    let generated = http_api::openapi::openapi_json().expect("the document serialises");
    testkit::snapshot::assert_file_matches(
        &workspace_root().join("docs/openapi.json"),
        &generated,
        "UPDATE_OPENAPI",
        "UPDATE_OPENAPI=1 cargo test -p http-api --test openapi",
    );
}

/// (METHOD, path) of every operation in the document.
fn documented() -> BTreeSet<(String, String)> {
    let document = serde_json::to_value(http_api::openapi::openapi()).unwrap();
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
            if item.get(method).is_some() {
                operations.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    operations
}

/// (METHOD, path) of every `.route("<path>", web::<method>()...)` in the route sources,
/// with the prefix of a `web::scope("<prefix>")` in the same file.
fn registered() -> BTreeSet<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("ops.rs")];
    for entry in std::fs::read_dir(src.join("routes")).unwrap() {
        files.push(entry.unwrap().path());
    }
    let mut routes = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let scope = text
            .split_once("web::scope(\"")
            .map(|(_, rest)| rest.split('"').next().unwrap().to_owned())
            .unwrap_or_default();
        for piece in text.split(".route(").skip(1) {
            let Some(rest) = piece.trim_start().strip_prefix('"') else {
                continue;
            };
            let (path, rest) = rest.split_once('"').unwrap();
            let method = rest
                .split_once("web::")
                .map(|(_, after)| after.split('(').next().unwrap().to_uppercase())
                .unwrap();
            routes.insert((method, format!("{scope}{path}")));
        }
    }
    routes
}

#[test]
fn every_registered_route_is_documented_and_nothing_else() {
    let registered = registered();
    // A sanity floor, so that a parser that finds nothing cannot pass.
    assert!(registered.len() >= 38, "found only {registered:?}");
    let documented = documented();
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let unregistered: Vec<_> = documented.difference(&registered).collect();
    assert!(
        undocumented.is_empty() && unregistered.is_empty(),
        "registered but not documented: {undocumented:?}\ndocumented but not registered: \
         {unregistered:?}\n(describe the route in crates/http-api/src/openapi/, then run \
         UPDATE_OPENAPI=1 cargo test -p http-api --test openapi)"
    );
}

#[test]
fn application_routes_require_a_bearer_token_except_authentication() {
    let document = serde_json::to_value(http_api::openapi::openapi()).unwrap();
    assert!(document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer");
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let security = operation["security"].as_array();
            let requires_bearer = security.is_some_and(|alternatives| {
                !alternatives.is_empty()
                    && alternatives
                        .iter()
                        .all(|requirement| requirement.get("bearerAuth").is_some())
            });
            let public = !path.starts_with("/api/v1/") || path.starts_with("/api/v1/auth/");
            assert_eq!(
                requires_bearer, !public,
                "{method} {path}: security {security:?}"
            );
            if !public {
                assert!(
                    operation["responses"].get("401").is_some(),
                    "{method} {path} lacks its 401"
                );
            }
        }
    }
}
