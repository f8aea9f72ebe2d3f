//! Execs: `runtime exec --detach` through the invocation queue, the exec's
//! own pipes (or terminal) relayed to its stream, its exit collected by the
//! one reaper, its record kept for its exit code: the last
//! [`KEEP_FINISHED`] ended execs are kept (pierd learns an exit when it
//! happens: from the stream's end, or a parked `ExecWait`), so a container
//! exec'd every few seconds for weeks does not grow its shim.
//!
//! Output of an exec is not logged and has backpressure: while its stream
//! holds [`OUT_LIMIT`] unread bytes the shim stops reading the exec's pipes
//! (an exec is a pipe to its client, as `docker exec cmd > file` expects).
//! The stream ends once the process has exited and what was already in its
//! pipes is forwarded; a background child still holding them does not keep
//! it open (moby#33039). A terminal's last bytes may reach the master a
//! moment after the exit, so a terminal gets [`TTY_GRACE`] to say EOF.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mio::unix::pipe::Receiver;
use mio::{Interest, Registry, Token};
use pier_runtime::{ChildStdio, ExecOptions, Runtime, RuntimeError};
use pier_shim_proto::{ErrorCode, ExecRequest, Response, ShimConfig, StreamEnd};
use pier_sys::reap::ExitStatus;

use super::console::{self, is_terminal_eof};
use super::probe::PROBE_CONN;
use super::stdin::StdinPipe;
use super::{Invocation, Shim, EXEC_BASE};
use crate::failure;
use crate::feed::{self, Source, StdioStream, OUT_LIMIT};
use crate::health::ProbeOutput;
use crate::sink::Stream;

/// How long a terminal may take to deliver its last output after the
/// exec'd process exited.
const TTY_GRACE: Duration = Duration::from_millis(100);

/// What one final drain reads at most per pipe (a chatty orphan must not
/// hold the loop).
const FINAL_DRAIN: usize = 4 * 1024 * 1024;

/// Exits reaped while an exec invocation ran, not yet matched to a pid.
const ORPHAN_MEMORY: usize = 64;

/// Ended execs whose records (exit codes) are kept; older ones are dropped.
const KEEP_FINISHED: usize = 64;

pub(super) struct Exec {
    id: String,
    req: ExecRequest,
    /// 0 until the runtime has started it.
    pid: i32,
    exit_code: Option<i32>,
    conn: usize,
    /// stdout, stderr (a terminal is stdout).
    out: [Option<Receiver>; 2],
    stdin: Option<StdinPipe>,
    terminal: Option<OwnedFd>,
    child: Option<ChildStdio>,
    console: Option<(PathBuf, UnixListener)>,
    /// The process exited; a terminal gets until then to reach EOF.
    drain_until: Option<Instant>,
    /// A health probe's output (a probe has no stream; see `super::probe`).
    pub(super) probe: Option<ProbeOutput>,
}

fn token(seq: usize, pipe: usize) -> Token {
    Token(EXEC_BASE + seq * 4 + pipe)
}

/// The exec sequence number and pipe index (0 stdout, 1 stderr, 2 stdin)
/// of a token.
pub(super) fn of_token(t: usize) -> (usize, usize) {
    ((t - EXEC_BASE) / 4, (t - EXEC_BASE) % 4)
}

fn pid_file(bundle: &Path, exec_id: &str) -> PathBuf {
    bundle.join(format!("exec-{exec_id}.pid"))
}

impl Exec {
    /// The exec's stdio before `runtime exec`: pipes, or a console socket
    /// for its terminal.
    pub(super) fn open(seq: usize, req: &ExecRequest, bundle: &Path, registry: &Registry) -> anyhow::Result<Exec> {
        use anyhow::Context;
        let mut exec = Exec {
            id: req.exec_id.clone(),
            req: req.clone(),
            pid: 0,
            exit_code: None,
            conn: 0,
            out: [None, None],
            stdin: None,
            terminal: None,
            child: Some(ChildStdio::null()),
            console: None,
            drain_until: None,
            probe: None,
        };
        if req.tty {
            let path = bundle.join(format!("x{seq}.sock"));
            let _ = std::fs::remove_file(&path);
            let listener = crate::peer::bind(&path, |p| UnixListener::bind(p))
                .with_context(|| format!("bind {}", path.display()))?;
            listener
                .set_nonblocking(true)
                .context("set console socket nonblocking")?;
            exec.console = Some((path, listener));
            return Ok(exec);
        }
        if req.detach {
            return Ok(exec);
        }
        let mut child = ChildStdio::null();
        for (i, wanted) in [req.stdout, req.stderr].into_iter().enumerate() {
            if !wanted {
                continue;
            }
            let p = pier_sys::fd::pipe().context("create exec output pipe")?;
            let mut rx = Receiver::from(p.read);
            rx.set_nonblocking(true).context("set exec pipe nonblocking")?;
            registry
                .register(&mut rx, token(seq, i), Interest::READABLE)
                .context("register exec pipe")?;
            exec.out[i] = Some(rx);
            if i == 0 {
                child.stdout = Stdio::from(p.write);
            } else {
                child.stderr = Stdio::from(p.write);
            }
        }
        if req.stdin {
            let p = pier_sys::fd::pipe().context("create exec stdin pipe")?;
            exec.stdin = Some(StdinPipe::new(p.write, registry, token(seq, 2)).context("register exec stdin")?);
            child.stdin = Stdio::from(p.read);
        }
        exec.child = Some(child);
        Ok(exec)
    }

