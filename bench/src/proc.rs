//! Child processes with deadlines: one-shot commands that are timed, and
//! long-lived daemons that are stopped by pid when their guard drops.
//!
//! Every child gets its own process group so a timeout can kill a whole
//! pipeline. Exits are observed through a pidfd, so a signal never reaches a
//! recycled pid and the measured time ends the moment the process exits.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::process::{kill_process_group, pidfd_open, pidfd_send_signal, Pid, PidfdFlags, Signal};

static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Turns SIGINT/SIGTERM/SIGHUP into a flag the bench checks between and
/// during steps, so an interrupted run still stops what it started.
pub fn install_interrupt_flag() -> Result<()> {
    let flag = STOP.get_or_init(|| Arc::new(AtomicBool::new(false)));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, Arc::clone(flag))
            .with_context(|| format!("install handler for signal {sig}"))?;
    }
    Ok(())
}

/// Whether the user asked the bench to stop.
pub fn interrupted() -> bool {
    STOP.get().is_some_and(|f| f.load(Ordering::Relaxed))
}

/// Where a one-shot command's stdout goes.
pub enum Stdout {
    /// `/dev/null`.
    Null,
    /// A pipe the bench reads and counts, keeping nothing.
    Count,
    /// A pipe the bench reads and keeps (for small outputs: ids, JSON).
    Capture,
    /// A file the child writes directly.
    File(File),
}

/// What a finished one-shot command left behind.
pub struct Outcome {
    /// From just before spawn to the moment the process exited.
    pub elapsed: Duration,
    pub status: ExitStatus,
    /// Captured stdout (only with [`Stdout::Capture`]).
    pub stdout: Vec<u8>,
    /// Bytes read from stdout (with [`Stdout::Count`] or [`Stdout::Capture`]).
    pub stdout_bytes: u64,
    /// The first 64 KiB of stderr.
    pub stderr: Vec<u8>,
}

impl Outcome {
    /// Captured stdout as trimmed text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim().to_string()
    }

    /// The first non-empty stderr line, for error messages.
    pub fn stderr_line(&self) -> String {
        first_line(&self.stderr)
    }

    /// Fails with the command's stderr unless it exited 0.
    pub fn ok(self, what: &str) -> Result<Self> {
        if self.status.success() {
            Ok(self)
        } else {
            bail!("{what}: {}: {}", self.status, self.stderr_line())
        }
    }
}

/// The first non-empty line of `bytes`, shortened to 160 characters.
pub fn first_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(no output)");
    line.chars().take(160).collect()
}

const STDERR_CAP: usize = 64 * 1024;
const READ_BUF: usize = 256 * 1024;

/// Runs `cmd` to completion with stdin at EOF, killing its process group
/// after `timeout`.
pub fn run(cmd: &mut Command, stdout: Stdout, timeout: Duration) -> Result<Outcome> {
    let label = describe(cmd);
    let keep = matches!(stdout, Stdout::Capture);
    let (out_cfg, piped_out) = match stdout {
        Stdout::Null => (Stdio::null(), false),
        Stdout::Count | Stdout::Capture => (Stdio::piped(), true),
        Stdout::File(f) => (Stdio::from(f), false),
    };
    cmd.stdin(Stdio::null())
        .stdout(out_cfg)
        .stderr(Stdio::piped())
        .process_group(0);
    let started = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("spawn {label}"))?;
    let pid = Pid::from_child(&child);
    let pidfd = match pidfd_open(pid, PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            kill_group_and_reap(&mut child, pid);
            return Err(anyhow!("pidfd_open {label}: {e}"));
        }
    };
    let mut out_pipe: Option<OwnedFd> = if piped_out {
        child.stdout.take().map(OwnedFd::from)
    } else {
        None
    };
    if let Some(fd) = &out_pipe {
        // A 1 MiB pipe so the bench's reading is never what limits a stream.
        let _ = rustix::pipe::fcntl_setpipe_size(fd, 1 << 20);
    }
    let mut err_pipe: Option<OwnedFd> = child.stderr.take().map(OwnedFd::from);
    let mut outcome_out = Vec::new();
    let mut out_bytes = 0u64;
    let mut err_buf = Vec::new();
    let mut buf = vec![0u8; READ_BUF];
    let deadline = started + timeout;
    let mut exited_at: Option<Instant> = None;

    loop {
        let draining = exited_at.is_some();
        let wait = if draining {
            Duration::ZERO
        } else {
            let now = Instant::now();
            if now >= deadline {
                kill_group_and_reap(&mut child, pid);
                bail!("{label}: timed out after {}s", timeout.as_secs());
            }
            if interrupted() {
                kill_group_and_reap(&mut child, pid);
                bail!("{label}: interrupted");
            }
            deadline - now
        };
        // Wake at least every 200 ms to notice an interrupt.
        let wait = wait.min(Duration::from_millis(200));
        let ts = Timespec::try_from(wait).unwrap_or(Timespec {
            tv_sec: 0,
            tv_nsec: 200_000_000,
        });
        let mut fds = Vec::with_capacity(3);
        fds.push(PollFd::new(&pidfd, PollFlags::IN));
        if let Some(fd) = &out_pipe {
            fds.push(PollFd::new(fd, PollFlags::IN));
        }
        if let Some(fd) = &err_pipe {
            fds.push(PollFd::new(fd, PollFlags::IN));
        }
        match poll(&mut fds, Some(&ts)) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                kill_group_and_reap(&mut child, pid);
                bail!("poll {label}: {e}");
            }
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        if ready[0] && exited_at.is_none() {
            exited_at = Some(Instant::now());
        }
        let mut idx = 1;
        let mut any_read = false;
        if out_pipe.is_some() {
            if ready[idx] {
                let fd = out_pipe.as_ref().map(|f| f.as_fd());
                match fd.map(|fd| rustix::io::read(fd, &mut buf)) {
                    Some(Ok(0)) | None => out_pipe = None,
                    Some(Ok(n)) => {
                        any_read = true;
                        out_bytes += n as u64;
                        if keep {
                            outcome_out.extend_from_slice(&buf[..n]);
                        }
                    }
                    Some(Err(rustix::io::Errno::INTR)) | Some(Err(rustix::io::Errno::AGAIN)) => {}
                    Some(Err(e)) => {
                        kill_group_and_reap(&mut child, pid);
                        bail!("read stdout of {label}: {e}");
                    }
                }
            }
            idx += 1;
        }
        if err_pipe.is_some() && ready[idx] {
            let fd = err_pipe.as_ref().map(|f| f.as_fd());
            match fd.map(|fd| rustix::io::read(fd, &mut buf)) {
                Some(Ok(0)) | None => err_pipe = None,
                Some(Ok(n)) => {
                    any_read = true;
                    let room = STDERR_CAP.saturating_sub(err_buf.len());
                    err_buf.extend_from_slice(&buf[..n.min(room)]);
                }
                Some(Err(_)) => err_pipe = None,
            }
        }
        let pipes_done = out_pipe.is_none() && err_pipe.is_none();
        // After the exit, stop once the pipes are closed or hold nothing more:
        // a daemonized grandchild may keep a pipe open forever.
        if exited_at.is_some() && (pipes_done || (draining && !any_read)) {
            break;
        }
    }
    let status = child.wait().with_context(|| format!("wait {label}"))?;
    let elapsed = exited_at.map_or_else(|| started.elapsed(), |t| t - started);
    Ok(Outcome {
        elapsed,
        status,
        stdout: outcome_out,
        stdout_bytes: out_bytes,
        stderr: err_buf,
    })
}

