//! Retry delays and time strings, with Inngest's rules.
//!
//! - [`RetryPolicy::Table`]: Inngest's queue backoff table (15 s, 30 s, 1 m, 2 m, 5 m, 10 m,
//!   20 m, 40 m, 1 h, then 2 h), indexed by the 0-based attempt that just failed, plus a uniform
//!   0–30 s jitter.
//! - [`RetryPolicy::Fixed`]: the dev server's `--retry-interval N`: always N.
//! - `Retry-After` replaces either, clamped to 1 s – 24 h ([`parse_retry_after`]).
//! - [`parse_duration`] reads Inngest duration strings (`300ms`, `2h45m`, `1d`, `1w`).

use chrono::{DateTime, Duration, Utc};
use rand::Rng;

/// How long to wait before retrying a failed queue item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetryPolicy {
    /// Inngest's backoff table plus 0–30 s of jitter (the default).
    #[default]
    Table,
    /// A fixed delay, like the dev server's `--retry-interval`.
    Fixed(Duration),
}

/// Inngest's backoff table (`pkg/backoff` `TableBackoff`).
pub const BACKOFF_TABLE_SECS: [i64; 10] = [15, 30, 60, 120, 300, 600, 1200, 2400, 3600, 7200];

/// Maximum jitter added to a table delay.
pub const MAX_JITTER_MS: i64 = 30_000;

/// Shortest delay a `Retry-After` can ask for.
pub const MIN_RETRY_AFTER: Duration = Duration::seconds(1);

/// Longest delay a `Retry-After` can ask for.
pub const MAX_RETRY_AFTER: Duration = Duration::hours(24);

impl RetryPolicy {
    /// The delay after the 0-based `attempt` failed.
    ///
    /// ```
    /// use inngest_local::backoff::RetryPolicy;
    /// let d = RetryPolicy::Table.delay(0, &mut rand::rng());
    /// assert!(d >= chrono::Duration::seconds(15) && d <= chrono::Duration::seconds(45));
    /// ```
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        match self {
            RetryPolicy::Fixed(d) => *d,
            RetryPolicy::Table => {
                let idx = (attempt as usize).min(BACKOFF_TABLE_SECS.len() - 1);
                let jitter = rng.random_range(0..=MAX_JITTER_MS);
                Duration::seconds(BACKOFF_TABLE_SECS[idx]) + Duration::milliseconds(jitter)
            }
        }
    }
}

/// Parses a `Retry-After` value (integer seconds when 7 characters or fewer, else a date in
/// RFC 3339 or RFC 2822/1123 form) into a delay from `now`, clamped to 1 s – 24 h.
/// Returns `None` when the value cannot be read (the table delay then applies).
///
/// ```
/// use inngest_local::backoff::parse_retry_after;
/// let now = chrono::Utc::now();
/// assert_eq!(parse_retry_after("30", now), Some(chrono::Duration::seconds(30)));
/// assert_eq!(parse_retry_after("0", now), Some(chrono::Duration::seconds(1)));
/// assert_eq!(parse_retry_after("9999999", now), Some(chrono::Duration::hours(24)));
/// ```
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let delay = if value.len() <= 7 {
        Duration::seconds(value.parse::<i64>().ok()?)
    } else {
        let at = DateTime::parse_from_rfc3339(value)
            .or_else(|_| DateTime::parse_from_rfc2822(value))
            .ok()?;
        at.with_timezone(&Utc) - now
    };
    Some(delay.clamp(MIN_RETRY_AFTER, MAX_RETRY_AFTER))
}

/// Why a duration or time string could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "cannot read {0:?} as a duration: use a number followed by a unit (ms, s, m, h, d, w), e.g. \"1h30m\", or an RFC 3339 date"
)]
pub struct DurationError(pub String);

/// Parses an Inngest duration string: Go-style `300ms`, `1.5h`, `2h45m`, plus `d` and `w`.
///
/// ```
/// use inngest_local::backoff::parse_duration;
/// assert_eq!(parse_duration("2h45m").unwrap(), chrono::Duration::minutes(165));
/// assert_eq!(parse_duration("1d").unwrap(), chrono::Duration::days(1));
/// assert!(parse_duration("soon").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let err = || DurationError(s.to_owned());
    let text = s.trim();
    if text.is_empty() {
        return Err(err());
    }
    if text == "0" {
        return Ok(Duration::zero());
    }
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let mut total_ns: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if num_len == 0 {
            return Err(err());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let ns_per: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86_400e9,
            "w" => 604_800e9,
            _ => return Err(err()),
        };
        total_ns += value * ns_per;
    }
    if !total_ns.is_finite() || total_ns > i64::MAX as f64 {
        return Err(err());
    }
    let d = Duration::nanoseconds(total_ns as i64);
    Ok(if negative { -d } else { d })
}

/// Reads a sleep target or timeout: an RFC 3339 date (absolute) or a duration from `now`.
pub fn parse_time_or_duration(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, DurationError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(at.with_timezone(&Utc));
    }
    Ok(now + parse_duration(s)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_delay_follows_inngest_table_with_bounded_jitter() {
        let mut rng = rand::rng();
        for (attempt, base) in BACKOFF_TABLE_SECS.iter().enumerate() {
            for _ in 0..20 {
                let d = RetryPolicy::Table.delay(attempt as u32, &mut rng);
                assert!(d >= Duration::seconds(*base), "attempt {attempt}: {d}");
                assert!(d <= Duration::seconds(*base + 30), "attempt {attempt}: {d}");
            }
        }
        let late = RetryPolicy::Table.delay(40, &mut rng);
        assert!(late >= Duration::hours(2) && late <= Duration::hours(2) + Duration::seconds(30));
    }

    #[test]
    fn fixed_policy_ignores_attempt() {
        let p = RetryPolicy::Fixed(Duration::seconds(3));
        assert_eq!(p.delay(0, &mut rand::rng()), Duration::seconds(3));
        assert_eq!(p.delay(9, &mut rand::rng()), Duration::seconds(3));
    }

    #[test]
    fn retry_after_reads_dates_and_clamps() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("2026-01-01T00:02:00Z", now),
            Some(Duration::seconds(120))
        );
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:00:10 +0000", now),
            Some(Duration::seconds(10))
        );
        assert_eq!(
            parse_retry_after("2025-01-01T00:00:00Z", now),
            Some(Duration::seconds(1))
        );
        assert_eq!(
            parse_retry_after("2027-01-01T00:00:00Z", now),
            Some(Duration::hours(24))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn durations_accept_go_units_plus_days_and_weeks() {
        assert_eq!(
            parse_duration("300ms").unwrap(),
            Duration::milliseconds(300)
        );
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::minutes(90));
        assert_eq!(parse_duration("1w2d").unwrap(), Duration::days(9));
        assert_eq!(parse_duration("10s").unwrap(), Duration::seconds(10));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("5y").is_err());
    }

    #[test]
    fn sleep_targets_accept_dates_or_durations() {
        let now = Utc::now();
        assert_eq!(
            parse_time_or_duration("1m", now).unwrap(),
            now + Duration::minutes(1)
        );
        let at = parse_time_or_duration("2030-05-01T10:00:00.000Z", now).unwrap();
        assert_eq!(at.to_rfc3339(), "2030-05-01T10:00:00+00:00");
    }
}
