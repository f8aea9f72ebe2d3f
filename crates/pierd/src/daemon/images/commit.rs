//! A container's changes, read from its overlay upper directory: `diff`
//! (added/changed/deleted paths) and `commit` (the upper directory as a
//! layer, overlay whiteouts turned back into `.wh.` entries, on top of the
//! container's image).
//!
//! The upper directory is written by the container, so both walk it by
//! directory fd only (`pier_sys::tree`, `storage::tree_tar`): a symlink is
//! recorded, never followed, and the image's layers are looked at the same
//! way, one name at a time from a directory fd.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::ContainerSpec;
use pier_api::volume::ContainerChange;
use pier_image::{CommitRequest, ImageConfig};
use pier_sys::tree::{Dir, Kind};

use crate::daemon::lifecycle::pause::{freeze, thaw};
use crate::daemon::storage::made_for_mounts::MadeForMounts;
use crate::daemon::storage::tree_tar::{is_whiteout, TarOptions, TreeTar};
use crate::daemon::Daemon;
use crate::error::{Error, Result};

/// Docker's change kinds.
pub const MODIFIED: u8 = 0;
pub const ADDED: u8 = 1;
pub const DELETED: u8 = 2;

fn gone(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ELOOP | libc::ENOTDIR))
}

/// Open a trusted directory, `None` when it is missing.
fn open_optional(path: &Path) -> std::io::Result<Option<Dir>> {
    match Dir::open(path) {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The changes an upper directory records against `lowers` (top-most
/// first), in path order, without the mount points Pier made (`made`).
pub fn changes(upper: &Path, lowers: &[PathBuf], made: &MadeForMounts) -> std::io::Result<Vec<ContainerChange>> {
    let mut out = Vec::new();
    let Some(upper) = open_optional(upper)? else {
        return Ok(out);
    };
    let mut lower_dirs = Vec::new();
    for l in lowers {
        lower_dirs.push(open_optional(l)?);
    }
    walk_changes(&upper, "", &lower_dirs, made, &mut out, 0)?;
    Ok(out)
}

fn walk_changes(
    upper: &Dir,
    rel: &str,
    lowers: &[Option<Dir>],
    made: &MadeForMounts,
    out: &mut Vec<ContainerChange>,
    depth: usize,
) -> std::io::Result<()> {
    if depth > 1024 {
        return Err(std::io::Error::other("directory tree too deep"));
    }
    for name in upper.names()? {
        let path = format!("{rel}/{}", name.to_string_lossy());
        let st = match upper.stat_at(&name) {
            Ok(st) => st,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(e),
        };
        if is_whiteout(&st) {
            out.push(ContainerChange { path, kind: DELETED });
            continue;
        }
        let in_lower = lowers.iter().flatten().any(|l| l.stat_at(&name).is_ok());
        // A mount point Pier made is no change; what is below it may be.
        if !made.hides(&path, &st) {
            out.push(ContainerChange {
                path,
                kind: if in_lower { MODIFIED } else { ADDED },
            });
        }
        if Kind::of(&st) == Kind::Dir {
            let dir = match upper.child_dir(&name) {
                Ok(d) => d,
                Err(e) if gone(&e) => continue,
                Err(e) => return Err(e),
            };
            // The same name in each lower, when it is a directory there.
            let below: Vec<Option<Dir>> = lowers
                .iter()
                .map(|l| l.as_ref().and_then(|l| l.child_dir(&name).ok()))
                .collect();
            let rel = format!("{rel}/{}", name.to_string_lossy());
            walk_changes(&dir, &rel, &below, made, out, depth + 1)?;
        }
    }
    Ok(())
}

/// Write the upper directory as a layer tar: whiteouts become `.wh.<name>`,
/// opaque directories get a `.wh..wh..opq` entry.
/// The mount points Pier made (`made`) stay out, as dockerd's init layer.
pub fn write_layer<W: Write>(upper: &Path, made: MadeForMounts, out: W) -> std::io::Result<W> {
    let opts = TarOptions {
        live_root: false,
        overlay: true,
    };
    let mut t = TreeTar::new(out, opts).hiding(made);
    if let Some(dir) = open_optional(upper)? {
        t.append_dir(&dir, Path::new(""), "/")?;
    }
    t.finish()
}

/// The image config a commit records: the container's effective config.
fn image_config(spec: &ContainerSpec) -> ImageConfig {
    let mut exposed: Vec<String> = match spec.echo.config.get("ExposedPorts") {
        Some(serde_json::Value::Object(m)) => m.into_iter().map(|(k, _)| k).collect(),
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
        healthcheck: spec.healthcheck.as_ref().map(|h| pier_image::Healthcheck {
            test: (!h.test.is_empty()).then(|| h.test.clone()),
            interval: h.interval,
            timeout: h.timeout,
            start_period: h.start_period,
            start_interval: h.start_interval,
            retries: h.retries,
        }),
        shell: None,
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
    /// Freeze a running container while its layer is taken (docker's
    /// `pause`, true unless the client says otherwise).
    pub pause: bool,
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
        let made = MadeForMounts::load(&c.dir);
        changes(&c.rootfs().upper, &lowers, &made).map_err(|e| Error::system(format!("read changes of {}", c.id), e))
    }

    /// `POST /commit?container=`: the running container frozen while its
    /// layer is taken when `opts.pause` (as dockerd: a failed pause is
    /// ignored, the thaw comes whatever the outcome); returns the new
    /// image id.
    pub async fn commit(self: &Arc<Self>, key: &str, opts: CommitOptions) -> Result<String> {
        let c = self.lookup(key)?;
        let st = c.record().state;
        let frozen = opts.pause
            && st.is_running()
            && !st.paused
            && match freeze(&c).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::debug!(id = %c.id, error = %e, "pause for commit");
                    false
                }
            };
        let d = self.clone();
        let id = c.id.clone();
        let (comment, reference) = (
            opts.comment.clone(),
            crate::daemon::import_reference(&opts.repo, &opts.tag),
        );
        let res = Daemon::blocking("commit container", move || d.commit_container(&id, &opts)).await;
        if let Ok(image_id) = &res {
            let shown = reference.ok().flatten().map(|r| r.to_string()).unwrap_or_default();
            if !shown.is_empty() {
                self.image_event("tag", image_id, &shown);
            }
            let attrs = [
                ("comment", comment.as_str()),
                ("imageID", image_id.as_str()),
                ("imageRef", shown.as_str()),
            ];
            self.container_event(&c.record(), "commit", &attrs);
        }
        if frozen {
            if let Err(e) = thaw(&c).await {
                tracing::debug!(id = %c.id, error = %e, "unpause after commit");
            }
        }
        res
    }

    /// The commit itself. Blocking.
    pub fn commit_container(&self, key: &str, opts: &CommitOptions) -> Result<String> {
        let c = self.lookup(key)?;
        let rec = c.record();
        let reference = crate::daemon::import_reference(&opts.repo, &opts.tag)?;
        let upper = c.rootfs().upper;
        let (reader, writer) = std::io::pipe().map_err(|e| Error::system("create pipe", e))?;
        let made = MadeForMounts::load(&c.dir);
        let writer_thread = std::thread::spawn(move || write_layer(&upper, made, writer).map(drop));
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
        let ch = changes(&upper, std::slice::from_ref(&lower), &MadeForMounts::default()).expect("changes");
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
        let tar = write_layer(&upper, MadeForMounts::default(), Vec::new()).expect("layer");
        let mut a = tar::Archive::new(&tar[..]);
        let names: Vec<String> = a
            .entries()
            .expect("entries")
            .map(|e| e.expect("entry").path().expect("path").display().to_string())
            .collect();
        assert_eq!(names, ["added", "etc", "etc/.wh.gone", "etc/new"]);
    }
}
