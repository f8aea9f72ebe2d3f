//! Container logs: the shim's log settings from the container's log policy
//! (`model::log_policy` resolves it at create), and reading for
//! `GET /containers/{id}/logs` — a
//! blocking reader thread that encodes entries straight into the client's
//! wire form (stdcopy frames, or raw bytes with a TTY) and sends them in
//! batches of about 256 KiB, following until the container stops.

use std::time::Duration;

use pier_api::stdcopy::{self, StreamType};
use pier_log::{EntryRef, ReadOptions, Stream};
use pier_shim_proto::LogSettings;
use tokio::sync::mpsc;

use crate::daemon::{Container, Daemon};
use crate::error::{Error, Result};
use crate::model::log_policy;
use crate::record::ContainerRecord;

/// How often a follower looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(50);

/// Bytes of encoded output per channel message.
const BATCH: usize = 256 << 10;

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

impl Daemon {
    /// The shim's log settings for a container.
    pub(in crate::daemon) fn log_settings(&self, c: &Container, rec: &ContainerRecord) -> LogSettings {
        settings_of(rec, c.log_path())
    }

    pub fn logs(&self, key: &str, opts: LogsOptions) -> Result<LogStream> {
        if !opts.stdout && !opts.stderr {
            return Err(Error::InvalidParameter(
                "Bad parameters: you must choose at least one stream".to_string(),
            ));
        }
        let c = self.lookup(key)?;
        let rec = c.record();
        let driver = self.log_settings(&c, &rec).driver;
        if driver == "none" {
            return Err(Error::NotImplemented(
                "configured logging driver does not support reading".to_string(),
            ));
        }
        let path = c.log_path();
        let live = c.subscribe();
        let shutdown = self.shutdown_signal();
        let (tx, rx) = mpsc::channel(8);
        let read_opts = ReadOptions {
            stdout: opts.stdout,
            stderr: opts.stderr,
            since: opts.since,
            until: opts.until,
            tail: opts.tail,
        };
        let follow = opts.follow;
        let tty = rec.spec.process.stdio.tty;
        let mut framing = Framing::new(tty, opts.timestamps, opts.details);
        drop(Daemon::blocking_task("read logs", move || {
            let send = |r: std::result::Result<LogChunk, String>| tx.blocking_send(r).is_ok();
            let mut buf = Vec::with_capacity(BATCH + (64 << 10));
            let mut reader = match pier_log::read(&path, &read_opts) {
                Ok(r) => r,
                Err(e) => {
                    send(Err(e.to_string()));
                    return Ok(());
                }
            };
            loop {
                match reader.next_ref() {
                    Ok(Some(e)) => framing.push(&mut buf, &e),
                    Ok(None) => break,
                    Err(e) => {
                        if !buf.is_empty() {
                            send(Ok(std::mem::take(&mut buf)));
                        }
                        send(Err(e.to_string()));
                        return Ok(());
                    }
                }
                if buf.len() >= BATCH && !send(Ok(std::mem::replace(&mut buf, Vec::with_capacity(BATCH + (64 << 10)))))
                {
                    return Ok(());
                }
            }
            if !buf.is_empty() && !send(Ok(std::mem::take(&mut buf))) {
                return Ok(());
            }
            if !follow || reader.is_done() {
                return Ok(());
            }
            let mut follower = reader.into_follower();
            loop {
                // Read the state before draining: the shim flushes the log
                // before the exit is published, so one drain after seeing
                // "not running" gets everything.
                let stopped = {
                    let l = live.borrow();
                    l.removed || !l.record.state.is_running()
                } || *shutdown.borrow();
                loop {
                    match follower.next_ref() {
                        Ok(Some(e)) => framing.push(&mut buf, &e),
                        Ok(None) => break,
                        Err(e) => {
                            send(Err(e.to_string()));
                            return Ok(());
                        }
                    }
                    if buf.len() >= BATCH && !send(Ok(std::mem::take(&mut buf))) {
                        return Ok(());
                    }
                }
                if !buf.is_empty() && !send(Ok(std::mem::take(&mut buf))) {
                    return Ok(());
                }
                if follower.is_done() || tx.is_closed() || stopped {
                    return Ok(());
                }
                std::thread::sleep(FOLLOW_POLL);
            }
        }));
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
