//! Kernel notifications a loop can poll: an eventfd (the cgroup v1
//! `cgroup.event_control` registration writes its number) and an inotify
//! watch on one file (cgroup v2 `memory.events`). Both descriptors are
//! close-on-exec and non-blocking.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::event::{eventfd, EventfdFlags};
use rustix::fs::inotify::{self, CreateFlags, WatchFlags};

use crate::{Ctx, Result, SysError};

/// A new eventfd counting from 0.
pub fn event_fd() -> Result<OwnedFd> {
    eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).map_err(|e| SysError::Call {
        op: "eventfd",
        errno: crate::Errno::from_raw(e.raw_os_error()),
    })
}

/// An inotify instance watching `path` for modifications.
pub fn watch_modify(path: &Path) -> Result<OwnedFd> {
    let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK).map_err(|e| SysError::Call {
        op: "inotify_init1",
        errno: crate::Errno::from_raw(e.raw_os_error()),
    })?;
    inotify::add_watch(&fd, path, WatchFlags::MODIFY).map_err(|e| SysError::Call {
        op: "inotify_add_watch",
        errno: crate::Errno::from_raw(e.raw_os_error()),
    })?;
    Ok(fd)
}

/// The count an eventfd has gathered since the last read (0 when none),
/// resetting it.
pub fn read_count(fd: BorrowedFd<'_>) -> Result<u64> {
    let mut buf = [0u8; 8];
    loop {
        match rustix::io::read(fd.as_fd(), &mut buf) {
            Ok(8) => return Ok(u64::from_ne_bytes(buf)),
            Ok(_) => return Ok(0),
            Err(rustix::io::Errno::AGAIN) => return Ok(0),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(std::io::Error::from(e)).ctx("read eventfd"),
        }
    }
}

/// Read what is pending on a non-blocking eventfd or inotify descriptor;
/// true if anything was.
pub fn drain(fd: BorrowedFd<'_>) -> Result<bool> {
    let mut buf = [0u8; 4096];
    let mut any = false;
    loop {
        match rustix::io::read(fd.as_fd(), &mut buf) {
            Ok(0) => return Ok(any),
            Ok(_) => any = true,
            Err(rustix::io::Errno::AGAIN) => return Ok(any),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(std::io::Error::from(e)).ctx("read notification"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eventfd_counts_and_drains() {
        let fd = event_fd().expect("eventfd");
        assert!(!drain(fd.as_fd()).expect("drain"));
        rustix::io::write(&fd, &1u64.to_ne_bytes()).expect("write");
        assert!(drain(fd.as_fd()).expect("drain"));
        assert!(!drain(fd.as_fd()).expect("drain"));
        rustix::io::write(&fd, &1u64.to_ne_bytes()).expect("write");
        rustix::io::write(&fd, &2u64.to_ne_bytes()).expect("write");
        assert_eq!(read_count(fd.as_fd()).expect("count"), 3);
        assert_eq!(read_count(fd.as_fd()).expect("count"), 0);
    }

    #[test]
    fn inotify_sees_a_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("memory.events");
        std::fs::write(&f, "oom_kill 0\n").expect("write");
        let fd = watch_modify(&f).expect("watch");
        assert!(!drain(fd.as_fd()).expect("drain"));
        std::fs::write(&f, "oom_kill 1\n").expect("write");
        assert!(drain(fd.as_fd()).expect("drain"));
    }
}
