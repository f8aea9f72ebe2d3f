//! A container's resource usage, read from its cgroup files: one reader
//! with a cgroup v1 implementation (`v1`: a hierarchy per controller, as on
//! hybrid hosts) and a cgroup v2 one (`v2`: one unified directory), plus
//! the host-wide numbers a sample needs (`host`: `/proc/stat`, a network
//! namespace's `/proc/<pid>/net/dev`, the machine's memory).
//!
//! Parsing is pure (functions over file text, unit-tested on fixture
//! files); reading is a handful of small file reads per sample, never a
//! runtime invocation. The cgroup of a container is found from its init's
//! `/proc/<pid>/cgroup` and the mount table, so it does not matter where
//! the runtime put it (runc's default relative path, or `/pier/<id>`).

pub mod files;
pub mod host;
pub mod v1;
pub mod v2;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use files::OpenFiles;

/// One cgroup's usage, in the units docker reports (nanoseconds, bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub cpu: Cpu,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cpu {
    pub total_ns: u64,
    /// Per CPU (v1 only; empty on v2).
    pub percpu_ns: Vec<u64>,
    pub kernel_ns: u64,
    pub user_ns: u64,
    pub throttling: Throttling,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Throttling {
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_ns: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memory {
    pub usage: u64,
    /// v1 only (0 on v2).
    pub max_usage: u64,
    /// `u64::MAX` when unlimited on v2; the kernel's huge value on v1.
    pub limit: u64,
    /// v1: `memory.failcnt`; v2: the `oom` count of `memory.events`.
    pub failcnt: u64,
    /// docker's fixed set of `memory.stat` keys (absent keys read as 0).
    pub stats: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pids {
    pub current: u64,
    /// 0 when unlimited.
    pub limit: u64,
}

/// One line of a blkio file: device, operation (`Read`, `Write`, … on v1;
/// `read`/`write` on v2) and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

/// Block I/O lists as docker names them; `None` is a list the cgroup
/// version does not have (docker's `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blkio {
    pub service_bytes: Option<Vec<BlkioEntry>>,
    pub serviced: Option<Vec<BlkioEntry>>,
    pub queued: Option<Vec<BlkioEntry>>,
    pub service_time: Option<Vec<BlkioEntry>>,
    pub wait_time: Option<Vec<BlkioEntry>>,
    pub merged: Option<Vec<BlkioEntry>>,
    pub time: Option<Vec<BlkioEntry>>,
    pub sectors: Option<Vec<BlkioEntry>>,
}

/// Where a process's cgroup lives on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cgroup {
    V1(v1::Dirs),
    V2(PathBuf),
}

impl Cgroup {
    /// The cgroup of process `pid`, from `/proc/<pid>/cgroup` and this
    /// process's mount table; `None` when the process is gone or its
    /// cgroup is not mounted here.
    pub fn of_pid(pid: i32) -> Option<Cgroup> {
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        Cgroup::resolve(&cgroup, &mounts)
    }

    /// Pure core of [`Cgroup::of_pid`]: v1 when the process is in a v1
    /// hierarchy of a usage controller (a hybrid host's `0::` line is
    /// ignored then), else v2.
    pub fn resolve(proc_cgroup: &str, mountinfo: &str) -> Option<Cgroup> {
        let mounts = parse_mountinfo(mountinfo);
        let lines = parse_proc_cgroup(proc_cgroup);
        let v1_dir = |controller: &str| -> Option<PathBuf> {
            let (_, path) = lines
                .iter()
                .find(|(ctrls, _)| ctrls.split(',').any(|c| c == controller))?;
            let m = mounts
                .iter()
                .find(|m| m.fstype == "cgroup" && m.super_opts.split(',').any(|o| o == controller))?;
            Some(join_cgroup(&m.mount_point, &m.root, path))
        };
        let dirs = v1::Dirs {
            cpu: v1_dir("cpu"),
            cpuacct: v1_dir("cpuacct"),
            memory: v1_dir("memory"),
            pids: v1_dir("pids"),
            blkio: v1_dir("blkio"),
        };
        if dirs.cpuacct.is_some() || dirs.memory.is_some() {
            return Some(Cgroup::V1(dirs));
        }
        let (_, path) = lines.iter().find(|(ctrls, _)| ctrls.is_empty())?;
        let m = mounts.iter().find(|m| m.fstype == "cgroup2")?;
        Some(Cgroup::V2(join_cgroup(&m.mount_point, &m.root, path)))
    }

