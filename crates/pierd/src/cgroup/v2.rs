//! cgroup v2: one directory holds every controller's files. The files and
//! their meaning are those containerd's cgroup2 stats read, so the numbers
//! match what dockerd reports on such a host.

use std::path::Path;

use super::{
    parse_flat_keyed, parse_limit, parse_u64, pick, read_text, Blkio, BlkioEntry, Cpu, Memory, OpenFiles, Pids,
    Throttling, Usage,
};

/// The keys docker reports from a v2 `memory.stat`, in its order.
pub const MEMORY_STAT_KEYS: &[&str] = &[
    "anon",
    "file",
    "kernel_stack",
    "slab",
    "sock",
    "shmem",
    "file_mapped",
    "file_dirty",
    "file_writeback",
    "anon_thp",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "slab_reclaimable",
    "slab_unreclaimable",
    "pgfault",
    "pgmajfault",
    "workingset_refault",
    "workingset_activate",
    "workingset_nodereclaim",
    "pgrefill",
    "pgscan",
    "pgsteal",
    "pgactivate",
    "pgdeactivate",
    "pglazyfree",
    "pglazyfreed",
    "thp_fault_alloc",
    "thp_collapse_alloc",
];

/// The files of one v2 cgroup, as text (`None`: absent or unreadable).
#[derive(Debug, Default, Clone)]
pub struct Files {
    pub cpu_stat: Option<String>,
    pub memory_current: Option<String>,
    pub memory_max: Option<String>,
    pub memory_stat: Option<String>,
    pub memory_events: Option<String>,
    pub io_stat: Option<String>,
    pub pids_current: Option<String>,
    pub pids_max: Option<String>,
}

impl Files {
    pub fn read(dir: &Path, files: &mut OpenFiles) -> Files {
        let mut r = |n: &str| read_text(files, dir, n);
        Files {
            cpu_stat: r("cpu.stat"),
            memory_current: r("memory.current"),
            memory_max: r("memory.max"),
            memory_stat: r("memory.stat"),
            memory_events: r("memory.events"),
            io_stat: r("io.stat"),
            pids_current: r("pids.current"),
            pids_max: r("pids.max"),
        }
    }
}

/// Read a v2 cgroup directory.
pub fn read(dir: &Path, files: &mut OpenFiles) -> Usage {
    usage(&Files::read(dir, files))
}

/// A sample from the files' text (pure).
pub fn usage(f: &Files) -> Usage {
    let cpu = f.cpu_stat.as_deref().map(parse_flat_keyed).unwrap_or_default();
    let us = |k: &str| cpu.get(k).copied().unwrap_or(0).saturating_mul(1000);
    let stat = f.memory_stat.as_deref().map(parse_flat_keyed).unwrap_or_default();
    let events = f.memory_events.as_deref().map(parse_flat_keyed).unwrap_or_default();
    let n = |t: &Option<String>| t.as_deref().and_then(parse_u64).unwrap_or(0);
    let service_bytes = f.io_stat.as_deref().map(parse_io_stat).unwrap_or_default();
    Usage {
        cpu: Cpu {
            total_ns: us("usage_usec"),
            percpu_ns: Vec::new(),
            kernel_ns: us("system_usec"),
            user_ns: us("user_usec"),
            throttling: Throttling {
                periods: cpu.get("nr_periods").copied().unwrap_or(0),
                throttled_periods: cpu.get("nr_throttled").copied().unwrap_or(0),
                throttled_ns: us("throttled_usec"),
            },
        },
        memory: Memory {
            usage: n(&f.memory_current),
            max_usage: 0,
            limit: f.memory_max.as_deref().and_then(parse_limit).unwrap_or(u64::MAX),
            failcnt: events.get("oom").copied().unwrap_or(0),
            stats: pick(&stat, MEMORY_STAT_KEYS),
        },
        pids: Pids {
            current: n(&f.pids_current),
            limit: match f.pids_max.as_deref().and_then(parse_limit) {
                Some(u64::MAX) | None => 0,
                Some(l) => l,
            },
        },
        blkio: Blkio {
            // docker: `null` rather than `[]` when there is no device.
            service_bytes: (!service_bytes.is_empty()).then_some(service_bytes),
            ..Blkio::default()
        },
    }
}

