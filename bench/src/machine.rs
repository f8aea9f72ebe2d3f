//! What the numbers were measured on: machine, versions, date.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

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
    let t = pier_time::DateTime::from_unix_nanos(pier_time::system_time_nanos(t));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(utc(t), "2026-11-18 11:06 UTC");
    }
}
