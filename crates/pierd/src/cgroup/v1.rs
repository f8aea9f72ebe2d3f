//! cgroup v1: one directory per controller (`cpu` and `cpuacct` may share
//! one). The files and their meaning are those containerd's cgroup1 stats
//! read, so the numbers match what dockerd reports on such a host.

use std::path::{Path, PathBuf};

use super::{
    parse_flat_keyed, parse_u64, pick, read_text, Blkio, BlkioEntry, Cpu, Memory, OpenFiles, Pids, Throttling, Usage,
};

/// `USER_HZ`: the unit of `cpuacct.stat` (a constant 100 on Linux, as
/// containerd and dockerd assume).
const CLOCK_TICKS: u64 = 100;

/// The keys docker reports from a v1 `memory.stat`, in its order.
pub const MEMORY_STAT_KEYS: &[&str] = &[
    "cache",
    "rss",
    "rss_huge",
    "mapped_file",
    "dirty",
    "writeback",
    "pgpgin",
    "pgpgout",
    "pgfault",
    "pgmajfault",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "hierarchical_memory_limit",
    "hierarchical_memsw_limit",
    "total_cache",
    "total_rss",
    "total_rss_huge",
    "total_mapped_file",
    "total_dirty",
    "total_writeback",
    "total_pgpgin",
    "total_pgpgout",
    "total_pgfault",
    "total_pgmajfault",
    "total_inactive_anon",
    "total_active_anon",
    "total_inactive_file",
    "total_active_file",
    "total_unevictable",
];

/// A process's directory in each v1 hierarchy Pier reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    pub cpu: Option<PathBuf>,
    pub cpuacct: Option<PathBuf>,
    pub memory: Option<PathBuf>,
    pub pids: Option<PathBuf>,
    pub blkio: Option<PathBuf>,
}

fn num(files: &mut OpenFiles, dir: &Path, name: &str) -> u64 {
    read_text(files, dir, name).and_then(|t| parse_u64(&t)).unwrap_or(0)
}

impl Dirs {
    pub fn read(&self, files: &mut OpenFiles) -> Usage {
        let mut u = Usage::default();
        if let Some(d) = &self.cpuacct {
            let stat = read_text(files, d, "cpuacct.stat")
                .map(|t| parse_cpuacct_stat(&t))
                .unwrap_or_default();
            u.cpu = Cpu {
                total_ns: num(files, d, "cpuacct.usage"),
                percpu_ns: read_text(files, d, "cpuacct.usage_percpu")
                    .map(|t| parse_percpu(&t))
                    .unwrap_or_default(),
                user_ns: stat.0,
                kernel_ns: stat.1,
                throttling: Throttling::default(),
            };
        }
        if let Some(d) = &self.cpu {
            u.cpu.throttling = read_text(files, d, "cpu.stat")
                .map(|t| parse_cpu_stat(&t))
                .unwrap_or_default();
        }
        if let Some(d) = &self.memory {
            let stat = read_text(files, d, "memory.stat")
                .map(|t| parse_flat_keyed(&t))
                .unwrap_or_default();
            u.memory = Memory {
                usage: num(files, d, "memory.usage_in_bytes"),
                max_usage: num(files, d, "memory.max_usage_in_bytes"),
                limit: num(files, d, "memory.limit_in_bytes"),
                failcnt: num(files, d, "memory.failcnt"),
                stats: pick(&stat, MEMORY_STAT_KEYS),
            };
        }
        if let Some(d) = &self.pids {
            u.pids = Pids {
                current: num(files, d, "pids.current"),
                limit: read_text(files, d, "pids.max").map(|t| parse_pids_max(&t)).unwrap_or(0),
            };
        }
        if let Some(d) = &self.blkio {
            u.blkio = read_blkio(d, files);
        }
        u
    }
}

