//! Paths resolved inside a container's root: every lookup goes through
//! `openat2(RESOLVE_IN_ROOT)` (`pier_sys::tree`), so `..` and symlinks
//! (absolute ones included) are read as if the root were `/` and can never
//! reach the host. Walks below a resolved directory go by fd
//! (`pier_sys::tree::Dir`), never by a path string.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use pier_sys::tree::Dir;
use rustix::fs::{self as rfs, Mode, OFlags};
use rustix::io::Errno;

const DIR_PATH: OFlags = OFlags::PATH.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC);

/// A container root opened once; lookups are confined beneath it.
#[derive(Debug)]
pub struct Root {
    dir: Dir,
    path: PathBuf,
}

/// The components of a container path, `.`/`..`/empty kept out (the kernel
/// handles `..` confined anyway; we drop them for the creation walk).
pub fn components(path: &str) -> Vec<&str> {
    path.split('/').filter(|p| !p.is_empty() && *p != ".").collect()
}

/// `/proc/self/fd/N`: read (never walked) to learn where an fd resolved.
fn fd_link(fd: &impl AsFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
}

impl Root {
    /// Open a root the caller names by a trusted host path.
    pub fn open(path: &Path) -> io::Result<Root> {
        Ok(Root {
            dir: Dir::open(path)?,
            path: path.to_path_buf(),
        })
    }

    /// A root already open (`path` names it in messages).
    pub fn from_dir(dir: Dir, path: &Path) -> Root {
        Root {
            dir,
            path: path.to_path_buf(),
        }
    }

    pub fn try_clone(&self) -> io::Result<Root> {
        Ok(Root {
            dir: self.dir.try_clone()?,
            path: self.path.clone(),
        })
    }

    /// The root directory's fd, for walks beneath it.
    pub fn dir(&self) -> &Dir {
        &self.dir
    }

    /// Open `rel` (a container path) confined in the root.
    pub fn open_at(&self, rel: &str, flags: OFlags) -> io::Result<OwnedFd> {
        self.dir.open_in_root(Path::new(rel), flags)
    }

    /// The directory at container path `rel`, confined in the root.
    pub fn dir_at(&self, rel: &str) -> io::Result<Dir> {
        self.dir.dir_in_root(Path::new(rel))
    }

    /// The container path `fd` (opened from this root) resolved to (mount
    /// targets are handed to the runtime as paths).
    pub fn container_path(&self, fd: &impl AsFd) -> io::Result<String> {
        let host = std::fs::read_link(fd_link(fd))?;
        let rel = host
            .strip_prefix(&self.path)
            .map_err(|_| io::Error::other(format!("{} resolved outside the root", host.display())))?;
        Ok(format!("/{}", rel.display()))
    }

    /// Create the directories of `path` that are missing (mode 0755), each
    /// resolved in the root; returns the directory's fd.
    pub fn mkdir_all(&self, path: &str) -> io::Result<OwnedFd> {
        self.mkdir_all_depth(path, 0)
    }

    /// `depth` counts dangling symlinks followed (their targets are created
    /// inside the root, as runc's securejoin does); 40 is the kernel's limit.
    fn mkdir_all_depth(&self, path: &str, depth: u32) -> io::Result<OwnedFd> {
        if depth > 40 {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        let parts = components(path);
        let mut prefix = String::new();
        let mut cur = self.open_at("/", DIR_PATH)?;
        for part in parts {
            let parent = prefix.clone();
            prefix.push('/');
            prefix.push_str(part);
            cur = match self.open_at(&prefix, DIR_PATH) {
                Ok(fd) => fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    let pfd = self.open_at(&parent, DIR_PATH)?;
                    let name = OsStr::from_bytes(part.as_bytes());
                    match rfs::mkdirat(&pfd, name, Mode::from_raw_mode(0o755)) {
                        Ok(()) => {}
                        Err(Errno::EXIST) => {
                            // A dangling symlink: create its target in the root.
                            if let Ok(target) = rfs::readlinkat(&pfd, name, Vec::new()) {
                                let target = target.to_string_lossy().into_owned();
                                let next = if target.starts_with('/') {
                                    target
                                } else {
                                    format!("{parent}/{target}")
                                };
                                self.mkdir_all_depth(&next, depth + 1)?;
                            }
                        }
                        Err(e) => return Err(e.into()),
                    }
                    self.open_at(&prefix, DIR_PATH)?
                }
                Err(e) => return Err(e),
            };
        }
        Ok(cur)
    }

    /// Make sure a mount target exists (a directory, or an empty file when
    /// the source is a file) and return its resolved container path.
    pub fn prepare_target(&self, path: &str, file: bool) -> io::Result<String> {
        if !file {
            let fd = self.mkdir_all(path)?;
            return self.container_path(&fd);
        }
        let parts = components(path);
        let Some((base, parents)) = parts.split_last() else {
            return Err(io::Error::other("a file cannot be mounted on /"));
        };
        let parent = self.mkdir_all(&parents.join("/"))?;
        let resolved = format!("/{}", parents.join("/"));
        match self.open_at(&format!("{resolved}/{base}"), OFlags::PATH) {
            Ok(fd) => return self.container_path(&fd),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let created = rfs::openat(
            &parent,
            OsStr::from_bytes(base.as_bytes()),
            OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o755),
        );
        match created {
            Ok(_) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        let fd = self.open_at(&format!("{resolved}/{base}"), OFlags::PATH)?;
        self.container_path(&fd)
    }
}

/// The most of `/etc/passwd` or `/etc/group` pierd reads (a container can
/// make either as large as it likes).
pub const USER_DB_CAP: u64 = 4 << 20;

/// A user database of the container (`/etc/passwd`, `/etc/group`), resolved
/// in its root: a symlink to the host's file is followed inside the root
/// only. As runc's `GetExecUserPath`, a file that cannot be opened counts as
/// missing (empty); a FIFO, a device or a loop is that too (warned), never
/// waited on or read without end. Larger than [`USER_DB_CAP`]: an error.
pub fn read_user_db(root: &Root, path: &str) -> crate::error::Result<String> {
    use pier_sys::tree::{read_small, ReadSmallError};
    match read_small(root.dir(), Path::new(path), USER_DB_CAP) {
        Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Err(ReadSmallError::NotFound) => Ok(String::new()),
        Err(ReadSmallError::NotRegular) => {
            tracing::warn!(path, "container's user database is not a regular file; ignored");
            Ok(String::new())
        }
        Err(e @ ReadSmallError::TooLarge { .. }) => Err(crate::error::Error::InvalidParameter(format!(
            "read {path} of the container: {e}"
        ))),
        Err(ReadSmallError::Io(e)) => {
            tracing::warn!(path, error = %e, "cannot read the container's user database; ignored");
            Ok(String::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_stay_inside() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&root).expect("root");
        std::fs::create_dir_all(&outside).expect("outside");
        std::os::unix::fs::symlink(&outside, root.join("evil")).expect("symlink");
        std::os::unix::fs::symlink("../../../../..", root.join("up")).expect("symlink");
        let r = Root::open(&root).expect("open");
        let p = r.prepare_target("/evil/sub", false).expect("prepare");
        assert!(p.starts_with('/'));
        assert!(!outside.join("sub").exists());
        assert!(root.join(outside.strip_prefix("/").expect("abs")).join("sub").is_dir());
        let p = r.prepare_target("/up/f", true).expect("file");
        assert_eq!(p, "/f");
        assert!(root.join("f").is_file());
    }
}
