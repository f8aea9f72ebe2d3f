//! Archive builders and store helpers shared by the tests.

use std::path::{Path, PathBuf};

use pier_image::{ImageStore, Reference};
use tar::{EntryType, Header};

/// Root, for device nodes, whiteouts and chown; fails the test otherwise.
pub use pier_testkit::require::root as require_root;

/// A temp dir holding a store at `<tmp>/image`; removed on drop.
pub struct TestStore {
    pub tmp: tempfile::TempDir,
    pub store: ImageStore,
}

impl TestStore {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = ImageStore::open(&tmp.path().join("image")).expect("open store");
        TestStore { tmp, store }
    }

    pub fn root(&self) -> PathBuf {
        self.tmp.path().join("image")
    }

    pub fn reopen(&self) -> ImageStore {
        ImageStore::open(&self.root()).expect("reopen store")
    }

    /// Names under `image/<sub>`.
    pub fn names(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.root().join(sub))
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Asserts a failed import left nothing: no temp dirs, layers or images.
    pub fn assert_empty(&self) {
        assert_eq!(self.names("tmp"), Vec::<String>::new(), "tmp/");
        assert_eq!(self.names("layers"), Vec::<String>::new(), "layers/");
        assert_eq!(self.names("images"), Vec::<String>::new(), "images/");
        assert!(self.store.list().expect("list").is_empty());
    }
}

pub fn r(s: &str) -> Reference {
    Reference::parse(s).expect("reference")
}

/// Builds archives entry by entry with raw names, so hostile names (`..`,
/// absolute paths) that `tar::Builder` refuses can be written.
pub struct Archive {
    b: tar::Builder<Vec<u8>>,
}

pub struct Entry<'a> {
    pub name: &'a [u8],
    pub kind: EntryType,
    pub link: &'a [u8],
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub data: &'a [u8],
    pub dev: (u32, u32),
}

impl Default for Entry<'_> {
    fn default() -> Self {
        Entry {
            name: b"",
            kind: EntryType::Regular,
            link: b"",
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 1_600_000_000,
            data: b"",
            dev: (0, 0),
        }
    }
}

impl Archive {
    pub fn new() -> Self {
        Archive {
            b: tar::Builder::new(Vec::new()),
        }
    }

    pub fn raw(mut self, e: Entry<'_>) -> Self {
        let mut h = Header::new_ustar();
        h.as_old_mut().name[..e.name.len()].copy_from_slice(e.name);
        h.as_old_mut().linkname[..e.link.len()].copy_from_slice(e.link);
        h.set_entry_type(e.kind);
        h.set_mode(e.mode);
        h.set_uid(e.uid);
        h.set_gid(e.gid);
        h.set_mtime(e.mtime);
        h.set_size(e.data.len() as u64);
        if matches!(e.kind, EntryType::Char | EntryType::Block) {
            h.set_device_major(e.dev.0).expect("major");
            h.set_device_minor(e.dev.1).expect("minor");
        }
        h.set_cksum();
        self.b.append(&h, e.data).expect("append");
        self
    }

    pub fn dir(self, name: &str) -> Self {
        self.raw(Entry {
            name: name.as_bytes(),
            kind: EntryType::Directory,
            mode: 0o755,
            ..Default::default()
        })
    }

    pub fn file(self, name: &str, data: &[u8]) -> Self {
        self.raw(Entry {
            name: name.as_bytes(),
            data,
            ..Default::default()
        })
    }

    pub fn symlink(self, name: &str, target: &str) -> Self {
        self.raw(Entry {
            name: name.as_bytes(),
            kind: EntryType::Symlink,
            link: target.as_bytes(),
            mode: 0o777,
            ..Default::default()
        })
    }

    pub fn hardlink(self, name: &str, target: &str) -> Self {
        self.raw(Entry {
            name: name.as_bytes(),
            kind: EntryType::Link,
            link: target.as_bytes(),
            ..Default::default()
        })
    }

    /// A pax extended header applying to the next entry.
    pub fn pax(self, records: &[(&str, &[u8])]) -> Self {
        let mut data = Vec::new();
        for (k, v) in records {
            let body_len = k.len() + v.len() + 3; // ' ', '=', '\n'
            let mut len = body_len + 1;
            while len != body_len + len.to_string().len() {
                len = body_len + len.to_string().len();
            }
            data.extend_from_slice(format!("{len} {k}=").as_bytes());
            data.extend_from_slice(v);
            data.push(b'\n');
        }
        let data = data.clone();
        self.raw(Entry {
            name: b"PaxHeaders/x",
            kind: EntryType::XHeader,
            data: &data,
            ..Default::default()
        })
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().expect("finish")
    }
}

/// The busybox rootfs tar every Pier test image starts from.
pub fn busybox_rootfs() -> Vec<u8> {
    pier_testkit::rootfs::tar_bytes().to_vec()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip")
}

pub fn exists_nofollow(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}
