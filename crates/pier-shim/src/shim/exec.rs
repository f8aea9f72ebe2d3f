//! Execs: `runtime exec --detach` through the invocation queue, the exec's
//! own pipes (or terminal) relayed to its stream, its exit collected by the
//! one reaper, its record kept until the shim exits.
//!
//! Output of an exec is not logged and has backpressure: while its stream
//! holds [`OUT_LIMIT`] unread bytes the shim stops reading the exec's pipes
//! (an exec is a pipe to its client, as `docker exec cmd > file` expects).
//! The stream ends once the process has exited and what was already in its
//! pipes is forwarded; a background child still holding them does not keep
//! it open (moby#33039). A terminal's last bytes may reach the master a
//! moment after the exit, so a terminal gets [`TTY_GRACE`] to say EOF.

use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mio::unix::pipe::Receiver;
use mio::{Interest, Token};
use pier_runtime::{ChildStdio, ExecOptions, RuntimeError};
use pier_shim_proto::{ErrorCode, ExecRequest, Response, StreamEnd};
use pier_sys::reap::ExitStatus;

use super::{console::is_terminal_eof, Invocation, Shim, EXEC_BASE};
use crate::failure;
use crate::feed::{self, Source, StdioStream, OUT_LIMIT};
use crate::sink::Stream;

/// How long a terminal may take to deliver its last output after the
/// exec'd process exited.
const TTY_GRACE: Duration = Duration::from_millis(100);

/// What one final drain reads at most per pipe (a chatty orphan must not
/// hold the loop).
const FINAL_DRAIN: usize = 4 * 1024 * 1024;

/// Exits reaped while an exec invocation ran, not yet matched to a pid.
const ORPHAN_MEMORY: usize = 64;

pub(super) struct Exec {
    pub(super) id: String,
    req: ExecRequest,
    /// 0 until the runtime has started it.
    pub(super) pid: i32,
    pub(super) exit_code: Option<i32>,
    conn: usize,
    /// stdout, stderr (a terminal is stdout).
    out: [Option<Receiver>; 2],
    pub(super) stdin: Option<super::stdin::StdinPipe>,
    terminal: Option<OwnedFd>,
    child: Option<ChildStdio>,
    console: Option<(PathBuf, UnixListener)>,
    /// The process exited; a terminal gets until then to reach EOF.
    pub(super) drain_until: Option<Instant>,
}

fn token(seq: usize, pipe: usize) -> Token {
    Token(EXEC_BASE + seq * 4 + pipe)
}

/// The exec sequence number and pipe index (0 stdout, 1 stderr, 2 stdin)
/// of a token.
pub(super) fn of_token(t: usize) -> (usize, usize) {
    ((t - EXEC_BASE) / 4, (t - EXEC_BASE) % 4)
}

impl Shim {
    /// Set up an exec's stdio and queue `runtime exec`.
    pub(super) fn start_exec(&mut self, conn: usize, req: ExecRequest) {
        if self.execs.values().any(|e| e.id == req.exec_id) {
            self.answer(
                conn,
                &Response::Error {
                    message: format!("exec {} already exists", req.exec_id),
                    code: ErrorCode::Invalid,
                },
            );
            return;
        }
        let seq = self.next_exec;
        self.next_exec += 1;
        match self.exec_stdio(seq, &req) {
            Ok(exec) => {
                self.execs.insert(seq, exec);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.busy = true;
                }
                self.queue.push_back(Invocation::Exec { conn, seq });
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

    fn exec_stdio(&mut self, seq: usize, req: &ExecRequest) -> anyhow::Result<Exec> {
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
        };
        if req.tty {
            let path = self.cfg.bundle.join(format!("x{seq}.sock"));
            let _ = std::fs::remove_file(&path);
            let listener = UnixListener::bind(&path).with_context(|| format!("bind {}", path.display()))?;
            listener
                .set_nonblocking(true)
                .context("set console socket nonblocking")?;
            exec.console = Some((path, listener));
            return Ok(exec);
        }
        if req.detach {
            return Ok(exec);
        }
        let registry = self.poll.registry();
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
            exec.stdin =
                Some(super::stdin::StdinPipe::new(p.write, registry, token(seq, 2)).context("register exec stdin")?);
            child.stdin = Stdio::from(p.read);
        }
        exec.child = Some(child);
        Ok(exec)
    }

    /// The argv and stdio of a queued exec.
    pub(super) fn exec_invocation(&mut self, seq: usize) -> Option<(Vec<std::ffi::OsString>, ChildStdio)> {
        let exec = self.execs.get_mut(&seq)?;
        self.orphans.clear();
        let opts = ExecOptions {
            process: exec.req.process.clone(),
            pid_file: self.cfg.bundle.join(format!("exec-{}.pid", exec.id)),
            console_socket: exec.console.as_ref().map(|(p, _)| p.clone()),
        };
        let stdio = exec.child.take().unwrap_or_else(ChildStdio::null);
        Some((self.runtime.exec_args(&self.cfg.id, &opts), stdio))
    }

