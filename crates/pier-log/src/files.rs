//! The files of one log: names, rotation, compression, and how readers tell
//! a rotated file's origin (its identity) after it was renamed or gzipped.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::writer::WriterConfig;
use crate::{record, LogError};

/// Which file a log file started out as: the live file's device, inode and
/// birth time. Kept across renames; a gzipped copy carries it in its header
/// comment. The birth time tells apart files that reuse a freed inode number
/// (a rotated file is deleted once gzipped, and the next live file often
/// gets its inode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    pub dev: u64,
    pub ino: u64,
    /// Nanoseconds since the epoch; 0 where the filesystem has no birth time.
    pub birth: i64,
}

impl FileId {
    fn of_metadata(m: &std::fs::Metadata) -> FileId {
        let birth = m
            .created()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_nanos()).ok())
            .unwrap_or(0);
        FileId {
            dev: m.dev(),
            ino: m.ino(),
            birth,
        }
    }

    pub(crate) fn of(file: &File) -> io::Result<FileId> {
        Ok(FileId::of_metadata(&file.metadata()?))
    }

    pub(crate) fn of_path(path: &Path) -> io::Result<FileId> {
        Ok(FileId::of_metadata(&std::fs::metadata(path)?))
    }
}

/// `<path>.<n>`, or `<path>.<n>.gz`.
pub(crate) fn rotated_path(path: &Path, n: u32, gz: bool) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    if gz {
        s.push(".gz");
    }
    PathBuf::from(s)
}

/// An opened rotated file.
#[derive(Debug)]
pub(crate) struct Rotated {
    pub path: PathBuf,
    pub file: File,
    pub gz: bool,
    /// Where it came from; `None` for a gzip file without our header.
    pub id: Option<FileId>,
    /// Time of its last record, when the gzip header recorded it.
    pub last_time: Option<i64>,
}

/// Opens the rotated files, newest (`.1`) first, up to the first number that
/// has neither a plain nor a gzip file. A plain file is preferred over its
/// gzip twin (which exists briefly while compressing).
///
/// A rotation shifts `.N` to `.N+1` from the oldest down, so while one is in
/// progress a number in the middle is briefly missing; a scan that finds a
/// file above its first gap saw such a moment and is done again.
pub(crate) fn open_rotated(path: &Path) -> Result<Vec<Rotated>, LogError> {
    for _ in 0..1000 {
        let (files, next) = scan_rotated(path)?;
        let gap = [false, true]
            .iter()
            .any(|&gz| rotated_path(path, next + 1, gz).exists());
        if !gap {
            return Ok(files);
        }
        std::thread::yield_now();
    }
    Ok(scan_rotated(path)?.0)
}

/// One scan: the files from `.1` up, and the first number not found.
fn scan_rotated(path: &Path) -> Result<(Vec<Rotated>, u32), LogError> {
    let mut out = Vec::new();
    let mut next = 1;
    for n in 1..10_000 {
        next = n;
        let plain = rotated_path(path, n, false);
        match File::open(&plain) {
            Ok(file) => {
                let id = FileId::of(&file).ok();
                out.push(Rotated {
                    path: plain,
                    file,
                    gz: false,
                    id,
                    last_time: None,
                });
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(LogError::Open { path: plain, source }),
        }
        let gz = rotated_path(path, n, true);
        match File::open(&gz) {
            Ok(file) => {
                let (id, last_time) = gzip_comment(&file).unwrap_or((None, None));
                out.push(Rotated {
                    path: gz,
                    file,
                    gz: true,
                    id,
                    last_time,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => break,
            Err(source) => return Err(LogError::Open { path: gz, source }),
        }
    }
    Ok((out, next))
}

/// Whether the last byte of `file` (of length `len`) is a newline.
pub(crate) fn ends_with_newline(file: &File, len: u64) -> bool {
    let mut b = [0u8; 1];
    matches!(file.read_at(&mut b, len - 1), Ok(1) if b[0] == b'\n')
}

/// Time of the last complete record of a plain file of length `len`.
pub(crate) fn last_time(file: &File, len: u64) -> Option<i64> {
    let mut block = vec![0u8; 64 * 1024];
    let start = len.saturating_sub(block.len() as u64);
    let n = file.read_at(&mut block[..(len - start) as usize], start).ok()?;
    let block = &block[..n];
    let mut end = block.len();
    while let Some(nl) = memchr::memrchr(b'\n', &block[..end]) {
        if let Some(t) = record::time_at_line_end(block, nl) {
            return Some(t);
        }
        end = nl;
    }
    None
}

/// Shifts `<path>.N` up by one (dropping the oldest beyond `max_file`) and
/// renames the live file to `<path>.1`. The caller then creates a new live
/// file and, when configured, compresses `<path>.1`.
pub(crate) fn rotate(cfg: &WriterConfig) -> Result<(), LogError> {
    let path = &cfg.path;
    if cfg.max_file <= 1 {
        return std::fs::remove_file(path).map_err(|source| LogError::Rotate {
            from: path.clone(),
            to: path.clone(),
            source,
        });
    }
    for gz in [false, true] {
        let oldest = rotated_path(path, cfg.max_file - 1, gz);
        match std::fs::remove_file(&oldest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(LogError::Rotate {
                    from: oldest.clone(),
                    to: oldest,
                    source,
                })
            }
        }
    }
    for n in (1..cfg.max_file - 1).rev() {
        for gz in [false, true] {
            let from = rotated_path(path, n, gz);
            let to = rotated_path(path, n + 1, gz);
            match std::fs::rename(&from, &to) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(LogError::Rotate { from, to, source }),
            }
        }
    }
    let first = rotated_path(path, 1, false);
    std::fs::rename(path, &first).map_err(|source| LogError::Rotate {
        from: path.clone(),
        to: first.clone(),
        source,
    })?;
    Ok(())
}

/// The identity and last record time from our gzip header comment.
pub(crate) fn gzip_comment(file: &File) -> Option<(Option<FileId>, Option<i64>)> {
    let mut h = [0u8; 512];
    let n = file.read_at(&mut h, 0).ok()?;
    let h = &h[..n];
    if h.len() < 10 || h[0] != 0x1f || h[1] != 0x8b {
        return None;
    }
    let flags = h[3];
    let mut i = 10;
    if flags & 0x04 != 0 {
        let xlen = u16::from_le_bytes([*h.get(i)?, *h.get(i + 1)?]) as usize;
        i += 2 + xlen;
    }
    if flags & 0x08 != 0 {
        i += memchr::memchr(0, h.get(i..)?)? + 1;
    }
    if flags & 0x10 == 0 {
        return Some((None, None));
    }
    let rest = h.get(i..)?;
    let comment = std::str::from_utf8(&rest[..memchr::memchr(0, rest)?]).ok()?;
    let mut fields = comment.strip_prefix("pier-log ")?.split(' ');
    let mut dev = None;
    let mut ino = None;
    let mut last = None;
    let mut birth = 0;
    for f in fields.by_ref() {
        match f.split_once('=') {
            Some(("birth", v)) => birth = v.parse().unwrap_or(0),
            Some(("dev", v)) => dev = v.parse().ok(),
            Some(("ino", v)) => ino = v.parse().ok(),
            Some(("last", v)) => last = v.parse().ok(),
            _ => {}
        }
    }
    let id = match (dev, ino) {
        (Some(dev), Some(ino)) => Some(FileId { dev, ino, birth }),
        _ => None,
    };
    Some((id, last))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            rotated_path(Path::new("/x/a-json.log"), 3, true),
            PathBuf::from("/x/a-json.log.3.gz")
        );
    }
}
