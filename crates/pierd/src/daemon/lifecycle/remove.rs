//! remove and rename.

use std::sync::Arc;

use crate::daemon::lifecycle::control::kill_and_wait;
use crate::daemon::lifecycle::lost;
use crate::daemon::{Container, Daemon};
use crate::error::{Error, Result};
use crate::record::Status;
use crate::spec;

impl Daemon {
    /// Remove a container and every trace of it (rootfs mount, container
    /// directory, bundle). Running: 409 unless `force`, which kills it first.
    pub async fn remove(self: &Arc<Self>, key: &str, force: bool, volumes: bool) -> Result<()> {
        let c = self.lookup(key)?;
        let _op = c.op.lock().await;
        if c.live.borrow().removed {
            return Err(Error::NoSuchContainer(key.to_string()));
        }
        let rec = c.record();
        if rec.state.is_restarting() {
            if !force {
                return Err(Error::Conflict(format!(
                    "cannot remove container \"/{}\": container is restarting: stop the container before removing or force remove",
                    rec.name
                )));
            }
            self.stop_restarting(&c).await?;
        }
        if rec.state.is_running() {
            if !force && rec.state.paused {
                return Err(Error::Conflict(format!(
                    "cannot remove container \"/{}\": container is paused and must be unpaused first",
                    rec.name
                )));
            }
            if !force {
                return Err(Error::RemoveRunning(rec.name));
            }
            c.cancel_restarts();
            kill_and_wait(&c, &self.events).await?;
        }
        self.remove_locked(&c, volumes).await
    }

    /// AutoRemove after an exit: skipped when the container was started
    /// again in the meantime (a restart) or is already gone.
    pub(in crate::daemon) async fn auto_remove(self: &Arc<Self>, c: &Arc<Container>) -> Result<()> {
        let _op = c.op.lock().await;
        let live = c.live.borrow().clone();
        if live.removed || live.record.state.is_running() {
            return Ok(());
        }
        self.remove_locked(c, true).await
    }

    /// Remove with the op lock held and the container not running (as
    /// recorded: the runtime is made sure of first, see `lost`).
    async fn remove_locked(self: &Arc<Self>, c: &Arc<Container>, volumes: bool) -> Result<()> {
        lost::ensure_ended(c).await?;
        let rec = c.record();
        let mounts = crate::daemon::storage::mounts::load(&c.dir).unwrap_or_default();
        c.cancel_restarts();
        c.publish(|l| Arc::make_mut(&mut l.record).state.status = Status::Removing);
        let handle = {
            let mut m = self.monitors.lock().unwrap_or_else(|p| p.into_inner());
            m.remove(&c.id)
        };
        if let Some(h) = handle {
            h.abort();
        }
        self.release_network(c).await;
        // No record write may race with the directory's removal.
        let _no_writes = c.persist.lock().await;
        let c2 = c.clone();
        let cleaned = Daemon::blocking("remove container", move || -> Result<()> {
            c2.rootfs()
                .unmount()
                .map_err(|e| Error::system(format!("remove container {}", c2.id), e))?;
            for dir in [&c2.dir, &c2.bundle] {
                match std::fs::remove_dir_all(dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(Error::system(format!("remove {}", dir.display()), e));
                    }
                }
            }
            Ok(())
        })
        .await;
        if let Err(e) = cleaned {
            c.publish(|l| Arc::make_mut(&mut l.record).state.status = Status::Dead);
            return Err(e);
        }
        self.forget(&c.id);
        self.names.release(&rec.name, &c.id);
        let d = self.clone();
        let released = Daemon::blocking("release volumes", move || {
            d.release_volumes(&mounts, volumes);
            Ok(())
        })
        .await;
        if let Err(e) = released {
            tracing::warn!(id = %c.id, error = %e, "release volumes");
        }
        c.publish(|l| l.removed = true);
        self.container_event(&rec, "destroy", &[]);
        tracing::info!(id = %c.id, "container removed");
        Ok(())
    }

    /// Give a container a new name; 409 when another container has it.
    pub async fn rename(&self, key: &str, new_name: &str) -> Result<()> {
        let new_name = new_name.strip_prefix('/').unwrap_or(new_name);
        if new_name.is_empty() {
            return Err(Error::InvalidParameter(
                "Neither old nor new names may be empty".to_string(),
            ));
        }
        spec::validate_name(new_name).map_err(|e| Error::InvalidParameter(e.to_string()))?;
        let c = self.lookup(key)?;
        let _op = c.op.lock().await;
        let old = c.record().name;
        if old == new_name {
            return Err(Error::InvalidParameter(
                "Renaming a container with the same name as its current name".to_string(),
            ));
        }
        if let Err(holder) = self.names.reserve(new_name, &c.id) {
            return Err(Error::NameInUse {
                name: new_name.to_string(),
                id: holder,
            });
        }
        let new = new_name.to_string();
        if let Err(e) = c.commit(|r| r.name = new).await {
            self.names.release(new_name, &c.id);
            return Err(e);
        }
        self.names.release(&old, &c.id);
        self.container_event(&c.record(), "rename", &[("oldName", &format!("/{old}"))]);
        Ok(())
    }
}
