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
    testkit::snapshot::assert_file_matches(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/schema.rs"),
        &generated,
        "UPDATE_SCHEMA",
        "UPDATE_SCHEMA=1 cargo test -p adapters-postgres --test schema",
    );
}
