//! `update`: new limits and restart policy for a container, validated and
//! merged by `model::update` before anything is written, applied live to
//! a running (or paused) container through its shim (`runtime update`),
//! then stored in its spec (inspect shows them; the next start applies
//! them).

use pier_api::container::HostConfig;

use crate::daemon::lifecycle::bundle::block_device_numbers;
use crate::daemon::Daemon;
use crate::error::{Error, Result};
use crate::model::update::{self, UpdateError};
use crate::record::Status;

impl Daemon {
    /// `POST /containers/{id}/update`: the warnings (docker's `Warnings`).
    pub async fn update(&self, key: &str, req: &HostConfig) -> Result<Vec<String>> {
        let c = self.lookup(key)?;
        let _op = c.op.lock().await;
        let rec = c.record();
        let failed = |message: String| Error::UpdateFailed {
            id: c.id.clone(),
            message,
        };
        if c.live.borrow().removed || matches!(rec.state.status, Status::Removing | Status::Dead) {
            return Err(failed(
                "container is marked for removal and cannot be \"update\"".to_string(),
            ));
        }
        let updated = update::update(&rec.spec, req, &self.cfg.host_support, self.cfg.ncpu).map_err(|e| match e {
            UpdateError::Invalid(m) => Error::InvalidParameter(m),
            UpdateError::Conflict(m) => Error::Conflict(format!("Cannot update container {}: {m}", c.id)),
        })?;
        if rec.state.is_running() {
            let live = updated.live.clone();
            let unset_pids = updated.unset_pids;
            let path = c.bundle.join("update.json");
            let file = path.clone();
            // A fake shim (tests) has no bundle and reads no file.
            let write = self.cfg.shims.needs_bundle();
            Daemon::blocking("write update resources", move || {
                let devices = block_device_numbers(&live)?;
                let mut res = crate::spec::resources::linux_resources(&live, &devices)
                    .map_err(|e| Error::InvalidParameter(e.to_string()))?;
                if unset_pids {
                    let mut pids = oci_spec::runtime::LinuxPids::default();
                    pids.set_limit(-1);
                    res.set_pids(Some(pids));
                }
                let json = serde_json::to_vec(&res).map_err(|e| Error::system("encode update resources", e))?;
                if !write {
                    return Ok(());
                }
                crate::record::write_replace(&file, &json, crate::private::RECORD)
                    .map_err(|e| Error::system("write update resources", e))
            })
            .await?;
            let applied = c.shim.update(path.clone()).await;
            let _ = std::fs::remove_file(&path);
            match applied {
                Ok(()) => {}
                // Exited meanwhile: the stored limits apply at the next start.
                Err(e) if e.is_not_running() => tracing::debug!(id = %c.id, error = %e, "update: not running"),
                Err(e) => return Err(failed(e.to_string())),
            }
        }
        c.commit(|r| r.spec = updated.spec).await?;
        self.container_event(&c.record(), "update", &[]);
        tracing::info!(id = %c.id, "container updated");
        Ok(updated.warnings)
    }
}
