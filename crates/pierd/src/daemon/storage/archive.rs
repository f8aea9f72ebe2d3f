//! Files in and out of a container: stat, tar of a path, extracting a tar
//! (docker cp), and the whole filesystem (export).
//!
//! A running container is reached through `/proc/<pid>/root` (checked to
//! be the container's overlay, so a recycled pid never yields another
//! process's root), so its mounts (volumes, binds, tmpfs) are seen as the
//! container sees them. A stopped one has its overlay mounted for the
//! operation (its op lock held, so no start races with it) and unmounted
//! after; a path under a bind or a volume goes to the mount's source.
//!
//! The root is opened once; the path asked for is resolved in it with
//! `RESOLVE_IN_ROOT`, and everything below goes by directory fd
//! (`tree_tar` for archives out, pier-image's unpacker into a directory fd
//! for archives in), so a container that swaps files for symlinks while an
//! archive is taken never makes pierd read or write a host file.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use pier_api::volume::{file_mode, PathStat};
use pier_sys::tree::{self, Dir};
use rustix::fs::OFlags;

use crate::daemon::storage::confined::Root;
use crate::daemon::storage::mounts::{self, Kind};
use crate::daemon::storage::tree_tar::{TarOptions, TreeTar};
use crate::daemon::{Container, Daemon};
use crate::error::{Error, Result};

/// Unmounts a stopped container's overlay when the operation ends.
struct OverlayGuard {
    rootfs: crate::rootfs::Rootfs,
}

impl Drop for OverlayGuard {
    fn drop(&mut self) {
        if let Err(e) = self.rootfs.unmount() {
            tracing::warn!(error = %e, "unmount rootfs after file operation");
        }
    }
}

/// A container's filesystem opened for one operation.
pub(in crate::daemon) struct FsView {
    root: Root,
    /// `(destination, source)` of binds and volumes (stopped containers).
    mounts: Vec<(String, PathBuf)>,
    /// The container path of `root` is `/`; true for `/proc/<pid>/root`.
    pub live: bool,
    _overlay: Option<OverlayGuard>,
}

fn clean(path: &str) -> String {
    format!("/{}", crate::daemon::storage::confined::components(path).join("/"))
}

fn not_found(path: &str, c: &Container) -> Error {
    Error::PathNotFound {
        path: path.to_string(),
        container: c.id.clone(),
    }
}

fn os_err(op: &str, path: &str, c: &Container, e: std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => not_found(path, c),
        _ => Error::system(format!("{op} {path}"), e),
    }
}

/// Go's `os.FileMode` bits of a `st_mode`.
pub fn go_mode(st_mode: u32) -> u32 {
    let mut m = st_mode & 0o777;
    if st_mode & 0o4000 != 0 {
        m |= file_mode::SETUID;
    }
    if st_mode & 0o2000 != 0 {
        m |= file_mode::SETGID;
    }
    if st_mode & 0o1000 != 0 {
        m |= file_mode::STICKY;
    }
    m |= match st_mode & libc::S_IFMT {
        libc::S_IFDIR => file_mode::DIR,
        libc::S_IFLNK => file_mode::SYMLINK,
        libc::S_IFCHR => file_mode::DEVICE | file_mode::CHAR_DEVICE,
        libc::S_IFBLK => file_mode::DEVICE,
        libc::S_IFIFO => file_mode::NAMED_PIPE,
        libc::S_IFSOCK => file_mode::SOCKET,
        _ => 0,
    };
    m
}

/// `/a/b` -> (`/a`, `b`); a trailing `/` or `/.` keeps the last element
/// followed (empty base).
fn split(path: &str) -> (String, String) {
    if path.ends_with('/') || path.ends_with("/.") || path == "." {
        return (clean(path), String::new());
    }
    let c = clean(path);
    match c.rsplit_once('/') {
        Some((p, b)) => (
            if p.is_empty() { "/".to_string() } else { p.to_string() },
            b.to_string(),
        ),
        None => ("/".to_string(), c),
    }
}

impl FsView {
    /// The root and the path inside it that serve container path `path`.
    fn locate(&self, path: &str) -> Result<(Root, String)> {
        let p = clean(path);
        let best = self
            .mounts
            .iter()
            .filter(|(d, _)| p == *d || p.starts_with(&format!("{d}/")))
            .max_by_key(|(d, _)| d.len());
        match best {
            Some((d, src)) => {
                let root = Root::open(src).map_err(|e| Error::system(format!("open {}", src.display()), e))?;
                Ok((root, p[d.len()..].to_string()))
            }
            None => {
                let root = self
                    .root
                    .try_clone()
                    .map_err(|e| Error::system("open container root", e))?;
                Ok((root, p))
            }
        }
    }
}

