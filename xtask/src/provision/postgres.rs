//! PostgreSQL: `DATABASE_URL`, else the server on 127.0.0.1:5432, else a private cluster
//! under `target/pg-cluster` built from the installed server binaries.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::binaries::{self, PG_SERVER_PROGRAMS};
use super::privilege::RunAs;
use super::{env_nonempty, read_port_file};
use crate::GlobalOpts;
use crate::db;
use crate::net;
use crate::pg_url::{self, APP_DATABASE, MAINTENANCE_DATABASE, local_url, redact};

/// The superuser of the shared local server and of the private cluster.
pub const SUPERUSER: &str = "postgres";
const SHARED_HOST: &str = "127.0.0.1";
const SHARED_PORT: u16 = 5432;

/// Where the PostgreSQL server came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgOrigin {
    /// `DATABASE_URL` was set.
    EnvUrl,
    /// A server already listening on 127.0.0.1:5432.
    SharedLocal,
    /// The private cluster under `target/pg-cluster`.
    PrivateCluster,
}

/// A reachable PostgreSQL server.
#[derive(Debug, Clone)]
pub struct PgServer {
    /// URL of the application database (`task_manager` unless `DATABASE_URL` names another).
    pub app_url: String,
    /// URL of the maintenance database on the same server, for CREATE/DROP DATABASE.
    pub admin_url: String,
    pub origin: PgOrigin,
}

/// Finds or starts a PostgreSQL server (see the module doc for the order).
pub async fn provision(opts: &GlobalOpts) -> Result<PgServer> {
    if let Some(url) = env_nonempty("DATABASE_URL") {
        pg_url::parse(&url).context("DATABASE_URL is not usable")?;
        println!("xtask: PostgreSQL: using DATABASE_URL ({})", redact(&url));
        return Ok(PgServer {
            admin_url: pg_url::with_database(&url, MAINTENANCE_DATABASE)?,
            app_url: url,
            origin: PgOrigin::EnvUrl,
        });
    }
    if opts.private_pg {
        println!(
            "xtask: PostgreSQL: XTASK_FORCE_PRIVATE_PG set, not probing {SHARED_HOST}:{SHARED_PORT}"
        );
    } else if let Some(server) = probe_shared().await {
        return Ok(server);
    }
    let Some(bin_dir) = binaries::find_pg_server_dir() else {
        bail!(
            "no PostgreSQL answers on {SHARED_HOST}:{SHARED_PORT} and no PostgreSQL server \
             programs ({}) were found on PATH or in {}/*/bin.\n\
             Install PostgreSQL (Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew \
             install postgresql@16`), start one on {SHARED_HOST}:{SHARED_PORT} with user \
             `postgres` and trust authentication, or set DATABASE_URL.",
            PG_SERVER_PROGRAMS.join(", "),
            binaries::DEBIAN_PG_ROOT
        );
    };
    private_cluster(&bin_dir).await
}

async fn probe_shared() -> Option<PgServer> {
    if !net::tcp_answers(SHARED_HOST, SHARED_PORT, Duration::from_secs(1)) {
        println!("xtask: PostgreSQL: nothing answers on {SHARED_HOST}:{SHARED_PORT}");
        return None;
    }
    let admin_url = local_url(SUPERUSER, SHARED_HOST, SHARED_PORT, MAINTENANCE_DATABASE);
    match db::connect(&admin_url).await {
        Ok(_) => {
            println!("xtask: PostgreSQL: using the server on {SHARED_HOST}:{SHARED_PORT}");
            Some(PgServer {
                app_url: local_url(SUPERUSER, SHARED_HOST, SHARED_PORT, APP_DATABASE),
                admin_url,
                origin: PgOrigin::SharedLocal,
            })
        }
        Err(error) => {
            println!(
                "xtask: PostgreSQL: {SHARED_HOST}:{SHARED_PORT} answers but refuses user \
                 {SUPERUSER} without a password ({error:#}); set DATABASE_URL to use it"
            );
            None
        }
    }
}

/// Files of the private cluster.
#[derive(Debug, Clone)]
pub struct ClusterLayout {
    pub root: PathBuf,
    pub data: PathBuf,
    pub sockets: PathBuf,
    pub log: PathBuf,
    pub port_file: PathBuf,
}

impl ClusterLayout {
    pub fn new(root: PathBuf) -> Self {
        Self {
            data: root.join("data"),
            sockets: root.join("sockets"),
            log: root.join("postgres.log"),
            port_file: root.join("port"),
            root,
        }
    }

    /// Whether `initdb` completed here before.
    pub fn is_initialised(&self) -> bool {
        self.data.join("PG_VERSION").is_file()
    }

    /// The `-o` options `pg_ctl` passes to `postgres`.
    pub fn server_options(&self, port: u16) -> String {
        let sockets = super::privilege::shell_quote(self.sockets.as_os_str());
        format!("-p {port} -k {sockets} -c listen_addresses=127.0.0.1")
    }
}

