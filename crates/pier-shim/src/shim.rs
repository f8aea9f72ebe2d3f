//! The event loop: one thread, one `mio::Poll` over the signalfd, the
//! container's output pipes and stdin, the RPC listener and its
//! connections (some of them attach or exec streams), and each exec's
//! pipes.
//!
//! One read buffer serves every output: a chunk read from a pipe is logged
//! and then written to every live stream straight from that buffer
//! (`writev` of frame header and payload), copied only into the queue of a
//! stream whose socket is full (see `crate::feed`).
//!
//! Every child exit is collected in one place ([`Shim::on_signals`] via
//! `waitpid(-1)`) and routed by pid: the runtime invocation in flight, the
//! container's init, an exec, or a stray orphan (remembered briefly: an
//! exec may exit before its `runtime exec` has returned its pid). Runtime invocations run one at a
//! time from a queue, so none of them is ever waited on elsewhere and the
//! runtime's JSON log holds only the current invocation's lines.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use mio::net::UnixListener;
use mio::unix::pipe::Receiver;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use pier_runtime::{ChildStdio, Runtime, RuntimeError};
use pier_shim_proto::{Ready, ShimConfig};
use pier_sys::reap::{ExitStatus, Reaped};
use pier_sys::signal::Signals;
use pier_sys::Signal;
use pier_time::now_nanos;

use crate::conn::Conn;
use crate::decide::{self, ClientOp, Phase, View};
use crate::exit_record;
use crate::sink::{LogSink, Stream};

mod clients;
mod console;
mod exec;
mod invocations;
mod stdin;
mod streams;

use invocations::{op_of, status_text};

const SIGNALS: Token = Token(0);
const STDOUT: Token = Token(1);
const STDERR: Token = Token(2);
const LISTENER: Token = Token(3);
/// The console socket; its one connection is `Token(5)`.
const CONSOLE: Token = Token(4);
/// The container's stdin (a pipe, or the terminal with `tty`), writable.
const STDIN: Token = Token(6);
const FIRST_CLIENT: usize = 16;
/// Tokens of exec pipes: `EXEC_BASE + 4 * seq + pipe`.
const EXEC_BASE: usize = 1 << 40;

/// One read from a pipe: large enough that a fast writer costs few
/// syscalls, small enough to stay a modest part of an idle shim's RSS.
const READ_SIZE: usize = 128 * 1024;

/// After this long without output the read buffer's pages are released.
const TRIM_AFTER: Duration = Duration::from_secs(1);

/// Reads per output event before other events get a turn.
const READS_PER_TURN: usize = 16;

/// The container's output pipes are grown to this (fewer wakeups).
const OUTPUT_PIPE_SIZE: usize = 1024 * 1024;

/// How long after init's exit the shim waits for the output pipes to reach
/// EOF (an escaped process may hold them open forever).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// A runtime invocation still running after this long is killed.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(120);

/// Everything the loop reacts to. Closed: a new source (attach, exec, tty)
/// adds a variant here and a token above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Signals,
    Output(Stream),
    Accept,
    Console,
    Client {
        id: usize,
        hup: bool,
    },
    /// The container's stdin can take more.
    Stdin,
    /// An exec's pipe: 0 stdout, 1 stderr, 2 stdin.
    ExecPipe {
        seq: usize,
        pipe: usize,
    },
    Tick,
}

/// A runtime invocation, queued or in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Invocation {
    Create,
    Client { conn: usize, op: ClientOp },
    Exec { conn: usize, seq: usize },
    Delete,
}

/// The runtime invocation running now.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    pid: i32,
    inv: Invocation,
    deadline: Instant,
    timed_out: bool,
}

