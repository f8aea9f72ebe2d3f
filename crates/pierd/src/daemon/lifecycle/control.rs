//! start, stop, kill, restart and wait.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::daemon::events::{container_event, Journal};
use crate::daemon::{Container, Daemon, Live};
use crate::error::{Error, Result};
use crate::record::{ContainerRecord, Durability, Status};
use crate::shim::{KillScope, ProcessFailure};
use crate::spec;

/// Default seconds between the stop signal and SIGKILL.
const DEFAULT_STOP_TIMEOUT: i64 = 10;
/// How long to wait for an exit after SIGKILL before calling it a fault.
const KILL_GRACE: Duration = Duration::from_secs(30);
/// `kill` with SIGKILL waits this long for the exit (dockerd's 10 s), then
/// kills every process of the container and waits [`KILL_LAST_WAIT`].
const KILL_WAIT: Duration = Duration::from_secs(10);
const KILL_LAST_WAIT: Duration = Duration::from_secs(2);

/// `POST /containers/{id}/wait?condition=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

impl WaitCondition {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "" | "not-running" => Some(WaitCondition::NotRunning),
            "next-exit" => Some(WaitCondition::NextExit),
            "removed" => Some(WaitCondition::Removed),
            _ => None,
        }
    }
}

/// What a finished wait reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitOutcome {
    pub status_code: i64,
    pub error: Option<String>,
}

impl Daemon {
    /// Start a created or exited container. `NotModified` when running.
    pub async fn start(self: &Arc<Self>, key: &str) -> Result<()> {
        let c = self.lookup(key)?;
        let res = {
            let _op = c.op.lock().await;
            // A container waiting for its policy restart counts as running.
            if c.record().state.is_restarting() {
                return Err(Error::NotModified);
            }
            self.start_locked(&c, true).await
        };
        // As dockerd: a failed start of an AutoRemove container removes it
        // (clients blocked in `wait?condition=removed` then return).
        if let Err(e) = &res {
            if !matches!(e, Error::NotModified) && c.record().spec.auto_remove {
                if let Err(rm) = self.auto_remove(&c).await {
                    tracing::warn!(id = %c.id, error = %rm, "auto-remove after failed start");
                }
            }
        }
        res
    }

    /// Start with the op lock held; `manual` (an API start, not the
    /// restart policy) resets the restart count and the back-off.
    pub(in crate::daemon) async fn start_locked(self: &Arc<Self>, c: &Arc<Container>, manual: bool) -> Result<()> {
        let live = c.live.borrow().clone();
        if live.removed {
            return Err(Error::NoSuchContainer(c.id.clone()));
        }
        match live.record.state.status {
            Status::Running => return Err(Error::NotModified),
            Status::Removing | Status::Dead => {
                return Err(Error::Conflict(format!(
                    "container {} is marked for removal and cannot be started",
                    c.id
                )));
            }
            Status::Created | Status::Exited => {}
        }
        if manual {
            c.reset_restarts();
        }
        match self.launch(c, &live.record, manual).await {
            Ok(()) => Ok(()),
            Err(err) => {
                let code = start_exit_code(&err);
                self.release_network(c).await;
                let c2 = c.clone();
                let unmounted = Daemon::blocking("unmount rootfs", move || {
                    c2.rootfs().unmount().map_err(|e| Error::system("unmount rootfs", e))
                })
                .await;
                if let Err(e) = unmounted {
                    tracing::warn!(id = %c.id, error = %e, "unmount after failed start");
                }
                c.commit(|r| {
                    r.state.exit_code = code;
                    r.state.error = err.to_string();
                })
                .await?;
                Err(err)
            }
        }
    }

