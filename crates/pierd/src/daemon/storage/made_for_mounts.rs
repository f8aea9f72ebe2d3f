//! The mount points Pier makes in a container's rootfs, so that `diff`
//! shows only what the container's processes changed (dockerd keeps them in
//! a separate "init" layer below the writable one).
//!
//! Before the runtime runs, each mount destination of the OCI spec that the
//! image lacks (`/etc/hosts`, `/proc`, a volume's target and its parent
//! directories, …) is made here, through the overlay, by directory fd: the
//! runtime then finds it and makes nothing. What this made in the upper
//! directory, and the image directories it copied up, are recorded with
//! their ctime in `<container dir>/made-for-mounts.json`. `diff` leaves out
//! an entry whose ctime is still the recorded one: a directory the
//! container later writes into (or chmods) has a new ctime and shows, as
//! with docker.
//!
//! Destinations below another destination (`/dev/pts` on the `/dev`
//! tmpfs, a bind inside a volume) are left to the runtime: they are not in
//! the rootfs. A destination whose path crosses a symlink or a non
//! directory in the image is left to the runtime too (it resolves them in
//! the rootfs), and then shows in `diff`.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::Path;

use pier_sys::tree::{Dir, Kind, Stat};
use serde::{Deserialize, Serialize};

use crate::daemon::storage::mounts::Kind as MountKind;
use crate::private;

/// The record's file name in the container directory.
pub const FILE: &str = "made-for-mounts.json";

/// A ctime, to the nanosecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub sec: i64,
    pub nsec: i64,
}

impl Stamp {
    pub fn of(st: &Stat) -> Stamp {
        Stamp {
            sec: st.st_ctime,
            nsec: st.st_ctime_nsec as i64,
        }
    }
}

/// Container path (`/etc/hosts`) -> the ctime its upper entry had when
/// Pier made it (or copied it up).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MadeForMounts {
    pub entries: BTreeMap<String, Stamp>,
}