    /// With a terminal: take the master the runtime sent, size it, and use
    /// it for output (and input with `stdin`).
    fn take_terminal(&mut self, seq: usize, registry: &Registry) -> anyhow::Result<()> {
        use anyhow::Context;
        let Some((path, listener)) = self.console.take() else {
            return Ok(());
        };
        let _ = std::fs::remove_file(&path);
        // The runtime has exited, so its connection and the fd are queued.
        let conn = loop {
            let (conn, _) = listener.accept().context("accept exec console connection")?;
            if crate::peer::admit(&conn, "exec console") {
                break conn;
            }
        };
        let mut name = [0u8; 256];
        let (_, mut fds) = pier_sys::scm::recv_fds(conn.as_fd(), &mut name).context("receive exec terminal")?;
        anyhow::ensure!(!fds.is_empty(), "the runtime sent no terminal");
        let master = fds.swap_remove(0);
        if let Some((h, w)) = self.req.console_size {
            pier_sys::term::set_window_size(master.as_fd(), h, w).context("size exec terminal")?;
        }
        self.terminal = Some(master.try_clone().context("dup exec terminal")?);
        if self.req.stdin && !self.req.detach {
            let input = master.try_clone().context("dup exec terminal")?;
            self.stdin = Some(StdinPipe::new(input, registry, token(seq, 2)).context("register exec terminal input")?);
        }
        let mut rx = Receiver::from(master);
        rx.set_nonblocking(true).context("set exec terminal nonblocking")?;
        registry
            .register(&mut rx, token(seq, 0), Interest::READABLE)
            .context("register exec terminal")?;
        self.out[0] = Some(rx);
        Ok(())
    }

