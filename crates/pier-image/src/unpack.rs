//! Safe layer unpacking: a tar stream becomes a directory tree that an
//! overlayfs lowerdir can use, and nothing is ever written outside it.
//!
//! Every path is resolved from a descriptor of the layer root with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, so a symlink planted by
//! an earlier entry is never followed; files are created with `O_NOFOLLOW |
//! O_EXCL`. Names with `..` are refused, absolute names are read relative to
//! the root (as docker does). On error the caller removes the directory.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps, XattrFlags};
use rustix::io::Errno;
use sha2::{Digest, Sha256};
use tar::EntryType;

use crate::compression;
use crate::entry_path::{self, Whiteout};
use crate::error::ImageError;

/// What an unpack produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnpackedLayer {
    /// `sha256:<hex>` of the uncompressed tar stream.
    pub diff_id: String,
    /// Bytes of regular file content written.
    pub size: u64,
    /// Length of the uncompressed tar stream.
    pub tar_size: u64,
}

/// Unpacks `body` (a tar, plain or gzip) into the existing empty directory
/// `dest`, hashing the uncompressed stream on the way.
pub(crate) fn unpack_layer<R: Read>(body: R, dest: &Path) -> Result<UnpackedLayer, ImageError> {
    let stream = compression::decompressed(body)?;
    let mut hashing = HashingReader {
        inner: stream,
        hasher: Sha256::new(),
        count: 0,
    };
    let size = {
        let mut archive = tar::Archive::new(&mut hashing);
        let mut unpacker = Unpacker::new(dest)?;
        let entries = archive.entries().map_err(read_error)?;
        for entry in entries {
            let mut entry = entry.map_err(read_error)?;
            unpacker.entry(&mut entry)?;
        }
        unpacker.finish()?
    };
    // The digest covers the whole stream, end-of-archive padding included.
    io::copy(&mut hashing, &mut io::sink()).map_err(read_error)?;
    Ok(UnpackedLayer {
        tar_size: hashing.count,
        diff_id: format!("sha256:{}", hex::encode(hashing.hasher.finalize())),
        size,
    })
}

/// Extracts a tar (plain, gzip or zstd) into the existing directory `dest`
/// with the confinement of layer unpacking (no `..`, no symlink followed,
/// nothing written outside `dest`): `docker cp` into a container. Names
/// that look like whiteouts (`.wh.*`) are written as the files they name,
/// never read as deletions. Returns the bytes of file content written.
pub fn extract_archive<R: Read>(body: R, dest: &Path) -> Result<u64, ImageError> {
    let root =
        rfs::open(dest, DIR_FLAGS, Mode::empty()).map_err(|e| ImageError::io("open directory", dest, e.into()))?;
    extract_archive_at(body, root.as_fd(), dest)
}

/// [`extract_archive`] into the directory `dest` is open on (a directory
/// resolved inside a container's root); `label` names it in errors.
pub fn extract_archive_at<R: Read>(body: R, dest: BorrowedFd<'_>, label: &Path) -> Result<u64, ImageError> {
    let stream = compression::decompressed(body)?;
    let mut archive = tar::Archive::new(stream);
    let root = dest
        .try_clone_to_owned()
        .map_err(|e| ImageError::io("duplicate directory fd", label, e))?;
    let mut unpacker = Unpacker::with_root(root, label, Whiteouts::Literal);
    let entries = archive.entries().map_err(read_error)?;
    for entry in entries {
        let mut entry = entry.map_err(read_error)?;
        unpacker.entry(&mut entry)?;
    }
    let size = unpacker.finish()?;
    // Read what follows the end-of-archive marker, as a layer unpack does.
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(read_error)?;
    Ok(size)
}

fn read_error(e: io::Error) -> ImageError {
    ImageError::invalid_archive(e.to_string())
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Ownership, mode, time and xattrs of one entry.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    xattrs: Vec<(String, Vec<u8>)>,
}

/// What `.wh.` names mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whiteouts {
    /// A layer: overlay deletions and opaque directories.
    Layer,
    /// An upload into a container: plain names.
    Literal,
}

struct Unpacker {
    dest: PathBuf,
    root: OwnedFd,
    whiteouts: Whiteouts,
    is_root: bool,
    size: u64,
    /// Directories whose mtime is set last (creating children changes it).
    dir_times: Vec<(Vec<u8>, i64)>,
}

