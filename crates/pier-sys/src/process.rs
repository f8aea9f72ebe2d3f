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
