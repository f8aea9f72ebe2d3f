//! Go's `time.ParseDuration`: `10m`, `1h30m`, `1.5s`, `-300ms`, with Go's
//! error messages (the CLI shows them for `--health-interval`), and the
//! non-negative form `--since 10m` wants.

/// Why Go would refuse a duration; `Display` is Go's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("time: invalid duration \"{0}\"")]
    Invalid(String),
    #[error("time: missing unit in duration \"{0}\"")]
    MissingUnit(String),
    #[error("time: unknown unit \"{unit}\" in duration \"{input}\"")]
    UnknownUnit { unit: String, input: String },
}

/// A Go duration in nanoseconds, sign included.
pub fn parse_go_duration_signed(s: &str) -> Result<i64, DurationError> {
    let bad = || DurationError::Invalid(s.to_string());
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..n];
        if num.is_empty() || num == "." {
            return Err(bad());
        }
        let value: f64 = num.parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..u];
        rest = &rest[u..];
        let mult = match unit {
            "" => return Err(DurationError::MissingUnit(s.to_string())),
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            other => {
                return Err(DurationError::UnknownUnit {
                    unit: other.to_string(),
                    input: s.to_string(),
                })
            }
        };
        total += value * mult;
    }
    if total > i64::MAX as f64 {
        return Err(bad());
    }
    let ns = total.round() as i64;
    Ok(if neg { -ns } else { ns })
}

/// A non-negative Go duration in nanoseconds; `None` for anything Go would
/// refuse or a negative value.
pub fn parse_go_duration(s: &str) -> Option<i64> {
    if s.starts_with('-') {
        return None;
    }
    parse_go_duration_signed(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_forms() {
        assert_eq!(parse_go_duration("10m"), Some(600_000_000_000));
        assert_eq!(parse_go_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("+300ms"), Some(300_000_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        for bad in ["", "10", "10x", "-1s", "m", "1.2.3s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
        assert_eq!(parse_go_duration_signed("-1s"), Ok(-1_000_000_000));
        assert_eq!(
            parse_go_duration_signed("1").map_err(|e| e.to_string()),
            Err("time: missing unit in duration \"1\"".to_string())
        );
        assert_eq!(
            parse_go_duration_signed("1x").map_err(|e| e.to_string()),
            Err("time: unknown unit \"x\" in duration \"1x\"".to_string())
        );
        assert_eq!(
            parse_go_duration_signed("x").map_err(|e| e.to_string()),
            Err("time: invalid duration \"x\"".to_string())
        );
    }
}
