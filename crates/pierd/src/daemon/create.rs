//! `POST /containers/create`: validate, resolve the image, merge its
//! defaults, reserve the name, write the record.

use std::sync::Arc;

use pier_api::container::{ContainerConfig, ContainerCreateRequest, HostConfig};
use pier_image::{ImageConfig, ImageError};

use super::{Container, Daemon};
use crate::clock;
use crate::error::{Error, Result};
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
    pub async fn create(self: &Arc<Self>, opts: CreateOptions) -> Result<Created> {
        let requested = match opts.name.as_deref() {
            Some(n) if !n.is_empty() => {
                let n = n.strip_prefix('/').unwrap_or(n);
                spec::validate_name(n).map_err(|e| Error::InvalidParameter(e.to_string()))?;
                Some(n.to_string())
            }
            _ => None,
        };
        let mut config = opts.request.config;
        let mut host_config = opts.request.host_config.unwrap_or_default();
        let image_name = config
            .image
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::InvalidParameter("no image specified".to_string()))?;
        check_host_config(&host_config)?;
        host_config.log_config = Some(self.effective_log_config(host_config.log_config.as_ref())?);
        if let Some(sig) = config.stop_signal.as_deref().filter(|s| !s.is_empty()) {
            spec::parse_signal(sig).map_err(|e| Error::InvalidParameter(e.to_string()))?;
        }
        let image = self.resolve_image(&image_name).await?;
        let mut argv = merge_image_config(&mut config, &image.config)?.into_iter();
        let path = argv.next().unwrap_or_default();
        let args: Vec<String> = argv.collect();
        let mounts = {
            let d = self.clone();
            let (hc, cfg, vols) = (host_config.clone(), config.clone(), image.config.volumes.clone());
            tokio::task::spawn_blocking(move || d.create_mounts(&hc, &cfg, &vols))
                .await
                .map_err(|e| Error::system("create mounts", e))??
        };

        let id = hex::encode(rand::random::<[u8; 32]>());
        if config.hostname.as_deref().unwrap_or("").is_empty() {
            config.hostname = Some(id[..12].to_string());
        }
        let name = match self.reserve_name(requested, &id) {
            Ok(n) => n,
            Err(e) => {
                // Anonymous volumes made for this container go with it.
                let d = self.clone();
                let _ = tokio::task::spawn_blocking(move || d.release_volumes(&mounts, true)).await;
                return Err(e);
            }
        };
        let rec = ContainerRecord {
            id: id.clone(),
            name: name.clone(),
            created: clock::now_nanos(),
            image: image_name,
            image_id: image.id.clone(),
            path,
            args,
            config,
            host_config,
            state: State::created(),
            restart_count: 0,
        };
        let container = Arc::new(Container::new(rec.clone(), &self.cfg));
        let dir = container.dir.clone();
        let written = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|e| Error::system(format!("create {}", dir.display()), e))?;
            // No mounts, no file (`mounts::load` reads a missing one as
            // none): saves two fsyncs on every plain create.
            if !mounts.is_empty() {
                super::mounts::save(&dir, &mounts)?;
            }
            record::save(&dir, &rec).map_err(|e| {
                let _ = std::fs::remove_dir_all(&dir);
                Error::system("save container record", e)
            })
        })
        .await
        .map_err(|e| Error::system("create container", e))
        .and_then(|r| r);
        if let Err(e) = written {
            self.names.release(&name, &id);
            return Err(e);
        }
        self.insert(container);
        tracing::info!(id = %id, name = %name, "container created");
        Ok(Created {
            id,
            warnings: Vec::new(),
        })
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
        Err(Error::System("generate container name: no free name found".to_string()))
    }

    /// Resolve an image name or id in the store (blocking, off the runtime).
    pub(crate) async fn resolve_image(&self, name: &str) -> Result<pier_image::Image> {
        let images = self.images.clone();
        let n = name.to_string();
        tokio::task::spawn_blocking(move || images.resolve(&n))
            .await
            .map_err(|e| Error::system("resolve image", e))?
            .map_err(|e| match e {
                ImageError::NotFound { .. } => Error::NoSuchImage(name.to_string()),
                ImageError::InvalidReference { reason, .. } => Error::InvalidParameter(reason),
                other => Error::system(format!("resolve image {name}"), other),
            })
    }
}

fn check_host_config(hc: &HostConfig) -> Result<()> {
    if let Some(lc) = &hc.log_config {
        match lc.kind.as_str() {
            "" | "json-file" | "cri" | "none" => {}
            other => {
                return Err(Error::InvalidParameter(format!(
                    "logger: no log driver named '{other}' is registered"
                )));
            }
        }
    }
    Ok(())
}

/// Apply the image's defaults as dockerd does at create (Cmd/Entrypoint,
/// Env, WorkingDir, User, Labels, StopSignal) and return the argv to run.
pub fn merge_image_config(c: &mut ContainerConfig, image: &ImageConfig) -> Result<Vec<String>> {
    let command = spec::merge_command(
        image.entrypoint.as_deref().unwrap_or_default(),
        image.cmd.as_deref().unwrap_or_default(),
        c.entrypoint.as_deref(),
        c.cmd.as_deref().unwrap_or_default(),
    )
    .map_err(|e| Error::InvalidParameter(e.to_string()))?;
    let argv = command.argv();
    c.entrypoint = (!command.entrypoint.is_empty()).then_some(command.entrypoint);
    c.cmd = (!command.cmd.is_empty()).then_some(command.cmd);
    c.env = Some(spec::merge_env(&image.env, c.env.as_deref().unwrap_or_default()));
    if c.working_dir.as_deref().unwrap_or("").is_empty() && !image.working_dir.is_empty() {
        c.working_dir = Some(image.working_dir.clone());
    }
    if c.user.as_deref().unwrap_or("").is_empty() && !image.user.is_empty() {
        c.user = Some(image.user.clone());
    }
    let mut labels = image.labels.clone();
    labels.extend(c.labels.take().unwrap_or_default());
    c.labels = Some(labels);
    if c.stop_signal.as_deref().unwrap_or("").is_empty() {
        c.stop_signal = image.stop_signal.clone();
    }
    if !image.volumes.is_empty() {
        let volumes = c.volumes.get_or_insert_with(Default::default);
        for v in &image.volumes {
            volumes.entry(v.clone()).or_insert_with(|| serde_json::json!({}));
        }
    }
    Ok(argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_follows_dockerd() {
        let image = ImageConfig {
            env: vec!["PATH=/bin".into(), "A=1".into()],
            cmd: Some(vec!["sh".into()]),
            entrypoint: None,
            working_dir: "/w".into(),
            user: "1000".into(),
            ..Default::default()
        };
        let mut c = ContainerConfig {
            env: Some(vec!["A=2".into()]),
            ..Default::default()
        };
        let argv = merge_image_config(&mut c, &image).expect("merge");
        assert_eq!(argv, vec!["sh".to_string()]);
        assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(c.env, Some(vec!["A=2".to_string(), "PATH=/bin".into()]));
        assert_eq!(c.working_dir.as_deref(), Some("/w"));
        assert_eq!(c.user.as_deref(), Some("1000"));

        let mut c = ContainerConfig::default();
        let bare = ImageConfig::default();
        assert!(merge_image_config(&mut c, &bare).is_err());
    }
}
