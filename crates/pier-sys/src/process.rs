//! Process hygiene: forking while single-threaded, daemonizing, the child
//! subreaper attribute, the umask, who we are.

use nix::unistd::{self, ForkResult, Pid};

use crate::{Ctx, Result, SysError};

/// Which side of a fork this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    Parent { child: Pid },
    Child,
}

/// The number of threads in this process, from `/proc/self/status`.
pub fn thread_count() -> Result<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ctx("read /proc/self/status")?;
    Ok(parse_threads(&status).unwrap_or(0))
}

fn parse_threads(status: &str) -> Option<usize> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

/// `fork(2)`, refused unless this process has exactly one thread.
pub fn fork_single_threaded() -> Result<Forked> {
    let threads = thread_count()?;
    if threads != 1 {
        return Err(SysError::Call {
            op: "fork with more than one thread",
            errno: nix::errno::Errno::EDEADLK,
        });
    }
    // SAFETY: the process has exactly one thread (checked above), so the
    // child cannot inherit a lock held by another thread; it may allocate
    // and run arbitrary code like the parent.
    match unsafe { unistd::fork() }.ctx("fork")? {
        ForkResult::Parent { child } => Ok(Forked::Parent { child }),
        ForkResult::Child => Ok(Forked::Child),
    }
}

/// Detach from the caller: fork, the original process exits 0 at once (so
/// its parent reaps it and this process is reparented to init or the
/// nearest subreaper), and the child leads a new session. Returns only in the
/// child. Stdio is left as it was: the caller decides what to close.
pub fn daemonize() -> Result<()> {
    match fork_single_threaded()? {
        Forked::Parent { .. } => std::process::exit(0),
        Forked::Child => {
            unistd::setsid().ctx("setsid")?;
            Ok(())
        }
    }
}

/// Become the reaper of orphaned descendants (`PR_SET_CHILD_SUBREAPER`).
pub fn set_child_subreaper() -> Result<()> {
    nix::sys::prctl::set_child_subreaper(true).ctx("prctl PR_SET_CHILD_SUBREAPER")
}

/// This process's id.
pub fn pid() -> Pid {
    unistd::getpid()
}

/// Send `signal` to `pid`.
pub fn kill(pid: Pid, signal: nix::sys::signal::Signal) -> Result<()> {
    nix::sys::signal::kill(pid, signal).ctx("kill")
}

/// The effective uid of this process.
pub fn euid() -> u32 {
    unistd::geteuid().as_raw()
}

/// Run `f` with the umask set to `mask`, then restore it. The umask is
/// per process: call it only while single-threaded (the shim) or where no
/// other thread creates files.
pub fn with_umask<T>(mask: u32, f: impl FnOnce() -> T) -> T {
    use nix::sys::stat::{umask, Mode};
    let old = umask(Mode::from_bits_truncate(mask));
    let out = f();
    umask(old);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_thread_count() {
        assert_eq!(parse_threads("Name:\tx\nThreads:\t3\nFoo: 1\n"), Some(3));
        assert_eq!(parse_threads("Name:\tx\n"), None);
    }
}

/// Whether this kernel runs x32-ABI system calls (x86_64 with
/// `CONFIG_X86_X32_ABI` and x32 not disabled at boot). A child process
/// makes one x32 `getpid` and reports whether it returned, so a filter
/// that kills on a foreign ABI (systemd's `SystemCallArchitectures=native`)
/// kills the probe, not the caller. Anything unclear counts as "yes".
#[cfg(target_arch = "x86_64")]
pub fn kernel_runs_x32() -> bool {
    const X32_SYSCALL_BIT: libc::c_long = 0x4000_0000;
    // SAFETY: the child makes one raw system call and `_exit`s, both
    // async-signal-safe, so forking from a multi-threaded process is sound.
    let child = unsafe { libc::fork() };
    if child == 0 {
        // SAFETY: getpid takes no arguments; `_exit` never returns.
        unsafe {
            let r = libc::syscall(X32_SYSCALL_BIT | libc::SYS_getpid);
            libc::_exit(if r > 0 { 0 } else { 1 });
        }
    }
    if child < 0 {
        return true;
    }
    let pid = Pid::from_raw(child);
    loop {
        match nix::sys::wait::waitpid(pid, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => return code == 0,
            // Killed (SIGSYS): the ABI is refused here.
            Ok(_) => return false,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return true,
        }
    }
}

/// x32 exists only on x86_64.
#[cfg(not(target_arch = "x86_64"))]
pub fn kernel_runs_x32() -> bool {
    false
}

#[cfg(test)]
mod x32_tests {
    /// The probe agrees with the kernel's configuration where the kernel
    /// publishes it (not where x32 is built in but disabled at boot).
    #[test]
    fn x32_probe_matches_the_kernel_config() {
        let Ok(out) = std::process::Command::new("sh")
            .args([
                "-c",
                "zcat /proc/config.gz 2>/dev/null | grep -E '^(# )?CONFIG_X86_X32_ABI'",
            ])
            .output()
        else {
            return;
        };
        let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
        let probed = super::kernel_runs_x32();
        if line == "# CONFIG_X86_X32_ABI is not set" {
            assert!(!probed, "no x32 in the kernel, yet the probe ran an x32 call");
        } else if line == "CONFIG_X86_X32_ABI=y" && cmdline.contains("syscall.x32=y") {
            assert!(probed);
        }
        // Twice gives the same answer (no state left behind).
        assert_eq!(probed, super::kernel_runs_x32());
    }
}
