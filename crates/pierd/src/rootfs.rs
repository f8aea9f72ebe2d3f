//! The container root filesystem: an overlayfs mount with the image layers as
//! `lowerdir` and `upper`/`work`/`merged` under `<container dir>/fs`.

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("image has no layers")]
    NoLayers,
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The overlay directories of one container.
#[derive(Debug, Clone)]
pub struct Rootfs {
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
    /// The /dev/shm of an `--ipc shareable` container: a tmpfs on the host
    /// side, so containers joining its IPC namespace bind the same one
    /// (dockerd's `containers/<id>/mounts/shm`).
    pub shm: PathBuf,
}

impl Rootfs {
    pub fn new(container_dir: &Path) -> Self {
        let fs = container_dir.join("fs");
        Rootfs {
            upper: fs.join("upper"),
            work: fs.join("work"),
            merged: fs.join("merged"),
            shm: container_dir.join("shm"),
        }
    }

    /// Mount the overlay unless it is mounted already. `layers` are top-most
    /// first, as overlayfs wants them.
    pub fn mount(&self, layers: &[PathBuf]) -> Result<(), RootfsError> {
        self.mount_with(layers, false)
    }

    /// `mount`, optionally `volatile`: the overlay then never syncs its
    /// upper filesystem, neither on the container's fsyncs nor at unmount
    /// (which otherwise writes back every dirty page of the data root's
    /// filesystem, tens to hundreds of ms on a busy disk). Only for
    /// writable layers thrown away at exit (AutoRemove), as podman does
    /// for `--rm`. Falls back to a plain mount where the kernel lacks it.
    pub fn mount_with(&self, layers: &[PathBuf], volatile: bool) -> Result<(), RootfsError> {
        if layers.is_empty() {
            return Err(RootfsError::NoLayers);
        }
        for dir in [&self.upper, &self.work, &self.merged] {
            std::fs::create_dir_all(dir).map_err(|source| RootfsError::Io {
                op: "create",
                path: dir.clone(),
                source,
            })?;
        }
        if is_mounted(&self.merged) {
            return Ok(());
        }
        self.clear_volatile_mark()?;
        let data = overlay_options(layers, &self.upper, &self.work);
        let mount_overlay = |data: &str| {
            mount(
                Some("overlay"),
                &self.merged,
                Some("overlay"),
                MsFlags::empty(),
                Some(data),
            )
        };
        if volatile {
            match mount_overlay(&format!("{data},volatile")) {
                Ok(()) => return Ok(()),
                Err(e) => tracing::debug!(error = %e, "volatile overlay refused; mounting a plain one"),
            }
        }
        mount_overlay(&data).map_err(|e| RootfsError::Io {
            op: "mount overlay on",
            path: self.merged.clone(),
            source: e.into(),
        })
    }

    /// A volatile mount leaves `work/work/incompat/volatile` behind, and
    /// overlayfs refuses to mount that workdir again. The workdir holds no
    /// container data (only overlay's scratch space), so a stale one left by
    /// an unmounted volatile overlay is removed; overlay recreates it.
    fn clear_volatile_mark(&self) -> Result<(), RootfsError> {
        let scratch = self.work.join("work");
        if !scratch.join("incompat").join("volatile").exists() {
            return Ok(());
        }
        std::fs::remove_dir_all(&scratch).map_err(|source| RootfsError::Io {
            op: "remove",
            path: scratch,
            source,
        })
    }

    /// Unmount every mount stacked on `merged` (and the shareable
    /// /dev/shm); not mounted is fine.
    pub fn unmount(&self) -> Result<(), RootfsError> {
        unmount_all(&self.merged)?;
        unmount_all(&self.shm)
    }

    /// Mount the shareable /dev/shm (`size` bytes) unless it is mounted:
    /// docker's `mode=1777`, `nosuid,nodev,noexec` tmpfs.
    pub fn mount_shm(&self, size: u64) -> Result<(), RootfsError> {
        use std::os::unix::fs::DirBuilderExt;
        if is_mounted(&self.shm) {
            return Ok(());
        }
        match std::fs::DirBuilder::new().mode(0o700).create(&self.shm) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(RootfsError::Io {
                    op: "create",
                    path: self.shm.clone(),
                    source,
                })
            }
        }
        mount(
            Some("shm"),
            &self.shm,
            Some("tmpfs"),
            MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(format!("mode=1777,size={size}").as_str()),
        )
        .map_err(|e| RootfsError::Io {
            op: "mount shm on",
            path: self.shm.clone(),
            source: e.into(),
        })
    }
}

