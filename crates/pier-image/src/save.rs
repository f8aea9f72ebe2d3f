//! `docker save`: images as a tar in docker's save format, laid out as an
//! OCI image layout too (docker 25+): `blobs/sha256/<hex>` holds the
//! configs, uncompressed layer tars and OCI manifests; `index.json`,
//! `oci-layout`, `manifest.json` and `repositories` name them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::distribution::manifest::{Descriptor, Manifest, OCI_CONFIG, OCI_INDEX, OCI_LAYER_TAR, OCI_MANIFEST};
use crate::error::ImageError;
use crate::image::Image;
use crate::index::id_hex;
use crate::reference::{is_full_hex_id, Reference};
use crate::store::ImageStore;

/// One image to save with the references it is saved under.
struct Entry {
    image: Image,
    references: Vec<Reference>,
}

impl ImageStore {
    /// Writes `names` (references or ids) as one archive to `out`. Blocking.
    pub fn save(&self, names: &[String], out: impl Write) -> Result<(), ImageError> {
        let entries = self.save_entries(names)?;
        let mut tar = tar::Builder::new(out);
        let write_err = |e: io::Error| ImageError::io("write", "save archive", e);
        for dir in ["blobs/", "blobs/sha256/"] {
            let mut h = header(0, tar::EntryType::Directory, 0o755);
            tar.append_data(&mut h, dir, io::empty()).map_err(write_err)?;
        }
        let mut written = BTreeSet::new();
        let mut index = Vec::new();
        let mut manifest_json = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for entry in &entries {
            let image = &entry.image;
            let mut layers = Vec::new();
            for diff_id in &image.diff_ids {
                let (record, archive) = self.layer_archive(diff_id)?;
                let hex = id_hex(diff_id).to_string();
                if written.insert(hex.clone()) {
                    let mut body = ExactReader {
                        inner: crate::compression::decompressed(archive)?,
                        left: record.tar_size,
                    };
                    let mut h = header(record.tar_size, tar::EntryType::Regular, 0o644);
                    tar.append_data(&mut h, format!("blobs/sha256/{hex}"), &mut body)
                        .map_err(write_err)?;
                    if body.left != 0 {
                        return Err(ImageError::Corrupt {
                            path: format!("layer {diff_id}").into(),
                            reason: "the stored archive is shorter than recorded".into(),
                        });
                    }
                }
                layers.push(Descriptor {
                    media_type: OCI_LAYER_TAR.into(),
                    digest: diff_id.clone(),
                    size: record.tar_size,
                    ..Default::default()
                });
            }
            let config = self.config_blob(&image.id)?;
            let config_hex = id_hex(&image.id).to_string();
            if written.insert(config_hex.clone()) {
                append_bytes(&mut tar, &format!("blobs/sha256/{config_hex}"), &config)?;
            }
            let manifest = Manifest {
                schema_version: 2,
                media_type: OCI_MANIFEST.into(),
                config: Descriptor {
                    media_type: OCI_CONFIG.into(),
                    digest: image.id.clone(),
                    size: config.len() as u64,
                    ..Default::default()
                },
                layers,
            };
            let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| ImageError::Corrupt {
                path: "manifest".into(),
                reason: e.to_string(),
            })?;
            let manifest_hex = hex::encode(Sha256::digest(&manifest_bytes));
            if written.insert(manifest_hex.clone()) {
                append_bytes(&mut tar, &format!("blobs/sha256/{manifest_hex}"), &manifest_bytes)?;
            }
            let descriptor = |r: Option<&Reference>| {
                let mut annotations = BTreeMap::new();
                if let Some(r) = r {
                    annotations.insert("io.containerd.image.name".to_string(), r.canonical());
                    annotations.insert(
                        "org.opencontainers.image.ref.name".to_string(),
                        r.tag().unwrap_or("latest").to_string(),
                    );
                }
                Descriptor {
                    media_type: OCI_MANIFEST.into(),
                    digest: format!("sha256:{manifest_hex}"),
                    size: manifest_bytes.len() as u64,
                    annotations,
                    ..Default::default()
                }
            };
            if entry.references.is_empty() {
                index.push(descriptor(None));
            }
            for r in &entry.references {
                index.push(descriptor(Some(r)));
                if let (Some(tag), Some(top)) = (r.tag(), image.diff_ids.last()) {
                    repositories
                        .entry(r.familiar_name())
                        .or_default()
                        .insert(tag.to_string(), id_hex(top).to_string());
                }
            }
            manifest_json.push(json!({
                "Config": format!("blobs/sha256/{config_hex}"),
                "RepoTags": entry.references.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
                "Layers": image.diff_ids.iter().map(|d| format!("blobs/sha256/{}", id_hex(d))).collect::<Vec<_>>(),
            }));
        }
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index});
        append_json(&mut tar, "index.json", &index)?;
        append_json(&mut tar, "manifest.json", &serde_json::Value::from(manifest_json))?;
        append_json(&mut tar, "oci-layout", &json!({"imageLayoutVersion": "1.0.0"}))?;
        if !repositories.is_empty() {
            append_json(&mut tar, "repositories", &json!(repositories))?;
        }
        tar.into_inner().and_then(|mut w| w.flush()).map_err(write_err)?;
        Ok(())
    }

    /// The images `names` name, merged per image id, in first-named order.
    fn save_entries(&self, names: &[String]) -> Result<Vec<Entry>, ImageError> {
        let mut entries: Vec<Entry> = Vec::new();
        for name in names {
            let image = self.resolve(name)?;
            let hex = id_hex(name);
            let by_id = is_full_hex_id(hex) || image.id.starts_with(name) || id_hex(&image.id).starts_with(name);
            let reference = if by_id { None } else { Reference::parse(name).ok() };
            match entries.iter_mut().find(|e| e.image.id == image.id) {
                Some(e) => e.references.extend(reference.filter(|r| !e.references.contains(r))),
                None => entries.push(Entry {
                    image,
                    references: reference.into_iter().collect(),
                }),
            }
        }
        Ok(entries)
    }
}

fn header(size: u64, kind: tar::EntryType, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, path: &str, bytes: &[u8]) -> Result<(), ImageError> {
    let mut h = header(bytes.len() as u64, tar::EntryType::Regular, 0o644);
    tar.append_data(&mut h, path, bytes)
        .map_err(|e| ImageError::io("write", path, e))
}

fn append_json<W: Write>(tar: &mut tar::Builder<W>, path: &str, value: &serde_json::Value) -> Result<(), ImageError> {
    let mut bytes = serde_json::to_vec(value).map_err(|e| ImageError::Corrupt {
        path: path.into(),
        reason: e.to_string(),
    })?;
    bytes.push(b'\n');
    append_bytes(tar, path, &bytes)
}

/// Reads at most `left` bytes, counting down.
struct ExactReader<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let max = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if max == 0 {
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}
