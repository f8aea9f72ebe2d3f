//! Runtime invocations: a queue run one at a time, each collected by the
//! reaper and routed back here by pid.

use std::time::Instant;

use pier_runtime::{ChildStdio, CreateOptions, Failure, Op, RuntimeError};
use pier_shim_proto::{ErrorCode, Ready, Response};
use pier_sys::reap::ExitStatus;
use pier_sys::Signal;
use pier_time::now_nanos;

use super::{send_ready, InFlight, Invocation, Shim, INVOCATION_TIMEOUT};
use crate::decide::{ClientOp, Phase};
use crate::failure;
use crate::sink::Stream;

impl Shim {
    pub(super) fn pump_invocations(&mut self) {
        while self.in_flight.is_none() {
            let Some(inv) = self.queue.pop_front() else {
                return;
            };
            let id = self.cfg.id.clone();
            let (args, stdio) = match inv {
                Invocation::Create => {
                    let opts = CreateOptions {
                        bundle: self.cfg.bundle.clone(),
                        pid_file: self.pid_file.clone(),
                        console_socket: self.console.as_ref().map(|c| c.path().to_owned()),
                    };
                    let stdio = self.child_stdio.take().unwrap_or_else(ChildStdio::null);
                    (self.runtime.create_args(&id, &opts), stdio)
                }
                Invocation::Client {
                    op: ClientOp::Start, ..
                } => {
                    self.started_at = Some(now_nanos());
                    (self.runtime.start_args(&id), ChildStdio::null())
                }
                Invocation::Client {
                    op: ClientOp::Kill { signal, all },
                    ..
                } => (self.runtime.kill_args(&id, signal, all), ChildStdio::null()),
                Invocation::Delete => (self.runtime.delete_args(&id, true), ChildStdio::null()),
                Invocation::Exec { conn, seq } => match self.exec_invocation(seq) {
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
            let spawned = self.runtime.reset_log().and_then(|()| self.runtime.spawn(&args, stdio));
            match spawned {
                Ok(pid) => {
                    tracing::debug!(pid, ?inv, "runtime invocation started");
                    self.in_flight = Some(InFlight {
                        pid: pid as i32,
                        inv,
                        deadline: Instant::now() + INVOCATION_TIMEOUT,
                        timed_out: false,
                    });
                }
                Err(e) => self.invocation_done(inv, Err(e)),
            }
        }
    }

    /// Kill a runtime invocation that overran; its reaping reports it.
    pub(super) fn check_in_flight(&mut self) {
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

    pub(super) fn invocation_done(&mut self, inv: Invocation, result: Result<(), RuntimeError>) {
        match inv {
            Invocation::Create => self.created(result),
            Invocation::Exec { conn, seq } => self.exec_done(conn, seq, result),
            Invocation::Client { conn, op } => {
                let resp = match result {
                    Ok(()) => {
                        if op == ClientOp::Start && self.phase == Phase::Created {
                            self.phase = Phase::Running;
                        }
                        Response::Ok
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "runtime invocation failed");
                        if op == ClientOp::Start && self.phase == Phase::Created {
                            self.started_at = None;
                        }
                        Response::Error {
                            message: failure::message_of(&e),
                            code: failure::code_of(&e),
                        }
                    }
                };
                self.answer(conn, &resp);
            }
            Invocation::Delete => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "delete container");
                }
                if let Phase::Exited { record, .. } = &self.phase {
                    let record = record.clone();
                    self.phase = Phase::Exited {
                        record: record.clone(),
                        deleted: true,
                    };
                    for conn in std::mem::take(&mut self.waiters) {
                        self.answer(conn, &Response::Exited(record.clone()));
                    }
                }
            }
        }
    }

    pub(super) fn created(&mut self, result: Result<(), RuntimeError>) {
        // Whatever sits in the pipes now came from the runtime, not the
        // container: it has not been started.
        self.on_output(Stream::Stdout);
        self.on_output(Stream::Stderr);
        let runtime_created = result.is_ok();
        if runtime_created && self.cfg.tty && self.terminal.is_none() {
            // The runtime has exited, so the master is in the socket by now.
            self.on_console();
        }
        let result = match result {
            Ok(()) if self.cfg.tty && self.terminal.is_none() => {
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
        let pid = result.and_then(|()| {
            std::fs::read_to_string(&self.pid_file)
                .map_err(|e| (ErrorCode::Internal, format!("read {}: {e}", self.pid_file.display())))
                .and_then(|s| {
                    s.trim()
                        .parse::<i32>()
                        .map_err(|e| (ErrorCode::Internal, format!("parse {}: {e}", self.pid_file.display())))
                })
        });
        let ready = match pid {
            Ok(pid) => {
                self.pid = pid;
                self.phase = Phase::Created;
                self.oom = crate::oom::watch(pid);
                tracing::info!(pid, "container created");
                Ready::Created {
                    pid,
                    shim_pid: pier_sys::process::pid().as_raw(),
                }
            }
            Err((code, message)) => {
                tracing::error!(reason = %message, %code, "create container");
                self.quit = true;
                if runtime_created {
                    // The runtime holds a container nobody can drive; remove
                    // it (blocking is fine, the shim is leaving).
                    let args = self.runtime.delete_args(&self.cfg.id, true);
                    if let Err(e) = self.runtime.run(Op::Delete, &self.cfg.id, &args) {
                        tracing::warn!(error = %e, "delete half-created container");
                    }
                }
                Ready::Failed { message, code }
            }
        };
        if let Some(fd) = self.ready.take() {
            send_ready(fd, &ready);
        }
        for (r, at) in std::mem::take(&mut self.early_exits) {
            self.on_reaped(r, at);
        }
    }
}

pub(super) fn op_of(inv: Invocation) -> Op {
    match inv {
        Invocation::Create => Op::Create,
        Invocation::Client {
            op: ClientOp::Start, ..
        } => Op::Start,
        Invocation::Client {
            op: ClientOp::Kill { .. },
            ..
        } => Op::Kill,
        Invocation::Delete => Op::Delete,
        Invocation::Exec { .. } => Op::Exec,
    }
}

pub(super) fn status_text(s: ExitStatus) -> String {
    match s {
        ExitStatus::Exited(code) => format!("exited with status {code}"),
        ExitStatus::Signaled { signal, .. } => format!("killed by signal {signal}"),
    }
}
