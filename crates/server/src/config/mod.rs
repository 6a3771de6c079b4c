//! The service's configuration: every environment variable of contract section 15, parsed
//! once at start into typed values. An unparsable value stops the start with a message that
//! names the variable (D-42); secrets never appear in `Debug` output or logs.

mod parse;
mod secret;
#[cfg(test)]
mod tests;

use std::{collections::HashMap, net::IpAddr, time::Duration};

use ipnet::IpNet;

pub use parse::ConfigError;
use parse::Vars;
pub use secret::Secret;

/// The JWT secret used outside production when none is set (D-28).
pub const DEVELOPMENT_JWT_SECRET: &str = "default_secret_change_in_production";
/// The other well-known fallback from legacy configuration; refused in production (D-28).
const LEGACY_JWT_SECRET: &str = "your-secret-key";

/// Which kind of deployment this is; production enables the start-up checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Environment {
    /// `ENVIRONMENT=production`.
    Production,
    /// Anything else (`development` by default), kept verbatim for logs.
    Other(String),
}

/// Output format of the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (the default, for log collectors).
    Json,
    /// Human-readable lines, for a terminal.
    Text,
}

/// Everything the server needs to know, with the contract's defaults.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub environment: Environment,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub auth: AuthConfig,
    pub rate_limit: RateLimitConfig,
    pub cors: CorsConfig,
    pub logging: LoggingConfig,
    /// Accepted for compatibility; the cache-warming system uses its own five workers.
    pub worker_concurrency: u32,
    /// Accepted for compatibility; unused.
    pub worker_poll_interval: Duration,
    pub admin_bootstrap: Option<AdminBootstrap>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    pub idle_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// The connection URL, built from `DB_*` unless `DATABASE_URL` is set. Holds the password.
    pub url: Secret,
    /// The password alone (from the URL when `DATABASE_URL` is used), for the production check.
    pub password: Secret,
    pub max_open_conns: u32,
    pub max_idle_conns: u32,
    pub conn_max_lifetime: Duration,
    pub conn_max_idle_time: Duration,
}

#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// The connection URL, built from `REDIS_*` unless `REDIS_URL` is set.
    pub url: Secret,
    pub pool_size: u32,
    pub min_idle_conns: u32,
    pub max_retries: u32,
    pub dial_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    /// Prepended to every Redis key and channel the service uses.
    pub key_prefix: String,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub jwt_secret: Secret,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub bcrypt_cost: u32,
}

#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub requests_per_minute: u32,
    pub burst: u32,
    pub cleanup: Duration,
    pub trusted_proxies: Vec<IpNet>,
}

#[derive(Debug, Clone)]
pub struct CorsConfig {
    pub origins: Vec<String>,
    pub methods: Vec<String>,
    pub headers: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct LoggingConfig {
    pub level: String,
    pub format: LogFormat,
}

/// The optional admin account created or updated at start-up (D-33).
#[derive(Debug, Clone)]
pub struct AdminBootstrap {
    pub email: String,
    pub password: Secret,
}

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    /// The first variable whose value cannot be parsed, or a failed production check.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Reads configuration from a map of variables (the environment, or a test's map).
    ///
    /// # Errors
    /// The first variable whose value cannot be parsed, or a failed production check.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let v = Vars::new(vars);
        let environment = match v.string("ENVIRONMENT", "development").as_str() {
            "production" => Environment::Production,
            other => Environment::Other(other.to_owned()),
        };
        let config = Self {
            server: ServerConfig {
                host: v.string("HOST", "localhost"),
                port: v.number("PORT", 8080)?,
                read_timeout: v.duration("READ_TIMEOUT", "30s")?,
                write_timeout: v.duration("WRITE_TIMEOUT", "30s")?,
                idle_timeout: v.duration("IDLE_TIMEOUT", "60s")?,
            },
            database: database_config(&v)?,
            redis: redis_config(&v)?,
            auth: AuthConfig {
                jwt_secret: Secret::new(v.string("JWT_SECRET", DEVELOPMENT_JWT_SECRET)),
                access_token_ttl: v.positive_duration("ACCESS_TOKEN_TTL", "1h")?,
                refresh_token_ttl: v.positive_duration("REFRESH_TOKEN_TTL", "168h")?,
                bcrypt_cost: v.number_in("BCRYPT_COST", 10, 4..=31)?,
            },
            rate_limit: RateLimitConfig {
                enabled: v.boolean("RATE_LIMIT_ENABLED", true)?,
                requests_per_minute: v.number_in("RATE_LIMIT_RPM", 100, 1..=u32::MAX)?,
                burst: v.number_in("RATE_LIMIT_BURST", 10, 1..=u32::MAX)?,
                cleanup: v.positive_duration("RATE_LIMIT_CLEANUP", "10m")?,
                trusted_proxies: v.list_with(
                    "TRUSTED_PROXIES",
                    "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7",
                    parse_network,
                )?,
            },
            cors: CorsConfig {
                origins: v.list(
                    "CORS_ORIGINS",
                    "http://localhost:3000,http://host.docker.internal",
                ),
                methods: v.list("CORS_METHODS", "GET,POST,PUT,DELETE,OPTIONS"),
                headers: v.list("CORS_HEADERS", "Origin,Content-Type,Authorization"),
            },
            logging: LoggingConfig {
                level: v.string("LOG_LEVEL", "info"),
                format: match v.string("LOG_FORMAT", "json").to_ascii_lowercase().as_str() {
                    "json" => LogFormat::Json,
                    "text" | "pretty" | "console" => LogFormat::Text,
                    other => return Err(ConfigError::invalid("LOG_FORMAT", other, "json or text")),
                },
            },
            worker_concurrency: v.number("WORKER_CONCURRENCY", 4)?,
            worker_poll_interval: v.duration("WORKER_POLL_INTERVAL", "5s")?,
            admin_bootstrap: admin_bootstrap(&v)?,
            environment,
        };
        config.check_production()?;
        Ok(config)
    }

    /// The start-up checks that `ENVIRONMENT=production` enables (contract section 15).
    fn check_production(&self) -> Result<(), ConfigError> {
        if self.environment != Environment::Production {
            return Ok(());
        }
        if self.database.password.expose().is_empty() {
            return Err(ConfigError::Production(
                "database password is required in production",
            ));
        }
        let secret = self.auth.jwt_secret.expose();
        if secret.is_empty() || secret == DEVELOPMENT_JWT_SECRET || secret == LEGACY_JWT_SECRET {
            return Err(ConfigError::Production(
                "JWT secret must be set in production",
            ));
        }
        Ok(())
    }

    /// True when `ENVIRONMENT=production`.
    #[must_use]
    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }
}

