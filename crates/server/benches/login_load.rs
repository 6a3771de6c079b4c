//! Login throughput at the default bcrypt cost, and what a burst of logins does to the
//! latency of everything else: `GET /health` is timed alone (the baseline) and again while
//! 20 clients log in continuously, against the real server, PostgreSQL and Redis.
//!
//! Run with `cargo bench -p server --bench login_load`; `LOGIN_LOAD_SECONDS` sets the
//! length of the loaded phase (default 10). Results are printed, never asserted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use server::{Application, StartOptions, config::Config};
use testkit::{TestDatabase, TestRedis};

const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "Bench-Pass-123!";
const CONCURRENT_LOGINS: usize = 20;

fn main() {
    // `cargo test --benches` runs bench targets without `--bench`: do nothing then.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let seconds: u64 = std::env::var("LOGIN_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let database = TestDatabase::new().await;
    let redis = TestRedis::new().await;
    let vars: HashMap<String, String> = [
        ("DATABASE_URL", database.url.as_str()),
        ("REDIS_URL", redis.url.as_str()),
        ("REDIS_KEY_PREFIX", redis.prefix.as_str()),
        ("HOST", "127.0.0.1"),
        ("LOG_LEVEL", "warn"),
        ("RATE_LIMIT_ENABLED", "false"),
        ("ADMIN_BOOTSTRAP_EMAIL", EMAIL),
        ("ADMIN_BOOTSTRAP_PASSWORD", PASSWORD),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = Config::from_vars(&vars).expect("bench configuration");
    let cost = config.auth.bcrypt_cost;
    let app = Application::build(
        config,
        StartOptions {
            ephemeral_port: true,
            ..StartOptions::default()
        },
    )
    .await
    .expect("server builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();

    let idle = health_latencies(&client, &base, Duration::from_secs(3)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let logins = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENT_LOGINS)
        .map(|_| {
            let (client, base, stop, logins) =
                (client.clone(), base.clone(), stop.clone(), logins.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let response = client
                        .post(format!("{base}/api/v1/auth/login"))
                        .json(&serde_json::json!({"email": EMAIL, "password": PASSWORD}))
                        .send()
                        .await
                        .expect("login request");
                    assert_eq!(response.status(), 200);
                    logins.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let loaded = health_latencies(&client, &base, Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.expect("login worker");
    }
    let elapsed = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let throughput = logins.load(Ordering::Relaxed) as f64 / elapsed;

    println!(
        "login_load: bcrypt cost {cost}, {CONCURRENT_LOGINS} concurrent login clients, {seconds} s"
    );
    println!("  logins/s                    {throughput:.1}");
    report("GET /health idle", &idle);
    report("GET /health during logins", &loaded);
    println!(
        "  p99 ratio loaded/idle       {:.2}",
        percentile(&loaded, 0.99).as_secs_f64() / percentile(&idle, 0.99).as_secs_f64()
    );
    handle.stop(true).await;
    server
        .await
        .expect("server task")
        .expect("server stops cleanly");
}

/// Times `GET /health` back to back, 10 ms apart, for `length`.
async fn health_latencies(client: &reqwest::Client, base: &str, length: Duration) -> Vec<Duration> {
    let until = Instant::now() + length;
    let mut samples = Vec::new();
    while Instant::now() < until {
        let start = Instant::now();
        let response = client
            .get(format!("{base}/health"))
            .send()
            .await
            .expect("health request");
        assert_eq!(response.status(), 200);
        samples.push(start.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    samples.sort();
    samples
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index]
}

fn report(name: &str, sorted: &[Duration]) {
    println!(
        "  {name:<27} p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms  ({} samples)",
        percentile(sorted, 0.5).as_secs_f64() * 1000.0,
        percentile(sorted, 0.99).as_secs_f64() * 1000.0,
        sorted.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        sorted.len()
    );
}