    fn close_io(&mut self, registry: &Registry) {
        for rx in self.out.iter_mut() {
            if let Some(mut rx) = rx.take() {
                let _ = registry.deregister(&mut rx);
            }
        }
        if let Some(stdin) = self.stdin.as_mut() {
            stdin.shut(registry);
        }
        self.stdin = None;
        self.terminal = None;
        self.child = None;
        if let Some((path, _)) = self.console.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The container's execs by sequence number (running ones and the last
/// [`KEEP_FINISHED`] ended ones, for their exit codes), and exits not
/// matched to one yet.
pub(super) struct Execs {
    pub(super) by_seq: BTreeMap<usize, Exec>,
    next_seq: usize,
    /// Ended execs, oldest first.
    finished: VecDeque<usize>,
    /// Exits reaped while an exec invocation ran, matched once its pid is
    /// known.
    orphans: VecDeque<(i32, ExitStatus)>,
}

impl Execs {
    pub(super) fn new() -> Execs {
        Execs {
            by_seq: BTreeMap::new(),
            next_seq: 0,
            finished: VecDeque::new(),
            orphans: VecDeque::new(),
        }
    }

    /// Exec `seq` has ended and its stream has its exit code: keep its
    /// record among the last [`KEEP_FINISHED`], dropping the oldest.
    fn ended(&mut self, seq: usize) {
        if self.finished.contains(&seq) {
            return;
        }
        self.finished.push_back(seq);
        while self.finished.len() > KEEP_FINISHED {
            if let Some(old) = self.finished.pop_front() {
                self.by_seq.remove(&old);
            }
        }
    }

    fn get(&self, seq: usize) -> Option<&Exec> {
        self.by_seq.get(&seq)
    }

    fn get_mut(&mut self, seq: usize) -> Option<&mut Exec> {
        self.by_seq.get_mut(&seq)
    }

    /// The stdin an exec's stream writes to.
    pub(super) fn stdin_mut(&mut self, seq: usize) -> Option<&mut StdinPipe> {
        self.get_mut(seq).and_then(|e| e.stdin.as_mut())
    }

    /// When terminals of exited execs must have said EOF.
    pub(super) fn drain_deadlines(&self) -> impl Iterator<Item = Option<Instant>> + '_ {
        self.by_seq.values().map(|e| e.drain_until)
    }

    /// Exited execs whose terminal reached EOF or whose grace ran out.
    fn drained(&self, now: Instant) -> Vec<usize> {
        self.by_seq
            .iter()
            .filter(|(_, e)| e.drain_until.is_some_and(|d| now >= d || e.out[0].is_none()))
            .map(|(&s, _)| s)
            .collect()
    }

    fn contains(&self, exec_id: &str) -> bool {
        self.by_seq.values().any(|e| e.id == exec_id)
    }

    /// The pid of exec `seq` (0: not started yet).
    pub(super) fn pid_of(&self, seq: usize) -> i32 {
        self.get(seq).map_or(0, |e| e.pid)
    }

    /// The sequence number of a new exec.
    pub(super) fn next_seq(&mut self) -> usize {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// The argv and stdio of a queued exec.
    pub(super) fn invocation(
        &mut self,
        seq: usize,
        cfg: &ShimConfig,
        runtime: &Runtime,
    ) -> Option<(Vec<std::ffi::OsString>, ChildStdio)> {
        let exec = self.by_seq.get_mut(&seq)?;
        self.orphans.clear();
        let opts = ExecOptions {
            process: exec.req.process.clone(),
            pid_file: pid_file(&cfg.bundle, &exec.id),
            console_socket: exec.console.as_ref().map(|(p, _)| p.clone()),
        };
        let stdio = exec.child.take().unwrap_or_else(ChildStdio::null);
        Some((runtime.exec_args(&cfg.id, &opts), stdio))
    }

    /// The exec still running as `pid`.
    fn running(&self, pid: i32) -> Option<usize> {
        self.by_seq
            .iter()
            .find(|(_, e)| e.pid == pid && e.exit_code.is_none())
            .map(|(&s, _)| s)
    }

    /// An exit nobody claimed: maybe an exec whose runtime has not
    /// returned yet.
    pub(super) fn remember_orphan(&mut self, pid: i32, status: ExitStatus) {
        if self.orphans.len() == ORPHAN_MEMORY {
            self.orphans.pop_front();
        }
        self.orphans.push_back((pid, status));
    }

    /// The exit of `pid` if it came before its exec was known to run.
    fn take_orphan(&mut self, pid: i32) -> Option<ExitStatus> {
        let i = self.orphans.iter().position(|&(p, _)| p == pid)?;
        self.orphans.remove(i).map(|(_, status)| status)
    }

    /// `None`: no such exec; `Some(None)`: it has not exited.
    pub(super) fn exit_of(&self, exec_id: &str) -> Option<Option<i32>> {
        self.by_seq.values().find(|e| e.id == exec_id).map(|e| e.exit_code)
    }

    pub(super) fn state(&self, exec_id: &str) -> Response {
        match self.by_seq.values().find(|e| e.id == exec_id) {
            Some(e) => Response::ExecState(crate::decide::exec_info(e.pid, e.exit_code)),
            None => Response::Error {
                message: format!("no such exec: {exec_id}"),
                code: ErrorCode::NotFound,
            },
        }
    }

    /// Size an exec's terminal (or remember the size until it has one).
    pub(super) fn resize(&mut self, exec_id: &str, height: u16, width: u16) -> Response {
        match self.by_seq.values_mut().find(|e| e.id == exec_id) {
            None => Response::Error {
                message: format!("no such exec: {exec_id}"),
                code: ErrorCode::NotFound,
            },
            Some(e) if e.pid == 0 && e.req.tty => {
                e.req.console_size = Some((height, width));
                Response::Ok
            }
            Some(e) => console::resize(e.terminal.as_ref(), height, width),
        }
    }
}

impl Shim {
    /// Set up an exec's stdio and queue `runtime exec`.
    pub(super) fn start_exec(&mut self, conn: usize, req: ExecRequest) {
        if self.execs.contains(&req.exec_id) {
            self.answer(
                conn,
                &Response::Error {
                    message: format!("exec {} already exists", req.exec_id),
                    code: ErrorCode::Invalid,
                },
            );
            return;
        }
        let seq = self.execs.next_seq();
        match Exec::open(seq, &req, &self.cfg.bundle, self.poll.registry()) {
            Ok(exec) => {
                self.execs.by_seq.insert(seq, exec);
                if let Some(c) = self.clients.conns.get_mut(&conn) {
                    c.busy = true;
                }
                self.invocations.push(Invocation::Exec { conn, seq });
            }
            Err(e) => self.answer(
                conn,
                &Response::Error {
                    message: format!("set up exec stdio: {e:#}"),
                    code: ErrorCode::Internal,
                },
            ),
        }
    }

    /// `runtime exec` ended.
    pub(super) fn exec_done(&mut self, conn: usize, seq: usize, result: Result<(), RuntimeError>) {
        let pid_file = self.execs.get(seq).map(|e| pid_file(&self.cfg.bundle, &e.id));
        let started = result.map_err(|e| (failure::code_of(&e), failure::message_of(&e)));
        let internal = |m: String| (ErrorCode::Internal, m);
        let pid = started.and_then(|()| {
            let path = pid_file.ok_or_else(|| internal("exec record lost".to_owned()))?;
            let text = std::fs::read_to_string(&path).map_err(|e| internal(format!("read {}: {e}", path.display())))?;
            let _ = std::fs::remove_file(&path);
            text.trim()
                .parse::<i32>()
                .map_err(|e| internal(format!("parse {}: {e}", path.display())))
        });
        let pid = match pid {
            Ok(pid) => pid,
            Err((code, message)) => {
                tracing::warn!(reason = %message, %code, "exec failed");
                if let Some(mut exec) = self.execs.by_seq.remove(&seq) {
                    exec.close_io(self.poll.registry());
                }
                if conn == PROBE_CONN {
                    self.probe_ended(seq, None, message);
                } else {
                    self.answer(conn, &Response::Error { message, code });
                }
                return;
            }
        };
        let Some(exec) = self.execs.get_mut(seq) else {
            return;
        };
        if let Err(e) = exec.take_terminal(seq, self.poll.registry()) {
            tracing::error!(error = format!("{e:#}"), "set up exec terminal");
        }
        exec.pid = pid;
        exec.conn = conn;
        if conn == PROBE_CONN {
            tracing::debug!(pid, exec = %exec.id, "health probe started");
            let early = self.execs.take_orphan(pid);
            self.on_exec_output(seq, 0, false);
            self.on_exec_output(seq, 1, false);
            self.probe_started(seq);
            if let Some(status) = early {
                self.exec_exited(seq, status);
            }
            return;
        }
        tracing::info!(pid, exec = %exec.id, "exec started");
        let st = (!exec.req.detach).then(|| {
            StdioStream::new(
                Source::Exec(seq),
                exec.req.stdout || exec.req.tty,
                exec.req.stderr,
                exec.req.stdin,
            )
        });
        let early = self.execs.take_orphan(pid);
        let reply = Response::ExecStarted { pid };
        match st {
            Some(st) => self.start_stream(conn, st, &reply),
            None => self.answer(conn, &reply),
        }
        // Drain what the process wrote before the stream existed.
        self.on_exec_output(seq, 0, false);
        self.on_exec_output(seq, 1, false);
        if let Some(status) = early {
            self.exec_exited(seq, status);
        }
    }

    /// An exec's output pipe is readable (or its stream has room again).
    /// `last`: the process has exited; read what is there regardless of
    /// the stream's backlog.
    pub(super) fn on_exec_output(&mut self, seq: usize, pipe: usize, last: bool) -> bool {
        let mut buf = self.buf.take();
        let mut eof = false;
        let mut read = 0;
        let stream = if pipe == 0 { Stream::Stdout } else { Stream::Stderr };
        while let Some(exec) = self.execs.get_mut(seq) {
            if exec.pid == 0 {
                // Not started: keep what comes for the stream to be.
                break;
            }
            let conn = self.clients.conns.get_mut(&exec.conn).filter(|c| c.stdio.is_some());
            let Some(rx) = exec.out.get_mut(pipe).and_then(Option::as_mut) else {
                eof = true;
                break;
            };
            if !last && conn.as_ref().is_some_and(|c| c.queued() >= OUT_LIMIT) {
                break;
            }
            if last && read >= FINAL_DRAIN {
                break;
            }
            match rx.read(&mut buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    read += n;
                    if let Some(p) = exec.probe.as_mut() {
                        p.push(&buf[..n]);
                    }
                    if let Some(c) = conn {
                        if c.stdio.as_ref().is_some_and(|st| st.wants(stream)) {
                            c.send_frame(feed::kind(stream), &buf[..n]);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_terminal_eof(&e) => {
                    eof = true;
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "read exec output");
                    eof = true;
                    break;
                }
            }
        }
        self.buf.restore(buf);
        self.buf.schedule_trim();
        if eof {
            if let Some(exec) = self.execs.get_mut(seq) {
                if let Some(mut rx) = exec.out.get_mut(pipe).and_then(Option::take) {
                    let _ = self.poll.registry().deregister(&mut rx);
                }
            }
        }
        eof
    }

    /// The reaper collected an exec's process.
    pub(super) fn exec_exited(&mut self, seq: usize, status: ExitStatus) {
        let Some(exec) = self.execs.get_mut(seq) else {
            return;
        };
        exec.exit_code = Some(status.code());
        let waited = exec.probe.is_none().then(|| exec.id.clone());
        if exec.probe.is_none() {
            tracing::info!(pid = exec.pid, exec = %exec.id, ?status, "exec exited");
        }
        let tty = exec.req.tty;
        if let Some(id) = waited {
            let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.clients.exec_waiters)
                .into_iter()
                .partition(|(_, e)| *e == id);
            self.clients.exec_waiters = keep;
            let state = self.execs.state(&id);
            for (conn, _) in due {
                self.answer(conn, &state);
            }
        }
        let out_eof = self.on_exec_output(seq, 0, true);
        self.on_exec_output(seq, 1, true);
        if tty && !out_eof {
            if let Some(exec) = self.execs.get_mut(seq) {
                exec.drain_until = Some(Instant::now() + TTY_GRACE);
            }
            return;
        }
        self.end_exec(seq);
    }

    /// Terminals whose grace ran out, or that reached EOF, end.
    pub(super) fn check_exec_drains(&mut self) {
        for seq in self.execs.drained(Instant::now()) {
            self.on_exec_output(seq, 0, true);
            self.end_exec(seq);
        }
    }

    /// Close the exec's stdio and end its stream with the exit code.
    fn end_exec(&mut self, seq: usize) {
        let Some(exec) = self.execs.get_mut(seq) else {
            return;
        };
        exec.drain_until = None;
        exec.close_io(self.poll.registry());
        if let Some(out) = exec.probe.take() {
            let exit_code = exec.exit_code;
            self.execs.by_seq.remove(&seq);
            self.probe_ended(seq, exit_code, out.text());
            return;
        }
        let (conn, exit_code) = (exec.conn, exec.exit_code);
        if let Some(st) = self.clients.conns.get_mut(&conn).and_then(|c| c.stdio.as_mut()) {
            if st.source == Source::Exec(seq) {
                st.end = Some(StreamEnd { exit_code });
            }
        }
        self.clients.progress(conn, &self.output);
        self.reap_conn(conn);
        self.execs.ended(seq);
    }

    /// Route a reaped pid to its exec; false if it is none of theirs.
    pub(super) fn reaped_exec(&mut self, pid: i32, status: ExitStatus) -> bool {
        match self.execs.running(pid) {
            Some(seq) => {
                self.exec_exited(seq, status);
                true
            }
            None => false,
        }
    }

    /// A stream conn has room again: resume its exec's output.
    pub(super) fn exec_stream_writable(&mut self, seq: usize) {
        if self.execs.get(seq).is_some_and(|e| e.exit_code.is_none()) {
            self.on_exec_output(seq, 0, false);
            self.on_exec_output(seq, 1, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended_exec(id: &str) -> Exec {
        Exec {
            id: id.to_string(),
            req: ExecRequest {
                exec_id: id.to_string(),
                process: PathBuf::from("/nonexistent"),
                tty: false,
                stdin: false,
                stdout: true,
                stderr: true,
                detach: false,
                console_size: None,
            },
            pid: 100,
            exit_code: Some(0),
            conn: 0,
            out: [None, None],
            stdin: None,
            terminal: None,
            child: None,
            console: None,
            drain_until: None,
            probe: None,
        }
    }

    #[test]
    fn only_the_last_ended_execs_are_kept() {
        let mut execs = Execs::new();
        let running = execs.next_seq();
        let mut r = ended_exec("running");
        r.exit_code = None;
        execs.by_seq.insert(running, r);
        for i in 0..KEEP_FINISHED + 10 {
            let seq = execs.next_seq();
            execs.by_seq.insert(seq, ended_exec(&format!("e{i}")));
            execs.ended(seq);
            // Ending twice (a drain and an exit) counts once.
            execs.ended(seq);
        }
        assert_eq!(execs.by_seq.len(), KEEP_FINISHED + 1);
        assert_eq!(execs.exit_of("running"), Some(None));
        assert_eq!(execs.exit_of("e9"), None);
        assert_eq!(execs.exit_of("e10"), Some(Some(0)));
        assert_eq!(execs.exit_of(&format!("e{}", KEEP_FINISHED + 9)), Some(Some(0)));
    }
}
