//! Typed reading of environment variables, each failure naming its variable (D-42).

use std::{collections::HashMap, fmt::Display, ops::RangeInclusive, str::FromStr, time::Duration};

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable's value could not be parsed or is out of range.
    #[error("invalid value {value:?} for {variable}: expected {expected}")]
    Invalid {
        variable: &'static str,
        value: String,
        expected: String,
    },
    /// A variable is required because another one is set.
    #[error("{variable} must be set because {because}")]
    Missing {
        variable: &'static str,
        because: &'static str,
    },
    /// A production start-up check failed (the message is the contract's text).
    #[error("{0}")]
    Production(&'static str),
}

impl ConfigError {
    pub(super) fn invalid(variable: &'static str, value: &str, expected: impl Display) -> Self {
        Self::Invalid {
            variable,
            value: value.to_owned(),
            expected: expected.to_string(),
        }
    }
}

/// The variables being read; an empty value counts as unset, as legacy configuration did.
pub(super) struct Vars<'a>(&'a HashMap<String, String>);

impl<'a> Vars<'a> {
    pub(super) fn new(vars: &'a HashMap<String, String>) -> Self {
        Self(vars)
    }

    pub(super) fn get(&self, name: &str) -> Option<&'a str> {
        self.0
            .get(name)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }

    pub(super) fn string(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or(default).to_owned()
    }

    pub(super) fn number<T: FromStr>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|_| ConfigError::invalid(name, text, "a whole number")),
        }
    }

    pub(super) fn number_in<T>(
        &self,
        name: &'static str,
        default: T,
        range: RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Display + Copy,
    {
        let value = self.number(name, default)?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError::invalid(
                name,
                &value.to_string(),
                format!("a number from {} to {}", range.start(), range.end()),
            ))
        }
    }

    pub(super) fn boolean(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(true),
            Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(false),
            Some(other) => Err(ConfigError::invalid(
                name,
                other,
                "a boolean (true or false)",
            )),
        }
    }

    pub(super) fn duration(
        &self,
        name: &'static str,
        default: &str,
    ) -> Result<Duration, ConfigError> {
        let text = self.get(name).unwrap_or(default);
        domain::duration::parse_duration(text)
            .map_err(|_| ConfigError::invalid(name, text, "a duration such as 30s, 15m or 1h30m"))
    }

    pub(super) fn positive_duration(
        &self,
        name: &'static str,
        default: &str,
    ) -> Result<Duration, ConfigError> {
        let value = self.duration(name, default)?;
        if value.is_zero() {
            Err(ConfigError::invalid(
                name,
                "0",
                "a duration greater than zero",
            ))
        } else {
            Ok(value)
        }
    }

    pub(super) fn list(&self, name: &str, default: &str) -> Vec<String> {
        split_list(self.get(name).unwrap_or(default))
            .map(str::to_owned)
            .collect()
    }

    pub(super) fn list_with<T>(
        &self,
        name: &'static str,
        default: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Vec<T>, ConfigError> {
        split_list(self.get(name).unwrap_or(default))
            .map(|item| {
                parse(item).ok_or_else(|| {
                    ConfigError::invalid(name, item, "a comma-separated list of CIDR networks")
                })
            })
            .collect()
    }
}

fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// The password component of a URL (`scheme://user:password@host/...`), or empty.
pub(super) fn url_password(url: &str) -> String {
    let Some((_, rest)) = url.split_once("://") else {
        return String::new();
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let Some((credentials, _host)) = authority.rsplit_once('@') else {
        return String::new();
    };
    credentials
        .split_once(':')
        .map(|(_, password)| password.to_owned())
        .unwrap_or_default()
}

/// Percent-encodes everything but unreserved characters, for URL components.
pub(super) fn percent_encode(text: &str) -> String {
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
