//! Runtime invocations: a queue run one at a time, each collected by the
//! reaper and routed back here by pid.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::time::{Duration, Instant};

use pier_runtime::{ChildStdio, CreateOptions, Failure, Op, Runtime, RuntimeError};
use pier_shim_proto::{ErrorCode, ExitRecord, Ready, Response};
use pier_sys::reap::ExitStatus;
use pier_sys::Signal;
use pier_time::now_nanos;

use super::Shim;
use crate::decide::{ClientOp, Phase};
use crate::failure;
use crate::sink::Stream;

/// A runtime invocation still running after this long is killed.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(120);

/// A runtime invocation, queued or in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Invocation {
    Create,
    /// `Start` of a shim with `run_on_start`: `runtime run --detach`.
    Run {
        conn: usize,
    },
    Client {
        conn: usize,
        op: ClientOp,
    },
    Exec {
        conn: usize,
        seq: usize,
    },
    Delete,
}

/// The runtime invocation running now.
#[derive(Debug, Clone)]
struct InFlight {
    pid: i32,
    inv: Invocation,
    deadline: Instant,
    timed_out: bool,
}

/// The runtime and what it is asked to do: one invocation at a time.
pub(super) struct Invocations {
    pub(super) runtime: Runtime,
    queue: VecDeque<Invocation>,
    in_flight: Option<InFlight>,
    /// The container's ends of its stdio, until `create` (or `run`) is
    /// spawned.
    child_stdio: Option<ChildStdio>,
}

impl Invocations {
    /// `create` comes first, unless the container is made by `run` at
    /// `Start`.
    pub(super) fn new(runtime: Runtime, child_stdio: Option<ChildStdio>, run_on_start: bool) -> Invocations {
        let queue = if run_on_start {
            VecDeque::new()
        } else {
            VecDeque::from([Invocation::Create])
        };
        Invocations {
            runtime,
            queue,
            in_flight: None,
            child_stdio,
        }
    }

    pub(super) fn push(&mut self, inv: Invocation) {
        self.queue.push_back(inv);
    }

    /// The next invocation to run, if none is running.
    fn next(&mut self) -> Option<Invocation> {
        if self.in_flight.is_some() {
            return None;
        }
        self.queue.pop_front()
    }

    /// Start `inv`; it is in flight until its pid is reaped.
    fn spawn(&mut self, inv: Invocation, args: &[OsString], stdio: ChildStdio) -> Result<(), RuntimeError> {
        self.runtime.reset_log()?;
        let pid = self.runtime.spawn(args, stdio)?;
        tracing::debug!(pid, ?inv, "runtime invocation started");
        self.in_flight = Some(InFlight {
            pid: pid as i32,
            inv,
            deadline: Instant::now() + INVOCATION_TIMEOUT,
            timed_out: false,
        });
        Ok(())
    }

    /// The invocation in flight and its result, if `pid` was it.
    pub(super) fn reaped(
        &mut self,
        pid: i32,
        status: ExitStatus,
        id: &str,
    ) -> Option<(Invocation, Result<(), RuntimeError>)> {
        if self.in_flight.as_ref()?.pid != pid {
            return None;
        }
        let f = self.in_flight.take()?;
        let result = if f.timed_out {
            Err(RuntimeError::TimedOut {
                op: op_of(&f.inv),
                id: id.to_owned(),
                after: INVOCATION_TIMEOUT,
            })
        } else {
            self.runtime
                .check(op_of(&f.inv), id, status.success(), &status_text(status))
        };
        Some((f.inv, result))
    }

    /// When the invocation in flight overruns.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.in_flight.as_ref().map(|f| f.deadline)
    }

    /// Kill a runtime invocation that overran; its reaping reports it.
    pub(super) fn kill_overdue(&mut self) {
        let Some(f) = self.in_flight.as_mut() else {
            return;
        };
        if f.timed_out || Instant::now() < f.deadline {
            return;
        }
        tracing::error!(pid = f.pid, inv = ?f.inv, "runtime invocation timed out; killing it");
        f.timed_out = true;
        let pid = pier_sys::Pid::from_raw(f.pid);
        if let Err(e) = pier_sys::process::kill(pid, Signal::SIGKILL) {
            tracing::error!(error = %e, "kill runtime invocation");
        }
    }

    /// A `start` is running or queued.
    pub(super) fn starting(&self) -> bool {
        self.in_flight
            .iter()
            .map(|f| &f.inv)
            .chain(self.queue.iter())
            .any(|inv| {
                matches!(
                    inv,
                    Invocation::Run { .. }
                        | Invocation::Client {
                            op: ClientOp::Start,
                            ..
                        }
                )
            })
    }
}