/// Unmount `path` until nothing is mounted there.
pub fn unmount_all(path: &Path) -> Result<(), RootfsError> {
    for _ in 0..16 {
        if !is_mounted(path) {
            return Ok(());
        }
        if let Err(e) = umount2(path, MntFlags::empty()) {
            if e == nix::errno::Errno::EINVAL || e == nix::errno::Errno::ENOENT {
                return Ok(());
            }
            umount2(path, MntFlags::MNT_DETACH).map_err(|e| RootfsError::Io {
                op: "unmount",
                path: path.to_path_buf(),
                source: e.into(),
            })?;
        }
    }
    Ok(())
}

/// `lowerdir=a:b,upperdir=u,workdir=w`.
pub fn overlay_options(layers: &[PathBuf], upper: &Path, work: &Path) -> String {
    let lower: Vec<String> = layers.iter().map(|p| p.display().to_string()).collect();
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        upper.display(),
        work.display()
    )
}

/// Whether something is mounted exactly at `path`.
///
/// Two `statx` calls (the mount ids of `path` and of its parent differ
/// exactly when `path` is a mount point); where the kernel has no
/// `STATX_MNT_ID` (before 5.8), a scan of `/proc/self/mountinfo`, whose
/// cost grows with every mount on the host.
pub fn is_mounted(path: &Path) -> bool {
    match mount_point_by_id(path) {
        Some(answer) => answer,
        None => match std::fs::read_to_string("/proc/self/mountinfo") {
            Ok(text) => mountinfo_has(&text, path),
            Err(_) => false,
        },
    }
}

/// `Some(mounted)` from the mount ids, `None` when they are not known.
fn mount_point_by_id(path: &Path) -> Option<bool> {
    use rustix::fs::{statx, AtFlags, StatxFlags, CWD};
    let parent = path.parent()?;
    let id = |p: &Path| -> Result<Option<u64>, rustix::io::Errno> {
        let st = statx(CWD, p, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::MNT_ID)?;
        Ok(
            (StatxFlags::from_bits_retain(st.stx_mask) & StatxFlags::MNT_ID == StatxFlags::MNT_ID)
                .then_some(st.stx_mnt_id),
        )
    };
    match id(path) {
        // Nothing there: nothing mounted there.
        Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTDIR) => Some(false),
        Err(_) | Ok(None) => None,
        Ok(Some(own)) => match id(parent) {
            Ok(Some(up)) => Some(own != up),
            _ => None,
        },
    }
}

/// Whether a `/proc/self/mountinfo` text lists a mount point at `path`.
pub fn mountinfo_has(mountinfo: &str, path: &Path) -> bool {
    let want = path.to_string_lossy();
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| unescape_octal(mp) == want)
}

fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_by_id_agree_with_mountinfo() {
        let tmp = tempfile::tempdir().expect("tempdir");
        assert!(is_mounted(Path::new("/proc")));
        assert!(is_mounted(Path::new("/")));
        assert!(!is_mounted(tmp.path()));
        assert!(!is_mounted(&tmp.path().join("missing")));
        let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        for p in ["/proc", "/sys", "/dev", "/etc", "/usr"] {
            let p = Path::new(p);
            assert_eq!(is_mounted(p), mountinfo_has(&info, p), "{}", p.display());
        }
    }

    #[test]
    fn options() {
        let o = overlay_options(
            &[PathBuf::from("/l/2"), PathBuf::from("/l/1")],
            Path::new("/c/fs/upper"),
            Path::new("/c/fs/work"),
        );
        assert_eq!(o, "lowerdir=/l/2:/l/1,upperdir=/c/fs/upper,workdir=/c/fs/work");
    }

    #[test]
    fn stale_volatile_mark_is_cleared() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs = Rootfs::new(dir.path());
        let mark = fs.work.join("work/incompat/volatile/dirty");
        std::fs::create_dir_all(&mark).expect("mark");
        std::fs::create_dir_all(&fs.upper).expect("upper");
        std::fs::write(fs.upper.join("kept"), b"x").expect("upper file");
        fs.clear_volatile_mark().expect("clear");
        assert!(!fs.work.join("work").exists());
        assert!(fs.upper.join("kept").exists());
        fs.clear_volatile_mark().expect("clear again");
    }

    #[test]
    fn mountinfo() {
        let text = "36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 - ext3 /dev/root rw\n\
                    37 35 0:5 / /var/lib/pier/containers/x/fs/merged rw - overlay overlay rw\n";
        assert!(mountinfo_has(text, Path::new("/mnt/a b")));
        assert!(mountinfo_has(text, Path::new("/var/lib/pier/containers/x/fs/merged")));
        assert!(!mountinfo_has(text, Path::new("/var/lib/pier")));
    }
}
