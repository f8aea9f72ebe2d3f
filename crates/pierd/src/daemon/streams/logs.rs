//! Container logs: the shim's log settings from the container's log policy
//! (`model::log_policy` resolves it at create), and reading for
//! `GET /containers/{id}/logs` — a task per
//! stream that encodes entries straight into the client's wire form
//! (stdcopy frames, or raw bytes with a TTY) and sends them in batches of
//! about 256 KiB, following until the container stops.
//!
//! Bounded: each batch is read on a blocking thread, at most
//! [`MAX_READS`] at once, and no thread is held while the client reads or
//! while a follower waits. A follower waits for inotify events on its
//! log's directory (`log_watch`), so thousands of idle followers cost
//! parked tasks and one watch per container, nothing else.

use std::sync::Arc;

use pier_api::stdcopy::{self, StreamType};
use pier_log::{EntryRef, ReadOptions, Stream};
use pier_shim_proto::LogSettings;
use tokio::sync::{mpsc, Semaphore};

use super::log_watch::LogWatch;
use crate::daemon::{Container, Daemon};
use crate::error::{Error, Result};
use crate::model::log_policy;
use crate::record::ContainerRecord;

/// Bytes of encoded output per channel message.
const BATCH: usize = 256 << 10;

/// Room past [`BATCH`] for the record that ends a batch: a 16 KiB record,
/// its frame header, timestamp and details prefixes.
const BATCH_SLACK: usize = pier_log::MAX_RECORD_LEN + 4096;

/// Log reads running at once (each one batch on a blocking thread).
const MAX_READS: usize = 16;

/// What to read.
#[derive(Debug, Clone)]
pub struct LogsOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    pub tail: Option<usize>,
    /// Unix nanoseconds.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Prefix each line with its RFC 3339 time (nine fixed decimals).
    pub timestamps: bool,
    /// Prefix each line with its attributes (`k=v,...`), as `--details`.
    pub details: bool,
}

/// Encoded output, ready for the response body.
pub type LogChunk = Vec<u8>;

/// An open log stream: batches of encoded output, or an error message to
/// show the client (the stream ends after it).
#[derive(Debug)]
pub struct LogStream {
    pub tty: bool,
    pub rx: mpsc::Receiver<std::result::Result<LogChunk, String>>,
}

/// The shim's log settings for a container.
pub fn settings_of(rec: &ContainerRecord, path: std::path::PathBuf) -> LogSettings {
    let policy = &rec.spec.log;
    LogSettings {
        driver: policy.driver.as_str().to_string(),
        path,
        max_size: policy.max_size,
        max_file: policy.max_file,
        compress: policy.compress,
        attrs: log_policy::attributes(policy, &rec.spec.labels, &rec.spec.process.env),
    }
}

/// Turns log entries into what the client reads: each logical line (a
/// line split into partial records is one) gets the optional timestamp and
/// details prefixes; without a TTY, each record becomes a stdcopy frame.
#[derive(Debug, Clone, Copy)]
pub struct Framing {
    pub tty: bool,
    pub timestamps: bool,
    pub details: bool,
    /// The previous record of each stream was partial: the next one
    /// continues its line and gets no prefix.
    cont: [bool; 2],
}

impl Framing {
    pub fn new(tty: bool, timestamps: bool, details: bool) -> Framing {
        Framing {
            tty,
            timestamps,
            details,
            cont: [false; 2],
        }
    }

    /// Appends `e` to `out`.
    pub fn push(&mut self, out: &mut Vec<u8>, e: &EntryRef<'_>) {
        let header_at = out.len();
        if !self.tty {
            out.extend_from_slice(&[0; stdcopy::HEADER_LEN]);
        }
        let start = out.len();
        let idx = e.stream as usize;
        if !self.cont[idx] {
            if self.timestamps {
                pier_time::append_fixed(e.time, out);
                out.push(b' ');
            }
            if self.details {
                pier_log::details_into(out, e.attrs);
                out.push(b' ');
            }
        }
        self.cont[idx] = e.partial;
        out.extend_from_slice(e.line);
        if self.tty {
            return;
        }
        let len = out.len() - start;
        if len == 0 {
            out.truncate(header_at);
            return;
        }
        let kind = match e.stream {
            Stream::Stdout => StreamType::Stdout,
            Stream::Stderr => StreamType::Stderr,
        };
        // Records are at most 16 KiB plus prefixes: always one frame.
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        out[header_at..start].copy_from_slice(&stdcopy::header(kind, len));
    }
}

