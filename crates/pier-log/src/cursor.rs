//! The forward reading engine shared by [`LogReader`](crate::LogReader) and
//! [`Follower`](crate::Follower): a queue of older files, then the live file;
//! lines are cut from one reusable buffer and decoded in place.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::files::{self, FileId};
use crate::reader::{EntryRef, LogEntry, ReadOptions};
use crate::record::{self, LogText};
use crate::{LogError, Stream};

const READ_SIZE: usize = 256 * 1024;
/// A "line" longer than this is not a record of ours; it is skipped.
const MAX_LINE: usize = 64 * 1024 * 1024;

/// A file (or part of one) to read before the live file.
pub(crate) enum Source {
    Plain {
        file: File,
        path: PathBuf,
        pos: u64,
        end: u64,
    },
    Memory {
        data: Vec<u8>,
        pos: usize,
    },
    Gz {
        dec: Box<flate2::read::GzDecoder<File>>,
        path: PathBuf,
    },
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Plain { path, pos, end, .. } => write!(f, "Plain({}, {pos}..{end})", path.display()),
            Source::Memory { data, pos } => write!(f, "Memory({pos}..{})", data.len()),
            Source::Gz { path, .. } => write!(f, "Gz({})", path.display()),
        }
    }
}

impl Source {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, LogError> {
        match self {
            Source::Plain { file, path, pos, end } => {
                let want = buf.len().min((*end - *pos) as usize);
                let n = read_at_retry(file, &mut buf[..want], *pos).map_err(|source| LogError::Read {
                    path: path.clone(),
                    source,
                })?;
                *pos += n as u64;
                Ok(n)
            }
            Source::Memory { data, pos } => {
                let n = buf.len().min(data.len() - *pos);
                buf[..n].copy_from_slice(&data[*pos..*pos + n]);
                *pos += n;
                Ok(n)
            }
            Source::Gz { dec, path } => loop {
                match dec.read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(source) => {
                        // A truncated or corrupt gzip file ends here.
                        tracing::warn!(error = %source, path = %path.display(), "read compressed log");
                        return Ok(0);
                    }
                }
            },
        }
    }
}