/// Kills the child's process group (it leads it) and reaps the child. Safe
/// against pid reuse because the child is not reaped until afterwards.
fn kill_group_and_reap(child: &mut Child, pid: Pid) {
    let _ = kill_process_group(pid, Signal::KILL);
    let _ = child.wait();
}

/// `program arg…` for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args().take(6) {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// A long-lived process the bench started; stopped (TERM, then KILL after a
/// grace period) when dropped.
pub struct Daemon {
    name: String,
    child: Option<Child>,
    pidfd: Option<OwnedFd>,
}

impl Daemon {
    /// Starts `cmd` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, cmd: &mut Command, log: &Path) -> Result<Self> {
        let out = File::create(log).with_context(|| format!("create {}", log.display()))?;
        let err = out.try_clone().with_context(|| format!("dup {}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0);
        let child = cmd.spawn().with_context(|| format!("spawn {name}"))?;
        let pidfd = pidfd_open(Pid::from_child(&child), PidfdFlags::empty()).ok();
        Ok(Daemon {
            name: name.to_string(),
            child: Some(child),
            pidfd,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether the process is still running (not exited).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// TERM, wait up to `grace`, then KILL; reaps the process.
    pub fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(fd) = &self.pidfd {
            let _ = pidfd_send_signal(fd, Signal::TERM);
            if !wait_pidfd(fd, grace) {
                eprintln!("pier-bench: {} ignored SIGTERM, killing it", self.name);
                let _ = pidfd_send_signal(fd, Signal::KILL);
            }
        } else {
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(15));
    }
}

/// A process the bench did not spawn but is responsible for (a daemon's
/// helper such as containerd); stopped by pid (through a pidfd) on drop.
pub struct Adopted {
    name: String,
    pidfd: Option<OwnedFd>,
}

impl Adopted {
    /// Takes responsibility for `pid`; `None` when it is already gone.
    pub fn new(name: &str, pid: i32) -> Option<Self> {
        let pid = Pid::from_raw(pid)?;
        let fd = pidfd_open(pid, PidfdFlags::empty()).ok()?;
        Some(Adopted {
            name: name.to_string(),
            pidfd: Some(fd),
        })
    }

    /// TERM, wait up to `grace`, then KILL.
    pub fn stop(&mut self, grace: Duration) {
        let Some(fd) = self.pidfd.take() else {
            return;
        };
        if wait_pidfd(&fd, Duration::ZERO) {
            return;
        }
        let _ = pidfd_send_signal(&fd, Signal::TERM);
        if !wait_pidfd(&fd, grace) {
            eprintln!("pier-bench: {} ignored SIGTERM, killing it", self.name);
            let _ = pidfd_send_signal(&fd, Signal::KILL);
            let _ = wait_pidfd(&fd, Duration::from_secs(5));
        }
    }
}

impl Drop for Adopted {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}

/// Waits until the process behind `fd` exits; false on timeout.
fn wait_pidfd(fd: &OwnedFd, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ts = Timespec::try_from(left).unwrap_or(Timespec { tv_sec: 1, tv_nsec: 0 });
        let mut fds = [PollFd::new(fd, PollFlags::IN)];
        match poll(&mut fds, Some(&ts)) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(rustix::io::Errno::INTR) => continue,
            // ESRCH-like failures mean the process is gone.
            Err(_) => return true,
        }
    }
}

/// Polls `probe` until it succeeds or `timeout` passes.
pub fn wait_until<F: FnMut() -> bool>(timeout: Duration, mut probe: F) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if probe() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Reads a whole small file, mapping "not found" to `None`.
pub fn read_optional(path: &Path) -> Result<Option<String>> {
    let mut s = String::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_string(&mut s)
                .with_context(|| format!("read {}", path.display()))?;
            Ok(Some(s))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("open {}", path.display())),
    }
}
