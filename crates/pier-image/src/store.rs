//! The image store on disk, under `<data-root>/image`:
//!
//! ```text
//! blobs/sha256/<hex>     content-addressed blobs: image configs (later manifests)
//! layers/<hex>/diff/     one unpacked layer per diff id: an overlayfs lowerdir
//! layers/<hex>/layer.json  {"size": n, "tar_size": n, "archive": true}
//! layers/<hex>/archive   the layer stream as received (maybe compressed), for save
//! images/<hex>.json      one record per image id (the config digest)
//! repositories.json      {"refs": {"docker.io/library/busybox:latest": "sha256:…"}}
//! tmp/                   half-done work; emptied by `open`
//! ```
//!
//! Every file is written to a temporary name, fsynced and renamed into place;
//! a layer directory is unpacked under `tmp/` and renamed whole. One mutex
//! guards the index and the short commit steps; unpacking runs outside it,
//! so imports proceed in parallel.
//!
//! Every image enters through two steps: `stage_layer` (unpack one layer
//! stream under `tmp/`, hashing it into its diff id) and `commit_image`
//! (move staged layers into place, reuse those already present, store the
//! config blob, record the image, tag it). Import stages one layer and writes
//! its own config. Pull and load (issue 7) will stage each layer blob the
//! same way after checking its compressed digest, skip layers whose diff id
//! is already in `layers/`, and commit with the registry's config bytes and
//! repo digests; save reads `blobs/` and re-tars `layers/<hex>/diff`.

mod disk;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use oci_spec::image::ImageConfiguration;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::changes::apply_changes;
use crate::config::{from_blob, import_configuration};
use crate::error::ImageError;
use crate::image::{Image, ImageConfig, Removed};
use crate::index::{id_hex, ImageUsers, Index};
use crate::reference::{is_full_hex_id, Reference};
use crate::unpack::unpack_layer;
pub(crate) use disk::TempDir;
use disk::{
    read_dir_names, read_json, remove_file_if_exists, remove_path, unique_name, write_atomic, write_json, TeeReader,
};

