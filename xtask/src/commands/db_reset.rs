//! `cargo xtask db-reset`: drop and recreate the application database, migrate and seed.

use anyhow::{Result, bail};
use clap::Args;

use crate::GlobalOpts;
use crate::db;
use crate::net::is_local_host;
use crate::pg_url::{self, MAINTENANCE_DATABASE, redact};
use crate::provision::postgres::{self, PgOrigin};

#[derive(Debug, Args)]
pub struct DbResetArgs {
    /// Also reset a database on a host other than localhost (from DATABASE_URL).
    #[arg(long)]
    pub force: bool,
}

/// Why resetting `database` on `host` must not happen, if it must not.
pub fn refusal(database: &str, host: &str, force: bool) -> Option<String> {
    if database == MAINTENANCE_DATABASE || database == "template0" || database == "template1" {
        return Some(format!("refusing to drop the system database {database}"));
    }
    if !force && !is_local_host(host) {
        return Some(format!(
            "refusing to drop database {database} on {host}, which is not this machine; \
             pass --force if you really mean it"
        ));
    }
    None
}

pub async fn run(global: &GlobalOpts, args: &DbResetArgs) -> Result<()> {
    let pg = postgres::provision(global).await?;
    let database = pg_url::database_name(&pg.app_url)?;
    let host = pg_url::host(&pg.app_url)?;
    if let Some(reason) = refusal(&database, &host, args.force) {
        bail!(reason);
    }
    if pg.origin == PgOrigin::EnvUrl && args.force && !is_local_host(&host) {
        println!("xtask: --force given: resetting a database on {host}");
    }
    println!(
        "xtask: db-reset: dropping database {database} ({}), disconnecting its sessions",
        redact(&pg.app_url)
    );
    db::drop_database_force(&pg.admin_url, &database).await?;
    super::migrate::prepare(&pg).await?;
    super::seed::seed(&pg).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_databases_are_reset_without_force() {
        assert_eq!(refusal("task_manager", "127.0.0.1", false), None);
        assert_eq!(refusal("task_manager", "localhost", false), None);
    }

    #[test]
    fn remote_databases_need_force() {
        let reason = refusal("task_manager", "db.prod.example.com", false).expect("refused");
        assert!(reason.contains("--force"), "{reason}");
        assert_eq!(refusal("task_manager", "db.prod.example.com", true), None);
    }

    #[test]
    fn system_databases_are_never_dropped() {
        for name in ["postgres", "template0", "template1"] {
            assert!(refusal(name, "127.0.0.1", true).is_some(), "{name}");
        }
    }
}
