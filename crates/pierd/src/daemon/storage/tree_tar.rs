//! A tar of a tree the container controls (`cp` out, `export`, the layer
//! of `commit`), written from directory fds only (`pier_sys::tree`).
//!
//! Every entry is looked at with `fstatat(AT_SYMLINK_NOFOLLOW)` on its
//! parent's fd; a directory is entered with `O_NOFOLLOW`, a file's content
//! read from an fd opened `O_NOFOLLOW | O_NONBLOCK` whose `fstat` shows the
//! regular file the walk saw. A container that swaps a file or directory
//! for a symlink while the walk runs gets its symlink archived, never
//! followed; an entry that vanishes or changes type mid-walk is left out.
//! The header comes from the `fstat` of what was opened, and exactly that
//! many bytes are written (a file that shrinks is padded with zeros), so a
//! racing writer cannot corrupt the archive's framing.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use pier_sys::tree::{Dir, Kind, Stat};

use crate::daemon::storage::made_for_mounts::MadeForMounts;

/// How a tree is archived.
#[derive(Debug, Clone, Copy, Default)]
pub struct TarOptions {
    /// A live container's root: `/proc` and `/sys` are archived as empty
    /// directories.
    pub live_root: bool,
    /// An overlay upper directory: whiteouts (0/0 character devices) become
    /// `.wh.<name>` entries and opaque directories get `.wh..wh..opq`.
    pub overlay: bool,
}

/// Deeper than this, a tree is refused (each level holds one fd).
const MAX_DEPTH: usize = 512;

fn depth_error() -> io::Error {
    io::Error::other(format!("directory tree deeper than {MAX_DEPTH} levels"))
}

/// A tar writer over a container tree.
pub struct TreeTar<W: Write> {
    b: tar::Builder<W>,
    opts: TarOptions,
    /// Entries left out (a directory's contents still go in): the mount
    /// points Pier made in an upper directory.
    hidden: Option<MadeForMounts>,
}

fn errno_in(e: &io::Error, set: &[i32]) -> bool {
    e.raw_os_error().is_some_and(|n| set.contains(&n))
}

/// Vanished (`ENOENT`), or no longer what the walk saw (a symlink or a
/// non-directory swapped in).
fn raced(e: &io::Error) -> bool {
    errno_in(e, &[libc::ENOENT, libc::ELOOP, libc::ENOTDIR])
}

/// A tar header from a stat; the size only for regular files.
pub fn header(st: &Stat) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    let kind = Kind::of(st);
    h.set_entry_type(match kind {
        Kind::File => tar::EntryType::Regular,
        Kind::Dir => tar::EntryType::Directory,
        Kind::Symlink => tar::EntryType::Symlink,
        Kind::CharDevice => tar::EntryType::Char,
        Kind::BlockDevice => tar::EntryType::Block,
        Kind::Fifo => tar::EntryType::Fifo,
        Kind::Socket | Kind::Unknown => tar::EntryType::new(b' '),
    });
    h.set_mode(st.st_mode);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
    h.set_size(if kind == Kind::File {
        u64::try_from(st.st_size).unwrap_or(0)
    } else {
        0
    });
    if matches!(kind, Kind::CharDevice | Kind::BlockDevice) {
        let (major, minor) = (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev));
        let _ = h.set_device_major(major);
        let _ = h.set_device_minor(minor);
    } else {
        let _ = h.set_device_major(0);
        let _ = h.set_device_minor(0);
    }
    h
}

/// An empty regular file entry (whiteout markers).
fn marker(name: &Path) -> io::Result<(tar::Header, PathBuf)> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(0);
    h.set_mode(0o644);
    h.set_mtime(0);
    Ok((h, name.to_path_buf()))
}

/// Exactly `left` bytes of `inner`: zeros after an early end, nothing after
/// `left` (a file that grows or shrinks while it is archived).
struct Exactly<R> {
    inner: R,
    left: u64,
    ended: bool,
}

