//! `cargo xtask migrate`: provision PostgreSQL, create the database if needed, migrate.

use anyhow::Result;

use crate::GlobalOpts;
use crate::db;
use crate::pg_url::{self, redact};
use crate::provision::postgres::{self, PgServer};

pub async fn run(global: &GlobalOpts) -> Result<()> {
    let pg = postgres::provision(global).await?;
    prepare(&pg).await
}

/// Creates the application database if it is missing and applies pending migrations.
pub async fn prepare(pg: &PgServer) -> Result<()> {
    if db::ensure_database(&pg.app_url).await? {
        println!(
            "xtask: created database {}",
            pg_url::database_name(&pg.app_url)?
        );
    }
    let applied = db::migrate(&pg.app_url).await?;
    if applied.is_empty() {
        println!("xtask: migrations: {} is up to date", redact(&pg.app_url));
    } else {
        println!(
            "xtask: migrations: applied {} to {}: {}",
            applied.len(),
            redact(&pg.app_url),
            applied.join(", ")
        );
    }
    Ok(())
}
