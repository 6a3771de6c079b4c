//! Building and rewriting PostgreSQL connection URLs.

use anyhow::{Context, Result, bail};
use url::Url;

/// Name of the application database used by `dev`, `seed` and `db-reset`.
pub const APP_DATABASE: &str = "task_manager";
/// Maintenance database every PostgreSQL server has; used to create and drop databases.
pub const MAINTENANCE_DATABASE: &str = "postgres";

/// `postgres://<user>@<host>:<port>/<database>` (trust authentication, no password).
pub fn local_url(user: &str, host: &str, port: u16, database: &str) -> String {
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    format!("postgres://{user}@{host}:{port}/{database}")
}

/// Parses a PostgreSQL URL, accepting the `postgres` and `postgresql` schemes.
pub fn parse(url: &str) -> Result<Url> {
    let parsed =
        Url::parse(url).with_context(|| format!("invalid database URL {}", redact(url)))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        bail!(
            "database URL {} must start with postgres:// or postgresql://",
            redact(url)
        );
    }
    if parsed.host_str().is_none() {
        bail!("database URL {} has no host", redact(url));
    }
    Ok(parsed)
}

/// The same server and credentials as `url`, but database `database` (query kept).
pub fn with_database(url: &str, database: &str) -> Result<String> {
    let mut parsed = parse(url)?;
    parsed.set_path(&format!("/{database}"));
    Ok(parsed.into())
}

/// The database named by `url` (`postgres`' default, the user name, when the path is empty).
pub fn database_name(url: &str) -> Result<String> {
    let parsed = parse(url)?;
    let path = parsed.path().trim_start_matches('/');
    if path.is_empty() {
        let user = parsed.username();
        return Ok(if user.is_empty() {
            "postgres".to_owned()
        } else {
            user.to_owned()
        });
    }
    Ok(percent_decode(path))
}

/// The host named by `url`, without IPv6 brackets.
pub fn host(url: &str) -> Result<String> {
    let parsed = parse(url)?;
    let host = parsed.host_str().unwrap_or_default();
    Ok(host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase())
}

/// `url` with its password replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Setting a password only fails for URLs that cannot have one.
            if parsed.set_password(Some("***")).is_ok() {
                parsed.into()
            } else {
                url.to_owned()
            }
        }
        Ok(_) => url.to_owned(),
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

/// Quotes a PostgreSQL identifier (database names in CREATE/DROP DATABASE).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn local_urls_name_user_host_port_and_database() {
        assert_eq!(
            local_url("postgres", "127.0.0.1", 5432, "task_manager"),
            "postgres://postgres@127.0.0.1:5432/task_manager"
        );
        assert_eq!(
            local_url("postgres", "::1", 6000, "postgres"),
            "postgres://postgres@[::1]:6000/postgres"
        );
    }

    #[test]
    fn switching_database_keeps_credentials_host_port_and_query() {
        let url = "postgres://app:s3cret@db.internal:6543/task_manager?sslmode=disable";
        assert_eq!(
            with_database(url, "postgres").unwrap(),
            "postgres://app:s3cret@db.internal:6543/postgres?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql://u@localhost", "x").unwrap(),
            "postgresql://u@localhost/x"
        );
    }

    #[test]
    fn database_name_and_host_are_read_back() {
        assert_eq!(
            database_name("postgres://u@h:1/task_manager").unwrap(),
            "task_manager"
        );
        assert_eq!(database_name("postgres://u@h:1/my%20db").unwrap(), "my db");
        assert_eq!(database_name("postgres://alice@h:1").unwrap(), "alice");
        assert_eq!(host("postgres://u@[::1]:5432/db").unwrap(), "::1");
        assert_eq!(host("postgres://u@LocalHost/db").unwrap(), "localhost");
    }

    #[test]
    fn non_postgres_or_hostless_urls_are_rejected() {
        assert!(parse("mysql://u@h/db").is_err());
        assert!(parse("not a url").is_err());
        assert!(parse("postgres:///db").is_err());
    }

    #[test]
    fn passwords_never_appear_in_messages() {
        let shown = redact("postgres://app:s3cret@db:5432/x");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("app:***@db"), "{shown}");
        let error = parse("mysql://app:s3cret@db/x").unwrap_err();
        assert!(!format!("{error:#}").contains("s3cret"));
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("task_manager"), "\"task_manager\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
