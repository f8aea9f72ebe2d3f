//! Ages and sizes the way docker's go-units prints them.

/// "5 seconds ago" for a unix timestamp, relative to `now`.
pub fn time_ago(created: i64, now: i64) -> String {
    let nanos = now.saturating_sub(created).saturating_mul(pier_time::NANOS_PER_SEC);
    format!("{} ago", pier_time::human_duration(nanos))
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
    fn ago() {
        assert_eq!(time_ago(100, 105), "5 seconds ago");
        assert_eq!(time_ago(0, 61), "About a minute ago");
        assert_eq!(time_ago(10, 5), "Less than a second ago");
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
