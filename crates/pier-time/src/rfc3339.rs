//! RFC 3339 in the forms docker writes: Go's `RFC3339Nano` (fraction with
//! trailing zeros trimmed, what the API's JSON carries) and docker's
//! `RFC3339NanoFixed` (always nine digits, what `logs -t` prints and the
//! json-file log stores). Parsing takes any RFC 3339 form Go produces.

use crate::civil::{days_from_civil, DateTime};
use crate::NANOS_PER_SEC;

/// Docker's "zero time" (Go's `time.Time{}`), printed for unset times.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Length of [`format_fixed`]'s output (every i64 nanosecond value is
/// within years 1677..=2262).
pub const FIXED_LEN: usize = 30;

/// `2026-11-28T13:54:32.123456789Z`: UTC with nine fixed fractional digits.
pub fn format_fixed(nanos: i64) -> String {
    let mut buf = [0u8; 40];
    let n = format_fixed_into(nanos, &mut buf);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Writes [`format_fixed`]'s form into `out` without allocating and returns
/// its length ([`FIXED_LEN`]).
pub fn format_fixed_into(nanos: i64, out: &mut [u8; 40]) -> usize {
    fn put(out: &mut [u8], mut v: u64, width: usize) {
        for i in (0..width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    let t = DateTime::from_unix_nanos(nanos);
    put(&mut out[0..4], t.year.clamp(0, 9999) as u64, 4);
    out[4] = b'-';
    put(&mut out[5..7], u64::from(t.month), 2);
    out[7] = b'-';
    put(&mut out[8..10], u64::from(t.day), 2);
    out[10] = b'T';
    put(&mut out[11..13], u64::from(t.hour), 2);
    out[13] = b':';
    put(&mut out[14..16], u64::from(t.minute), 2);
    out[16] = b':';
    put(&mut out[17..19], u64::from(t.second), 2);
    out[19] = b'.';
    put(&mut out[20..29], u64::from(t.nanos), 9);
    out[29] = b'Z';
    FIXED_LEN
}

/// Appends [`format_fixed`]'s form to `out`.
pub fn append_fixed(nanos: i64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 40];
    let n = format_fixed_into(nanos, &mut buf);
    out.extend_from_slice(&buf[..n]);
}

/// `2024-01-02T03:04:05.5Z`: UTC, the fraction's trailing zeros trimmed (and
/// no fraction when it is zero), as Go's `time.RFC3339Nano` prints.
pub fn format_nano(nanos: i64) -> String {
    let mut buf = [0u8; 40];
    let n = format_fixed_into(nanos, &mut buf);
    let frac = &buf[20..n - 1];
    let keep = frac.iter().rposition(|&c| c != b'0').map_or(0, |i| i + 1);
    let mut out = String::with_capacity(n);
    out.push_str(&String::from_utf8_lossy(&buf[..19]));
    if keep > 0 {
        out.push('.');
        out.push_str(&String::from_utf8_lossy(&frac[..keep]));
    }
    out.push('Z');
    out
}

/// `Some(nanos)` as [`format_nano`], `None` as docker's [`ZERO_TIME`].
pub fn format_nano_or_zero(nanos: Option<i64>) -> String {
    nanos.map_or_else(|| ZERO_TIME.to_string(), format_nano)
}

/// `2024-01-02 15:04:05 +0000 UTC`: Go's `time.Time.String()` of a UTC time
/// in whole unix seconds (docker's `CreatedAt` column).
pub fn format_go_utc(secs: i64) -> String {
    let t = DateTime::from_unix(secs);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} +0000 UTC",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
    }
    Some(v)
}

/// Parses an RFC 3339 timestamp (`2026-11-28T13:54:32.123456789Z`, a
/// trimmed or absent fraction, `+01:00` offsets) into unix nanoseconds.
/// Digits beyond the ninth of the fraction are ignored.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    parse_rfc3339_bytes(s.as_bytes())
}

