//! Connection settings of the Redis adapters.

use std::fmt;
use std::time::Duration;

/// How to reach Redis and how long to wait for it.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://[user:password@]host:port/db`.
    pub url: String,
    /// Maximum number of pooled connections (`REDIS_POOL_SIZE`).
    pub pool_size: usize,
    /// Bound on establishing one connection (`REDIS_DIAL_TIMEOUT`).
    pub connect_timeout: Duration,
    /// Bound on one command, pool checkout included (`REDIS_READ_TIMEOUT`).
    pub command_timeout: Duration,
    /// Prepended to every key and channel (`REDIS_KEY_PREFIX`).
    pub key_prefix: String,
}

impl RedisSettings {
    /// Settings with the contract's defaults (pool 10, dial 5 s, commands 3 s, no prefix).
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: 10,
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(3),
            key_prefix: String::new(),
        }
    }

    /// Builds `redis://[:password@]host:port/db` from the `REDIS_HOST`, `REDIS_PORT`,
    /// `REDIS_PASSWORD` and `REDIS_DB` variables, percent-encoding the password so any
    /// character in it survives URL parsing.
    #[must_use]
    pub fn url_from_parts(host: &str, port: u16, password: &str, db: i64) -> String {
        let auth = if password.is_empty() {
            String::new()
        } else {
            format!(":{}@", percent_encode(password))
        };
        format!("redis://{auth}{host}:{port}/{db}")
    }

    /// The URL with any password replaced by `***`, safe for logs.
    #[must_use]
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &self.redacted_url())
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Replaces the password part of `scheme://user:password@host...` with `***`.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let authority_start = scheme_end + 3;
    let rest = &url[authority_start..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    let redacted_userinfo = match userinfo.find(':') {
        Some(colon) => format!("{}:***", &userinfo[..colon]),
        None if userinfo.is_empty() => String::new(),
        // `redis://password@host` is read by redis-rs as a bare password.
        None => "***".to_owned(),
    };
    format!(
        "{}{}{}",
        &url[..authority_start],
        redacted_userinfo,
        &rest[at..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_password() {
        let mut s = RedisSettings::new("redis://app:s3cret@redis.local:6380/2");
        s.key_prefix = "p:".into();
        let text = format!("{s:?}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(
            text.contains("redis://app:***@redis.local:6380/2"),
            "{text}"
        );
    }

    #[test]
    fn url_from_parts_encodes_the_password() {
        assert_eq!(
            RedisSettings::url_from_parts("localhost", 6379, "", 0),
            "redis://localhost:6379/0"
        );
        assert_eq!(
            RedisSettings::url_from_parts("r", 6380, "p@ss:w/rd", 2),
            "redis://:p%40ss%3Aw%2Frd@r:6380/2"
        );
    }

    #[test]
    fn urls_without_credentials_are_unchanged() {
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(redact_url("redis://:pw@h:1/0"), "redis://:***@h:1/0");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