    /// Prepare the bundle, spawn the shim, arm the exit monitor, start.
    /// The shim comes up listening without a runtime container
    /// (`run_on_start`); the monitor and held attaches are connected first,
    /// then `start` runs `runtime run --detach` once and returns init's pid.
    async fn launch(self: &Arc<Self>, c: &Arc<Container>, rec: &ContainerRecord, manual: bool) -> Result<()> {
        let image = self.resolve_image(&rec.image_id).await?;
        let shim_json = if self.cfg.shims.needs_bundle() {
            let daemon = self.clone();
            let c = c.clone();
            let rec = rec.clone();
            Daemon::blocking("prepare bundle", move || daemon.prepare_bundle(&c, &rec, &image))
                .await?
                .shim_json
        } else {
            c.bundle.join("shim.json")
        };
        let spawned = self
            .cfg
            .shims
            .spawn(&c.socket(), &shim_json)
            .await
            .map_err(|e| start_error(format!("start shim for {}", c.id), e))?;
        let shim_pid = spawned.shim_pid;
        // Arm the monitor before `start`: the shim exits as soon as the
        // container has exited and no client is connected.
        let monitor = match c.shim.arm_wait().await {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(id = %c.id, error = %e, "arm exit monitor");
                None
            }
        };
        // Attaches made before the start get every byte of output.
        self.connect_pending_attaches(c).await;
        let pid = match c.shim.start().await {
            Ok(pid) => pid.unwrap_or(spawned.pid),
            Err(e) => {
                if let Err(k) = c.shim.kill(9, KillScope::All).await {
                    tracing::debug!(id = %c.id, error = %k, "kill after failed start");
                }
                drop(monitor);
                return Err(start_error(format!("start container {}", c.id), e));
            }
        };
        let now = pier_time::now_nanos();
        // The file is synced, its rename not: a crash may bring back the
        // record from before the start (created or exited), which restore
        // settles like any container whose shim is gone; a shim that
        // outlived pierd alone is found by its socket either way.
        c.commit_with(Durability::OldOrNew, |r| {
            r.state.status = Status::Running;
            r.state.pid = pid;
            r.state.shim_pid = shim_pid;
            r.state.exit_code = 0;
            r.state.error.clear();
            r.state.oom_killed = false;
            r.state.paused = false;
            r.state.oom_events = 0;
            r.state.started_at = Some(now);
            r.state.restarting = false;
            if manual {
                r.restart_count = 0;
                r.state.manually_stopped = false;
            }
        })
        .await?;
        let mounts = crate::daemon::storage::mounts::load(&c.dir).unwrap_or_default();
        self.volume_events(&c.id, &mounts, true);
        self.events.record(container_event(&c.record(), "start", &[], now));
        self.spawn_monitor(c.clone(), monitor);
        tracing::info!(id = %c.id, pid, shim_pid, "container started");
        Ok(())
    }

    /// Send a signal (default SIGKILL). 409 when not running. As dockerd:
    /// SIGKILL returns once the exit is recorded (so `inspect` shows it and
    /// `rm` succeeds right after); any other signal returns at once.
    pub async fn kill(&self, key: &str, signal: Option<&str>) -> Result<()> {
        let c = self.lookup(key)?;
        let sig = match signal.filter(|s| !s.is_empty()) {
            Some(s) => spec::parse_signal(s).map_err(|e| Error::InvalidParameter(e.to_string()))?,
            None => 9,
        };
        let rec = c.record();
        // dockerd: the stop signal or SIGKILL cancels restarts; any kill
        // marks the container stopped by hand (`unless-stopped` holds off).
        let stops = sig == 9 || sig == rec.spec.stop.signal.as_ref().map_or(15, |s| s.number);
        if rec.state.is_restarting() {
            if stops {
                return self.stop_restarting(&c).await;
            }
            return c.commit(|r| r.state.manually_stopped = true).await;
        }
        if !rec.state.is_running() {
            return Err(Error::NotRunning(c.id.clone()));
        }
        if stops {
            c.cancel_restarts();
        }
        c.commit(|r| r.state.manually_stopped = true).await?;
        if sig == 9 {
            return kill_and_confirm(&c, &self.events).await;
        }
        signal_container(&c, sig, &self.events).await
    }

    /// Stop: the stop signal, then SIGKILL after `t` seconds.
    pub async fn stop(&self, key: &str, t: Option<i64>, signal: Option<&str>) -> Result<()> {
        let c = self.lookup(key)?;
        let sig = signal
            .filter(|s| !s.is_empty())
            .map(spec::parse_signal)
            .transpose()
            .map_err(|e| Error::InvalidParameter(e.to_string()))?;
        let _op = c.op.lock().await;
        if c.record().state.is_restarting() {
            return self.stop_restarting(&c).await;
        }
        if !c.record().state.is_running() {
            return Err(Error::NotModified);
        }
        c.cancel_restarts();
        c.commit(|r| r.state.manually_stopped = true).await?;
        stop_locked(&c, t, sig, &self.events).await?;
        self.container_event(&c.record(), "stop", &[]);
        Ok(())
    }

    /// Stop if running, then start.
    pub async fn restart(self: &Arc<Self>, key: &str, t: Option<i64>) -> Result<()> {
        let c = self.lookup(key)?;
        let _op = c.op.lock().await;
        if c.record().state.is_restarting() {
            self.stop_restarting(&c).await?;
        }
        if c.record().state.is_running() {
            c.cancel_restarts();
            c.commit(|r| r.state.manually_stopped = true).await?;
            stop_locked(&c, t, None, &self.events).await?;
            self.container_event(&c.record(), "stop", &[]);
        }
        let res = match self.start_locked(&c, true).await {
            Err(Error::NotModified) => Ok(()),
            other => other,
        };
        if res.is_ok() {
            self.container_event(&c.record(), "restart", &[]);
        }
        res
    }

    /// Subscribe now (so no exit between this call and the await is
    /// missed); the returned future resolves when the condition holds.
    pub fn wait(
        &self,
        key: &str,
        cond: WaitCondition,
    ) -> Result<impl std::future::Future<Output = Option<WaitOutcome>> + Send + 'static> {
        let c = self.lookup(key)?;
        let mut rx = c.subscribe();
        let mut shutdown = self.shutdown_signal();
        let exits_then = rx.borrow().exits;
        Ok(async move {
            let pred = move |l: &Live| match cond {
                // As dockerd: a container waiting for its policy restart
                // still counts as running.
                WaitCondition::NotRunning => {
                    l.removed || !(l.record.state.is_running() || l.record.state.is_restarting())
                }
                WaitCondition::NextExit => l.removed || l.exits > exits_then,
                WaitCondition::Removed => l.removed,
            };
            let outcome = |l: &Live| WaitOutcome {
                status_code: i64::from(l.record.state.exit_code),
                error: (!l.record.state.error.is_empty()).then(|| l.record.state.error.clone()),
            };
            let res = tokio::select! {
                r = rx.wait_for(pred) => Some(r.map(|l| outcome(&l)).ok()),
                _ = shutdown.wait_for(|s| *s) => None,
            };
            match res {
                None => None,
                Some(Some(o)) => Some(o),
                // The container is gone: its last state is the answer.
                Some(None) => Some(outcome(&rx.borrow())),
            }
        })
    }
}

