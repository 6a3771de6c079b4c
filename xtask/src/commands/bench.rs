//! `cargo xtask bench`: provision services like `test` does, then run the benchmarks one
//! `cargo bench` at a time. Results are printed by the benches themselves, never asserted.

use anyhow::{Context, Result, bail};
use clap::Args;
use clap::builder::{PossibleValue, PossibleValuesParser};

use crate::GlobalOpts;
use crate::pg_url::redact;
use crate::provision::cargo_child::ChildServices;

/// One `[[bench]]` target of the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bench {
    pub name: &'static str,
    pub package: &'static str,
    /// Part of the default run; the others (minutes long) need `--all` or their name.
    pub quick: bool,
    pub about: &'static str,
}

/// Every bench target; the help text, the name validation and the runner all read this.
pub const BENCHES: [Bench; 6] = [
    Bench {
        name: "cache_throughput",
        package: "server",
        quick: true,
        about: "real HTTP: task reads from L1, L2 and the database; cache invalidation cost",
    },
    Bench {
        name: "login_load",
        package: "server",
        quick: true,
        about: "real HTTP: login throughput and /health latency under a login burst",
    },
    Bench {
        name: "decide",
        package: "authz-engine",
        quick: true,
        about: "criterion: authorization decisions",
    },
    Bench {
        name: "identity",
        package: "application",
        quick: true,
        about: "criterion: identity hot paths",
    },
    Bench {
        name: "job_queue",
        package: "adapters-redis",
        quick: true,
        about: "Redis job queue",
    },
    Bench {
        name: "task_queries",
        package: "adapters-postgres",
        quick: false,
        about: "task queries over 1M seeded tasks (slow: several minutes; needs --all or its name)",
    },
];

/// Bench names for clap, each with its package and description for `--help`.
fn bench_name_parser() -> PossibleValuesParser {
    PossibleValuesParser::new(BENCHES.iter().map(|bench| {
        PossibleValue::new(bench.name).help(format!("[{}] {}", bench.package, bench.about))
    }))
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Benches to run (default: every quick one, i.e. all but task_queries).
    #[arg(value_name = "BENCH", value_parser = bench_name_parser())]
    pub names: Vec<String>,
    /// Also run the slow benches (task_queries).
    #[arg(long, conflicts_with = "names")]
    pub all: bool,
    /// Arguments for every bench binary (e.g. `-- --save-baseline before` for criterion).
    #[arg(last = true)]
    pub extra: Vec<String>,
}

/// The benches to run, in table order for the defaults and in the given order for names.
pub fn select(names: &[String], all: bool) -> Result<Vec<Bench>> {
    if names.is_empty() {
        return Ok(BENCHES
            .iter()
            .filter(|bench| all || bench.quick)
            .copied()
            .collect());
    }
    names
        .iter()
        .map(|name| {
            BENCHES
                .iter()
                .find(|bench| bench.name == name)
                .copied()
                .with_context(|| {
                    let known: Vec<&str> = BENCHES.iter().map(|bench| bench.name).collect();
                    format!("unknown bench {name:?}; known: {}", known.join(", "))
                })
        })
        .collect()
}

/// `cargo bench -p <package> --bench <name> [-- <extra>...]`.
pub fn cargo_bench_invocation(bench: &Bench, extra: &[String]) -> Vec<String> {
    let mut args: Vec<String> = ["bench", "-p", bench.package, "--bench", bench.name]
        .map(String::from)
        .into();
    if !extra.is_empty() {
        args.push("--".to_owned());
        args.extend(extra.iter().cloned());
    }
    args
}

