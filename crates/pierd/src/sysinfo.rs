//! What `GET /info` reports about the host, as dockerd's `pkg/sysinfo`
//! and `daemon/info*.go` find it: the cgroup features (and the warnings
//! docker prints when one is missing), the OS name and version, the
//! runtime's and init's commits, the daemon's own file descriptors and
//! threads. Probing reads files under roots the caller names (so tests
//! use a temp dir); the parsers and the warning rules are pure.

use std::path::Path;

/// The cgroup and kernel features of the host (dockerd's `SysInfo`, the
/// fields `/info` shows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SysInfo {
    pub cgroup_v2: bool,
    pub memory_limit: bool,
    pub swap_limit: bool,
    pub kernel_memory: bool,
    pub kernel_memory_tcp: bool,
    pub oom_kill_disable: bool,
    pub cpu_cfs: bool,
    pub cpu_shares: bool,
    pub cpuset: bool,
    pub pids_limit: bool,
    pub blkio_weight: bool,
    pub blkio_weight_device: bool,
    pub blkio_read_bps: bool,
    pub blkio_write_bps: bool,
    pub blkio_read_iops: bool,
    pub blkio_write_iops: bool,
    pub ipv4_forwarding: bool,
}

/// Probes the cgroup hierarchy mounted at `cgroup_root` (v1: one directory
/// per controller; v2: one tree whose root lists its controllers) and the
/// `ip_forward` sysctl file. `swap_v2` is the v2 swap answer the daemon's
/// resource checks already use (dockerd reads `memory.swap.max` of its
/// own cgroup).
pub fn probe(cgroup_root: &Path, ip_forward: &Path, swap_v2: bool) -> SysInfo {
    let exists = |p: &str| cgroup_root.join(p).exists();
    let ipv4_forwarding = std::fs::read_to_string(ip_forward).is_ok_and(|v| v.trim() == "1");
    if exists("cgroup.controllers") {
        let controllers = std::fs::read_to_string(cgroup_root.join("cgroup.controllers")).unwrap_or_default();
        let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
        let io = has("io");
        return SysInfo {
            cgroup_v2: true,
            memory_limit: has("memory"),
            swap_limit: has("memory") && swap_v2,
            kernel_memory: false,
            kernel_memory_tcp: false,
            oom_kill_disable: false,
            cpu_cfs: has("cpu"),
            cpu_shares: has("cpu"),
            cpuset: has("cpuset"),
            pids_limit: has("pids"),
            blkio_weight: io,
            blkio_weight_device: io,
            blkio_read_bps: io,
            blkio_write_bps: io,
            blkio_read_iops: io,
            blkio_write_iops: io,
            ipv4_forwarding,
        };
    }
    let memory = exists("memory");
    let mem = |f: &str| memory && exists(&format!("memory/{f}"));
    let blkio = |f: &str| exists(&format!("blkio/{f}"));
    SysInfo {
        cgroup_v2: false,
        memory_limit: memory,
        swap_limit: mem("memory.memsw.limit_in_bytes"),
        kernel_memory: mem("memory.kmem.limit_in_bytes"),
        kernel_memory_tcp: mem("memory.kmem.tcp.limit_in_bytes"),
        oom_kill_disable: mem("memory.oom_control"),
        cpu_cfs: exists("cpu/cpu.cfs_quota_us"),
        cpu_shares: exists("cpu/cpu.shares"),
        cpuset: exists("cpuset"),
        pids_limit: exists("pids"),
        blkio_weight: blkio("blkio.weight"),
        blkio_weight_device: blkio("blkio.weight_device"),
        blkio_read_bps: blkio("blkio.throttle.read_bps_device"),
        blkio_write_bps: blkio("blkio.throttle.write_bps_device"),
        blkio_read_iops: blkio("blkio.throttle.read_iops_device"),
        blkio_write_iops: blkio("blkio.throttle.write_iops_device"),
        ipv4_forwarding,
    }
}

