//! The healthcheck: docker's merge of the request's `Config.Healthcheck`
//! over the image's (dockerd's `merge` in `daemon/commit.go`), the probe's
//! argv (`CMD`, `CMD-SHELL` through the container's shell, `NONE`), and
//! the effective timings with dockerd's defaults (`daemon/health.go`).

use pier_api::container::HealthConfig;
use serde::{Deserialize, Serialize};

/// Default probe interval and timeout (dockerd's `defaultProbeInterval`,
/// `defaultProbeTimeout`).
pub const DEFAULT_INTERVAL: i64 = 30_000_000_000;
pub const DEFAULT_TIMEOUT: i64 = 30_000_000_000;
/// `defaultStartInterval`.
pub const DEFAULT_START_INTERVAL: i64 = 5_000_000_000;
/// `defaultProbeRetries`.
pub const DEFAULT_RETRIES: u32 = 3;

/// `Config.Healthcheck` as merged at create; durations in nanoseconds,
/// 0 meaning dockerd's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthcheckSpec {
    /// `["CMD", …]`, `["CMD-SHELL", "…"]`, `["NONE"]`, or empty (inherit:
    /// none).
    pub test: Vec<String>,
    pub interval: i64,
    pub timeout: i64,
    pub start_period: i64,
    pub start_interval: i64,
    pub retries: i64,
    /// The container's `Shell` (request's, else image's) for `CMD-SHELL`;
    /// empty: `/bin/sh -c`.
    #[serde(default)]
    pub shell: Vec<String>,
}

/// What the shim is told: the argv and effective timings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub argv: Vec<String>,
    pub interval: i64,
    pub timeout: i64,
    pub start_period: i64,
    pub start_interval: i64,
    pub retries: u32,
}

/// dockerd's merge: the request's healthcheck, its unset parts taken from
/// the image's; `None` when neither has one.
pub fn merge(
    request: Option<&HealthConfig>,
    image: Option<&pier_image::Healthcheck>,
    shell: Vec<String>,
) -> Option<HealthcheckSpec> {
    let from_image = |h: &pier_image::Healthcheck| HealthcheckSpec {
        test: h.test.clone().unwrap_or_default(),
        interval: h.interval,
        timeout: h.timeout,
        start_period: h.start_period,
        start_interval: h.start_interval,
        retries: h.retries,
        shell: Vec::new(),
    };
    let mut merged = match (request, image) {
        (None, None) => return None,
        (None, Some(i)) => from_image(i),
        (Some(r), i) => {
            let mut m = HealthcheckSpec {
                test: r.test.clone().unwrap_or_default(),
                interval: r.interval,
                timeout: r.timeout,
                start_period: r.start_period,
                start_interval: r.start_interval,
                retries: r.retries,
                shell: Vec::new(),
            };
            if let Some(i) = i {
                let i = from_image(i);
                if m.test.is_empty() {
                    m.test = i.test;
                }
                for (mine, theirs) in [
                    (&mut m.interval, i.interval),
                    (&mut m.timeout, i.timeout),
                    (&mut m.start_period, i.start_period),
                    (&mut m.start_interval, i.start_interval),
                    (&mut m.retries, i.retries),
                ] {
                    if *mine == 0 {
                        *mine = theirs;
                    }
                }
            }
            m
        }
    };
    merged.shell = shell;
    Some(merged)
}

impl HealthcheckSpec {
    /// The wire form inspect shows.
    pub fn to_wire(&self) -> HealthConfig {
        HealthConfig {
            test: (!self.test.is_empty()).then(|| self.test.clone()),
            interval: self.interval,
            timeout: self.timeout,
            start_period: self.start_period,
            start_interval: self.start_interval,
            retries: self.retries,
        }
    }

    /// The probe to run; `None` for `NONE`, an empty test or an unknown
    /// type (dockerd logs and runs none).
    pub fn probe(&self) -> Option<Probe> {
        let (kind, rest) = self.test.split_first()?;
        let argv = match kind.as_str() {
            "CMD" => rest.to_vec(),
            "CMD-SHELL" => {
                let mut argv = if self.shell.is_empty() {
                    vec!["/bin/sh".to_string(), "-c".to_string()]
                } else {
                    self.shell.clone()
                };
                argv.push(rest.join(" "));
                argv
            }
            _ => return None,
        };
        if argv.is_empty() {
            return None;
        }
        let or = |v: i64, d: i64| if v > 0 { v } else { d };
        Some(Probe {
            argv,
            interval: or(self.interval, DEFAULT_INTERVAL),
            timeout: or(self.timeout, DEFAULT_TIMEOUT),
            start_period: self.start_period.max(0),
            start_interval: or(self.start_interval, DEFAULT_START_INTERVAL),
            retries: u32::try_from(self.retries)
                .ok()
                .filter(|&r| r > 0)
                .unwrap_or(DEFAULT_RETRIES),
        })
    }
}

