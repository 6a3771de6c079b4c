//! Developer and operator tasks for the workspace, run as `cargo xtask <command>`.
//!
//! The point is a zero-config start: `cargo xtask dev` finds or provisions PostgreSQL (the
//! shared server on 127.0.0.1:5432, or a private cluster under `target/`) and Redis (or runs
//! the server L1-only), migrates, seeds demo accounts and starts the API. The other commands
//! expose the same steps one by one (`migrate`, `seed`, `db-reset`), run the whole test
//! suite against provisioned services (`test`) and run the benchmarks against them (`bench`).

mod commands;
mod db;
mod net;
mod pg_url;
mod provision;
mod workspace;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Command line of `cargo xtask`.
#[derive(Debug, Parser)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    about = "Developer tasks: dev server, tests, benchmarks, migrations, seed data"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalOpts,
    #[command(subcommand)]
    command: Command,
}

/// Options every subcommand understands.
#[derive(Debug, Clone, Args)]
pub struct GlobalOpts {
    /// Skip the probe of 127.0.0.1:5432 and use (or create) the private cluster under
    /// target/pg-cluster. Meant for testing the provisioning itself.
    #[arg(
        long,
        global = true,
        hide = true,
        env = "XTASK_FORCE_PRIVATE_PG",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub private_pg: bool,
    /// Skip the probe of 127.0.0.1:6379 and use (or start) the private redis-server under
    /// target/redis. Meant for testing the provisioning itself.
    #[arg(
        long,
        global = true,
        hide = true,
        env = "XTASK_FORCE_PRIVATE_REDIS",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub private_redis: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Provision PostgreSQL and Redis, migrate, seed, then run the API server.
    Dev(commands::dev::DevArgs),
    /// Provision services and run every test of the workspace (extra args after `--` go to
    /// both `cargo test` invocations).
    Test(commands::test::TestArgs),
    /// Provision services and run the benchmarks (criterion hot paths and the real-HTTP load
    /// benches); results are printed, never asserted.
    Bench(commands::bench::BenchArgs),
    /// Apply pending database migrations.
    Migrate,
    /// Migrate, then create the demo admin and user accounts (idempotent).
    Seed,
    /// Drop and recreate the application database, then migrate and seed.
    DbReset(commands::db_reset::DbResetArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("xtask: error: cannot start the tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Dev(args) => commands::dev::run(&cli.global, &args).await,
            Command::Test(args) => commands::test::run(&cli.global, &args).await,
            Command::Bench(args) => commands::bench::run(&cli.global, &args).await,
            Command::Migrate => commands::migrate::run(&cli.global).await.map(|()| 0),
            Command::Seed => commands::seed::run(&cli.global).await.map(|()| 0),
            Command::DbReset(args) => commands::db_reset::run(&cli.global, &args)
                .await
                .map(|()| 0),
        }
    });
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1).max(1)),
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn test_passes_everything_after_the_double_dash_through() {
        let cli = Cli::try_parse_from(["xtask", "test", "--", "-p", "domain", "--", "--nocapture"])
            .expect("valid command line");
        match cli.command {
            Command::Test(args) => assert_eq!(args.extra, ["-p", "domain", "--", "--nocapture"]),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn bench_takes_names_or_all_and_passes_the_rest_to_the_bench_binaries() {
        let cli = Cli::try_parse_from(["xtask", "bench"]).expect("valid");
        assert!(
            matches!(cli.command, Command::Bench(ref a) if a.names.is_empty() && !a.all && a.extra.is_empty())
        );
        let cli = Cli::try_parse_from(["xtask", "bench", "--all"]).expect("valid");
        assert!(matches!(cli.command, Command::Bench(ref a) if a.all));
        let cli = Cli::try_parse_from([
            "xtask",
            "bench",
            "decide",
            "identity",
            "--",
            "--save-baseline",
            "x",
        ])
        .expect("valid");
        match cli.command {
            Command::Bench(args) => {
                assert_eq!(args.names, ["decide", "identity"]);
                assert_eq!(args.extra, ["--save-baseline", "x"]);
            }
            other => panic!("parsed as {other:?}"),
        }
        let error = Cli::try_parse_from(["xtask", "bench", "nope"]).expect_err("unknown bench");
        assert!(error.to_string().contains("cache_throughput"), "{error}");
        assert!(Cli::try_parse_from(["xtask", "bench", "--all", "decide"]).is_err());
    }

    #[test]
    fn db_reset_accepts_force_and_dev_accepts_release() {
        let cli = Cli::try_parse_from(["xtask", "db-reset", "--force"]).expect("valid");
        assert!(matches!(cli.command, Command::DbReset(ref a) if a.force));
        let cli = Cli::try_parse_from(["xtask", "dev", "--release"]).expect("valid");
        assert!(matches!(cli.command, Command::Dev(ref a) if a.release));
        let cli = Cli::try_parse_from(["xtask", "migrate", "--private-pg"]).expect("valid");
        assert!(cli.global.private_pg);
    }
}