impl Daemon {
    /// Open a container's filesystem: live through its init's root, or the
    /// overlay mounted for the duration (the caller holds the op lock).
    pub(in crate::daemon) fn open_fs(&self, c: &Container, live_ok: bool) -> Result<FsView> {
        let rec = c.record();
        let rootfs = c.rootfs();
        if live_ok && rec.state.is_running() && rec.state.pid > 0 {
            if let Some(root) = live_root(rec.state.pid, &rootfs.merged) {
                return Ok(FsView {
                    root,
                    mounts: Vec::new(),
                    live: true,
                    _overlay: None,
                });
            }
        }
        let guard = if rec.state.is_running() {
            None
        } else {
            let image = self
                .images
                .resolve(&rec.image_id)
                .map_err(|e| Error::system("resolve image", e))?;
            rootfs
                .mount(&self.images.layer_dirs(&image))
                .map_err(|e| Error::system(format!("mount rootfs of {}", c.id), e))?;
            Some(OverlayGuard { rootfs: rootfs.clone() })
        };
        let root = Root::open(&rootfs.merged).map_err(|e| Error::system("open rootfs", e))?;
        let mounts = mounts::load(&c.dir)?
            .into_iter()
            .filter(|m| m.kind != Kind::Tmpfs)
            .map(|m| (m.destination, m.source))
            .collect();
        Ok(FsView {
            root,
            mounts,
            live: false,
            _overlay: guard,
        })
    }

    /// Run `f` on the container's filesystem; a stopped container's is
    /// mounted with its op lock held. Blocking.
    pub(in crate::daemon) fn with_fs<T>(
        &self,
        key: &str,
        live_ok: bool,
        f: impl FnOnce(&Container, &FsView) -> Result<T>,
    ) -> Result<T> {
        let c = self.lookup(key)?;
        if live_ok && c.record().state.is_running() {
            let fs = self.open_fs(&c, true)?;
            return f(&c, &fs);
        }
        let _op = c.op.blocking_lock();
        let fs = self.open_fs(&c, live_ok)?;
        f(&c, &fs)
    }

    /// `HEAD /containers/{id}/archive?path=`. Blocking.
    pub fn archive_stat(&self, key: &str, path: &str) -> Result<PathStat> {
        self.with_fs(key, true, |c, fs| stat(c, fs, path).map(|(s, _)| s))
    }

    /// `GET /containers/{id}/archive?path=`: `on_stat` gets the stat before
    /// any byte of the tar is written to `out`. Blocking.
    pub fn archive_read(&self, key: &str, path: &str, on_stat: impl FnOnce(PathStat), out: impl Write) -> Result<()> {
        let out = self.with_fs(key, true, |c, fs| {
            let (st, (root, rel)) = stat(c, fs, path)?;
            let name = if st.name.is_empty() {
                ".".to_string()
            } else {
                st.name.clone()
            };
            on_stat(st);
            let (parent, base) = split(&rel);
            let pdir = root.dir_at(&parent).map_err(|e| os_err("open", path, c, e))?;
            let opts = TarOptions {
                live_root: fs.live,
                overlay: false,
            };
            let mut t = TreeTar::new(out, opts);
            let written = if base.is_empty() {
                t.append_dir(&pdir, Path::new(&name), &clean(path))
            } else {
                t.append_entry(&pdir, OsStr::new(&base), Path::new(&name), &clean(path))
            };
            let mut w = written
                .and_then(|()| t.finish())
                .map_err(|e| Error::system(format!("archive {path}"), e))?;
            w.flush().map_err(|e| Error::system(format!("archive {path}"), e))?;
            Ok(w)
        })?;
        // The stream ends only now, after a stopped container's overlay is
        // unmounted: a client that sees the end sees no mount left.
        drop(out);
        self.container_event_of(key, "archive-path");
        Ok(())
    }

    /// Record a container event for `key` if it still exists.
    fn container_event_of(&self, key: &str, action: &str) {
        if let Ok(c) = self.lookup(key) {
            self.container_event(&c.record(), action, &[]);
        }
    }

