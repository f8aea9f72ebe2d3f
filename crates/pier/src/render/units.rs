//! Durations and sizes the way docker's go-units prints them.

/// go-units `HumanDuration` for a non-negative number of seconds:
/// "Less than a second", "5 seconds", "About a minute", "3 hours"...
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let minutes = secs / 60;
    // time.Duration.Round(time.Hour): halfway rounds away from zero.
    let hours = (secs + 1800) / 3600;
    if secs < 1 {
        "Less than a second".to_string()
    } else if secs == 1 {
        "1 second".to_string()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if minutes == 1 {
        "About a minute".to_string()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".to_string()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", secs / 3600 / 24 / 365)
    }
}

/// "5 seconds ago" for a unix timestamp, relative to `now`.
pub fn time_ago(created: i64, now: i64) -> String {
    format!("{} ago", human_duration(now - created))
}

const DECIMAL: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

fn custom_size(size: f64, precision: usize, base: f64, units: &[&str]) -> String {
    let mut size = size;
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    format!("{}{}", go_g(size, precision), units[i])
}

/// go-units `HumanSizeWithPrecision`: base 1000 ("4.26MB" at precision 3,
/// what `docker images` prints).
pub fn human_size(size: f64, precision: usize) -> String {
    custom_size(size, precision, 1000.0, &DECIMAL)
}

/// go-units `BytesSize`: base 1024, precision 4 ("7.631GiB").
pub fn bytes_size(size: f64) -> String {
    custom_size(size, 4, 1024.0, &BINARY)
}

/// Go's `%.<prec>g`: shortest of fixed or scientific, trailing zeros cut.
pub fn go_g(v: f64, prec: usize) -> String {
    let prec = prec.max(1);
    if v == 0.0 {
        return "0".to_string();
    }
    // Rust's `{:e}` rounds to `prec` significant digits; read the exponent
    // back from it so rounding (9.999 -> 1.00e1) is accounted for.
    let sci = format!("{:.*e}", prec - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go_units() {
        let cases = [
            (0, "Less than a second"),
            (1, "1 second"),
            (5, "5 seconds"),
            (59, "59 seconds"),
            (60, "About a minute"),
            (119, "About a minute"),
            (120, "2 minutes"),
            (3599, "59 minutes"),
            (3600, "About an hour"),
            (5399, "About an hour"),
            (5400, "2 hours"),
            (47 * 3600, "47 hours"),
            (48 * 3600, "2 days"),
            (14 * 24 * 3600, "2 weeks"),
            (60 * 24 * 3600, "2 months"),
            (730 * 24 * 3600, "2 years"),
            (-5, "Less than a second"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
        assert_eq!(time_ago(100, 105), "5 seconds ago");
    }

    #[test]
    fn sizes_like_go_units() {
        let cases = [
            (0.0, "0B"),
            (100.0, "100B"),
            (999.0, "999B"),
            (1000.0, "1kB"),
            (4_261_234.0, "4.26MB"),
            (1_234_567_890.0, "1.23GB"),
            (12_345.0, "12.3kB"),
            (999_999.0, "1e+03kB"),
            (2_150_000.0, "2.15MB"),
        ];
        for (n, want) in cases {
            assert_eq!(human_size(n, 3), want, "{n}");
        }
        assert_eq!(bytes_size(8_193_245_184.0), "7.631GiB");
        assert_eq!(bytes_size(512.0), "512B");
    }

    #[test]
    fn go_g_formats() {
        assert_eq!(go_g(4.26123, 3), "4.26");
        assert_eq!(go_g(4.0, 3), "4");
        assert_eq!(go_g(0.00001234, 3), "1.23e-05");
        assert_eq!(go_g(123.4, 4), "123.4");
        assert_eq!(go_g(1234.5, 4), "1234");
    }
}