/// `io.stat`: `MAJ:MIN rbytes=N wbytes=N rios=N …` per device, as docker
/// reports it: a `read` and a `write` byte entry per device.
pub fn parse_io_stat(text: &str) -> Vec<BlkioEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some((major, minor)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse::<u64>(), minor.parse::<u64>()) else {
            continue;
        };
        let (mut rbytes, mut wbytes) = (0, 0);
        for kv in f {
            match kv.split_once('=') {
                Some(("rbytes", v)) => rbytes = v.parse().unwrap_or(0),
                Some(("wbytes", v)) => wbytes = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        let entry = |op: &str, value| BlkioEntry {
            major,
            minor,
            op: op.to_string(),
            value,
        };
        out.push(entry("read", rbytes));
        out.push(entry("write", wbytes));
    }
    out
}

/// The `oom_kill` count of `memory.events` (for OOM detection).
pub fn oom_kills(memory_events: &str) -> u64 {
    parse_flat_keyed(memory_events).get("oom_kill").copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/cgroup/fixtures/v2")
    }

    #[test]
    fn reads_a_v2_cgroup_directory() {
        let u = read(&fixtures().join("busy"), &mut OpenFiles::new());
        assert_eq!(u.cpu.total_ns, 2_841_627_000);
        assert_eq!(u.cpu.user_ns, 2_791_108_000);
        assert_eq!(u.cpu.kernel_ns, 50_519_000);
        assert!(u.cpu.percpu_ns.is_empty());
        assert_eq!(
            u.cpu.throttling,
            Throttling {
                periods: 57,
                throttled_periods: 29,
                throttled_ns: 1_411_838_000
            }
        );
        assert_eq!(u.memory.usage, 2_289_664);
        assert_eq!(u.memory.limit, 33_554_432);
        assert_eq!(u.memory.max_usage, 0);
        assert_eq!(u.memory.failcnt, 3, "memory.events oom");
        assert_eq!(u.memory.stats.len(), MEMORY_STAT_KEYS.len());
        assert_eq!(u.memory.stats["anon"], 147_456);
        assert_eq!(u.memory.stats["inactive_file"], 1_204_224);
        assert_eq!(u.memory.stats["workingset_refault"], 0, "absent key reads 0");
        assert!(
            !u.memory.stats.contains_key("numa_pages_migrated"),
            "only docker's keys"
        );
        assert_eq!(u.pids, Pids { current: 3, limit: 200 });
        let io = u.blkio.service_bytes.expect("io.stat entries");
        assert_eq!(io.len(), 4);
        assert_eq!(
            io[0],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "read".into(),
                value: 1_052_672
            }
        );
        assert_eq!(io[3].op, "write");
        assert_eq!(io[3].value, 4096);
        assert!(u.blkio.serviced.is_none(), "v2 has bytes only");
    }

    #[test]
    fn unlimited_and_idle_cgroup() {
        let u = read(&fixtures().join("idle"), &mut OpenFiles::new());
        assert_eq!(u.memory.limit, u64::MAX, "memory.max `max`");
        assert_eq!(u.pids.limit, 0, "pids.max `max` is docker's 0");
        assert_eq!(u.memory.failcnt, 0);
        assert_eq!(u.blkio.service_bytes, None, "empty io.stat is null");
        assert_eq!(
            oom_kills(&std::fs::read_to_string(fixtures().join("busy/memory.events")).expect("fixture")),
            2
        );
    }

    #[test]
    fn a_missing_directory_reads_as_zero() {
        let u = read(&fixtures().join("absent"), &mut OpenFiles::new());
        assert_eq!(u.cpu.total_ns, 0);
        assert_eq!(u.memory.limit, u64::MAX);
        assert_eq!(u.memory.stats.values().sum::<u64>(), 0);
    }
}
