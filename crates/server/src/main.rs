//! `task-api`: the task-management API server.
//!
//! `task-api` (or `task-api serve`) runs the server; `task-api migrate` applies pending
//! migrations and exits; `task-api healthcheck` asks the local server's `/health` and exits
//! 0 when it answers 200 (the container health check, D-30); `task-api deactivate-user
//! <email>` ends every session of the account and marks it inactive, `task-api
//! activate-user <email>` lets it log in again; `task-api prune-audit-logs <age>` deletes
//! audit records older than `age`.

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::ExitCode,
    time::Duration,
};

use server::{Application, StartOptions, config::Config, telemetry};

const USAGE: &str = "usage: task-api [serve | migrate | healthcheck | deactivate-user <email> \
     | activate-user <email> | prune-audit-logs <age, e.g. 2160h>]";

fn main() -> ExitCode {
    let command = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "serve".to_owned());
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("task-api: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    match command.as_str() {
        "serve" => run_async(serve(config)),
        "migrate" => run_async(migrate(config)),
        "healthcheck" => healthcheck(&config),
        "deactivate-user" | "activate-user" => {
            let Some(email) = std::env::args().nth(2) else {
                eprintln!("usage: task-api {command} <email>");
                return ExitCode::from(2);
            };
            run_async(set_account_active(
                config,
                email,
                command == "activate-user",
            ))
        }
        "prune-audit-logs" => {
            let Some(age) = std::env::args().nth(2) else {
                eprintln!("usage: task-api prune-audit-logs <age, e.g. 2160h for 90 days>");
                return ExitCode::from(2);
            };
            run_async(prune_audit_logs(config, age))
        }
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("task-api: unknown command {other:?}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run_async(job: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("task-api: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(job) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                "task-api stopped with an error"
            );
            eprintln!("task-api: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    telemetry::init_logging(&config.logging);
    tracing::info!(environment = ?config.environment, "starting task-api");
    let started = std::time::Instant::now();
    let options = StartOptions {
        handle_signals: true,
        ..StartOptions::default()
    };
    let app = Application::build(config, options).await?;
    tracing::info!(
        startup_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        port = app.port(),
        "ready to serve"
    );
    app.run_until_stopped().await
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    telemetry::init_logging(&config.logging);
    let applied = adapters_postgres::migrations::run_pending(config.database.url.expose()).await?;
    if applied.is_empty() {
        println!("database is up to date");
    } else {
        for version in applied {
            println!("applied {version}");
        }
    }
    Ok(())
}

async fn set_account_active(config: Config, email: String, active: bool) -> anyhow::Result<()> {
    telemetry::init_logging(&config.logging);
    let user = server::accounts::set_account_active(&config, &email, active).await?;
    if active {
        println!("account {user} ({email}) is active");
    } else {
        println!("account {user} ({email}) is inactive; its sessions are ended");
    }
    Ok(())
}

async fn prune_audit_logs(config: Config, age: String) -> anyhow::Result<()> {
    telemetry::init_logging(&config.logging);
    let deleted = server::audit_retention::prune_audit_logs(&config, &age).await?;
    println!("deleted {deleted} audit records older than {age}");
    Ok(())
}

/// A tiny HTTP/1.1 client, so the container image needs no curl or wget.
fn healthcheck(config: &Config) -> ExitCode {
    let host = match config.server.host.as_str() {
        "0.0.0.0" | "::" | "" => "127.0.0.1",
        other => other,
    };
    let probe = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect((host, config.server.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            stream,
            "GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response.starts_with("HTTP/1.1 200"))
    };
    match probe() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("task-api healthcheck: /health did not answer 200");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("task-api healthcheck: {error}");
            ExitCode::FAILURE
        }
    }
}