async fn private_cluster(bin_dir: &Path) -> Result<PgServer> {
    let layout = ClusterLayout::new(crate::workspace::target_dir().join("pg-cluster"));
    let run_as = RunAs::for_postgres()?;
    let server = |port| PgServer {
        app_url: local_url(SUPERUSER, SHARED_HOST, port, APP_DATABASE),
        admin_url: local_url(SUPERUSER, SHARED_HOST, port, MAINTENANCE_DATABASE),
        origin: PgOrigin::PrivateCluster,
    };

    if layout.is_initialised()
        && let Some(port) = read_port_file(&layout.port_file)
        && net::tcp_answers(SHARED_HOST, port, Duration::from_secs(1))
        && db::connect(&server(port).admin_url).await.is_ok()
    {
        println!(
            "xtask: PostgreSQL: private cluster {} already running on port {port}",
            layout.root.display()
        );
        return Ok(server(port));
    }

    std::fs::create_dir_all(&layout.sockets)
        .with_context(|| format!("cannot create {}", layout.sockets.display()))?;
    run_as.chown_tree(&layout.root)?;
    if !layout.is_initialised() {
        initdb(bin_dir, &layout, &run_as)?;
    }
    let port = match read_port_file(&layout.port_file) {
        Some(port) if net::port_is_free(port) => port,
        _ => net::free_port().context("cannot find a free TCP port")?,
    };
    std::fs::write(&layout.port_file, format!("{port}\n"))
        .with_context(|| format!("cannot write {}", layout.port_file.display()))?;
    run_as.chown_tree(&layout.root)?;
    start(bin_dir, &layout, &run_as, port)?;
    let server = server(port);
    db::wait_until_accepting(&server.admin_url, Duration::from_secs(30)).await?;
    println!(
        "xtask: PostgreSQL: private cluster {} running on 127.0.0.1:{port} (stop it with \
         `pg_ctl stop -D {}`{})",
        layout.root.display(),
        layout.data.display(),
        match &run_as {
            RunAs::Myself => String::new(),
            RunAs::User(account) => format!(" as user {}", account.name),
        }
    );
    Ok(server)
}

fn initdb(bin_dir: &Path, layout: &ClusterLayout, run_as: &RunAs) -> Result<()> {
    if layout.data.exists() {
        // A previous initdb was interrupted: start over.
        std::fs::remove_dir_all(&layout.data)
            .with_context(|| format!("cannot remove the incomplete {}", layout.data.display()))?;
    }
    println!(
        "xtask: PostgreSQL: creating a private cluster in {} as {}",
        layout.data.display(),
        run_as.describe()
    );
    let args: Vec<OsString> = vec![
        "-D".into(),
        layout.data.clone().into(),
        "--auth=trust".into(),
        format!("--username={SUPERUSER}").into(),
        "--encoding=UTF8".into(),
        "--no-sync".into(),
    ];
    let mut command = run_as.command(&bin_dir.join("initdb"), &args);
    command.current_dir(&layout.root);
    run_checked(command, "initdb", None)
}

fn start(bin_dir: &Path, layout: &ClusterLayout, run_as: &RunAs, port: u16) -> Result<()> {
    println!("xtask: PostgreSQL: starting the private cluster on 127.0.0.1:{port}");
    let args: Vec<OsString> = vec![
        "start".into(),
        "-D".into(),
        layout.data.clone().into(),
        "-l".into(),
        layout.log.clone().into(),
        "-w".into(),
        "-t".into(),
        "60".into(),
        "-o".into(),
        layout.server_options(port).into(),
    ];
    let mut command = run_as.command(&bin_dir.join("pg_ctl"), &args);
    command.current_dir(&layout.root);
    run_checked(command, "pg_ctl start", Some(&layout.log))
}

fn run_checked(mut command: std::process::Command, what: &str, log: Option<&Path>) -> Result<()> {
    let output = command
        .output()
        .with_context(|| format!("cannot run {what} ({command:?})"))?;
    if output.status.success() {
        return Ok(());
    }
    let mut message = format!(
        "{what} failed ({})\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if let Some(log) = log
        && let Ok(text) = std::fs::read_to_string(log)
    {
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        message.push_str(&format!("\nlast lines of {}:\n", log.display()));
        for line in tail.into_iter().rev() {
            message.push_str(line);
            message.push('\n');
        }
    }
    bail!(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_layout_keeps_everything_under_its_root() {
        let layout = ClusterLayout::new(PathBuf::from("/w/target/pg-cluster"));
        for path in [
            &layout.data,
            &layout.sockets,
            &layout.log,
            &layout.port_file,
        ] {
            assert!(
                path.starts_with("/w/target/pg-cluster"),
                "{}",
                path.display()
            );
        }
        assert!(!layout.is_initialised());
    }

    #[test]
    fn server_options_name_port_socket_dir_and_loopback_only() {
        let layout = ClusterLayout::new(PathBuf::from("/w/my target/pg-cluster"));
        assert_eq!(
            layout.server_options(54321),
            "-p 54321 -k '/w/my target/pg-cluster/sockets' -c listen_addresses=127.0.0.1"
        );
    }
}