// No O_NOFOLLOW with openat2: RESOLVE_NO_SYMLINKS already refuses a symlink
// in any position, the last included, and reports it as ELOOP.
const DIR_FLAGS: OFlags = OFlags::PATH.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC);
const DIR_READ_FLAGS: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC);
const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);
const COPY_BUF: usize = 64 * 1024;

impl Unpacker {
    fn new(dest: &Path) -> Result<Self, ImageError> {
        let root =
            rfs::open(dest, DIR_FLAGS, Mode::empty()).map_err(|e| ImageError::io("open layer dir", dest, e.into()))?;
        Ok(Unpacker::with_root(root, dest, Whiteouts::Layer))
    }

    fn with_root(root: OwnedFd, dest: &Path, whiteouts: Whiteouts) -> Self {
        Unpacker {
            dest: dest.to_path_buf(),
            root,
            whiteouts,
            is_root: rustix::process::geteuid().is_root(),
            size: 0,
            dir_times: Vec::new(),
        }
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), ImageError> {
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader | EntryType::XHeader) {
            return Ok(());
        }
        let parts = entry_path::clean(&raw).map_err(|r| ImageError::unsafe_entry(&name, r))?;
        let meta = self.meta(entry, &name)?;
        let Some((base, parents)) = parts.split_last() else {
            // `./` itself: the layer root takes the entry's attributes.
            if kind != EntryType::Directory {
                return Err(ImageError::unsafe_entry(
                    &name,
                    "only a directory may name the layer root",
                ));
            }
            let fd = self.open_dir(&[], false, &name, DIR_READ_FLAGS)?;
            self.set_owner_mode(&fd, &meta, &name)?;
            self.dir_times.push((Vec::new(), meta.mtime));
            return Ok(());
        };
        let parent = self.open_dir(parents, true, &name, DIR_FLAGS)?;
        let whiteout = match self.whiteouts {
            Whiteouts::Layer => entry_path::whiteout(base),
            Whiteouts::Literal => Whiteout::None,
        };
        match whiteout {
            Whiteout::None => {}
            Whiteout::Meta => return Ok(()),
            Whiteout::Opaque => return self.opaque(parents, &name),
            Whiteout::Remove(target) => {
                let mut full = parents.to_vec();
                full.push(target);
                return self.whiteout(&parent, &full, &name);
            }
        }
        match kind {
            EntryType::Directory => self.directory(&parent, &parts, base, &meta, &name),
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.file(entry, &parent, &parts, &meta, &name)
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| ImageError::unsafe_entry(&name, "symlink without a target"))?
                    .into_owned();
                self.clear(&parent, base, false, &parts, &name)?;
                rfs::symlinkat(OsStr::from_bytes(&target), &parent, *base)
                    .map_err(|e| self.fs_error("create symlink", &name, e))?;
                self.set_owner_at(&parent, base, &meta, &name)?;
                self.set_times_at(&parent, base, meta.mtime, &name)
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| ImageError::unsafe_entry(&name, "hardlink without a target"))?
                    .into_owned();
                self.hardlink(&parent, &parts, &target, &name)
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                self.node(entry, kind, &parent, &parts, &meta, &name)
            }
            other => Err(ImageError::unsafe_entry(
                &name,
                format!("unsupported entry type {other:?}"),
            )),
        }
    }

    /// Sets directory mtimes last and returns the content size.
    fn finish(self) -> Result<u64, ImageError> {
        for (path, mtime) in &self.dir_times {
            let rel = if path.is_empty() { &b"."[..] } else { path };
            let fd = match rfs::openat2(&self.root, rel, DIR_READ_FLAGS, Mode::empty(), RESOLVE) {
                Ok(fd) => fd,
                // Replaced by a later entry.
                Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => continue,
                Err(e) => {
                    let name = String::from_utf8_lossy(path).into_owned();
                    return Err(self.fs_error("open directory", &name, e));
                }
            };
            rfs::futimens(&fd, &times(*mtime))
                .map_err(|e| self.fs_error("set times", &String::from_utf8_lossy(path), e))?;
        }
        Ok(self.size)
    }

    fn meta<R: Read>(&self, entry: &mut tar::Entry<'_, R>, name: &str) -> Result<Meta, ImageError> {
        let bad = |what: &str, e: io::Error| ImageError::invalid_archive(format!("entry {name:?}: bad {what}: {e}"));
        let h = entry.header();
        let old = h.as_old();
        // As Go's archive/tar: a field left blank (NULs or spaces) reads as 0.
        let field = |v: io::Result<u64>, raw: &[u8], what: &str| match v {
            Ok(v) => Ok(v),
            Err(_) if raw.iter().all(|&b| b == 0 || b == b' ') => Ok(0),
            Err(e) => Err(bad(what, e)),
        };
        let mut uid = field(h.uid(), &old.uid, "uid")?;
        let mut gid = field(h.gid(), &old.gid, "gid")?;
        let mut mtime = field(h.mtime(), &old.mtime, "mtime")? as i64;
        let mode = field(h.mode().map(u64::from), &old.mode, "mode")? as u32 & 0o7777;
        let mut xattrs = Vec::new();
        if let Some(pax) = entry.pax_extensions().map_err(|e| bad("pax header", e))? {
            for ext in pax {
                let ext = ext.map_err(|e| bad("pax header", e))?;
                let (Ok(key), value) = (ext.key(), ext.value_bytes()) else {
                    continue;
                };
                let num = || {
                    std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.split('.').next())
                        .and_then(|v| v.parse::<i64>().ok())
                };
                match key {
                    "uid" => uid = num().ok_or_else(|| bad("uid", io::ErrorKind::InvalidData.into()))? as u64,
                    "gid" => gid = num().ok_or_else(|| bad("gid", io::ErrorKind::InvalidData.into()))? as u64,
                    "mtime" => mtime = num().unwrap_or(mtime),
                    k => {
                        if let Some(attr) = k.strip_prefix("SCHILY.xattr.") {
                            xattrs.push((attr.to_string(), value.to_vec()));
                        }
                    }
                }
            }
        }
        let id = |v: u64, what: &str| {
            u32::try_from(v)
                .ok()
                .filter(|&v| v != u32::MAX)
                .ok_or_else(|| ImageError::unsafe_entry(name, format!("{what} {v} out of range")))
        };
        Ok(Meta {
            mode,
            uid: id(uid, "uid")?,
            gid: id(gid, "gid")?,
            mtime,
            xattrs,
        })
    }

    /// Opens (creating when asked, mode 0755 as docker does) the directory
    /// `parts` beneath the root without following any symlink.
    fn open_dir(&self, parts: &[&OsStr], create: bool, name: &str, flags: OFlags) -> Result<OwnedFd, ImageError> {
        let joined = entry_path::join(parts);
        let rel = if joined.is_empty() { &b"."[..] } else { &joined };
        match rfs::openat2(&self.root, rel, flags, Mode::empty(), RESOLVE) {
            Ok(fd) => return Ok(fd),
            Err(Errno::NOENT) if create => {}
            Err(e) => return Err(self.fs_error("open directory", name, e)),
        }
        let mut cur = rfs::openat2(&self.root, ".", DIR_FLAGS, Mode::empty(), RESOLVE)
            .map_err(|e| self.fs_error("open layer root", name, e))?;
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let f = if last { flags } else { DIR_FLAGS };
            cur = match rfs::openat2(&cur, *part, f, Mode::empty(), RESOLVE) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => {
                    match rfs::mkdirat(&cur, *part, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(self.fs_error("create directory", name, e)),
                    }
                    rfs::openat2(&cur, *part, f, Mode::empty(), RESOLVE)
                        .map_err(|e| self.fs_error("open directory", name, e))?
                }
                Err(e) => return Err(self.fs_error("open directory", name, e)),
            };
        }
        Ok(cur)
    }

    /// Makes room for a new entry at `base`: anything there goes, except a
    /// directory when a directory is coming. Returns whether one was kept.
    fn clear(
        &self,
        parent: &OwnedFd,
        base: &OsStr,
        keep_dir: bool,
        parts: &[&OsStr],
        name: &str,
    ) -> Result<bool, ImageError> {
        let st = match rfs::statat(parent, base, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(false),
            Err(e) => return Err(self.fs_error("stat", name, e)),
        };
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            if keep_dir {
                return Ok(true);
            }
            // From the parent's fd, one name at a time: a symlink swapped in
            // anywhere below is removed, never followed.
            remove_tree_at(parent, base).map_err(|e| {
                let path = self.dest.join(OsStr::from_bytes(&entry_path::join(parts)));
                ImageError::io("remove directory", path, e)
            })?;
        } else {
            match rfs::unlinkat(parent, base, AtFlags::empty()) {
                // Gone already (the tree is being changed under us).
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => return Err(self.fs_error("remove", name, e)),
            }
        }
        Ok(false)
    }

    fn directory(
        &mut self,
        parent: &OwnedFd,
        parts: &[&OsStr],
        base: &OsStr,
        meta: &Meta,
        name: &str,
    ) -> Result<(), ImageError> {
        if !self.clear(parent, base, true, parts, name)? {
            rfs::mkdirat(parent, base, Mode::from_raw_mode(0o700))
                .map_err(|e| self.fs_error("create directory", name, e))?;
        }
        let fd = rfs::openat2(parent, base, DIR_READ_FLAGS, Mode::empty(), RESOLVE)
            .map_err(|e| self.fs_error("open directory", name, e))?;
        self.set_owner_mode(&fd, meta, name)?;
        self.dir_times.push((entry_path::join(parts), meta.mtime));
        Ok(())
    }

    fn file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        parent: &OwnedFd,
        parts: &[&OsStr],
        meta: &Meta,
        name: &str,
    ) -> Result<(), ImageError> {
        let base = parts[parts.len() - 1];
        self.clear(parent, base, false, parts, name)?;
        let fd = rfs::openat(
            parent,
            base,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| self.fs_error("create file", name, e))?;
        let mut file = File::from(fd);
        let expected = entry.size();
        let mut buf = vec![0u8; COPY_BUF];
        let mut written = 0u64;
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(e)),
            };
            file.write_all(&buf[..n])
                .map_err(|e| ImageError::io("write file", self.dest.join(name), e))?;
            written += n as u64;
        }
        if written != expected {
            return Err(ImageError::invalid_archive(format!(
                "truncated archive: entry {name:?} has {written} of {expected} bytes"
            )));
        }
        self.size += written;
        self.set_owner_mode(file.as_fd(), meta, name)?;
        for (key, value) in &meta.xattrs {
            if key != "security.capability" && !key.starts_with("user.") {
                tracing::debug!(entry = name, xattr = key, "skipping xattr");
                continue;
            }
            match rfs::fsetxattr(&file, key.as_str(), value, XattrFlags::empty()) {
                Ok(()) => {}
                Err(Errno::NOTSUP) => {
                    tracing::warn!(entry = name, xattr = key, "xattr not supported here")
                }
                Err(e) => return Err(self.fs_error("set xattr", name, e)),
            }
        }
        rfs::futimens(&file, &times(meta.mtime)).map_err(|e| self.fs_error("set times", name, e))
    }

    fn hardlink(&self, parent: &OwnedFd, parts: &[&OsStr], target: &[u8], name: &str) -> Result<(), ImageError> {
        let target_parts =
            entry_path::clean(target).map_err(|r| ImageError::unsafe_entry(name, format!("hardlink target: {r}")))?;
        let Some((target_base, target_parents)) = target_parts.split_last() else {
            return Err(ImageError::unsafe_entry(name, "hardlink to the layer root"));
        };
        if target_parts == parts {
            return Ok(());
        }
        let outside = || {
            ImageError::unsafe_entry(
                name,
                format!(
                    "hardlink target {:?} is not a file in this layer",
                    String::from_utf8_lossy(target)
                ),
            )
        };
        let target_parent = match self.open_dir(target_parents, false, name, DIR_FLAGS) {
            Ok(fd) => fd,
            Err(ImageError::Io { .. }) => return Err(outside()),
            Err(e) => return Err(e),
        };
        match rfs::statat(&target_parent, *target_base, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) != FileType::Directory => {}
            Ok(_) | Err(Errno::NOENT) => return Err(outside()),
            Err(e) => return Err(self.fs_error("stat hardlink target", name, e)),
        }
        let base = parts[parts.len() - 1];
        self.clear(parent, base, false, parts, name)?;
        rfs::linkat(&target_parent, *target_base, parent, base, AtFlags::empty())
            .map_err(|e| self.fs_error("create hardlink", name, e))
    }

    fn node<R: Read>(
        &self,
        entry: &tar::Entry<'_, R>,
        kind: EntryType,
        parent: &OwnedFd,
        parts: &[&OsStr],
        meta: &Meta,
        name: &str,
    ) -> Result<(), ImageError> {
        let base = parts[parts.len() - 1];
        let (file_type, dev) = match kind {
            EntryType::Fifo => (FileType::Fifo, 0),
            _ => {
                if !self.is_root {
                    return Err(ImageError::unsafe_entry(name, "device nodes need root"));
                }
                let h = entry.header();
                let bad = |e: io::Error| ImageError::invalid_archive(format!("entry {name:?}: {e}"));
                let major = h.device_major().map_err(bad)?.unwrap_or(0);
                let minor = h.device_minor().map_err(bad)?.unwrap_or(0);
                let t = if kind == EntryType::Char {
                    FileType::CharacterDevice
                } else {
                    FileType::BlockDevice
                };
                (t, rfs::makedev(major, minor))
            }
        };
        self.clear(parent, base, false, parts, name)?;
        rfs::mknodat(parent, base, file_type, Mode::from_raw_mode(0o600), dev)
            .map_err(|e| self.fs_error("create node", name, e))?;
        self.set_owner_at(parent, base, meta, name)?;
        // The node was just created by mknodat, so chmodat cannot follow a symlink.
        rfs::chmodat(parent, base, Mode::from_raw_mode(meta.mode), AtFlags::empty())
            .map_err(|e| self.fs_error("chmod", name, e))?;
        self.set_times_at(parent, base, meta.mtime, name)
    }

    /// `.wh.<name>`: overlayfs reads a 0:0 character device as a deletion.
    fn whiteout(&self, parent: &OwnedFd, parts: &[&OsStr], name: &str) -> Result<(), ImageError> {
        let target = parts[parts.len() - 1];
        if target.is_empty() || target.as_bytes() == b"." || target.as_bytes() == b".." {
            return Err(ImageError::unsafe_entry(name, "whiteout of an invalid name"));
        }
        if !self.is_root {
            return Err(ImageError::unsafe_entry(name, "whiteouts need root"));
        }
        self.clear(parent, target, false, parts, name)?;
        rfs::mknodat(
            parent,
            target,
            FileType::CharacterDevice,
            Mode::empty(),
            rfs::makedev(0, 0),
        )
        .map_err(|e| self.fs_error("create whiteout", name, e))
    }

    /// `.wh..wh..opq`: the parent hides the layers below it.
    fn opaque(&self, parents: &[&OsStr], name: &str) -> Result<(), ImageError> {
        let dir = self.open_dir(parents, true, name, DIR_READ_FLAGS)?;
        rfs::fsetxattr(&dir, "trusted.overlay.opaque", b"y", XattrFlags::empty())
            .map_err(|e| self.fs_error("mark directory opaque", name, e))
    }

    fn set_owner_mode<Fd: AsFd>(&self, fd: Fd, meta: &Meta, name: &str) -> Result<(), ImageError> {
        if self.is_root {
            rfs::fchown(
                &fd,
                Some(rustix::fs::Uid::from_raw(meta.uid)),
                Some(rustix::fs::Gid::from_raw(meta.gid)),
            )
            .map_err(|e| self.fs_error("chown", name, e))?;
        }
        // After chown, which clears setuid/setgid bits.
        rfs::fchmod(&fd, Mode::from_raw_mode(meta.mode)).map_err(|e| self.fs_error("chmod", name, e))
    }

    fn set_owner_at(&self, parent: &OwnedFd, base: &OsStr, meta: &Meta, name: &str) -> Result<(), ImageError> {
        if !self.is_root {
            return Ok(());
        }
        rfs::chownat(
            parent,
            base,
            Some(rustix::fs::Uid::from_raw(meta.uid)),
            Some(rustix::fs::Gid::from_raw(meta.gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.fs_error("chown", name, e))
    }

    fn set_times_at(&self, parent: &OwnedFd, base: &OsStr, mtime: i64, name: &str) -> Result<(), ImageError> {
        rfs::utimensat(parent, base, &times(mtime), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.fs_error("set times", name, e))
    }

    /// A symlink met while resolving is an attack; the rest is plain IO.
    fn fs_error(&self, op: &'static str, name: &str, e: Errno) -> ImageError {
        match e {
            Errno::LOOP => ImageError::unsafe_entry(name, "path goes through a symlink"),
            Errno::XDEV => ImageError::unsafe_entry(name, "path leaves the layer"),
            Errno::NOTDIR => ImageError::unsafe_entry(name, "a parent is not a directory"),
            Errno::NAMETOOLONG => ImageError::unsafe_entry(name, "name too long"),
            e => ImageError::io(op, self.dest.join(name.trim_start_matches('/')), e.into()),
        }
    }
}

/// Remove `name` of `parent` and everything beneath it with `unlinkat` on
/// directory fds (pier-sys's `tree` does the same for pierd; this crate
/// depends on no pier crate).
fn remove_tree_at(parent: &OwnedFd, name: &OsStr) -> io::Result<()> {
    fn walk(parent: &OwnedFd, name: &OsStr, depth: u32) -> io::Result<()> {
        if depth > 512 {
            return Err(Errno::LOOP.into());
        }
        match rfs::unlinkat(parent, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => return Ok(()),
            Err(Errno::ISDIR | Errno::PERM) => {}
            Err(e) => return Err(e.into()),
        }
        let dir = match rfs::openat(parent, name, DIR_READ_FLAGS | OFlags::NOFOLLOW, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mut names = Vec::new();
        for e in rfs::Dir::read_from(&dir)? {
            let e = e?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                names.push(OsStr::from_bytes(n).to_os_string());
            }
        }
        for n in names {
            walk(&dir, &n, depth + 1)?;
        }
        match rfs::unlinkat(parent, name, AtFlags::REMOVEDIR) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
    walk(parent, name, 0)
}

fn times(mtime: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, body) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(if *kind == EntryType::Directory { 0o755 } else { 0o644 });
            h.set_size(body.len() as u64);
            b.append_data(&mut h, name, *body).expect("append");
        }
        b.into_inner().expect("tar")
    }

    #[test]
    fn archives_write_whiteout_names_literally() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dest = tmp.path();
        std::fs::write(dest.join("foo"), b"keep").expect("foo");
        std::fs::create_dir(dest.join("d")).expect("d");
        std::fs::write(dest.join("d/x"), b"keep").expect("x");
        let body = tar_of(&[
            (".wh.foo", EntryType::Regular, b"literal"),
            ("d/.wh..wh..opq", EntryType::Regular, b""),
            (".wh..wh.plnk", EntryType::Regular, b"meta"),
        ]);
        extract_archive(&body[..], dest).expect("extract");
        assert_eq!(std::fs::read(dest.join("foo")).expect("foo kept"), b"keep");
        assert_eq!(std::fs::read(dest.join(".wh.foo")).expect("literal"), b"literal");
        assert!(dest.join("d/.wh..wh..opq").is_file());
        assert_eq!(std::fs::read(dest.join("d/x")).expect("x kept"), b"keep");
        assert_eq!(std::fs::read(dest.join(".wh..wh.plnk")).expect("meta"), b"meta");
    }

    #[test]
    fn replacing_a_directory_never_follows_symlinks_inside_it() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dest = tmp.path().join("dest");
        let host = tmp.path().join("host");
        std::fs::create_dir_all(dest.join("d/sub")).expect("dest");
        std::fs::create_dir_all(host.join("dir")).expect("host");
        std::fs::write(host.join("dir/keep"), b"host").expect("keep");
        std::os::unix::fs::symlink(host.join("dir"), dest.join("d/sub/link")).expect("symlink");
        std::os::unix::fs::symlink(&host, dest.join("d/top")).expect("symlink");
        // A file where a directory was: the directory tree goes.
        let body = tar_of(&[("d", EntryType::Regular, b"now a file")]);
        extract_archive(&body[..], &dest).expect("extract");
        assert_eq!(std::fs::read(dest.join("d")).expect("d"), b"now a file");
        assert_eq!(std::fs::read(host.join("dir/keep")).expect("host kept"), b"host");
    }
}
