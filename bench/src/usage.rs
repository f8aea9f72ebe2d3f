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

/// The machine's CPU time from `/proc/stat`'s `cpu` line, in ticks: busy
/// (user, nice, system, irq, softirq, steal) and all (busy + idle + iowait).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineTicks {
    pub busy: u64,
    pub all: u64,
}

pub fn parse_machine_ticks(stat: &str) -> Option<MachineTicks> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = v[..] else {
        return None;
    };
    let busy = user + nice + system + irq + softirq + steal;
    Some(MachineTicks {
        busy,
        all: busy + idle + iowait,
    })
}

pub fn machine_ticks() -> Option<MachineTicks> {
    parse_machine_ticks(&fs::read_to_string("/proc/stat").ok()?)
}

/// What the machine did between two readings over `units` pieces of work:
/// CPU milliseconds per unit and the busy share of all CPUs, e.g.
/// "machine CPU 61.2 ms per container, 97 % busy".
pub fn machine_use(before: MachineTicks, after: MachineTicks, units: usize, unit: &str) -> String {
    let busy = after.busy.saturating_sub(before.busy) as f64;
    let all = after.all.saturating_sub(before.all) as f64;
    let per = busy / CLOCK_TICKS * 1e3 / units.max(1) as f64;
    let share = if all > 0.0 { busy / all * 100.0 } else { 0.0 };
    format!("machine CPU {per:.1} ms per {unit}, {share:.0} % busy")
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
    fn machine_ticks_from_proc_stat() {
        let stat = "cpu  100 5 50 1000 20 3 2 10 0 0\ncpu0 50 2 25 500 10 1 1 5 0 0\n";
        let t = parse_machine_ticks(stat).expect("parsed");
        assert_eq!(t, MachineTicks { busy: 170, all: 1190 });
        assert_eq!(parse_machine_ticks("cpu0 1 2 3\n"), None);
        assert_eq!(parse_machine_ticks("cpu  1 2 x 4 5 6 7 8\n"), None);
        let after = MachineTicks {
            busy: 170 + 300,
            all: 1190 + 400,
        };
        assert_eq!(
            machine_use(t, after, 10, "container"),
            "machine CPU 300.0 ms per container, 75 % busy"
        );
    }

    #[test]
    fn ticks_from_stat() {
        let stat = "42 (pier d) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 100 0";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
        assert_eq!(parse_cpu_ticks("bad"), None);
    }
}