/// Go's `time.Duration.String()` (`30s`, `1m30s`, `500ms`, `1.5s`).
pub fn go_duration(ns: i64) -> String {
    fn frac(v: u64, div: u64) -> String {
        let (int, rem) = (v / div, v % div);
        if rem == 0 {
            return int.to_string();
        }
        let width = div.ilog10() as usize;
        let digits = format!("{rem:0width$}");
        format!("{int}.{}", digits.trim_end_matches('0'))
    }
    if ns == 0 {
        return "0s".to_string();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    const SEC: u64 = 1_000_000_000;
    let body = if u < 1_000 {
        format!("{u}ns")
    } else if u < 1_000_000 {
        format!("{}µs", frac(u, 1_000))
    } else if u < SEC {
        format!("{}ms", frac(u, 1_000_000))
    } else {
        let (h, m, s) = (u / (3600 * SEC), (u / (60 * SEC)) % 60, u % (60 * SEC));
        let mut out = String::new();
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&format!("{}s", frac(s, SEC)));
        out
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn request_over_image() {
        let image = pier_image::Healthcheck {
            test: Some(vec!["CMD".into(), "true".into()]),
            interval: 10 * S,
            retries: 5,
            ..Default::default()
        };
        let m = merge(None, Some(&image), vec![]).expect("image's");
        assert_eq!(m.test, vec!["CMD", "true"]);
        let req = HealthConfig {
            test: None,
            timeout: 2 * S,
            ..Default::default()
        };
        let m = merge(Some(&req), Some(&image), vec![]).expect("merged");
        assert_eq!((m.interval, m.timeout, m.retries), (10 * S, 2 * S, 5));
        assert_eq!(m.test, vec!["CMD", "true"]);
        let none = HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        };
        let m = merge(Some(&none), Some(&image), vec![]).expect("kept");
        assert_eq!(m.probe(), None);
        assert_eq!(m.to_wire().test, Some(vec!["NONE".to_string()]));
        assert_eq!(merge(None, None, vec![]), None);
    }

    #[test]
    fn probe_argv_and_defaults() {
        let h = HealthcheckSpec {
            test: vec!["CMD-SHELL".into(), "exit 0".into()],
            ..Default::default()
        };
        let p = h.probe().expect("probe");
        assert_eq!(p.argv, vec!["/bin/sh", "-c", "exit 0"]);
        assert_eq!(
            (p.interval, p.timeout, p.start_interval, p.retries),
            (30 * S, 30 * S, 5 * S, 3)
        );
        let h = HealthcheckSpec {
            test: vec!["CMD-SHELL".into(), "a".into(), "b".into()],
            shell: vec!["/bin/bash".into(), "-ec".into()],
            ..Default::default()
        };
        assert_eq!(h.probe().expect("probe").argv, vec!["/bin/bash", "-ec", "a b"]);
        let h = HealthcheckSpec {
            test: vec!["CMD".into(), "ls".into(), "/".into()],
            ..Default::default()
        };
        assert_eq!(h.probe().expect("probe").argv, vec!["ls", "/"]);
        for test in [
            vec![],
            vec!["NONE".to_string()],
            vec!["WHAT".into(), "x".into()],
            vec!["CMD".into()],
        ] {
            let h = HealthcheckSpec {
                test,
                ..Default::default()
            };
            assert_eq!(h.probe(), None);
        }
    }

    #[test]
    fn go_durations() {
        for (ns, s) in [
            (0, "0s"),
            (30 * S, "30s"),
            (90 * S, "1m30s"),
            (3600 * S, "1h0m0s"),
            (S / 2, "500ms"),
            (3 * S / 2, "1.5s"),
            (1_500, "1.5µs"),
            (12, "12ns"),
        ] {
            assert_eq!(go_duration(ns), s);
        }
    }
}
