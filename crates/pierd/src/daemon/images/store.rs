//! Image operations: import, pull, load, save, tag, list, inspect, prune,
//! remove (dockerd's rules; an image a container uses is never deleted).

use std::io::Read;

use pier_image::distribution::{Credentials, RegistryOptions};
use pier_image::{
    Image, ImageError, ImageUsers, Loaded, PullEvent, PullOptions, Pulled, Reference, RemoteImage, Removed,
};

use crate::daemon::Daemon;
use crate::error::{Error, Result};

/// An image store error as the API shows it: docker's wording for a
/// missing image and a bad reference; malformed input in its own words;
/// anything else with the image's name. `http::error` picks the status.
fn map_image_error(name: &str, e: ImageError) -> Error {
    match e {
        ImageError::NotFound { .. } => Error::NoSuchImage(name.to_string()),
        ImageError::InvalidReference { reason, .. } => Error::InvalidParameter(reason),
        ImageError::Conflict { message } => Error::Conflict(message),
        e @ (ImageError::InvalidArchive { .. }
        | ImageError::NotAnImageArchive { .. }
        | ImageError::UnsafeEntry { .. }
        | ImageError::InvalidChange { .. }
        | ImageError::InvalidManifest { .. }
        | ImageError::InvalidPlatform { .. }
        | ImageError::DigestMismatch { .. }) => Error::image(e),
        other => Error::Image {
            context: format!("image {name}"),
            source: other,
        },
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
        let image = self
            .images
            .import(body, reference, changes)
            .map_err(|e| map_image_error("import", e))?;
        if let Some(r) = reference {
            self.image_event("tag", &image.id, &r.to_string());
        }
        self.image_event("import", &image.id, &image.id);
        Ok(image)
    }

    /// An image event as dockerd's `LogImageEvent`: the actor is `id`,
    /// its `name` attribute `name`.
    pub fn image_event(&self, action: &str, id: &str, name: &str) {
        self.event("image", action, id, &[("name", name)]);
    }

    /// `untag` and `delete` events for what removing `image_id` removed
    /// (layers deleted with it are no events).
    fn removed_events(&self, image_id: &str, removed: &[Removed]) {
        for r in removed {
            match r {
                Removed::Untagged(_) => self.image_event("untag", image_id, image_id),
                Removed::Deleted(id) if id == image_id => self.image_event("delete", image_id, image_id),
                Removed::Deleted(_) => {}
            }
        }
    }

    pub async fn list_images(&self) -> Result<Vec<Image>> {
        let store = self.images.clone();
        Daemon::blocking("list images", move || {
            store.list().map_err(|e| map_image_error("list", e))
        })
        .await
    }

    /// Containers (any state) per image id.
    pub fn image_users(&self, image_id: &str) -> Vec<crate::record::ContainerRecord> {
        self.containers()
            .iter()
            .map(|c| c.record())
            .filter(|r| r.image_id == image_id)
            .collect()
    }

    /// dockerd's `refreshImage` for container lists: each `(image, image
    /// id)` pair shows the reference the container was created with while
    /// it still names the container's image, else the image id (after an
    /// `rmi -f` or a re-tag).
    pub async fn shown_image_names(&self, pairs: Vec<(String, String)>) -> Result<Vec<String>> {
        let store = self.images.clone();
        Daemon::blocking("resolve images", move || {
            // Many containers share an image: resolve each name once.
            let mut resolved: std::collections::HashMap<String, Option<String>> = std::collections::HashMap::new();
            Ok(pairs
                .into_iter()
                .map(|(name, id)| {
                    let current = resolved
                        .entry(name.clone())
                        .or_insert_with(|| store.resolve(&name).ok().map(|image| image.id));
                    match current {
                        Some(current) if *current == id => name,
                        _ if name == id => name,
                        _ => id,
                    }
                })
                .collect())
        })
        .await
    }

    /// `DELETE /images/{name}`: dockerd's rules with the containers that
    /// use the image (`ImageStore::remove_used`): an image a container
    /// uses keeps its record and layers, whatever `force` says.
    pub async fn remove_image(&self, name: &str, force: bool) -> Result<Vec<Removed>> {
        let image = self.resolve_image(name).await?;
        let containers = self.image_users(&image.id);
        // dockerd's `IsRunning`: a container waiting for a policy restart
        // counts as running.
        let running = |r: &&crate::record::ContainerRecord| r.state.is_running() || r.state.is_restarting();
        let users = ImageUsers {
            running: containers.iter().find(running).map(|r| r.id.clone()),
            stopped: containers.iter().find(|r| !running(r)).map(|r| r.id.clone()),
        };
        let store = self.images.clone();
        let n = name.to_string();
        let removed = Daemon::blocking("remove image", move || {
            store.remove_used(&n, force, &users).map_err(|e| map_image_error(&n, e))
        })
        .await?;
        self.removed_events(&image.id, &removed);
        Ok(removed)
    }
}

