//! Whether the kernel's OOM killer struck the container's cgroup: the
//! `oom_kill` counter of the memory controller (cgroup v1
//! `memory.oom_control`, v2 `memory.events`), read at create and at exit.

use std::path::{Path, PathBuf};

/// The counter file for the cgroup described by `/proc/<pid>/cgroup`
/// (`cgroup_root` is normally `/sys/fs/cgroup`). A v1 memory hierarchy wins
/// over the unified one, as on hybrid hosts only v1 has the controller.
pub fn counter_path(proc_cgroup: &str, cgroup_root: &Path) -> Option<PathBuf> {
    let mut unified = None;
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let rel = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == "memory") {
            return Some(cgroup_root.join("memory").join(rel).join("memory.oom_control"));
        }
        if controllers.is_empty() {
            unified = Some(rel.to_owned());
        }
    }
    let rel = unified?;
    let v2 = cgroup_root.join(&rel).join("memory.events");
    let hybrid = cgroup_root.join("unified").join(&rel).join("memory.events");
    Some(if v2.exists() || !hybrid.exists() { v2 } else { hybrid })
}

/// The `oom_kill N` count in a `memory.oom_control`/`memory.events` file.
pub fn parse_kills(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
}

/// The counter for the cgroup of `pid`, if it can be read.
pub fn watch(pid: i32) -> Option<OomWatch> {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = counter_path(&cg, Path::new("/sys/fs/cgroup"))?;
    let baseline = read(&path).unwrap_or(0);
    Some(OomWatch { path, baseline })
}

fn read(path: &Path) -> Option<u64> {
    parse_kills(&std::fs::read_to_string(path).ok()?)
}

/// The OOM-kill counter at create, to compare at exit.
#[derive(Debug, Clone)]
pub struct OomWatch {
    path: PathBuf,
    baseline: u64,
}

impl OomWatch {
    /// True when the counter grew since create. Read before `delete`
    /// removes the cgroup.
    pub fn killed(&self) -> bool {
        read(&self.path).is_some_and(|n| n > self.baseline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_memory_line() {
        let cg = "12:pids:/x\n5:memory:/pier/abc\n0::/user.slice\n";
        assert_eq!(
            counter_path(cg, Path::new("/sys/fs/cgroup")),
            Some(PathBuf::from("/sys/fs/cgroup/memory/pier/abc/memory.oom_control"))
        );
        let joined = "4:cpu,memory:/abc\n";
        assert!(counter_path(joined, Path::new("/c")).is_some_and(|p| p.ends_with("memory/abc/memory.oom_control")));
    }

    #[test]
    fn v2_only() {
        let cg = "0::/system.slice/abc\n";
        assert_eq!(
            counter_path(cg, Path::new("/nonexistent")),
            Some(PathBuf::from("/nonexistent/system.slice/abc/memory.events"))
        );
    }

    #[test]
    fn kills() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        assert_eq!(parse_kills(v1), Some(2));
        let v2 = "low 0\nhigh 0\nmax 0\noom 1\noom_kill 1\n";
        assert_eq!(parse_kills(v2), Some(1));
        assert_eq!(parse_kills("oom 1\n"), None);
    }
}
