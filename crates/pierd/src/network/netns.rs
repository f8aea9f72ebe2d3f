//! Network namespaces as files, as `ip netns add` makes them: a thread
//! unshares a new network namespace and bind-mounts its
//! `/proc/self/task/<tid>/ns/net` onto an empty file; the namespace lives
//! as long as that mount (or a process in it). runc joins it by path.

use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("create {path}: {source}")]
    File { path: String, source: std::io::Error },
    #[error("{op} for {path}: {source}")]
    Sys {
        op: &'static str,
        path: String,
        source: nix::Error,
    },
    #[error("the netns thread for {0} panicked")]
    Thread(String),
}

/// Create a new network namespace bound at `path` (an existing binding
/// there is an error: remove it first).
pub fn create(path: &Path) -> Result<(), NetnsError> {
    let shown = path.display().to_string();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| NetnsError::File {
            path: dir.display().to_string(),
            source,
        })?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|source| NetnsError::File {
            path: shown.clone(),
            source,
        })?;
    let target = path.to_path_buf();
    let s = shown.clone();
    // unshare(CLONE_NEWNET) changes the calling thread only: a thread of
    // its own, which ends after the bind, so no other work runs in the new
    // namespace.
    let made = std::thread::spawn(move || -> Result<(), NetnsError> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|source| NetnsError::Sys {
            op: "unshare(CLONE_NEWNET)",
            path: s.clone(),
            source,
        })?;
        let tid = nix::unistd::gettid();
        let ns = format!("/proc/self/task/{tid}/ns/net");
        mount(Some(ns.as_str()), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>).map_err(|source| {
            NetnsError::Sys {
                op: "bind-mount the network namespace",
                path: s,
                source,
            }
        })
    })
    .join()
    .map_err(|_| NetnsError::Thread(shown.clone()))?;
    if made.is_err() {
        let _ = std::fs::remove_file(path);
    }
    made
}

/// Unmount and remove a namespace file; absent is fine.
pub fn remove(path: &Path) -> Result<(), NetnsError> {
    let shown = path.display().to_string();
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
        Err(source) => {
            return Err(NetnsError::Sys {
                op: "unmount the network namespace",
                path: shown,
                source,
            })
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(NetnsError::File { path: shown, source }),
    }
}
