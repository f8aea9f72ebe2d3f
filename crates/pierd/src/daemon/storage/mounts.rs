//! A container's mount points: parsed from `Binds`, `Mounts`, `Tmpfs`,
//! `VolumesFrom` and the image's volumes at create (volumes are created
//! then), written to `<container dir>/mounts.json`, and turned into bind and
//! tmpfs mounts at each start (volume content copied from the image on first
//! use, targets created inside the rootfs without leaving it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pier_api::container::HostConfig;
use pier_api::volume::Mount as ApiMount;
use serde::{Deserialize, Serialize};

use pier_sys::tree::{self, Dir};

use crate::daemon::storage::confined::Root;
use crate::daemon::{Container, Daemon};
use crate::error::{Error, Result};
use crate::model::build::{clean_path, TARGET_IS_ROOT};
use crate::spec::{BindMount, ExtraMount, Propagation, TmpfsMount};
use crate::volumes::{NewVolume, VolumeError, ANONYMOUS_LABEL};

const MOUNTS_FILE: &str = "mounts.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Bind,
    Volume,
    Tmpfs,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Bind => "bind",
            Kind::Volume => "volume",
            Kind::Tmpfs => "tmpfs",
        }
    }
}

/// One mount of a container, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountPoint {
    pub kind: Kind,
    /// Volume name (volumes only).
    #[serde(default)]
    pub name: String,
    /// Host path (bind) or the volume's `_data`; empty for tmpfs.
    #[serde(default)]
    pub source: PathBuf,
    pub destination: String,
    pub rw: bool,
    /// Docker's `Mode` as reported (`z`, `ro`, `` ...).
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub propagation: String,
    #[serde(default)]
    pub copy_data: bool,
    #[serde(default)]
    pub anonymous: bool,
    #[serde(default)]
    pub non_recursive: bool,
    /// `-v` creates a missing bind source; `--mount` refuses it.
    #[serde(default)]
    pub create_source: bool,
    #[serde(default)]
    pub tmpfs_options: Vec<String>,
}

impl MountPoint {
    fn new(kind: Kind, destination: &str) -> Self {
        MountPoint {
            kind,
            name: String::new(),
            source: PathBuf::new(),
            destination: clean_path(destination),
            rw: true,
            mode: String::new(),
            propagation: String::new(),
            copy_data: false,
            anonymous: false,
            non_recursive: false,
            create_source: false,
            tmpfs_options: Vec::new(),
        }
    }

    /// inspect's `Mounts` entry.
    pub fn to_api(&self) -> pier_api::volume::MountPoint {
        pier_api::volume::MountPoint {
            kind: self.kind.as_str().to_string(),
            name: self.name.clone(),
            source: self.source.display().to_string(),
            destination: self.destination.clone(),
            driver: if self.kind == Kind::Volume {
                "local".to_string()
            } else {
                String::new()
            },
            mode: self.mode.clone(),
            rw: self.rw,
            propagation: self.propagation.clone(),
        }
    }
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidParameter(msg.into())
}

fn propagation(s: &str) -> Option<Propagation> {
    Some(match s {
        "private" => Propagation::Private,
        "rprivate" => Propagation::RPrivate,
        "shared" => Propagation::Shared,
        "rshared" => Propagation::RShared,
        "slave" => Propagation::Slave,
        "rslave" => Propagation::RSlave,
        _ => return None,
    })
}

