//! Time as docker prints and parses it, without a date library: unix
//! nanoseconds <-> civil dates, RFC 3339 (Go's `RFC3339Nano` and docker's
//! fixed nine-digit form), go-units' human durations ("Up 3 seconds"), unix
//! seconds with a fraction (`since=`/`until=` query values) and the CLI's
//! `--since` forms (docker's `GetTimestamp`).
//!
//! Every Pier crate that reads or writes a timestamp uses these helpers, so
//! there is one calendar and one rounding rule.
//!
//! Must not: depend on other Pier crates (pier-api, pier-log and pier-image
//! use it), or do IO. The one clock read is the explicit [`now_nanos`] /
//! [`now_unix`]; everything else is a pure function of its arguments.

mod civil;
mod duration;
mod human;
mod rfc3339;
mod unix;

pub use civil::{civil_from_days, days_from_civil, DateTime};
pub use duration::{parse_go_duration, parse_go_duration_signed, DurationError};
pub use human::human_duration;
pub use rfc3339::{
    append_fixed, format_fixed, format_fixed_into, format_go_utc, format_nano, format_nano_or_zero, parse_rfc3339,
    parse_rfc3339_bytes, FIXED_LEN, ZERO_TIME,
};
pub use unix::{parse_unix_seconds, since_value, TimespecError};

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds in a second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Unix nanoseconds now (the only clock read in this crate).
pub fn now_nanos() -> i64 {
    system_time_nanos(SystemTime::now())
}

/// Unix seconds now.
pub fn now_unix() -> i64 {
    now_nanos().div_euclid(NANOS_PER_SEC)
}

/// A `SystemTime` as unix nanoseconds (saturating; before 1970 is negative).
pub fn system_time_nanos(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}
