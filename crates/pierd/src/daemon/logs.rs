//! Reading a container's log for `GET /containers/{id}/logs`: a blocking
//! reader thread feeding a channel, following until the container stops.

use std::time::Duration;

use pier_log::{ReadOptions, Stream};
use tokio::sync::mpsc;

use super::Daemon;
use crate::error::{Error, Result};

/// How often a follower looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

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
}

/// One log record.
#[derive(Debug, Clone)]
pub struct LogChunk {
    pub stream: Stream,
    /// Unix nanoseconds.
    pub time: i64,
    pub line: Vec<u8>,
}

/// An open log stream.
#[derive(Debug)]
pub struct LogStream {
    pub tty: bool,
    pub rx: mpsc::Receiver<std::result::Result<LogChunk, String>>,
}

impl Daemon {
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
            return Err(Error::NotImplemented(format!(
                "configured logging driver does not support reading: {driver}"
            )));
        }
        let path = c.log_path();
        let live = c.subscribe();
        let shutdown = self.shutdown_signal();
        let (tx, rx) = mpsc::channel(64);
        let read_opts = ReadOptions {
            stdout: opts.stdout,
            stderr: opts.stderr,
            since: opts.since,
            until: opts.until,
            tail: opts.tail,
        };
        let follow = opts.follow;
        tokio::task::spawn_blocking(move || {
            let send = |r: std::result::Result<LogChunk, String>| tx.blocking_send(r).is_ok();
            let chunk = |e: pier_log::LogEntry| LogChunk {
                stream: e.stream,
                time: e.time,
                line: e.line,
            };
            let mut reader = match pier_log::read(&path, &read_opts) {
                Ok(r) => r,
                Err(e) => {
                    send(Err(e.to_string()));
                    return;
                }
            };
            for entry in reader.by_ref() {
                let ok = match entry {
                    Ok(e) => send(Ok(chunk(e))),
                    Err(e) => send(Err(e.to_string())),
                };
                if !ok {
                    return;
                }
            }
            if !follow || reader.is_done() {
                return;
            }
            let mut follower = reader.into_follower();
            loop {
                // Read the state before polling: the shim flushes the log
                // before the exit is published, so one poll after seeing
                // "not running" drains everything.
                let stopped = {
                    let l = live.borrow();
                    l.removed || !l.record.state.is_running()
                } || *shutdown.borrow();
                let entries = match follower.poll() {
                    Ok(v) => v,
                    Err(e) => {
                        send(Err(e.to_string()));
                        return;
                    }
                };
                let got = !entries.is_empty();
                for e in entries {
                    if !send(Ok(chunk(e))) {
                        return;
                    }
                }
                if follower.is_done() || tx.is_closed() {
                    return;
                }
                if !got {
                    if stopped {
                        return;
                    }
                    std::thread::sleep(FOLLOW_POLL);
                }
            }
        });
        Ok(LogStream {
            tty: rec.config.tty,
            rx,
        })
    }
}
