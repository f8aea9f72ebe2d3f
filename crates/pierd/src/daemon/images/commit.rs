//! A container's changes, read from its overlay upper directory: `diff`
//! (added/changed/deleted paths) and `commit` (the upper directory as a
//! layer, overlay whiteouts turned back into `.wh.` entries, on top of the
//! container's image).

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::model::ContainerSpec;
use pier_api::volume::ContainerChange;
use pier_image::{CommitRequest, ImageConfig};

use crate::daemon::Daemon;
use crate::error::{Error, Result};

/// Docker's change kinds.
pub const MODIFIED: u8 = 0;
pub const ADDED: u8 = 1;
pub const DELETED: u8 = 2;

/// An overlay whiteout: a character device 0/0.
fn is_whiteout(md: &std::fs::Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

fn is_opaque(path: &Path) -> bool {
    for attr in ["trusted.overlay.opaque", "user.overlay.opaque"] {
        let mut buf = [0u8; 4];
        if let Ok(n) = rustix::fs::lgetxattr(path, attr, &mut buf) {
            if buf[..n] == *b"y" {
                return true;
            }
        }
    }
    false
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<OsString>> {
    let mut names: Vec<OsString> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    Ok(names)
}

/// The changes an upper directory records against `lowers` (top-most
/// first), in path order.
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> std::io::Result<Vec<ContainerChange>> {
    let mut out = Vec::new();
    if upper.is_dir() {
        walk_changes(upper, Path::new(""), lowers, &mut out)?;
    }
    Ok(out)
}

fn walk_changes(upper: &Path, rel: &Path, lowers: &[PathBuf], out: &mut Vec<ContainerChange>) -> std::io::Result<()> {
    for name in sorted_entries(&upper.join(rel))? {
        let r = rel.join(&name);
        let host = upper.join(&r);
        let md = std::fs::symlink_metadata(&host)?;
        let path = format!("/{}", r.display());
        if is_whiteout(&md) {
            out.push(ContainerChange { path, kind: DELETED });
            continue;
        }
        let in_lower = lowers.iter().any(|l| std::fs::symlink_metadata(l.join(&r)).is_ok());
        out.push(ContainerChange {
            path,
            kind: if in_lower { MODIFIED } else { ADDED },
        });
        if md.is_dir() {
            walk_changes(upper, &r, lowers, out)?;
        }
    }
    Ok(())
}

/// Write the upper directory as a layer tar: whiteouts become `.wh.<name>`,
/// opaque directories get a `.wh..wh..opq` entry.
pub fn write_layer<W: Write>(upper: &Path, out: W) -> std::io::Result<W> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    if upper.is_dir() {
        walk_layer(&mut b, upper, Path::new(""))?;
    }
    b.into_inner()
}

fn empty_file(name: &Path) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(0);
    h.set_mode(0o644);
    h.set_mtime(0);
    let _ = h.set_path(name);
    h.set_cksum();
    h
}

fn walk_layer<W: Write>(b: &mut tar::Builder<W>, upper: &Path, rel: &Path) -> std::io::Result<()> {
    for name in sorted_entries(&upper.join(rel))? {
        let r = rel.join(&name);
        let host = upper.join(&r);
        let md = std::fs::symlink_metadata(&host)?;
        if is_whiteout(&md) {
            let mut wh = OsString::from(".wh.");
            wh.push(&name);
            let h = empty_file(&rel.join(wh));
            b.append(&h, std::io::empty())?;
            continue;
        }
        if md.file_type().is_socket() {
            continue;
        }
        b.append_path_with_name(&host, &r)?;
        if md.is_dir() {
            if is_opaque(&host) {
                let h = empty_file(&r.join(".wh..wh..opq"));
                b.append(&h, std::io::empty())?;
            }
            walk_layer(b, upper, &r)?;
        }
    }
    Ok(())
}