/// The container's stdio ends the shim keeps, plus the child's ends until
/// `create` is spawned.
pub struct Stdio3 {
    stdout: Option<Receiver>,
    stderr: Option<Receiver>,
    /// Write end of stdin (`open_stdin`), kept for attach.
    stdin: Option<OwnedFd>,
    child: Option<ChildStdio>,
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

pub struct Shim {
    cfg: ShimConfig,
    runtime: Runtime,
    pid_file: PathBuf,
    poll: Poll,
    signals: Signals,
    stdout: Option<Receiver>,
    stderr: Option<Receiver>,
    /// The container's stdin (`open_stdin`), fed by attach streams.
    stdin: Option<stdin::StdinPipe>,
    console: Option<console::Console>,
    /// The pty master (`tty`), kept for resize.
    terminal: Option<OwnedFd>,
    /// Bytes read from the container per stream (stdout, stderr).
    totals: [u64; 2],
    /// Output events cut short by [`READS_PER_TURN`].
    more_output: [bool; 2],
    execs: BTreeMap<usize, exec::Exec>,
    next_exec: usize,
    /// Exits reaped while an exec invocation ran, matched once its pid is
    /// known.
    orphans: VecDeque<(i32, ExitStatus)>,
    child_stdio: Option<ChildStdio>,
    listener: UnixListener,
    /// (device, inode) of the socket file we bound.
    socket_id: Option<(u64, u64)>,
    conns: BTreeMap<usize, Conn>,
    next_conn: usize,
    sink: Box<dyn LogSink>,
    ready: Option<OwnedFd>,
    phase: Phase,
    pid: i32,
    started_at: Option<i64>,
    queue: VecDeque<Invocation>,
    in_flight: Option<InFlight>,
    oom: Option<crate::oom::OomWatch>,
    waiters: Vec<usize>,
    early_exits: Vec<(Reaped, i64)>,
    drain_deadline: Option<Instant>,
    shutdown: bool,
    quit: bool,
    buf: Vec<u8>,
    /// When the read buffer's pages go back to the kernel (idle RSS).
    trim_at: Option<Instant>,
}

fn file_id(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Write the one handshake line and close the ready pipe.
pub fn send_ready(fd: OwnedFd, ready: &Ready) {
    let mut line = serde_json::to_vec(ready).unwrap_or_default();
    line.push(b'\n');
    if let Err(e) = File::from(fd).write_all(&line) {
        tracing::error!(error = %e, "write ready pipe");
    }
}

impl Shim {
    pub fn new(cfg: ShimConfig, stdio: Stdio3, sink: Box<dyn LogSink>) -> anyhow::Result<Self> {
        let runtime = Runtime::new(&cfg.runtime, &cfg.runtime_root).with_log(cfg.bundle.join("runtime.log"));
        let poll = Poll::new().context("create poll")?;
        let signals = Signals::new(&[Signal::SIGCHLD, Signal::SIGTERM, Signal::SIGINT]).context("create signalfd")?;
        match std::fs::remove_file(&cfg.socket) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("remove {}", cfg.socket.display())),
        }
        let mut listener = UnixListener::bind(&cfg.socket).with_context(|| format!("bind {}", cfg.socket.display()))?;
        let socket_id = file_id(&cfg.socket);
        let Stdio3 {
            mut stdout,
            mut stderr,
            stdin,
            child,
        } = stdio;
        let reg = poll.registry();
        let stdin = match stdin {
            Some(fd) => Some(stdin::StdinPipe::new(fd, reg, STDIN).context("register stdin")?),
            None => None,
        };
        reg.register(&mut SourceFd(&signals.as_fd().as_raw_fd()), SIGNALS, Interest::READABLE)
            .context("register signalfd")?;
        if let Some(stdout) = stdout.as_mut() {
            reg.register(stdout, STDOUT, Interest::READABLE)
                .context("register stdout")?;
        }
        if let Some(stderr) = stderr.as_mut() {
            reg.register(stderr, STDERR, Interest::READABLE)
                .context("register stderr")?;
        }
        let console = if cfg.tty {
            Some(console::Console::bind(&cfg.bundle.join("console.sock"), reg)?)
        } else {
            None
        };
        reg.register(&mut listener, LISTENER, Interest::READABLE)
            .context("register listener")?;
        Ok(Shim {
            pid_file: cfg.bundle.join("init.pid"),
            cfg,
            runtime,
            poll,
            signals,
            stdout,
            stderr,
            stdin,
            console,
            terminal: None,
            totals: [0, 0],
            more_output: [false, false],
            execs: BTreeMap::new(),
            next_exec: 0,
            orphans: VecDeque::new(),
            child_stdio: child,
            listener,
            socket_id,
            conns: BTreeMap::new(),
            next_conn: FIRST_CLIENT,
            sink,
            ready: None,
            phase: Phase::Creating,
            pid: 0,
            started_at: None,
            queue: VecDeque::from([Invocation::Create]),
            in_flight: None,
            oom: None,
            waiters: Vec::new(),
            early_exits: Vec::new(),
            drain_deadline: None,
            shutdown: false,
            quit: false,
            buf: vec![0; READ_SIZE],
            trim_at: None,
        })
    }

