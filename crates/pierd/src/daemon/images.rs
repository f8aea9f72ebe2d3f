//! Image operations: import, list, inspect, remove (with docker's check that
//! no container uses the image).

use std::io::Read;

use pier_image::{Image, ImageError, Reference, Removed};

use super::Daemon;
use crate::error::{Error, Result};

fn map_image_error(name: &str, e: ImageError) -> Error {
    match e {
        ImageError::NotFound { .. } => Error::NoSuchImage(name.to_string()),
        ImageError::InvalidReference { reason, .. } => Error::InvalidParameter(reason),
        e @ (ImageError::InvalidArchive { .. } | ImageError::UnsafeEntry { .. } | ImageError::InvalidChange { .. }) => {
            Error::InvalidParameter(e.to_string())
        }
        ImageError::Conflict { message } => Error::Conflict(message),
        other => Error::system(format!("image {name}"), other),
    }
}

/// `?repo=&tag=` -> a reference; `repo` may carry the tag itself.
pub fn import_reference(repo: &str, tag: &str) -> Result<Option<Reference>> {
    if repo.is_empty() {
        return Ok(None);
    }
    let r = if tag.is_empty() {
        Reference::parse(repo)
    } else {
        Reference::from_repo_tag(repo, tag)
    };
    r.map(Some).map_err(|e| map_image_error(repo, e))
}

impl Daemon {
    /// Import a rootfs tar read from `body` (blocking; call from
    /// `spawn_blocking`).
    pub fn import_image(&self, body: impl Read, reference: Option<&Reference>, changes: &[String]) -> Result<Image> {
        self.images
            .import(body, reference, changes)
            .map_err(|e| map_image_error("import", e))
    }

    pub async fn list_images(&self) -> Result<Vec<Image>> {
        let store = self.images.clone();
        tokio::task::spawn_blocking(move || store.list())
            .await
            .map_err(|e| Error::system("list images", e))?
            .map_err(|e| map_image_error("list", e))
    }

    /// Containers (any state) per image id.
    pub fn image_users(&self, image_id: &str) -> Vec<crate::record::ContainerRecord> {
        self.containers()
            .iter()
            .map(|c| c.record())
            .filter(|r| r.image_id == image_id)
            .collect()
    }

    pub async fn remove_image(&self, name: &str, force: bool) -> Result<Vec<Removed>> {
        let image = self.resolve_image(name).await?;
        let users = self.image_users(&image.id);
        let short = |s: &str| {
            let s = s.strip_prefix("sha256:").unwrap_or(s);
            s[..s.len().min(12)].to_string()
        };
        if let Some(running) = users.iter().find(|r| r.state.is_running()) {
            if force {
                return Err(Error::Conflict(format!(
                    "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                    short(&image.id),
                    short(&running.id)
                )));
            }
        }
        if let Some(user) = users.first() {
            if !force {
                return Err(Error::Conflict(format!(
                    "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                    short(&user.id),
                    short(&image.id)
                )));
            }
        }
        let store = self.images.clone();
        let n = name.to_string();
        tokio::task::spawn_blocking(move || store.remove(&n, force))
            .await
            .map_err(|e| Error::system("remove image", e))?
            .map_err(|e| map_image_error(name, e))
    }
}
