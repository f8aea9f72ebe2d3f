//! Rebuilding the container table at startup from `container.json` files,
//! shim sockets and exit records (containers and shims outlive pierd).

use std::sync::Arc;

use crate::daemon::lifecycle::lost::{self, Settled};
use crate::daemon::lifecycle::monitor::{self, Exit};
use crate::daemon::{Container, Daemon};
use crate::error::Error;
use crate::record::{self, Status};
use crate::shim::{KillScope, ShimError, ShimState};

/// How many containers are reconciled against their shims at once.
const RESTORE_CONCURRENCY: usize = 16;
/// How long start-up waits for reconciliation before it serves.
const RESTORE_BUDGET: std::time::Duration = std::time::Duration::from_secs(1);

impl Daemon {
    /// Load every container; reconnect to running ones, record exits that
    /// happened while pierd was down, unmount stale rootfs mounts.
    pub async fn restore(self: &Arc<Self>) -> anyhow::Result<()> {
        let dir = self.cfg.containers_dir();
        let d = self.clone();
        let records = Daemon::blocking("load container records", move || {
            let defaults = d.model_defaults();
            let mut out = Vec::new();
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "read containers dir");
                    return Ok(out);
                }
            };
            for entry in entries.flatten() {
                let path = entry.path();
                match record::load(&path, &defaults) {
                    Ok(loaded) => {
                        if let Some(from) = loaded.upgraded_from {
                            // Written back now, so the upgrade happens once.
                            match record::save(&path, &loaded.record) {
                                Ok(()) => tracing::info!(
                                    id = %loaded.record.id,
                                    from,
                                    to = record::VERSION,
                                    notes = ?loaded.notes,
                                    "container record upgraded"
                                ),
                                Err(e) => tracing::warn!(error = %e, "write upgraded container record"),
                            }
                        }
                        out.push(loaded.record);
                    }
                    Err(e) => tracing::warn!(error = %e, "skip container directory"),
                }
            }
            Ok(out)
        })
        .await?;
        let mut restored = Vec::new();
        for rec in records {
            if let Err(holder) = self.names.reserve(&rec.name, &rec.id) {
                tracing::warn!(id = %rec.id, name = %rec.name, holder = %holder, "duplicate container name");
            }
            let c = Arc::new(Container::new(rec, &self.cfg));
            self.insert(c.clone());
            restored.push(c);
        }
        {
            let d = self.clone();
            let all = restored.clone();
            Daemon::blocking("restore network attachments", move || {
                d.restore_attachments(&all);
                Ok(())
            })
            .await?;
        }
        let n = restored.len();
        // Containers whose disk state says they still run (recorded running,
        // shim socket there, no `exit.json`: the shim writes it before it
        // tells anyone of an exit) only reconnect to their shims; that goes
        // on after the API serves. The rest (exits while pierd was down,
        // lost shims, mounts to undo) are settled first, within the
        // start-up budget, so no reader sees a stale exit.
        let (first, later) = Daemon::blocking("classify restored containers", move || {
            Ok(restored.into_iter().partition::<Vec<_>, _>(|c| !still_running(c)))
        })
        .await?;
        // Bounded parallelism for both; a stopped shim costs its own
        // container an answer timeout in the background, not the daemon its
        // start-up. Until its reconcile is done a container shows its
        // recorded state and its operations wait for its op lock, which
        // the reconcile holds until the container is settled.
        let permits = Arc::new(tokio::sync::Semaphore::new(RESTORE_CONCURRENCY));
        let spawn = |cs: Vec<Arc<Container>>| -> Vec<_> {
            cs.into_iter()
                .map(|c| {
                    let d = self.clone();
                    let permits = permits.clone();
                    // Taken now, before the API serves (nobody else can
                    // hold it yet), so no operation overtakes the reconcile.
                    let op = c.op.clone().try_lock_owned();
                    tokio::spawn(async move {
                        let op = match op {
                            Ok(op) => op,
                            Err(_) => c.op.clone().lock_owned().await,
                        };
                        let _permit = permits.acquire_owned().await;
                        d.reconcile(c, op).await
                    })
                })
                .collect()
        };
        let (settling, reconnecting) = (first.len(), later.len());
        let first = spawn(first);
        let log_errors = |done: Vec<Result<(), tokio::task::JoinError>>| {
            for r in done {
                if let Err(e) = r {
                    tracing::error!(error = %e, "reconcile container");
                }
            }
        };
        match tokio::time::timeout(RESTORE_BUDGET, futures_util::future::join_all(first)).await {
            Ok(done) => log_errors(done),
            Err(_) => tracing::warn!(
                containers = settling,
                budget = ?RESTORE_BUDGET,
                "some containers are still being settled (shims slow to answer); serving meanwhile"
            ),
        }
        // Spawned after the first ones so they queue behind them.
        let later = spawn(later);
        tokio::spawn(async move {
            log_errors(futures_util::future::join_all(later).await);
            tracing::info!(containers = n, reconnected = reconnecting, "containers restored");
        });
        Ok(())
    }

    /// Settle one container against its shim. Every shim call is bounded:
    /// a stopped or wedged shim delays only its own container's line here
    /// (by one answer timeout), and its container stays running with a
    /// monitor that waits for the shim to answer. A shim that is gone
    /// leaves the truth to `exit.json` or the runtime (`lost`).
    async fn reconcile(self: &Arc<Self>, c: Arc<Container>, op: tokio::sync::OwnedMutexGuard<()>) {
        // `op` is held until the container is settled (a start that comes
        // in meanwhile cannot have its fresh mount undone; a stop or remove
        // waits for the monitor), released before `handle_exit`, which
        // takes it to unmount.
        {
            let rec = c.record();
            // pierd may have died between spawning a shim and recording the
            // start: a live shim means the container runs (or was created).
            let not_running = matches!(rec.state.status, Status::Created | Status::Exited);
            let orphan_shim = not_running && c.socket().exists() && c.shim.is_alive().await;
            // Or the shim died too: the runtime may still hold the
            // container, which is then settled like a lost shim's.
            let orphan_runtime = not_running && !orphan_shim && c.shim.runtime_may_know();
            match rec.state.status {
                Status::Running => {}
                _ if orphan_shim || orphan_runtime => {
                    tracing::info!(
                        id = %c.id,
                        shim = orphan_shim,
                        "found a container recorded as not running but known to its shim or the runtime"
                    );
                    let _ = c.commit(|r| r.state.status = Status::Running).await;
                }
                Status::Removing => {
                    c.publish(|l| Arc::make_mut(&mut l.record).state.status = Status::Dead);
                    self.unmount_stale(&c).await;
                    return;
                }
                _ => {
                    self.unmount_stale(&c).await;
                    // pierd stopped while it waited out a restart's back-off.
                    if rec.state.is_restarting() {
                        self.schedule_restart(&c, std::time::Duration::ZERO);
                    }
                    return;
                }
            }
        }
        let rec = c.record();
        match c.shim.state().await {
            Ok(ShimState::Exited(Some(record))) => {
                drop(op);
                self.handle_exit(&c, Exit { record, error: None }).await;
                // Health changes of the run that ended while pierd was down.
                self.spawn_health_watch(c.clone());
            }
            Ok(ShimState::Exited(None)) => {
                drop(op);
                let exit = match monitor::exit_on_disk(&c.exit_path()).await {
                    Some(exit) => exit,
                    None => monitor::shim_disappeared(),
                };
                self.handle_exit(&c, exit).await;
                self.spawn_health_watch(c.clone());
            }
            Ok(state @ (ShimState::Created { .. } | ShimState::Running { .. })) => {
                let (pid, paused) = match state {
                    ShimState::Created { pid } => {
                        // Created but never started: nobody will start it.
                        if let Err(e) = c.shim.kill(9, KillScope::All).await {
                            tracing::warn!(id = %c.id, error = %e, "kill never-started container");
                        }
                        (pid, false)
                    }
                    ShimState::Running { pid, paused } => (pid, paused),
                    ShimState::Exited(_) => (0, false),
                };
                let silent = rec.state.error == monitor::SHIM_SILENT;
                if (pid > 0 && pid != rec.state.pid) || silent || paused != rec.state.paused {
                    let _ = c
                        .commit(|r| {
                            if pid > 0 {
                                r.state.pid = pid;
                            }
                            if silent {
                                r.state.error.clear();
                            }
                            // The shim knows whether the freezer holds it.
                            r.state.paused = paused;
                        })
                        .await;
                }
                let watch = c.shim.arm_wait().await.ok();
                self.spawn_monitor(c.clone(), watch);
                drop(op);
                tracing::info!(id = %c.id, "reconnected to running container");
            }
            Err(ShimError::Timeout { .. }) => {
                // Alive but not answering: it keeps its recorded state; the
                // monitor learns the exit once the shim answers again.
                tracing::warn!(id = %c.id, "shim does not answer; keeping the container running");
                monitor::mark_silent(&c);
                self.spawn_monitor(c.clone(), None);
                drop(op);
            }
            Err(e) => {
                drop(op);
                if !e.is_gone() {
                    tracing::warn!(id = %c.id, error = %e, "shim state");
                }
                match lost::settle(&c).await {
                    Settled::Exited(exit) => {
                        self.handle_exit(&c, exit).await;
                        self.spawn_health_watch(c.clone());
                    }
                    Settled::Lost { pid, error } => {
                        self.adopt_lost(&c, pid, error).await;
                        self.spawn_lost_monitor(c.clone(), pid);
                    }
                }
            }
        }
    }

    async fn unmount_stale(&self, c: &Arc<Container>) {
        self.release_network(c).await;
        let c2 = c.clone();
        let unmounted = Daemon::blocking("unmount stale rootfs", move || {
            c2.rootfs()
                .unmount()
                .map_err(|e| Error::system("unmount stale rootfs", e))
        })
        .await;
        if let Err(e) = unmounted {
            tracing::warn!(id = %c.id, error = %e, "unmount stale rootfs");
        }
    }
}

/// Whether `c`'s files say it still runs: recorded running, its shim's
/// socket there and no exit record (blocking: two `stat`s).
fn still_running(c: &Container) -> bool {
    c.record().state.status == Status::Running && c.socket().exists() && !c.exit_path().exists()
}
