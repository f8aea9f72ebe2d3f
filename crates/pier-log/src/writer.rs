//! The json-file writer `pier-shim` drives: splits output into lines,
//! encodes records into one reusable buffer, writes them with one `write`
//! per call, rotates by size.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use crate::compress::Compression;
use crate::files;
use crate::record::{self, LogFormat};
use crate::{LogError, Stream};

/// Longest `log` payload of one record, as docker's 16 KiB copy buffer: a
/// longer line is split into partial records (no trailing newline) of at
/// most this many bytes.
pub const MAX_RECORD_LEN: usize = 16 * 1024;

/// Buffered records are written out once they reach this size.
const FLUSH_AT: usize = 256 * 1024;

/// Bytes of a rotated file compressed per `write` call (a few ms at most).
const COMPRESS_STEP: usize = 256 * 1024;

/// Where and how to write one container's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterConfig {
    /// The live file, `<data-root>/containers/<id>/<id>-json.log`.
    pub path: PathBuf,
    /// Rotate once the live file reaches this many bytes; `None`: never.
    pub max_size: Option<u64>,
    /// Files kept, the live one included (docker's `max-file`); 0 and 1 both
    /// mean the live file alone (it is started afresh on rotation).
    pub max_file: u32,
    /// Gzip rotated files (`<path>.N.gz`); the newest rotated file too.
    pub compress: bool,
}

/// Appends a container's output to its json-file log.
///
/// Every call writes what it encoded before returning (no records are held
/// back), so a reader sees a line as soon as `write` returns. A failed write
/// (disk full) drops that call's records, counts them, and leaves the writer
/// usable: the next successful write first records one marker line on
/// stderr saying how many bytes were lost.
///
/// With `compress`, the rotated file is gzipped a slice (256 KiB) per
/// `write` call, so no call stalls for a whole file; an idle caller can push
/// it along with [`do_pending_work`](Self::do_pending_work). A rotation that
/// finds the previous compression unfinished completes it first.
#[derive(Debug)]
pub struct JsonFileWriter {
    cfg: WriterConfig,
    file: File,
    /// Bytes in the live file.
    size: u64,
    /// Encoded records not yet written.
    buf: Vec<u8>,
    /// Unterminated line per stream (index: `Stream as usize`).
    pending: [Vec<u8>; 2],
    /// Encoded bytes lost to write errors, not yet reported in the log.
    dropped: u64,
    /// A failed write may have left half a record at the end of the file.
    torn: bool,
    /// `now` of the last call and its formatted form.
    ts_nanos: i64,
    ts: [u8; 40],
    ts_len: usize,
    /// The newest rotated file, being gzipped a slice per call.
    compression: Option<Compression>,
    /// The encoded `attrs` member put in every record (empty: none).
    attrs: Vec<u8>,
    format: LogFormat,
    /// The first error of the current call, returned when it ends (the call
    /// carries on: later records may still be written).
    error: Option<LogError>,
}

impl JsonFileWriter {
    /// Opens (creating, mode 0640) the live file for appending. A torn last
    /// record left by a crash is terminated so it stays one skippable line.
    pub fn open(cfg: WriterConfig) -> Result<Self, LogError> {
        let file = open_append(&cfg.path)?;
        let size = file
            .metadata()
            .map_err(|source| LogError::Open {
                path: cfg.path.clone(),
                source,
            })?
            .len();
        let torn = size > 0 && !files::ends_with_newline(&file, size);
        let mut w = JsonFileWriter {
            cfg,
            file,
            size,
            buf: Vec::with_capacity(FLUSH_AT + 2 * MAX_RECORD_LEN),
            pending: [Vec::new(), Vec::new()],
            dropped: 0,
            torn,
            ts_nanos: i64::MIN,
            ts: [0; 40],
            ts_len: 0,
            compression: None,
            attrs: Vec::new(),
            format: LogFormat::JsonFile,
            error: None,
        };
        if torn {
            w.buf.push(b'\n');
            w.torn = false;
            w.write_buf();
            w.take_error()?;
        }
        Ok(w)
    }

    /// Attributes stored in every record from now on (docker's `attrs`, from
    /// `--log-opt labels=/env=`), shown by `logs --details`.
    pub fn set_attrs(&mut self, attrs: &[(String, String)]) {
        self.attrs = record::encode_attrs(attrs);
    }

    /// Writes records in `format` from now on (json-file by default);
    /// readers tell the formats apart line by line. CRI lines carry no attrs.
    pub fn set_format(&mut self, format: LogFormat) {
        self.format = format;
    }

    /// The configuration this writer was opened with.
    pub fn config(&self) -> &WriterConfig {
        &self.cfg
    }

