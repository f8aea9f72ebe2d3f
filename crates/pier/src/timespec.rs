//! `--since`/`--until` values as docker's `GetTimestamp` reads them: a Go
//! duration relative to now (`10m`, `1h30m`), a unix timestamp (`1700000000`
//! or with a fraction), or an RFC 3339 date/time (local time is taken as UTC).

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to parse value as time or duration: {0:?}")]
pub struct TimespecError(pub String);

/// Convert to the daemon's `seconds[.nanoseconds]` form.
pub fn timestamp(value: &str, now_unix: i64) -> Result<String, TimespecError> {
    let bad = || TimespecError(value.to_string());
    if value != "0" {
        if let Some(nanos) = go_duration_nanos(value) {
            return Ok((now_unix - (nanos / 1_000_000_000) as i64).to_string());
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
    let (secs, nanos) = parse_rfc3339ish(value).ok_or_else(bad)?;
    Ok(format!("{secs}.{nanos:09}"))
}

/// Go's `time.ParseDuration` for non-negative values, in nanoseconds.
fn go_duration_nanos(s: &str) -> Option<u128> {
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    Some(total as u128)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// `2006-01-02`, `2006-01-02T15:04:05`, with optional `.fraction` and
/// optional `Z`/`±hh:mm`.
fn parse_rfc3339ish(v: &str) -> Option<(i64, u32)> {
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
    let mut secs = days_from_civil(y, mo, d) * 86400;
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
    fn durations_are_relative() {
        assert_eq!(timestamp("10m", 1000).as_deref(), Ok("400"));
        assert_eq!(timestamp("1h30m", 10_000).as_deref(), Ok("4600"));
        assert_eq!(timestamp("1.5s", 10).as_deref(), Ok("9"));
    }

    #[test]
    fn unix_timestamps_pass_through() {
        assert_eq!(timestamp("1700000000", 0).as_deref(), Ok("1700000000"));
        assert_eq!(timestamp("1700000000.5", 0).as_deref(), Ok("1700000000.5"));
        assert_eq!(timestamp("0", 99).as_deref(), Ok("0"));
    }

    #[test]
    fn dates() {
        assert_eq!(timestamp("1970-01-02", 0).as_deref(), Ok("86400.000000000"));
        assert_eq!(
            timestamp("2023-11-14T22:13:20Z", 0).as_deref(),
            Ok("1700000000.000000000")
        );
        assert_eq!(
            timestamp("2023-11-14T23:13:20.25+01:00", 0).as_deref(),
            Ok("1700000000.250000000")
        );
    }

    #[test]
    fn garbage() {
        for v in ["yesterday", "10x", "2023-13-01", "1.2.3", ""] {
            assert!(timestamp(v, 0).is_err(), "{v}");
        }
    }
}
