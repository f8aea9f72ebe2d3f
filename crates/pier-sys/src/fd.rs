//! File descriptors: cloexec pipes, `/dev/null` onto stdio, closing every
//! inherited fd but a keep-list.

use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::unistd;

use crate::{Ctx, Result};

/// Both ends of a pipe, close-on-exec.
#[derive(Debug)]
pub struct Pipe {
    pub read: OwnedFd,
    pub write: OwnedFd,
}

/// A pipe with `O_CLOEXEC` on both ends.
pub fn pipe() -> Result<Pipe> {
    let (read, write) = unistd::pipe2(OFlag::O_CLOEXEC).ctx("pipe2")?;
    Ok(Pipe { read, write })
}

/// Make `fd` non-blocking.
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> Result<()> {
    let flags = fcntl(fd, FcntlArg::F_GETFL).ctx("fcntl F_GETFL")?;
    let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
    fcntl(fd, FcntlArg::F_SETFL(flags)).ctx("fcntl F_SETFL")?;
    Ok(())
}

/// Ask for a pipe buffer of `bytes` (`F_SETPIPE_SZ`); returns the size the
/// kernel granted. Larger pipes mean fewer wakeups per byte.
pub fn set_pipe_size(fd: BorrowedFd<'_>, bytes: usize) -> Result<usize> {
    rustix::pipe::fcntl_setpipe_size(fd, bytes)
        .map_err(std::io::Error::from)
        .ctx("fcntl F_SETPIPE_SZ")
}

/// Ask for a socket send buffer of `bytes` (`SO_SNDBUF`, capped by
/// `net.core.wmem_max`); returns what the kernel granted.
pub fn set_send_buffer(fd: BorrowedFd<'_>, bytes: usize) -> Result<usize> {
    use nix::sys::socket::{getsockopt, setsockopt, sockopt};
    setsockopt(&fd, sockopt::SndBuf, &bytes).ctx("setsockopt SO_SNDBUF")?;
    getsockopt(&fd, sockopt::SndBuf).ctx("getsockopt SO_SNDBUF")
}

/// Set or clear close-on-exec on `fd`.
pub fn set_cloexec(fd: BorrowedFd<'_>, on: bool) -> Result<()> {
    let flags = if on { FdFlag::FD_CLOEXEC } else { FdFlag::empty() };
    fcntl(fd, FcntlArg::F_SETFD(flags)).ctx("fcntl F_SETFD")?;
    Ok(())
}

/// A close-on-exec duplicate of `fd` (numbered 3 or above).
pub fn dup_cloexec(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    fd.try_clone_to_owned().ctx("dup")
}

/// `/dev/null` opened read-write, close-on-exec.
pub fn dev_null() -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .ctx("open /dev/null")
}

/// Which of the standard streams to point at `/dev/null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stdio {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

impl Stdio {
    pub const ALL: Stdio = Stdio {
        stdin: true,
        stdout: true,
        stderr: true,
    };
}

/// Point the chosen standard streams at `/dev/null`.
pub fn null_stdio(which: Stdio) -> Result<()> {
    let null = dev_null()?;
    if which.stdin {
        unistd::dup2_stdin(&null).ctx("dup2 stdin")?;
    }
    if which.stdout {
        unistd::dup2_stdout(&null).ctx("dup2 stdout")?;
    }
    if which.stderr {
        unistd::dup2_stderr(&null).ctx("dup2 stderr")?;
    }
    Ok(())
}

/// The ranges `[first, last]` of fds at or above 3 that are not in `keep`.
/// Pure, so it is tested without closing anything.
pub fn close_ranges(keep: &[RawFd]) -> Vec<(u32, u32)> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .filter(|&fd| fd >= 3)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut ranges = Vec::with_capacity(keep.len() + 1);
    let mut next = 3u32;
    for fd in keep {
        if fd > next {
            ranges.push((next, fd - 1));
        }
        next = fd + 1;
    }
    ranges.push((next, u32::MAX));
    ranges
}

/// Close every fd numbered 3 or above except those in `keep`.
///
/// Call it only where no other code holds one of the closed fds as an owned
/// value (at process start, right after forking).
pub fn close_all_except(keep: &[BorrowedFd<'_>]) -> Result<()> {
    let raw: Vec<RawFd> = keep.iter().map(AsRawFd::as_raw_fd).collect();
    for (first, last) in close_ranges(&raw) {
        // SAFETY: close_range only closes descriptors; the caller promises no
        // live owner (OwnedFd, File) refers to the fds outside `keep`.
        let rc = unsafe { libc::close_range(first, last, 0) };
        if rc != 0 {
            return Err(nix::errno::Errno::last()).ctx("close_range");
        }
    }
    Ok(())
}

/// The fds this process has open, from `/proc/self/fd`.
pub fn open_fds() -> Result<Vec<RawFd>> {
    let mut fds = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").ctx("read /proc/self/fd")? {
        let entry = entry.ctx("read /proc/self/fd")?;
        if let Some(fd) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
            fds.push(fd);
        }
    }
    fds.sort_unstable();
    Ok(fds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn ranges_skip_kept_fds() {
        assert_eq!(close_ranges(&[]), vec![(3, u32::MAX)]);
        assert_eq!(close_ranges(&[0, 1, 2]), vec![(3, u32::MAX)]);
        assert_eq!(close_ranges(&[3]), vec![(4, u32::MAX)]);
        assert_eq!(close_ranges(&[7, 5, 5, -1]), vec![(3, 4), (6, 6), (8, u32::MAX)]);
        assert_eq!(close_ranges(&[4, 5]), vec![(3, 3), (6, u32::MAX)]);
    }

    #[test]
    fn pipe_is_cloexec() {
        let p = pipe().expect("pipe");
        let flags = fcntl(p.read.as_fd(), FcntlArg::F_GETFD).expect("getfd");
        assert!(FdFlag::from_bits_retain(flags).contains(FdFlag::FD_CLOEXEC));
        set_nonblocking(p.read.as_fd()).expect("nonblock");
    }
}