/// The image config a commit records: the container's effective config.
fn image_config(spec: &ContainerSpec) -> ImageConfig {
    let mut exposed: Vec<String> = match spec.echo.config.get("ExposedPorts") {
        Some(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    };
    exposed.sort();
    let p = &spec.process;
    ImageConfig {
        env: p.env.clone(),
        cmd: p.cmd.clone(),
        entrypoint: p.entrypoint.clone(),
        working_dir: p.working_dir.clone(),
        user: p.user.clone(),
        labels: spec.labels.clone(),
        stop_signal: spec.stop.signal.as_ref().map(|s| s.name.clone()),
        exposed_ports: exposed,
        volumes: spec.storage.volumes.clone(),
    }
}

/// `POST /commit` parameters.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub repo: String,
    pub tag: String,
    pub comment: String,
    pub author: String,
    pub changes: Vec<String>,
}

impl Daemon {
    /// `GET /containers/{id}/changes`. Blocking.
    pub fn container_changes(&self, key: &str) -> Result<Vec<ContainerChange>> {
        let c = self.lookup(key)?;
        let rec = c.record();
        let image = self
            .images
            .resolve(&rec.image_id)
            .map_err(|e| Error::system("resolve image", e))?;
        let lowers = self.images.layer_dirs(&image);
        changes(&c.rootfs().upper, &lowers).map_err(|e| Error::system(format!("read changes of {}", c.id), e))
    }

    /// `POST /commit?container=`: returns the new image id. Blocking.
    pub fn commit_container(&self, key: &str, opts: &CommitOptions) -> Result<String> {
        let c = self.lookup(key)?;
        let rec = c.record();
        let reference = crate::daemon::import_reference(&opts.repo, &opts.tag)?;
        let upper = c.rootfs().upper;
        let (reader, writer) = std::io::pipe().map_err(|e| Error::system("create pipe", e))?;
        let writer_thread = std::thread::spawn(move || write_layer(&upper, writer).map(drop));
        let req = CommitRequest {
            config: image_config(&rec.spec),
            changes: opts.changes.clone(),
            comment: opts.comment.clone(),
            author: opts.author.clone(),
            reference,
        };
        let committed = self.images.commit(&rec.image_id, reader, &req);
        let written = writer_thread
            .join()
            .map_err(|_| Error::system("write layer of commit", "thread panicked"))?;
        let image = committed.map_err(|e| match e {
            pier_image::ImageError::InvalidChange { .. } => Error::InvalidParameter(e.to_string()),
            other => Error::system(format!("commit {}", c.id), other),
        })?;
        written.map_err(|e| Error::system(format!("write layer of {}", c.id), e))?;
        Ok(image.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_and_layer_from_upper() {
        let tmp = tempfile::tempdir().expect("tmp");
        let lower = tmp.path().join("lower");
        let upper = tmp.path().join("upper");
        std::fs::create_dir_all(lower.join("etc")).expect("lower");
        std::fs::write(lower.join("etc/gone"), "x").expect("gone");
        std::fs::create_dir_all(upper.join("etc")).expect("upper");
        std::fs::write(upper.join("etc/new"), "n").expect("new");
        std::fs::create_dir_all(upper.join("added")).expect("added");
        nix::sys::stat::mknod(
            &upper.join("etc/gone"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .expect("whiteout (needs root)");
        let ch = changes(&upper, std::slice::from_ref(&lower)).expect("changes");
        let got: Vec<(String, u8)> = ch.into_iter().map(|c| (c.path, c.kind)).collect();
        assert_eq!(
            got,
            [
                ("/added".to_string(), ADDED),
                ("/etc".to_string(), MODIFIED),
                ("/etc/gone".to_string(), DELETED),
                ("/etc/new".to_string(), ADDED)
            ]
        );
        let tar = write_layer(&upper, Vec::new()).expect("layer");
        let mut a = tar::Archive::new(&tar[..]);
        let names: Vec<String> = a
            .entries()
            .expect("entries")
            .map(|e| e.expect("entry").path().expect("path").display().to_string())
            .collect();
        assert_eq!(names, ["added", "etc", "etc/.wh.gone", "etc/new"]);
    }
}
