//! Duration and time strings in the formats Inngest reads.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

const SECOND: u128 = 1000;
const MINUTE: u128 = 60 * SECOND;
const HOUR: u128 = 60 * MINUTE;
const DAY: u128 = 24 * HOUR;
const WEEK: u128 = 7 * DAY;

/// Formats a duration like the JS SDK's `timeStr`: weeks, days, hours, minutes and seconds
/// (`"1w2d3h4m5s"`), sub-second durations rounded up to `"1s"`, leftover milliseconds
/// dropped, zero as `""`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(inngest::time::time_str(Duration::from_secs(90)), "1m30s");
/// assert_eq!(inngest::time::time_str(Duration::from_millis(10)), "1s");
/// ```
pub fn time_str(duration: Duration) -> String {
    let mut ms = duration.as_millis();
    if ms > 0 && ms < SECOND {
        ms = SECOND;
    }
    let mut out = String::new();
    for (suffix, period) in [
        ("w", WEEK),
        ("d", DAY),
        ("h", HOUR),
        ("m", MINUTE),
        ("s", SECOND),
    ] {
        let n = ms / period;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(suffix);
            ms %= period;
        }
    }
    out
}

/// Formats a duration for Go's `time.ParseDuration` (hours, minutes, seconds, milliseconds;
/// no days or weeks), as needed by `batchEvents.timeout`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(inngest::time::go_duration(Duration::from_secs(3 * 86400)), "72h");
/// assert_eq!(inngest::time::go_duration(Duration::from_millis(1500)), "1s500ms");
/// ```
pub fn go_duration(duration: Duration) -> String {
    let mut ms = duration.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (suffix, period) in [("h", HOUR), ("m", MINUTE), ("s", SECOND), ("ms", 1)] {
        let n = ms / period;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(suffix);
            ms %= period;
        }
    }
    out
}

/// An RFC 3339 / ISO 8601 timestamp with milliseconds and `Z`, like JS `toISOString()`.
pub fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn time_str_matches_the_js_sdk() {
        assert_eq!(time_str(Duration::ZERO), "");
        assert_eq!(time_str(Duration::from_millis(1)), "1s");
        assert_eq!(time_str(Duration::from_millis(1999)), "1s");
        assert_eq!(time_str(Duration::from_secs(60)), "1m");
        assert_eq!(time_str(Duration::from_secs(3600)), "1h");
        assert_eq!(time_str(Duration::from_secs(86400 + 1)), "1d1s");
        assert_eq!(
            time_str(Duration::from_secs(8 * 86400 + 3 * 3600 + 4 * 60 + 5)),
            "1w1d3h4m5s"
        );
    }

    #[test]
    fn go_duration_has_no_days() {
        assert_eq!(go_duration(Duration::from_secs(60)), "1m");
        assert_eq!(go_duration(Duration::from_secs(90000)), "25h");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn iso_has_milliseconds_and_z() {
        let at = Utc
            .with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(iso(at), "2030-01-01T00:00:00.000Z");
    }
}
