//! `cargo xtask seed`: migrate, then make sure the demo admin and demo user exist and the
//! demo user has a few tasks. Every step is idempotent.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::GlobalOpts;
use crate::db;
use crate::provision::env_nonempty;
use crate::provision::postgres::{self, PgServer};
use adapters_postgres::seed::{SeedAccount, ensure_account};
use adapters_postgres::{PgPool, PoolSettings};

/// bcrypt cost of the seeded hashes (the service's default `BCRYPT_COST`).
pub const BCRYPT_COST: u32 = 10;
const DEPARTMENT: &str = "Engineering";

/// A demo account with its clear-text password (printed for developers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAccount {
    pub username: String,
    pub email: String,
    pub password: String,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub position: &'static str,
    pub roles: &'static [&'static str],
}

/// The demo admin; `ADMIN_BOOTSTRAP_EMAIL` / `ADMIN_BOOTSTRAP_PASSWORD` override its
/// credentials so the seed and the server's own bootstrap agree.
pub fn demo_admin() -> DemoAccount {
    DemoAccount {
        username: "demo_admin".into(),
        email: env_nonempty("ADMIN_BOOTSTRAP_EMAIL")
            .unwrap_or_else(|| "admin@taskify.local".into()),
        password: env_nonempty("ADMIN_BOOTSTRAP_PASSWORD")
            .unwrap_or_else(|| "AdminPass@123".into()),
        first_name: "Demo",
        last_name: "Admin",
        position: "Administrator",
        roles: &["user", "admin"],
    }
}

/// The demo regular user.
pub fn demo_user() -> DemoAccount {
    DemoAccount {
        username: "demo_user".into(),
        email: "demo@taskify.local".into(),
        password: "DemoPass@123".into(),
        first_name: "Demo",
        last_name: "User",
        position: "Developer",
        roles: &["user"],
    }
}

/// Whether `password` satisfies the registration rules (>= 8 characters, an upper-case and a
/// lower-case letter, a digit and a special character), so the account can log in.
pub fn meets_password_rules(password: &str) -> bool {
    password.chars().count() >= 8
        && password.chars().any(char::is_uppercase)
        && password.chars().any(char::is_lowercase)
        && password.chars().any(|c| c.is_ascii_digit())
        && password
            .chars()
            .any(|c| !c.is_alphanumeric() && !c.is_whitespace())
}

pub async fn run(global: &GlobalOpts) -> Result<()> {
    let pg = postgres::provision(global).await?;
    super::migrate::prepare(&pg).await?;
    seed(&pg).await
}

/// Creates (or finds) the demo accounts and demo tasks and prints the credentials.
pub async fn seed(pg: &PgServer) -> Result<()> {
    let pool = PgPool::new(&PoolSettings {
        database_url: pg.app_url.clone(),
        max_connections: 2,
        wait_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        recycle_timeout: Duration::from_secs(2),
        max_lifetime: Duration::from_secs(60 * 60),
        max_idle_time: Duration::from_secs(10 * 60),
    })
    .map_err(|error| anyhow!("{error}"))
    .context("cannot create the PostgreSQL pool")?;

    let admin = demo_admin();
    let user = demo_user();
    for account in [&admin, &user] {
        if !meets_password_rules(&account.password) {
            println!(
                "xtask: warning: the password of {} does not meet the registration rules \
                 (>= 8 chars, upper, lower, digit, special); it will not be able to log in",
                account.email
            );
        }
    }
    let _ = ensure(&pool, &admin).await?;
    let user_id = ensure(&pool, &user).await?;

    let mut conn = db::connect(&pg.app_url).await?;
    let added = ensure_demo_tasks(&mut conn, user_id).await?;
    if added > 0 {
        println!("xtask: seed: added {added} demo tasks for {}", user.email);
    }
    println!("xtask: demo credentials:");
    println!(
        "xtask:   admin  {} / {}  (username {})",
        admin.email, admin.password, admin.username
    );
    println!(
        "xtask:   user   {} / {}  (username {})",
        user.email, user.password, user.username
    );
    Ok(())
}

