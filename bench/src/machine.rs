//! What the numbers were measured on: machine, versions, date.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::proc::{self, Stdout};

/// Cores, memory, CPU, kernel, OS and cgroup layout.
pub fn describe() -> Vec<(String, String)> {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_else(|| "?".into());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let os = fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "?".into());
    vec![
        ("cores".into(), cores.to_string()),
        ("memory".into(), format!("{:.1} GiB", mem_kib as f64 / 1024.0 / 1024.0)),
        ("cpu".into(), cpu),
        ("kernel".into(), kernel.trim().to_string()),
        ("os".into(), os),
        ("cgroups".into(), cgroup_layout()),
    ]
}

fn cgroup_layout() -> String {
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let v1 = mounts.lines().any(|l| l.split(' ').nth(2) == Some("cgroup"));
    let v2 = mounts.lines().any(|l| l.split(' ').nth(2) == Some("cgroup2"));
    match (v1, v2) {
        (true, true) => "v1/v2 hybrid".into(),
        (true, false) => "v1".into(),
        (false, true) => "v2".into(),
        (false, false) => "none".into(),
    }
}

/// The repository's git revision, marked when the tree has local changes.
pub fn git_rev(repo: &Path) -> String {
    let run = |args: &[&str]| {
        let mut c = Command::new("git");
        c.arg("-C").arg(repo).args(args);
        proc::run(&mut c, Stdout::Capture, Duration::from_secs(20))
            .ok()
            .filter(|o| o.status.success())
            .map(|o| o.stdout_text())
    };
    let rev = run(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{rev} (+ local changes)")
    } else {
        rev
    }
}

/// `YYYY-MM-DD HH:MM UTC` for a time.
pub fn utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(utc(t), "2026-11-18 11:06 UTC");
    }
}