impl<R: Read> Read for Exactly<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = if self.ended {
            buf[..want].fill(0);
            want
        } else {
            match self.inner.read(&mut buf[..want])? {
                0 => {
                    self.ended = true;
                    buf[..want].fill(0);
                    want
                }
                n => n,
            }
        };
        self.left -= n as u64;
        Ok(n)
    }
}

/// True for an overlay whiteout: a character device 0/0.
pub fn is_whiteout(st: &Stat) -> bool {
    Kind::of(st) == Kind::CharDevice && st.st_rdev == 0
}

/// True when the directory is marked opaque for overlayfs.
pub fn is_opaque(dir: &Dir) -> io::Result<bool> {
    for attr in ["trusted.overlay.opaque", "user.overlay.opaque"] {
        if dir.xattr(attr)?.as_deref() == Some(b"y") {
            return Ok(true);
        }
    }
    Ok(false)
}

fn child_cpath(cpath: &str, name: &OsStr) -> String {
    let n = name.to_string_lossy();
    if cpath == "/" {
        format!("/{n}")
    } else {
        format!("{cpath}/{n}")
    }
}

impl<W: Write> TreeTar<W> {
    pub fn new(out: W, opts: TarOptions) -> Self {
        TreeTar {
            b: tar::Builder::new(out),
            opts,
            hidden: None,
        }
    }

    /// Leave out what `made` records (commit of an upper directory).
    pub fn hiding(mut self, made: MadeForMounts) -> Self {
        self.hidden = Some(made);
        self
    }

    /// Finish the archive and hand back the writer.
    pub fn finish(self) -> io::Result<W> {
        self.b.into_inner()
    }

    /// Append the directory `dir` itself as `tar_name` (skipped when empty:
    /// an export's root) and everything beneath it. `cpath` is its path
    /// in the container.
    pub fn append_dir(&mut self, dir: &Dir, tar_name: &Path, cpath: &str) -> io::Result<()> {
        let st = dir.stat()?;
        if !tar_name.as_os_str().is_empty() {
            let mut h = header(&st);
            self.b.append_data(&mut h, tar_name, io::empty())?;
        }
        self.append_contents(dir, tar_name, cpath, 0)
    }

    /// Append the entry `name` of `parent` as `tar_name` and, for a
    /// directory, everything beneath it. An entry that vanished or changed
    /// type since it was listed is left out.
    pub fn append_entry(&mut self, parent: &Dir, name: &OsStr, tar_name: &Path, cpath: &str) -> io::Result<()> {
        self.entry(parent, name, tar_name, cpath, 0)
    }