/// One `-v`/`Binds` entry: `src:dst[:mode]` (`src` a host path or a volume
/// name). A bare `dst` is an anonymous volume (docker sends those as
/// `Config.Volumes`, but accepts them here too).
pub fn parse_bind(spec: &str) -> Result<MountPoint> {
    let bad = || invalid(format!("invalid volume specification: '{spec}'"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [d] => ("", *d, ""),
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => return Err(bad()),
    };
    if dst.is_empty() || !dst.starts_with('/') {
        return Err(bad());
    }
    let kind = if src.starts_with('/') { Kind::Bind } else { Kind::Volume };
    if clean_path(dst) == "/" {
        return Err(invalid(format!(
            "invalid volume specification: '{spec}': invalid mount config for type \"{}\": {TARGET_IS_ROOT}",
            kind.as_str()
        )));
    }
    let mut mp = if src.is_empty() {
        let mut m = MountPoint::new(Kind::Volume, dst);
        m.anonymous = true;
        m.copy_data = true;
        m
    } else if src.starts_with('/') {
        let mut m = MountPoint::new(Kind::Bind, dst);
        m.source = PathBuf::from(src);
        m.propagation = "rprivate".to_string();
        m.create_source = true;
        m
    } else {
        if !crate::volumes::valid_name(src) {
            return Err(invalid(VolumeError::InvalidName(src.to_string()).to_string()));
        }
        let mut m = MountPoint::new(Kind::Volume, dst);
        m.name = src.to_string();
        m.copy_data = true;
        m.mode = "z".to_string();
        m
    };
    let mut rw_seen = false;
    let mut label_seen = false;
    for opt in mode.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" | "rw" if !rw_seen => {
                rw_seen = true;
                mp.rw = opt == "rw";
            }
            "z" | "Z" if !label_seen => label_seen = true,
            "nocopy" if mp.kind == Kind::Volume => mp.copy_data = false,
            p if propagation(p).is_some() && mp.kind == Kind::Bind => mp.propagation = p.to_string(),
            _ => return Err(invalid(format!("invalid mode: {mode}"))),
        }
    }
    if !mode.is_empty() {
        mp.mode = mode.to_string();
    }
    Ok(mp)
}

/// One `HostConfig.Mounts` entry.
pub fn parse_api_mount(m: &ApiMount) -> Result<MountPoint> {
    let bad = |msg: &str| invalid(format!("invalid mount config for type \"{}\": {msg}", m.kind));
    if m.target.is_empty() {
        return Err(bad("field Target must not be empty"));
    }
    if clean_path(&m.target) == "/" {
        return Err(bad(TARGET_IS_ROOT));
    }
    if !m.target.starts_with('/') {
        return Err(bad(&format!(
            "invalid mount path: '{}' mount path must be absolute",
            m.target
        )));
    }
    match m.kind.as_str() {
        "bind" => {
            if m.source.is_empty() {
                return Err(bad("field Source must not be empty"));
            }
            if !m.source.starts_with('/') {
                return Err(bad(&format!(
                    "invalid mount path: '{}' mount path must be absolute",
                    m.source
                )));
            }
            if m.volume_options.is_some() {
                return Err(bad("field VolumeOptions must not be specified"));
            }
            let mut mp = MountPoint::new(Kind::Bind, &m.target);
            mp.source = PathBuf::from(&m.source);
            mp.rw = !m.read_only;
            mp.propagation = "rprivate".to_string();
            if let Some(b) = &m.bind_options {
                if !b.propagation.is_empty() {
                    if propagation(&b.propagation).is_none() {
                        return Err(bad(&format!("invalid propagation mode: {}", b.propagation)));
                    }
                    mp.propagation = b.propagation.clone();
                }
                mp.non_recursive = b.non_recursive;
                mp.create_source = b.create_mountpoint;
            }
            Ok(mp)
        }
        "volume" => {
            if m.bind_options.is_some() {
                return Err(bad("field BindOptions must not be specified"));
            }
            let mut mp = MountPoint::new(Kind::Volume, &m.target);
            mp.rw = !m.read_only;
            mp.copy_data = !m.volume_options.as_ref().is_some_and(|v| v.no_copy);
            if m.source.is_empty() {
                mp.anonymous = true;
            } else {
                if !crate::volumes::valid_name(&m.source) {
                    return Err(invalid(VolumeError::InvalidName(m.source.clone()).to_string()));
                }
                mp.name = m.source.clone();
            }
            Ok(mp)
        }
        "tmpfs" => {
            if !m.source.is_empty() {
                return Err(bad("field Source must not be specified"));
            }
            let mut mp = MountPoint::new(Kind::Tmpfs, &m.target);
            mp.rw = !m.read_only;
            if let Some(t) = &m.tmpfs_options {
                if t.size_bytes > 0 {
                    mp.tmpfs_options.push(format!("size={}", t.size_bytes));
                }
                if t.mode != 0 {
                    mp.tmpfs_options.push(format!("mode={:o}", t.mode & 0o7777));
                }
                for o in t.options.iter().flatten() {
                    mp.tmpfs_options.push(o.join("="));
                }
            }
            if m.read_only {
                mp.tmpfs_options.push("ro".to_string());
            }
            Ok(mp)
        }
        other => Err(invalid(format!("mount type unknown: \"{other}\""))),
    }
}

