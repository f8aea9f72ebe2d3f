//! Pulling an image from a registry into the store.
//!
//! Two steps, so a server can answer an HTTP error before it starts a
//! progress stream: [`ImageStore::resolve_remote`] fetches the manifest
//! (choosing the platform from an index) and the config; then
//! [`ImageStore::pull_remote`] fetches the layers, up to three at a time,
//! each streamed from the socket through the unpacker (never whole in
//! memory) while its compressed digest and its diff id are checked.
//! A layer that fails is dropped and fetched again (three tries); two pulls
//! of one layer at once fetch it once.

use std::io::{self, Read};
use std::sync::Mutex;
use std::time::Duration;

use oci_spec::image::ImageConfiguration;
use sha2::{Digest, Sha256};

use crate::distribution::manifest::{
    self, parse_document, select_platform, sha256_hex, Descriptor, Document, Platform,
};
use crate::distribution::{RegistryOptions, Repository};
use crate::error::ImageError;
use crate::image::Image;
use crate::reference::Reference;
use crate::store::{ImageRecord, ImageStore};

/// How to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// `os[/arch[/variant]]`; empty or `None` is the host's.
    pub platform: Option<String>,
    pub registry: RegistryOptions,
}

/// Progress of a pull, per layer (`id` is the short compressed digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullEvent {
    /// `Pulling fs layer`, `Waiting`, `Already exists`, `Download complete`,
    /// `Pull complete`, `Retrying in N seconds`.
    Status {
        id: String,
        status: String,
    },
    Downloading {
        id: String,
        current: u64,
        total: u64,
    },
}

/// A resolved remote image: manifest and config fetched and checked.
#[derive(Debug)]
pub struct RemoteImage {
    reference: Reference,
    repository: Repository,
    /// Digest of the document the reference names (the index for a
    /// multi-platform image), as docker records it.
    pub digest: String,
    /// `sha256:<hex>` of the config: the image id.
    pub id: String,
    layers: Vec<Descriptor>,
    diff_ids: Vec<String>,
    config: Vec<u8>,
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub image: Image,
    /// The repository digest (`sha256:…`).
    pub digest: String,
    /// False when the image and its layers were already there.
    pub fresh: bool,
}

const TRIES: u32 = 3;
const PARALLEL: usize = 3;
const REPORT_EVERY: u64 = 512 * 1024;

