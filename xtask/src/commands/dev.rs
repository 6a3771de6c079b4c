//! `cargo xtask dev`: provision, migrate, seed, build and run the API server in the
//! foreground, forwarding Ctrl-C and SIGTERM to it.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use tokio::signal::unix::{SignalKind, signal};

use crate::GlobalOpts;
use crate::net;
use crate::provision::{env_nonempty, postgres, redis};
use crate::workspace;

const SERVER_PACKAGE: &str = "server";
const SERVER_BIN: &str = "task-api";

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Build and run the server with the release profile.
    #[arg(long)]
    pub release: bool,
}

/// Environment for the server: the provisioned URLs, the demo admin as bootstrap admin, and
/// developer-friendly defaults wherever the caller has not set a value (`lookup` reads the
/// caller's environment).
pub fn server_env(
    database_url: &str,
    redis_url: Option<&str>,
    admin: &super::seed::DemoAccount,
    lookup: impl Fn(&str) -> Option<String>,
) -> Vec<(&'static str, String)> {
    let mut env = vec![("DATABASE_URL", database_url.to_owned())];
    if let Some(url) = redis_url {
        env.push(("REDIS_URL", url.to_owned()));
    }
    for (name, default) in [
        ("HOST", "127.0.0.1"),
        ("PORT", "8080"),
        ("LOG_FORMAT", "text"),
    ] {
        env.push((name, lookup(name).unwrap_or_else(|| default.to_owned())));
    }
    env.push(("ADMIN_BOOTSTRAP_EMAIL", admin.email.clone()));
    env.push(("ADMIN_BOOTSTRAP_PASSWORD", admin.password.clone()));
    env
}

/// The host to reach a server bound to `bind_host` from this machine.
pub fn reachable_host(bind_host: &str) -> String {
    match bind_host {
        "0.0.0.0" | "" => "127.0.0.1".to_owned(),
        "::" | "[::]" => "::1".to_owned(),
        other => other.to_owned(),
    }
}

/// `http://host:port` with IPv6 literals bracketed.
pub fn base_url(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("http://[{host}]:{port}")
    } else {
        format!("http://{host}:{port}")
    }
}

fn value<'a>(env: &'a [(&'static str, String)], name: &str) -> &'a str {
    env.iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, v)| v.as_str())
}

pub async fn run(global: &GlobalOpts, args: &DevArgs) -> Result<i32> {
    let pg = postgres::provision(global).await?;
    let redis = redis::provision(global);
    super::migrate::prepare(&pg).await?;
    super::seed::seed(&pg).await?;

    let admin = super::seed::demo_admin();
    let env = server_env(
        &pg.app_url,
        redis.as_ref().map(|r| r.url.as_str()),
        &admin,
        env_nonempty,
    );
    let port: u16 = value(&env, "PORT")
        .parse()
        .with_context(|| format!("PORT={} is not a port number", value(&env, "PORT")))?;
    let host = reachable_host(value(&env, "HOST"));
    let base = base_url(&host, port);

    if !net::port_is_free(port) {
        bail!("port {port} is already in use (another server running?); set PORT to another port");
    }
    let binary = build_server(args.release)?;
    if redis.is_none() {
        println!("xtask: REDIS_URL left unset: the server runs L1-only (in-process cache)");
    }
    println!("xtask: starting {} ...", binary.display());
    println!("xtask:   health   {base}/health");
    println!("xtask:   API      {base}/api/v1");
    println!("xtask:   metrics  {base}/metrics");
    println!("xtask:   admin    {} / {}", admin.email, admin.password);
    let user = super::seed::demo_user();
    println!("xtask:   user     {} / {}", user.email, user.password);

    let mut command = tokio::process::Command::new(&binary);
    command
        .current_dir(workspace::root())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        // Own process group: a terminal Ctrl-C reaches only us, and we forward it once.
        .process_group(0)
        .kill_on_drop(true);
    if redis.is_none() {
        command.env_remove("REDIS_URL");
    }
    let outcome = supervise(command, &host, port).await?;
    if outcome.ready_after.is_none() {
        println!("xtask: the server exited before {base}/health answered 200");
    }
    Ok(outcome.code)
}

/// How a supervised server ended.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code to report (0 when it died of a signal we forwarded).
    pub code: i32,
    /// Time from spawn until `GET /health` answered 200, if it ever did.
    pub ready_after: Option<Duration>,
}

/// Spawns `command`, reports when `http://host:port/health` answers 200, forwards SIGINT and
/// SIGTERM to it, and waits for it to exit.
pub async fn supervise(
    mut command: tokio::process::Command,
    host: &str,
    port: u16,
) -> Result<Outcome> {
    let base = base_url(host, port);
    let spawned_at = Instant::now();
    let mut child = command.spawn().context("cannot start the server")?;
    let pid = child.id();

    let probe_host = host.to_owned();
    let mut readiness = tokio::spawn(async move {
        loop {
            let host = probe_host.clone();
            let status = tokio::task::spawn_blocking(move || {
                net::http_get_status(&host, port, "/health", Duration::from_secs(2))
            })
            .await
            .ok()
            .flatten();
            if status == Some(200) {
                let elapsed = spawned_at.elapsed();
                println!(
                    "xtask: server ready in {} ms ({base}/health answered 200)",
                    elapsed.as_millis()
                );
                return elapsed;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });

    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut forwarded = None;
    let mut ready_after = None;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status.context("waiting for the server failed")?,
            ready = &mut readiness, if ready_after.is_none() => {
                ready_after = Some(ready.ok());
            }
            _ = interrupt.recv() => forwarded = forward(pid, rustix::process::Signal::INT),
            _ = terminate.recv() => forwarded = forward(pid, rustix::process::Signal::TERM),
        }
    };
    readiness.abort();
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) if forwarded == Some(sig) => 0,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    };
    Ok(Outcome {
        code,
        ready_after: ready_after.flatten(),
    })
}

