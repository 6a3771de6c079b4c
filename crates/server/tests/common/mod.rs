//! The integration-test harness: the real server, built by the same `Application::build`
//! as production, on port 0, over its own database and Redis prefix.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;

use actix_web::dev::ServerHandle;
use server::{Application, StartOptions, config::Config};
use testkit::{TestDatabase, TestRedis};

/// A running server and what it runs on.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub database: TestDatabase,
    pub redis: TestRedis,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// Stops the server gracefully and waits for its shutdown to finish; hands back the
    /// database and Redis namespace for tests that inspect them afterwards.
    pub async fn stop(self) -> (TestDatabase, TestRedis) {
        self.handle.stop(true).await;
        self.task.await.unwrap().unwrap();
        (self.database, self.redis)
    }
}

/// Settings every test starts from; `overrides` replace or add variables.
pub fn base_vars(database: &TestDatabase, redis: &TestRedis) -> HashMap<String, String> {
    [
        ("DATABASE_URL", database.url.as_str()),
        ("REDIS_URL", redis.url.as_str()),
        ("REDIS_KEY_PREFIX", redis.prefix.as_str()),
        ("HOST", "127.0.0.1"),
        ("LOG_FORMAT", "text"),
        ("BCRYPT_COST", "4"),
        // Most tests send many requests from one address; the limiter's own tests enable it.
        ("RATE_LIMIT_ENABLED", "false"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[], None).await
}

/// Starts the real server with extra variables and optional extra routes.
pub async fn spawn_app_with(
    overrides: &[(&str, &str)],
    extra_routes: Option<http_api::ExtraRoutes>,
) -> TestApp {
    let database = TestDatabase::new().await;
    let redis = TestRedis::new().await;
    let mut vars = base_vars(&database, &redis);
    for (key, value) in overrides {
        vars.insert((*key).to_owned(), (*value).to_owned());
    }
    start(vars, database, redis, extra_routes).await
}

pub async fn start(
    vars: HashMap<String, String>,
    database: TestDatabase,
    redis: TestRedis,
    extra_routes: Option<http_api::ExtraRoutes>,
) -> TestApp {
    let config = Config::from_vars(&vars).expect("test configuration is valid");
    let options = StartOptions {
        ephemeral_port: true,
        handle_signals: false,
        extra_routes,
        ..StartOptions::default()
    };
    let app = Application::build(config, options)
        .await
        .expect("the application builds");
    let port = app.port();
    let handle = app.handle();
    let task = tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        database,
        redis,
        handle,
        task,
    }
}

/// Asserts the six security headers of contract 3.2.
pub fn assert_security_headers(response: &reqwest::Response) {
    let expected = [
        (
            "strict-transport-security",
            "max-age=63072000; includeSubDomains",
        ),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("x-xss-protection", "1; mode=block"),
        ("referrer-policy", "no-referrer"),
        ("content-security-policy", "default-src 'self'"),
    ];
    for (name, value) in expected {
        let got = response.headers().get_all(name).iter().collect::<Vec<_>>();
        assert_eq!(
            got.len(),
            1,
            "{name} should appear exactly once on {}",
            response.status()
        );
        assert_eq!(got[0], value, "{name} on {}", response.status());
    }
}

/// Another server instance on an existing database and Redis (it owns neither: the first
/// [`TestApp`] keeps them alive and drops them).
pub struct Instance {
    pub address: String,
    pub client: reqwest::Client,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Instance {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Stops the server gracefully and waits for its shutdown to finish.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        self.task.await.unwrap().unwrap();
    }
}

/// Starts a second instance sharing `first`'s database and Redis prefix, with the same
/// base settings plus `overrides` (pass the same `JWT_SECRET` as the first instance).
pub async fn spawn_second_instance(
    first: &TestApp,
    overrides: &[(&str, &str)],
    extra_routes: Option<http_api::ExtraRoutes>,
) -> Instance {
    let mut vars = base_vars(&first.database, &first.redis);
    for (key, value) in overrides {
        vars.insert((*key).to_owned(), (*value).to_owned());
    }
    let config = Config::from_vars(&vars).expect("test configuration is valid");
    let options = StartOptions {
        ephemeral_port: true,
        handle_signals: false,
        extra_routes,
        ..StartOptions::default()
    };
    let app = Application::build(config, options)
        .await
        .expect("the second instance builds");
    let port = app.port();
    let handle = app.handle();
    let task = tokio::spawn(app.run_until_stopped());
    Instance {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        handle,
        task,
    }
}

/// The admin account the `with_admin` vars bootstrap at start-up (D-33).
pub const ADMIN_EMAIL: &str = "root@example.com";
pub const ADMIN_PASSWORD: &str = "Root-Pass-123!";
/// The password of every user [`register`] creates.
pub const USER_PASSWORD: &str = "User-Pass-123!";

/// Variables that make the server bootstrap the admin account, plus `extra`.
pub fn with_admin<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut vars = vec![
        ("ADMIN_BOOTSTRAP_EMAIL", ADMIN_EMAIL),
        ("ADMIN_BOOTSTRAP_PASSWORD", ADMIN_PASSWORD),
    ];
    vars.extend_from_slice(extra);
    vars
}

/// A logged-in user: id and access token.
pub struct Session {
    pub id: String,
    pub token: String,
}

/// Logs in through the API; panics unless it answers 200.
pub async fn login(base: &str, client: &reqwest::Client, email: &str, password: &str) -> Session {
    let response = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "login of {email}");
    let body: serde_json::Value = response.json().await.unwrap();
    Session {
        id: body["user"]["id"].as_str().unwrap().to_owned(),
        token: body["access_token"].as_str().unwrap().to_owned(),
    }
}

/// Registers `name` (email `name@example.com`, [`USER_PASSWORD`]) in `department`, then
/// logs in.
pub async fn register(app: &TestApp, name: &str, department: &str) -> Session {
    let email = format!("{name}@example.com");
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&serde_json::json!({
            "username": name, "email": email, "password": USER_PASSWORD,
            "first_name": "First", "last_name": "Last", "department": department,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "registration of {name}");
    login(&app.address, &app.client, &email, USER_PASSWORD).await
}