impl MadeForMounts {
    /// The record of `container_dir`; empty when there is none (containers
    /// started by an older pierd) or it is unreadable.
    pub fn load(container_dir: &Path) -> MadeForMounts {
        std::fs::read(container_dir.join(FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Whether the upper entry at `path` with status `st` is one Pier made
    /// and nothing changed since.
    pub fn hides(&self, path: &str, st: &Stat) -> bool {
        self.entries.get(path).is_some_and(|s| *s == Stamp::of(st))
    }
}

/// One destination to make: its container path and whether it is a file
/// (a bind of a file) or a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub path: String,
    pub file: bool,
}

/// The destinations of `mounts` (the OCI spec's: /proc, /dev, /etc/hosts,
/// …, which the runtime would make) to make in the rootfs: absolute, not
/// `/`, and not below another destination.
pub fn targets(mounts: &[oci_spec::runtime::Mount]) -> Vec<Target> {
    let all: Vec<Target> = mounts
        .iter()
        .filter_map(|m| {
            let path = normalize(&m.destination().to_string_lossy())?;
            let file = m.typ().as_deref() == Some("bind")
                && m.source()
                    .as_ref()
                    .is_some_and(|s| std::fs::metadata(s).is_ok_and(|md| !md.is_dir()));
            Some(Target { path, file })
        })
        .collect();
    nest_free(all)
}

/// The destinations of a container's binds, volumes and tmpfs mounts
/// (`mounts.json`, `--tmpfs`): Pier makes these itself at start
/// (`start_mounts`), so they are made here first, to be recorded.
pub fn user_targets(container_dir: &Path, tmpfs: &BTreeMap<String, String>) -> Vec<Target> {
    let mut out: Vec<Target> = crate::daemon::storage::mounts::load(container_dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|m| {
            let path = normalize(&m.destination)?;
            let file = m.kind == MountKind::Bind && m.source.exists() && !m.source.is_dir();
            Some(Target { path, file })
        })
        .collect();
    out.extend(tmpfs.keys().filter_map(|dest| {
        Some(Target {
            path: normalize(dest)?,
            file: false,
        })
    }));
    nest_free(out)
}

/// Sorted, deduplicated, and without a destination below another.
fn nest_free(mut all: Vec<Target>) -> Vec<Target> {
    all.sort_by(|a, b| a.path.cmp(&b.path));
    all.dedup_by(|a, b| a.path == b.path);
    let paths: Vec<String> = all.iter().map(|t| t.path.clone()).collect();
    all.retain(|t| {
        !paths
            .iter()
            .any(|p| p != &t.path && t.path.starts_with(&format!("{p}/")))
    });
    all
}

/// `/a//b/./c/` -> `/a/b/c`; `None` for `/`, relative paths and `..`.
fn normalize(p: &str) -> Option<String> {
    if !p.starts_with('/') {
        return None;
    }
    let mut out = String::new();
    for part in p.split('/').filter(|s| !s.is_empty() && *s != ".") {
        if part == ".." {
            return None;
        }
        out.push('/');
        out.push_str(part);
    }
    (!out.is_empty()).then_some(out)
}

/// Make the `targets` missing from the rootfs mounted at `merged` (upper
/// directory `upper`) and add what this made to the record in
/// `container_dir`. Blocking.
pub fn prepare(merged: &Path, upper: &Path, container_dir: &Path, targets: &[Target]) -> std::io::Result<()> {
    let root = Dir::open(merged)?;
    let upper = Dir::open(upper)?;
    let mut made: Vec<String> = Vec::new();
    for t in targets {
        make(&root, &upper, t, &mut made)?;
    }
    if made.is_empty() {
        return Ok(());
    }
    let mut record = MadeForMounts::load(container_dir);
    for path in made {
        if let Some(st) = stat_in(&upper, &path)? {
            record.entries.insert(path, Stamp::of(&st));
        }
    }
    let bytes = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
    private::write(&container_dir.join(FILE), &bytes, private::RECORD)
}

/// Make one target; push onto `made` each path this put into the upper
/// directory (made, or an image directory copied up by making a child).
fn make(root: &Dir, upper: &Dir, t: &Target, made: &mut Vec<String>) -> std::io::Result<()> {
    let names: Vec<&str> = t.path.split('/').filter(|s| !s.is_empty()).collect();
    let Some((last, parents)) = names.split_last() else {
        return Ok(());
    };
    // Does the last name exist already? Then nothing is made.
    let mut dir = root.try_clone()?;
    let mut up: Option<Dir> = Some(upper.try_clone()?);
    let mut rel = String::new();
    // Parents copied up or made on the way, recorded only if the target
    // itself is made.
    let mut pending: Vec<String> = Vec::new();
    for name in parents {
        let os = OsStr::new(name);
        rel.push('/');
        rel.push_str(name);
        let in_upper = up.as_ref().is_some_and(|u| u.stat_at(os).is_ok());
        dir = match dir.stat_at(os) {
            Ok(st) if Kind::of(&st) == Kind::Dir => dir.child_dir(os)?,
            // A symlink or a file on the way: the runtime's business.
            Ok(_) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => dir.create_dir(os, 0o755)?,
            Err(e) => return Err(e),
        };
        if !in_upper {
            pending.push(rel.clone());
        }
        up = up.and_then(|u| u.child_dir(os).ok());
    }
    let os = OsStr::new(last);
    match dir.stat_at(os) {
        Ok(_) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => return Err(e),
    }
    if t.file {
        dir.create_file(os, 0o755)?;
    } else {
        dir.create_dir(os, 0o755)?;
    }
    made.extend(pending);
    made.push(t.path.clone());
    Ok(())
}

/// The upper directory's entry at container path `path`, by directory fd.
fn stat_in(upper: &Dir, path: &str) -> std::io::Result<Option<Stat>> {
    let names: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some((last, parents)) = names.split_last() else {
        return Ok(None);
    };
    let mut dir = upper.try_clone()?;
    for name in parents {
        dir = match dir.child_dir(OsStr::new(name)) {
            Ok(d) => d,
            Err(_) => return Ok(None),
        };
    }
    Ok(dir.stat_at(OsStr::new(last)).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::MountBuilder;

    fn mount(dest: &str, typ: &str, source: &str) -> oci_spec::runtime::Mount {
        MountBuilder::default()
            .destination(dest)
            .typ(typ)
            .source(source)
            .build()
            .expect("mount")
    }

    #[test]
    fn targets_skip_nested_and_odd_paths() {
        let tmp = tempfile::tempdir().expect("tmp");
        let file = tmp.path().join("hosts");
        std::fs::write(&file, "x").expect("file");
        let file = file.to_string_lossy().into_owned();
        let t = targets(&[
            mount("/proc", "proc", "proc"),
            mount("/dev", "tmpfs", "tmpfs"),
            mount("/dev/pts", "devpts", "devpts"),
            mount("/etc/hosts", "bind", &file),
            mount("/data/", "bind", "/"),
            mount("/data/sub", "bind", "/"),
            mount("/", "bind", "/"),
            mount("rel", "bind", "/"),
            mount("/a/../b", "bind", "/"),
        ]);
        let got: Vec<(&str, bool)> = t.iter().map(|t| (t.path.as_str(), t.file)).collect();
        assert_eq!(
            got,
            [
                ("/data", false),
                ("/dev", false),
                ("/etc/hosts", true),
                ("/proc", false)
            ]
        );
    }

    #[test]
    fn made_entries_are_recorded_and_hidden_until_changed() {
        // Without an overlay: "merged" and "upper" are one directory, so
        // everything made lands "in upper".
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("etc")).expect("etc");
        std::fs::create_dir_all(root.join("proc")).expect("proc");
        std::os::unix::fs::symlink("/elsewhere", root.join("link")).expect("symlink");
        let cdir = tmp.path().join("c");
        std::fs::create_dir_all(&cdir).expect("cdir");
        let t = |path: &str, file: bool| Target {
            path: path.to_string(),
            file,
        };
        prepare(
            &root,
            &root,
            &cdir,
            &[
                t("/etc/hosts", true),
                t("/proc", false),
                t("/v/w", false),
                t("/link/x", false),
            ],
        )
        .expect("prepare");
        assert!(root.join("etc/hosts").is_file());
        assert!(root.join("v/w").is_dir());
        assert!(!Path::new("/elsewhere/x").exists());
        let rec = MadeForMounts::load(&cdir);
        let paths: Vec<&str> = rec.entries.keys().map(String::as_str).collect();
        // /etc was in "upper" already: not Pier's; /proc existed.
        assert_eq!(paths, ["/etc/hosts", "/v", "/v/w"]);
        let st = |p: &str| rustix::fs::lstat(root.join(p)).expect("stat");
        assert!(rec.hides("/v", &st("v")));
        std::fs::write(root.join("v/new"), "x").expect("write into /v");
        assert!(!rec.hides("/v", &st("v")), "a changed directory shows");
        assert!(rec.hides("/etc/hosts", &st("etc/hosts")));
        // A second start makes nothing and keeps the record.
        prepare(&root, &root, &cdir, &[t("/etc/hosts", true)]).expect("again");
        assert_eq!(MadeForMounts::load(&cdir), rec);
    }
}
