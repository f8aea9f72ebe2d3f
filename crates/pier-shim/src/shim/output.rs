//! The container's output: its stdout and stderr pipes (or the terminal,
//! logged as stdout), the bytes read from each, and the log they go to;
//! plus the one read buffer every pipe and socket of the loop reads into.

use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use mio::unix::pipe::Receiver;
use mio::{Interest, Registry};
use pier_runtime::ChildStdio;
use pier_time::now_nanos;

use super::{console, Shim, STDERR, STDOUT};
use crate::decide::Phase;
use crate::sink::{LogSink, Stream};

/// One read from a pipe: large enough that a fast writer costs few
/// syscalls, small enough to stay a modest part of an idle shim's RSS.
const READ_SIZE: usize = 128 * 1024;

/// After this long without output the read buffer's pages are released.
const TRIM_AFTER: Duration = Duration::from_secs(1);

/// Reads per output event before other events get a turn.
const READS_PER_TURN: usize = 16;

/// The container's output pipes are grown to this (fewer wakeups).
const OUTPUT_PIPE_SIZE: usize = 1024 * 1024;

/// The container's stdio ends the shim keeps, plus the child's ends until
/// `create` is spawned.
pub struct Stdio3 {
    pub(super) stdout: Option<Receiver>,
    pub(super) stderr: Option<Receiver>,
    /// Write end of stdin (`open_stdin`), kept for attach.
    pub(super) stdin: Option<OwnedFd>,
    pub(super) child: Option<ChildStdio>,
}

impl Stdio3 {
    /// Pipes for stdout and stderr, and for stdin with `open_stdin`. With a
    /// `tty` there are none: the terminal comes over the console socket.
    pub fn new(open_stdin: bool, tty: bool) -> anyhow::Result<Self> {
        if tty {
            return Ok(Stdio3 {
                stdout: None,
                stderr: None,
                stdin: None,
                child: Some(ChildStdio::null()),
            });
        }
        let out = pier_sys::fd::pipe().context("create stdout pipe")?;
        let err = pier_sys::fd::pipe().context("create stderr pipe")?;
        let (child_in, stdin) = if open_stdin {
            let p = pier_sys::fd::pipe().context("create stdin pipe")?;
            (Stdio::from(p.read), Some(p.write))
        } else {
            (Stdio::null(), None)
        };
        for fd in [&out.read, &err.read] {
            if let Err(e) = pier_sys::fd::set_pipe_size(fd.as_fd(), OUTPUT_PIPE_SIZE) {
                tracing::debug!(error = %e, "grow output pipe");
            }
        }
        let stdout = Receiver::from(out.read);
        let stderr = Receiver::from(err.read);
        stdout.set_nonblocking(true).context("set stdout nonblocking")?;
        stderr.set_nonblocking(true).context("set stderr nonblocking")?;
        Ok(Stdio3 {
            stdout: Some(stdout),
            stderr: Some(stderr),
            stdin,
            child: Some(ChildStdio {
                stdin: child_in,
                stdout: Stdio::from(out.write),
                stderr: Stdio::from(err.write),
            }),
        })
    }
}

/// The container's output and its log.
pub(super) struct Output {
    /// Stdout's pipe, or the terminal once it came (`tty`).
    pub(super) stdout: Option<Receiver>,
    stderr: Option<Receiver>,
    /// Bytes read from the container per stream (stdout, stderr).
    pub(super) totals: [u64; 2],
    /// Output events cut short by [`READS_PER_TURN`].
    more: [bool; 2],
    pub(super) sink: Box<dyn LogSink>,
}

impl Output {
    /// Take the pipes (registered for reading) and the log.
    pub(super) fn new(
        mut stdout: Option<Receiver>,
        mut stderr: Option<Receiver>,
        sink: Box<dyn LogSink>,
        registry: &Registry,
    ) -> anyhow::Result<Output> {
        if let Some(stdout) = stdout.as_mut() {
            registry
                .register(stdout, STDOUT, Interest::READABLE)
                .context("register stdout")?;
        }
        if let Some(stderr) = stderr.as_mut() {
            registry
                .register(stderr, STDERR, Interest::READABLE)
                .context("register stderr")?;
        }
        Ok(Output {
            stdout,
            stderr,
            totals: [0, 0],
            more: [false, false],
            sink,
        })
    }

    fn pipe(&mut self, stream: Stream) -> Option<&mut Receiver> {
        match stream {
            Stream::Stdout => self.stdout.as_mut(),
            Stream::Stderr => self.stderr.as_mut(),
        }
    }

    /// Some stream has more to read than its last turn took.
    pub(super) fn has_more(&self) -> bool {
        self.more.contains(&true)
    }

