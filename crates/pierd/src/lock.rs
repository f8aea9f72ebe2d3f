//! `<data-root>/pierd.lock`: one pierd per data root.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// Held for as long as the daemon runs; dropping it releases the lock.
#[derive(Debug)]
pub struct DataRootLock {
    _lock: Flock<File>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("pierd is already running on data root {} (pid {pid})", data_root.display())]
    Held { data_root: PathBuf, pid: String },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl DataRootLock {
    /// Take the lock (without waiting) and write our pid into the file.
    pub fn acquire(data_root: &Path) -> Result<Self, LockError> {
        let path = data_root.join("pierd.lock");
        let io = |op| {
            let path = path.clone();
            move |source| LockError::Io { op, path, source }
        };
        crate::private::dir(data_root, crate::private::DIR).map_err(io("create"))?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io("open"))?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((mut file, Errno::EWOULDBLOCK)) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(LockError::Held {
                    data_root: data_root.to_path_buf(),
                    pid: if pid.is_empty() { "unknown".into() } else { pid.into() },
                });
            }
            Err((_, e)) => return Err(io("lock")(std::io::Error::from(e))),
        };
        lock.set_len(0).map_err(io("truncate"))?;
        lock.rewind().map_err(io("rewind"))?;
        writeln!(lock, "{}", std::process::id()).map_err(io("write"))?;
        Ok(DataRootLock { _lock: lock })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = DataRootLock::acquire(dir.path()).expect("first");
        let err = DataRootLock::acquire(dir.path()).expect_err("second");
        assert!(err.to_string().contains("already running"), "{err}");
        assert!(err.to_string().contains(&std::process::id().to_string()));
        drop(first);
        DataRootLock::acquire(dir.path()).expect("after release");
    }
}