/// [`parse_rfc3339`] over bytes (log lines are read as bytes).
pub fn parse_rfc3339_bytes(s: &[u8]) -> Option<i64> {
    if s.len() < 20
        || s[4] != b'-'
        || s[7] != b'-'
        || !matches!(s[10], b'T' | b't' | b' ')
        || s[13] != b':'
        || s[16] != b':'
    {
        return None;
    }
    let y = digits(&s[0..4])?;
    let mo = digits(&s[5..7])?;
    let d = digits(&s[8..10])?;
    let h = digits(&s[11..13])?;
    let mi = digits(&s[14..16])?;
    let se = digits(&s[17..19])?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac: i64 = 0;
    if let Some((b'.', tail)) = rest.split_first() {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        for (i, &c) in tail[..n].iter().enumerate() {
            if i < 9 {
                frac = frac * 10 + i64::from(c - b'0');
            }
        }
        for _ in n..9 {
            frac *= 10;
        }
        rest = &tail[n..];
    }
    let offset_secs = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let off = digits(&[*h1, *h2])? * 3600 + digits(&[*m1, *m2])? * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_secs;
    secs.checked_mul(NANOS_PER_SEC)?.checked_add(frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_times_format_without_overflow() {
        // A file's mtime is container-controlled: any i64 must format.
        for n in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX] {
            let s = format_nano(n);
            assert!(s.ends_with('Z') && s.len() >= 20, "{n}: {s}");
        }
        assert_eq!(format_nano(i64::MAX), "2262-04-11T23:47:16.854775807Z");
    }

    #[test]
    fn fixed_width() {
        assert_eq!(format_fixed(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format_fixed(1_795_960_472_123_456_789),
            "2026-11-29T13:54:32.123456789Z"
        );
        assert_eq!(format_fixed(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(format_fixed(951_782_400_000_000_000), "2000-02-29T00:00:00.000000000Z");
    }

    #[test]
    fn nano_like_go() {
        assert_eq!(format_nano(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_nano(1_700_000_000_123_450_000), "2023-11-14T22:13:20.12345Z");
        assert_eq!(format_nano(951_782_400_000_000_001), "2000-02-29T00:00:00.000000001Z");
        assert_eq!(format_nano_or_zero(None), ZERO_TIME);
        assert_eq!(format_go_utc(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(format_go_utc(1_700_000_000), "2023-11-14 22:13:20 +0000 UTC");
    }

    #[test]
    fn parses_go_forms() {
        let t = 1_795_960_472_123_456_789;
        assert_eq!(parse_rfc3339("2026-11-29T13:54:32.123456789Z"), Some(t));
        assert_eq!(
            parse_rfc3339("2026-11-29T13:54:32.1234Z"),
            Some(1_795_960_472_123_400_000)
        );
        assert_eq!(parse_rfc3339("2026-11-29T13:54:32Z"), Some(1_795_960_472_000_000_000));
        assert_eq!(parse_rfc3339("2026-11-29T14:54:32.123456789+01:00"), Some(t));
        assert_eq!(parse_rfc3339("2026-11-29T13:54:32.1234567891Z"), Some(t));
        assert_eq!(parse_rfc3339("2026-11-29T13:54:32."), None);
        assert_eq!(parse_rfc3339("2026-13-29T13:54:32Z"), None);
        assert_eq!(parse_rfc3339("2026-11-29T13:54:32"), None);
        assert_eq!(parse_rfc3339("2026-11-29"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
    }

    proptest::proptest! {
        #[test]
        fn fixed_round_trip(n in proptest::num::i64::ANY) {
            let s = format_fixed(n);
            proptest::prop_assert_eq!(s.len(), FIXED_LEN);
            proptest::prop_assert_eq!(parse_rfc3339(&s), Some(n));
        }

        #[test]
        fn nano_round_trip(n in proptest::num::i64::ANY) {
            proptest::prop_assert_eq!(parse_rfc3339(&format_nano(n)), Some(n));
        }
    }
}
