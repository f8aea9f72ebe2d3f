//! Walking a directory tree that someone else controls (a container's root,
//! an overlay upper directory, a volume) by descriptor only.
//!
//! The tree's owner may rename anything, at any time, and swap a file or a
//! directory for a symlink to a host path between two of our calls. So:
//!
//! - a path given by the tree's owner is resolved once, with
//!   `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` from the root's fd:
//!   `..` and symlinks (absolute ones too) stay beneath the root;
//! - a walk goes one name at a time from a directory fd, with `O_NOFOLLOW`
//!   (`openat`, `fstatat(AT_SYMLINK_NOFOLLOW)`, `getdents` on the fd), so a
//!   symlink met mid-walk is recorded as a symlink, never entered;
//! - a file read for its content is opened `O_NOFOLLOW | O_NONBLOCK` and
//!   checked with `fstat` to be the regular file the walk saw, so neither a
//!   FIFO nor a device is ever read, and nothing waits on a FIFO's writer;
//! - removal and creation are `unlinkat`/`mkdirat`/`openat(O_EXCL)` on
//!   directory fds, recursively, never a path string.
//!
//! Nothing here builds a `/proc/self/fd/N/...` path: such a string would be
//! resolved again by the kernel, symlinks included.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

pub use rustix::fs::Stat;

const RESOLVE_IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY);
const FILE_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY)
    .union(OFlags::CLOEXEC);

/// The kind of an entry, from its `st_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
    Unknown,
}

impl Kind {
    pub fn of(st: &Stat) -> Kind {
        match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            FileType::CharacterDevice => Kind::CharDevice,
            FileType::BlockDevice => Kind::BlockDevice,
            FileType::Fifo => Kind::Fifo,
            FileType::Socket => Kind::Socket,
            _ => Kind::Unknown,
        }
    }
}

/// True when `a` and `b` describe the same inode.
pub fn same_inode(a: &Stat, b: &Stat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

/// An open directory (`O_RDONLY | O_DIRECTORY`, close-on-exec).
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
}

impl AsFd for Dir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl From<Dir> for OwnedFd {
    fn from(d: Dir) -> OwnedFd {
        d.fd
    }
}

/// `name` must be one path element: not empty, no `/`, not `.` or `..`.
fn check_name(name: &OsStr) -> io::Result<()> {
    let b = name.as_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a single path element"),
        ));
    }
    Ok(())
}

impl Dir {
    /// Open a directory the caller trusts by path (a data-root directory,
    /// `/proc/<pid>/root`): this path is resolved the ordinary way.
    pub fn open(path: &Path) -> io::Result<Dir> {
        Ok(Dir {
            fd: rfs::open(path, DIR_FLAGS, Mode::empty())?,
        })
    }

    /// Take a directory fd (checked with `fstat`).
    pub fn from_fd(fd: OwnedFd) -> io::Result<Dir> {
        if Kind::of(&rfs::fstat(&fd)?) != Kind::Dir {
            return Err(Errno::NOTDIR.into());
        }
        Ok(Dir { fd })
    }

    pub fn try_clone(&self) -> io::Result<Dir> {
        Ok(Dir {
            fd: self.fd.try_clone()?,
        })
    }

    /// `fstat` of the directory itself.
    pub fn stat(&self) -> io::Result<Stat> {
        Ok(rfs::fstat(&self.fd)?)
    }

    /// Open `path` as if this directory were `/`: `..` stops here and every
    /// symlink (absolute ones too) is resolved beneath it; magic links
    /// (`/proc/*/fd/*`, `/proc/*/root`) are refused. `O_CLOEXEC` is added.
    pub fn open_in_root(&self, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
        let rel = path.strip_prefix("/").unwrap_or(path);
        let rel = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        Ok(rfs::openat2(
            &self.fd,
            rel,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            RESOLVE_IN_ROOT,
        )?)
    }

    /// The directory at `path`, resolved as [`Dir::open_in_root`] does.
    pub fn dir_in_root(&self, path: &Path) -> io::Result<Dir> {
        Ok(Dir {
            fd: self.open_in_root(path, DIR_FLAGS)?,
        })
    }

