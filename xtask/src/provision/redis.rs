//! Redis: `REDIS_URL`, else 127.0.0.1:6379 if it answers PING, else a private `redis-server`
//! under `target/redis`, else none (the server then runs with its in-process cache only).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{binaries, env_nonempty, read_port_file};
use crate::net;

const SHARED_HOST: &str = "127.0.0.1";
const SHARED_PORT: u16 = 6379;
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// A Redis server to hand to the API and the tests.
#[derive(Debug, Clone)]
pub struct RedisServer {
    pub url: String,
}

/// Finds or starts Redis; `None` (after saying so) when there is none to be had.
pub fn provision(opts: &crate::GlobalOpts) -> Option<RedisServer> {
    if let Some(url) = env_nonempty("REDIS_URL") {
        println!("xtask: Redis: using REDIS_URL");
        return Some(RedisServer { url });
    }
    if opts.private_redis {
        println!(
            "xtask: Redis: XTASK_FORCE_PRIVATE_REDIS set, not probing {SHARED_HOST}:{SHARED_PORT}"
        );
    } else if net::redis_pings(SHARED_HOST, SHARED_PORT, PROBE_TIMEOUT) {
        println!("xtask: Redis: using the server on {SHARED_HOST}:{SHARED_PORT}");
        return Some(RedisServer {
            url: redis_url(SHARED_PORT),
        });
    }
    let Some(program) = binaries::find_redis_server() else {
        println!(
            "xtask: Redis: nothing answers on {SHARED_HOST}:{SHARED_PORT} and redis-server is \
             not installed; the server will run without L2 (in-process L1 cache only)"
        );
        return None;
    };
    let dir = crate::workspace::target_dir().join("redis");
    match private_server(&program, &dir) {
        Ok(port) => Some(RedisServer {
            url: redis_url(port),
        }),
        Err(error) => {
            println!(
                "xtask: Redis: could not start a private redis-server ({error:#}); the server \
                 will run without L2 (in-process L1 cache only)"
            );
            None
        }
    }
}

/// `redis://127.0.0.1:<port>`.
pub fn redis_url(port: u16) -> String {
    format!("redis://{SHARED_HOST}:{port}")
}

/// Arguments starting a daemonised, non-persistent redis-server bound to loopback.
pub fn server_args(dir: &Path, port: u16) -> Vec<String> {
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    vec![
        "--port".into(),
        port.to_string(),
        "--bind".into(),
        SHARED_HOST.into(),
        "--save".into(),
        String::new(),
        "--appendonly".into(),
        "no".into(),
        "--daemonize".into(),
        "yes".into(),
        "--pidfile".into(),
        path("redis.pid"),
        "--logfile".into(),
        path("redis.log"),
        "--dir".into(),
        dir.to_string_lossy().into_owned(),
    ]
}

fn private_server(program: &PathBuf, dir: &Path) -> Result<u16> {
    let port_file = dir.join("port");
    if let Some(port) = read_port_file(&port_file)
        && net::redis_pings(SHARED_HOST, port, PROBE_TIMEOUT)
    {
        println!("xtask: Redis: private redis-server already running on port {port}");
        return Ok(port);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let port = net::free_port().context("cannot find a free TCP port")?;
    let output = Command::new(program)
        .args(server_args(dir, port))
        .output()
        .with_context(|| format!("cannot run {}", program.display()))?;
    if !output.status.success() {
        bail!(
            "redis-server exited with {}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::write(&port_file, format!("{port}\n"))
        .with_context(|| format!("cannot write {}", port_file.display()))?;
    let started = Instant::now();
    while !net::redis_pings(SHARED_HOST, port, PROBE_TIMEOUT) {
        if started.elapsed() > Duration::from_secs(10) {
            bail!(
                "redis-server on port {port} did not answer PING within 10s (see {})",
                dir.join("redis.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "xtask: Redis: private redis-server running on 127.0.0.1:{port} (pid file {})",
        dir.join("redis.pid").display()
    );
    Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_redis_is_loopback_only_and_keeps_nothing_on_disk() {
        let args = server_args(Path::new("/w/target/redis"), 6400);
        let value = |flag: &str| {
            let at = args.iter().position(|a| a == flag).expect(flag);
            args[at + 1].clone()
        };
        assert_eq!(value("--port"), "6400");
        assert_eq!(value("--bind"), "127.0.0.1");
        assert_eq!(value("--save"), "");
        assert_eq!(value("--appendonly"), "no");
        assert_eq!(value("--daemonize"), "yes");
        assert_eq!(value("--dir"), "/w/target/redis");
        assert_eq!(value("--pidfile"), "/w/target/redis/redis.pid");
        assert_eq!(redis_url(6400), "redis://127.0.0.1:6400");
    }
}