/// The image store. Cheap to share behind an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct ImageStore {
    root: PathBuf,
    index: Mutex<Index>,
    /// One lock per layer being fetched, so two pulls of a layer fetch it once.
    inflight: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// References to images whose records could not be read at open: kept
    /// in `repositories.json` (unless retagged) so a damaged record loses
    /// nothing that a repair could bring back.
    kept_refs: BTreeMap<String, String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct LayerRecord {
    pub size: u64,
    /// Length of the uncompressed tar (its digest is the diff id).
    #[serde(default)]
    pub tar_size: u64,
    /// Whether `archive` holds the layer stream as received.
    #[serde(default)]
    pub archive: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ImageRecord {
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// The image a commit was made from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub parent: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Repositories {
    refs: BTreeMap<String, String>,
}

const REPOSITORIES: &str = "repositories.json";
const LAYER_RECORD: &str = "layer.json";
const DIFF_DIR: &str = "diff";
const ARCHIVE: &str = "archive";

impl ImageStore {
    /// Opens (creating if needed) the store at `root` (`<data-root>/image`),
    /// drops leftovers of interrupted work and layers no image uses.
    pub fn open(root: &Path) -> Result<Self, ImageError> {
        for dir in ["blobs/sha256", "layers", "images", "tmp"] {
            let path = root.join(dir);
            std::fs::create_dir_all(&path).map_err(|e| ImageError::io("create", &path, e))?;
        }
        // Layers hold setuid binaries and devices owned by arbitrary uids:
        // keep other users out, as dockerd does with its layer directories.
        for dir in ["layers", "tmp"] {
            let path = root.join(dir);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| ImageError::io("chmod", &path, e))?;
        }
        let mut store = ImageStore {
            root: root.to_path_buf(),
            index: Mutex::new(Index::default()),
            inflight: Mutex::new(HashMap::new()),
            kept_refs: Default::default(),
        };
        for leftover in read_dir_names(&store.tmp_dir())? {
            remove_path(&store.tmp_dir().join(leftover))?;
        }
        let (index, unreadable, kept_refs) = store.load()?;
        store.kept_refs = kept_refs;
        // A damaged image record may reference any layer, and containers may
        // run on those layers: collect nothing until every record reads.
        if unreadable > 0 {
            tracing::warn!(unreadable, "image records unreadable: keeping every layer");
        } else {
            for hex in read_dir_names(&store.root.join("layers"))? {
                let diff_id = format!("sha256:{hex}");
                if !index.layer_in_use(&diff_id) {
                    tracing::info!(layer = %diff_id, "removing unused layer");
                    remove_path(&store.root.join("layers").join(&hex))?;
                }
            }
        }
        *store.lock() = index;
        Ok(store)
    }

    /// Imports a root filesystem tar (plain, gzip or zstd) as a one-layer
    /// image, as `docker import` does, applying Dockerfile `changes`
    /// (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)
    /// and tagging `reference`. A refused or broken archive leaves nothing
    /// behind; a layer moved into place before a later IO failure is
    /// collected by the next `open`.
    pub fn import(
        &self,
        body: impl Read,
        reference: Option<&Reference>,
        changes: &[String],
    ) -> Result<Image, ImageError> {
        if let Some(r) = reference {
            refuse_digest_tag(r)?;
        }
        let mut config = ImageConfig::default();
        apply_changes(&mut config, changes)?;

        let staged = self.stage_layer(body)?;
        let created = pier_time::format_fixed(pier_time::now_nanos());
        let oci = import_configuration(&config, &staged.layer.diff_id, &created);
        let bytes = oci.to_string().map_err(|e| ImageError::Corrupt {
            path: self.root.clone(),
            reason: format!("serialize image config: {e}"),
        })?;
        let references: Vec<Reference> = reference.into_iter().cloned().collect();
        let image = self.commit_image(vec![staged], bytes.as_bytes(), &references, ImageRecord::default())?;
        tracing::info!(image = %image.id, "imported image");
        Ok(image)
    }

    /// Finds an image by reference (`busybox`, `busybox:1`), full id (with or
    /// without `sha256:`) or unique id prefix.
    pub fn resolve(&self, name_or_id: &str) -> Result<Image, ImageError> {
        let index = self.lock();
        let id = index.resolve_id(name_or_id)?;
        index.view(&id).ok_or_else(|| ImageError::NotFound {
            name: name_or_id.to_string(),
        })
    }

    /// Every image, newest first.
    pub fn list(&self) -> Result<Vec<Image>, ImageError> {
        Ok(self.lock().list())
    }

    /// Points `reference` at the image `name_or_id` (moving it if it named
    /// another image).
    pub fn tag(&self, name_or_id: &str, reference: &Reference) -> Result<(), ImageError> {
        refuse_digest_tag(reference)?;
        let mut index = self.lock();
        let id = index.resolve_id(name_or_id)?;
        index.set_ref(reference.clone(), &id);
        self.save_refs(&index)
    }

    /// Docker's `DELETE /images/{name}`: by reference it untags, and deletes
    /// the image with its unused layers once no reference is left; by id it
    /// deletes, which needs `force` when the image has several tags. For
    /// an image no container uses.
    pub fn remove(&self, name_or_id: &str, force: bool) -> Result<Vec<Removed>, ImageError> {
        self.remove_used(name_or_id, force, &ImageUsers::default())
    }

    /// [`ImageStore::remove`] of an image the containers `users` use:
    /// dockerd's rules for that (`Index::plan_remove_used`); an image a
    /// container uses is never deleted, only untagged.
    pub fn remove_used(&self, name_or_id: &str, force: bool, users: &ImageUsers) -> Result<Vec<Removed>, ImageError> {
        let mut removed = Vec::new();
        let mut doomed_layers = Vec::new();
        {
            let mut index = self.lock();
            let plan = index.plan_remove_used(name_or_id, force, users)?;
            for canonical in &plan.untag {
                if let Some(r) = index.remove_ref(canonical) {
                    removed.push(Removed::Untagged(r.to_string()));
                }
            }
            let image = if plan.delete {
                index.remove_image(&plan.id)
            } else {
                None
            };
            self.save_refs(&index)?;
            if let Some(image) = image {
                let hex = id_hex(&image.id);
                remove_file_if_exists(&self.image_record_path(hex))?;
                remove_file_if_exists(&self.blob_path(hex))?;
                removed.push(Removed::Deleted(image.id.clone()));
                for diff_id in image.diff_ids.iter().rev() {
                    if index.layer_in_use(diff_id) {
                        continue;
                    }
                    // Renamed away under the lock, removed outside it.
                    let from = self.layer_path(id_hex(diff_id));
                    let to = self.tmp_dir().join(unique_name("remove"));
                    match std::fs::rename(&from, &to) {
                        Ok(()) => doomed_layers.push(to),
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(ImageError::io("rename", from, e)),
                    }
                    removed.push(Removed::Deleted(diff_id.clone()));
                }
            }
        }
        for dir in doomed_layers {
            remove_path(&dir)?;
        }
        Ok(removed)
    }

    /// The image's layer directories, top-most first: join them with `:` for
    /// overlayfs `lowerdir`.
    pub fn layer_dirs(&self, image: &Image) -> Vec<PathBuf> {
        image
            .diff_ids
            .iter()
            .rev()
            .map(|d| self.layer_path(id_hex(d)).join(DIFF_DIR))
            .collect()
    }

    /// The unpacked size in bytes of the layer `diff_id` (`sha256:<hex>`),
    /// as recorded when it was unpacked; `None` when it is not stored.
    pub fn layer_size(&self, diff_id: &str) -> Option<u64> {
        let record: LayerRecord = read_json(&self.layer_path(id_hex(diff_id)).join(LAYER_RECORD)).ok()?;
        Some(record.size)
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Unpacks one layer stream under `tmp/`; dropped unless committed.
    /// Pull and load (issue 7) stage each layer blob the same way.
    /// The stream is also kept as received in `archive` (for save); it is
    /// read to its end, so a caller hashing it sees every byte.
    pub(crate) fn stage_layer(&self, body: impl Read) -> Result<StagedLayer, ImageError> {
        let dir = TempDir::create(&self.tmp_dir(), "layer")?;
        let diff = dir.path().join(DIFF_DIR);
        std::fs::create_dir(&diff).map_err(|e| ImageError::io("create", &diff, e))?;
        let archive_path = dir.path().join(ARCHIVE);
        let archive = std::fs::File::create(&archive_path).map_err(|e| ImageError::io("create", &archive_path, e))?;
        let mut tee = TeeReader {
            inner: body,
            copy: io::BufWriter::with_capacity(256 * 1024, archive),
            failed: None,
        };
        let unpacked = unpack_layer(&mut tee, &diff);
        if let Some(e) = tee.failed.take() {
            return Err(ImageError::io("write", &archive_path, e));
        }
        let layer = unpacked?;
        io::copy(&mut tee, &mut io::sink()).map_err(|e| ImageError::invalid_archive(format!("read body: {e}")))?;
        if let Some(e) = tee.failed.take() {
            return Err(ImageError::io("write", &archive_path, e));
        }
        let file = tee
            .copy
            .into_inner()
            .map_err(|e| ImageError::io("write", &archive_path, e.into_error()))?;
        file.sync_all().map_err(|e| ImageError::io("sync", &archive_path, e))?;
        let record = LayerRecord {
            size: layer.size,
            tar_size: layer.tar_size,
            archive: true,
        };
        write_json(&dir.path().join(LAYER_RECORD), &record)?;
        tracing::debug!(diff_id = %layer.diff_id, size = layer.size, "unpacked layer");
        Ok(StagedLayer { dir, layer })
    }

    /// Makes an image out of its config blob: moves the staged layers into
    /// place (reusing layers already present), checks every layer the config
    /// names is there, stores the blob and the record, and tags `references`.
    pub(crate) fn commit_image(
        &self,
        staged: Vec<StagedLayer>,
        config: &[u8],
        references: &[Reference],
        record: ImageRecord,
    ) -> Result<Image, ImageError> {
        let hex = hex::encode(Sha256::digest(config));
        let id = format!("sha256:{hex}");
        let oci = ImageConfiguration::from_reader(config).map_err(|e| ImageError::Corrupt {
            path: self.blob_path(&hex),
            reason: e.to_string(),
        })?;
        let mut index = self.lock();
        for s in staged {
            self.commit_layer(s.dir, id_hex(&s.layer.diff_id))?;
        }
        let mut size = 0;
        for diff_id in oci.rootfs().diff_ids() {
            let layer: LayerRecord = read_json(&self.layer_path(id_hex(diff_id)).join(LAYER_RECORD))?;
            size += layer.size;
        }
        write_atomic(&self.blob_path(&hex), config)?;
        write_json(&self.image_record_path(&hex), &record)?;
        let mut image = to_image(&id, &oci, config, size, record.repo_digests);
        image.parent = record.parent;
        index.insert_image(image);
        if !references.is_empty() {
            for r in references {
                index.set_ref(r.clone(), &id);
            }
            self.save_refs(&index)?;
        }
        index.view(&id).ok_or(ImageError::NotFound { name: id.clone() })
    }

    /// Moves one staged layer into `layers/` now (pull and load commit
    /// layers one by one, so a concurrent pull of the same layer reuses it).
    pub(crate) fn commit_staged_layer(&self, staged: StagedLayer) -> Result<(), ImageError> {
        let _index = self.lock();
        let hex = id_hex(&staged.layer.diff_id).to_string();
        self.commit_layer(staged.dir, &hex)
    }

    /// Whether the layer `diff_id` is unpacked in `layers/`.
    pub(crate) fn has_layer(&self, diff_id: &str) -> bool {
        let hex = id_hex(diff_id);
        is_full_hex_id(hex) && self.layer_path(hex).join(LAYER_RECORD).exists()
    }

    /// The lock pulls take while fetching the layer `key`.
    pub(crate) fn inflight(&self, key: &str) -> Arc<Mutex<()>> {
        let mut map = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, l| Arc::strong_count(l) > 1);
        map.entry(key.to_string()).or_default().clone()
    }

    /// A layer's record and its archive as received, for save.
    pub(crate) fn layer_archive(&self, diff_id: &str) -> Result<(LayerRecord, std::fs::File), ImageError> {
        let dir = self.layer_path(id_hex(diff_id));
        let record: LayerRecord = read_json(&dir.join(LAYER_RECORD))?;
        if !record.archive {
            return Err(ImageError::Corrupt {
                path: dir,
                reason: "the layer was stored without its archive; pull or load the image again to save it".into(),
            });
        }
        let path = dir.join(ARCHIVE);
        let file = std::fs::File::open(&path).map_err(|e| ImageError::io("open", &path, e))?;
        Ok((record, file))
    }

    /// The config blob of the image `id`.
    pub(crate) fn config_blob(&self, id: &str) -> Result<Vec<u8>, ImageError> {
        let path = self.blob_path(id_hex(id));
        std::fs::read(&path).map_err(|e| ImageError::io("read", &path, e))
    }

    /// The store's temporary directory (emptied by `open`).
    pub(crate) fn tmp_path(&self) -> PathBuf {
        self.tmp_dir()
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        // A panic mid-update leaves the on-disk state authoritative; the
        // index stays usable.
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn blob_path(&self, hex: &str) -> PathBuf {
        self.root.join("blobs/sha256").join(hex)
    }

    fn layer_path(&self, hex: &str) -> PathBuf {
        self.root.join("layers").join(hex)
    }

    fn image_record_path(&self, hex: &str) -> PathBuf {
        self.root.join("images").join(format!("{hex}.json"))
    }

    /// Moves an unpacked layer into place, or drops it when the same layer
    /// is already there. Called with the index lock held.
    fn commit_layer(&self, work: TempDir, hex: &str) -> Result<(), ImageError> {
        let dest = self.layer_path(hex);
        if dest.join(LAYER_RECORD).exists() {
            tracing::debug!(layer = hex, "layer already present, reusing it");
            return Ok(());
        }
        if dest.exists() {
            remove_path(&dest)?;
        }
        work.persist(&dest)
    }

    fn save_refs(&self, index: &Index) -> Result<(), ImageError> {
        write_json(
            &self.root.join(REPOSITORIES),
            &Repositories {
                refs: {
                    let mut refs = index.refs_by_canonical();
                    for (name, id) in &self.kept_refs {
                        refs.entry(name.clone()).or_insert_with(|| id.clone());
                    }
                    refs
                },
            },
        )
    }

    /// The index from disk, how many image records could not be read (those
    /// are skipped, never deleted) and the references to them.
    fn load(&self) -> Result<(Index, usize, BTreeMap<String, String>), ImageError> {
        let mut index = Index::default();
        let mut unreadable = HashSet::new();
        for name in read_dir_names(&self.root.join("images"))? {
            let Some(hex) = name.strip_suffix(".json") else {
                continue;
            };
            if !is_full_hex_id(hex) {
                continue;
            }
            match self.load_image(hex) {
                Ok(image) => index.insert_image(image),
                Err(e) => {
                    unreadable.insert(hex.to_string());
                    tracing::warn!(image = hex, error = %e, "skipping unreadable image");
                }
            }
        }
        let path = self.root.join(REPOSITORIES);
        let repos: Repositories = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ImageError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Repositories::default(),
            Err(e) => return Err(ImageError::io("read", path, e)),
        };
        let mut kept = BTreeMap::new();
        for (canonical, id) in repos.refs {
            match Reference::parse(&canonical) {
                Ok(r) if index.contains(&id) => index.set_ref(r, &id),
                _ if unreadable.contains(id_hex(&id)) => {
                    tracing::warn!(reference = canonical, "keeping the reference to an unreadable image");
                    kept.insert(canonical, id);
                }
                _ => tracing::warn!(reference = canonical, "dropping dangling reference"),
            }
        }
        Ok((index, unreadable.len(), kept))
    }

    fn load_image(&self, hex: &str) -> Result<Image, ImageError> {
        let record_path = self.image_record_path(hex);
        let record: ImageRecord = read_json(&record_path)?;
        let blob = self.blob_path(hex);
        let bytes = std::fs::read(&blob).map_err(|e| ImageError::io("read", &blob, e))?;
        if hex::encode(Sha256::digest(&bytes)) != hex {
            return Err(ImageError::Corrupt {
                path: blob,
                reason: "digest mismatch".into(),
            });
        }
        let oci = ImageConfiguration::from_reader(&bytes[..]).map_err(|e| ImageError::Corrupt {
            path: blob.clone(),
            reason: e.to_string(),
        })?;
        let mut size = 0;
        for diff_id in oci.rootfs().diff_ids() {
            let layer: LayerRecord = read_json(&self.layer_path(id_hex(diff_id)).join(LAYER_RECORD))?;
            size += layer.size;
        }
        let mut image = to_image(&format!("sha256:{hex}"), &oci, &bytes, size, record.repo_digests);
        image.parent = record.parent;
        Ok(image)
    }
}

