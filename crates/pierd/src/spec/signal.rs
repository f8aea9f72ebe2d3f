//! Signal names and numbers as docker's `signal.ParseSignal` reads them
//! (Linux numbering).

use super::SpecError;

/// SIGRTMIN and SIGRTMAX as glibc and Go's signal map define them.
const RTMIN: i32 = 34;
const RTMAX: i32 = 64;

/// Docker's Linux signal map without the real-time entries, which are
/// computed from [`RTMIN`]/[`RTMAX`].
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
    ("UNUSED", 31),
];

fn by_name(name: &str) -> Option<i32> {
    if let Some((_, n)) = SIGNALS.iter().find(|(s, _)| *s == name) {
        return Some(*n);
    }
    let offset = |s: &str| s.parse::<i32>().ok().filter(|n| (1..=15).contains(n));
    match name {
        "RTMIN" => Some(RTMIN),
        "RTMAX" => Some(RTMAX),
        _ => {
            if let Some(n) = name.strip_prefix("RTMIN+").and_then(offset) {
                Some(RTMIN + n)
            } else {
                name.strip_prefix("RTMAX-")
                    .and_then(offset)
                    .filter(|n| *n <= 14)
                    .map(|n| RTMAX - n)
            }
        }
    }
}

/// Parses `KILL`, `SIGKILL`, `kill`, `9`: a name with or without `SIG`
/// (any case), or a number in 1..=64. Anything else is docker's
/// "Invalid signal: X".
pub fn parse_signal(raw: &str) -> Result<i32, SpecError> {
    let invalid = || SpecError::InvalidSignal {
        signal: raw.to_string(),
    };
    if let Ok(n) = raw.parse::<i32>() {
        return if (1..=RTMAX).contains(&n) {
            Ok(n)
        } else {
            Err(invalid())
        };
    }
    let upper = raw.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    by_name(name).ok_or_else(invalid)
}

/// The canonical name of a signal number (`SIGTERM`), for display.
pub fn signal_name(signal: i32) -> Option<String> {
    match signal {
        RTMIN => Some("SIGRTMIN".to_string()),
        RTMAX => Some("SIGRTMAX".to_string()),
        n if n > RTMIN && n <= RTMIN + 15 => Some(format!("SIGRTMIN+{}", n - RTMIN)),
        n if n > RTMIN + 15 && n < RTMAX => Some(format!("SIGRTMAX-{}", RTMAX - n)),
        n => SIGNALS
            .iter()
            .find(|(_, num)| *num == n)
            .map(|(s, _)| format!("SIG{s}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_and_without_sig_any_case() {
        for raw in ["KILL", "SIGKILL", "kill", "sigkill", "SigKill", "9"] {
            assert_eq!(parse_signal(raw), Ok(9), "{raw}");
        }
        assert_eq!(parse_signal("TERM"), Ok(15));
        assert_eq!(parse_signal("SIGWINCH"), Ok(28));
        assert_eq!(parse_signal("cld"), Ok(17));
    }

    #[test]
    fn realtime_signals() {
        assert_eq!(parse_signal("RTMIN"), Ok(34));
        assert_eq!(parse_signal("SIGRTMIN+3"), Ok(37));
        assert_eq!(parse_signal("RTMAX-1"), Ok(63));
        assert_eq!(parse_signal("rtmax"), Ok(64));
        assert!(parse_signal("RTMIN+16").is_err());
        assert!(parse_signal("RTMAX-15").is_err());
    }

    #[test]
    fn unknown_signals_are_docker_errors() {
        for raw in ["", "0", "65", "-1", "FOO", "SIG", "SIGKILLX", "9x"] {
            assert!(parse_signal(raw).is_err(), "{raw}");
        }
        assert_eq!(
            parse_signal("FOO").expect_err("must fail").to_string(),
            "Invalid signal: FOO"
        );
    }

    #[test]
    fn names_round_trip() {
        for n in (1..=31).chain(34..=64) {
            let name = signal_name(n).unwrap_or_default();
            assert_eq!(parse_signal(&name), Ok(n), "{n} {name}");
        }
        assert_eq!(signal_name(15).as_deref(), Some("SIGTERM"));
        assert_eq!(signal_name(0), None);
        assert_eq!(signal_name(32), None);
    }
}
