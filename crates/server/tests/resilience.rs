//! Degrading instead of falling over: the database going away and coming back while the
//! server runs, simulated with a switchable TCP proxy in front of the real PostgreSQL.

#![allow(clippy::unwrap_used)]

mod common;

use std::{net::SocketAddr, time::Duration};

use common::{base_vars, start};
use serde_json::Value;
use testkit::{TcpProxy, TestDatabase, TestRedis};

/// Rewrites `postgres://user@host:port/db` to go through `proxy`.
fn through_proxy(url: &str, proxy: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let credentials = authority
        .rsplit_once('@')
        .map(|(c, _)| format!("{c}@"))
        .unwrap_or_default();
    format!("{scheme}://{credentials}{proxy}/{path}")
}

/// The socket address named by a `scheme://[credentials@]host[:port][/...]` URL.
fn target_of(url: &str, default_port: u16) -> SocketAddr {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:{default_port}")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&host_port.replace("localhost", "127.0.0.1"))
        .unwrap()
        .next()
        .unwrap()
}

#[tokio::test]
async fn database_outage_gives_503_and_the_server_recovers_by_itself() {
    let database = TestDatabase::new().await;
    let redis = TestRedis::new().await;
    let proxy = TcpProxy::start(target_of(&database.url, 5432)).await;
    let mut vars = base_vars(&database, &redis);
    vars.insert(
        "DATABASE_URL".into(),
        through_proxy(&database.url, proxy.address()),
    );
    let app = start(vars, database, redis, None).await;
    assert_eq!(app.get("/ready").await.status(), 200);

    proxy.go_down().await;
    let ready = app.get("/ready").await;
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        serde_json::json!({"ready": false, "reason": "database not ready"})
    );
    let health = app.get("/health").await;
    assert_eq!(health.status(), 503);
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["database"], "down");
    assert_eq!(body["service"], "task-manager-backend");
    // The process itself is alive and says so.
    assert_eq!(app.get("/live").await.status(), 200);

    proxy.come_back();
    let mut recovered = false;
    for _ in 0..60 {
        if app.get("/ready").await.status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        recovered,
        "the server did not recover after the database returned"
    );
    assert_eq!(app.get("/health").await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn a_server_started_without_redis_reports_it_down_and_keeps_serving() {
    let database = TestDatabase::new().await;
    let redis = TestRedis::new().await;
    let proxy = TcpProxy::start(target_of(&redis.url, 6379)).await;
    proxy.go_down().await;
    let mut vars = base_vars(&database, &redis);
    vars.insert("REDIS_URL".into(), format!("redis://{}/0", proxy.address()));
    let app = start(vars, database, redis, None).await;
    let body: Value = app.get("/health").await.json().await.unwrap();
    assert_eq!(body["redis"], "down");
    assert_eq!(body["status"], "healthy");

    // Redis appears later: the same pool reconnects without a restart.
    proxy.come_back();
    let mut up = false;
    for _ in 0..40 {
        let body: Value = app.get("/health").await.json().await.unwrap();
        if body["redis"] == "up" {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(up, "Redis was not picked up after it appeared");
    app.stop().await;
}
