//! Container logs in Docker's `json-file` format: the record encoding, a
//! rotating writer for `pier-shim`, and readers for `pierd` (`tail` read
//! backwards, `since`/`until` found by binary search, full reads streamed,
//! and a follower that continues where a read stopped).
//!
//! One record per line, byte-for-byte what dockerd writes:
//!
//! ```text
//! {"log":"hello\n","stream":"stdout","time":"2026-11-28T13:54:32.123456789Z"}
//! ```
//!
//! `log` is escaped as Go's `encoding/json` does (`<`, `>`, `&` as `\u003c`
//! and friends, U+2028/U+2029 escaped, invalid UTF-8 as U+FFFD). `time` always
//! has nine fractional digits, so every timestamp has the same width; readers
//! also accept Go's trimmed RFC 3339 form. A line longer than 16 KiB is split
//! into *partial* records whose `log` has no trailing newline, as docker does;
//! concatenating the `log` of consecutive records rejoins it.
//!
//! With [`LogFormat::Cri`] the writer writes the Kubernetes CRI line format
//! instead (`<time> <stream> <P|F> <text>`); readers accept both, line by
//! line (a json-file line starts with `{`, a CRI line with a digit).
//!
//! Files: `<path>` is the live file; with rotation, `<path>.1` is the newest
//! rotated file and `<path>.N` the oldest, each optionally gzipped
//! (`<path>.N.gz`). Readers read across all of them, oldest first.
//!
//! Invariants: a reader never fails on a torn line (a crash mid-write, or a
//! short write when the disk was full); it skips it. Timestamps in one log are
//! expected to be non-decreasing (the writer takes them from its caller);
//! `since`/`until` rely on that for their binary search.
//!
//! # Use
//!
//! The shim: [`JsonFileWriter::open`], then [`JsonFileWriter::write`] with
//! each chunk read from the container's pipes (records reach the file
//! before it returns), [`JsonFileWriter::do_pending_work`] when idle if
//! `compress` is on, and [`JsonFileWriter::flush_partial`] plus
//! [`JsonFileWriter::finish_pending_work`] at exit.
//!
//! The daemon: [`read`] with [`ReadOptions`], iterate the [`LogReader`]
//! (or [`LogReader::next_ref`] to avoid an allocation per entry), then for
//! `follow` turn it into a [`Follower`] and [`Follower::poll`] it whenever
//! the log's directory changes (pierd waits on inotify; a timer of 50-100 ms
//! does too) until the container has stopped and a poll came back empty;
//! [`Follower::trim`] between polls releases its buffers while idle.
//! Timestamps for output: `pier_time::format_fixed`.
//!
//! This crate must not depend on any other pier crate, spawn threads or
//! processes, or use async: the writer runs on the shim's single-threaded hot
//! path, the readers are blocking and meant for `spawn_blocking`.

mod compress;
mod cursor;
mod escape;
mod files;
mod follow;
mod reader;
mod record;
mod search;
mod writer;

use std::io;
use std::path::PathBuf;

pub use follow::Follower;
pub use reader::{read, EntryRef, LogEntry, LogReader, ReadOptions};
pub use record::{details_into, LogFormat};
pub use writer::{JsonFileWriter, WriterConfig, MAX_RECORD_LEN};

/// Decodes one line (without its newline) as the readers do: `None` for a
/// line they skip (torn, garbage, unknown stream). The fuzz targets' entry
/// point (`fuzz/`); readers go through [`read`].
#[doc(hidden)]
pub fn fuzz_decode_line(line: &[u8]) -> Option<LogEntry> {
    let rec = record::decode(line)?;
    let mut scratch = Vec::new();
    let text = rec.log.decode(&mut scratch)?.to_vec();
    Some(LogEntry {
        stream: rec.stream,
        time: rec.time,
        line: text,
        partial: !rec.log.ends_with_newline(),
        attrs: rec.attrs.into_owned(),
    })
}

/// Which of the container's output streams a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// The name used in the `stream` field: `stdout` or `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// What went wrong, and with which file.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("open log file {path}")]
    Open { path: PathBuf, source: io::Error },
    #[error("read log file {path}")]
    Read { path: PathBuf, source: io::Error },
    #[error("write log file {path}")]
    Write { path: PathBuf, source: io::Error },
    #[error("rotate log file {from} to {to}")]
    Rotate {
        from: PathBuf,
        to: PathBuf,
        source: io::Error,
    },
    #[error("compress log file {path}")]
    Compress { path: PathBuf, source: io::Error },
}
