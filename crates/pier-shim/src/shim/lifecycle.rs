//! The container's life as the shim drives it: the phase, init's pid and
//! start time, the start handshake, the drain after init's exit and the
//! exit record, and when the shim may leave.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pier_shim_proto::{ErrorCode, ExitRecord, Ready};
use pier_sys::reap::{ExitStatus, Reaped};
use pier_time::now_nanos;

use super::{send_ready, Invocation, Shim};
use crate::decide::{self, Phase, View};
use crate::exit_record;
use crate::oom::OomWatch;

/// How long after init's exit the shim waits for the output pipes to reach
/// EOF (an escaped process may hold them open forever).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

pub(super) struct Lifecycle {
    pub(super) phase: Phase,
    /// Init's pid, 0 until created.
    pub(super) pid: i32,
    pub(super) started_at: Option<i64>,
    /// Where the runtime writes init's pid.
    pub(super) pid_file: PathBuf,
    /// The start handshake's pipe, until `create` is answered.
    ready: Option<OwnedFd>,
    /// Exits reaped while `create` ran, handled once it has.
    early_exits: Vec<(Reaped, i64)>,
    /// Init exited: the output pipes get until then to reach EOF.
    pub(super) drain_deadline: Option<Instant>,
    /// Asked to leave (a signal or `Shutdown`) once the container is gone.
    pub(super) shutdown: bool,
    /// Leave now (`create` failed).
    pub(super) quit: bool,
    /// Frozen by `runtime pause`.
    pub(super) paused: bool,
    oom: Option<OomWatch>,
}

impl Lifecycle {
    /// `run_on_start`: nothing is created until `Start`.
    pub(super) fn new(pid_file: PathBuf, run_on_start: bool) -> Lifecycle {
        Lifecycle {
            phase: if run_on_start { Phase::Pending } else { Phase::Creating },
            pid: 0,
            started_at: None,
            pid_file,
            ready: None,
            early_exits: Vec::new(),
            drain_deadline: None,
            shutdown: false,
            quit: false,
            paused: false,
            oom: None,
        }
    }

    /// Where `create`'s outcome goes.
    pub(super) fn await_ready(&mut self, ready: OwnedFd) {
        self.ready = Some(ready);
    }

    /// Answer the start handshake (once).
    pub(super) fn report(&mut self, ready: &Ready) {
        if let Some(fd) = self.ready.take() {
            send_ready(fd, ready);
        }
    }

    /// The loop ends: `create` failed, or the container is gone and
    /// nobody (or a shutdown) keeps the shim.
    pub(super) fn is_over(&self, clients: usize) -> bool {
        self.quit || decide::may_exit(&self.phase, clients, self.shutdown)
    }

    pub(super) fn view(&self, starting: bool, tty: bool) -> View {
        View {
            phase: self.phase.clone(),
            pid: self.pid,
            started_at: self.started_at,
            starting,
            tty,
            paused: self.paused,
        }
    }

    /// A reaped child that is init, or that exited while `create` (or
    /// `run`) ran; false if it is neither.
    pub(super) fn reaped(&mut self, r: Reaped, now: i64) -> bool {
        if r.pid.as_raw() == self.pid && matches!(self.phase, Phase::Created | Phase::Running) {
            self.init_exited(r.status, now);
        } else if matches!(self.phase, Phase::Creating | Phase::Launching) {
            self.early_exits.push((r, now));
        } else {
            return false;
        }
        true
    }

    fn init_exited(&mut self, status: ExitStatus, now: i64) {
        tracing::info!(pid = self.pid, ?status, "container init exited");
        let record = decide::exit_record(status, self.started_at, now);
        self.phase = Phase::Draining(record);
        self.drain_deadline = Some(Instant::now() + DRAIN_GRACE);
    }

    pub(super) fn take_early_exits(&mut self) -> Vec<(Reaped, i64)> {
        std::mem::take(&mut self.early_exits)
    }

    /// `create` succeeded: init is `pid`.
    pub(super) fn created(&mut self, pid: i32) {
        self.pid = pid;
        self.phase = Phase::Created;
        self.oom = crate::oom::watch(pid);
        tracing::info!(pid, "container created");
    }