async fn ensure(pool: &PgPool, account: &DemoAccount) -> Result<uuid::Uuid> {
    let password = account.password.clone();
    let hash = tokio::task::spawn_blocking(move || bcrypt::hash(password, BCRYPT_COST))
        .await
        .context("the hashing task failed")?
        .context("cannot hash the demo password")?;
    let id = ensure_account(
        pool,
        &SeedAccount {
            username: &account.username,
            email: &account.email,
            password_hash: &hash,
            first_name: account.first_name,
            last_name: account.last_name,
            department: DEPARTMENT,
            position: account.position,
            roles: account.roles,
        },
    )
    .await
    .map_err(|error| anyhow!("{error}"))
    .with_context(|| format!("cannot seed account {}", account.email))?;
    println!(
        "xtask: seed: account {} ({}) ready, id {id}, roles {}",
        account.username,
        account.email,
        account.roles.join(", ")
    );
    Ok(id)
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// (title, description, status, priority) of the demo tasks.
const DEMO_TASKS: [(&str, &str, &str, &str); 3] = [
    (
        "Read the API contract",
        "Skim the task endpoints and the error bodies",
        "completed",
        "high",
    ),
    (
        "Check the cache statistics",
        "Log in as the demo admin and GET /api/v1/cache/stats",
        "in_progress",
        "medium",
    ),
    ("Create a task through the API", "", "pending", "low"),
];

/// Inserts the demo tasks unless the user already has tasks; returns how many were added.
async fn ensure_demo_tasks(conn: &mut AsyncPgConnection, user_id: uuid::Uuid) -> Result<usize> {
    let existing: Count =
        diesel::sql_query("SELECT count(*) AS count FROM tasks WHERE user_id = $1")
            .bind::<diesel::sql_types::Uuid, _>(user_id)
            .get_result(conn)
            .await
            .context("cannot count the demo user's tasks")?;
    if existing.count > 0 {
        return Ok(0);
    }
    let has_priority: Count = diesel::sql_query(
        "SELECT count(*) AS count FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = 'tasks' AND column_name = 'priority'",
    )
    .get_result(conn)
    .await
    .context("cannot inspect the tasks table")?;
    for (title, description, status, priority) in DEMO_TASKS {
        let id = uuid::Uuid::now_v7();
        let inserted = if has_priority.count > 0 {
            diesel::sql_query(
                "INSERT INTO tasks (id, user_id, title, description, status, priority) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind::<diesel::sql_types::Uuid, _>(id)
            .bind::<diesel::sql_types::Uuid, _>(user_id)
            .bind::<Text, _>(title)
            .bind::<Text, _>(description)
            .bind::<Text, _>(status)
            .bind::<Text, _>(priority)
            .execute(conn)
            .await
        } else {
            diesel::sql_query(
                "INSERT INTO tasks (id, user_id, title, description, status) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind::<diesel::sql_types::Uuid, _>(id)
            .bind::<diesel::sql_types::Uuid, _>(user_id)
            .bind::<Text, _>(title)
            .bind::<Text, _>(description)
            .bind::<Text, _>(status)
            .execute(conn)
            .await
        };
        inserted.with_context(|| format!("cannot insert demo task {title:?}"))?;
    }
    Ok(DEMO_TASKS.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_passwords_meet_the_registration_rules() {
        assert!(meets_password_rules(&demo_user().password));
        assert!(meets_password_rules("AdminPass@123"));
    }

    #[test]
    fn weak_passwords_are_recognised() {
        for weak in [
            "admin",
            "Short@1",
            "alllower@123",
            "ALLUPPER@123",
            "NoDigits@abc",
            "NoSpecial123",
        ] {
            assert!(!meets_password_rules(weak), "{weak}");
        }
    }

    #[test]
    fn the_demo_admin_holds_both_roles_and_the_user_only_user() {
        assert_eq!(demo_admin().roles, ["user", "admin"]);
        assert_eq!(demo_user().roles, ["user"]);
        assert_ne!(demo_admin().username, demo_user().username);
    }

    #[test]
    fn demo_tasks_use_contract_statuses_and_priorities() {
        for (_, _, status, priority) in DEMO_TASKS {
            assert!(["pending", "in_progress", "completed", "cancelled"].contains(&status));
            assert!(["low", "medium", "high", "urgent"].contains(&priority));
        }
    }
}