/// dockerd's `fillPlatformInfo` warnings for what `s` lacks, in its order
/// and words (v1-only and v2-only ones on their version only).
pub fn warnings(s: &SysInfo) -> Vec<String> {
    let v2 = s.cgroup_v2;
    let mut w = Vec::new();
    let mut warn = |missing: bool, text: &str| {
        if missing {
            w.push(format!("WARNING: {text}"));
        }
    };
    warn(!s.memory_limit, "No memory limit support");
    warn(!s.swap_limit, "No swap limit support");
    warn(!s.kernel_memory_tcp && !v2, "No kernel memory TCP limit support");
    warn(!s.oom_kill_disable && !v2, "No oom kill disable support");
    warn(!s.cpu_cfs, "No cpu cfs quota support");
    warn(!s.cpu_cfs, "No cpu cfs period support");
    warn(!s.cpu_shares, "No cpu shares support");
    warn(!s.cpuset, "No cpuset support");
    warn(!s.blkio_weight && v2, "No io.weight support");
    warn(!s.blkio_weight_device && v2, "No io.weight (per device) support");
    let io = |v2_name: &str, v1_name: &str| if v2 { v2_name.to_string() } else { v1_name.to_string() };
    let rbps = io("No io.max (rbps) support", "No blkio throttle.read_bps_device support");
    let wbps = io("No io.max (wbps) support", "No blkio throttle.write_bps_device support");
    let riops = io(
        "No io.max (riops) support",
        "No blkio throttle.read_iops_device support",
    );
    let wiops = io(
        "No io.max (wiops) support",
        "No blkio throttle.write_iops_device support",
    );
    warn(!s.blkio_read_bps, &rbps);
    warn(!s.blkio_write_bps, &wbps);
    warn(!s.blkio_read_iops, &riops);
    warn(!s.blkio_write_iops, &wiops);
    warn(!s.ipv4_forwarding, "IPv4 forwarding is disabled");
    w
}

/// `PRETTY_NAME` and `VERSION_ID` of an os-release text (dockerd's
/// `GetOperatingSystem` and `GetOperatingSystemVersion`); `Linux` when
/// there is no pretty name.
pub fn os_release(text: &str) -> (String, String) {
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_string())
    };
    (
        value("PRETTY_NAME").unwrap_or_else(|| "Linux".to_string()),
        value("VERSION_ID").unwrap_or_default(),
    )
}

/// dockerd's `IsContainerized`: PID 1's cgroup lines are not all at a
/// root (`:/` or `:/init.scope`).
pub fn containerized(proc1_cgroup: &str) -> bool {
    proc1_cgroup
        .lines()
        .any(|l| !l.is_empty() && !l.ends_with(":/") && !l.ends_with(":/init.scope"))
}

/// The `commit:` line of `runc --version` / `crun --version` output
/// (dockerd's `parseRuntimeVersion`).
pub fn runtime_commit(output: &str) -> Option<String> {
    output
        .lines()
        .find_map(|l| l.strip_prefix("commit:"))
        .map(|c| c.trim().to_string())
}

/// The commit of `tini --version` output, `tini version 0.19.0 -
/// git.de40ad0` (dockerd's `parseInitVersion`): empty when the build names
/// none; `None` for output that is not tini's.
pub fn init_commit(output: &str) -> Option<String> {
    let mut parts = output.split(" - ");
    let first = parts.next().unwrap_or("").trim();
    let commit = parts
        .next()
        .and_then(|g| g.trim().strip_prefix("git."))
        .filter(|c| !c.contains('.'))
        .unwrap_or("")
        .to_string();
    let version = first.strip_prefix("tini version ").unwrap_or("");
    if version.is_empty() && commit.is_empty() {
        None
    } else {
        Some(commit)
    }
}

/// The first stdout of `binary --version`, or `None` when it cannot run.
pub fn version_output(binary: &Path) -> Option<String> {
    let out = std::process::Command::new(binary)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Open file descriptors and threads of this process (dockerd's `NFd` and
/// `NGoroutines`: the closest a Rust daemon has to goroutines is threads).
pub fn fds_and_threads() -> (i64, i64) {
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as i64);
    let threads = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0);
    (fds, threads)
}

/// docker's name for the filesystem behind `path` (overlay2's `Backing
/// Filesystem` line, from `statfs`' magic).
pub fn backing_filesystem(path: &Path) -> String {
    let Ok(st) = nix::sys::statfs::statfs(path) else {
        return "<unknown>".to_string();
    };
    // The magic's integer type differs between C libraries and targets.
    #[allow(clippy::unnecessary_cast)]
    let magic = st.filesystem_type().0 as i64;
    fs_name(magic)
}