impl Shim {
    pub(super) fn pump_invocations(&mut self) {
        while let Some(inv) = self.invocations.next() {
            let inv = match inv {
                Invocation::Client {
                    conn,
                    op: ClientOp::Start,
                } if self.lifecycle.phase == Phase::Pending => Invocation::Run { conn },
                other => other,
            };
            let id = self.cfg.id.clone();
            let runtime = &self.invocations.runtime;
            let opts = || CreateOptions {
                bundle: self.cfg.bundle.clone(),
                pid_file: self.lifecycle.pid_file.clone(),
                console_socket: self.terminal.console_path(),
            };
            let (args, stdio) = match inv {
                Invocation::Create => {
                    let args = runtime.create_args(&id, &opts());
                    let stdio = self.invocations.child_stdio.take().unwrap_or_else(ChildStdio::null);
                    (args, stdio)
                }
                Invocation::Run { .. } => {
                    let args = runtime.run_detached_args(&id, &opts());
                    let stdio = self.invocations.child_stdio.take().unwrap_or_else(ChildStdio::null);
                    self.lifecycle.launching();
                    (args, stdio)
                }
                Invocation::Client {
                    op: ClientOp::Start, ..
                } => {
                    self.lifecycle.started_at = Some(now_nanos());
                    (runtime.start_args(&id), ChildStdio::null())
                }
                Invocation::Client {
                    op: ClientOp::Kill { signal, all },
                    ..
                } => (runtime.kill_args(&id, signal, all), ChildStdio::null()),
                Invocation::Client {
                    op: ClientOp::Pause, ..
                } => (runtime.pause_args(&id), ChildStdio::null()),
                Invocation::Client {
                    op: ClientOp::Resume, ..
                } => (runtime.resume_args(&id), ChildStdio::null()),
                Invocation::Client {
                    op: ClientOp::Update { ref resources },
                    ..
                } => (runtime.update_args(&id, resources), ChildStdio::null()),
                Invocation::Delete => (runtime.delete_args(&id, true), ChildStdio::null()),
                Invocation::Exec { conn, seq } => match self.execs.invocation(seq, &self.cfg, runtime) {
                    Some(x) => x,
                    None => {
                        self.answer(
                            conn,
                            &Response::Error {
                                message: "exec record lost".to_owned(),
                                code: ErrorCode::Internal,
                            },
                        );
                        continue;
                    }
                },
            };
            if let Err(e) = self.invocations.spawn(inv.clone(), &args, stdio) {
                self.invocation_done(inv, Err(e));
            }
        }
    }