/// The stop sequence, with the container's op lock held.
async fn stop_locked(c: &Arc<Container>, t: Option<i64>, sig: Option<i32>, events: &Journal) -> Result<()> {
    let rec = c.record();
    let sig = match sig {
        Some(s) => s,
        None => rec.spec.stop.signal.as_ref().map_or(15, |s| s.number),
    };
    let timeout = t.or(rec.spec.stop.timeout).unwrap_or(DEFAULT_STOP_TIMEOUT);
    let mut rx = c.subscribe();
    if let Err(e) = signal_container(c, sig, events).await {
        tracing::debug!(id = %c.id, error = %e, "stop signal");
    }
    let stopped = if timeout < 0 {
        wait_not_running(&mut rx).await;
        true
    } else {
        tokio::time::timeout(Duration::from_secs(timeout as u64), wait_not_running(&mut rx))
            .await
            .is_ok()
    };
    if stopped {
        return Ok(());
    }
    tracing::info!(id = %c.id, timeout, "container did not stop in time, killing it");
    kill_and_wait(c, events).await
}

/// SIGKILL and wait for the exit to be recorded.
pub(in crate::daemon) async fn kill_and_wait(c: &Arc<Container>, events: &Journal) -> Result<()> {
    let mut rx = c.subscribe();
    match signal_container(c, 9, events).await {
        Ok(()) => {}
        // Exited meanwhile: its exit is being recorded.
        Err(Error::NotRunning(_)) => tracing::debug!(id = %c.id, "kill: not running"),
        // Nothing will end it: say so now rather than after the grace.
        Err(e) => return Err(e),
    }
    tokio::time::timeout(KILL_GRACE, wait_not_running(&mut rx))
        .await
        .map_err(|_| {
            Error::system(
                format!("stop container {}", c.id),
                format!("container {} did not exit within {KILL_GRACE:?} of SIGKILL", c.id),
            )
        })
}

