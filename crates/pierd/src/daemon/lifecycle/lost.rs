//! A lost shim: the shim died (SIGKILL, a crash) without recording an exit.
//! The runtime then knows the truth: pierd asks it (through a one-shot
//! `pier-shim --recover`), shows the container in the runtime's real state
//! with a `State.Error` saying the shim is lost, watches the container's
//! init pid until it ends, and ends it through the runtime on stop, kill
//! and `rm -f` (`kill`, then `delete --force`, which also removes its
//! cgroup). A record whose processes the runtime still reports is never
//! dropped.

use std::sync::Arc;
use std::time::Duration;

use crate::daemon::lifecycle::monitor::{self, Exit};
use crate::daemon::{Container, Daemon};
use crate::error::{Error, Result};
use crate::shim::{RuntimeStatus, RuntimeView};

/// How often a lost container's init pid is looked at (`/proc`, no process
/// spawned).
const PID_POLL: Duration = Duration::from_millis(200);
/// How often the runtime is asked again when its answer was not final.
const RUNTIME_POLL: Duration = Duration::from_secs(5);

/// What is known once the shim is gone.
#[derive(Debug)]
pub(in crate::daemon) enum Settled {
    /// The container has ended (recorded by the shim, or as the runtime
    /// reports it).
    Exited(Exit),
    /// Its processes run on without a shim (or the runtime cannot say).
    Lost { pid: i32, error: String },
}

/// Settle a container whose shim is gone: its exit record if the shim
/// wrote one, else the runtime's state. A stopped container is deleted from
/// the runtime (its cgroup goes with it).
pub(in crate::daemon) async fn settle(c: &Container) -> Settled {
    if let Some(exit) = monitor::exit_on_disk(&c.exit_path()).await {
        // The shim may have died between its record and `runtime delete`.
        delete_from_runtime(c).await;
        return Settled::Exited(exit);
    }
    let recorded_pid = c.record().state.pid;
    match c.shim.runtime_state().await {
        Ok(RuntimeView::Missing) => Settled::Exited(monitor::shim_disappeared()),
        Ok(RuntimeView::Present {
            status: RuntimeStatus::Stopped,
            ..
        }) => {
            delete_from_runtime(c).await;
            Settled::Exited(lost_exit(
                "the container stopped without it; its exit status is unknown",
            ))
        }
        Ok(RuntimeView::Present { status, pid }) => Settled::Lost {
            pid: if pid > 0 { pid } else { recorded_pid },
            error: format!(
                "shim lost: the container's shim exited; the runtime reports the container {} (pid {pid}); \
                 its output is no longer logged",
                status.as_str()
            ),
        },
        Err(e) => Settled::Lost {
            pid: recorded_pid,
            error: format!("shim lost: the container's shim exited and the runtime cannot be asked: {e}"),
        },
    }
}

/// Wait until a lost container's processes have ended: its init pid gone
/// (cheap), then confirmed by the runtime, which deletes it.
pub(in crate::daemon) async fn watch(c: &Container, mut pid: i32) -> Exit {
    let mut start = c.shim.process_start(pid);
    let mut asked = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(PID_POLL).await;
        let gone = pid <= 0 || start.is_none() || c.shim.process_start(pid) != start;
        if !gone && asked.elapsed() < RUNTIME_POLL {
            continue;
        }
        asked = tokio::time::Instant::now();
        match c.shim.runtime_state().await {
            Ok(RuntimeView::Missing) => return lost_exit("the container ended without it; its exit status is unknown"),
            Ok(RuntimeView::Present {
                status: RuntimeStatus::Stopped,
                ..
            }) => {
                delete_from_runtime(c).await;
                return lost_exit("the container ended without it; its exit status is unknown");
            }
            Ok(RuntimeView::Present { pid: now, .. }) => {
                if now > 0 && now != pid {
                    pid = now;
                    start = c.shim.process_start(pid);
                }
            }
            Err(e) => tracing::warn!(id = %c.id, error = %e, "ask the runtime about a lost container"),
        }
    }
}

/// `runtime delete --force` when the runtime may still hold the container;
/// failures are logged (remove checks again and refuses).
async fn delete_from_runtime(c: &Container) {
    if !c.shim.runtime_may_know() {
        return;
    }
    if let Err(e) = c.shim.runtime_delete(true).await {
        tracing::warn!(id = %c.id, error = %e, "delete lost container from the runtime");
    }
}

/// Before a record is dropped: nothing of the container may run. When the
/// runtime still holds it, `delete --force` ends its processes and removes
/// its cgroup; if the runtime then still reports it, the remove fails and
/// the record stays.
pub(in crate::daemon) async fn ensure_ended(c: &Container) -> Result<()> {
    if !c.shim.runtime_may_know() {
        return Ok(());
    }
    let context = || format!("remove container {}", c.id);
    if let Err(e) = c.shim.runtime_delete(true).await {
        return Err(Error::system(
            context(),
            format!("the runtime could not end its processes, the container is kept: {e}"),
        ));
    }
    match c.shim.runtime_state().await {
        Ok(RuntimeView::Missing) => Ok(()),
        Ok(RuntimeView::Present { status, pid }) => Err(Error::system(
            context(),
            format!(
                "the runtime still reports it {} (pid {pid}) after delete --force, the container is kept",
                status.as_str()
            ),
        )),
        Err(e) => Err(Error::system(
            context(),
            format!("the runtime cannot confirm its processes are gone, the container is kept: {e}"),
        )),
    }
}

fn lost_exit(why: &str) -> Exit {
    Exit::unknown(format!("shim lost: {why}"))
}

impl Daemon {
    /// Record that `c`'s shim is lost while its processes run, and watch
    /// them through the runtime until they end.
    pub(in crate::daemon) async fn adopt_lost(self: &Arc<Self>, c: &Arc<Container>, pid: i32, error: String) {
        tracing::warn!(id = %c.id, pid, error = %error, "container shim lost");
        if let Err(e) = c
            .commit(|r| {
                if pid > 0 {
                    r.state.pid = pid;
                }
                r.state.error = error.clone();
            })
            .await
        {
            tracing::error!(id = %c.id, error = %e, "record lost shim");
        }
    }
}
