//! The daemon's CPU cost of a live `stats` stream: the engine's own
//! `stats` command (one stream per running container, one sample per
//! second) runs for a window while the daemons' CPU time is read from
//! `/proc/PID/stat` before and after.

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};

use crate::cli::CliEngine;
use crate::proc;

/// `USER_HZ`.
pub const CLOCK_TICKS: f64 = 100.0;

/// utime + stime (fields 14 and 15) of /proc/PID/stat text, in ticks.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some(utime + stime)
}

pub fn cpu_ticks(pid: i32) -> Option<u64> {
    parse_cpu_ticks(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn daemons_ticks(c: &CliEngine) -> Result<u64> {
    c.daemon_pids
        .iter()
        .map(|(name, pid)| cpu_ticks(*pid).ok_or_else(|| anyhow!("read the CPU time of {name}")))
        .sum()
}

/// Percent of one core the daemons spent while `stats` streamed for
/// `window` (after `warmup`, so every stream is open), and a description.
pub fn stats_cost(c: &CliEngine, containers: usize, warmup: Duration, window: Duration) -> Result<(f64, String)> {
    if c.daemon_pids.is_empty() {
        bail!("n/a (no daemon)");
    }
    let mut cmd = c.cmd();
    cmd.args(["stats", "--format", "{{.Name}} {{.CPUPerc}} {{.MemUsage}}"])
        .stdin(Stdio::null());
    let mut viewer = proc::Daemon::spawn(&format!("{} stats", c.name), &mut cmd, Path::new("/dev/null"))?;
    std::thread::sleep(warmup);
    if !viewer.alive() {
        bail!("{} stats exited early", c.name);
    }
    let before = daemons_ticks(c)?;
    let t = Instant::now();
    std::thread::sleep(window);
    let after = daemons_ticks(c)?;
    let secs = t.elapsed().as_secs_f64();
    let alive = viewer.alive();
    viewer.stop(Duration::from_secs(5));
    if !alive {
        bail!("{} stats exited during the window", c.name);
    }
    let pct = (after.saturating_sub(before)) as f64 / CLOCK_TICKS / secs * 100.0;
    let names: Vec<&str> = c.daemon_pids.iter().map(|(n, _)| n.as_str()).collect();
    Ok((
        pct,
        format!("{} over {secs:.0} s, {containers} streams", names.join(" + ")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_from_stat() {
        let stat = "42 (pier d) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 100 0";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
        assert_eq!(parse_cpu_ticks("bad"), None);
    }
}