    /// `runtime exec` ended.
    pub(super) fn exec_done(&mut self, conn: usize, seq: usize, result: Result<(), RuntimeError>) {
        let pid_file = self
            .execs
            .get(&seq)
            .map(|e| self.cfg.bundle.join(format!("exec-{}.pid", e.id)));
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
                if let Some(mut exec) = self.execs.remove(&seq) {
                    self.close_exec_io(&mut exec);
                }
                self.answer(conn, &Response::Error { message, code });
                return;
            }
        };
        if let Err(e) = self.take_exec_terminal(seq) {
            tracing::error!(error = format!("{e:#}"), "set up exec terminal");
        }
        let Some(exec) = self.execs.get_mut(&seq) else {
            return;
        };
        exec.pid = pid;
        exec.conn = conn;
        tracing::info!(pid, exec = %exec.id, "exec started");
        let st = (!exec.req.detach).then(|| {
            StdioStream::new(
                Source::Exec(seq),
                exec.req.stdout || exec.req.tty,
                exec.req.stderr,
                exec.req.stdin,
            )
        });
        let early = self.orphans.iter().position(|&(p, _)| p == pid);
        let reply = Response::ExecStarted { pid };
        match st {
            Some(st) => self.start_stream(conn, st, &reply),
            None => self.answer(conn, &reply),
        }
        // Drain what the process wrote before the stream existed.
        self.on_exec_output(seq, 0, false);
        self.on_exec_output(seq, 1, false);
        if let Some(i) = early {
            if let Some((_, status)) = self.orphans.remove(i) {
                self.exec_exited(seq, status);
            }
        }
    }

    /// With a terminal: take the master the runtime sent, size it, and use
    /// it for output (and input with `stdin`).
    fn take_exec_terminal(&mut self, seq: usize) -> anyhow::Result<()> {
        use anyhow::Context;
        let registry = self.poll.registry();
        let Some(exec) = self.execs.get_mut(&seq) else {
            return Ok(());
        };
        let Some((path, listener)) = exec.console.take() else {
            return Ok(());
        };
        let _ = std::fs::remove_file(&path);
        // The runtime has exited, so its connection and the fd are queued.
        let (conn, _) = listener.accept().context("accept exec console connection")?;
        let mut name = [0u8; 256];
        let (_, mut fds) = pier_sys::scm::recv_fds(conn.as_fd(), &mut name).context("receive exec terminal")?;
        anyhow::ensure!(!fds.is_empty(), "the runtime sent no terminal");
        let master = fds.swap_remove(0);
        if let Some((h, w)) = exec.req.console_size {
            pier_sys::term::set_window_size(master.as_fd(), h, w).context("size exec terminal")?;
        }
        exec.terminal = Some(master.try_clone().context("dup exec terminal")?);
        if exec.req.stdin && !exec.req.detach {
            let input = master.try_clone().context("dup exec terminal")?;
            exec.stdin = Some(
                super::stdin::StdinPipe::new(input, registry, token(seq, 2)).context("register exec terminal input")?,
            );
        }
        let mut rx = Receiver::from(master);
        rx.set_nonblocking(true).context("set exec terminal nonblocking")?;
        registry
            .register(&mut rx, token(seq, 0), Interest::READABLE)
            .context("register exec terminal")?;
        exec.out[0] = Some(rx);
        Ok(())
    }

    /// An exec's output pipe is readable (or its stream has room again).
    /// `last`: the process has exited; read what is there regardless of
    /// the stream's backlog.
    pub(super) fn on_exec_output(&mut self, seq: usize, pipe: usize, last: bool) -> bool {
        let mut buf = std::mem::take(&mut self.buf);
        let mut eof = false;
        let mut read = 0;
        let stream = if pipe == 0 { Stream::Stdout } else { Stream::Stderr };
        while let Some(exec) = self.execs.get_mut(&seq) {
            if exec.pid == 0 {
                // Not started: keep what comes for the stream to be.
                break;
            }
            let conn = self.conns.get_mut(&exec.conn).filter(|c| c.stdio.is_some());
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
        self.buf = buf;
        self.trim_at = Some(Instant::now() + super::TRIM_AFTER);
        if eof {
            if let Some(exec) = self.execs.get_mut(&seq) {
                if let Some(mut rx) = exec.out.get_mut(pipe).and_then(Option::take) {
                    let _ = self.poll.registry().deregister(&mut rx);
                }
            }
        }
        eof
    }

    /// The reaper collected an exec's process.
    pub(super) fn exec_exited(&mut self, seq: usize, status: ExitStatus) {
        let Some(exec) = self.execs.get_mut(&seq) else {
            return;
        };
        exec.exit_code = Some(status.code());
        tracing::info!(pid = exec.pid, exec = %exec.id, ?status, "exec exited");
        let tty = exec.req.tty;
        let out_eof = self.on_exec_output(seq, 0, true);
        self.on_exec_output(seq, 1, true);
        if tty && !out_eof {
            if let Some(exec) = self.execs.get_mut(&seq) {
                exec.drain_until = Some(Instant::now() + TTY_GRACE);
            }
            return;
        }
        self.end_exec(seq);
    }

    /// Terminals whose grace ran out, or that reached EOF, end.
    pub(super) fn check_exec_drains(&mut self) {
        let now = Instant::now();
        let due: Vec<usize> = self
            .execs
            .iter()
            .filter(|(_, e)| e.drain_until.is_some_and(|d| now >= d || e.out[0].is_none()))
            .map(|(&s, _)| s)
            .collect();
        for seq in due {
            self.on_exec_output(seq, 0, true);
            self.end_exec(seq);
        }
    }

    /// Close the exec's stdio and end its stream with the exit code.
    fn end_exec(&mut self, seq: usize) {
        let Some(mut exec) = self.execs.remove(&seq) else {
            return;
        };
        exec.drain_until = None;
        self.close_exec_io(&mut exec);
        let (conn, exit_code) = (exec.conn, exec.exit_code);
        self.execs.insert(seq, exec);
        if let Some(st) = self.conns.get_mut(&conn).and_then(|c| c.stdio.as_mut()) {
            if st.source == Source::Exec(seq) {
                st.end = Some(StreamEnd { exit_code });
            }
        }
        self.progress_stream(conn);
        self.reap_conn(conn);
    }

    fn close_exec_io(&mut self, exec: &mut Exec) {
        let registry = self.poll.registry();
        for rx in exec.out.iter_mut() {
            if let Some(mut rx) = rx.take() {
                let _ = registry.deregister(&mut rx);
            }
        }
        if let Some(stdin) = exec.stdin.as_mut() {
            stdin.shut(registry);
        }
        exec.stdin = None;
        exec.terminal = None;
        exec.child = None;
        if let Some((path, _)) = exec.console.take() {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Route a reaped pid to its exec; false if it is none of theirs.
    pub(super) fn reaped_exec(&mut self, pid: i32, status: ExitStatus) -> bool {
        let seq = self
            .execs
            .iter()
            .find(|(_, e)| e.pid == pid && e.exit_code.is_none())
            .map(|(&s, _)| s);
        match seq {
            Some(seq) => {
                self.exec_exited(seq, status);
                true
            }
            None => false,
        }
    }

    /// An exit nobody claimed: maybe an exec whose runtime has not
    /// returned yet.
    pub(super) fn remember_orphan(&mut self, pid: i32, status: ExitStatus) {
        if self.orphans.len() == ORPHAN_MEMORY {
            self.orphans.pop_front();
        }
        self.orphans.push_back((pid, status));
    }

    pub(super) fn exec_state(&self, exec_id: &str) -> Response {
        match self.execs.values().find(|e| e.id == exec_id) {
            Some(e) => Response::ExecState(crate::decide::exec_info(e.pid, e.exit_code)),
            None => Response::Error {
                message: format!("no such exec: {exec_id}"),
                code: ErrorCode::NotFound,
            },
        }
    }

    pub(super) fn resize(&mut self, exec_id: Option<&str>, height: u16, width: u16) -> Response {
        let terminal = match exec_id {
            None => self.terminal.as_ref(),
            Some(id) => match self.execs.values_mut().find(|e| e.id == id) {
                None => {
                    return Response::Error {
                        message: format!("no such exec: {id}"),
                        code: ErrorCode::NotFound,
                    }
                }
                Some(e) if e.pid == 0 && e.req.tty => {
                    e.req.console_size = Some((height, width));
                    return Response::Ok;
                }
                Some(e) => e.terminal.as_ref(),
            },
        };
        let Some(terminal) = terminal else {
            return Response::Error {
                message: "no terminal to resize".to_owned(),
                code: ErrorCode::Invalid,
            };
        };
        match pier_sys::term::set_window_size(terminal.as_fd(), height, width) {
            Ok(()) => Response::Ok,
            Err(e) => Response::Error {
                message: format!("resize terminal: {e}"),
                code: ErrorCode::Internal,
            },
        }
    }

    /// A stream conn has room again: resume its exec's output.
    pub(super) fn exec_stream_writable(&mut self, seq: usize) {
        if self.execs.get(&seq).is_some_and(|e| e.exit_code.is_none()) {
            self.on_exec_output(seq, 0, false);
            self.on_exec_output(seq, 1, false);
        }
    }
}
