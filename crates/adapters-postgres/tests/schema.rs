//! `src/schema.rs` is generated from the migrations; this test keeps it that way.
#![allow(clippy::unwrap_used)]

use adapters_postgres::schema_gen::render_schema;
use testkit::TestDatabase;

#[tokio::test]
async fn schema_rs_matches_the_migrations() {
    let database = TestDatabase::new().await;
    let mut connection = database.connect().await;
    let generated = render_schema(&mut connection)
        .await
        .expect("schema renders");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/schema.rs");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).expect("write src/schema.rs");
        return;
    }
    let current = std::fs::read_to_string(&path).expect("read src/schema.rs");
    if current != generated {
        let diff: Vec<String> = diff_lines(&current, &generated);
        panic!(
            "src/schema.rs does not match the migrations ({} differing lines, `-` file, `+` \
             generated):\n{}\nRegenerate it with: UPDATE_SCHEMA=1 cargo test -p \
             adapters-postgres --test schema",
            diff.len(),
            diff.join("\n")
        );
    }
}

/// Lines only in one of the two texts (a readable summary, not a minimal diff).
fn diff_lines(current: &str, generated: &str) -> Vec<String> {
    let current_lines: Vec<&str> = current.lines().collect();
    let generated_lines: Vec<&str> = generated.lines().collect();
    let mut out = Vec::new();
    for line in &current_lines {
        if !generated_lines.contains(line) {
            out.push(format!("- {line}"));
        }
    }
    for line in &generated_lines {
        if !current_lines.contains(line) {
            out.push(format!("+ {line}"));
        }
    }
    if out.is_empty() {
        out.push("(same lines in a different order)".to_owned());
    }
    out
}