    /// Run `create`, report on `ready`, and run until the container is gone
    /// and the shim may leave.
    pub fn run(mut self, ready: OwnedFd) -> anyhow::Result<()> {
        self.ready = Some(ready);
        let mut events = Events::with_capacity(64);
        let mut batch = Vec::with_capacity(64);
        self.pump_invocations();
        while !self.quit && !decide::may_exit(&self.phase, self.conns.len(), self.shutdown) {
            let deadline = [self.drain_deadline, self.in_flight.map(|f| f.deadline), self.trim_at]
                .into_iter()
                .chain(self.execs.values().map(|e| e.drain_until))
                .flatten()
                .min();
            let mut timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            // Gzip of a rotated log file goes on in slices while idle.
            let background = self.sink.has_background_work();
            if self.more_output.contains(&true) || background {
                timeout = Some(Duration::ZERO);
            }
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("poll"),
            }
            batch.clear();
            batch.extend(events.iter().map(|e| match e.token() {
                SIGNALS => Event::Signals,
                STDOUT => Event::Output(Stream::Stdout),
                STDERR => Event::Output(Stream::Stderr),
                LISTENER => Event::Accept,
                Token(4) | Token(5) => Event::Console,
                STDIN => Event::Stdin,
                Token(t) if t >= EXEC_BASE => {
                    let (seq, pipe) = exec::of_token(t);
                    Event::ExecPipe { seq, pipe }
                }
                Token(id) => Event::Client {
                    id,
                    hup: e.is_write_closed(),
                },
            }));
            for (i, stream) in [Stream::Stdout, Stream::Stderr].into_iter().enumerate() {
                if std::mem::take(&mut self.more_output[i]) && !batch.contains(&Event::Output(stream)) {
                    batch.push(Event::Output(stream));
                }
            }
            if batch.is_empty() {
                batch.push(Event::Tick);
                if background {
                    self.sink.do_background_work();
                }
            }
            for &ev in &batch {
                self.handle(ev)?;
            }
            self.check_in_flight();
            self.check_exec_drains();
            if self.trim_at.is_some_and(|t| Instant::now() >= t) {
                self.trim_at = None;
                pier_sys::mem::release_pages(&mut self.buf);
            }
            self.advance();
            self.pump_invocations();
        }
        self.finish();
        Ok(())
    }

    fn handle(&mut self, ev: Event) -> anyhow::Result<()> {
        match ev {
            Event::Signals => self.on_signals()?,
            Event::Output(stream) => self.on_output(stream),
            Event::Accept => self.on_accept(),
            Event::Console => self.on_console(),
            Event::Client { id, hup } => self.on_client(id, hup),
            Event::Stdin => self.stdin_writable(crate::feed::Source::Container),
            Event::ExecPipe { seq, pipe: 2 } => self.stdin_writable(crate::feed::Source::Exec(seq)),
            Event::ExecPipe { seq, pipe } => {
                self.on_exec_output(seq, pipe, false);
            }
            Event::Tick => {}
        }
        Ok(())
    }

    fn view(&self) -> View {
        let starting = self
            .in_flight
            .iter()
            .map(|f| &f.inv)
            .chain(self.queue.iter())
            .any(|inv| {
                matches!(
                    inv,
                    Invocation::Client {
                        op: ClientOp::Start,
                        ..
                    }
                )
            });
        View {
            phase: self.phase.clone(),
            pid: self.pid,
            started_at: self.started_at,
            starting,
            tty: self.cfg.tty,
        }
    }

    // --- signals and reaping -------------------------------------------

    fn on_signals(&mut self) -> anyhow::Result<()> {
        let mut reap = false;
        while let Some(sig) = self.signals.read().context("read signals")? {
            match sig {
                Signal::SIGCHLD => reap = true,
                other => {
                    tracing::info!(signal = %other, "shutting down once the container is gone");
                    self.shutdown = true;
                }
            }
        }
        if reap {
            let now = now_nanos();
            for r in pier_sys::reap::reap_all().context("reap children")? {
                self.on_reaped(r, now);
            }
        }
        Ok(())
    }

    fn on_reaped(&mut self, r: Reaped, now: i64) {
        let pid = r.pid.as_raw();
        if let Some(f) = self.in_flight.filter(|f| f.pid == pid) {
            self.in_flight = None;
            let result = if f.timed_out {
                Err(RuntimeError::TimedOut {
                    op: op_of(f.inv),
                    id: self.cfg.id.clone(),
                    after: INVOCATION_TIMEOUT,
                })
            } else {
                self.runtime
                    .check(op_of(f.inv), &self.cfg.id, r.status.success(), &status_text(r.status))
            };
            self.invocation_done(f.inv, result);
            return;
        }
        if pid == self.pid && matches!(self.phase, Phase::Created | Phase::Running) {
            self.init_exited(r.status, now);
        } else if self.phase == Phase::Creating {
            self.early_exits.push((r, now));
        } else if !self.reaped_exec(pid, r.status) {
            tracing::debug!(pid, status = ?r.status, "reaped orphan");
            self.remember_orphan(pid, r.status);
        }
    }

    fn init_exited(&mut self, status: ExitStatus, now: i64) {
        tracing::info!(pid = self.pid, ?status, "container init exited");
        let record = decide::exit_record(status, self.started_at, now);
        self.phase = Phase::Draining(record);
        self.drain_deadline = Some(Instant::now() + DRAIN_GRACE);
    }

    // --- output ----------------------------------------------------------

    fn on_output(&mut self, stream: Stream) {
        let now = now_nanos();
        let mut buf = std::mem::take(&mut self.buf);
        let mut eof = false;
        let mut reads = 0;
        loop {
            let slot = match stream {
                Stream::Stdout => &mut self.stdout,
                Stream::Stderr => &mut self.stderr,
            };
            let Some(pipe) = slot else { break };
            if reads == READS_PER_TURN {
                self.more_output[stream as usize] = true;
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
                    if self.phase == Phase::Creating {
                        tracing::warn!(?stream, output = %String::from_utf8_lossy(bytes).trim_end(), "runtime output");
                        continue;
                    }
                    self.fall_behind(stream, n);
                    if let Err(e) = self.sink.write(stream, bytes, now) {
                        tracing::error!(error = %e, "write container log");
                    }
                    self.totals[stream as usize] += n as u64;
                    self.fan_out(stream, bytes);
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
        self.buf = buf;
        self.trim_at = Some(Instant::now() + TRIM_AFTER);
        if eof {
            let slot = match stream {
                Stream::Stdout => &mut self.stdout,
                Stream::Stderr => &mut self.stderr,
            };
            if let Some(mut pipe) = slot.take() {
                let _ = self.poll.registry().deregister(&mut pipe);
            }
        }
        if let Err(e) = self.sink.flush() {
            tracing::error!(error = %e, "flush container log");
        }
        self.progress_streams();
    }

    /// Move a drained exit forward: record on disk, then `delete`.
    fn advance(&mut self) {
        let Phase::Draining(record) = &self.phase else {
            return;
        };
        let drained = self.stdout.is_none() && self.stderr.is_none();
        let late = self.drain_deadline.is_some_and(|d| Instant::now() >= d);
        if !drained && !late {
            return;
        }
        if !drained {
            tracing::warn!("output pipes still open after init exited; closing them");
            for mut pipe in [self.stdout.take(), self.stderr.take()].into_iter().flatten() {
                let _ = self.poll.registry().deregister(&mut pipe);
            }
        }
        let mut record = record.clone();
        record.oom_killed = self.oom.as_ref().is_some_and(|o| o.killed());
        self.drain_deadline = None;
        if let Err(e) = self.sink.finish(now_nanos()).and_then(|()| self.sink.flush()) {
            tracing::error!(error = %e, "flush container log");
        }
        if let Err(e) = exit_record::write(&self.cfg.exit_path, &record) {
            tracing::error!(error = format!("{e:#}"), "write exit record");
        }
        tracing::info!(exit_code = record.exit_code, "exit recorded");
        let exit_code = record.exit_code;
        self.phase = Phase::Exited { record, deleted: false };
        self.end_attach_streams(exit_code);
        self.queue.push_back(Invocation::Delete);
    }

    fn finish(&mut self) {
        self.close_console();
        for conn in self.conns.values_mut() {
            conn.flush();
        }
        if let Err(e) = self.sink.flush() {
            tracing::error!(error = %e, "flush container log");
        }
        // A successor shim for the same container (a restart) may already
        // have bound the path anew; remove only our own socket.
        if self.socket_id.is_some() && file_id(&self.cfg.socket) == self.socket_id {
            if let Err(e) = std::fs::remove_file(&self.cfg.socket) {
                tracing::debug!(error = %e, "remove socket");
            }
        }
        tracing::info!("shim exiting");
    }
}
