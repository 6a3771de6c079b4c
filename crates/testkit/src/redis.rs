//! Per-test Redis namespaces.
//!
//! Every [`TestRedis`] shares one Redis server (the one named by `TEST_REDIS_URL`, else the
//! local default, else a private `redis-server` started once per test process) and gets its
//! own key prefix, so tests run in parallel without seeing each other's keys. Nothing here
//! ever flushes the database.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::OnceCell;

const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

static SERVER_URL: OnceCell<String> = OnceCell::const_new();
static WATCHDOG: Mutex<Option<Child>> = Mutex::new(None);

/// A unique namespace on a reachable Redis server.
#[derive(Debug, Clone)]
pub struct TestRedis {
    /// Connection URL of the server.
    pub url: String,
    /// Unique key prefix for this test, `test:<uuid>:`.
    pub prefix: String,
}

impl TestRedis {
    /// Finds (or starts) a Redis server and hands out a fresh prefix.
    ///
    /// # Panics
    /// When no server answers and no `redis-server` binary is installed.
    pub async fn new() -> TestRedis {
        let url = SERVER_URL.get_or_init(locate_server).await.clone();
        TestRedis {
            url,
            prefix: format!("test:{}:", uuid::Uuid::new_v4().simple()),
        }
    }

    /// The server's socket address, for putting a [`crate::TcpProxy`] in front of it.
    ///
    /// # Panics
    /// When the URL names no resolvable host and port.
    #[must_use]
    pub fn socket_address(&self) -> std::net::SocketAddr {
        use std::net::ToSocketAddrs;
        let authority = self
            .url
            .trim_start_matches("redis://")
            .split('/')
            .next()
            .unwrap_or_default();
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        host_port
            .to_socket_addrs()
            .ok()
            .and_then(|mut addresses| addresses.next())
            .unwrap_or_else(|| panic!("no socket address in {}", self.url))
    }

    /// A fresh (unpooled) connection to the server, for planting and inspecting keys.
    ///
    /// # Panics
    /// When the server stopped answering.
    pub async fn connection(&self) -> MultiplexedConnection {
        connect(&self.url)
            .await
            .unwrap_or_else(|| panic!("Redis at {} stopped answering", self.url))
    }

    /// How many keys exist under this test's prefix (walked with SCAN, never KEYS).
    ///
    /// # Panics
    /// When the server stopped answering.
    pub async fn key_count(&self) -> usize {
        let mut conn = self.connection().await;
        let pattern = format!("{}*", escape_glob(&self.prefix));
        let mut cursor: u64 = 0;
        let mut count = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await
                .expect("SCAN on the test Redis");
            count += keys.len();
            if next == 0 {
                return count;
            }
            cursor = next;
        }
    }
}

fn escape_glob(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    for c in literal.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

async fn connect(url: &str) -> Option<MultiplexedConnection> {
    let client = redis::Client::open(url).ok()?;
    let mut conn = tokio::time::timeout(
        Duration::from_secs(2),
        client.get_multiplexed_async_connection(),
    )
    .await
    .ok()?
    .ok()?;
    let pong: String = tokio::time::timeout(
        Duration::from_secs(2),
        redis::cmd("PING").query_async(&mut conn),
    )
    .await
    .ok()?
    .ok()?;
    (pong == "PONG").then_some(conn)
}

async fn locate_server() -> String {
    if let Ok(url) = std::env::var("TEST_REDIS_URL") {
        if connect(&url).await.is_none() {
            panic!("TEST_REDIS_URL is set to {url}, but no Redis answers PING there");
        }
        return url;
    }
    if connect(DEFAULT_URL).await.is_some() {
        return DEFAULT_URL.to_owned();
    }
    start_private_server().await
}

/// Starts `redis-server` on a free port, watched by a small shell loop that stops it when
/// this test process exits (so no server outlives the run).
async fn start_private_server() -> String {
    let installed = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        panic!(
            "Redis is not reachable at {DEFAULT_URL} and no redis-server binary is installed; \
             install redis-server or set TEST_REDIS_URL"
        );
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port for the private redis-server");
    let dir = target_dir().join("testkit-redis").join(port.to_string());
    std::fs::create_dir_all(&dir).expect("create the private redis-server directory");
    let script = format!(
        "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no \
         --daemonize no --dir '{dir}' --pidfile '{dir}/redis.pid' >'{dir}/redis.log' 2>&1 & \
         child=$!; while kill -0 {parent} 2>/dev/null && kill -0 $child 2>/dev/null; \
         do sleep 1; done; kill $child 2>/dev/null",
        dir = dir.display(),
        parent = std::process::id(),
    );
    let watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the private redis-server");
    // Kept (never waited for): the watchdog ends on its own when this process exits.
    WATCHDOG
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .replace(watchdog);
    let url = format!("redis://127.0.0.1:{port}");
    for _ in 0..100 {
        if connect(&url).await.is_some() {
            return url;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "started redis-server on port {port}, but it did not answer within 5 s (log: {}/redis.log)",
        dir.display()
    );
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}