/// Sends `sig` to the server; returns the raw signal number when it was delivered.
pub fn forward(pid: Option<u32>, sig: rustix::process::Signal) -> Option<i32> {
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid?).ok()?)?;
    let name = match sig.as_raw() {
        2 => "SIGINT".to_owned(),
        15 => "SIGTERM".to_owned(),
        other => format!("signal {other}"),
    };
    println!(
        "xtask: forwarding {name} to the server (pid {})",
        pid.as_raw_pid()
    );
    rustix::process::kill_process(pid, sig).ok()?;
    Some(sig.as_raw())
}

/// Builds the server binary and returns its path.
fn build_server(release: bool) -> Result<PathBuf> {
    let mut command = std::process::Command::new(workspace::cargo());
    command
        .args(["build", "--package", SERVER_PACKAGE, "--bin", SERVER_BIN])
        .current_dir(workspace::root());
    if release {
        command.arg("--release");
    }
    println!(
        "xtask: building {SERVER_BIN}{}",
        if release { " (release)" } else { "" }
    );
    let status = command.status().context("cannot run cargo build")?;
    if !status.success() {
        bail!("building the server failed ({status})");
    }
    let profile = if release { "release" } else { "debug" };
    Ok(workspace::target_dir().join(profile).join(SERVER_BIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_gets_provisioned_urls_demo_admin_and_defaults() {
        let admin = super::super::seed::demo_user();
        let env = server_env(
            "postgres://p@127.0.0.1:5432/task_manager",
            Some("redis://127.0.0.1:6379"),
            &admin,
            |_| None,
        );
        assert_eq!(
            value(&env, "DATABASE_URL"),
            "postgres://p@127.0.0.1:5432/task_manager"
        );
        assert_eq!(value(&env, "REDIS_URL"), "redis://127.0.0.1:6379");
        assert_eq!(value(&env, "HOST"), "127.0.0.1");
        assert_eq!(value(&env, "PORT"), "8080");
        assert_eq!(value(&env, "LOG_FORMAT"), "text");
        assert_eq!(value(&env, "ADMIN_BOOTSTRAP_EMAIL"), admin.email);
        assert_eq!(value(&env, "ADMIN_BOOTSTRAP_PASSWORD"), admin.password);
    }

    #[test]
    fn caller_settings_win_and_no_redis_means_no_redis_url() {
        let admin = super::super::seed::demo_user();
        let lookup = |name: &str| match name {
            "PORT" => Some("9090".to_owned()),
            "LOG_FORMAT" => Some("json".to_owned()),
            _ => None,
        };
        let env = server_env("postgres://x@h/db", None, &admin, lookup);
        assert_eq!(value(&env, "PORT"), "9090");
        assert_eq!(value(&env, "LOG_FORMAT"), "json");
        assert!(env.iter().all(|(name, _)| *name != "REDIS_URL"));
    }

    fn fake_health_endpoint() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut buf = [0_u8; 512];
                let _ = std::io::Read::read(&mut stream, &mut buf);
                let _ = std::io::Write::write_all(
                    &mut stream,
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
                );
            }
        });
        port
    }

    #[tokio::test]
    async fn supervision_reports_readiness_and_the_exit_code() {
        let port = fake_health_endpoint();
        let mut command = tokio::process::Command::new("/bin/sh");
        command.args(["-c", "sleep 2; exit 3"]);
        let outcome = supervise(command, "127.0.0.1", port)
            .await
            .expect("supervised");
        assert_eq!(outcome.code, 3);
        assert!(
            outcome.ready_after.is_some(),
            "the health endpoint answered 200"
        );
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_not_reported_ready() {
        let port = crate::net::free_port().expect("port");
        let mut command = tokio::process::Command::new("/bin/sh");
        command.args(["-c", "exit 0"]);
        let outcome = supervise(command, "127.0.0.1", port)
            .await
            .expect("supervised");
        assert_eq!(outcome.code, 0);
        assert!(outcome.ready_after.is_none());
    }

    #[tokio::test]
    async fn forwarded_signals_reach_the_child() {
        let mut child = tokio::process::Command::new("sleep")
            .arg("30")
            .kill_on_drop(true)
            .spawn()
            .expect("spawn sleep");
        let sent = forward(child.id(), rustix::process::Signal::TERM);
        assert_eq!(sent, Some(rustix::process::Signal::TERM.as_raw()));
        let status = child.wait().await.expect("wait");
        assert_eq!(
            status.signal(),
            Some(rustix::process::Signal::TERM.as_raw())
        );
    }

    #[test]
    fn wildcard_binds_are_reached_through_loopback() {
        assert_eq!(reachable_host("0.0.0.0"), "127.0.0.1");
        assert_eq!(reachable_host("::"), "::1");
        assert_eq!(reachable_host("localhost"), "localhost");
        assert_eq!(base_url("127.0.0.1", 8080), "http://127.0.0.1:8080");
        assert_eq!(base_url("::1", 8080), "http://[::1]:8080");
    }
}