    /// The child directory `name`, never through a symlink (`ELOOP` or
    /// `ENOTDIR` when `name` is one).
    pub fn child_dir(&self, name: &OsStr) -> io::Result<Dir> {
        check_name(name)?;
        Ok(Dir {
            fd: rfs::openat(&self.fd, name, DIR_FLAGS | OFlags::NOFOLLOW, Mode::empty())?,
        })
    }

    /// `fstatat(name, AT_SYMLINK_NOFOLLOW)`.
    pub fn stat_at(&self, name: &OsStr) -> io::Result<Stat> {
        check_name(name)?;
        Ok(rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?)
    }

    /// The names in the directory (`getdents` on this fd), `.` and `..`
    /// left out, in byte order.
    pub fn names(&self) -> io::Result<Vec<OsString>> {
        let mut out = Vec::new();
        for e in rfs::Dir::read_from(&self.fd)? {
            let e = e?;
            let name = e.file_name().to_bytes();
            if name != b"." && name != b".." {
                out.push(OsStr::from_bytes(name).to_os_string());
            }
        }
        out.sort();
        Ok(out)
    }

    /// Open the regular file `name` for reading: never through a symlink,
    /// never blocking (a FIFO swapped in does not wait for a writer), and
    /// only when `fstat` of the opened fd shows a regular file that is the
    /// inode `expect` describes (when given). `Ok(None)`: `name` is not that
    /// file any more.
    pub fn open_file(&self, name: &OsStr, expect: Option<&Stat>) -> io::Result<Option<(File, Stat)>> {
        check_name(name)?;
        let fd = match rfs::openat(&self.fd, name, FILE_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::LOOP | Errno::NOENT | Errno::NXIO) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let st = rfs::fstat(&fd)?;
        if Kind::of(&st) != Kind::File || expect.is_some_and(|x| !same_inode(x, &st)) {
            return Ok(None);
        }
        // Reads must block as regular-file reads always do.
        rfs::fcntl_setfl(&fd, OFlags::empty())?;
        Ok(Some((File::from(fd), st)))
    }

    /// The target of the symlink `name`.
    pub fn read_link(&self, name: &OsStr) -> io::Result<OsString> {
        check_name(name)?;
        let target = rfs::readlinkat(&self.fd, name, Vec::new())?;
        Ok(OsString::from_vec(target.into_bytes()))
    }