    /// Init's pid as the runtime wrote it.
    pub(super) fn read_init_pid(&self) -> Result<i32, (ErrorCode, String)> {
        std::fs::read_to_string(&self.pid_file)
            .map_err(|e| (ErrorCode::Internal, format!("read {}: {e}", self.pid_file.display())))
            .and_then(|s| {
                s.trim()
                    .parse::<i32>()
                    .map_err(|e| (ErrorCode::Internal, format!("parse {}: {e}", self.pid_file.display())))
            })
    }

    /// `runtime run --detach` is spawned.
    pub(super) fn launching(&mut self) {
        self.phase = Phase::Launching;
        self.started_at = Some(now_nanos());
    }

    /// A signal before `Start`: nothing ran, the exit is that signal's.
    /// The record is written like any exit (pierd reads it after a
    /// restart) and there is nothing for the runtime to delete.
    pub(super) fn abandon(&mut self, signal: i32, exit_path: &std::path::Path) -> ExitRecord {
        let status = ExitStatus::Signaled {
            signal,
            core_dumped: false,
        };
        let record = decide::exit_record(status, None, now_nanos());
        if let Err(e) = exit_record::write(exit_path, &record) {
            tracing::error!(error = format!("{e:#}"), "write exit record");
        }
        tracing::info!(signal, "killed before start; exit recorded");
        self.phase = Phase::Exited {
            record: record.clone(),
            deleted: true,
        };
        record
    }

    /// `runtime start` ended.
    pub(super) fn start_ended(&mut self, ok: bool) {
        if self.phase != Phase::Created {
            return;
        }
        if ok {
            self.phase = Phase::Running;
        } else {
            self.started_at = None;
        }
    }

    /// The exit to record once the output is `drained` or the grace ran
    /// out; `None` while draining goes on (or nothing drains).
    fn exit_due(&self, drained: bool) -> Option<ExitRecord> {
        let Phase::Draining(record) = &self.phase else {
            return None;
        };
        let late = self.drain_deadline.is_some_and(|d| Instant::now() >= d);
        (drained || late).then(|| record.clone())
    }

    fn oom_killed(&self) -> bool {
        self.oom.as_ref().is_some_and(|o| o.killed())
    }

    /// What to poll for live OOM events.
    pub(super) fn oom_notifier(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.oom.as_ref().and_then(|o| o.notifier())
    }

    /// The OOM notifier fired (or the exit wants a last look): new events.
    pub(super) fn on_oom(&mut self) -> u64 {
        self.oom.as_mut().map_or(0, |o| o.on_notify())
    }

    /// OOM events seen live since create.
    pub(super) fn oom_events(&self) -> u64 {
        self.oom.as_ref().map_or(0, |o| o.events())
    }

    /// Stop listening for OOM events; the descriptor to deregister.
    pub(super) fn stop_oom(&mut self) -> Option<OwnedFd> {
        self.oom.as_mut().and_then(|o| o.stop())
    }

    /// `runtime delete` ended: the record waiters are answered with.
    pub(super) fn deleted(&mut self) -> Option<ExitRecord> {
        let Phase::Exited { record, .. } = &self.phase else {
            return None;
        };
        let record = record.clone();
        self.phase = Phase::Exited {
            record: record.clone(),
            deleted: true,
        };
        Some(record)
    }
}

impl Shim {
    /// Move a drained exit forward: record on disk, then `delete`.
    pub(super) fn advance(&mut self) {
        let drained = self.output.is_drained();
        let Some(mut record) = self.lifecycle.exit_due(drained) else {
            return;
        };
        if !drained {
            tracing::warn!("output pipes still open after init exited; closing them");
            self.output.close_pipes(self.poll.registry());
        }
        // A kill noticed only now (its notification still queued) counts too.
        self.on_oom();
        self.unwatch_oom();
        record.oom_killed = self.lifecycle.oom_killed();
        self.lifecycle.drain_deadline = None;
        self.stop_health();
        self.output.finish(now_nanos());
        if let Err(e) = exit_record::write(&self.cfg.exit_path, &record) {
            tracing::error!(error = format!("{e:#}"), "write exit record");
        }
        tracing::info!(exit_code = record.exit_code, "exit recorded");
        let exit_code = record.exit_code;
        self.lifecycle.phase = Phase::Exited { record, deleted: false };
        self.end_attach_streams(exit_code);
        self.invocations.push(Invocation::Delete);
    }
}