fn database_config(v: &Vars<'_>) -> Result<DatabaseConfig, ConfigError> {
    let (url, password) = match v.get("DATABASE_URL") {
        Some(url) => {
            let password = parse::url_password(url);
            (url.to_owned(), password)
        }
        None => {
            let user = v.string("DB_USER", "postgres");
            let password = v.string("DB_PASSWORD", "");
            let host = v.string("DB_HOST", "localhost");
            let port: u16 = v.number("DB_PORT", 5432)?;
            let name = v.string("DB_NAME", "task_manager");
            let ssl_mode = v
                .get("DB_SSL_MODE")
                .or_else(|| v.get("DB_SSLMODE"))
                .unwrap_or("disable");
            let credentials = if password.is_empty() {
                parse::percent_encode(&user)
            } else {
                format!(
                    "{}:{}",
                    parse::percent_encode(&user),
                    parse::percent_encode(&password)
                )
            };
            let url = format!(
                "postgres://{credentials}@{}:{port}/{}?sslmode={}",
                host_for_url(&host),
                parse::percent_encode(&name),
                parse::percent_encode(ssl_mode)
            );
            (url, password)
        }
    };
    Ok(DatabaseConfig {
        url: Secret::new(url),
        password: Secret::new(password),
        max_open_conns: v.number_in("DB_MAX_OPEN_CONNS", 25, 1..=u32::MAX)?,
        max_idle_conns: v.number("DB_MAX_IDLE_CONNS", 10)?,
        conn_max_lifetime: v.duration("DB_CONN_MAX_LIFETIME", "1h")?,
        conn_max_idle_time: v.duration("DB_CONN_MAX_IDLE_TIME", "30m")?,
    })
}

fn redis_config(v: &Vars<'_>) -> Result<RedisConfig, ConfigError> {
    let url = match v.get("REDIS_URL") {
        Some(url) => url.to_owned(),
        None => {
            let host = v.string("REDIS_HOST", "localhost");
            let port: u16 = v.number("REDIS_PORT", 6379)?;
            let password = v.string("REDIS_PASSWORD", "");
            let db: u32 = v.number("REDIS_DB", 0)?;
            let credentials = if password.is_empty() {
                String::new()
            } else {
                format!(":{}@", parse::percent_encode(&password))
            };
            format!("redis://{credentials}{}:{port}/{db}", host_for_url(&host))
        }
    };
    Ok(RedisConfig {
        url: Secret::new(url),
        pool_size: v.number_in("REDIS_POOL_SIZE", 10, 1..=u32::MAX)?,
        min_idle_conns: v.number("REDIS_MIN_IDLE_CONNS", 5)?,
        max_retries: v.number("REDIS_MAX_RETRIES", 3)?,
        dial_timeout: v.positive_duration("REDIS_DIAL_TIMEOUT", "5s")?,
        read_timeout: v.positive_duration("REDIS_READ_TIMEOUT", "3s")?,
        write_timeout: v.positive_duration("REDIS_WRITE_TIMEOUT", "3s")?,
        key_prefix: v.string("REDIS_KEY_PREFIX", ""),
    })
}

fn admin_bootstrap(v: &Vars<'_>) -> Result<Option<AdminBootstrap>, ConfigError> {
    match (
        v.get("ADMIN_BOOTSTRAP_EMAIL"),
        v.get("ADMIN_BOOTSTRAP_PASSWORD"),
    ) {
        (None, None) => Ok(None),
        (Some(email), Some(password)) => Ok(Some(AdminBootstrap {
            email: email.to_owned(),
            password: Secret::new(password.to_owned()),
        })),
        (Some(_), None) => Err(ConfigError::Missing {
            variable: "ADMIN_BOOTSTRAP_PASSWORD",
            because: "ADMIN_BOOTSTRAP_EMAIL is set",
        }),
        (None, Some(_)) => Err(ConfigError::Missing {
            variable: "ADMIN_BOOTSTRAP_EMAIL",
            because: "ADMIN_BOOTSTRAP_PASSWORD is set",
        }),
    }
}

/// IPv6 literals need brackets inside a URL's authority.
fn host_for_url(host: &str) -> String {
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// A network in CIDR form, or a bare address meaning just that host.
fn parse_network(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}