/// `HostConfig.Tmpfs` entries (not listed in inspect's Mounts, as docker).
pub fn tmpfs_mounts(tmpfs: &BTreeMap<String, String>) -> Result<Vec<ExtraMount>> {
    tmpfs
        .iter()
        .map(|(dest, opts)| {
            if !dest.starts_with('/') {
                return Err(invalid(format!(
                    "invalid mount path: '{dest}' mount path must be absolute"
                )));
            }
            Ok(ExtraMount::Tmpfs(TmpfsMount {
                destination: clean_path(dest),
                options: opts.split(',').filter(|o| !o.is_empty()).map(str::to_string).collect(),
            }))
        })
        .collect()
}

/// The mount points of a new container, volumes not yet created: volumes
/// from other containers first, then `Binds` and `Mounts` (a destination
/// twice is an error), then the image's and the request's `Volumes` that no
/// mount covers.
pub fn plan(
    hc: &HostConfig,
    declared_volumes: &[String],
    from: &[(Vec<MountPoint>, Option<bool>)],
) -> Result<Vec<MountPoint>> {
    let mut out: Vec<MountPoint> = Vec::new();
    for (mounts, rw) in from {
        for m in mounts.iter().filter(|m| m.kind != Kind::Tmpfs) {
            let mut m = m.clone();
            if let Some(rw) = rw {
                m.rw = *rw;
            }
            m.copy_data = false;
            out.retain(|o| o.destination != m.destination);
            out.push(m);
        }
    }
    let mut explicit: Vec<MountPoint> = Vec::new();
    for b in hc.binds.iter().flatten() {
        explicit.push(parse_bind(b)?);
    }
    for m in hc.mounts.iter().flatten() {
        explicit.push(parse_api_mount(m)?);
    }
    for (i, m) in explicit.iter().enumerate() {
        if explicit[..i].iter().any(|o| o.destination == m.destination) {
            return Err(invalid(format!("Duplicate mount point: {}", m.destination)));
        }
    }
    for m in explicit {
        out.retain(|o| o.destination != m.destination);
        out.push(m);
    }
    let tmpfs: Vec<String> = hc.tmpfs.iter().flatten().map(|(d, _)| clean_path(d)).collect();
    for d in declared_volumes {
        let d = clean_path(d);
        if d == "/" || out.iter().any(|o| o.destination == d) || tmpfs.contains(&d) {
            continue;
        }
        let mut m = MountPoint::new(Kind::Volume, &d);
        m.anonymous = true;
        m.copy_data = true;
        out.push(m);
    }
    Ok(out)
}

/// `VolumesFrom` entry: `container[:ro|rw]`.
pub fn parse_volumes_from(spec: &str) -> Result<(&str, Option<bool>)> {
    match spec.split_once(':') {
        None => Ok((spec, None)),
        Some((c, "ro")) => Ok((c, Some(false))),
        Some((c, "rw")) => Ok((c, Some(true))),
        Some((_, m)) => Err(invalid(format!("invalid mode: {m}"))),
    }
}

