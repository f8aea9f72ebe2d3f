//! Processes and mounts as the tests see them through `/proc`.

use std::path::Path;

pub use nix::sys::signal::Signal;

use nix::sys::signal::kill;
use nix::unistd::Pid;

/// Send `sig` to `pid`; an already gone process is not an error.
pub fn signal(pid: i32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid), sig);
}

/// True while `/proc/<pid>` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Field `n` (0-based, counting from the state after the command name) of
/// `/proc/<pid>/stat`: 0 state, 1 ppid, 2 pgrp, 3 session.
pub fn stat_field(pid: i32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(n).map(str::to_string)
}

/// The parent pid of `pid`.
pub fn ppid(pid: i32) -> i32 {
    stat_field(pid, 1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no ppid for {pid}"))
}

/// The command line of `pid`, NUL-separated as in `/proc`.
pub fn cmdline(pid: i32) -> Option<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .map(|c| String::from_utf8_lossy(&c).into_owned())
}

/// pids (other than this process) whose command line contains `needle`.
pub fn processes_mentioning(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|pid| *pid != me)
        .filter(|pid| cmdline(*pid).is_some_and(|c| c.contains(needle)))
        .collect()
}

/// Mount points under `prefix`, in mount order (unmount in reverse).
pub fn mounts_under(prefix: &Path) -> Vec<String> {
    let prefix = prefix.to_string_lossy();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|m| m.starts_with(prefix.as_ref()))
        .map(str::to_string)
        .collect()
}

/// Lazily unmount everything under `prefix`, latest mount first.
pub fn unmount_all_under(prefix: &Path) {
    for m in mounts_under(prefix).into_iter().rev() {
        let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Clean up after a test that ran containers under `root`: SIGKILL every
/// process whose command line names `root` (shims, runtimes), force-delete
/// the containers the runtime still knows under `runtime_root`, then
/// unmount what is mounted under `root`.
pub fn clean_up_under(root: &Path, runtime_root: &Path) {
    for pid in processes_mentioning(&root.to_string_lossy()) {
        signal(pid, Signal::SIGKILL);
    }
    if runtime_root.exists() {
        let runc = |args: &[&str]| {
            std::process::Command::new("runc")
                .arg("--root")
                .arg(runtime_root)
                .args(args)
                .output()
        };
        if let Ok(out) = runc(&["list", "-q"]) {
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = runc(&["delete", "--force", id]);
            }
        }
    }
    unmount_all_under(root);
}
