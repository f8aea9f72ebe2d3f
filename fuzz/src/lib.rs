//! Helpers shared by Pier's fuzz targets: a reader that turns any fuzzer
//! input into values (never failing: a short input reads as zeros), a tar
//! builder for structured archives, and a scratch directory with sentinels
//! that proves nothing was written outside the tree under test.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Reads values off the fuzzer's bytes; past the end everything is zero.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// `n` bytes, or fewer at the end.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.data.split_at(n.min(self.data.len()));
        self.data = b;
        a
    }

    /// A byte string prefixed with its length as one byte.
    pub fn lp8(&mut self) -> &'a [u8] {
        let n = self.u8() as usize;
        self.take(n)
    }

    /// A byte string prefixed with its length as two bytes (little endian).
    pub fn lp16(&mut self) -> &'a [u8] {
        let n = self.u16() as usize;
        self.take(n)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.data.len())
    }
}

/// One archive member of a structured input.
#[derive(Debug)]
pub struct Member<'a> {
    /// The raw tar type flag (`0` file, `5` dir, `2` symlink, `1` hardlink, …).
    pub typeflag: u8,
    pub name: &'a [u8],
    pub link: &'a [u8],
    pub mode: u16,
    pub uid: u8,
    pub mtime: u32,
    /// A PAX extended header (`x`) written before the member when not empty.
    pub pax: &'a [u8],
    pub content: &'a [u8],
}

/// Member layout of structured inputs (see `fuzz/make_seeds.py`):
/// `typeflag:u8 name:lp8 link:lp8 mode:u16 uid:u8 mtime:u32 pax:lp16 content:lp16`.
pub fn members<'a>(b: &mut Bytes<'a>) -> Vec<Member<'a>> {
    let mut out = Vec::new();
    while !b.is_empty() && out.len() < 64 {
        out.push(Member {
            typeflag: b.u8(),
            name: b.lp8(),
            link: b.lp8(),
            mode: b.u16(),
            uid: b.u8(),
            mtime: b.u32(),
            pax: b.lp16(),
            content: b.lp16(),
        });
    }
    out
}

/// Replaces every `@OUT@` in `bytes` with `outside` (so inputs can aim
/// links at the sentinel directory, whose path differs per process).
pub fn substitute(bytes: &[u8], outside: &[u8]) -> Vec<u8> {
    const TOKEN: &[u8] = b"@OUT@";
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(TOKEN) {
            out.extend_from_slice(outside);
            i += TOKEN.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// A ustar archive of `members`, names and link targets written raw into
/// the header (so `..`, absolute and odd names get through the builder),
/// `@OUT@` in link targets and PAX records replaced by `outside`.
pub fn tar_of(members: &[Member<'_>], outside: &Path) -> Vec<u8> {
    let outside = outside.as_os_str().as_encoded_bytes();
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        if !m.pax.is_empty() {
            let pax = substitute(m.pax, outside);
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::XHeader);
            h.set_size(pax.len() as u64);
            h.set_mode(0o644);
            raw_name(&mut h, b"PaxHeaders/x");
            h.set_cksum();
            let _ = b.append(&h, &pax[..]);
        }
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::new(m.typeflag));
        h.set_size(m.content.len() as u64);
        h.set_mode(u32::from(m.mode) & 0o7777);
        h.set_uid(u64::from(m.uid));
        h.set_gid(u64::from(m.uid));
        h.set_mtime(u64::from(m.mtime));
        raw_name(&mut h, m.name);
        let link = substitute(m.link, outside);
        let n = link.len().min(100);
        h.as_old_mut().linkname[..n].copy_from_slice(&link[..n]);
        h.set_cksum();
        let _ = b.append(&h, m.content);
    }
    b.into_inner().unwrap_or_default()
}

fn raw_name(h: &mut tar::Header, name: &[u8]) {
    let n = name.len().min(100);
    h.as_old_mut().name[..n].copy_from_slice(&name[..n]);
}