/// Read a container's mount points (none recorded: none).
pub fn load(dir: &Path) -> Result<Vec<MountPoint>> {
    let path = dir.join(MOUNTS_FILE);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::system(format!("parse {}", path.display()), e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::system(format!("read {}", path.display()), e)),
    }
}

pub fn save(dir: &Path, mounts: &[MountPoint]) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(mounts).map_err(|e| Error::system("encode mounts", e))?;
    crate::record::write_atomic(&dir.join(MOUNTS_FILE), &bytes).map_err(Error::from)
}

fn volume_error(e: VolumeError) -> Error {
    match e {
        VolumeError::NotFound(n) => Error::NoSuchVolume(n),
        VolumeError::InvalidName(_) | VolumeError::UnknownDriver { .. } | VolumeError::InvalidOption { .. } => {
            Error::InvalidParameter(e.to_string())
        }
        other => Error::Volume(other),
    }
}

pub(crate) fn map_volume_error(e: VolumeError) -> Error {
    volume_error(e)
}

impl Daemon {
    /// Create-time work: plan the mounts, check `--mount` bind sources,
    /// create the volumes. Blocking.
    pub(in crate::daemon) fn create_mounts(
        &self,
        hc: &HostConfig,
        declared_volumes: &[String],
    ) -> Result<Vec<MountPoint>> {
        let mut from = Vec::new();
        for spec in hc.volumes_from.iter().flatten() {
            let (key, rw) = parse_volumes_from(spec)?;
            let c = self.lookup(key)?;
            from.push((load(&c.dir)?, rw));
        }
        let mut mounts = plan(hc, declared_volumes, &from)?;
        let mut created = Vec::new();
        let made = self.make_sources(&mut mounts, &mut created);
        if made.is_err() {
            // A create that fails half-way leaves no volume it made.
            for name in created {
                if let Err(e) = self.volumes.remove(&name) {
                    tracing::warn!(volume = %name, error = %e, "remove volume of a failed create");
                }
            }
        }
        made.map(|()| mounts)
    }

