//! Rebuilding the container table at startup from `container.json` files,
//! shim sockets and exit records (containers and shims outlive pierd).

use std::sync::Arc;

use pier_shim_proto::{Request, Response, Status as ShimStatus};

use super::monitor::{self, Exit};
use super::{Container, Daemon};
use crate::record::{self, Status};
use crate::shim::ShimClient;

impl Daemon {
    /// Load every container; reconnect to running ones, record exits that
    /// happened while pierd was down, unmount stale rootfs mounts.
    pub async fn restore(self: &Arc<Self>) -> anyhow::Result<()> {
        let dir = self.cfg.containers_dir();
        let d = self.clone();
        let records = tokio::task::spawn_blocking(move || {
            let defaults = d.model_defaults();
            let mut out = Vec::new();
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "read containers dir");
                    return out;
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
            out
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
        let n = restored.len();
        let tasks: Vec<_> = restored
            .into_iter()
            .map(|c| {
                let d = self.clone();
                tokio::spawn(async move { d.reconcile(c).await })
            })
            .collect();
        for t in tasks {
            t.await?;
        }
        tracing::info!(containers = n, "containers restored");
        Ok(())
    }

    async fn reconcile(self: &Arc<Self>, c: Arc<Container>) {
        let rec = c.record();
        // pierd may have died between spawning a shim and recording the
        // start: a live shim means the container runs (or was created).
        let orphan_shim = matches!(rec.state.status, Status::Created | Status::Exited)
            && c.socket().exists()
            && ShimClient::connect(&c.socket()).await.is_ok();
        match rec.state.status {
            Status::Running => {}
            _ if orphan_shim => {
                tracing::info!(id = %c.id, "found a shim for a container recorded as not running");
                let _ = c.commit(|r| r.state.status = Status::Running).await;
            }
            Status::Removing => {
                c.publish(|l| l.record.state.status = Status::Dead);
                self.unmount_stale(&c).await;
                return;
            }
            _ => {
                self.unmount_stale(&c).await;
                return;
            }
        }
        match ShimClient::connect(&c.socket()).await {
            Ok(mut conn) => match conn.call(&Request::State).await {
                Ok(Response::State(st)) => match (st.status, st.exit) {
                    (ShimStatus::Stopped, Some(record)) => {
                        drop(conn);
                        self.handle_exit(&c, Exit { record, error: None }).await;
                    }
                    (ShimStatus::Stopped, None) => {
                        drop(conn);
                        let exit = monitor::exit_from_disk(&c.exit_path()).await;
                        self.handle_exit(&c, exit).await;
                    }
                    (status, _) => {
                        if status == ShimStatus::Created {
                            // Created but never started: nobody will start it.
                            let kill = Request::Kill { signal: 9, all: true };
                            if let Err(e) = crate::shim::call_once(&c.socket(), &kill).await {
                                tracing::warn!(id = %c.id, error = %e, "kill never-started container");
                            }
                        }
                        if st.pid > 0 && st.pid != rec.state.pid {
                            let pid = st.pid;
                            let _ = c.commit(|r| r.state.pid = pid).await;
                        }
                        match conn.send(&Request::Wait).await {
                            Ok(()) => self.spawn_monitor(c.clone(), Some(conn)),
                            Err(_) => self.spawn_monitor(c.clone(), None),
                        }
                        tracing::info!(id = %c.id, "reconnected to running container");
                    }
                },
                other => {
                    tracing::warn!(id = %c.id, reply = ?other, "shim state");
                    drop(conn);
                    let exit = monitor::exit_from_disk(&c.exit_path()).await;
                    self.handle_exit(&c, exit).await;
                }
            },
            Err(_) => {
                let exit = match monitor::read_exit_record(&c.exit_path()) {
                    Some(record) => Exit { record, error: None },
                    None => monitor::shim_disappeared(),
                };
                self.handle_exit(&c, exit).await;
            }
        }
    }

    async fn unmount_stale(&self, c: &Arc<Container>) {
        let c2 = c.clone();
        match tokio::task::spawn_blocking(move || c2.rootfs().unmount()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(id = %c.id, error = %e, "unmount stale rootfs"),
            Err(e) => tracing::warn!(id = %c.id, error = %e, "unmount stale rootfs"),
        }
    }
}
