//! `cargo xtask test`: provision services, clean up stale test databases, run every test.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use crate::GlobalOpts;
use crate::db;
use crate::pg_url::redact;
use crate::provision::cargo_child::ChildServices;

/// Test databases nobody uses and older than this are leftovers of crashed runs.
const STALE_TEST_DATABASE_AGE: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Arguments for both `cargo test` runs (e.g. `-- -p domain -- --nocapture`).
    #[arg(last = true)]
    pub extra: Vec<String>,
}

/// Whether the cargo arguments (before any `--`) select packages themselves.
fn selects_packages(extra: &[String]) -> bool {
    extra.iter().take_while(|arg| *arg != "--").any(|arg| {
        arg == "-p"
            || arg == "--package"
            || arg.starts_with("--package=")
            || (arg.starts_with("-p") && arg.len() > 2)
    })
}

/// The two cargo invocations: libraries, binaries and test targets, then the doc tests
/// (`--workspace` unless the extra arguments pick packages). Benches are left out on
/// purpose: they seed large data sets and measure; `cargo bench` runs them, and clippy
/// (`--all-targets`) still checks that they compile.
pub fn cargo_test_invocations(extra: &[String]) -> [Vec<String>; 2] {
    let base = |kinds: &[&str]| {
        let mut args = vec!["test".to_owned()];
        if !selects_packages(extra) {
            args.push("--workspace".to_owned());
        }
        args.extend(kinds.iter().map(|kind| (*kind).to_owned()));
        args.push("--no-fail-fast".to_owned());
        args.extend(extra.iter().cloned());
        args
    };
    [base(&["--lib", "--bins", "--tests"]), base(&["--doc"])]
}

pub async fn run(global: &GlobalOpts, args: &TestArgs) -> Result<i32> {
    let services = ChildServices::provision(global).await?;
    let pg = &services.pg;
    if services.redis.is_none() {
        println!(
            "xtask: tests that need Redis will start their own redis-server or fail saying why"
        );
    }
    drop_stale_test_databases(&pg.admin_url).await;

    let mut status = 0;
    for invocation in cargo_test_invocations(&args.extra) {
        println!("xtask: running cargo {}", invocation.join(" "));
        let exit = services
            .cargo_command(&invocation)
            .status()
            .context("cannot run cargo test")?;
        if !exit.success() && status == 0 {
            status = exit.code().unwrap_or(1);
        }
    }
    println!(
        "xtask: tests {} (TEST_DATABASE_URL={})",
        if status == 0 { "passed" } else { "FAILED" },
        redact(&pg.admin_url)
    );
    Ok(status)
}

/// Best effort: a failure here only means leftovers stay.
async fn drop_stale_test_databases(admin_url: &str) {
    let mut conn = match db::connect(admin_url).await {
        Ok(conn) => conn,
        Err(error) => {
            println!("xtask: not cleaning up old test databases: {error:#}");
            return;
        }
    };
    let stale = match db::stale_test_databases(&mut conn, STALE_TEST_DATABASE_AGE).await {
        Ok(stale) => stale,
        Err(error) => {
            println!("xtask: not cleaning up old test databases: {error:#}");
            return;
        }
    };
    let mut dropped = 0;
    for name in &stale {
        match db::drop_database_if_unused(&mut conn, name).await {
            Ok(()) => dropped += 1,
            Err(error) => println!("xtask: kept {name}: {error:#}"),
        }
    }
    if dropped > 0 {
        println!("xtask: dropped {dropped} leftover test database(s) not in use");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_runs_cover_the_workspace_without_fail_fast_and_get_the_extra_args() {
        let extra = ["--", "--nocapture"].map(String::from);
        let [all, doc] = cargo_test_invocations(&extra);
        assert_eq!(
            all,
            [
                "test",
                "--workspace",
                "--lib",
                "--bins",
                "--tests",
                "--no-fail-fast",
                "--",
                "--nocapture"
            ]
        );
        assert_eq!(
            doc,
            [
                "test",
                "--workspace",
                "--doc",
                "--no-fail-fast",
                "--",
                "--nocapture"
            ]
        );
    }

    #[test]
    fn picking_packages_replaces_the_whole_workspace() {
        for extra in [&["-p", "domain"][..], &["--package=domain"], &["-pdomain"]] {
            let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
            let [all, _] = cargo_test_invocations(&extra);
            assert!(!all.contains(&"--workspace".to_owned()), "{all:?}");
        }
        // A `-p` after `--` belongs to the test binary, not to cargo.
        let extra = ["--", "-p"].map(String::from);
        assert!(cargo_test_invocations(&extra)[0].contains(&"--workspace".to_owned()));
    }
}
