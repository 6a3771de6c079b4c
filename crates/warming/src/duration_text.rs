//! The contract's duration text (section 1.6), used for payload `ttl` values and the
//! worker statistics; a thin seam over `domain`'s formatter and parser.

use std::time::Duration;

/// Formats a duration as the contract's text: `0s`, `1.5ms`, `1m30s`, `1h0m0s`.
#[must_use]
pub fn format(d: Duration) -> String {
    domain::format_duration(d)
}

/// Parses duration text such as `15m0s`, `1h` or `300ms`; `None` when it is not one.
#[must_use]
pub fn parse(text: &str) -> Option<Duration> {
    domain::parse_duration(text).ok()
}
