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

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use anyhow::Context;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use pier_runtime::Runtime;
use pier_shim_proto::{Ready, ShimConfig};
use pier_sys::reap::Reaped;
use pier_sys::signal::Signals;
use pier_sys::Signal;
use pier_time::now_nanos;

use crate::decide::View;
use crate::sink::{LogSink, Stream};

mod clients;
mod console;
mod exec;
mod invocations;
mod lifecycle;
mod output;
mod probe;
mod stdin;
mod streams;

use clients::Clients;
use console::{Console, Terminal};
use exec::Execs;
use invocations::{Invocation, Invocations};
use lifecycle::Lifecycle;
pub use output::Stdio3;
use output::{Output, ReadBuf};

const SIGNALS: Token = Token(0);
const STDOUT: Token = Token(1);
const STDERR: Token = Token(2);
const LISTENER: Token = Token(3);
/// The console socket; its one connection is `Token(5)`.
const CONSOLE: Token = Token(4);
/// The container's stdin (a pipe, or the terminal with `tty`), writable.
const STDIN: Token = Token(6);
/// The OOM notifier of the container's cgroup (`crate::oom`).
const OOM: Token = Token(7);
const FIRST_CLIENT: usize = 16;
/// Tokens of exec pipes: `EXEC_BASE + 4 * seq + pipe`.
const EXEC_BASE: usize = 1 << 40;

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
    /// The kernel's OOM killer struck the container's cgroup.
    Oom,
    /// An exec's pipe: 0 stdout, 1 stderr, 2 stdin.
    ExecPipe {
        seq: usize,
        pipe: usize,
    },
    Tick,
}

/// The shim: the loop's own sources (poll, signals), the container's
/// config, and one owned part per concern. A part's methods touch only
/// its fields; what spans parts is a method here that borrows the parts
/// it needs, field by field.
pub struct Shim {
    cfg: ShimConfig,
    poll: Poll,
    signals: Signals,
    /// The container's stdout and stderr (or terminal), and the log.
    output: Output,
    /// The one read buffer of every pipe and socket.
    buf: ReadBuf,
    /// The container's stdin (`open_stdin`), fed by attach streams.
    stdin: Option<stdin::StdinPipe>,
    /// The console socket and the pty master (`tty`).
    terminal: Terminal,
    /// The RPC socket and its connections, streams included.
    clients: Clients,
    execs: Execs,
    /// The runtime and its queue of invocations.
    invocations: Invocations,
    /// Phase, init, the start handshake, the exit.
    lifecycle: Lifecycle,
    /// The healthcheck's scheduler and its probe in flight.
    prober: probe::Prober,
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
        let mut clients = Clients::bind(&cfg.socket)?;
        let Stdio3 {
            stdout,
            stderr,
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
        let output = Output::new(stdout, stderr, sink, reg)?;
        let console = if cfg.tty {
            Some(Console::bind(&cfg.bundle.join("console.sock"), reg)?)
        } else {
            None
        };
        clients.register(reg)?;
        let run_on_start = cfg.run_on_start;
        Ok(Shim {
            lifecycle: Lifecycle::new(cfg.bundle.join("init.pid"), run_on_start),
            cfg,
            poll,
            signals,
            output,
            buf: ReadBuf::new(),
            stdin,
            terminal: Terminal::new(console),
            clients,
            execs: Execs::new(),
            invocations: Invocations::new(runtime, child, run_on_start),
            prober: probe::Prober::default(),
        })
    }