/// `sha256:<hex>` → the 12-character id docker shows.
pub fn short_id(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn check_digest(what: &str, expected: &str, bytes: &[u8]) -> Result<(), ImageError> {
    sha256_hex(expected)?;
    let actual = digest_of(bytes);
    if actual != expected {
        return Err(ImageError::DigestMismatch {
            what: what.to_string(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(())
}

impl ImageStore {
    /// Fetches and checks `reference`'s manifest (the platform's, from an
    /// index) and config. Blocking.
    pub fn resolve_remote(&self, reference: &Reference, options: &PullOptions) -> Result<RemoteImage, ImageError> {
        let platform = Platform::parse(options.platform.as_deref().unwrap_or(""))?;
        let repository = Repository::new(reference, &options.registry);
        let wanted = reference.digest().or(reference.tag()).unwrap_or("latest");
        let top = repository.manifest(wanted)?;
        let digest = digest_of(&top.body);
        if let Some(d) = reference.digest() {
            check_digest(&format!("manifest {reference}"), d, &top.body)?;
        }
        let manifest = match parse_document(&top.content_type, &top.body)? {
            Document::Manifest(m) => m,
            Document::Index(index) => {
                let chosen = select_platform(&index, &platform).ok_or_else(|| ImageError::NoMatchingPlatform {
                    platform: platform.to_string(),
                })?;
                sha256_hex(&chosen.digest)?;
                let fetched = repository.manifest(&chosen.digest)?;
                check_digest(&format!("manifest {}", chosen.digest), &chosen.digest, &fetched.body)?;
                match parse_document(&fetched.content_type, &fetched.body)? {
                    Document::Manifest(m) => m,
                    Document::Index(_) => {
                        return Err(ImageError::InvalidManifest {
                            reason: "an index inside an index is not supported".into(),
                        })
                    }
                }
            }
        };
        sha256_hex(&manifest.config.digest)?;
        let config = repository.small_blob(&manifest.config.digest)?;
        check_digest("image config", &manifest.config.digest, &config)?;
        let diff_ids = config_diff_ids(&config)?;
        if diff_ids.len() != manifest.layers.len() {
            return Err(ImageError::InvalidManifest {
                reason: format!(
                    "the manifest lists {} layers but the config {}",
                    manifest.layers.len(),
                    diff_ids.len()
                ),
            });
        }
        for layer in &manifest.layers {
            sha256_hex(&layer.digest)?;
        }
        Ok(RemoteImage {
            reference: reference.clone(),
            repository,
            digest,
            id: manifest.config.digest.clone(),
            layers: manifest.layers,
            diff_ids,
            config,
        })
    }

    /// Fetches the missing layers of `remote`, records the image and tags
    /// it. `progress` may be called from several threads. Blocking.
    pub fn pull_remote(
        &self,
        remote: RemoteImage,
        progress: &(dyn Fn(PullEvent) + Sync),
    ) -> Result<Pulled, ImageError> {
        let existing = self.resolve(&remote.id).ok();
        let mut fresh = existing.is_none();
        let pending: Mutex<Vec<(usize, &Descriptor)>> = Mutex::new(remote.layers.iter().enumerate().rev().collect());
        for layer in &remote.layers {
            progress(PullEvent::Status {
                id: short_id(&layer.digest),
                status: "Pulling fs layer".into(),
            });
        }
        for layer in remote.layers.iter().skip(PARALLEL) {
            progress(PullEvent::Status {
                id: short_id(&layer.digest),
                status: "Waiting".into(),
            });
        }
        let failure: Mutex<Option<ImageError>> = Mutex::new(None);
        let fetched_any = Mutex::new(false);
        std::thread::scope(|scope| {
            for _ in 0..PARALLEL.min(remote.layers.len()) {
                scope.spawn(|| loop {
                    if failure.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
                        return;
                    }
                    let next = pending.lock().unwrap_or_else(|e| e.into_inner()).pop();
                    let Some((i, layer)) = next else { return };
                    match self.fetch_layer(&remote.repository, layer, &remote.diff_ids[i], progress) {
                        Ok(fetched) => {
                            if fetched {
                                *fetched_any.lock().unwrap_or_else(|e| e.into_inner()) = true;
                            }
                        }
                        Err(e) => {
                            failure.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
                            return;
                        }
                    }
                });
            }
        });
        if let Some(e) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e);
        }
        fresh |= fetched_any.into_inner().unwrap_or_else(|e| e.into_inner());
        let repo_digest = format!("{}@{}", remote.reference.familiar_name(), remote.digest);
        let mut repo_digests = existing.map(|i| i.repo_digests).unwrap_or_default();
        if !repo_digests.contains(&repo_digest) {
            repo_digests.push(repo_digest);
            fresh = true;
        }
        // The digest reference lets `name@sha256:…` name the image later.
        let by_digest = Reference::parse(&format!("{}@{}", remote.reference.name(), remote.digest))?;
        let mut references = vec![by_digest];
        if remote.reference.digest().is_none() {
            if self.resolve(&remote.reference.canonical()).ok().map(|i| i.id) != Some(remote.id.clone()) {
                fresh = true;
            }
            references.push(remote.reference.clone());
        }
        let image = self.commit_image(
            Vec::new(),
            &remote.config,
            &references,
            ImageRecord {
                repo_digests,
                ..ImageRecord::default()
            },
        )?;
        tracing::info!(image = %image.id, reference = %remote.reference, "pulled image");
        Ok(Pulled {
            image,
            digest: remote.digest,
            fresh,
        })
    }

    /// Makes sure the layer is in `layers/`; true when it was downloaded.
    fn fetch_layer(
        &self,
        repository: &Repository,
        layer: &Descriptor,
        diff_id: &str,
        progress: &(dyn Fn(PullEvent) + Sync),
    ) -> Result<bool, ImageError> {
        let id = short_id(&layer.digest);
        let status = |s: String| {
            progress(PullEvent::Status {
                id: id.clone(),
                status: s,
            })
        };
        let lock = self.inflight(diff_id);
        let _fetching = lock.lock().unwrap_or_else(|e| e.into_inner());
        if self.has_layer(diff_id) {
            status("Already exists".into());
            return Ok(false);
        }
        let mut attempt = 1;
        loop {
            match self.download_layer(repository, layer, diff_id, &id, progress) {
                Ok(()) => {
                    status("Pull complete".into());
                    return Ok(true);
                }
                Err(e) if attempt < TRIES && retryable(&e) => {
                    tracing::warn!(layer = %layer.digest, attempt, error = %e, "layer download failed, retrying");
                    status(format!(
                        "Retrying in {attempt} second{}",
                        if attempt == 1 { "" } else { "s" }
                    ));
                    std::thread::sleep(Duration::from_secs(u64::from(attempt)));
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn download_layer(
        &self,
        repository: &Repository,
        layer: &Descriptor,
        diff_id: &str,
        id: &str,
        progress: &(dyn Fn(PullEvent) + Sync),
    ) -> Result<(), ImageError> {
        let (body, length) = repository.blob(&layer.digest)?;
        let total = if layer.size > 0 {
            layer.size
        } else {
            length.unwrap_or(0)
        };
        let mut reader = ProgressReader {
            inner: body,
            hasher: Sha256::new(),
            count: 0,
            reported: 0,
            total,
            id,
            progress,
        };
        let staged = self.stage_layer(&mut reader)?;
        let actual = format!("sha256:{}", hex::encode(reader.hasher.finalize_reset()));
        if actual != layer.digest {
            return Err(ImageError::DigestMismatch {
                what: format!("layer {}", layer.digest),
                expected: layer.digest.clone(),
                actual,
            });
        }
        if staged.layer.diff_id != diff_id {
            return Err(ImageError::DigestMismatch {
                what: format!("uncompressed layer {}", layer.digest),
                expected: diff_id.to_string(),
                actual: staged.layer.diff_id.clone(),
            });
        }
        progress(PullEvent::Status {
            id: id.to_string(),
            status: "Download complete".into(),
        });
        self.commit_staged_layer(staged)
    }
}

/// The config's `rootfs.diff_ids`.
pub(crate) fn config_diff_ids(config: &[u8]) -> Result<Vec<String>, ImageError> {
    let oci = ImageConfiguration::from_reader(config).map_err(|e| ImageError::InvalidManifest {
        reason: format!("image config: {e}"),
    })?;
    let ids = oci.rootfs().diff_ids().clone();
    for d in &ids {
        manifest::sha256_hex(d)?;
    }
    Ok(ids)
}

fn retryable(e: &ImageError) -> bool {
    match e {
        ImageError::Registry { status, .. } => status.is_none_or(|s| s >= 500 || s == 429),
        ImageError::InvalidArchive { .. } | ImageError::DigestMismatch { .. } => true,
        _ => false,
    }
}

/// Hashes and counts the compressed stream, reporting progress.
struct ProgressReader<'a, R> {
    inner: R,
    hasher: Sha256,
    count: u64,
    reported: u64,
    total: u64,
    id: &'a str,
    progress: &'a (dyn Fn(PullEvent) + Sync),
}

impl<R: Read> Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        if self.total > 0 && self.count > self.total {
            // A registry sending more than the manifest announced is not
            // trusted to ever stop.
            return Err(io::Error::other(format!(
                "layer {} is longer than the {} bytes its manifest announced",
                self.id, self.total
            )));
        }
        if self.count - self.reported >= REPORT_EVERY || (n == 0 && self.count != self.reported) || self.reported == 0 {
            self.reported = self.count.max(1);
            (self.progress)(PullEvent::Downloading {
                id: self.id.to_string(),
                current: self.count,
                total: self.total,
            });
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_and_retries() {
        assert_eq!(short_id(&format!("sha256:{}", "ab".repeat(32))), "abababababab");
        assert!(retryable(&ImageError::Registry {
            registry: "r".into(),
            status: None,
            reason: "reset".into()
        }));
        assert!(retryable(&ImageError::Registry {
            registry: "r".into(),
            status: Some(503),
            reason: "busy".into()
        }));
        assert!(!retryable(&ImageError::Registry {
            registry: "r".into(),
            status: Some(404),
            reason: "gone".into()
        }));
        assert!(!retryable(&ImageError::UnsafeEntry {
            entry: "x".into(),
            reason: "y".into()
        }));
    }

    #[test]
    fn config_diff_ids_are_checked() {
        let ok = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["sha256:{}"]}}}}"#,
            "a".repeat(64)
        );
        assert_eq!(config_diff_ids(ok.as_bytes()).expect("ok").len(), 1);
        let bad = r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:../x"]}}"#;
        assert!(config_diff_ids(bad.as_bytes()).is_err());
    }
}