/// dockerd's `graphdriver.FsNames` for the magics it knows.
fn fs_name(magic: i64) -> String {
    match magic {
        0xEF53 => "extfs",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x0102_1994 => "tmpfs",
        0x794C_7630 => "overlayfs",
        0x2FC1_2FC1 => "zfs",
        0x6573_5546 => "fuse",
        0xF15F => "ecryptfs",
        0x0000_6969 => "nfs",
        0x7275 => "romfs",
        0x7371_7368 => "squashfs",
        _ => return "<unknown>".to_string(),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, "").expect("write");
    }

    #[test]
    fn v1_probe_and_its_warnings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for f in [
            "memory/memory.limit_in_bytes",
            "memory/memory.oom_control",
            "memory/memory.kmem.tcp.limit_in_bytes",
            "cpu/cpu.shares",
            "cpu/cpu.cfs_quota_us",
            "cpuset/cpuset.cpus",
            "pids/pids.max",
            "blkio/blkio.weight",
            "blkio/blkio.throttle.read_bps_device",
            "blkio/blkio.throttle.write_bps_device",
            "blkio/blkio.throttle.read_iops_device",
            "blkio/blkio.throttle.write_iops_device",
        ] {
            touch(root, f);
        }
        let fwd = root.join("ip_forward");
        std::fs::write(&fwd, "1\n").expect("write");
        let s = probe(root, &fwd, true);
        assert!(s.memory_limit && s.oom_kill_disable && s.kernel_memory_tcp && s.cpu_cfs && s.pids_limit);
        assert!(!s.swap_limit && !s.kernel_memory && !s.cgroup_v2 && !s.blkio_weight_device);
        assert!(s.ipv4_forwarding);
        // Weight per device is not warned about on v1, as dockerd.
        assert_eq!(warnings(&s), ["WARNING: No swap limit support"]);
    }

    #[test]
    fn v2_probe_follows_the_root_controllers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::write(root.join("cgroup.controllers"), "cpuset cpu io memory pids\n").expect("write");
        let s = probe(root, &root.join("missing"), true);
        assert!(s.cgroup_v2 && s.memory_limit && s.swap_limit && s.cpu_cfs && s.cpuset && s.blkio_write_iops);
        assert!(!s.oom_kill_disable && !s.kernel_memory_tcp);
        assert_eq!(warnings(&s), ["WARNING: IPv4 forwarding is disabled"]);
        std::fs::write(root.join("cgroup.controllers"), "memory pids\n").expect("write");
        let w = warnings(&probe(root, &root.join("missing"), false));
        assert!(w.contains(&"WARNING: No io.max (rbps) support".to_string()), "{w:?}");
        assert!(w.contains(&"WARNING: No cpu cfs quota support".to_string()), "{w:?}");
        assert!(!w.iter().any(|x| x.contains("oom kill")), "{w:?}");
    }

    #[test]
    fn os_release_and_containers() {
        let text = "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(
            os_release(text),
            ("Debian GNU/Linux 12 (bookworm)".to_string(), "12".to_string())
        );
        assert_eq!(os_release(""), ("Linux".to_string(), String::new()));
        assert!(!containerized("0::/\n"));
        assert!(!containerized("1:name=systemd:/init.scope\n0::/\n"));
        assert!(containerized("4:memory:/process_api/6dd7\n0::/\n"));
    }

    #[test]
    fn tool_commits() {
        let runc = "runc version 1.1.12\ncommit: v1.1.12-0-g51d5e94\nspec: 1.0.2-dev\ngo: go1.21.6\n";
        assert_eq!(runtime_commit(runc).as_deref(), Some("v1.1.12-0-g51d5e94"));
        assert_eq!(runtime_commit("something else"), None);
        assert_eq!(
            init_commit("tini version 0.19.0 - git.de40ad0\n").as_deref(),
            Some("de40ad0")
        );
        assert_eq!(init_commit("tini version 0.19.0\n").as_deref(), Some(""));
        assert_eq!(init_commit("busybox"), None);
    }

    #[test]
    fn filesystem_names() {
        assert_eq!(fs_name(0xEF53), "extfs");
        assert_eq!(fs_name(0x794C_7630), "overlayfs");
        assert_eq!(fs_name(1), "<unknown>");
    }
}