impl Daemon {
    /// Credentials for `registry`: the client's `X-Registry-Auth` header, else
    /// the daemon user's docker `config.json` (`$DOCKER_CONFIG` or
    /// `~/.docker`).
    pub fn registry_credentials(auth_header: Option<&str>, registry: &str) -> Option<Credentials> {
        if let Some(c) = auth_header.and_then(Credentials::from_registry_auth_header) {
            return Some(c);
        }
        let dir = std::env::var_os("DOCKER_CONFIG")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".docker")))?;
        let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
        Credentials::from_docker_config(&text, registry)
    }

    /// Fetch and check the manifest and config of `reference` (before a
    /// progress stream starts, so failures become HTTP errors).
    pub async fn resolve_remote(
        &self,
        reference: Reference,
        platform: Option<String>,
        credentials: Option<Credentials>,
    ) -> Result<RemoteImage> {
        let store = self.images.clone();
        let options = PullOptions {
            platform,
            registry: RegistryOptions {
                // Loopback registries are always plain HTTP.
                insecure: self.live_config().insecure_registries,
                credentials,
                endpoints: self.cfg.cri.registry_hosts.clone(),
            },
        };
        Daemon::blocking("resolve image", move || {
            store.resolve_remote(&reference, &options).map_err(Error::image)
        })
        .await
    }

    /// Fetch the layers of a resolved image (blocking; call from
    /// `spawn_blocking`).
    pub fn pull_remote(
        &self,
        remote: RemoteImage,
        progress: &(dyn Fn(PullEvent) + Sync),
    ) -> std::result::Result<Pulled, ImageError> {
        self.images.pull_remote(remote, progress)
    }

    /// Load an image archive read from `body` (blocking).
    pub fn load_images(&self, body: impl Read) -> Result<Vec<Loaded>> {
        let loaded = self.images.load_archive(body).map_err(|e| map_image_error("load", e))?;
        for l in &loaded {
            self.image_event("load", &l.id, &l.id);
        }
        Ok(loaded)
    }

    /// Write the images `names` as one archive (blocking).
    pub fn save_images(&self, names: &[String], out: impl std::io::Write) -> Result<()> {
        self.images.save(names, out).map_err(|e| map_image_error("save", e))?;
        for n in names {
            if let Ok(image) = self.images.resolve(n) {
                self.image_event("save", &image.id, &image.id);
            }
        }
        Ok(())
    }

    /// `POST /images/{name}/tag`.
    pub async fn tag_image(&self, name: &str, reference: Reference) -> Result<()> {
        let store = self.images.clone();
        let n = name.to_string();
        let shown = reference.to_string();
        let id = Daemon::blocking("tag image", move || {
            store.tag(&n, &reference).map_err(|e| map_image_error(&n, e))?;
            Ok(store.resolve(&n).map(|i| i.id).unwrap_or_default())
        })
        .await?;
        self.image_event("tag", &id, &shown);
        Ok(())
    }

    /// Remove images no container uses: untagged ones, or every one when
    /// `all` (docker's `dangling=false`). Returns what was removed and the
    /// bytes reclaimed.
    pub async fn prune_images(&self, all: bool) -> Result<(Vec<Removed>, u64)> {
        let mut removed_all = Vec::new();
        let mut reclaimed = 0;
        for image in self.list_images().await? {
            if (!all && !image.repo_tags.is_empty()) || !self.image_users(&image.id).is_empty() {
                continue;
            }
            let store = self.images.clone();
            let id = image.id.clone();
            match Daemon::blocking("prune images", move || Ok(store.remove(&id, true))).await? {
                Ok(removed) => {
                    self.removed_events(&image.id, &removed);
                    reclaimed += image.size;
                    removed_all.extend(removed);
                }
                Err(ImageError::NotFound { .. }) => {}
                Err(e) => return Err(map_image_error(&image.id, e)),
            }
        }
        Ok((removed_all, reclaimed))
    }
}
