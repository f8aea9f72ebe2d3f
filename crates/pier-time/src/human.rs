//! go-units' `HumanDuration`: what docker prints in `Up 3 seconds`,
//! `Exited (0) About a minute ago` and the `CREATED` columns.

use crate::NANOS_PER_SEC;

/// "Less than a second", "1 second", "5 seconds", "About a minute",
/// "3 minutes", "About an hour", "3 hours", "2 days", "2 weeks", "2 months",
/// "2 years" for a duration in nanoseconds (negative reads as zero).
pub fn human_duration(nanos: i64) -> String {
    const HOUR: i64 = 3600 * NANOS_PER_SEC;
    let nanos = nanos.max(0);
    let secs = nanos / NANOS_PER_SEC;
    let minutes = secs / 60;
    // Go's Duration.Round(time.Hour): halfway rounds away from zero.
    let hours = nanos.saturating_add(HOUR / 2) / HOUR;
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
        // go-units truncates the hours here instead of rounding.
        format!("{} years", secs / 3600 / 24 / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_go_units() {
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
            assert_eq!(human_duration(secs * NANOS_PER_SEC), want, "{secs}");
        }
        assert_eq!(human_duration(999_999_999), "Less than a second");
        assert_eq!(human_duration(i64::MAX), "292 years");
    }
}