    /// Check bind sources and create the volumes `mounts` name, pushing the
    /// names of those created now onto `created`.
    fn make_sources(&self, mounts: &mut [MountPoint], created: &mut Vec<String>) -> Result<()> {
        for m in mounts.iter_mut() {
            match m.kind {
                Kind::Bind if !m.create_source && !m.source.exists() => {
                    return Err(invalid(format!(
                        "invalid mount config for type \"bind\": bind source path does not exist: {}",
                        m.source.display()
                    )));
                }
                Kind::Volume => {
                    let mut labels = BTreeMap::new();
                    if m.anonymous && m.name.is_empty() {
                        labels.insert(ANONYMOUS_LABEL.to_string(), String::new());
                    }
                    let (v, new) = self
                        .volumes
                        .create(NewVolume {
                            name: m.name.clone(),
                            labels,
                            ..Default::default()
                        })
                        .map_err(volume_error)?;
                    if new {
                        created.push(v.name.clone());
                        self.event("volume", "create", &v.name, &[("driver", "local")]);
                    }
                    m.name = v.name;
                    m.source = v.mountpoint;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Start-time work: the mounts to hand to the spec, targets created
    /// inside `rootfs` and given as resolved paths. Blocking.
    pub(in crate::daemon) fn start_mounts(
        &self,
        c: &Container,
        rootfs: &Path,
        tmpfs: &BTreeMap<String, String>,
    ) -> Result<Vec<ExtraMount>> {
        let mounts = load(&c.dir)?;
        let root = Root::open(rootfs).map_err(|e| Error::system(format!("open rootfs {}", rootfs.display()), e))?;
        let mut out = Vec::new();
        let target = |dest: &str, file: bool| {
            root.prepare_target(dest, file)
                .map_err(|e| Error::system(format!("create mount target {dest}"), e))
        };
        for m in &mounts {
            match m.kind {
                Kind::Bind => {
                    if !m.source.exists() {
                        if !m.create_source {
                            return Err(invalid(format!(
                                "invalid mount config for type \"bind\": bind source path does not exist: {}",
                                m.source.display()
                            )));
                        }
                        std::fs::create_dir_all(&m.source)
                            .map_err(|e| Error::system(format!("create bind source {}", m.source.display()), e))?;
                    }
                    let file = !m.source.is_dir();
                    out.push(ExtraMount::Bind(BindMount {
                        source: m.source.clone(),
                        destination: target(&m.destination, file)?,
                        readonly: !m.rw,
                        propagation: propagation(&m.propagation).unwrap_or_default(),
                        non_recursive: m.non_recursive,
                    }));
                }
                Kind::Volume => {
                    let v = self.volumes.get(&m.name).map_err(volume_error)?;
                    self.volumes.mount(&v).map_err(volume_error)?;
                    let dest = target(&m.destination, false)?;
                    if m.copy_data {
                        copy_image_content(&root, &dest, &v.mountpoint)?;
                    }
                    out.push(ExtraMount::Bind(BindMount {
                        source: v.mountpoint.clone(),
                        destination: dest,
                        readonly: !m.rw,
                        propagation: Propagation::RPrivate,
                        non_recursive: false,
                    }));
                }
                Kind::Tmpfs => out.push(ExtraMount::Tmpfs(TmpfsMount {
                    destination: target(&m.destination, false)?,
                    options: m.tmpfs_options.clone(),
                })),
            }
        }
        for t in tmpfs_mounts(tmpfs)? {
            if let ExtraMount::Tmpfs(mut t) = t {
                t.destination = target(&t.destination, false)?;
                out.push(ExtraMount::Tmpfs(t));
            }
        }
        Ok(out)
    }

    /// inspect's `Mounts` of a container.
    pub fn mount_points(&self, c: &Container) -> Vec<pier_api::volume::MountPoint> {
        load(&c.dir)
            .unwrap_or_default()
            .iter()
            .map(MountPoint::to_api)
            .collect()
    }

    /// Ids of the containers using volume `name`.
    pub(crate) fn volume_users(&self, name: &str) -> Vec<String> {
        self.containers()
            .into_iter()
            .filter(|c| {
                load(&c.dir)
                    .map(|ms| ms.iter().any(|m| m.kind == Kind::Volume && m.name == name))
                    .unwrap_or(false)
            })
            .map(|c| c.id.clone())
            .collect()
    }

    /// After a container is removed: its anonymous volumes go when asked
    /// (`rm -v`, AutoRemove) and nobody else uses them.
    /// Volume `mount` (at start) or `unmount` (at exit) events for the
    /// volumes of container `id`, as dockerd logs them.
    pub(in crate::daemon) fn volume_events(&self, id: &str, mounts: &[MountPoint], mount: bool) {
        for m in mounts.iter().filter(|m| m.kind == Kind::Volume) {
            if mount {
                let rw = m.rw.to_string();
                let attrs = [
                    ("driver", "local"),
                    ("container", id),
                    ("destination", m.destination.as_str()),
                    ("read/write", rw.as_str()),
                    ("propagation", m.propagation.as_str()),
                ];
                self.event("volume", "mount", &m.name, &attrs);
            } else {
                self.event("volume", "unmount", &m.name, &[("driver", "local"), ("container", id)]);
            }
        }
    }

    pub(in crate::daemon) fn release_volumes(&self, mounts: &[MountPoint], remove_anonymous: bool) {
        for m in mounts.iter().filter(|m| m.kind == Kind::Volume) {
            let Ok(v) = self.volumes.get(&m.name) else { continue };
            let users = self.volume_users(&m.name);
            if users.is_empty() {
                self.volumes.unmount(&v);
                if remove_anonymous && m.anonymous && v.is_anonymous() {
                    match self.volumes.remove(&m.name) {
                        Ok(_) => self.event("volume", "destroy", &m.name, &[("driver", "local")]),
                        Err(e) => tracing::warn!(volume = %m.name, error = %e, "remove anonymous volume"),
                    }
                }
            }
        }
    }
}

/// Copy what the image has at `dest` into an empty volume (docker copies
/// only into an empty volume, so later starts leave its data alone).
///
/// Both sides may hold what a container wrote (the rootfs's upper
/// directory; a volume another running container shares), so the copy goes
/// by directory fd on both: the source resolved in the root, entries read
/// with `O_NOFOLLOW`, entries created with `mkdirat`/`O_EXCL`/`symlinkat`,
/// owners and modes set on fds. A symlink planted in the volume is never
/// followed.
fn copy_image_content(root: &Root, dest: &str, volume: &Path) -> Result<()> {
    let to = Dir::open(volume).map_err(|e| Error::system(format!("open volume {}", volume.display()), e))?;
    let empty = to
        .names()
        .map(|n| n.is_empty())
        .map_err(|e| Error::system(format!("read volume {}", volume.display()), e))?;
    if !empty {
        return Ok(());
    }
    let from = match root.dir_at(dest) {
        Ok(d) => d,
        Err(_) => return Ok(()),
    };
    copy_tree(&from, &to).map_err(|e| Error::system(format!("copy image content of {dest} into volume"), e))
}

/// Copy a tree keeping modes, owners and symlinks (never following one).
/// The top directory's owner and mode go to `to` itself. Devices, FIFOs
/// and sockets are left out.
pub fn copy_tree(from: &Dir, to: &Dir) -> std::io::Result<()> {
    let st = from.stat()?;
    to.set_owner_mode(st.st_uid, st.st_gid, st.st_mode)?;
    copy_children(from, to, 0)
}

fn copy_children(from: &Dir, to: &Dir, depth: usize) -> std::io::Result<()> {
    if depth > 1024 {
        return Err(std::io::Error::other("directory tree too deep"));
    }
    let gone = |e: &std::io::Error| matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ELOOP | libc::ENOTDIR));
    for name in from.names()? {
        let st = match from.stat_at(&name) {
            Ok(st) => st,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(e),
        };
        match tree::Kind::of(&st) {
            tree::Kind::Dir => {
                let src = match from.child_dir(&name) {
                    Ok(d) => d,
                    Err(e) if gone(&e) => continue,
                    Err(e) => return Err(e),
                };
                let dst = to.create_dir(&name, 0o700)?;
                copy_children(&src, &dst, depth + 1)?;
                let st = src.stat()?;
                dst.set_owner_mode(st.st_uid, st.st_gid, st.st_mode)?;
            }
            tree::Kind::File => {
                let Some((mut src, st)) = from.open_file(&name, Some(&st))? else {
                    continue;
                };
                let mut dst = to.create_file(&name, 0o600)?;
                std::io::copy(&mut src, &mut dst)?;
                tree::set_owner_mode(&dst, st.st_uid, st.st_gid, st.st_mode)?;
            }
            tree::Kind::Symlink => {
                let target = match from.read_link(&name) {
                    Ok(t) => t,
                    Err(e) if gone(&e) => continue,
                    Err(e) => return Err(e),
                };
                to.symlink(&target, &name)?;
                to.chown_at(&name, st.st_uid, st.st_gid)?;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_up_never_follows_symlinks_planted_in_the_volume() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (image, volume, host) = (
            tmp.path().join("image"),
            tmp.path().join("vol"),
            tmp.path().join("host"),
        );
        std::fs::create_dir_all(image.join("d")).expect("image");
        std::fs::write(image.join("f"), b"image").expect("f");
        std::fs::write(image.join("d/x"), b"image").expect("x");
        std::os::unix::fs::symlink("f", image.join("rel")).expect("link");
        std::fs::create_dir_all(&volume).expect("volume");
        std::fs::create_dir_all(host.join("dir")).expect("host");
        std::fs::write(host.join("secret"), b"host").expect("secret");
        let (from, to) = (Dir::open(&image).expect("image"), Dir::open(&volume).expect("volume"));
        copy_tree(&from, &to).expect("copy");
        assert_eq!(std::fs::read(volume.join("d/x")).expect("x"), b"image");
        assert_eq!(std::fs::read_link(volume.join("rel")).expect("rel"), Path::new("f"));
        // Another container planted symlinks where the copy writes.
        let planted = tmp.path().join("vol2");
        std::fs::create_dir_all(&planted).expect("vol2");
        std::os::unix::fs::symlink(host.join("secret"), planted.join("f")).expect("plant");
        std::os::unix::fs::symlink(host.join("dir"), planted.join("d")).expect("plant");
        let to = Dir::open(&planted).expect("vol2");
        assert!(copy_tree(&from, &to).is_err());
        assert_eq!(std::fs::read(host.join("secret")).expect("secret"), b"host");
        assert_eq!(std::fs::read_dir(host.join("dir")).expect("dir").count(), 0);
    }

    #[test]
    fn binds_parse_like_docker() {
        let m = parse_bind("/h:/c:ro,Z,rslave").expect("bind");
        assert_eq!((m.kind, m.rw, m.propagation.as_str()), (Kind::Bind, false, "rslave"));
        assert_eq!(m.mode, "ro,Z,rslave");
        let m = parse_bind("data:/d").expect("volume");
        assert_eq!((m.kind, m.name.as_str(), m.mode.as_str()), (Kind::Volume, "data", "z"));
        let m = parse_bind("/anon").expect("anonymous");
        assert!(m.anonymous);
        let m = parse_bind("data:/d:nocopy").expect("nocopy");
        assert!(!m.copy_data);
        assert!(parse_bind("/h:rel").is_err());
        let root = |r: Result<MountPoint>| r.err().map(|e| e.to_string());
        assert_eq!(
            root(parse_bind("/h:/")).as_deref(),
            Some("invalid volume specification: '/h:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'")
        );
        assert_eq!(
            root(parse_bind("name:/..")).as_deref(),
            Some("invalid volume specification: 'name:/..': invalid mount config for type \"volume\": invalid specification: destination can't be '/'")
        );
        assert!(parse_bind("/h:/c:bogus").is_err());
        assert!(parse_bind("a/b:/c").is_err());
    }

    #[test]
    fn api_mounts() {
        let m = parse_api_mount(&ApiMount {
            kind: "tmpfs".into(),
            target: "/t".into(),
            tmpfs_options: Some(pier_api::volume::TmpfsOptions {
                size_bytes: 1 << 20,
                mode: 0o1777,
                options: None,
            }),
            ..Default::default()
        })
        .expect("tmpfs");
        assert_eq!(m.tmpfs_options, ["size=1048576", "mode=1777"]);
        let e = parse_api_mount(&ApiMount {
            kind: "bind".into(),
            target: "/t".into(),
            ..Default::default()
        });
        assert!(e.is_err());
        for kind in ["bind", "volume", "tmpfs"] {
            let e = parse_api_mount(&ApiMount {
                kind: kind.into(),
                source: if kind == "bind" { "/h".into() } else { String::new() },
                target: "//".into(),
                ..Default::default()
            });
            assert_eq!(
                e.err().map(|e| e.to_string()),
                Some(format!(
                    "invalid mount config for type \"{kind}\": invalid specification: destination can't be '/'"
                ))
            );
        }
    }

    #[test]
    fn plan_orders_and_dedups() {
        let hc = HostConfig {
            binds: Some(vec!["/h:/data".into(), "v1:/v".into()]),
            ..Default::default()
        };
        let out = plan(&hc, &["/data".into(), "/img".into()], &[]).expect("plan");
        let dests: Vec<&str> = out.iter().map(|m| m.destination.as_str()).collect();
        assert_eq!(dests, ["/data", "/v", "/img"]);
        assert!(out[2].anonymous);
        let dup = HostConfig {
            binds: Some(vec!["/h:/data".into(), "/g:/data/".into()]),
            ..Default::default()
        };
        assert!(plan(&dup, &[], &[]).is_err());
    }
}
