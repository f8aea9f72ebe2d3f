//! `docker load`: image archives in docker's save format (`manifest.json`,
//! a config and layer tars, as docker writes them before and since 25.0)
//! or an OCI image layout (`index.json`, `blobs/`).
//!
//! The archive is first spread into a directory under `tmp/` (regular files
//! only, each under a made-up name; symlinks and hardlinks become aliases
//! resolved inside the archive), so nothing the archive names can point
//! outside it. Then every layer goes through the same safe unpacker as a
//! pull, its diff id checked against the image config.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::distribution::manifest::{
    parse_document, select_platform, sha256_hex, Descriptor, Document, Platform, MAX_DOCUMENT,
};
use crate::error::ImageError;
use crate::pull::config_diff_ids;
use crate::reference::Reference;
use crate::store::{ImageRecord, ImageStore, TempDir};

/// One image a load brought in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// `sha256:<hex>`.
    pub id: String,
    /// References tagged, familiar form.
    pub tags: Vec<String>,
}

impl Loaded {
    /// docker's line for it: `Loaded image: busybox:latest` per tag, or
    /// `Loaded image ID: sha256:…`.
    pub fn messages(&self) -> Vec<String> {
        if self.tags.is_empty() {
            vec![format!("Loaded image ID: {}", self.id)]
        } else {
            self.tags.iter().map(|t| format!("Loaded image: {t}")).collect()
        }
    }
}

/// What an archive entry name became.
#[derive(Debug, Clone)]
enum Member {
    File(PathBuf),
    /// A link to another member (name already normalised).
    Alias(String),
}

/// The archive spread under `tmp/`.
struct Spread {
    _dir: TempDir,
    members: HashMap<String, Member>,
}

const MAX_ALIAS_DEPTH: usize = 16;

/// Normalises an archive member name (`./a/b`, `a//b/`) to `a/b`; refuses
/// names that leave the archive.
pub(crate) fn member_name(raw: &str) -> Result<String, ImageError> {
    join_within(&[], raw)
}

/// Resolves a link `target` written in the member `name`'s directory.
pub(crate) fn link_target(name: &str, target: &str, hard: bool) -> Result<String, ImageError> {
    if hard || target.starts_with('/') {
        return member_name(target);
    }
    let mut dir: Vec<&str> = name.split('/').collect();
    dir.pop();
    join_within(&dir, target)
}

fn join_within(base: &[&str], rel: &str) -> Result<String, ImageError> {
    let mut parts: Vec<&str> = base.to_vec();
    for c in rel.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(ImageError::unsafe_entry(rel, "points outside the archive"));
                }
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err(ImageError::unsafe_entry(rel, "names the archive root"));
    }
    Ok(parts.join("/"))
}

