//! The embedded migrations and how they are run: under a PostgreSQL advisory lock (so N
//! instances starting together apply each migration once), skipping the lock when nothing is
//! pending, and adopting a database built by the legacy migration tool (`schema_migrations`
//! at version 12, clean) by recording the baseline instead of re-running it.

use diesel::migration::{Migration, MigrationConnection, MigrationSource};
use diesel::pg::Pg;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// Every migration of `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Version of the first migration: the legacy schema and its seed data.
pub const BASELINE_VERSION: &str = "00000000000000";

/// Oldest legacy `schema_migrations.version` whose schema equals the baseline.
pub const LEGACY_REQUIRED_VERSION: i64 = 12;

/// Key of the session advisory lock held while migrating ("taskapi" in ASCII).
pub const MIGRATION_LOCK_KEY: i64 = 0x0074_6173_6b61_7069;

type SyncPg = AsyncConnectionWrapper<AsyncPgConnection>;

/// Why migrating failed, worded for the operator who has to fix it.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// PostgreSQL could not be reached or refused the login.
    #[error("cannot connect to PostgreSQL to run migrations: {0}")]
    Connect(String),
    /// The legacy tool's bookkeeping says its migrations did not finish.
    #[error(
        "refusing to adopt this database: legacy table schema_migrations is at version \
         {version} with dirty = {dirty}, but only a clean version {LEGACY_REQUIRED_VERSION} or \
         later can be adopted; finish or repair the legacy migrations first"
    )]
    LegacyNotAdoptable {
        /// The legacy version found.
        version: i64,
        /// The legacy dirty flag found.
        dirty: bool,
    },
    /// A legacy `schema_migrations` table exists but holds no row.
    #[error(
        "refusing to adopt this database: legacy table schema_migrations exists but is empty, \
         so its schema state is unknown"
    )]
    LegacyEmpty,
    /// A migration (or the bookkeeping around it) failed; the database error is included.
    #[error("migration failed: {0}")]
    Failed(String),
    /// The blocking task running the migrations panicked or was cancelled.
    #[error("migration task did not complete: {0}")]
    Task(String),
}

impl From<diesel::result::Error> for MigrationError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Failed(error.to_string())
    }
}

/// Applies every pending migration; returns the versions applied (empty when none were).
///
/// # Errors
/// See [`MigrationError`]; a failed migration is rolled back (each runs in a transaction).
pub async fn run_pending(database_url: &str) -> Result<Vec<String>, MigrationError> {
    on_blocking_connection(database_url, |connection| {
        if pending_versions(connection)?.is_empty() {
            return Ok(Vec::new());
        }
        with_lock(connection, |connection| {
            adopt_legacy(connection)?;
            let applied = connection
                .run_pending_migrations(MIGRATIONS)
                .map_err(|error| MigrationError::Failed(error.to_string()))?;
            Ok(applied.iter().map(ToString::to_string).collect())
        })
    })
    .await
}

/// Reverts every applied migration, newest first; returns the versions reverted.
///
/// # Errors
/// See [`MigrationError`].
pub async fn revert_all(database_url: &str) -> Result<Vec<String>, MigrationError> {
    on_blocking_connection(database_url, |connection| {
        with_lock(connection, |connection| {
            let reverted = connection
                .revert_all_migrations(MIGRATIONS)
                .map_err(|error| MigrationError::Failed(error.to_string()))?;
            Ok(reverted.iter().map(ToString::to_string).collect())
        })
    })
    .await
}

/// The versions [`run_pending`] would apply now, oldest first. Changes nothing.
///
/// # Errors
/// See [`MigrationError`] (a legacy database that cannot be adopted is an error here too).
pub async fn pending(database_url: &str) -> Result<Vec<String>, MigrationError> {
    on_blocking_connection(database_url, pending_versions).await
}

async fn on_blocking_connection<T, F>(database_url: &str, work: F) -> Result<T, MigrationError>
where
    T: Send + 'static,
    F: FnOnce(&mut SyncPg) -> Result<T, MigrationError> + Send + 'static,
{
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut connection =
            SyncPg::establish(&url).map_err(|error| MigrationError::Connect(error.to_string()))?;
        work(&mut connection)
    })
    .await
    .map_err(|error| MigrationError::Task(error.to_string()))?
}

fn with_lock<T>(
    connection: &mut SyncPg,
    work: impl FnOnce(&mut SyncPg) -> Result<T, MigrationError>,
) -> Result<T, MigrationError> {
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
        .execute(connection)?;
    let result = work(connection);
    let unlocked = diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
        .execute(connection);
    let value = result?;
    unlocked?;
    Ok(value)
}

