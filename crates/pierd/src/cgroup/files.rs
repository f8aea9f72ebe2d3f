//! The files a reader samples, opened once and read again from offset 0
//! each time (cgroup and `/proc` files regenerate their text on every read
//! from the start), so a sample costs a `pread` per file rather than a
//! path walk, an open and a close. A file that is missing stays missing
//! (no retry per sample): a cgroup's set of files does not change.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub struct OpenFiles {
    files: HashMap<PathBuf, Option<File>>,
    buf: Vec<u8>,
}

impl OpenFiles {
    pub fn new() -> Self {
        OpenFiles::default()
    }

    fn file(&mut self, path: &Path) -> Option<&File> {
        if !self.files.contains_key(path) {
            self.files.insert(path.to_path_buf(), File::open(path).ok());
        }
        self.files.get(path).and_then(Option::as_ref)
    }

    /// Whether `path` could be opened.
    pub fn exists(&mut self, path: &Path) -> bool {
        self.file(path).is_some()
    }

    /// The whole text of `path` as it reads now; `None` when it cannot be
    /// opened or read.
    pub fn text(&mut self, path: &Path) -> Option<String> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let read = (|| {
            let f = self.file(path)?;
            let mut chunk = [0u8; 4096];
            loop {
                let n = f.read_at(&mut chunk, buf.len() as u64).ok()?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            Some(String::from_utf8_lossy(&buf).into_owned())
        })();
        self.buf = buf;
        read
    }

    /// Number of files held open.
    pub fn open_count(&self) -> usize {
        self.files.values().filter(|f| f.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rereads_from_the_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("f");
        std::fs::write(&p, "one\n").expect("write");
        let mut files = OpenFiles::new();
        assert_eq!(files.text(&p).as_deref(), Some("one\n"));
        std::fs::write(&p, "two two\n").expect("write");
        assert_eq!(files.text(&p).as_deref(), Some("two two\n"));
        assert_eq!(files.open_count(), 1);
        assert_eq!(files.text(&dir.path().join("missing")), None);
        assert!(!files.exists(&dir.path().join("missing")));
        assert_eq!(files.open_count(), 1);
    }

    #[test]
    fn proc_files_regenerate() {
        let mut files = OpenFiles::new();
        let p = Path::new("/proc/self/stat");
        let a = files.text(p).expect("stat");
        let burn: u64 = (0..5_000_000u64).fold(0, |x, i| x.wrapping_add(i * i));
        assert!(burn > 0);
        let b = files.text(p).expect("stat");
        assert!(!a.is_empty() && !b.is_empty());
        let big = files.text(Path::new("/proc/self/mountinfo")).expect("mountinfo");
        assert_eq!(big, std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo"));
    }
}