fn refuse_digest_tag(r: &Reference) -> Result<(), ImageError> {
    if r.digest().is_some() {
        return Err(ImageError::InvalidReference {
            reference: r.to_string(),
            reason: "refusing to create a tag with a digest reference".into(),
        });
    }
    Ok(())
}

fn to_image(id: &str, oci: &ImageConfiguration, blob: &[u8], size: u64, repo_digests: Vec<String>) -> Image {
    let created_rfc3339 = oci.created().clone().unwrap_or_default();
    Image {
        id: id.to_string(),
        repo_tags: Vec::new(),
        repo_digests,
        created: pier_time::parse_rfc3339(&created_rfc3339).map_or(0, |n| n.div_euclid(pier_time::NANOS_PER_SEC)),
        created_rfc3339,
        size,
        architecture: oci.architecture().to_string(),
        os: oci.os().to_string(),
        author: oci.author().clone().unwrap_or_default(),
        comment: oci
            .history()
            .as_ref()
            .and_then(|h| h.last())
            .and_then(|h| h.comment().clone())
            .unwrap_or_default(),
        config: from_blob(oci, blob),
        diff_ids: oci.rootfs().diff_ids().clone(),
        parent: String::new(),
    }
}

/// An unpacked layer under `tmp/`, not yet in `layers/`.
pub(crate) struct StagedLayer {
    dir: TempDir,
    pub(crate) layer: crate::unpack::UnpackedLayer,
}