    pub(super) fn invocation_done(&mut self, inv: Invocation, result: Result<(), RuntimeError>) {
        match inv {
            Invocation::Create => self.created(result),
            Invocation::Run { conn } => self.ran(conn, result),
            Invocation::Exec { conn, seq } => self.exec_done(conn, seq, result),
            Invocation::Client { conn, op } => {
                let resp = match result {
                    Ok(()) => {
                        match op {
                            ClientOp::Start => {
                                self.lifecycle.start_ended(true);
                                if self.lifecycle.phase == Phase::Running {
                                    self.start_health();
                                }
                            }
                            ClientOp::Pause => self.lifecycle.paused = true,
                            // The runtime thaws a frozen container for SIGKILL.
                            ClientOp::Resume | ClientOp::Kill { signal: 9, .. } => self.lifecycle.paused = false,
                            ClientOp::Kill { .. } | ClientOp::Update { .. } => {}
                        }
                        Response::Ok
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "runtime invocation failed");
                        if op == ClientOp::Start {
                            self.lifecycle.start_ended(false);
                        }
                        // A kill that races the init's exit: the runtime
                        // says the container is not running before the
                        // shim has reaped it.
                        let code = match op {
                            ClientOp::Kill { .. } if failure::means_not_running(&e) => ErrorCode::NotRunning,
                            _ => failure::code_of(&e),
                        };
                        Response::Error {
                            message: failure::message_of(&e),
                            code,
                        }
                    }
                };
                self.answer(conn, &resp);
            }
            Invocation::Delete => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "delete container");
                }
                if let Some(record) = self.lifecycle.deleted() {
                    self.exited_and_deleted(record);
                }
            }
        }
    }

    /// The container is gone from the runtime: answer whoever waits.
    pub(super) fn exited_and_deleted(&mut self, record: ExitRecord) {
        for conn in std::mem::take(&mut self.clients.waiters) {
            self.answer(conn, &Response::Exited(record.clone()));
        }
        self.answer_oom_waiters(true);
        self.answer_health_waiters();
    }

    pub(super) fn created(&mut self, result: Result<(), RuntimeError>) {
        // Whatever sits in the pipes now came from the runtime, not the
        // container: it has not been started.
        self.on_output(Stream::Stdout);
        self.on_output(Stream::Stderr);
        let ready = match self.runtime_container(result) {
            Ok(pid) => {
                self.lifecycle.created(pid);
                self.watch_oom();
                Ready::Created {
                    pid,
                    shim_pid: pier_sys::process::pid().as_raw(),
                }
            }
            Err((code, message)) => {
                tracing::error!(reason = %message, %code, "create container");
                self.lifecycle.quit = true;
                Ready::Failed { message, code }
            }
        };
        self.lifecycle.report(&ready);
        for (r, at) in self.lifecycle.take_early_exits() {
            self.on_reaped(r, at);
        }
    }

    /// `runtime run --detach` ended: answer `Start` with init's pid (the
    /// container runs), or with the failure (the shim leaves, as after a
    /// failed `create`). Then the output that waited in the pipes, then
    /// the exits reaped meanwhile.
    fn ran(&mut self, conn: usize, result: Result<(), RuntimeError>) {
        match self.runtime_container(result) {
            Ok(pid) => {
                self.lifecycle.created(pid);
                self.watch_oom();
                self.lifecycle.start_ended(true);
                self.start_health();
                self.answer(conn, &Response::Started { pid });
            }
            Err((code, message)) => {
                tracing::error!(reason = %message, %code, "run container");
                // What sits in the pipes is the runtime's, not a container's.
                self.lifecycle.phase = Phase::Creating;
                self.lifecycle.started_at = None;
                self.lifecycle.quit = true;
                self.answer(conn, &Response::Error { message, code });
            }
        }
        self.on_output(Stream::Stdout);
        self.on_output(Stream::Stderr);
        for (r, at) in self.lifecycle.take_early_exits() {
            self.on_reaped(r, at);
        }
    }

    /// After `create` or `run` returned: the terminal (with `tty`) and
    /// init's pid, or why there is no usable container (one the runtime
    /// made anyway is deleted: nobody could drive it).
    fn runtime_container(&mut self, result: Result<(), RuntimeError>) -> Result<i32, (ErrorCode, String)> {
        let runtime_created = result.is_ok();
        if runtime_created && self.cfg.tty && !self.terminal.has_master() {
            // The runtime has exited, so the master is in the socket by now.
            self.on_console();
        }
        let result = match result {
            Ok(()) if self.cfg.tty && !self.terminal.has_master() => {
                Err((ErrorCode::RuntimeFailed, "the runtime sent no terminal".to_owned()))
            }
            Ok(()) => Ok(()),
            Err(e) => Err((
                failure::code_of(&e),
                match (e.kind(), e.runtime_message()) {
                    (Failure::CgroupsHybridUnsupported, Some(m)) => {
                        format!("{m} (this runtime does not support the host's hybrid cgroup v1/v2 layout; use runc)")
                    }
                    _ => failure::message_of(&e),
                },
            )),
        };
        self.close_console();
        let pid = result.and_then(|()| self.lifecycle.read_init_pid());
        if pid.is_err() && runtime_created {
            // The runtime holds a container nobody can drive; remove it
            // (blocking is fine, the shim is leaving).
            let runtime = &self.invocations.runtime;
            let args = runtime.delete_args(&self.cfg.id, true);
            if let Err(e) = runtime.run(Op::Delete, &self.cfg.id, &args) {
                tracing::warn!(error = %e, "delete half-created container");
            }
        }
        pid
    }
}

fn op_of(inv: &Invocation) -> Op {
    match inv {
        Invocation::Create => Op::Create,
        Invocation::Run { .. } => Op::Run,
        Invocation::Client {
            op: ClientOp::Start, ..
        } => Op::Start,
        Invocation::Client {
            op: ClientOp::Kill { .. },
            ..
        } => Op::Kill,
        Invocation::Client {
            op: ClientOp::Pause, ..
        } => Op::Pause,
        Invocation::Client {
            op: ClientOp::Resume, ..
        } => Op::Resume,
        Invocation::Client {
            op: ClientOp::Update { .. },
            ..
        } => Op::Update,
        Invocation::Delete => Op::Delete,
        Invocation::Exec { .. } => Op::Exec,
    }
}

fn status_text(s: ExitStatus) -> String {
    match s {
        ExitStatus::Exited(code) => format!("exited with status {code}"),
        ExitStatus::Signaled { signal, .. } => format!("killed by signal {signal}"),
    }
}
