//! The exit monitor: one task per running container holding a pending
//! `Wait` on the shim. On exit it unmounts the rootfs, records the exit,
//! wakes waiters and honours AutoRemove. When the shim is gone without an
//! exit record, the runtime is asked (`lost`): a container whose processes
//! still run is watched through the runtime instead.

use std::path::Path;
use std::sync::Arc;

use crate::daemon::lifecycle::lost::{self, Settled};
use crate::daemon::lifecycle::restart::ExitFacts;
use crate::daemon::{Container, Daemon};
use crate::error::Error;
use crate::record::{Durability, Status};
use crate::shim::{ExitRecord, ExitWatch, ShimError};

/// How an exit was learned.
#[derive(Debug, Clone)]
pub(in crate::daemon) struct Exit {
    pub record: ExitRecord,
    /// Set when the exit is a guess (the shim vanished without a record).
    pub error: Option<String>,
}

impl Daemon {
    /// Run the monitor for `c`; `watch` is a wait already armed, or `None`
    /// to arm one now.
    pub(in crate::daemon) fn spawn_monitor(self: &Arc<Self>, c: Arc<Container>, watch: Option<ExitWatch>) {
        let c_for_oom = c.clone();
        let daemon = self.clone();
        let id = c.id.clone();
        // One such task per running container, parked for its whole run:
        // the rare, large steps after the exit are boxed so the parked
        // future stays small (pierd's memory per container).
        let task = tokio::spawn(async move {
            let exit = match watch_exit(&c, watch).await {
                Some(exit) => exit,
                None => Box::pin(settle_lost(&daemon, &c)).await,
            };
            Box::pin(daemon.handle_exit(&c, exit)).await;
        });
        let mut m = self.monitors.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = m.insert(id, task.abort_handle()) {
            old.abort();
        }
        drop(m);
        self.spawn_health_watch(c_for_oom.clone());
        self.spawn_oom_watch(c_for_oom);
    }

    /// Watch a container whose shim is lost but whose processes run (found
    /// so at restore).
    pub(in crate::daemon) fn spawn_lost_monitor(self: &Arc<Self>, c: Arc<Container>, pid: i32) {
        let daemon = self.clone();
        let id = c.id.clone();
        let task = tokio::spawn(async move {
            let exit = lost::watch(&c, pid).await;
            Box::pin(daemon.handle_exit(&c, exit)).await;
        });
        let mut m = self.monitors.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = m.insert(id, task.abort_handle()) {
            old.abort();
        }
    }

    /// Record an exit: persist and publish (waiters return), then unmount
    /// the rootfs under the op lock, then AutoRemove.
    ///
    /// The unmount comes last because unmounting an overlay syncs its upper
    /// filesystem, i.e. writes back every dirty page of the data root's
    /// filesystem (a fresh 1 GiB log: ~0.6 s), and `wait` need not wait for
    /// that. An op that takes the op lock first finds the rootfs still
    /// mounted, which each handles: start reuses the mount (and this then
    /// leaves it alone), a file operation unmounts after itself, remove
    /// unmounts before deleting.
    pub(in crate::daemon) async fn handle_exit(self: &Arc<Self>, c: &Arc<Container>, exit: Exit) {
        let rec = exit.record;
        let error = exit.error.unwrap_or_default();
        let before = c.record();
        let started = rec.started_at.or(before.state.started_at).unwrap_or(rec.finished_at);
        let ran = std::time::Duration::from_nanos(u64::try_from(rec.finished_at - started).unwrap_or(0));
        let restart = if before.state.status == Status::Running {
            c.restart_after(&ExitFacts {
                exit_code: rec.exit_code,
                manually_stopped: before.state.manually_stopped,
                restart_count: before.restart_count,
                ran,
            })
        } else {
            None
        };
        // An auto-remove container's record is removed next: a crash
        // before that may bring back the record from before the exit,
        // which restore settles again (exit.json, or the lost shim's path)
        // and removes.
        let durability = if before.spec.auto_remove {
            Durability::OldOrNew
        } else {
            Durability::Full
        };
        if let Err(e) = c
            .commit_with(durability, |r| {
                if r.state.status == Status::Running {
                    r.state.status = Status::Exited;
                }
                if restart.is_some() {
                    r.state.restarting = true;
                    r.restart_count += 1;
                }
                r.state.pid = 0;
                r.state.paused = false;
                r.state.exit_code = rec.exit_code;
                // Set by a live OOM event or by the exit (reset only by a start).
                r.state.oom_killed |= rec.oom_killed;
                r.state.finished_at = Some(rec.finished_at);
                if let Some(s) = rec.started_at {
                    r.state.started_at = Some(s);
                }
                r.state.error = error.clone();
            })
            .await
        {
            tracing::error!(id = %c.id, error = %e, "record container exit");
        }
        c.publish(|l| l.exits += 1);
        self.record_die(c, rec.exit_code, rec.finished_at);
        {
            let mut m = self.monitors.lock().unwrap_or_else(|p| p.into_inner());
            m.remove(&c.id);
        }
        tracing::info!(id = %c.id, exit_code = rec.exit_code, "container exited");
        if let Some(delay) = restart {
            tracing::info!(id = %c.id, ?delay, "container restarts by its policy");
            self.schedule_restart(c, delay);
        }
        self.unmount_exited(c).await;
        if c.record().spec.auto_remove {
            if let Err(e) = self.auto_remove(c).await {
                tracing::warn!(id = %c.id, error = %e, "auto-remove container");
            }
        }
    }
}

