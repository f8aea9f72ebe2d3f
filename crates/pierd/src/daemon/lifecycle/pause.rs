//! pause and unpause (the runtime's freezer), and the thaw a signal to a
//! paused container brings, as dockerd does them.

use std::sync::Arc;

use crate::daemon::{Container, Daemon};
use crate::error::{Error, Result};

impl Daemon {
    /// `POST /containers/{id}/pause`: freeze every process of a running
    /// container. 409 when it is not running or already paused.
    pub async fn pause(&self, key: &str) -> Result<()> {
        let c = self.lookup(key)?;
        let _op = c.op.lock().await;
        freeze(&c).await?;
        self.container_event(&c.record(), "pause", &[]);
        Ok(())
    }

    /// `POST /containers/{id}/unpause`: thaw a paused container. dockerd
    /// answers 500 "Container X is not paused" for one that is not.
    pub async fn unpause(&self, key: &str) -> Result<()> {
        let c = self.lookup(key)?;
        let _op = c.op.lock().await;
        thaw(&c).await?;
        self.container_event(&c.record(), "unpause", &[]);
        Ok(())
    }
}

/// A running container frozen while `cp` copies out of or into it, so that
/// the copy sees one instant of its files (as podman; docker's own `cp`
/// does not pause). Thawed by dropping the guard's [`CopyFreeze::thaw`].
pub struct CopyFreeze(Option<Arc<Container>>);

impl Daemon {
    /// Freeze container `key` for a copy when it is running and not paused
    /// already. A failed pause is logged and the copy goes on unfrozen: the
    /// fd walk is safe without it. Only a lookup failure is an error.
    pub async fn freeze_for_copy(&self, key: &str) -> Result<CopyFreeze> {
        let c = self.lookup(key)?;
        let st = c.record().state;
        if !st.is_running() || st.paused {
            return Ok(CopyFreeze(None));
        }
        match freeze(&c).await {
            Ok(()) => Ok(CopyFreeze(Some(c))),
            Err(e) => {
                tracing::debug!(id = %c.id, error = %e, "pause for copy");
                Ok(CopyFreeze(None))
            }
        }
    }
}

impl CopyFreeze {
    /// Thaw what [`Daemon::freeze_for_copy`] froze.
    pub async fn thaw(self) {
        if let Some(c) = self.0 {
            if let Err(e) = thaw(&c).await {
                tracing::warn!(id = %c.id, error = %e, "unpause after copy");
            }
        }
    }
}

/// Freeze `c` (the caller holds its op lock, or does not need it).
pub(in crate::daemon) async fn freeze(c: &Arc<Container>) -> Result<()> {
    let rec = c.record();
    if !rec.state.is_running() {
        return Err(Error::Conflict(format!("container {} is not running", c.id)));
    }
    if rec.state.paused {
        return Err(Error::Conflict(format!("container {} is already paused", c.id)));
    }
    match c.shim.pause().await {
        Ok(()) => {}
        Err(e) if e.is_not_running() => {
            return Err(Error::Conflict(format!("container {} is not running", c.id)));
        }
        Err(e) => return Err(Error::shim(format!("cannot pause container {}", c.id), e)),
    }
    tracing::info!(id = %c.id, "container paused");
    c.commit(|r| r.state.paused = true).await
}

/// Thaw `c`.
pub(in crate::daemon) async fn thaw(c: &Arc<Container>) -> Result<()> {
    let rec = c.record();
    if !rec.state.is_paused() {
        return Err(Error::NotPaused(c.id.clone()));
    }
    match c.shim.resume().await {
        Ok(()) => {}
        Err(e) if e.is_not_running() => return Err(Error::NotRunning(c.id.clone())),
        Err(e) => return Err(Error::shim(format!("Cannot unpause container {}", c.id), e)),
    }
    tracing::info!(id = %c.id, "container unpaused");
    c.commit(|r| r.state.paused = false).await
}

/// After `signal` reached a paused container: as dockerd, SIGKILL, the
/// container's stop signal, or any signal when it has none set thaws it,
/// so the signal is delivered (runc thaws by itself for SIGKILL; resuming
/// again is harmless). Other signals wait for an unpause.
pub(in crate::daemon) async fn thaw_after_signal(c: &Arc<Container>, signal: i32) {
    let rec = c.record();
    if !rec.state.is_paused() {
        return;
    }
    let stop_signal = rec.spec.stop.signal.as_ref().map(|s| s.number);
    if !(signal == 9 || stop_signal.is_none() || stop_signal == Some(signal)) {
        return;
    }
    if let Err(e) = c.shim.resume().await {
        tracing::debug!(id = %c.id, error = %e, "resume after signal");
    }
    if let Err(e) = c.commit(|r| r.state.paused = false).await {
        tracing::warn!(id = %c.id, error = %e, "record unpause after signal");
    }
}