    /// Bytes in the live file: where the next record will start (records
    /// are written before [`write`](Self::write) returns). A reader that
    /// continues from here (`Follower::from_offset`) sees exactly what is
    /// logged from now on.
    pub fn live_offset(&self) -> u64 {
        self.size + self.buf.len() as u64
    }

    /// The unterminated last line of `stream`: bytes taken by
    /// [`write`](Self::write) but not yet in any record.
    pub fn pending(&self, stream: Stream) -> &[u8] {
        &self.pending[stream as usize]
    }

    /// Encoded bytes lost to write errors and not yet reported by a marker.
    pub fn dropped_bytes(&self) -> u64 {
        self.dropped
    }

    /// Logs `data` read from the container's `stream` at `now_unix_nanos`:
    /// one record per `\n`-terminated line; the unterminated rest waits for
    /// the next call (or [`flush_partial`](Self::flush_partial)), except that
    /// more than [`MAX_RECORD_LEN`] bytes without a newline are written as
    /// partial records at once.
    pub fn write(&mut self, stream: Stream, data: &[u8], now_unix_nanos: i64) -> Result<(), LogError> {
        self.set_time(now_unix_nanos);
        let idx = stream as usize;
        let mut rest = data;
        if !self.pending[idx].is_empty() {
            match memchr::memchr(b'\n', rest) {
                Some(nl) => {
                    let mut line = std::mem::take(&mut self.pending[idx]);
                    line.extend_from_slice(&rest[..=nl]);
                    self.emit_line(stream, &line);
                    line.clear();
                    self.pending[idx] = line;
                    rest = &rest[nl + 1..];
                }
                None => {
                    self.pending[idx].extend_from_slice(rest);
                    rest = &[];
                }
            }
        }
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            self.emit_line(stream, &rest[..=nl]);
            rest = &rest[nl + 1..];
        }
        if !rest.is_empty() {
            self.pending[idx].extend_from_slice(rest);
        }
        if self.pending[idx].len() > MAX_RECORD_LEN {
            let mut p = std::mem::take(&mut self.pending[idx]);
            let mut start = 0;
            while p.len() - start > MAX_RECORD_LEN {
                let cut = char_boundary(&p[start..], MAX_RECORD_LEN);
                self.emit(stream, &p[start..start + cut]);
                start += cut;
            }
            p.drain(..start);
            self.pending[idx] = p;
        }
        self.write_buf();
        self.compress_step(COMPRESS_STEP);
        self.take_error()
    }

    /// Writes each stream's unterminated line as a final partial record (at
    /// container exit, as docker does).
    pub fn flush_partial(&mut self, now_unix_nanos: i64) -> Result<(), LogError> {
        self.set_time(now_unix_nanos);
        for stream in [Stream::Stdout, Stream::Stderr] {
            let p = std::mem::take(&mut self.pending[stream as usize]);
            if !p.is_empty() {
                self.emit_line(stream, &p);
            }
        }
        self.write_buf();
        self.take_error()
    }

    /// Whether a rotated file is still being compressed.
    pub fn has_pending_work(&self) -> bool {
        self.compression.is_some()
    }

    /// Compresses another slice of the rotated file, if one is pending (for
    /// an idle event loop); true while more remains.
    pub fn do_pending_work(&mut self) -> bool {
        self.compress_step(COMPRESS_STEP);
        self.compression.is_some()
    }

    /// Finishes a pending compression (at container exit; otherwise the
    /// rotated file just stays uncompressed, which readers handle too).
    pub fn finish_pending_work(&mut self) {
        self.compress_step(usize::MAX);
    }

    fn compress_step(&mut self, budget: usize) {
        let Some(c) = self.compression.as_mut() else {
            return;
        };
        match c.step(budget) {
            Ok(false) => {}
            Ok(true) => self.compression = None,
            Err(e) => {
                // The plain file stays; readers read it just as well.
                tracing::warn!(error = %e, "compress rotated log");
                self.compression = None;
            }
        }
    }

    /// Writes anything still buffered and retries a pending drop marker.
    /// Unterminated lines stay pending.
    pub fn flush(&mut self) -> Result<(), LogError> {
        self.write_buf();
        self.take_error()
    }

    fn take_error(&mut self) -> Result<(), LogError> {
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn set_time(&mut self, now: i64) {
        if now != self.ts_nanos || self.ts_len == 0 {
            self.ts_len = pier_time::format_fixed_into(now, &mut self.ts);
            self.ts_nanos = now;
        }
    }

    /// Emits one line (with or without its newline), split into records of
    /// at most [`MAX_RECORD_LEN`] payload bytes plus the newline.
    fn emit_line(&mut self, stream: Stream, mut line: &[u8]) {
        let mut body_left = line.len() - usize::from(line.ends_with(b"\n"));
        while body_left > MAX_RECORD_LEN {
            let cut = char_boundary(line, MAX_RECORD_LEN);
            self.emit(stream, &line[..cut]);
            line = &line[cut..];
            body_left -= cut;
        }
        self.emit(stream, line);
    }

    fn emit(&mut self, stream: Stream, payload: &[u8]) {
        if let Some(max) = self.cfg.max_size {
            let size = self.size + self.buf.len() as u64;
            if size >= max && size > 0 {
                self.write_buf();
                if let Err(e) = self.rotate() {
                    self.error.get_or_insert(e);
                }
            }
        }
        match self.format {
            LogFormat::JsonFile => record::encode(&mut self.buf, stream, payload, &self.attrs, &self.ts[..self.ts_len]),
            LogFormat::Cri => record::encode_cri(&mut self.buf, stream, payload, &self.ts[..self.ts_len]),
        }
        if self.buf.len() >= FLUSH_AT {
            self.write_buf();
        }
    }

    /// The record saying how many bytes were lost (and a newline ending a
    /// torn record first), to put before the next records written.
    fn drop_marker(&self) -> Vec<u8> {
        let mut m = Vec::new();
        if self.torn {
            m.push(b'\n');
        }
        let msg = format!(
            "pier: log write failed, {} bytes of log records were dropped\n",
            self.dropped
        );
        match self.format {
            LogFormat::JsonFile => record::encode(
                &mut m,
                Stream::Stderr,
                msg.as_bytes(),
                &self.attrs,
                &self.ts[..self.ts_len],
            ),
            LogFormat::Cri => record::encode_cri(&mut m, Stream::Stderr, msg.as_bytes(), &self.ts[..self.ts_len]),
        }
        m
    }

    /// Writes the buffer out. On failure its records are dropped and
    /// counted, and the error kept for the end of the call.
    fn write_buf(&mut self) {
        let marker_len = if self.dropped > 0 && self.ts_len > 0 {
            let m = self.drop_marker();
            self.buf.splice(0..0, m.iter().copied());
            m.len()
        } else {
            0
        };
        if self.buf.is_empty() {
            return;
        }
        let mut written = 0;
        let result = loop {
            if written == self.buf.len() {
                break Ok(());
            }
            match self.file.write(&self.buf[written..]) {
                Ok(0) => break Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.size += written as u64;
        let unwritten = self.buf.len() - written;
        self.buf.clear();
        match result {
            Ok(()) => {
                self.dropped = 0;
                self.torn = false;
            }
            Err(source) => {
                // The marker itself is not counted as lost log output.
                self.dropped += unwritten.saturating_sub(marker_len.saturating_sub(written)) as u64;
                self.torn |= written > 0;
                self.error.get_or_insert(LogError::Write {
                    path: self.cfg.path.clone(),
                    source,
                });
            }
        }
    }

    /// Write what is buffered, then open the live file again by its path
    /// (creating it): someone else (kubelet) renamed it away to rotate it
    /// and wants the next records in a new file. Rotation counters follow
    /// the new file's size.
    pub fn reopen(&mut self) -> Result<(), LogError> {
        self.write_buf();
        self.take_error()?;
        let file = open_append(&self.cfg.path)?;
        self.size = file
            .metadata()
            .map_err(|source| LogError::Open {
                path: self.cfg.path.clone(),
                source,
            })?
            .len();
        self.file = file;
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), LogError> {
        if let Some(c) = self.compression.take() {
            if let Err(e) = c.finish() {
                tracing::warn!(error = %e, "compress rotated log");
            }
        }
        files::rotate(&self.cfg)?;
        self.file = open_append(&self.cfg.path)?;
        self.size = 0;
        if self.cfg.compress && self.cfg.max_file > 1 {
            match Compression::start(&files::rotated_path(&self.cfg.path, 1, false)) {
                Ok(c) => self.compression = Some(c),
                Err(e) => tracing::warn!(error = %e, "compress rotated log"),
            }
        }
        Ok(())
    }
}

fn open_append(path: &std::path::Path) -> Result<File, LogError> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
        .map_err(|source| LogError::Open {
            path: path.to_path_buf(),
            source,
        })
}

/// A cut point at most `max` into `s` that does not split a UTF-8 sequence
/// (backs off at most 3 bytes; invalid input is cut anywhere).
fn char_boundary(s: &[u8], max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    for back in 0..4 {
        let i = max - back;
        if s[i] & 0xc0 != 0x80 {
            return i;
        }
    }
    max
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::char_boundary;

    #[test]
    fn cuts_at_char_boundaries() {
        assert_eq!(char_boundary(b"abcdef", 3), 3);
        assert_eq!(char_boundary("ab€".as_bytes(), 3), 2);
        assert_eq!(char_boundary("ab€".as_bytes(), 4), 2);
        assert_eq!(char_boundary("ab€x".as_bytes(), 5), 5);
        assert_eq!(char_boundary(b"\x80\x80\x80\x80\x80\x80", 5), 5);
    }
}
