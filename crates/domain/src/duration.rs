//! The duration text of contract 1.6 (the form Go's `time.Duration` prints) and its parser,
//! used for admin responses (`ttl`, `uptime`) and configuration values (section 15).

use std::time::Duration;

use crate::DomainError;

const NANOS_PER_MICRO: u128 = 1_000;
const NANOS_PER_MILLI: u128 = 1_000_000;
const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Formats a (non-negative) standard duration, e.g. `15m0s`, `1.5s`, `300ns`.
#[must_use]
pub fn format_duration(d: Duration) -> String {
    format_nanos(i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

/// Formats a signed `time::Duration`; negative values carry a leading `-`.
#[must_use]
pub fn format_time_duration(d: time::Duration) -> String {
    format_nanos(d.whole_nanoseconds())
}

/// Formats a signed count of nanoseconds as in contract 1.6: `0s`; under a second the
/// largest fitting unit of `ms`, `µs`, `ns` with a fraction where needed; otherwise
/// `<H>h<M>m<S>s` with hours only when non-zero, minutes when there are hours or minutes,
/// and up to nine fractional digits of seconds (trailing zeros removed).
#[must_use]
pub fn format_nanos(nanos: i128) -> String {
    let mut out = String::new();
    if nanos < 0 {
        out.push('-');
    }
    let n = nanos.unsigned_abs();
    if n == 0 {
        return "0s".to_owned();
    }
    if n < NANOS_PER_SEC {
        let (unit, per_unit) = if n < NANOS_PER_MICRO {
            ("ns", 1)
        } else if n < NANOS_PER_MILLI {
            ("µs", NANOS_PER_MICRO)
        } else {
            ("ms", NANOS_PER_MILLI)
        };
        push_decimal(&mut out, n, per_unit);
        out.push_str(unit);
        return out;
    }
    let secs = n / NANOS_PER_SEC;
    let (hours, minutes) = (secs / 3600, secs / 60 % 60);
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if secs >= 60 {
        out.push_str(&format!("{minutes}m"));
    }
    push_decimal(&mut out, n % (60 * NANOS_PER_SEC), NANOS_PER_SEC);
    out.push('s');
    out
}

/// Writes `value / per_unit` with its fractional digits, trailing zeros (and a bare dot)
/// removed. `per_unit` is a power of ten.
fn push_decimal(out: &mut String, value: u128, per_unit: u128) {
    out.push_str(&(value / per_unit).to_string());
    let frac = value % per_unit;
    if frac > 0 {
        let width = per_unit.ilog10() as usize;
        let digits = format!("{frac:0width$}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// Parses the duration text of section 15: one or more `<number><unit>` groups without
/// spaces, where the number may have a fraction (`1.5h`) and the unit is one of `ns`, `us`,
/// `µs` (or Greek `μs`), `ms`, `s`, `m`, `h`; `0` alone is also accepted, as in Go. A
/// leading `+` is allowed; negative values are refused because configuration durations are
/// lengths of time. Fractions finer than a nanosecond are truncated.
///
/// # Errors
/// [`DomainError::InvalidDuration`] for empty text, a missing or unknown unit, a number
/// without digits, a sign `-`, or a value above `i64::MAX` nanoseconds (about 292 years).
pub fn parse_duration(text: &str) -> Result<Duration, DomainError> {
    let err = || DomainError::InvalidDuration(text.to_owned());
    let body = text.strip_prefix('+').unwrap_or(text);
    if body == "0" {
        return Ok(Duration::ZERO);
    }
    if body.is_empty() {
        return Err(err());
    }
    let mut rest = body;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after) = rest.split_at(int_len);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(tail) => {
                let frac_len = tail.bytes().take_while(u8::is_ascii_digit).count();
                tail.split_at(frac_len)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(err());
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, tail) = after.split_at(unit_len);
        let per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => NANOS_PER_MICRO,
            "ms" => NANOS_PER_MILLI,
            "s" => NANOS_PER_SEC,
            "m" => 60 * NANOS_PER_SEC,
            "h" => 3600 * NANOS_PER_SEC,
            _ => return Err(err()),
        };
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| err())?
        };
        // Keep at most 20 fractional digits: finer than 1 ns for every unit, and small
        // enough that the products below cannot overflow.
        let frac_digits = &frac_part[..frac_part.len().min(20)];
        let frac_value: u128 = if frac_digits.is_empty() {
            0
        } else {
            frac_digits.parse().map_err(|_| err())?
        };
        let scale = 10u128.pow(u32::try_from(frac_digits.len()).map_err(|_| err())?);
        total = whole
            .checked_mul(per_unit)
            .and_then(|v| v.checked_add(frac_value * per_unit / scale))
            .and_then(|v| total.checked_add(v))
            .filter(|v| *v <= i64::MAX as u128)
            .ok_or_else(err)?;
        rest = tail;
    }
    let nanos = u64::try_from(total).map_err(|_| err())?;
    Ok(Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    const S: i128 = 1_000_000_000;

    #[test]
    fn formats_the_contract_examples() {
        let cases: &[(i128, &str)] = &[
            (0, "0s"),
            (15 * 60 * S, "15m0s"),
            (3600 * S, "1h0m0s"),
            (90 * S, "1m30s"),
            (3 * S / 2, "1.5s"),
            (2 * 3600 * S + 5 * S, "2h0m5s"),
            (300, "300ns"),
            (1_500_000, "1.5ms"),
        ];
        for (nanos, text) in cases {
            assert_eq!(format_nanos(*nanos), *text, "{nanos}");
        }
    }

    #[test]
    fn formats_like_go_in_every_range() {
        let cases: &[(i128, &str)] = &[
            (1, "1ns"),
            (999, "999ns"),
            (1_000, "1µs"),
            (1_100, "1.1µs"),
            (999_999, "999.999µs"),
            (1_000_000, "1ms"),
            (999_999_999, "999.999999ms"),
            (S, "1s"),
            (S + 1, "1.000000001s"),
            (59 * S, "59s"),
            (60 * S, "1m0s"),
            (61 * S + S / 4, "1m1.25s"),
            (3600 * S + 1, "1h0m0.000000001s"),
            (168 * 3600 * S, "168h0m0s"),
            (36 * 3600 * S + 61 * S, "36h1m1s"),
            (-S, "-1s"),
            (-1_500, "-1.5µs"),
            (-(90 * S), "-1m30s"),
            (i128::from(i64::MAX), "2562047h47m16.854775807s"),
            (i128::from(i64::MIN), "-2562047h47m16.854775808s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(format_nanos(*nanos), *text, "{nanos}");
        }
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_time_duration(time::Duration::minutes(-15)), "-15m0s");
    }

    #[test]
    fn parses_configuration_values() {
        let cases: &[(&str, Duration)] = &[
            ("30s", Duration::from_secs(30)),
            ("1h", Duration::from_secs(3600)),
            ("168h", Duration::from_secs(168 * 3600)),
            ("1h30m", Duration::from_secs(5400)),
            ("500ms", Duration::from_millis(500)),
            ("1.5h", Duration::from_secs(5400)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("2us", Duration::from_micros(2)),
            ("2µs", Duration::from_micros(2)),
            ("2μs", Duration::from_micros(2)),
            ("7ns", Duration::from_nanos(7)),
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("+5m", Duration::from_secs(300)),
            ("1h0m0s", Duration::from_secs(3600)),
            ("1.000000001s", Duration::from_nanos(1_000_000_001)),
            ("1.0000000019s", Duration::from_nanos(1_000_000_001)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text).unwrap(), *expected, "{text}");
        }
    }

    #[test]
    fn refuses_anything_else() {
        for bad in [
            "", "+", "-1s", "10", "s", "1x", "1 s", " 1s", "1s ", "1..5s", ".s", "1hh", "1H",
            "3000000h", "1e3s", "1_000s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(nanos in 0u64..=i64::MAX as u64) {
            let d = Duration::from_nanos(nanos);
            let text = format_duration(d);
            prop_assert_eq!(parse_duration(&text).unwrap(), d, "{}", text);
        }

        #[test]
        fn negative_format_is_positive_with_a_sign(nanos in 1i64..=i64::MAX) {
            let n = i128::from(nanos);
            prop_assert_eq!(format_nanos(-n), format!("-{}", format_nanos(n)));
        }
    }
}