    /// Whether `stream` was cut short, clearing the mark.
    pub(super) fn take_more(&mut self, stream: Stream) -> bool {
        std::mem::take(&mut self.more[stream as usize])
    }

    /// Log `bytes` of `stream` and count them.
    fn log(&mut self, stream: Stream, bytes: &[u8], now: i64) {
        if let Err(e) = self.sink.write(stream, bytes, now) {
            tracing::error!(error = %e, "write container log");
        }
        self.totals[stream as usize] += bytes.len() as u64;
    }

    pub(super) fn flush(&mut self) {
        if let Err(e) = self.sink.flush() {
            tracing::error!(error = %e, "flush container log");
        }
    }

    /// The log's last record (the marker of dropped records, if any).
    pub(super) fn finish(&mut self, now: i64) {
        if let Err(e) = self.sink.finish(now).and_then(|()| self.sink.flush()) {
            tracing::error!(error = %e, "flush container log");
        }
    }

    /// Flush, then open the log file again by its path.
    pub(super) fn reopen_log(&mut self) -> std::io::Result<()> {
        self.sink.flush()?;
        self.sink.reopen()
    }

    /// Gzip of a rotated log file goes on in slices while idle.
    pub(super) fn has_background_work(&self) -> bool {
        self.sink.has_background_work()
    }

    pub(super) fn do_background_work(&mut self) {
        self.sink.do_background_work();
    }

    fn close(&mut self, stream: Stream, registry: &Registry) {
        let slot = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        if let Some(mut pipe) = slot.take() {
            let _ = registry.deregister(&mut pipe);
        }
    }

    /// Both pipes reached EOF.
    pub(super) fn is_drained(&self) -> bool {
        self.stdout.is_none() && self.stderr.is_none()
    }

    /// Close what is still open (an escaped process holds it).
    pub(super) fn close_pipes(&mut self, registry: &Registry) {
        for mut pipe in [self.stdout.take(), self.stderr.take()].into_iter().flatten() {
            let _ = registry.deregister(&mut pipe);
        }
    }
}

/// The one read buffer: taken for a read, given back after; its pages go
/// back to the kernel after [`TRIM_AFTER`] without output (idle RSS).
pub(super) struct ReadBuf {
    bytes: Vec<u8>,
    /// When the buffer's pages go back to the kernel.
    trim_at: Option<Instant>,
}

impl ReadBuf {
    pub(super) fn new() -> ReadBuf {
        ReadBuf {
            bytes: vec![0; READ_SIZE],
            trim_at: None,
        }
    }

    pub(super) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }

    pub(super) fn restore(&mut self, bytes: Vec<u8>) {
        self.bytes = bytes;
    }

    /// Output was read: trim only after the next quiet spell.
    pub(super) fn schedule_trim(&mut self) {
        self.trim_at = Some(Instant::now() + TRIM_AFTER);
    }

    pub(super) fn trim_at(&self) -> Option<Instant> {
        self.trim_at
    }

    pub(super) fn trim_if_due(&mut self) {
        if self.trim_at.is_some_and(|t| Instant::now() >= t) {
            self.trim_at = None;
            pier_sys::mem::release_pages(&mut self.bytes);
        }
    }

    pub(super) fn scratch(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

impl Shim {
    pub(super) fn on_output(&mut self, stream: Stream) {
        // Until `run` has answered, the output stays in the pipes: it is
        // the container's if the run succeeds, the runtime's if not (read
        // after the answer either way).
        if self.lifecycle.phase == Phase::Launching {
            return;
        }
        let now = now_nanos();
        let mut buf = self.buf.take();
        let mut eof = false;
        let mut reads = 0;
        while let Some(pipe) = self.output.pipe(stream) {
            if reads == READS_PER_TURN {
                self.output.more[stream as usize] = true;
                break;
            }
            reads += 1;
            match pipe.read(&mut buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    let bytes = &buf[..n];
                    if self.lifecycle.phase == Phase::Creating {
                        tracing::warn!(?stream, output = %String::from_utf8_lossy(bytes).trim_end(), "runtime output");
                        continue;
                    }
                    self.clients.fall_behind(&self.output, stream, n);
                    self.output.log(stream, bytes, now);
                    self.clients.fan_out(stream, bytes);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if console::is_terminal_eof(&e) => {
                    eof = true;
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, ?stream, "read container output");
                    eof = true;
                    break;
                }
            }
        }
        self.buf.restore(buf);
        self.buf.schedule_trim();
        if eof {
            self.output.close(stream, self.poll.registry());
        }
        self.output.flush();
        self.progress_streams();
    }
}
