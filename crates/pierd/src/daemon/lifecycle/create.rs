//! `POST /containers/create`: resolve the image, build the spec (the pure
//! `model::build` validates everything), create volumes, reserve the name,
//! write the record.

use std::sync::Arc;

use pier_api::container::ContainerCreateRequest;
use pier_image::ImageError;

use crate::daemon::{Container, Daemon};
use crate::error::{Error, Result};
use crate::model;
use crate::names;
use crate::record::{self, ContainerRecord, State};
use crate::spec;

/// What a create call asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// `?name=`; `None` or empty picks a random name.
    pub name: Option<String>,
    pub request: ContainerCreateRequest,
}

/// Reply of a successful create.
#[derive(Debug, Clone)]
pub struct Created {
    pub id: String,
    pub warnings: Vec<String>,
}

impl Daemon {
    /// The daemon's contribution to every new container's spec.
    pub(crate) fn model_defaults(&self) -> model::Defaults<'_> {
        model::Defaults {
            log_driver: &self.cfg.log_driver,
            log_opts: &self.cfg.log_opts,
            runtime: self.cfg.runtime_name(),
            ncpu: self.cfg.ncpu,
            cgroup_v2: self.cfg.cgroup_v2,
            apparmor: self.cfg.apparmor,
            bridge_default: self.networks.bridge_by_default(),
            host: &self.cfg.host_support,
        }
    }

    pub async fn create(self: &Arc<Self>, opts: CreateOptions) -> Result<Created> {
        let requested = match opts.name.as_deref() {
            Some(n) if !n.is_empty() => {
                let n = n.strip_prefix('/').unwrap_or(n);
                spec::validate_name(n).map_err(|e| Error::InvalidParameter(e.to_string()))?;
                Some(n.to_string())
            }
            _ => None,
        };
        let request = opts.request;
        let image_name = request.config.image.clone();
        if image_name.is_empty() {
            return Err(Error::InvalidParameter("no image specified".to_string()));
        }
        let image = self.resolve_image(&image_name).await?;
        let id = hex::encode(rand::random::<[u8; 32]>());
        let mut built = model::build(&id, &request, &image.config, &self.model_defaults())
            .map_err(|e| Error::InvalidParameter(e.to_string()))?;
        self.check_isolation(&mut built.spec)?;
        // dockerd: a network that does not exist is a 404 at create.
        match &built.spec.network {
            model::NetworkMode::Named(n) => drop(self.networks.get(n)?),
            model::NetworkMode::Bridge => drop(self.networks.get(crate::network::BRIDGE)?),
            _ => {}
        }
        let mounts = {
            let d = self.clone();
            let hc = request.host_config.clone().unwrap_or_default();
            let volumes = built.spec.storage.volumes.clone();
            Daemon::blocking("create mounts", move || d.create_mounts(&hc, &volumes)).await?
        };
        let name = match self.reserve_name(requested, &id) {
            Ok(n) => n,
            Err(e) => {
                // Anonymous volumes made for this container go with it.
                let d = self.clone();
                let _ = Daemon::blocking("release volumes", move || {
                    d.release_volumes(&mounts, true);
                    Ok(())
                })
                .await;
                return Err(e);
            }
        };
        let rec = ContainerRecord {
            version: record::VERSION,
            id: id.clone(),
            name: name.clone(),
            created: pier_time::now_nanos(),
            image: image_name,
            image_id: image.id.clone(),
            spec: built.spec,
            state: State::created(),
            restart_count: 0,
        };
        let container = Arc::new(Container::new(rec.clone(), &self.cfg));
        let dir = container.dir.clone();
        let volume_mounts = mounts.clone();
        let written = Daemon::blocking("create container", move || {
            let res = write_container_dir(&dir, &mounts, &rec);
            if res.is_err() {
                // Half a container is none: no directory is left behind.
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        tracing::warn!(dir = %dir.display(), error = %e, "remove half-created container");
                    }
                }
            }
            res
        })
        .await;
        if let Err(e) = written {
            self.names.release(&name, &id);
            let d = self.clone();
            let _ = Daemon::blocking("release volumes", move || {
                d.release_volumes(&volume_mounts, true);
                Ok(())
            })
            .await;
            return Err(e);
        }
        self.insert(container);
        if let Ok(c) = self.lookup(&id) {
            self.container_event(&c.record(), "create", &[]);
        }
        for w in &built.warnings {
            tracing::info!(id = %id, warning = %w, "create warning");
        }
        tracing::info!(id = %id, name = %name, "container created");
        Ok(Created {
            id,
            warnings: built.warnings,
        })
    }

    /// What the pure build cannot check: the runtime's name, the containers
    /// whose namespaces are shared (named by id from here on, as dockerd's
    /// `adaptSharedNamespaceContainer`), and that mapped devices exist
    /// (dockerd finds out at start; a 400 at create is kinder).
    fn check_isolation(&self, spec: &mut model::ContainerSpec) -> Result<()> {
        if !self.cfg.knows_runtime(&spec.runtime) {
            return Err(Error::InvalidParameter(format!(
                "unknown or invalid runtime name: {}",
                spec.runtime
            )));
        }
        let iso = &mut spec.isolation;
        if let model::PidMode::Container(name) = &iso.pid {
            iso.pid = model::PidMode::Container(self.lookup(name)?.id.clone());
        }
        if let model::IpcMode::Container(name) = &iso.ipc {
            iso.ipc = model::IpcMode::Container(self.lookup(name)?.id.clone());
        }
        if let model::UtsMode::Container(name) = &iso.uts {
            iso.uts = model::UtsMode::Container(self.lookup(name)?.id.clone());
        }
        for d in &iso.devices {
            super::devices::from_mapping(d).map_err(Error::InvalidParameter)?;
        }
        Ok(())
    }

    /// Reserve the requested name, or a free random one.
    fn reserve_name(&self, requested: Option<String>, id: &str) -> Result<String> {
        if let Some(name) = requested {
            return match self.names.reserve(&name, id) {
                Ok(()) => Ok(name),
                Err(holder) => Err(Error::NameInUse { name, id: holder }),
            };
        }
        for retry in 0..64 {
            let name = names::random_name(retry);
            if self.names.reserve(&name, id).is_ok() {
                return Ok(name);
            }
        }
        Err(Error::system("generate container name", "no free name found"))
    }

    /// Resolve an image name or id in the store (blocking, off the runtime).
    pub(crate) async fn resolve_image(&self, name: &str) -> Result<pier_image::Image> {
        let images = self.images.clone();
        let n = name.to_string();
        let owned = name.to_string();
        Daemon::blocking("resolve image", move || {
            images.resolve(&n).map_err(|e| match e {
                ImageError::NotFound { .. } => Error::NoSuchImage(owned),
                ImageError::InvalidReference { reason, .. } => Error::InvalidParameter(reason),
                other => Error::system(format!("resolve image {owned}"), other),
            })
        })
        .await
    }
}

/// The container's directory with its mount points and record (blocking).
/// Errors name the file and the cause (a full data root is `No space left
/// on device`).
fn write_container_dir(
    dir: &std::path::Path,
    mounts: &[crate::daemon::storage::mounts::MountPoint],
    rec: &ContainerRecord,
) -> Result<()> {
    crate::private::dir(dir, crate::private::DIR).map_err(|e| Error::system(format!("create {}", dir.display()), e))?;
    // No mounts, no file (`mounts::load` reads a missing one as none):
    // saves two fsyncs on every plain create.
    if !mounts.is_empty() {
        crate::daemon::storage::mounts::save(dir, mounts)?;
    }
    record::save(dir, rec).map_err(|e| Error::system("save container record", e))
}
