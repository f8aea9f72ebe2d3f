//! Reaping: `waitpid(-1, WNOHANG)` until nothing is left to collect.
//!
//! A process that reaps with `waitpid(-1)` must not also wait on specific
//! children elsewhere (the reaper would steal their status). Collect every
//! exit here, in one place, and route it by pid.

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::{Ctx, Result};

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It called `exit(code)`.
    Exited(i32),
    /// A signal killed it.
    Signaled { signal: i32, core_dumped: bool },
}

impl ExitStatus {
    /// The shell's (and Docker's) exit code: the status, or 128 + signal.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled { signal, .. } => 128 + signal,
        }
    }

    /// The killing signal, if one did.
    pub fn signal(self) -> Option<i32> {
        match self {
            ExitStatus::Exited(_) => None,
            ExitStatus::Signaled { signal, .. } => Some(signal),
        }
    }

    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }
}

/// One collected child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reaped {
    pub pid: Pid,
    pub status: ExitStatus,
}

/// Collect one exited child without blocking; `None` when no child has
/// exited (or there are no children).
pub fn reap_one() -> Result<Option<Reaped>> {
    loop {
        match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => {
                return Ok(Some(Reaped {
                    pid,
                    status: ExitStatus::Exited(code),
                }))
            }
            Ok(WaitStatus::Signaled(pid, signal, core_dumped)) => {
                return Ok(Some(Reaped {
                    pid,
                    status: ExitStatus::Signaled {
                        signal: signal as i32,
                        core_dumped,
                    },
                }))
            }
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return Ok(None),
            // Stops and continues are not requested; skip anything else.
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e).ctx("waitpid"),
        }
    }
}

/// Collect every exited child without blocking.
pub fn reap_all() -> Result<Vec<Reaped>> {
    let mut out = Vec::new();
    while let Some(r) = reap_one()? {
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(ExitStatus::Exited(3).code(), 3);
        let k = ExitStatus::Signaled {
            signal: 9,
            core_dumped: false,
        };
        assert_eq!(k.code(), 137);
        assert_eq!(k.signal(), Some(9));
        assert!(ExitStatus::Exited(0).success());
    }

    // The child is collected by waitpid(-1), not Child::wait.
    #[allow(clippy::zombie_processes)]
    #[test]
    fn reaps_a_spawned_child() {
        let child = std::process::Command::new("/bin/sh")
            .args(["-c", "exit 7"])
            .spawn()
            .expect("spawn sh");
        let pid = Pid::from_raw(child.id() as i32);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            // Other tests' children may be reaped here too; look for ours.
            if let Some(r) = reap_all().expect("reap").into_iter().find(|r| r.pid == pid) {
                assert_eq!(r.status, ExitStatus::Exited(7));
                break;
            }
            assert!(std::time::Instant::now() < deadline, "child not reaped");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