/// What every log reader shares: the change notifications followers wait
/// on, and a bound on the reads running at once (each on a blocking
/// thread, for one batch at most), so readers never occupy more than
/// [`MAX_READS`] of the blocking pool, whatever their number.
#[derive(Debug)]
pub(crate) struct LogReaders {
    watch: LogWatch,
    reads: Arc<Semaphore>,
}

impl Default for LogReaders {
    fn default() -> Self {
        LogReaders {
            watch: LogWatch::default(),
            reads: Arc::new(Semaphore::new(MAX_READS)),
        }
    }
}

/// A reader between batches: where it is, and the framing state.
struct Pump {
    source: Source,
    framing: Framing,
}

enum Source {
    /// Reading what the log holds (tail, since, until).
    Reader(pier_log::LogReader),
    /// Following what is appended.
    Follower(pier_log::Follower),
}

/// How a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Batch {
    /// About [`BATCH`] bytes are ready: read again at once.
    Full,
    /// Everything there is has been read.
    Drained,
}

impl Pump {
    /// Encode entries into `out` until a batch is full or nothing is left.
    fn fill(&mut self, out: &mut Vec<u8>) -> std::result::Result<Batch, pier_log::LogError> {
        loop {
            let next = match &mut self.source {
                Source::Reader(r) => r.next_ref(),
                Source::Follower(f) => f.next_ref(),
            };
            match next? {
                Some(e) => self.framing.push(out, &e),
                None => break,
            }
            if out.len() >= BATCH {
                return Ok(Batch::Full);
            }
        }
        if let Source::Follower(f) = &mut self.source {
            // Idle followers keep no read buffer.
            f.trim();
        }
        Ok(Batch::Drained)
    }

    fn is_done(&self) -> bool {
        match &self.source {
            Source::Reader(r) => r.is_done(),
            Source::Follower(f) => f.is_done(),
        }
    }
}

type Sender = mpsc::Sender<std::result::Result<LogChunk, String>>;

impl LogReaders {
    /// One batch on a blocking thread (at most [`MAX_READS`] at once);
    /// `None` when the client is gone. A read error is sent to the client
    /// and ends the stream (`None` too).
    async fn batch(&self, pump: Pump, tx: &Sender) -> Option<(Pump, Batch)> {
        let permit = self.reads.clone().acquire_owned().await.ok()?;
        let read = Daemon::blocking("read logs", move || {
            let _permit = permit;
            let mut pump = pump;
            // Sized once: a batch ends past BATCH by at most one record
            // and its prefixes, so it never grows by copying itself.
            let mut out = Vec::with_capacity(BATCH + BATCH_SLACK);
            let r = pump.fill(&mut out);
            Ok((pump, out, r))
        })
        .await;
        let (pump, out, r) = match read {
            Ok(v) => v,
            Err(e) => {
                let _ = tx.send(Err(e.to_string())).await;
                return None;
            }
        };
        if !out.is_empty() && tx.send(Ok(out)).await.is_err() {
            return None;
        }
        match r {
            Ok(b) => Some((pump, b)),
            Err(e) => {
                let _ = tx.send(Err(e.to_string())).await;
                None
            }
        }
    }

    /// Read until drained; `None` when the stream ended.
    async fn drain(&self, mut pump: Pump, tx: &Sender) -> Option<Pump> {
        loop {
            let (p, b) = self.batch(pump, tx).await?;
            pump = p;
            if b == Batch::Drained {
                return Some(pump);
            }
        }
    }
}

/// Why a follower woke.
enum Woke {
    /// The log may have grown, the container's state or the daemon's
    /// changed: drain and look again.
    Look,
    /// The client is gone, or what it waited on vanished.
    End,
}

/// Everything a `logs` stream needs, moved into its task.
struct LogTask {
    readers: Arc<LogReaders>,
    path: std::path::PathBuf,
    read_opts: ReadOptions,
    follow: bool,
    framing: Framing,
    live: tokio::sync::watch::Receiver<crate::daemon::Live>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    tx: Sender,
}