    /// Run `create` (or, with `run_on_start`, nothing yet), report on
    /// `ready`, and run until the container is gone and the shim may leave.
    pub fn run(mut self, ready: OwnedFd) -> anyhow::Result<()> {
        self.lifecycle.await_ready(ready);
        if self.lifecycle.phase == crate::decide::Phase::Pending {
            self.lifecycle.report(&Ready::Listening {
                shim_pid: pier_sys::process::pid().as_raw(),
            });
        }
        let mut events = Events::with_capacity(64);
        let mut batch = Vec::with_capacity(64);
        self.pump_invocations();
        while !self.lifecycle.is_over(self.clients.len()) {
            let deadline = [
                self.lifecycle.drain_deadline,
                self.invocations.deadline(),
                self.buf.trim_at(),
                self.prober.deadline(),
            ]
            .into_iter()
            .chain(self.execs.drain_deadlines())
            .flatten()
            .min();
            let mut timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            // Gzip of a rotated log file goes on in slices while idle.
            let background = self.output.has_background_work();
            if self.output.has_more() || background {
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
                OOM => Event::Oom,
                Token(t) if t >= EXEC_BASE => {
                    let (seq, pipe) = exec::of_token(t);
                    Event::ExecPipe { seq, pipe }
                }
                Token(id) => Event::Client {
                    id,
                    hup: e.is_write_closed(),
                },
            }));
            for stream in [Stream::Stdout, Stream::Stderr] {
                if self.output.take_more(stream) && !batch.contains(&Event::Output(stream)) {
                    batch.push(Event::Output(stream));
                }
            }
            if batch.is_empty() {
                batch.push(Event::Tick);
                if background {
                    self.output.do_background_work();
                }
            }
            for &ev in &batch {
                self.handle(ev)?;
            }
            self.invocations.kill_overdue();
            self.check_exec_drains();
            self.check_health();
            self.buf.trim_if_due();
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
            Event::Oom => self.on_oom(),
            Event::ExecPipe { seq, pipe: 2 } => self.stdin_writable(crate::feed::Source::Exec(seq)),
            Event::ExecPipe { seq, pipe } => {
                self.on_exec_output(seq, pipe, false);
            }
            Event::Tick => {}
        }
        Ok(())
    }

    fn view(&self) -> View {
        self.lifecycle.view(self.invocations.starting(), self.cfg.tty)
    }

    // --- signals and reaping -------------------------------------------

    fn on_signals(&mut self) -> anyhow::Result<()> {
        let mut reap = false;
        while let Some(sig) = self.signals.read().context("read signals")? {
            match sig {
                Signal::SIGCHLD => reap = true,
                other => {
                    tracing::info!(signal = %other, "shutting down once the container is gone");
                    self.lifecycle.shutdown = true;
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

    /// Route one exit: the runtime invocation in flight, init (or an exit
    /// during `create`), an exec, or an orphan.
    fn on_reaped(&mut self, r: Reaped, now: i64) {
        let pid = r.pid.as_raw();
        if let Some((inv, result)) = self.invocations.reaped(pid, r.status, &self.cfg.id) {
            self.invocation_done(inv, result);
            return;
        }
        if !self.lifecycle.reaped(r, now) && !self.reaped_exec(pid, r.status) {
            tracing::debug!(pid, status = ?r.status, "reaped orphan");
            self.execs.remember_orphan(pid, r.status);
        }
    }

    // --- OOM -------------------------------------------------------------

    /// Poll the cgroup's OOM notifier (once the container is created).
    fn watch_oom(&mut self) {
        if let Some(fd) = self.lifecycle.oom_notifier() {
            let raw = fd.as_raw_fd();
            if let Err(e) = self
                .poll
                .registry()
                .register(&mut SourceFd(&raw), OOM, Interest::READABLE)
            {
                tracing::warn!(error = %e, "register OOM notifier");
            }
        }
    }

    fn unwatch_oom(&mut self) {
        if let Some(fd) = self.lifecycle.stop_oom() {
            let _ = self.poll.registry().deregister(&mut SourceFd(&fd.as_raw_fd()));
        }
    }

    /// New OOM events: tell every `OomWait` that has not seen them.
    fn on_oom(&mut self) {
        let new = self.lifecycle.on_oom();
        if new > 0 {
            tracing::info!(
                events = new,
                total = self.lifecycle.oom_events(),
                "OOM killer struck the container"
            );
            self.answer_oom_waiters(false);
        }
    }

    /// Answer the parked `OomWait`s that see something new (all of them
    /// when the container is gone).
    fn answer_oom_waiters(&mut self, exited: bool) {
        let count = self.lifecycle.oom_events();
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.clients.oom_waiters)
            .into_iter()
            .partition(|&(_, seen)| exited || count > seen);
        self.clients.oom_waiters = keep;
        for (conn, _) in due {
            self.answer(conn, &pier_shim_proto::Response::Oom { count, exited });
        }
    }

    fn finish(&mut self) {
        self.close_console();
        self.clients.flush_all();
        self.output.flush();
        self.clients.remove_socket(&self.cfg.socket);
        tracing::info!("shim exiting");
    }
}