/// A per-process scratch tree for targets that write files:
///
/// ```text
/// <base>/                 only `work` in it
///   work/                 only `tree` and `outside` in it
///     tree/               the directory under test (emptied between runs)
///     outside/sentinel    must stay the only entry, unchanged, one link
/// ```
pub struct Scratch {
    pub base: PathBuf,
    pub work: PathBuf,
    pub tree: PathBuf,
    pub outside: PathBuf,
    sentinel: [i64; 7],
}

const SENTINEL: &[u8] = b"sentinel";

impl Scratch {
    /// Creates the tree under `$PIER_FUZZ_TMP` (default `/dev/shm`, else
    /// the system temp dir); removed again when the process exits normally.
    pub fn new(tag: &str) -> Scratch {
        let root = std::env::var_os("PIER_FUZZ_TMP")
            .map(PathBuf::from)
            .or_else(|| Some(PathBuf::from("/dev/shm")).filter(|p| p.is_dir()))
            .unwrap_or_else(std::env::temp_dir);
        let base = root.join(format!("pier-fuzz-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let work = base.join("work");
        let tree = work.join("tree");
        let outside = work.join("outside");
        fs::create_dir_all(&tree).expect("create scratch tree");
        fs::create_dir_all(&outside).expect("create sentinel dir");
        fs::write(outside.join("sentinel"), SENTINEL).expect("write sentinel");
        let sentinel = stamp(&outside.join("sentinel"));
        Scratch {
            sentinel,
            base,
            work,
            tree,
            outside,
        }
    }

    /// Panics if anything appeared, vanished or changed outside `tree`.
    pub fn assert_confined(&self) {
        assert_eq!(listing(&self.base), ["work"], "{} changed", self.base.display());
        assert_eq!(
            listing(&self.work),
            ["outside", "tree"],
            "{} changed",
            self.work.display()
        );
        assert_eq!(
            listing(&self.outside),
            ["sentinel"],
            "{} changed",
            self.outside.display()
        );
        let s = self.outside.join("sentinel");
        let meta = fs::symlink_metadata(&s).expect("stat sentinel");
        assert!(meta.is_file(), "sentinel replaced");
        assert_eq!(meta.nlink(), 1, "sentinel hardlinked");
        assert_eq!(fs::read(&s).expect("read sentinel"), SENTINEL, "sentinel written");
        assert_eq!(
            stamp(&s),
            self.sentinel,
            "sentinel's inode, owner, mode or times changed"
        );
        let tmeta = fs::symlink_metadata(&self.tree).expect("stat tree");
        assert!(tmeta.is_dir(), "tree replaced");
    }

    /// Empties `tree` (never following symlinks) for the next run.
    pub fn reset(&self) {
        if let Ok(rd) = fs::read_dir(&self.tree) {
            for e in rd.flatten() {
                let p = e.path();
                match e.file_type() {
                    Ok(t) if t.is_dir() => {
                        let _ = make_writable(&p);
                        let _ = fs::remove_dir_all(&p);
                    }
                    _ => {
                        let _ = fs::remove_file(&p);
                    }
                }
            }
        }
        let _ = fs::set_permissions(&self.tree, std::os::unix::fs::PermissionsExt::from_mode(0o755));
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = make_writable(&self.base);
        let _ = fs::remove_dir_all(&self.base);
    }
}

/// Directory modes such as 0o000 do not stop root, but keep removal
/// working for a non-root run too.
fn make_writable(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Ok(());
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
    for e in fs::read_dir(dir)?.flatten() {
        let _ = make_writable(&e.path());
    }
    Ok(())
}

/// What must not change about the sentinel.
fn stamp(p: &Path) -> [i64; 7] {
    let m = fs::symlink_metadata(p).expect("stat sentinel");
    [
        m.ino() as i64,
        i64::from(m.mode()),
        i64::from(m.uid()),
        i64::from(m.gid()),
        m.mtime(),
        m.mtime_nsec(),
        m.size() as i64,
    ]
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