impl Spread {
    fn new(store: &ImageStore, body: impl Read) -> Result<Self, ImageError> {
        let dir = TempDir::create(&store.tmp_path(), "load")?;
        let mut members = HashMap::new();
        let stream = crate::compression::decompressed(body)?;
        let mut archive = tar::Archive::new(stream);
        let entries = archive.entries().map_err(tar_error)?;
        for (n, entry) in entries.enumerate() {
            let mut entry = entry.map_err(tar_error)?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let kind = entry.header().entry_type();
            if kind.is_dir() || matches!(kind, tar::EntryType::XGlobalHeader | tar::EntryType::XHeader) {
                continue;
            }
            let name = member_name(&raw)?;
            let member = match kind {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let path = dir.path().join(format!("m{n}"));
                    let mut file = File::create(&path).map_err(|e| ImageError::io("create", &path, e))?;
                    io::copy(&mut entry, &mut file)
                        .map_err(|e| ImageError::invalid_archive(format!("read {raw}: {e}")))?;
                    Member::File(path)
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| String::from_utf8_lossy(&t).into_owned())
                        .ok_or_else(|| ImageError::unsafe_entry(&raw, "link without a target"))?;
                    Member::Alias(link_target(&name, &target, kind == tar::EntryType::Link)?)
                }
                _ => continue,
            };
            members.insert(name, member);
        }
        Ok(Spread { _dir: dir, members })
    }

    fn has(&self, name: &str) -> bool {
        self.members.contains_key(name)
    }

    fn path(&self, name: &str) -> Result<PathBuf, ImageError> {
        let mut current = member_name(name)?;
        for _ in 0..MAX_ALIAS_DEPTH {
            match self.members.get(&current) {
                Some(Member::File(p)) => return Ok(p.clone()),
                Some(Member::Alias(next)) => current = next.clone(),
                None => return Err(ImageError::invalid_archive(format!("{name:?} is not in the archive"))),
            }
        }
        Err(ImageError::unsafe_entry(name, "too many levels of links"))
    }

    fn open(&self, name: &str) -> Result<File, ImageError> {
        let path = self.path(name)?;
        File::open(&path).map_err(|e| ImageError::io("open", &path, e))
    }

    fn read_small(&self, name: &str) -> Result<Vec<u8>, ImageError> {
        let mut bytes = Vec::new();
        self.open(name)?
            .take(MAX_DOCUMENT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| ImageError::invalid_archive(format!("read {name}: {e}")))?;
        if bytes.len() as u64 > MAX_DOCUMENT {
            return Err(ImageError::invalid_archive(format!("{name} is too large")));
        }
        Ok(bytes)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SaveManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// A stream the tar reader refused, as Go's `archive/tar` words it
/// (dockerd untars a load body with it): a short block is `unexpected
/// EOF`, anything else that is not a header `archive/tar: invalid tar
/// header`.
fn tar_error(e: io::Error) -> ImageError {
    let text = e.to_string();
    let message = if e.kind() == io::ErrorKind::UnexpectedEof || text.contains("failed to read entire block") {
        "unexpected EOF".to_string()
    } else if text.contains("checksum mismatch") || text.contains("numeric field") {
        "archive/tar: invalid tar header".to_string()
    } else {
        text
    };
    ImageError::NotAnImageArchive { message }
}

/// dockerd's answer (since v29; 28 tried the pre-1.10 format and said
/// `open …/repositories: no such file or directory`) to a tar without
/// an image, which includes an empty body.
fn no_manifest() -> ImageError {
    ImageError::NotAnImageArchive {
        message: "invalid archive: does not contain a manifest.json".to_string(),
    }
}

impl ImageStore {
    /// Loads every image in the archive `body` (docker save format or OCI
    /// layout, plain or compressed) and tags them as it says. Blocking.
    pub fn load_archive(&self, body: impl Read) -> Result<Vec<Loaded>, ImageError> {
        let mut body = io::BufReader::new(body);
        let empty = io::BufRead::fill_buf(&mut body)
            .map_err(|e| ImageError::invalid_archive(format!("read body: {e}")))?
            .is_empty();
        if empty {
            return Err(no_manifest());
        }
        let spread = Spread::new(self, body)?;
        if spread.has("manifest.json") {
            self.load_docker(&spread)
        } else if spread.has("index.json") {
            self.load_oci(&spread)
        } else {
            Err(no_manifest())
        }
    }

    fn load_docker(&self, spread: &Spread) -> Result<Vec<Loaded>, ImageError> {
        let bytes = spread.read_small("manifest.json")?;
        let entries: Vec<SaveManifestEntry> = serde_json::from_slice(&bytes)
            .map_err(|e| ImageError::invalid_archive(format!("failed to decode manifest.json: {e}")))?;
        let mut loaded = Vec::new();
        for entry in entries {
            let config = spread.read_small(&entry.config)?;
            let layers: Vec<(String, Option<String>)> = entry.layers.iter().map(|l| (l.clone(), None)).collect();
            let references = parse_tags(entry.repo_tags.unwrap_or_default())?;
            loaded.push(self.load_one(spread, &config, &layers, references)?);
        }
        Ok(loaded)
    }

    fn load_oci(&self, spread: &Spread) -> Result<Vec<Loaded>, ImageError> {
        let bytes = spread.read_small("index.json")?;
        let Document::Index(index) = parse_document("", &bytes)? else {
            return Err(ImageError::invalid_archive("index.json is not an image index"));
        };
        let host = Platform::host();
        let mut loaded = Vec::new();
        for top in &index.manifests {
            // A layout of several platforms: load the host's, as docker does.
            if top.platform.as_ref().is_some_and(|p| !host.matches(p)) && index.manifests.len() > 1 {
                continue;
            }
            let mut descriptor = top.clone();
            let mut manifest = None;
            for _ in 0..2 {
                let body = read_blob(spread, &descriptor)?;
                match parse_document(&descriptor.media_type, &body)? {
                    Document::Manifest(m) => {
                        manifest = Some(m);
                        break;
                    }
                    Document::Index(inner) => {
                        descriptor = select_platform(&inner, &Platform::host()).cloned().ok_or_else(|| {
                            ImageError::NoMatchingPlatform {
                                platform: Platform::host().to_string(),
                            }
                        })?;
                    }
                }
            }
            let manifest = manifest.ok_or_else(|| ImageError::InvalidManifest {
                reason: "indexes nested too deep".into(),
            })?;
            let config = read_blob(spread, &manifest.config)?;
            let mut layers = Vec::new();
            for l in &manifest.layers {
                layers.push((blob_member(&l.digest)?, Some(l.digest.clone())));
            }
            let references = parse_tags(oci_name(top).into_iter().collect())?;
            loaded.push(self.load_one(spread, &config, &layers, references)?);
        }
        Ok(loaded)
    }

    /// Stages the missing layers (each `(member, compressed digest)`),
    /// checks them against the config's diff ids, commits and tags.
    fn load_one(
        &self,
        spread: &Spread,
        config: &[u8],
        layers: &[(String, Option<String>)],
        references: Vec<Reference>,
    ) -> Result<Loaded, ImageError> {
        let diff_ids = config_diff_ids(config)?;
        if diff_ids.len() != layers.len() {
            return Err(ImageError::invalid_archive(format!(
                "the image lists {} layers but its config {}",
                layers.len(),
                diff_ids.len()
            )));
        }
        for ((member, digest), diff_id) in layers.iter().zip(&diff_ids) {
            let lock = self.inflight(diff_id);
            let _staging = lock.lock().unwrap_or_else(|e| e.into_inner());
            if self.has_layer(diff_id) {
                continue;
            }
            let mut reader = HashingReader {
                inner: spread.open(member)?,
                hasher: Sha256::new(),
            };
            let staged = self.stage_layer(&mut reader)?;
            if let Some(expected) = digest {
                let actual = format!("sha256:{}", hex::encode(reader.hasher.finalize()));
                if &actual != expected {
                    return Err(ImageError::DigestMismatch {
                        what: format!("layer {member}"),
                        expected: expected.clone(),
                        actual,
                    });
                }
            }
            if &staged.layer.diff_id != diff_id {
                return Err(ImageError::DigestMismatch {
                    what: format!("layer {member}"),
                    expected: diff_id.clone(),
                    actual: staged.layer.diff_id.clone(),
                });
            }
            self.commit_staged_layer(staged)?;
        }
        let image = self.commit_image(Vec::new(), config, &references, ImageRecord::default())?;
        tracing::info!(image = %image.id, "loaded image");
        Ok(Loaded {
            id: image.id,
            tags: references.iter().map(|r| r.to_string()).collect(),
        })
    }
}

fn parse_tags(tags: Vec<String>) -> Result<Vec<Reference>, ImageError> {
    tags.iter()
        .map(|t| Reference::parse(t))
        .filter(|r| !matches!(r, Ok(r) if r.digest().is_some()))
        .collect()
}

/// The name an OCI layout gives a manifest: containerd's full name, or a
/// `ref.name` that is a whole reference (a bare tag names nothing here).
fn oci_name(d: &Descriptor) -> Option<String> {
    if let Some(n) = d.annotations.get("io.containerd.image.name") {
        return Some(n.clone());
    }
    d.annotations
        .get("org.opencontainers.image.ref.name")
        .filter(|n| n.contains('/') || n.contains(':'))
        .cloned()
}

fn blob_member(digest: &str) -> Result<String, ImageError> {
    Ok(format!("blobs/sha256/{}", sha256_hex(digest)?))
}

fn read_blob(spread: &Spread, d: &Descriptor) -> Result<Vec<u8>, ImageError> {
    let bytes = spread.read_small(&blob_member(&d.digest)?)?;
    let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    if actual != d.digest {
        return Err(ImageError::DigestMismatch {
            what: format!("blob {}", d.digest),
            expected: d.digest.clone(),
            actual,
        });
    }
    Ok(bytes)
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_stay_inside() {
        assert_eq!(member_name("./a//b/").expect("ok"), "a/b");
        assert_eq!(member_name("/manifest.json").expect("ok"), "manifest.json");
        assert!(member_name("../etc/passwd").is_err());
        assert!(member_name("a/../../b").is_err());
        assert!(member_name("./").is_err());
        assert_eq!(
            link_target("abc/layer.tar", "../def/layer.tar", false).expect("ok"),
            "def/layer.tar"
        );
        assert!(link_target("abc/layer.tar", "../../etc/shadow", false).is_err());
        assert_eq!(link_target("x/y", "/z", false).expect("ok"), "z");
        assert_eq!(link_target("x/y", "q/r", true).expect("ok"), "q/r");
    }

    #[test]
    fn oci_names() {
        let mut d = Descriptor::default();
        assert_eq!(oci_name(&d), None);
        d.annotations
            .insert("org.opencontainers.image.ref.name".into(), "latest".into());
        assert_eq!(oci_name(&d), None);
        d.annotations
            .insert("org.opencontainers.image.ref.name".into(), "x/y:1".into());
        assert_eq!(oci_name(&d).as_deref(), Some("x/y:1"));
        d.annotations
            .insert("io.containerd.image.name".into(), "docker.io/library/a:2".into());
        assert_eq!(oci_name(&d).as_deref(), Some("docker.io/library/a:2"));
    }
}
