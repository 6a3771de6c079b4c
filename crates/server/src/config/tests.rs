#![allow(clippy::unwrap_used)]

use std::{collections::HashMap, time::Duration};

use super::*;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_vars(&vars(pairs))
}

fn production_with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut all = vec![("ENVIRONMENT", "production")];
    all.extend_from_slice(pairs);
    load(&all)
}

#[test]
fn defaults_match_the_contract() {
    let config = load(&[]).unwrap();
    assert_eq!(config.server.host, "localhost");
    assert_eq!(config.server.port, 8080);
    assert_eq!(config.server.read_timeout, Duration::from_secs(30));
    assert_eq!(config.server.write_timeout, Duration::from_secs(30));
    assert_eq!(config.server.idle_timeout, Duration::from_secs(60));
    assert_eq!(
        config.database.url.expose(),
        "postgres://postgres@localhost:5432/task_manager?sslmode=disable"
    );
    assert_eq!(config.database.max_open_conns, 25);
    assert_eq!(config.database.max_idle_conns, 10);
    assert_eq!(config.database.conn_max_lifetime, Duration::from_secs(3600));
    assert_eq!(
        config.database.conn_max_idle_time,
        Duration::from_secs(1800)
    );
    assert_eq!(config.redis.url.expose(), "redis://localhost:6379/0");
    assert_eq!(config.redis.pool_size, 10);
    assert_eq!(config.redis.min_idle_conns, 5);
    assert_eq!(config.redis.max_retries, 3);
    assert_eq!(config.redis.dial_timeout, Duration::from_secs(5));
    assert_eq!(config.redis.read_timeout, Duration::from_secs(3));
    assert_eq!(config.redis.write_timeout, Duration::from_secs(3));
    assert_eq!(config.redis.key_prefix, "");
    assert_eq!(config.auth.jwt_secret.expose(), DEVELOPMENT_JWT_SECRET);
    assert_eq!(config.auth.access_token_ttl, Duration::from_secs(3600));
    assert_eq!(
        config.auth.refresh_token_ttl,
        Duration::from_secs(168 * 3600)
    );
    assert_eq!(config.auth.bcrypt_cost, 10);
    assert!(config.rate_limit.enabled);
    assert_eq!(config.rate_limit.requests_per_minute, 100);
    assert_eq!(config.rate_limit.burst, 10);
    assert_eq!(config.rate_limit.cleanup, Duration::from_secs(600));
    assert_eq!(config.rate_limit.trusted_proxies.len(), 6);
    assert_eq!(
        config.cors.origins,
        ["http://localhost:3000", "http://host.docker.internal"]
    );
    assert_eq!(
        config.cors.methods,
        ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
    );
    assert_eq!(
        config.cors.headers,
        ["Origin", "Content-Type", "Authorization"]
    );
    assert_eq!(config.worker_concurrency, 4);
    assert_eq!(config.worker_poll_interval, Duration::from_secs(5));
    assert_eq!(config.logging.level, "info");
    assert_eq!(config.logging.format, LogFormat::Json);
    assert!(config.admin_bootstrap.is_none());
    assert!(!config.is_production());
}

#[test]
fn database_variables_build_the_url() {
    let config = load(&[
        ("DB_HOST", "db.internal"),
        ("DB_PORT", "6543"),
        ("DB_USER", "app"),
        ("DB_PASSWORD", "p@ss:word"),
        ("DB_NAME", "tasks"),
        ("DB_SSLMODE", "require"),
    ])
    .unwrap();
    assert_eq!(
        config.database.url.expose(),
        "postgres://app:p%40ss%3Aword@db.internal:6543/tasks?sslmode=require"
    );
    assert_eq!(config.database.password.expose(), "p@ss:word");
}

#[test]
fn db_ssl_mode_wins_over_its_alias() {
    let config = load(&[("DB_SSL_MODE", "prefer"), ("DB_SSLMODE", "require")]).unwrap();
    assert!(config.database.url.expose().ends_with("sslmode=prefer"));
}

#[test]
fn database_url_and_redis_url_take_precedence() {
    let config = load(&[
        ("DATABASE_URL", "postgres://u:secret@h:1/d"),
        ("DB_HOST", "ignored"),
        ("REDIS_URL", "redis://:pw@r:2/3"),
        ("REDIS_HOST", "ignored"),
    ])
    .unwrap();
    assert_eq!(config.database.url.expose(), "postgres://u:secret@h:1/d");
    assert_eq!(config.database.password.expose(), "secret");
    assert_eq!(config.redis.url.expose(), "redis://:pw@r:2/3");
}

#[test]
fn redis_variables_build_the_url() {
    let config = load(&[
        ("REDIS_HOST", "cache"),
        ("REDIS_PORT", "6380"),
        ("REDIS_PASSWORD", "s3cret"),
        ("REDIS_DB", "2"),
        ("REDIS_KEY_PREFIX", "blue:"),
    ])
    .unwrap();
    assert_eq!(config.redis.url.expose(), "redis://:s3cret@cache:6380/2");
    assert_eq!(config.redis.key_prefix, "blue:");
}