/// dockerd's `kill`: SIGKILL, wait 10 s for the exit; then SIGKILL every
/// process of the container (dockerd kills the pid directly) and wait 2 s
/// more; then docker's error.
async fn kill_and_confirm(c: &Arc<Container>, events: &Journal) -> Result<()> {
    let mut rx = c.subscribe();
    match signal_container(c, 9, events).await {
        Ok(()) => {}
        // Exited meanwhile: dockerd's "no such process" is a success.
        Err(Error::NotRunning(_)) => return Ok(()),
        Err(e) => return Err(e),
    }
    if tokio::time::timeout(KILL_WAIT, wait_not_running(&mut rx)).await.is_ok() {
        return Ok(());
    }
    tracing::warn!(id = %c.id, "container failed to exit within {KILL_WAIT:?} of kill - killing all its processes");
    match c.shim.kill(9, KillScope::All).await {
        Ok(()) => {}
        Err(e) if e.is_gone() => {
            if let Err(e) = c.shim.runtime_kill(9, KillScope::All).await {
                tracing::debug!(id = %c.id, error = %e, "kill all through the runtime");
            }
        }
        Err(e) => tracing::debug!(id = %c.id, error = %e, "kill all"),
    }
    tokio::time::timeout(KILL_LAST_WAIT, wait_not_running(&mut rx))
        .await
        .map_err(|_| Error::Plain("tried to kill container, but did not receive an exit event".to_string()))
}

async fn wait_not_running(rx: &mut watch::Receiver<Live>) {
    let _ = rx.wait_for(|l| !l.record.state.is_running()).await;
}

/// Signal the container's init through its shim, or through the runtime
/// when the shim is lost (its processes may run on without it); a signal
/// sent is a `kill` event.
async fn signal_container(c: &Arc<Container>, signal: i32, events: &Journal) -> Result<()> {
    let sent = || {
        let e = container_event(
            &c.record(),
            "kill",
            &[("signal", &signal.to_string())],
            pier_time::now_nanos(),
        );
        events.record(e);
    };
    match c.shim.kill(signal, KillScope::Init).await {
        Ok(()) => {
            sent();
            super::pause::thaw_after_signal(c, signal).await;
            Ok(())
        }
        Err(e) if e.is_gone() => match c.shim.runtime_kill(signal, KillScope::Init).await {
            Ok(true) => {
                sent();
                Ok(())
            }
            Ok(false) => Err(Error::NotRunning(c.id.clone())),
            Err(e) => Err(Error::shim(format!("kill container {} through the runtime", c.id), e)),
        },
        Err(e) if e.is_not_running() => Err(Error::NotRunning(c.id.clone())),
        Err(e) => Err(Error::shim(format!("kill container {}", c.id), e)),
    }
}

/// A failed shim spawn or start: the runtime's refusal in its own words,
/// classified by the shim's code; any other failure with `context`.
fn start_error(context: String, e: crate::shim::ShimError) -> Error {
    match (e.process_failure(), e.refusal_message()) {
        (Some(failure), Some(message)) => Error::StartFailed {
            failure,
            message: message.to_string(),
        },
        _ => Error::shim(context, e),
    }
}

/// Docker's exit code for a failed start: 127 for a missing executable,
/// 126 for one that cannot run, 128 for anything else.
fn start_exit_code(e: &Error) -> i32 {
    match e {
        Error::StartFailed { failure, .. } if *failure != ProcessFailure::Other => failure.exit_code(),
        _ => 128,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_codes() {
        let failed = |failure| Error::StartFailed {
            failure,
            message: "exec: \"nope\": executable file not found in $PATH".into(),
        };
        assert_eq!(start_exit_code(&failed(ProcessFailure::NotFound)), 127);
        assert_eq!(start_exit_code(&failed(ProcessFailure::PermissionDenied)), 126);
        assert_eq!(start_exit_code(&failed(ProcessFailure::Other)), 128);
        // The message text decides nothing.
        assert_eq!(
            start_exit_code(&Error::system("start", "executable file not found")),
            128
        );
        assert_eq!(WaitCondition::parse(""), Some(WaitCondition::NotRunning));
        assert_eq!(WaitCondition::parse("x"), None);
    }
}