fn read_at_retry(file: &File, buf: &mut [u8], off: u64) -> io::Result<usize> {
    loop {
        match file.read_at(buf, off) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

/// The live file and how far it has been read into the buffer.
#[derive(Debug)]
pub(crate) struct Live {
    pub file: File,
    pub id: FileId,
    /// Next byte of the file to read.
    pub pos: u64,
}

/// Where the bytes of the current entry are.
#[derive(Debug, Clone, Copy)]
enum Loc {
    Buf(usize, usize),
    Scratch,
}

#[derive(Debug)]
pub(crate) struct Cursor {
    path: PathBuf,
    opts: ReadOptions,
    queue: VecDeque<Source>,
    live: Option<Live>,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Skipping the rest of an overlong line.
    skipping: bool,
    scratch: Vec<u8>,
    /// The current entry's attrs when they are not in `buf`.
    attrs_scratch: Vec<u8>,
    cur: (Stream, i64, bool, Loc),
    cur_attrs: Loc,
    /// `until` has passed: nothing more will be returned.
    done: bool,
    /// The live file was seen replaced by a rotation; drain it, then switch.
    rotated: bool,
}

impl Cursor {
    pub(crate) fn new(path: PathBuf, opts: ReadOptions, queue: VecDeque<Source>, live: Option<Live>) -> Cursor {
        Cursor {
            path,
            opts,
            queue,
            live,
            buf: vec![0; READ_SIZE],
            start: 0,
            end: 0,
            skipping: false,
            scratch: Vec::new(),
            attrs_scratch: Vec::new(),
            cur: (Stream::Stdout, 0, false, Loc::Scratch),
            cur_attrs: Loc::Scratch,
            done: false,
            rotated: false,
        }
    }

    /// Offset in the live file just past the last line consumed.
    pub(crate) fn live_offset(&self) -> u64 {
        match (&self.live, self.queue.is_empty()) {
            (Some(live), true) => live.pos - (self.end - self.start) as u64,
            (Some(live), false) => live.pos,
            (None, _) => 0,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// The next entry that passes the filters. At the end of the live file
    /// `None`; with `follow`, a rotation is detected and crossed first.
    pub(crate) fn next(&mut self, follow: bool) -> Result<Option<EntryRef<'_>>, LogError> {
        loop {
            if self.done {
                return Ok(None);
            }
            if let Some(nl) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                let (s, e) = (self.start, self.start + nl);
                self.start = e + 1;
                if self.skipping {
                    self.skipping = false;
                    continue;
                }
                if self.accept(s, e) {
                    break;
                }
                continue;
            }
            if self.fill()? {
                continue;
            }
            if !follow || !self.cross_rotation()? {
                return Ok(None);
            }
        }
        let (stream, time, partial, loc) = self.cur;
        let line = match loc {
            Loc::Buf(s, e) => &self.buf[s..e],
            Loc::Scratch => &self.scratch[..],
        };
        let attrs = match self.cur_attrs {
            Loc::Buf(s, e) => &self.buf[s..e],
            Loc::Scratch => &self.attrs_scratch[..],
        };
        Ok(Some(EntryRef {
            stream,
            time,
            line,
            attrs,
            partial,
        }))
    }

    /// Owned entries up to about `max_bytes` (at least one if any is ready).
    pub(crate) fn collect(&mut self, follow: bool, max_bytes: usize) -> Result<Vec<LogEntry>, LogError> {
        let mut out = Vec::new();
        let mut bytes = 0;
        while bytes < max_bytes.max(1) {
            match self.next(follow)? {
                Some(e) => {
                    bytes += e.line.len() + 64;
                    out.push(e.to_entry());
                }
                None => break,
            }
        }
        Ok(out)
    }

    /// Shrink the buffers to the unconsumed bytes (see `Follower::trim`).
    pub(crate) fn trim(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        self.buf.truncate(self.end);
        self.buf.shrink_to_fit();
        self.scratch = Vec::new();
        self.attrs_scratch = Vec::new();
        self.cur_attrs = Loc::Scratch;
        self.cur.3 = Loc::Scratch;
    }

    /// Decodes and filters the line `buf[s..e]`; true if it is the next entry.
    fn accept(&mut self, s: usize, e: usize) -> bool {
        let Some(rec) = record::decode(&self.buf[s..e]) else {
            if e > s {
                tracing::debug!(path = %self.path.display(), "skip undecodable log line");
            }
            return false;
        };
        let selected = match rec.stream {
            Stream::Stdout => self.opts.stdout,
            Stream::Stderr => self.opts.stderr,
        };
        if self.opts.until.is_some_and(|u| rec.time > u) {
            self.done = true;
            return false;
        }
        if !selected || self.opts.since.is_some_and(|t| rec.time < t) {
            return false;
        }
        let loc = match &rec.log {
            LogText::Raw { body, escaped: false } => {
                let off = body.as_ptr() as usize - self.buf.as_ptr() as usize;
                Loc::Buf(off, off + body.len())
            }
            // The implied newline is the one ending the line in `buf`.
            LogText::Cri { body, full } => {
                let off = body.as_ptr() as usize - self.buf.as_ptr() as usize;
                Loc::Buf(off, off + body.len() + usize::from(*full))
            }
            text => {
                let mut scratch = std::mem::take(&mut self.scratch);
                let ok = text.decode(&mut scratch).map(|d| d.len());
                if let (Some(_), LogText::Owned(v)) = (ok, text) {
                    scratch.clear();
                    scratch.extend_from_slice(v);
                }
                self.scratch = scratch;
                if ok.is_none() {
                    return false;
                }
                Loc::Scratch
            }
        };
        let partial = !rec.log.ends_with_newline();
        self.cur_attrs = match &rec.attrs {
            std::borrow::Cow::Borrowed(a) if !a.is_empty() => {
                let off = a.as_ptr() as usize - self.buf.as_ptr() as usize;
                Loc::Buf(off, off + a.len())
            }
            a => {
                self.attrs_scratch.clear();
                self.attrs_scratch.extend_from_slice(a);
                Loc::Scratch
            }
        };
        self.cur = (rec.stream, rec.time, partial, loc);
        true
    }

    /// Reads more bytes from the current source. False at its end (the live
    /// file's end keeps an unterminated line buffered; another source's end
    /// drops it as torn and moves on).
    fn fill(&mut self) -> Result<bool, LogError> {
        if self.buf.len() < READ_SIZE {
            // Trimmed while idle.
            self.buf.resize(READ_SIZE, 0);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= MAX_LINE {
                self.skipping = true;
                self.end = 0;
            } else {
                let len = self.buf.len() * 2;
                self.buf.resize(len, 0);
            }
        }
        let dst = &mut self.buf[self.end..];
        if let Some(src) = self.queue.front_mut() {
            let n = src.read(dst)?;
            if n == 0 {
                self.queue.pop_front();
                self.start = 0;
                self.end = 0;
                self.skipping = false;
                return Ok(true);
            }
            self.end += n;
            return Ok(true);
        }
        let Some(live) = self.live.as_mut() else {
            return Ok(false);
        };
        let n = read_at_retry(&live.file, dst, live.pos).map_err(|source| LogError::Read {
            path: self.path.clone(),
            source,
        })?;
        live.pos += n as u64;
        self.end += n;
        Ok(n > 0)
    }

    /// At the end of the live file while following: if the log was rotated,
    /// queue the files rotated since and switch to the new live file. True
    /// when there is more to read now.
    fn cross_rotation(&mut self) -> Result<bool, LogError> {
        let Some(live) = &self.live else {
            return self.open_new_live(None);
        };
        let path_id = match FileId::of_path(&self.path) {
            Ok(id) => id,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(source) => {
                return Err(LogError::Read {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        if path_id == live.id {
            return Ok(false);
        }
        if !self.rotated {
            // The writer finished the old file before renaming it: read it
            // to its end once more before switching.
            self.rotated = true;
            return Ok(true);
        }
        let old = live.id;
        self.open_new_live(Some(old))
    }

    fn open_new_live(&mut self, old: Option<FileId>) -> Result<bool, LogError> {
        let Some((live, rotated)) = open_consistent(&self.path)? else {
            return Ok(false);
        };
        if let Some(old) = old {
            match rotated.iter().position(|r| r.id == Some(old)) {
                Some(k) => {
                    for r in rotated.into_iter().take(k).rev() {
                        self.queue.push_back(source_of(r)?);
                    }
                }
                None if !rotated.is_empty() => tracing::warn!(
                    path = %self.path.display(),
                    "log rotated past a file not yet read: lines may be missing"
                ),
                None => {}
            }
        }
        self.start = 0;
        self.end = 0;
        self.skipping = false;
        self.rotated = false;
        self.live = Some(live);
        Ok(true)
    }
}

/// Opens the live file and the rotated ones such that no rotation happened
/// in between (retrying a few times). `None` when there is no live file.
pub(crate) fn open_consistent(path: &Path) -> Result<Option<(Live, Vec<files::Rotated>)>, LogError> {
    let mut last = None;
    for _ in 0..8 {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(LogError::Open {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let id = FileId::of(&file).map_err(|source| LogError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let rotated = files::open_rotated(path)?;
        let stable = FileId::of_path(path).is_ok_and(|now| now == id) && rotated.iter().all(|r| r.id != Some(id));
        let live = Live { file, id, pos: 0 };
        if stable {
            return Ok(Some((live, rotated)));
        }
        last = Some((live, rotated));
    }
    Ok(last)
}

/// A streamed gzip source decompressed into memory, for random access
/// (other sources are returned as they are).
pub(crate) fn into_memory(src: Source) -> Source {
    let Source::Gz { mut dec, path } = src else {
        return src;
    };
    let mut data = Vec::new();
    if let Err(e) = dec.read_to_end(&mut data) {
        tracing::warn!(error = %e, path = %path.display(), "read compressed log");
    }
    Source::Memory { data, pos: 0 }
}

/// A rotated file as a source read from its start (gzip streamed).
pub(crate) fn source_of(r: files::Rotated) -> Result<Source, LogError> {
    if !r.gz {
        let end = r
            .file
            .metadata()
            .map_err(|source| LogError::Read {
                path: r.path.clone(),
                source,
            })?
            .len();
        return Ok(Source::Plain {
            file: r.file,
            path: r.path,
            pos: 0,
            end,
        });
    }
    Ok(Source::Gz {
        dec: Box::new(flate2::read::GzDecoder::new(r.file)),
        path: r.path,
    })
}