impl Daemon {
    /// The `die` event (at the time the container exited, which may be
    /// before this pierd started) and its volumes' `unmount` events.
    fn record_die(&self, c: &Arc<Container>, exit_code: i32, finished_at: i64) {
        let r = c.record();
        let ran = r
            .state
            .started_at
            .map_or(0, |s| finished_at.saturating_sub(s) / 1_000_000_000);
        let attrs = [("exitCode", exit_code.to_string()), ("execDuration", ran.to_string())];
        let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.events
            .record(crate::daemon::events::container_event(&r, "die", &attrs, finished_at));
        let mounts = crate::daemon::storage::mounts::load(&c.dir).unwrap_or_default();
        self.volume_events(&c.id, &mounts, false);
    }

    /// Unmount the rootfs of an exited container, unless it was started
    /// again (or removed) before the op lock came free.
    async fn unmount_exited(&self, c: &Arc<Container>) {
        let _op = c.op.lock().await;
        {
            let live = c.live.borrow();
            if live.removed || live.record.state.is_running() {
                return;
            }
        }
        self.release_network(c).await;
        let c2 = c.clone();
        let unmounted = Daemon::blocking("unmount rootfs", move || {
            c2.rootfs().unmount().map_err(|e| Error::system("unmount rootfs", e))
        })
        .await;
        if let Err(e) = unmounted {
            tracing::warn!(id = %c.id, error = %e, "unmount rootfs");
        }
    }
}

/// The exit of a container whose shim went away without telling.
async fn settle_lost(daemon: &Arc<Daemon>, c: &Arc<Container>) -> Exit {
    match lost::settle(c).await {
        Settled::Exited(exit) => exit,
        Settled::Lost { pid, error } => {
            daemon.adopt_lost(c, pid, error).await;
            lost::watch(c, pid).await
        }
    }
}

/// Set while a shim accepts connections but does not answer.
pub(in crate::daemon) const SHIM_SILENT: &str = "shim does not answer; the container's state is as last recorded";

/// Wait for the exit on the shim connection; `None` when the shim went away
/// without telling (the caller settles that with `exit.json` or the
/// runtime). A shim that does not answer (stopped, wedged) is asked again,
/// less and less often, until it does or is gone: its container is not
/// exited just because it is slow.
async fn watch_exit(c: &Arc<Container>, watch: Option<ExitWatch>) -> Option<Exit> {
    let watch = match watch {
        Some(w) => Ok(w),
        // Boxed: the parked future keeps only the wait, not this.
        None => Box::pin(arm_until_answered(c)).await,
    };
    match watch {
        Ok(w) => match w.exited().await {
            Ok(record) => return Some(Exit { record, error: None }),
            Err(e) => tracing::warn!(id = %c.id, error = %e, "wait on shim"),
        },
        Err(e) if e.is_gone() => {}
        Err(e) => tracing::warn!(id = %c.id, error = %e, "arm wait on shim"),
    }
    None
}

/// Arm a wait on `c`'s shim, asking again (with a growing pause) while it
/// does not answer.
async fn arm_until_answered(c: &Arc<Container>) -> Result<ExitWatch, ShimError> {
    let mut pause = std::time::Duration::from_secs(1);
    loop {
        match c.shim.arm_wait().await {
            Err(ShimError::Timeout { .. }) => {
                tracing::warn!(id = %c.id, "shim does not answer; retrying");
                mark_silent(c);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(SILENT_POLL_MAX);
            }
            other => return other,
        }
    }
}

/// The longest pause between two questions to a silent shim.
const SILENT_POLL_MAX: std::time::Duration = std::time::Duration::from_secs(16);

/// Show that `c`'s shim does not answer (inspect's `State.Error`, not
/// persisted) until it answers again. A wait can be armed on a stopped
/// shim (the kernel queues the request), so the answer to a `state` call
/// is what clears it.
pub(in crate::daemon) fn mark_silent(c: &Arc<Container>) {
    if !c.record().state.error.is_empty() {
        return;
    }
    c.publish(|l| Arc::make_mut(&mut l.record).state.error = SHIM_SILENT.to_string());
    let c = c.clone();
    tokio::spawn(async move {
        let mut pause = std::time::Duration::from_secs(1);
        loop {
            tokio::time::sleep(pause).await;
            match c.shim.state().await {
                Err(ShimError::Timeout { .. }) => pause = (pause * 2).min(SILENT_POLL_MAX),
                _ => break,
            }
        }
        if c.record().state.error == SHIM_SILENT {
            c.publish(|l| Arc::make_mut(&mut l.record).state.error.clear());
        }
    });
}

/// `exit.json`, retried briefly (the shim writes it before it answers but a
/// reader may race the rename).
pub(in crate::daemon) async fn exit_on_disk(path: &Path) -> Option<Exit> {
    for _ in 0..10 {
        if let Some(record) = read_exit_record(path) {
            return Some(Exit { record, error: None });
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    None
}

pub(in crate::daemon) fn shim_disappeared() -> Exit {
    Exit::unknown("shim disappeared".to_string())
}

impl Exit {
    /// An exit whose status nobody recorded: 255 now, with why as the error.
    pub(in crate::daemon) fn unknown(error: String) -> Exit {
        Exit {
            record: ExitRecord {
                exit_code: 255,
                signal: None,
                started_at: None,
                finished_at: pier_time::now_nanos(),
                oom_killed: false,
            },
            error: Some(error),
        }
    }
}

pub(in crate::daemon) fn read_exit_record(path: &Path) -> Option<ExitRecord> {
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "malformed exit record");
            None
        }
    }
}
