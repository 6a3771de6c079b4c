//! PostgreSQL operations xtask needs: probing, creating and dropping databases, migrating.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::pg_url::{self, MAINTENANCE_DATABASE, quote_ident, redact};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens one connection, giving up after a few seconds.
pub async fn connect(url: &str) -> Result<AsyncPgConnection> {
    match tokio::time::timeout(CONNECT_TIMEOUT, AsyncPgConnection::establish(url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(error)) => {
            Err(anyhow!(error)).with_context(|| format!("cannot connect to {}", redact(url)))
        }
        Err(_) => Err(anyhow!("no answer within {CONNECT_TIMEOUT:?}"))
            .with_context(|| format!("cannot connect to {}", redact(url))),
    }
}

/// Polls until a connection to `url` succeeds or `limit` passes.
pub async fn wait_until_accepting(url: &str, limit: Duration) -> Result<()> {
    let started = Instant::now();
    loop {
        match connect(url).await {
            Ok(_) => return Ok(()),
            Err(error) if started.elapsed() >= limit => {
                return Err(error.context(format!(
                    "PostgreSQL did not accept connections within {limit:?}"
                )));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Whether database `name` exists on the server `conn` is connected to.
pub async fn database_exists(conn: &mut AsyncPgConnection, name: &str) -> Result<bool> {
    let query = diesel::sql_query("SELECT datname AS name FROM pg_database WHERE datname = $1")
        .bind::<Text, _>(name);
    let rows: Vec<Name> = query.load(conn).await?;
    Ok(!rows.is_empty())
}

/// Creates the database `url` names if it is missing; returns whether it was created.
pub async fn ensure_database(url: &str) -> Result<bool> {
    let name = pg_url::database_name(url)?;
    let admin_url = pg_url::with_database(url, MAINTENANCE_DATABASE)?;
    let mut admin = match connect(&admin_url).await {
        Ok(conn) => conn,
        // Without access to the maintenance database we can only hope the target exists.
        Err(admin_error) => {
            return connect(url)
                .await
                .map(|_| false)
                .context(format!("{admin_error:#}"));
        }
    };
    if database_exists(&mut admin, &name).await? {
        return Ok(false);
    }
    diesel::sql_query(format!("CREATE DATABASE {}", quote_ident(&name)))
        .execute(&mut admin)
        .await
        .with_context(|| format!("cannot create database {name}"))?;
    Ok(true)
}

/// Drops database `name` (disconnecting its sessions) through the maintenance database.
pub async fn drop_database_force(admin_url: &str, name: &str) -> Result<()> {
    let mut admin = connect(admin_url).await?;
    diesel::sql_query(format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(name)
    ))
    .execute(&mut admin)
    .await
    .with_context(|| format!("cannot drop database {name}"))?;
    Ok(())
}

/// Test databases (`test_*`) nobody is connected to and created more than `min_age` ago.
///
/// Their age comes from the modification time of their `PG_VERSION` file, written when the
/// database is created; where that is not readable (no superuser), none are reported.
pub async fn stale_test_databases(
    conn: &mut AsyncPgConnection,
    min_age: Duration,
) -> Result<Vec<String>> {
    let query = diesel::sql_query(
        "SELECT d.datname AS name FROM pg_database d \
         WHERE d.datname LIKE 'test\\_%' AND NOT d.datistemplate \
           AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid) \
           AND (pg_stat_file('base/' || d.oid || '/PG_VERSION')).modification \
               < now() - make_interval(secs => $1) \
         ORDER BY 1",
    )
    .bind::<diesel::sql_types::Double, _>(min_age.as_secs_f64());
    let rows: Vec<Name> = query.load(conn).await?;
    Ok(rows.into_iter().map(|row| row.name).collect())
}

/// Drops database `name` if nobody uses it (no FORCE: a concurrent run keeps its database).
pub async fn drop_database_if_unused(conn: &mut AsyncPgConnection, name: &str) -> Result<()> {
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {}", quote_ident(name)))
        .execute(conn)
        .await
        .with_context(|| format!("cannot drop database {name}"))?;
    Ok(())
}

/// Applies pending migrations; returns the versions applied.
pub async fn migrate(url: &str) -> Result<Vec<String>> {
    adapters_postgres::migrations::run_pending(url)
        .await
        .map_err(|error| anyhow!("{error}"))
        .with_context(|| format!("migrating {} failed", redact(url)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn admin_url() -> String {
        std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
    }

    #[tokio::test]
    async fn ensure_database_creates_once_and_drop_removes_it() {
        let name = format!("xtask_ensure_{}", uuid::Uuid::new_v4().simple());
        let url = pg_url::with_database(&admin_url(), &name).unwrap();
        assert!(ensure_database(&url).await.unwrap(), "first call creates");
        assert!(
            !ensure_database(&url).await.unwrap(),
            "second call finds it"
        );
        connect(&url).await.unwrap();
        drop_database_force(&admin_url(), &name).await.unwrap();
        let mut admin = connect(&admin_url()).await.unwrap();
        assert!(!database_exists(&mut admin, &name).await.unwrap());
    }

    #[tokio::test]
    async fn only_unused_test_databases_older_than_the_limit_are_stale() {
        let mut admin = connect(&admin_url()).await.unwrap();
        let idle = format!("test_xtask_{}", uuid::Uuid::new_v4().simple());
        let busy = format!("test_xtask_{}", uuid::Uuid::new_v4().simple());
        for name in [&idle, &busy] {
            diesel::sql_query(format!("CREATE DATABASE {}", quote_ident(name)))
                .execute(&mut admin)
                .await
                .unwrap();
        }
        let busy_conn = connect(&pg_url::with_database(&admin_url(), &busy).unwrap())
            .await
            .unwrap();

        let stale = stale_test_databases(&mut admin, Duration::ZERO)
            .await
            .unwrap();
        assert!(stale.contains(&idle), "{stale:?}");
        assert!(!stale.contains(&busy), "a database in use is never stale");
        let recent = stale_test_databases(&mut admin, Duration::from_secs(3600))
            .await
            .unwrap();
        assert!(!recent.contains(&idle), "a fresh database is not stale yet");

        drop_database_if_unused(&mut admin, &idle).await.unwrap();
        assert!(!database_exists(&mut admin, &idle).await.unwrap());
        assert!(
            drop_database_if_unused(&mut admin, &busy).await.is_err(),
            "a database in use is kept"
        );
        drop(busy_conn);
        drop_database_force(&admin_url(), &busy).await.unwrap();
    }
}
