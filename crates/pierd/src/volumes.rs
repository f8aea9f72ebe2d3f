//! The local volume store, under `<data-root>/volumes`:
//!
//! ```text
//! <name>/_data        the volume's content (bind-mounted into containers)
//! <name>/volume.json  driver, labels, options, creation time
//! ```
//!
//! Only docker's `local` driver exists. A volume created with `type`/`device`
//! options (`-o type=tmpfs -o device=tmpfs -o o=size=1m`) is mounted on
//! `_data` when a container first needs it and unmounted when it is removed.
//! Which containers use a volume is not recorded here: the daemon knows it
//! from the containers' mount points. All methods are blocking.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Label docker puts on anonymous volumes (prune removes only those by default).
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";
const META: &str = "volume.json";
const DATA: &str = "_data";

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("get {0}: no such volume")]
    NotFound(String),
    #[error("create {0}: \"{0}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path")]
    InvalidName(String),
    #[error("create {name}: volume driver \"{driver}\" not found")]
    UnknownDriver { name: String, driver: String },
    #[error("create {name}: invalid option: {option}")]
    InvalidOption { name: String, option: String },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("mount volume {name}: {source}")]
    Mount { name: String, source: nix::Error },
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> VolumeError + 'a {
    move |source| VolumeError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// What `volume.json` holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Meta {
    #[serde(default)]
    driver: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    options: BTreeMap<String, String>,
    #[serde(default)]
    created_at: String,
}

/// A volume as the daemon sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    pub name: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// RFC 3339.
    pub created_at: String,
    /// `<root>/<name>/_data`.
    pub mountpoint: PathBuf,
}

impl VolumeInfo {
    pub fn is_anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS_LABEL)
    }
}