pub async fn run(global: &GlobalOpts, args: &BenchArgs) -> Result<i32> {
    // Validate before provisioning so a typo costs nothing (clap checks too; this covers
    // callers that build `BenchArgs` themselves).
    let benches = select(&args.names, args.all)?;
    if benches.is_empty() {
        bail!("no benches selected");
    }
    let services = ChildServices::provision(global).await?;
    if services.redis.is_none() {
        println!(
            "xtask: benches that need Redis will start their own redis-server or fail saying why"
        );
    }

    let mut status = 0;
    let mut failed = Vec::new();
    for bench in &benches {
        let invocation = cargo_bench_invocation(bench, &args.extra);
        println!(
            "xtask: bench {} ({}): running cargo {}",
            bench.name,
            bench.package,
            invocation.join(" ")
        );
        let exit = services
            .cargo_command(&invocation)
            .status()
            .context("cannot run cargo bench")?;
        if !exit.success() {
            println!("xtask: bench {} FAILED ({exit})", bench.name);
            failed.push(bench.name);
            if status == 0 {
                status = exit.code().unwrap_or(1);
            }
        }
    }
    if failed.is_empty() {
        println!(
            "xtask: {} bench(es) ran (TEST_DATABASE_URL={})",
            benches.len(),
            redact(&services.pg.admin_url)
        );
    } else {
        println!(
            "xtask: benches FAILED: {} of {} ({}) (TEST_DATABASE_URL={})",
            failed.len(),
            benches.len(),
            failed.join(", "),
            redact(&services.pg.admin_url)
        );
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(benches: &[Bench]) -> Vec<&'static str> {
        benches.iter().map(|bench| bench.name).collect()
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn the_default_runs_the_quick_benches_only() {
        let benches = select(&[], false).expect("defaults");
        assert_eq!(
            names(&benches),
            [
                "cache_throughput",
                "login_load",
                "decide",
                "identity",
                "job_queue"
            ]
        );
    }

    #[test]
    fn all_adds_the_slow_task_queries() {
        let benches = select(&[], true).expect("all");
        assert_eq!(benches.len(), BENCHES.len());
        assert_eq!(
            benches.last().map(|bench| (bench.name, bench.package)),
            Some(("task_queries", "adapters-postgres"))
        );
    }

    #[test]
    fn explicit_names_run_just_those_in_the_given_order() {
        let benches = select(&strings(&["task_queries", "decide"]), false).expect("known");
        assert_eq!(
            benches
                .iter()
                .map(|bench| (bench.name, bench.package))
                .collect::<Vec<_>>(),
            [
                ("task_queries", "adapters-postgres"),
                ("decide", "authz-engine")
            ]
        );
    }

    #[test]
    fn an_unknown_name_is_rejected_with_the_known_ones() {
        let error = select(&strings(&["decide", "nope"]), false)
            .expect_err("unknown name")
            .to_string();
        assert!(error.contains("\"nope\""), "{error}");
        for bench in &BENCHES {
            assert!(error.contains(bench.name), "{error}");
        }
    }

    #[test]
    fn each_bench_is_one_cargo_bench_of_its_package() {
        let benches = select(&strings(&["cache_throughput", "job_queue"]), false).expect("known");
        let invocations: Vec<Vec<String>> = benches
            .iter()
            .map(|bench| cargo_bench_invocation(bench, &[]))
            .collect();
        assert_eq!(
            invocations,
            [
                strings(&["bench", "-p", "server", "--bench", "cache_throughput"]),
                strings(&["bench", "-p", "adapters-redis", "--bench", "job_queue"]),
            ]
        );
    }

    #[test]
    fn extra_args_go_to_the_bench_binary_after_cargos_double_dash() {
        let decide = select(&strings(&["decide"]), false).expect("known");
        let extra = strings(&["--save-baseline", "before"]);
        assert_eq!(
            cargo_bench_invocation(&decide[0], &extra),
            strings(&[
                "bench",
                "-p",
                "authz-engine",
                "--bench",
                "decide",
                "--",
                "--save-baseline",
                "before"
            ])
        );
    }

    #[test]
    fn bench_names_are_unique() {
        for (i, bench) in BENCHES.iter().enumerate() {
            assert!(
                BENCHES[i + 1..]
                    .iter()
                    .all(|other| other.name != bench.name),
                "{} twice",
                bench.name
            );
        }
    }

    /// The table must match the `[[bench]]` targets of `crates/<package>/Cargo.toml`, both ways.
    #[test]
    fn the_table_matches_the_bench_targets_of_the_workspace() {
        let crates = crate::workspace::root().join("crates");
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&crates).expect("crates/ is readable") {
            let manifest = entry.expect("dir entry").path().join("Cargo.toml");
            let Ok(text) = std::fs::read_to_string(&manifest) else {
                continue;
            };
            let package = text
                .lines()
                .find_map(|line| line.strip_prefix("name = "))
                .map(|name| name.trim_matches('"').to_owned())
                .expect("package name");
            for section in text.split("[[bench]]").skip(1) {
                let name = section
                    .lines()
                    .find_map(|line| line.strip_prefix("name = "))
                    .map(|name| name.trim_matches('"').to_owned())
                    .expect("bench name");
                found.push((package.clone(), name));
            }
        }
        found.sort();
        let mut table: Vec<(String, String)> = BENCHES
            .iter()
            .map(|bench| (bench.package.to_owned(), bench.name.to_owned()))
            .collect();
        table.sort();
        assert_eq!(table, found);
    }
}
