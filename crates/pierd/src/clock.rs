//! Wall-clock helpers: unix nanoseconds, Go's RFC3339Nano rendering (what
//! docker prints) and docker's human durations. Pure except `now_nanos`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Docker's "zero time".
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Unix nanoseconds now.
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `2024-01-02T03:04:05.5Z`: UTC, trailing zeros of the fraction trimmed as
/// Go's `time.RFC3339Nano` does.
pub fn rfc3339_nano(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        tod / 3600,
        (tod / 60) % 60,
        tod % 60
    );
    if frac != 0 {
        let f = format!("{frac:09}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// `Some(nanos)` rendered, or docker's zero time.
pub fn rfc3339_or_zero(nanos: Option<i64>) -> String {
    nanos.map_or_else(|| ZERO_TIME.to_string(), rfc3339_nano)
}

// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Docker's `units.HumanDuration`: "Less than a second", "3 seconds",
/// "About a minute", "2 hours", ...
pub fn human_duration(nanos: i64) -> String {
    let secs = nanos / 1_000_000_000;
    if secs < 1 {
        return "Less than a second".to_string();
    }
    if secs == 1 {
        return "1 second".to_string();
    }
    if secs < 60 {
        return format!("{secs} seconds");
    }
    let minutes = secs / 60;
    if minutes == 1 {
        return "About a minute".to_string();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (secs as f64 / 3600.0 + 0.5) as i64;
    if hours == 1 {
        return "About an hour".to_string();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", hours / 24 / 365)
}

/// Parse docker's `since`/`until` query value: unix seconds with an optional
/// fraction (`1700000000.5`). `0` and empty mean "not set".
pub fn parse_unix_timestamp(s: &str) -> Option<Option<i64>> {
    if s.is_empty() {
        return Some(None);
    }
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let mut nanos: i64 = 0;
    if !frac.is_empty() {
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        nanos = format!("{frac:0<9}").parse().ok()?;
    }
    let total = secs.checked_mul(1_000_000_000)?.checked_add(nanos)?;
    Some(if total == 0 { None } else { Some(total) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(rfc3339_nano(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_nano(1_700_000_000_123_450_000), "2023-11-14T22:13:20.12345Z");
        assert_eq!(rfc3339_nano(951_782_400_000_000_001), "2000-02-29T00:00:00.000000001Z");
        assert_eq!(rfc3339_or_zero(None), ZERO_TIME);
    }

    #[test]
    fn human() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(3_000_000_000), "3 seconds");
        assert_eq!(human_duration(61_000_000_000), "About a minute");
        assert_eq!(human_duration(3 * 3600 * 1_000_000_000), "3 hours");
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_unix_timestamp("1.5"), Some(Some(1_500_000_000)));
        assert_eq!(parse_unix_timestamp("0"), Some(None));
        assert_eq!(parse_unix_timestamp("x"), None);
    }
}