#[derive(QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = Text)]
    version: String,
}

#[derive(QueryableByName)]
struct ExistsRow {
    #[diesel(sql_type = Bool)]
    present: bool,
}

#[derive(QueryableByName)]
struct LegacyRow {
    #[diesel(sql_type = Nullable<BigInt>)]
    version: Option<i64>,
    #[diesel(sql_type = Bool)]
    dirty: bool,
}

fn table_exists(connection: &mut SyncPg, name: &str) -> Result<bool, MigrationError> {
    let row: ExistsRow = diesel::sql_query("SELECT to_regclass($1) IS NOT NULL AS present")
        .bind::<Text, _>(name)
        .get_result(connection)?;
    Ok(row.present)
}

/// Versions recorded in diesel's table, without creating it (creating it outside the lock
/// would race between instances).
fn applied_versions(connection: &mut SyncPg) -> Result<Vec<String>, MigrationError> {
    if !table_exists(connection, "__diesel_schema_migrations")? {
        return Ok(Vec::new());
    }
    let rows: Vec<VersionRow> =
        diesel::sql_query("SELECT version::text AS version FROM __diesel_schema_migrations")
            .load(connection)?;
    Ok(rows.into_iter().map(|row| row.version).collect())
}

/// The legacy tool's state, if its table exists: `Some((version, dirty))`.
fn legacy_state(connection: &mut SyncPg) -> Result<Option<(i64, bool)>, MigrationError> {
    if !table_exists(connection, "schema_migrations")? {
        return Ok(None);
    }
    let row: LegacyRow = diesel::sql_query(
        "SELECT max(version)::bigint AS version, coalesce(bool_or(dirty), false) AS dirty \
         FROM schema_migrations",
    )
    .get_result(connection)?;
    match row.version {
        None => Err(MigrationError::LegacyEmpty),
        Some(version) => Ok(Some((version, row.dirty))),
    }
}

fn check_adoptable(version: i64, dirty: bool) -> Result<(), MigrationError> {
    if dirty || version < LEGACY_REQUIRED_VERSION {
        Err(MigrationError::LegacyNotAdoptable { version, dirty })
    } else {
        Ok(())
    }
}

fn pending_versions(connection: &mut SyncPg) -> Result<Vec<String>, MigrationError> {
    let applied = applied_versions(connection)?;
    let baseline_applied = applied.iter().any(|version| version == BASELINE_VERSION);
    let mut adopting = false;
    if !baseline_applied && let Some((version, dirty)) = legacy_state(connection)? {
        check_adoptable(version, dirty)?;
        adopting = true;
    }
    let known = MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .map_err(|error| MigrationError::Failed(error.to_string()))?;
    Ok(known
        .iter()
        .map(|migration| migration.name().version().to_string())
        .filter(|version| !applied.contains(version))
        .filter(|version| !(adopting && version == BASELINE_VERSION))
        .collect())
}

/// Records the baseline as applied on a clean legacy database (called under the lock).
fn adopt_legacy(connection: &mut SyncPg) -> Result<(), MigrationError> {
    let Some((version, dirty)) = legacy_state(connection)? else {
        return Ok(());
    };
    if applied_versions(connection)?
        .iter()
        .any(|applied| applied == BASELINE_VERSION)
    {
        return Ok(());
    }
    check_adoptable(version, dirty)?;
    connection.setup()?;
    diesel::sql_query("INSERT INTO __diesel_schema_migrations (version) VALUES ($1)")
        .bind::<Text, _>(BASELINE_VERSION)
        .execute(connection)?;
    tracing::info!(
        legacy_version = version,
        "adopted legacy database: baseline recorded without re-running it"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_is_the_first_embedded_migration() {
        let migrations = MigrationSource::<Pg>::migrations(&MIGRATIONS).expect("embedded");
        let mut versions: Vec<String> = migrations
            .iter()
            .map(|migration| migration.name().version().to_string())
            .collect();
        versions.sort();
        assert_eq!(versions.first().map(String::as_str), Some(BASELINE_VERSION));
        assert!(versions.len() > 1, "service migrations are embedded too");
    }

    #[test]
    fn only_clean_legacy_databases_at_version_twelve_or_later_are_adoptable() {
        assert!(check_adoptable(12, false).is_ok());
        assert!(check_adoptable(13, false).is_ok());
        assert!(matches!(
            check_adoptable(12, true),
            Err(MigrationError::LegacyNotAdoptable { .. })
        ));
        assert!(matches!(
            check_adoptable(10, false),
            Err(MigrationError::LegacyNotAdoptable { version: 10, .. })
        ));
    }
}