/// What a create asks for.
#[derive(Debug, Clone, Default)]
pub struct NewVolume {
    /// Empty: a random 64-hex name.
    pub name: String,
    pub driver: String,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// Docker's local volume name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// The local driver's options: `type`, `device`, `o` (and nothing else).
fn check_options(name: &str, options: &BTreeMap<String, String>) -> Result<(), VolumeError> {
    for k in options.keys() {
        if !matches!(k.as_str(), "type" | "device" | "o" | "size") {
            return Err(VolumeError::InvalidOption {
                name: name.to_string(),
                option: k.clone(),
            });
        }
    }
    Ok(())
}

/// The local driver's `o=` string split into mount flags and data, as
/// docker's `mount.ParseOptions` does for the common flags.
pub fn parse_mount_options(o: &str) -> (nix::mount::MsFlags, String) {
    use nix::mount::MsFlags;
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for opt in o.split(',').filter(|s| !s.is_empty()) {
        match opt {
            "ro" => flags |= MsFlags::MS_RDONLY,
            "rw" => flags &= !MsFlags::MS_RDONLY,
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "nodev" => flags |= MsFlags::MS_NODEV,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "bind" => flags |= MsFlags::MS_BIND,
            "rbind" => flags |= MsFlags::MS_BIND | MsFlags::MS_REC,
            "noatime" => flags |= MsFlags::MS_NOATIME,
            "defaults" => {}
            other => data.push(other),
        }
    }
    (flags, data.join(","))
}

/// The volume store. One per daemon; a mutex serialises create and remove.
#[derive(Debug)]
pub struct VolumeStore {
    root: PathBuf,
    lock: Mutex<()>,
}

impl VolumeStore {
    pub fn open(root: &Path) -> Result<Self, VolumeError> {
        std::fs::create_dir_all(root).map_err(io("create", root))?;
        Ok(VolumeStore {
            root: root.to_path_buf(),
            lock: Mutex::new(()),
        })
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Create a volume, or return the existing one of that name (as docker
    /// does). The bool says whether it was created now.
    pub fn create(&self, req: NewVolume) -> Result<(VolumeInfo, bool), VolumeError> {
        let name = if req.name.is_empty() {
            hex::encode(rand::random::<[u8; 32]>())
        } else {
            req.name.clone()
        };
        if !valid_name(&name) {
            return Err(VolumeError::InvalidName(name));
        }
        if !matches!(req.driver.as_str(), "" | "local") {
            return Err(VolumeError::UnknownDriver {
                name,
                driver: req.driver,
            });
        }
        check_options(&name, &req.options)?;
        let _g = self.guard();
        if let Ok(v) = self.get_locked(&name) {
            return Ok((v, false));
        }
        let dir = self.dir(&name);
        let data = dir.join(DATA);
        std::fs::create_dir_all(&data).map_err(io("create", &data))?;
        let meta = Meta {
            driver: "local".to_string(),
            labels: req.labels,
            options: req.options,
            created_at: pier_time::format_nano(pier_time::now_unix() * pier_time::NANOS_PER_SEC),
        };
        let bytes = serde_json::to_vec_pretty(&meta).map_err(|e| VolumeError::Io {
            op: "encode",
            path: dir.join(META),
            source: e.into(),
        })?;
        crate::record::write_atomic(&dir.join(META), &bytes).map_err(|e| VolumeError::Io {
            op: "write",
            path: dir.join(META),
            source: std::io::Error::other(e.to_string()),
        })?;
        tracing::info!(volume = %name, "volume created");
        Ok((self.info(&name, meta), true))
    }

    fn info(&self, name: &str, meta: Meta) -> VolumeInfo {
        VolumeInfo {
            name: name.to_string(),
            driver: if meta.driver.is_empty() {
                "local".to_string()
            } else {
                meta.driver
            },
            labels: meta.labels,
            options: meta.options,
            created_at: meta.created_at,
            mountpoint: self.dir(name).join(DATA),
        }
    }

    fn get_locked(&self, name: &str) -> Result<VolumeInfo, VolumeError> {
        if !valid_name(name) {
            return Err(VolumeError::NotFound(name.to_string()));
        }
        let path = self.dir(name).join(META);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(VolumeError::NotFound(name.to_string())),
            Err(e) => return Err(io("read", &path)(e)),
        };
        let meta: Meta = serde_json::from_slice(&bytes).map_err(|e| VolumeError::Io {
            op: "decode",
            path: path.clone(),
            source: e.into(),
        })?;
        Ok(self.info(name, meta))
    }

    pub fn get(&self, name: &str) -> Result<VolumeInfo, VolumeError> {
        self.get_locked(name)
    }

    /// Every volume, sorted by name.
    pub fn list(&self) -> Result<Vec<VolumeInfo>, VolumeError> {
        let mut out = Vec::new();
        let entries = std::fs::read_dir(&self.root).map_err(io("read", &self.root))?;
        for e in entries {
            let e = e.map_err(io("read", &self.root))?;
            let name = e.file_name().to_string_lossy().into_owned();
            match self.get_locked(&name) {
                Ok(v) => out.push(v),
                Err(VolumeError::NotFound(_)) => {}
                Err(err) => tracing::warn!(volume = %name, error = %err, "skip volume"),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Remove a volume (the caller checked it is unused).
    pub fn remove(&self, name: &str) -> Result<(), VolumeError> {
        let _g = self.guard();
        let v = self.get_locked(name)?;
        self.unmount(&v);
        let dir = self.dir(name);
        std::fs::remove_dir_all(&dir).map_err(io("remove", &dir))?;
        tracing::info!(volume = %name, "volume removed");
        Ok(())
    }

    /// Make the volume's content available at its mountpoint: a volume with
    /// a `device` option is mounted there on first use.
    pub fn mount(&self, v: &VolumeInfo) -> Result<(), VolumeError> {
        let Some(device) = v.options.get("device") else {
            return Ok(());
        };
        let _g = self.guard();
        if crate::rootfs::is_mounted(&v.mountpoint) {
            return Ok(());
        }
        let (mut flags, mut data) = parse_mount_options(v.options.get("o").map_or("", String::as_str));
        let kind = v.options.get("type").cloned().unwrap_or_default();
        if let Some(size) = v.options.get("size") {
            if !data.is_empty() {
                data.push(',');
            }
            data.push_str(&format!("size={size}"));
        }
        if kind == "none" {
            flags |= nix::mount::MsFlags::MS_BIND;
        }
        nix::mount::mount(
            Some(device.as_str()),
            &v.mountpoint,
            (!kind.is_empty() && kind != "none").then_some(kind.as_str()),
            flags,
            (!data.is_empty()).then_some(data.as_str()),
        )
        .map_err(|source| VolumeError::Mount {
            name: v.name.clone(),
            source,
        })
    }

    /// Undo [`VolumeStore::mount`] (no-op for plain volumes).
    pub fn unmount(&self, v: &VolumeInfo) {
        if v.options.contains_key("device") {
            if let Err(e) = crate::rootfs::unmount_all(&v.mountpoint) {
                tracing::warn!(volume = %v.name, error = %e, "unmount volume");
            }
        }
    }
}

/// Size in bytes of the regular files under `dir`, walked by directory fd
/// (a container may swap a directory for a symlink while this runs: it is
/// counted as a symlink, never entered).
pub fn dir_size(dir: &Path) -> u64 {
    use pier_sys::tree::{Dir, Kind};
    // Depth first, one fd held per level.
    fn walk(d: &Dir, depth: usize) -> u64 {
        let Ok(names) = d.names() else { return 0 };
        let mut total = 0;
        for name in names {
            let Ok(st) = d.stat_at(&name) else { continue };
            match Kind::of(&st) {
                Kind::Dir if depth < 1024 => {
                    if let Ok(child) = d.child_dir(&name) {
                        total += walk(&child, depth + 1);
                    }
                }
                Kind::File => total += u64::try_from(st.st_size).unwrap_or(0),
                _ => {}
            }
        }
        total
    }
    Dir::open(dir).map(|d| walk(&d, 0)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("data"));
        assert!(valid_name("a.b-c_d"));
        assert!(!valid_name("a"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name("../x"));
    }

    #[test]
    fn mount_options() {
        let (f, d) = parse_mount_options("size=1m,ro,uid=1000");
        assert!(f.contains(nix::mount::MsFlags::MS_RDONLY));
        assert_eq!(d, "size=1m,uid=1000");
    }

    #[test]
    fn create_get_list_remove() {
        let tmp = tempfile::tempdir().expect("tmp");
        let s = VolumeStore::open(tmp.path()).expect("open");
        let (v, created) = s
            .create(NewVolume {
                name: "data".into(),
                ..Default::default()
            })
            .expect("create");
        assert!(created);
        assert!(v.mountpoint.is_dir());
        let (_, again) = s
            .create(NewVolume {
                name: "data".into(),
                ..Default::default()
            })
            .expect("create again");
        assert!(!again);
        let (anon, _) = s.create(NewVolume::default()).expect("anonymous");
        assert_eq!(anon.name.len(), 64);
        assert_eq!(s.list().expect("list").len(), 2);
        s.remove("data").expect("remove");
        assert!(matches!(s.get("data"), Err(VolumeError::NotFound(_))));
        assert!(matches!(
            s.create(NewVolume {
                name: "bad/name".into(),
                ..Default::default()
            }),
            Err(VolumeError::InvalidName(_))
        ));
    }
}