    /// The extended attribute `attr` of the directory itself (`None` when
    /// it has none).
    pub fn xattr(&self, attr: &str) -> io::Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; 256];
        match rfs::fgetxattr(&self.fd, attr, &mut buf) {
            Ok(n) => {
                buf.truncate(n);
                Ok(Some(buf))
            }
            Err(Errno::NODATA | Errno::NOTSUP | Errno::RANGE) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Remove `name` and, when it is a directory, everything beneath it,
    /// with `unlinkat` on directory fds only: a symlink is removed, never
    /// followed, wherever it appears. A missing `name` is not an error.
    pub fn remove_all(&self, name: &OsStr) -> io::Result<()> {
        check_name(name)?;
        remove_all_at(self, name, 0)
    }

    /// `mkdirat(name, mode)`, then the new directory opened (not through a
    /// symlink).
    pub fn create_dir(&self, name: &OsStr, mode: u32) -> io::Result<Dir> {
        check_name(name)?;
        rfs::mkdirat(&self.fd, name, Mode::from_raw_mode(mode))?;
        self.child_dir(name)
    }

    /// A new regular file `name` (`O_CREAT | O_EXCL | O_NOFOLLOW`: never an
    /// existing file, never through a symlink), open for writing.
    pub fn create_file(&self, name: &OsStr, mode: u32) -> io::Result<File> {
        check_name(name)?;
        let fd = rfs::openat(
            &self.fd,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )?;
        Ok(File::from(fd))
    }

    /// `symlinkat(target, name)`.
    pub fn symlink(&self, target: &OsStr, name: &OsStr) -> io::Result<()> {
        check_name(name)?;
        Ok(rfs::symlinkat(target, &self.fd, name)?)
    }

    /// `fchownat(name, AT_SYMLINK_NOFOLLOW)`: a symlink itself is changed.
    pub fn chown_at(&self, name: &OsStr, uid: u32, gid: u32) -> io::Result<()> {
        check_name(name)?;
        Ok(rfs::chownat(
            &self.fd,
            name,
            Some(rfs::Uid::from_raw(uid)),
            Some(rfs::Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    /// `fchown` + `fchmod` of the directory itself (chown first: it clears
    /// setuid/setgid bits).
    pub fn set_owner_mode(&self, uid: u32, gid: u32, mode: u32) -> io::Result<()> {
        set_owner_mode(&self.fd, uid, gid, mode)
    }
}

/// `fchown` then `fchmod` on an open file or directory.
pub fn set_owner_mode(fd: impl AsFd, uid: u32, gid: u32, mode: u32) -> io::Result<()> {
    rfs::fchown(&fd, Some(rfs::Uid::from_raw(uid)), Some(rfs::Gid::from_raw(gid)))?;
    Ok(rfs::fchmod(&fd, Mode::from_raw_mode(mode & 0o7777))?)
}

/// Deeper than this, a tree is refused rather than walked (each level
/// holds one fd).
const MAX_DEPTH: u32 = 512;

fn remove_all_at(parent: &Dir, name: &OsStr, depth: u32) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(Errno::LOOP.into());
    }
    // Try the common cases first: a non-directory, then an empty directory.
    match rfs::unlinkat(&parent.fd, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => return Ok(()),
        Err(Errno::ISDIR | Errno::PERM) => {}
        Err(e) => return Err(e.into()),
    }
    let dir = match parent.child_dir(name) {
        Ok(d) => d,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        // Swapped for a non-directory since the unlink: try once more.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {
            return match rfs::unlinkat(&parent.fd, name, AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => Ok(()),
                Err(e) => Err(e.into()),
            };
        }
        Err(e) => return Err(e),
    };
    for child in dir.names()? {
        remove_all_at(&dir, &child, depth + 1)?;
    }
    match rfs::unlinkat(&parent.fd, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Why a small file of a tree could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadSmallError {
    #[error("not found")]
    NotFound,
    #[error("not a regular file")]
    NotRegular,
    #[error("larger than {cap} bytes")]
    TooLarge { cap: u64 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Read the regular file `path` resolved in `root` (symlinks followed
/// beneath `root` only), at most `cap` bytes. The open never blocks (a
/// FIFO is refused without waiting for a writer) and `fstat` of the opened
/// fd must show a regular file, so a device (`/dev/zero`) is never read.
pub fn read_small(root: &Dir, path: &Path, cap: u64) -> Result<Vec<u8>, ReadSmallError> {
    let fd = match root.open_in_root(path, FILE_FLAGS.difference(OFlags::NOFOLLOW)) {
        Ok(fd) => fd,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
            return Err(ReadSmallError::NotFound)
        }
        // ENXIO: a socket; ELOOP: a symlink loop.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENXIO | libc::ELOOP)) => {
            return Err(ReadSmallError::NotRegular)
        }
        Err(e) => return Err(e.into()),
    };
    let st = rfs::fstat(&fd).map_err(io::Error::from)?;
    if Kind::of(&st) != Kind::File {
        return Err(ReadSmallError::NotRegular);
    }
    if st.st_size < 0 || st.st_size as u64 > cap {
        return Err(ReadSmallError::TooLarge { cap });
    }
    rfs::fcntl_setfl(&fd, OFlags::empty()).map_err(io::Error::from)?;
    let mut buf = Vec::with_capacity(st.st_size as usize);
    // The file may grow after the fstat: read one byte more than the cap
    // to tell.
    File::from(fd).take(cap + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(ReadSmallError::TooLarge { cap });
    }
    Ok(buf)
}

#[cfg(test)]
mod tests;