impl LogTask {
    /// The task: read what is there, then (following) wait for changes
    /// and drain after each, until the container stops, the daemon shuts
    /// down, `until` passes or the client leaves. Waiting holds no thread.
    async fn run(mut self) {
        let readers = self.readers.clone();
        // Subscribe before the first read: nothing written after it is missed.
        let mut changes = self.follow.then(|| readers.watch.subscribe(&self.path));
        let (path, read_opts) = (self.path.clone(), self.read_opts.clone());
        let opened = Daemon::blocking("open logs", move || Ok(pier_log::read(&path, &read_opts))).await;
        let reader = match opened {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                let _ = self.tx.send(Err(e.to_string())).await;
                return;
            }
            Err(e) => {
                let _ = self.tx.send(Err(e.to_string())).await;
                return;
            }
        };
        let pump = Pump {
            source: Source::Reader(reader),
            framing: self.framing,
        };
        let Some(mut pump) = readers.drain(pump, &self.tx).await else {
            return;
        };
        let Some(changes) = changes.as_mut() else {
            return;
        };
        if pump.is_done() {
            return;
        }
        if let Source::Reader(r) = pump.source {
            pump.source = Source::Follower(r.into_follower());
        }
        loop {
            // Read the state before draining: the shim flushes the log
            // before the exit is published, so one drain after seeing
            // "not running" gets everything.
            let stopped = {
                let l = self.live.borrow();
                l.removed || !l.record.state.is_running()
            } || *self.shutdown.borrow();
            pump = match readers.drain(pump, &self.tx).await {
                Some(p) => p,
                None => return,
            };
            if pump.is_done() || stopped {
                return;
            }
            let woke = tokio::select! {
                () = changes.changed() => Woke::Look,
                r = self.live.changed() => if r.is_ok() { Woke::Look } else { Woke::End },
                r = self.shutdown.changed() => if r.is_ok() { Woke::Look } else { Woke::End },
                () = self.tx.closed() => Woke::End,
            };
            if let Woke::End = woke {
                return;
            }
        }
    }
}

impl Daemon {
    /// The shim's log settings for a container.
    pub(in crate::daemon) fn log_settings(&self, c: &Container, rec: &ContainerRecord) -> LogSettings {
        settings_of(rec, log_policy::file(&rec.spec.log, c.log_path()))
    }

    pub fn logs(&self, key: &str, opts: LogsOptions) -> Result<LogStream> {
        if !opts.stdout && !opts.stderr {
            return Err(Error::InvalidParameter(
                "Bad parameters: you must choose at least one stream".to_string(),
            ));
        }
        let c = self.lookup(key)?;
        let rec = c.record();
        let settings = self.log_settings(&c, &rec);
        let driver = settings.driver;
        if driver == "none" {
            return Err(Error::NotImplemented(
                "configured logging driver does not support reading".to_string(),
            ));
        }
        let (tx, rx) = mpsc::channel(8);
        let tty = rec.spec.process.stdio.tty;
        let task = LogTask {
            readers: self.log_readers.clone(),
            path: settings.path,
            read_opts: ReadOptions {
                stdout: opts.stdout,
                stderr: opts.stderr,
                since: opts.since,
                until: opts.until,
                tail: opts.tail,
            },
            follow: opts.follow,
            framing: Framing::new(tty, opts.timestamps, opts.details),
            live: c.subscribe(),
            shutdown: self.shutdown_signal(),
            tx,
        };
        tokio::spawn(task.run());
        Ok(LogStream { tty, rx })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(stream: Stream, line: &'a [u8], partial: bool, attrs: &'a [u8]) -> EntryRef<'a> {
        EntryRef {
            stream,
            time: 1_000_000_001,
            line,
            partial,
            attrs,
        }
    }

    #[test]
    fn frames_batches_and_rejoins_partial_lines() {
        let mut out = Vec::new();
        let mut f = Framing::new(false, false, false);
        f.push(&mut out, &entry(Stream::Stderr, b"hi\n", false, b""));
        f.push(&mut out, &entry(Stream::Stdout, b"o\n", false, b""));
        assert_eq!(
            out,
            [2, 0, 0, 0, 0, 0, 0, 3, b'h', b'i', b'\n', 1, 0, 0, 0, 0, 0, 0, 2, b'o', b'\n']
        );

        let mut out = Vec::new();
        let mut f = Framing::new(true, true, true);
        f.push(&mut out, &entry(Stream::Stdout, b"ab", true, br#"{"k":"v"}"#));
        f.push(&mut out, &entry(Stream::Stdout, b"c\n", false, br#"{"k":"v"}"#));
        f.push(&mut out, &entry(Stream::Stdout, b"d\n", false, b""));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "1970-01-01T00:00:01.000000001Z k=v abc\n1970-01-01T00:00:01.000000001Z  d\n"
        );
    }
}
