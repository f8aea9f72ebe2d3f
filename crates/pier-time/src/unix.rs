//! Unix seconds as text: the `since=`/`until=` query values the API takes
//! (`1700000000.123456789`) and the CLI's `--since`/`--until` forms that
//! become them (docker's `GetTimestamp`).

use crate::civil::days_from_civil;
use crate::duration::parse_go_duration;
use crate::NANOS_PER_SEC;

/// Parses unix seconds with an optional fraction (`1700000000.5`, as the
/// docker CLI sends `since`/`until`; a leading `-` allowed) into unix
/// nanoseconds. Digits beyond the ninth of the fraction are ignored.
pub fn parse_unix_seconds(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !frac.is_none_or(all_digits) {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    let nanos = frac
        .unwrap_or("")
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0i64, |n, c| n * 10 + i64::from(c - b'0'));
    let total = secs.checked_mul(NANOS_PER_SEC)?.checked_add(nanos)?;
    Some(if neg { -total } else { total })
}

/// A `--since`/`--until` value the CLI could not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to parse value as time or duration: {0:?}")]
pub struct TimespecError(pub String);

/// Docker's `GetTimestamp`: a Go duration relative to `now_unix` (`10m`,
/// `1h30m`), a unix timestamp (`1700000000`, with a fraction or not, passed
/// through), or an RFC 3339 date or date-time (no zone means UTC), turned
/// into the API's `seconds[.nanoseconds]` form.
pub fn since_value(value: &str, now_unix: i64) -> Result<String, TimespecError> {
    let bad = || TimespecError(value.to_string());
    if value != "0" {
        if let Some(nanos) = parse_go_duration(value) {
            return Ok((now_unix - nanos / NANOS_PER_SEC).to_string());
        }
    }
    if !value.contains('-') {
        let (secs, frac) = value.split_once('.').unwrap_or((value, "0"));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        return if digits(secs) && digits(frac) {
            Ok(value.to_string())
        } else {
            Err(bad())
        };
    }
    let (secs, nanos) = parse_loose_date(value).ok_or_else(bad)?;
    Ok(format!("{secs}.{nanos:09}"))
}

/// `2006-01-02`, `2006-01-02T15:04`, `2006-01-02T15:04:05`, each with an
/// optional `.fraction` and `Z`/`±hh:mm`.
fn parse_loose_date(v: &str) -> Option<(i64, u32)> {
    let num = |s: &str| -> Option<i64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (date, time) = match v.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (v, None),
    };
    let mut dp = date.splitn(3, '-');
    let (y, mo, d) = (num(dp.next()?)?, num(dp.next()?)?, num(dp.next()?)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, mo as u32, d as u32) * 86_400;
    let mut nanos = 0u32;
    if let Some(t) = time {
        let (clock, offset) = match t.find(['Z', 'z', '+', '-']) {
            Some(i) => (&t[..i], &t[i..]),
            None => (t, ""),
        };
        let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
        let mut tp = hms.splitn(3, ':');
        let h = num(tp.next()?)?;
        let mi = num(tp.next()?)?;
        let s = tp.next().map(num).unwrap_or(Some(0))?;
        if h > 23 || mi > 59 || s > 60 {
            return None;
        }
        secs += h * 3600 + mi * 60 + s;
        if !frac.is_empty() {
            num(frac)?;
            let padded = format!("{:0<9}", &frac[..frac.len().min(9)]);
            nanos = padded.parse().ok()?;
        }
        match offset {
            "" | "Z" | "z" => {}
            o => {
                let sign = if o.starts_with('-') { -1 } else { 1 };
                let (oh, om) = o[1..].split_once(':').unwrap_or((&o[1..], "0"));
                secs -= sign * (num(oh)? * 3600 + num(om)? * 60);
            }
        }
    }
    Some((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds() {
        assert_eq!(parse_unix_seconds("1700000000"), Some(1_700_000_000_000_000_000));
        assert_eq!(parse_unix_seconds("1700000000.5"), Some(1_700_000_000_500_000_000));
        assert_eq!(
            parse_unix_seconds("1700000000.000000001"),
            Some(1_700_000_000_000_000_001)
        );
        assert_eq!(parse_unix_seconds("-1.5"), Some(-1_500_000_000));
        for bad in ["17x", "", ".5", "1.", "1.x", "1e9"] {
            assert_eq!(parse_unix_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_are_relative() {
        assert_eq!(since_value("10m", 1000).as_deref(), Ok("400"));
        assert_eq!(since_value("1h30m", 10_000).as_deref(), Ok("4600"));
        assert_eq!(since_value("1.5s", 10).as_deref(), Ok("9"));
    }

    #[test]
    fn unix_timestamps_pass_through() {
        assert_eq!(since_value("1700000000", 0).as_deref(), Ok("1700000000"));
        assert_eq!(since_value("1700000000.5", 0).as_deref(), Ok("1700000000.5"));
        assert_eq!(since_value("0", 99).as_deref(), Ok("0"));
    }

    #[test]
    fn dates() {
        assert_eq!(since_value("1970-01-02", 0).as_deref(), Ok("86400.000000000"));
        assert_eq!(
            since_value("2023-11-14T22:13:20Z", 0).as_deref(),
            Ok("1700000000.000000000")
        );
        assert_eq!(
            since_value("2023-11-14T23:13:20.25+01:00", 0).as_deref(),
            Ok("1700000000.250000000")
        );
    }

    #[test]
    fn garbage() {
        for v in ["yesterday", "10x", "2023-13-01", "1.2.3", ""] {
            assert!(since_value(v, 0).is_err(), "{v}");
        }
    }

    proptest::proptest! {
        #[test]
        fn unix_round_trip(secs in 0i64..9_000_000_000, frac in 0u32..1_000_000_000, neg: bool) {
            let sign = if neg { "-" } else { "" };
            let total = secs * NANOS_PER_SEC + i64::from(frac);
            let want = if neg { -total } else { total };
            proptest::prop_assert_eq!(parse_unix_seconds(&format!("{sign}{secs}.{frac:09}")), Some(want));
        }
    }
}