/// containerd's choice: the CFQ files when the kernel has them, and the
/// throttle files (which count every device) for bytes and ios otherwise.
/// Every v1 list is present (docker's `[]`, not `null`).
fn read_blkio(d: &Path, files: &mut OpenFiles) -> Blkio {
    let cfq = files.exists(&d.join("blkio.io_serviced_recursive"));
    let mut list = |name: &str| read_text(files, d, name).map(|t| parse_blkio(&t)).unwrap_or_default();
    let mut b = Blkio {
        service_bytes: Some(Vec::new()),
        serviced: Some(Vec::new()),
        queued: Some(Vec::new()),
        service_time: Some(Vec::new()),
        wait_time: Some(Vec::new()),
        merged: Some(Vec::new()),
        time: Some(Vec::new()),
        sectors: Some(Vec::new()),
    };
    if cfq {
        b.sectors = Some(list("blkio.sectors_recursive"));
        b.service_bytes = Some(list("blkio.io_service_bytes_recursive"));
        b.serviced = Some(list("blkio.io_serviced_recursive"));
        b.queued = Some(list("blkio.io_queued_recursive"));
        b.service_time = Some(list("blkio.io_service_time_recursive"));
        b.wait_time = Some(list("blkio.io_wait_time_recursive"));
        b.merged = Some(list("blkio.io_merged_recursive"));
        b.time = Some(list("blkio.time_recursive"));
    }
    if b.service_bytes.as_ref().is_none_or(Vec::is_empty) {
        b.service_bytes = Some(list("blkio.throttle.io_service_bytes_recursive"));
        b.serviced = Some(list("blkio.throttle.io_serviced_recursive"));
    }
    b
}

/// `cpuacct.usage_percpu`: numbers separated by spaces.
pub fn parse_percpu(text: &str) -> Vec<u64> {
    text.split_whitespace().filter_map(|n| n.parse().ok()).collect()
}

/// `cpuacct.stat` (`user N`, `system N` in `USER_HZ` ticks) as
/// (user, system) nanoseconds.
pub fn parse_cpuacct_stat(text: &str) -> (u64, u64) {
    let m = parse_flat_keyed(text);
    let ns = |k: &str| {
        m.get(k)
            .copied()
            .unwrap_or(0)
            .saturating_mul(1_000_000_000 / CLOCK_TICKS)
    };
    (ns("user"), ns("system"))
}

/// `cpu.stat` of the cpu controller (`throttled_time` in nanoseconds).
pub fn parse_cpu_stat(text: &str) -> Throttling {
    let m = parse_flat_keyed(text);
    let g = |k: &str| m.get(k).copied().unwrap_or(0);
    Throttling {
        periods: g("nr_periods"),
        throttled_periods: g("nr_throttled"),
        throttled_ns: g("throttled_time"),
    }
}

/// `pids.max`: a number, or `max` (0: no limit, as docker reports it).
pub fn parse_pids_max(text: &str) -> u64 {
    match text.trim() {
        "max" => 0,
        n => n.parse().unwrap_or(0),
    }
}

/// A blkio list: `MAJ:MIN Op value` lines; `Total` lines and anything
/// malformed are skipped.
pub fn parse_blkio(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let dev = f.next()?;
            let op = f.next()?;
            let value = f.next()?.parse().ok()?;
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_files() {
        assert_eq!(parse_percpu("123 456 \n"), vec![123, 456]);
        assert_eq!(parse_cpuacct_stat("user 25\nsystem 3\n"), (250_000_000, 30_000_000));
        let t = parse_cpu_stat("nr_periods 10\nnr_throttled 4\nthrottled_time 5000\nnr_bursts 0\n");
        assert_eq!(
            t,
            Throttling {
                periods: 10,
                throttled_periods: 4,
                throttled_ns: 5000
            }
        );
    }

    #[test]
    fn pids_and_blkio() {
        assert_eq!(parse_pids_max("max\n"), 0);
        assert_eq!(parse_pids_max("200\n"), 200);
        let b = parse_blkio("8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\nTotal 12288\n");
        assert_eq!(b.len(), 4);
        assert_eq!(
            b[1],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Write".into(),
                value: 8192
            }
        );
        assert!(parse_blkio("Total 0\n").is_empty());
    }

    /// Read this test process's own cgroup for real (v1 here and in CI;
    /// a v2 host reads through the v2 side).
    #[test]
    fn reads_this_process_cgroup() {
        let pid = i32::try_from(std::process::id()).expect("pid");
        let cg = super::super::Cgroup::of_pid(pid).expect("own cgroup is mounted");
        let v2_host = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        assert_eq!(matches!(cg, super::super::Cgroup::V2(_)), v2_host, "{cg:?}");
        let u = cg.read(&mut OpenFiles::new());
        assert!(u.cpu.total_ns > 0, "{u:?}");
        assert!(u.memory.usage > 0, "{u:?}");
        assert!(u.blkio.service_bytes.is_some());
        if !v2_host {
            assert_eq!(u.memory.stats.len(), MEMORY_STAT_KEYS.len());
        }
    }
}
