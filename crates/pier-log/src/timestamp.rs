//! RFC 3339 timestamps <-> unix nanoseconds, without a date library.
//!
//! Written with nine fixed fractional digits (`2026-11-28T13:54:32.123456789Z`,
//! docker's `RFC3339NanoFixed`); parsed in any RFC 3339 form Go produces
//! (trimmed fraction, no fraction, numeric offsets).

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Length of a timestamp written by [`format_timestamp`] (for years 0..=9999).
pub(crate) const FIXED_LEN: usize = 30;

/// Days since 1970-01-01 of a proleptic Gregorian civil date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats unix nanoseconds as RFC 3339 in UTC with nine fixed fractional
/// digits, as `docker logs -t` prints them.
pub fn format_timestamp(nanos: i64) -> String {
    let mut buf = [0u8; 40];
    let n = format_into(nanos, &mut buf);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Appends [`format_timestamp`]'s form to `out` without allocating.
pub fn format_timestamp_into(nanos: i64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 40];
    let n = format_into(nanos, &mut buf);
    out.extend_from_slice(&buf[..n]);
}

/// Writes the timestamp into `out` and returns its length (30 for years
/// 0..=9999; years outside that range are clamped).
pub(crate) fn format_into(nanos: i64, out: &mut [u8; 40]) -> usize {
    let secs = nanos.div_euclid(NANOS_PER_SEC);
    let frac = nanos.rem_euclid(NANOS_PER_SEC) as u64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u64;
    let (y, mo, d) = civil_from_days(days);
    let y = y.clamp(0, 9999) as u64;
    fn put(out: &mut [u8], mut v: u64, width: usize) {
        for i in (0..width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    put(&mut out[0..4], y, 4);
    out[4] = b'-';
    put(&mut out[5..7], u64::from(mo), 2);
    out[7] = b'-';
    put(&mut out[8..10], u64::from(d), 2);
    out[10] = b'T';
    put(&mut out[11..13], sod / 3600, 2);
    out[13] = b':';
    put(&mut out[14..16], (sod / 60) % 60, 2);
    out[16] = b':';
    put(&mut out[17..19], sod % 60, 2);
    out[19] = b'.';
    put(&mut out[20..29], frac, 9);
    out[29] = b'Z';
    FIXED_LEN
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

/// Parses an RFC 3339 timestamp (`2026-11-28T13:54:32.123456789Z`, a trimmed
/// or absent fraction, `+01:00` offsets) into unix nanoseconds.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    parse_bytes(s.as_bytes())
}

pub(crate) fn parse_bytes(s: &[u8]) -> Option<i64> {
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
            let oh = digits(&[*h1, *h2])?;
            let om = digits(&[*m1, *m2])?;
            let off = oh * 3600 + om * 60;
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

/// Parses unix seconds with an optional fraction (`1700000000.123456789`, as
/// the docker CLI sends `since`/`until`) into unix nanoseconds.
pub fn parse_unix_seconds(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    let secs = digits(whole.as_bytes())?;
    let mut nanos: i64 = 0;
    if !frac.is_empty() {
        let f = frac.as_bytes();
        digits(f)?;
        for i in 0..9 {
            nanos = nanos * 10 + f.get(i).map_or(0, |c| i64::from(c - b'0'));
        }
    }
    let total = secs.checked_mul(NANOS_PER_SEC)?.checked_add(nanos)?;
    Some(if neg { -total } else { total })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formats_fixed_width() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format_timestamp(1_795_960_472_123_456_789),
            "2026-11-29T13:54:32.123456789Z"
        );
        assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(
            format_timestamp(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
    }

    #[test]
    fn parses_go_forms() {
        let t = 1_795_960_472_123_456_789;
        assert_eq!(parse_timestamp("2026-11-29T13:54:32.123456789Z"), Some(t));
        assert_eq!(
            parse_timestamp("2026-11-29T13:54:32.1234Z"),
            Some(1_795_960_472_123_400_000)
        );
        assert_eq!(parse_timestamp("2026-11-29T13:54:32Z"), Some(1_795_960_472_000_000_000));
        assert_eq!(parse_timestamp("2026-11-29T14:54:32.123456789+01:00"), Some(t));
        assert_eq!(parse_timestamp("2026-11-29T13:54:32."), None);
        assert_eq!(parse_timestamp("2026-13-29T13:54:32Z"), None);
        assert_eq!(parse_timestamp("garbage"), None);
    }

    #[test]
    fn unix_seconds() {
        assert_eq!(parse_unix_seconds("1700000000"), Some(1_700_000_000_000_000_000));
        assert_eq!(parse_unix_seconds("1700000000.5"), Some(1_700_000_000_500_000_000));
        assert_eq!(
            parse_unix_seconds("1700000000.000000001"),
            Some(1_700_000_000_000_000_001)
        );
        assert_eq!(parse_unix_seconds("17x"), None);
    }

    proptest::proptest! {
        #[test]
        fn round_trip(n in proptest::num::i64::ANY) {
            let s = format_timestamp(n);
            proptest::prop_assert_eq!(s.len(), FIXED_LEN);
            proptest::prop_assert_eq!(parse_timestamp(&s), Some(n));
        }
    }
}