    /// A directory whose `cgroup.procs` (with its children's) lists every
    /// process of the cgroup: v1's pids, memory or cpu hierarchy, or the
    /// v2 one.
    pub fn procs_dir(&self) -> Option<&Path> {
        match self {
            Cgroup::V1(d) => [&d.pids, &d.memory, &d.cpu, &d.cpuacct]
                .into_iter()
                .flatten()
                .map(PathBuf::as_path)
                .next(),
            Cgroup::V2(p) => Some(p),
        }
    }

    /// Read one sample through `files` (kept open between samples);
    /// files that cannot be read count as zero: a controller may be
    /// missing, or the cgroup may be going away.
    pub fn read(&self, files: &mut OpenFiles) -> Usage {
        match self {
            Cgroup::V1(d) => d.read(files),
            Cgroup::V2(dir) => v2::read(dir, files),
        }
    }
}

/// `hier:controllers:path` lines.
fn parse_proc_cgroup(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let _hier = parts.next()?;
            let ctrls = parts.next()?;
            let path = parts.next()?;
            Some((ctrls, path))
        })
        .collect()
}

#[derive(Debug)]
struct Mount {
    root: String,
    mount_point: PathBuf,
    fstype: String,
    super_opts: String,
}

/// The fields of `/proc/self/mountinfo` a cgroup lookup needs.
fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let mut lf = left.split(' ');
            let root = lf.nth(3)?;
            let mount_point = lf.next()?;
            let mut rf = right.split(' ');
            let fstype = rf.next()?;
            let _source = rf.next()?;
            let super_opts = rf.next().unwrap_or("");
            Some(Mount {
                root: unescape_octal(root),
                mount_point: PathBuf::from(unescape_octal(mount_point)),
                fstype: fstype.to_string(),
                super_opts: super_opts.to_string(),
            })
        })
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as `\NNN`.
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The directory of cgroup `path` (as `/proc/<pid>/cgroup` names it) in a
/// hierarchy mounted at `mount_point` with root `root` (a mount of a
/// sub-tree, as inside a cgroup namespace, shows only paths below it).
fn join_cgroup(mount_point: &Path, root: &str, path: &str) -> PathBuf {
    let rel = if root == "/" {
        path
    } else {
        path.strip_prefix(root).unwrap_or(path)
    };
    let rel = rel.trim_start_matches('/');
    if rel.is_empty() {
        mount_point.to_path_buf()
    } else {
        mount_point.join(rel)
    }
}

/// Read `dir/name` as text; `None` when it cannot be read.
pub(crate) fn read_text(files: &mut OpenFiles, dir: &Path, name: &str) -> Option<String> {
    files.text(&dir.join(name))
}

/// A file holding one number.
pub fn parse_u64(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// A limit file: a number, or `max` (unlimited).
pub fn parse_limit(text: &str) -> Option<u64> {
    match text.trim() {
        "max" => Some(u64::MAX),
        n => n.parse().ok(),
    }
}

/// `key value` lines (`cpu.stat`, `memory.stat`, `memory.events`,
/// `cpuacct.stat`); lines that do not parse are skipped.
pub fn parse_flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let k = f.next()?;
            let v = f.next()?.parse().ok()?;
            Some((k.to_string(), v))
        })
        .collect()
}