#[test]
fn durations_use_the_contract_text_form() {
    let config = load(&[
        ("ACCESS_TOKEN_TTL", "15m"),
        ("REFRESH_TOKEN_TTL", "1h30m"),
        ("READ_TIMEOUT", "500ms"),
    ])
    .unwrap();
    assert_eq!(config.auth.access_token_ttl, Duration::from_secs(900));
    assert_eq!(config.auth.refresh_token_ttl, Duration::from_secs(5400));
    assert_eq!(config.server.read_timeout, Duration::from_millis(500));
}

#[test]
fn an_unparsable_value_names_its_variable() {
    for (name, value) in [
        ("ACCESS_TOKEN_TTL", "fifteen minutes"),
        ("RATE_LIMIT_RPM", "lots"),
        ("RATE_LIMIT_ENABLED", "yes"),
        ("PORT", "70000"),
        ("BCRYPT_COST", "40"),
        ("TRUSTED_PROXIES", "10.0.0.0/8,not-a-network"),
        ("LOG_FORMAT", "xml"),
        ("REDIS_DB", "-1"),
        ("RATE_LIMIT_BURST", "0"),
    ] {
        let error = load(&[(name, value)]).unwrap_err();
        let message = error.to_string();
        assert!(message.contains(name), "{name}: {message}");
    }
}

#[test]
fn booleans_accept_every_documented_spelling() {
    for text in ["1", "t", "T", "TRUE", "true", "True"] {
        assert!(
            load(&[("RATE_LIMIT_ENABLED", text)])
                .unwrap()
                .rate_limit
                .enabled
        );
    }
    for text in ["0", "f", "F", "FALSE", "false", "False"] {
        assert!(
            !load(&[("RATE_LIMIT_ENABLED", text)])
                .unwrap()
                .rate_limit
                .enabled
        );
    }
}

#[test]
fn lists_are_trimmed_and_configurable() {
    let config = load(&[
        ("CORS_ORIGINS", " http://a.example , http://b.example ,"),
        ("TRUSTED_PROXIES", "10.1.2.3, 192.168.0.0/16"),
    ])
    .unwrap();
    assert_eq!(
        config.cors.origins,
        ["http://a.example", "http://b.example"]
    );
    assert_eq!(config.rate_limit.trusted_proxies.len(), 2);
    assert_eq!(
        config.rate_limit.trusted_proxies[0].to_string(),
        "10.1.2.3/32"
    );
}

#[test]
fn production_requires_a_database_password() {
    let error = production_with(&[("JWT_SECRET", "a-real-secret")]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "database password is required in production"
    );
}

#[test]
fn production_requires_a_password_in_database_url_too() {
    let error = production_with(&[
        ("DATABASE_URL", "postgres://app@db/tasks"),
        ("JWT_SECRET", "a-real-secret"),
    ])
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "database password is required in production"
    );
}

#[test]
fn production_refuses_an_unset_or_builtin_jwt_secret() {
    for secret in [
        None,
        Some("default_secret_change_in_production"),
        Some("your-secret-key"),
    ] {
        let mut pairs = vec![("DB_PASSWORD", "pw")];
        if let Some(secret) = secret {
            pairs.push(("JWT_SECRET", secret));
        }
        let error = production_with(&pairs).unwrap_err();
        assert_eq!(
            error.to_string(),
            "JWT secret must be set in production",
            "{secret:?}"
        );
    }
}

#[test]
fn production_accepts_real_secrets() {
    let config = production_with(&[("DB_PASSWORD", "pw"), ("JWT_SECRET", "k3y")]).unwrap();
    assert!(config.is_production());
}

#[test]
fn development_accepts_the_builtin_secret_and_no_password() {
    assert!(load(&[("ENVIRONMENT", "development")]).is_ok());
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let config = load(&[
        ("DB_PASSWORD", "db-pass-123"),
        ("REDIS_PASSWORD", "redis-pass-456"),
        ("JWT_SECRET", "jwt-secret-789"),
        ("ADMIN_BOOTSTRAP_EMAIL", "root@example.com"),
        ("ADMIN_BOOTSTRAP_PASSWORD", "Admin-pass-0!"),
    ])
    .unwrap();
    let debug = format!("{config:?}");
    for secret in [
        "db-pass-123",
        "redis-pass-456",
        "jwt-secret-789",
        "Admin-pass-0!",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
    }
    assert!(debug.contains("[redacted]"));
}

#[test]
fn admin_bootstrap_needs_both_variables() {
    let config = load(&[
        ("ADMIN_BOOTSTRAP_EMAIL", "root@example.com"),
        ("ADMIN_BOOTSTRAP_PASSWORD", "Admin-pass-0!"),
    ])
    .unwrap();
    let bootstrap = config.admin_bootstrap.unwrap();
    assert_eq!(bootstrap.email, "root@example.com");
    assert_eq!(bootstrap.password.expose(), "Admin-pass-0!");

    let error = load(&[("ADMIN_BOOTSTRAP_EMAIL", "root@example.com")]).unwrap_err();
    assert!(error.to_string().contains("ADMIN_BOOTSTRAP_PASSWORD"));
}

#[test]
fn empty_values_count_as_unset() {
    let config = load(&[("PORT", ""), ("DB_NAME", "  ")]).unwrap();
    assert_eq!(config.server.port, 8080);
    assert!(config.database.url.expose().contains("/task_manager?"));
}