    fn entry(&mut self, parent: &Dir, name: &OsStr, tar_name: &Path, cpath: &str, depth: usize) -> io::Result<()> {
        if depth > MAX_DEPTH {
            return Err(depth_error());
        }
        let st = match parent.stat_at(name) {
            Ok(st) => st,
            Err(e) if raced(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        let hide = self.hidden.as_ref().is_some_and(|h| h.hides(cpath, &st));
        if hide && Kind::of(&st) != Kind::Dir {
            return Ok(());
        }
        match Kind::of(&st) {
            Kind::Socket | Kind::Unknown => Ok(()),
            Kind::CharDevice if self.opts.overlay && is_whiteout(&st) => {
                let mut wh = OsString::from(".wh.");
                wh.push(name);
                let (mut h, p) = marker(&tar_name.with_file_name(wh))?;
                self.b.append_data(&mut h, p, io::empty())
            }
            Kind::File => {
                let Some((file, st)) = parent.open_file(name, Some(&st))? else {
                    return Ok(());
                };
                let mut h = header(&st);
                let size = h.size()?;
                let data = Exactly {
                    inner: file,
                    left: size,
                    ended: false,
                };
                self.b.append_data(&mut h, tar_name, data)
            }
            Kind::Dir => {
                let dir = match parent.child_dir(name) {
                    Ok(d) => d,
                    Err(e) if raced(&e) => return Ok(()),
                    Err(e) => return Err(e),
                };
                let st = dir.stat()?;
                if hide {
                    return self.append_contents(&dir, tar_name, cpath, depth + 1);
                }
                let mut h = header(&st);
                self.b.append_data(&mut h, tar_name, io::empty())?;
                if self.opts.overlay && is_opaque(&dir)? {
                    let (mut h, p) = marker(&tar_name.join(".wh..wh..opq"))?;
                    self.b.append_data(&mut h, p, io::empty())?;
                }
                if self.opts.live_root && matches!(cpath, "/proc" | "/sys") {
                    return Ok(());
                }
                self.append_contents(&dir, tar_name, cpath, depth + 1)
            }
            Kind::Symlink => {
                let target = match parent.read_link(name) {
                    Ok(t) => t,
                    Err(e) if raced(&e) || errno_in(&e, &[libc::EINVAL]) => return Ok(()),
                    Err(e) => return Err(e),
                };
                let mut h = header(&st);
                self.b.append_link(&mut h, tar_name, &target)
            }
            Kind::CharDevice | Kind::BlockDevice | Kind::Fifo => {
                let mut h = header(&st);
                self.b.append_data(&mut h, tar_name, io::empty())
            }
        }
    }

    fn append_contents(&mut self, dir: &Dir, tar_name: &Path, cpath: &str, depth: usize) -> io::Result<()> {
        for name in dir.names()? {
            let child = child_cpath(cpath, &name);
            self.entry(dir, &name, &tar_name.join(&name), &child, depth)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn names(tar: &[u8]) -> Vec<(String, tar::EntryType, Vec<u8>)> {
        let mut a = tar::Archive::new(tar);
        a.entries()
            .expect("entries")
            .map(|e| {
                let mut e = e.expect("entry");
                let mut body = Vec::new();
                e.read_to_end(&mut body).expect("body");
                (
                    e.path().expect("path").display().to_string(),
                    e.header().entry_type(),
                    body,
                )
            })
            .collect()
    }

    #[test]
    fn symlinks_are_archived_not_followed() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("root");
        let host = tmp.path().join("host");
        std::fs::create_dir_all(root.join("d")).expect("root");
        std::fs::create_dir_all(&host).expect("host");
        std::fs::write(host.join("shadow"), b"HOST-SECRET").expect("secret");
        std::fs::write(root.join("d/f"), b"mine").expect("file");
        symlink(host.join("shadow"), root.join("d/s")).expect("symlink file");
        symlink(&host, root.join("h")).expect("symlink dir");
        let dir = Dir::open(&root).expect("open");
        let mut t = TreeTar::new(Vec::new(), TarOptions::default());
        t.append_dir(&dir, Path::new(""), "/").expect("tar");
        let out = t.finish().expect("finish");
        assert!(!out.windows(11).any(|w| w == b"HOST-SECRET"));
        let got = names(&out);
        let paths: Vec<&str> = got.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(paths, ["d", "d/f", "d/s", "h"]);
        assert_eq!(got[1].2, b"mine");
        assert_eq!(got[2].1, tar::EntryType::Symlink);
        assert_eq!(got[3].1, tar::EntryType::Symlink);
    }

    #[test]
    fn short_files_are_padded_to_their_header() {
        let mut buf = Vec::new();
        Exactly {
            inner: &b"abc"[..],
            left: 5,
            ended: false,
        }
        .read_to_end(&mut buf)
        .expect("read");
        assert_eq!(buf, b"abc\0\0");
        buf.clear();
        Exactly {
            inner: &b"abcdef"[..],
            left: 2,
            ended: false,
        }
        .read_to_end(&mut buf)
        .expect("read");
        assert_eq!(buf, b"ab");
    }
}