/// docker's `memory_stats.stats`: exactly `keys`, 0 for the absent ones.
fn pick(stats: &BTreeMap<String, u64>, keys: &[&str]) -> BTreeMap<String, u64> {
    keys.iter()
        .map(|k| (k.to_string(), stats.get(*k).copied().unwrap_or(0)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_CGROUP: &str = "9:name=systemd:/\n8:pids:/pier/abc\n7:blkio:/pier/abc\n\
        4:memory:/pier/abc\n2:cpuacct:/pier/abc\n1:cpu:/pier/abc\n0::/\n";
    const HYBRID_MOUNTS: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_host_resolves_to_v1_dirs() {
        let Some(Cgroup::V1(d)) = Cgroup::resolve(HYBRID_CGROUP, HYBRID_MOUNTS) else {
            panic!("expected v1");
        };
        assert_eq!(d.cpu.as_deref(), Some(Path::new("/sys/fs/cgroup/cpu/pier/abc")));
        assert_eq!(d.cpuacct.as_deref(), Some(Path::new("/sys/fs/cgroup/cpuacct/pier/abc")));
        assert_eq!(d.memory.as_deref(), Some(Path::new("/sys/fs/cgroup/memory/pier/abc")));
        assert_eq!(d.pids.as_deref(), Some(Path::new("/sys/fs/cgroup/pids/pier/abc")));
        assert_eq!(d.blkio.as_deref(), Some(Path::new("/sys/fs/cgroup/blkio/pier/abc")));
    }

    #[test]
    fn procs_dir_is_pids_then_memory_on_v1_and_the_v2_dir() {
        let cg = Cgroup::resolve(HYBRID_CGROUP, HYBRID_MOUNTS).expect("v1");
        assert_eq!(cg.procs_dir(), Some(Path::new("/sys/fs/cgroup/pids/pier/abc")));
        let cg = Cgroup::resolve(
            "2:memory:/x\n",
            "31 23 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
        )
        .expect("v1 memory only");
        assert_eq!(cg.procs_dir(), Some(Path::new("/sys/fs/cgroup/memory/x")));
        let v2 = Cgroup::V2(PathBuf::from("/sys/fs/cgroup/pier/abc"));
        assert_eq!(v2.procs_dir(), Some(Path::new("/sys/fs/cgroup/pier/abc")));
    }

    #[test]
    fn joined_cpu_cpuacct_hierarchy() {
        let cg = "3:cpu,cpuacct:/docker/x\n2:memory:/docker/x\n";
        let mounts = "30 23 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
            31 23 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let Some(Cgroup::V1(d)) = Cgroup::resolve(cg, mounts) else {
            panic!("expected v1");
        };
        assert_eq!(d.cpu, d.cpuacct);
        assert_eq!(d.cpu.as_deref(), Some(Path::new("/sys/fs/cgroup/cpu,cpuacct/docker/x")));
        assert_eq!(d.pids, None);
    }

    #[test]
    fn unified_host_resolves_to_v2() {
        let cg = "0::/pier/abc\n";
        let mounts = "25 23 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            Cgroup::resolve(cg, mounts),
            Some(Cgroup::V2(PathBuf::from("/sys/fs/cgroup/pier/abc")))
        );
    }

    #[test]
    fn namespaced_mount_root_is_stripped() {
        // A cgroup namespace shows the container's own cgroup as its root.
        let cg = "0::/pier/abc/sub\n";
        let mounts = "25 23 0:22 /pier/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            Cgroup::resolve(cg, mounts),
            Some(Cgroup::V2(PathBuf::from("/sys/fs/cgroup/sub")))
        );
        let mounts = "25 23 0:22 /my\\040dir /mnt/cg\\040x rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            Cgroup::resolve("0::/my dir\n", mounts),
            Some(Cgroup::V2(PathBuf::from("/mnt/cg x")))
        );
    }

    #[test]
    fn nothing_mounted_is_none() {
        assert_eq!(Cgroup::resolve("0::/x\n", ""), None);
        assert_eq!(Cgroup::resolve("", HYBRID_MOUNTS), None);
    }

    #[test]
    fn scalar_parsers() {
        assert_eq!(parse_u64("42\n"), Some(42));
        assert_eq!(parse_u64("x"), None);
        assert_eq!(parse_limit("max\n"), Some(u64::MAX));
        assert_eq!(parse_limit("100\n"), Some(100));
        let m = parse_flat_keyed("a 1\nb 2\nbroken\nc x\n");
        assert_eq!(m.len(), 2);
        assert_eq!(m["b"], 2);
    }
}
