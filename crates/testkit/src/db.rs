//! Per-test PostgreSQL databases.
//!
//! The migrations are applied once per migration set to a template database named after a
//! hash of the migration files (`task_api_tmpl_<hash>`); every [`TestDatabase`] is a
//! `CREATE DATABASE ... TEMPLATE` copy of it, which takes milliseconds, and is dropped again
//! when the value goes out of scope. Parallel test processes coordinate the template build
//! with a PostgreSQL advisory lock.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use adapters_postgres::{PgPool, PoolSettings};
use diesel::QueryableByName;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::OnceCell;

/// Fallback admin URL when `TEST_DATABASE_URL` is not set.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Advisory-lock key serialising template builds across test processes.
const TEMPLATE_LOCK_KEY: i64 = 0x7465_6d70_6c61_7465;

/// How often a clone or rename is retried while a just-closed session still lingers.
const BUSY_RETRIES: u32 = 100;

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// The URL of the maintenance database used to create and drop test databases:
/// `TEST_DATABASE_URL`, or [`DEFAULT_ADMIN_URL`].
#[must_use]
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_owned())
}

/// `url` pointing at database `name` instead (same host, user and parameters).
#[must_use]
pub fn url_for_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |start| &tail[start..]);
    format!("{scheme}://{authority}/{name}{query}")
}

/// A database of its own for one test, dropped (forcibly) on drop.
#[derive(Debug)]
pub struct TestDatabase {
    /// Connection URL of this database.
    pub url: String,
    /// Its name (`test_<uuid>`).
    pub name: String,
    admin_url: String,
}

impl TestDatabase {
    /// A fresh database with every migration applied (and the seed data of the baseline).
    ///
    /// # Panics
    /// When no PostgreSQL answers at [`admin_url`] or the migrations fail.
    pub async fn new() -> Self {
        let admin = admin_url();
        let template = TEMPLATE
            .get_or_init(|| ensure_template(admin.clone()))
            .await
            .clone();
        Self::create(admin, Some(template)).await
    }

    /// A fresh database without any migration, for tests of the migrations themselves.
    ///
    /// # Panics
    /// When no PostgreSQL answers at [`admin_url`].
    pub async fn empty() -> Self {
        Self::create(admin_url(), None).await
    }

    /// A small pool on this database (the pool connects lazily).
    ///
    /// # Panics
    /// Never for valid settings; the settings used here are valid.
    pub async fn pool(&self) -> PgPool {
        let mut settings = PoolSettings::new(self.url.clone());
        settings.max_connections = 4;
        PgPool::new(&settings).expect("pool settings of the test harness are valid")
    }

    /// A direct connection to this database, outside any pool.
    ///
    /// # Panics
    /// When the database does not answer.
    pub async fn connect(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url)
            .await
            .unwrap_or_else(|error| {
                panic!("cannot connect to test database {}: {error}", self.name)
            })
    }

    async fn create(admin_url: String, template: Option<String>) -> Self {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = connect_admin(&admin_url).await;
        let template_clause = template.as_deref().unwrap_or("template0");
        let sql = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template_clause}\"");
        execute_while_busy(&mut admin, &sql).await;
        Self {
            url: url_for_database(&admin_url, &name),
            name,
            admin_url,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Best effort, on a thread of its own: Drop cannot await, and the test's runtime may
        // be single-threaded or already shutting down.
        let dropper = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut admin) = AsyncPgConnection::establish(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = diesel::sql_query(sql).execute(&mut admin).await;
                }
            });
        });
        let _ = dropper.join();
    }
}

async fn connect_admin(admin_url: &str) -> AsyncPgConnection {
    match AsyncPgConnection::establish(admin_url).await {
        Ok(connection) => connection,
        Err(error) => panic!(
            "no PostgreSQL answers for the tests at {}: {error}. Start PostgreSQL or set \
             TEST_DATABASE_URL to the URL of a maintenance database (a superuser, so that \
             databases can be created).",
            adapters_postgres::pool::redact_url(admin_url)
        ),
    }
}

/// Runs DDL that fails while another session is still connected to the database it names
/// (the migration session of a template may take a moment to go away).
async fn execute_while_busy(connection: &mut AsyncPgConnection, sql: &str) {
    let mut attempt = 0;
    loop {
        match diesel::sql_query(sql).execute(connection).await {
            Ok(_) => return,
            Err(error)
                if attempt < BUSY_RETRIES
                    && error.to_string().contains("being accessed by other users") =>
            {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("test database DDL `{sql}` failed: {error}"),
        }
    }
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    present: bool,
}

async fn database_exists(connection: &mut AsyncPgConnection, name: &str) -> bool {
    diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS present")
        .bind::<Text, _>(name)
        .get_result::<Exists>(connection)
        .await
        .unwrap_or_else(|error| panic!("cannot query pg_database: {error}"))
        .present
}

/// Creates and migrates the template for the current migration files unless it exists;
/// returns its name.
async fn ensure_template(admin_url: String) -> String {
    let name = format!("task_api_tmpl_{}", migrations_hash());
    let mut admin = connect_admin(&admin_url).await;
    let lock = format!("SELECT pg_advisory_lock({TEMPLATE_LOCK_KEY})");
    diesel::sql_query(lock)
        .execute(&mut admin)
        .await
        .unwrap_or_else(|error| panic!("cannot take the template lock: {error}"));
    if !database_exists(&mut admin, &name).await {
        // Built under a temporary name and renamed when complete, so a crash mid-way never
        // leaves a half-migrated template behind under the real name.
        let building = format!("{name}_building");
        execute_while_busy(
            &mut admin,
            &format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"),
        )
        .await;
        execute_while_busy(
            &mut admin,
            &format!("CREATE DATABASE \"{building}\" TEMPLATE template0"),
        )
        .await;
        let building_url = url_for_database(&admin_url, &building);
        if let Err(error) = adapters_postgres::migrations::run_pending(&building_url).await {
            panic!("migrating the test template database failed: {error}");
        }
        execute_while_busy(
            &mut admin,
            &format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\""),
        )
        .await;
    }
    let unlock = format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK_KEY})");
    let _ = diesel::sql_query(unlock).execute(&mut admin).await;
    name
}

fn migrations_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations")
}

/// A short hash of every migration file's path and contents, naming the template.
fn migrations_hash() -> String {
    let mut files = Vec::new();
    collect_files(&migrations_dir(), &mut files);
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in &files {
        let relative = file.strip_prefix(migrations_dir()).unwrap_or(file);
        relative.to_string_lossy().hash(&mut hasher);
        std::fs::read(file)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()))
            .hash(&mut hasher);
    }
    format!("{:012x}", hasher.finish() & 0xffff_ffff_ffff)
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, files);
        } else {
            files.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_for_database_swaps_only_the_database_name() {
        assert_eq!(
            url_for_database("postgres://postgres@127.0.0.1:5432/postgres", "test_x"),
            "postgres://postgres@127.0.0.1:5432/test_x"
        );
        assert_eq!(
            url_for_database("postgres://u:p@h/db?sslmode=disable", "t"),
            "postgres://u:p@h/t?sslmode=disable"
        );
        assert_eq!(url_for_database("postgres://h:1", "t"), "postgres://h:1/t");
    }

    #[test]
    fn the_template_name_depends_on_the_migration_files() {
        let hash = migrations_hash();
        assert_eq!(hash.len(), 12);
        assert_eq!(hash, migrations_hash());
    }
}