    /// `PUT /containers/{id}/archive?path=`: extract `body` beneath the
    /// directory `path`. Blocking.
    pub fn archive_write(&self, key: &str, path: &str, body: impl Read) -> Result<()> {
        self.with_fs(key, true, |c, fs| {
            let (root, rel) = fs.locate(path)?;
            let fd = root
                .open_at(&rel, OFlags::RDONLY | OFlags::DIRECTORY)
                .map_err(|e| match e.raw_os_error() {
                    Some(libc::ENOTDIR) => Error::InvalidParameter("extraction point is not a directory".to_string()),
                    _ => os_err("open", path, c, e),
                })?;
            let target = clean(path);
            let under_mount = mounts::load(&c.dir)?
                .iter()
                .any(|m| target == m.destination || target.starts_with(&format!("{}/", m.destination)));
            if c.record().spec.storage.readonly_rootfs && !under_mount {
                return Err(Error::InvalidParameter(
                    "container rootfs is marked read-only".to_string(),
                ));
            }
            let label = PathBuf::from(&target);
            pier_image::extract_archive_at(body, fd.as_fd(), &label).map_err(|e| match e {
                pier_image::ImageError::UnsafeEntry { .. } | pier_image::ImageError::InvalidArchive { .. } => {
                    Error::InvalidParameter(e.to_string())
                }
                other => Error::system(format!("extract archive into {path}"), other),
            })?;
            Ok(())
        })?;
        self.container_event_of(key, "extract-to-dir");
        Ok(())
    }

    /// `GET /containers/{id}/export`: the root filesystem without its
    /// mounts. Blocking.
    pub fn export(&self, key: &str, out: impl Write) -> Result<()> {
        let out = self.with_fs(key, false, |c, fs| {
            let mut t = TreeTar::new(out, TarOptions::default());
            let mut w = t
                .append_dir(fs.root.dir(), Path::new(""), "/")
                .and_then(|()| t.finish())
                .map_err(|e| Error::system(format!("export {}", c.id), e))?;
            w.flush().map_err(|e| Error::system(format!("export {}", c.id), e))?;
            Ok(w)
        })?;
        drop(out);
        self.container_event_of(key, "export");
        Ok(())
    }
}

/// `/proc/<pid>/root` of a running container, only when it is the
/// container's overlay root (the pid may have been recycled).
fn live_root(pid: i32, merged: &Path) -> Option<Root> {
    let p = PathBuf::from(format!("/proc/{pid}/root"));
    let dir = Dir::open(&p).ok()?;
    let want = rustix::fs::stat(merged).ok()?;
    let got = dir.stat().ok()?;
    if !tree::same_inode(&want, &got) {
        tracing::warn!(pid, "process root is not the container's rootfs; using the rootfs");
        return None;
    }
    Some(Root::from_dir(dir, &p))
}

/// Unix nanoseconds of a (container-controlled, so any) mtime, saturated.
fn mtime_nanos(secs: i64, nsecs: i64) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nsecs)
}

/// Stat `path` (the last element not followed unless the path ends in `/`).
fn stat(c: &Container, fs: &FsView, path: &str) -> Result<(PathStat, (Root, String))> {
    let (root, rel) = fs.locate(path)?;
    let (parent, base) = split(&rel);
    let pdir = root.dir_at(&parent).map_err(|e| os_err("stat", path, c, e))?;
    let st = if base.is_empty() {
        pdir.stat()
    } else {
        pdir.stat_at(OsStr::new(&base))
    }
    .map_err(|e| os_err("stat", path, c, e))?;
    let mode = st.st_mode;
    let link_target = if tree::Kind::of(&st) == tree::Kind::Symlink {
        pdir.read_link(OsStr::new(&base))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let name = if base.is_empty() {
        clean(path).rsplit('/').next().unwrap_or("").to_string()
    } else {
        base.clone()
    };
    let nanos = mtime_nanos(st.st_mtime, i64::try_from(st.st_mtime_nsec).unwrap_or(0));
    Ok((
        PathStat {
            name,
            size: st.st_size,
            mode: go_mode(mode),
            mtime: pier_time::format_nano(nanos),
            link_target,
        },
        (root, rel),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_mtime_converts_without_overflow() {
        assert_eq!(mtime_nanos(i64::MAX, 999_999_999), i64::MAX);
        assert_eq!(mtime_nanos(i64::MIN, 0), i64::MIN);
        assert_eq!(mtime_nanos(1, 5), 1_000_000_005);
    }

    #[test]
    fn modes_and_split() {
        assert_eq!(go_mode(libc::S_IFDIR | 0o755), file_mode::DIR | 0o755);
        assert_eq!(go_mode(libc::S_IFREG | 0o4755), file_mode::SETUID | 0o755);
        assert_eq!(go_mode(libc::S_IFLNK | 0o777), file_mode::SYMLINK | 0o777);
        assert_eq!(split("/a/b"), ("/a".to_string(), "b".to_string()));
        assert_eq!(split("/a"), ("/".to_string(), "a".to_string()));
        assert_eq!(split("/a/"), ("/a".to_string(), String::new()));
        assert_eq!(split("/a/."), ("/a".to_string(), String::new()));
    }
}
