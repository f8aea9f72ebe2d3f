//! The data root is private: the modes of pierd's directories and records,
//! applied when they are created and tightened at every start (data roots
//! written by older releases had 0755 directories and 0644 records).
//!
//! - The data root, `containers/`, each container's directory, `image/`,
//!   `volumes/` and each volume's directory: 0700. Docker uses 0710 for
//!   its root, `containers/` and `overlay2/` and 0701 for `volumes/` so
//!   that a user-namespace-remapped root can traverse them; Pier has no
//!   remapping, so nobody but root needs to. A container's overlay upper
//!   and merged directories (and the setuid binaries a container may put
//!   there) are thus out of reach of every other host user, while setuid
//!   still works inside the container (the overlay is not `nosuid`).
//! - The exec root: 0710 (traverse for the owning group, as docker's API
//!   socket group): the default API socket lives in it, mode 0660. The
//!   runtime's state and each container's bundle in it: 0700.
//! - Records and anything holding a container's environment
//!   (`container.json`, `mounts.json`, `volume.json`, the bundle's
//!   `config.json`, `shim.json` and exec process files, image records):
//!   0600. Files bind-mounted into containers (`hostname`, `hosts`,
//!   `resolv.conf`) stay 0644: container users read them.
//! - pierd runs with umask 0022 (as dockerd sets it): files it creates in
//!   a container's tree or a volume get the modes their archives say, and
//!   every private file is created with an explicit mode.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::config::DaemonConfig;

/// Directories only root enters.
pub const DIR: u32 = 0o700;
/// The exec root: traversable by its group (the API socket's).
pub const EXEC_ROOT: u32 = 0o710;
/// Records, and files holding a container's environment.
pub const RECORD: u32 = 0o600;
/// Files bind-mounted into containers.
pub const SHARED_FILE: u32 = 0o644;

/// The mode a file of mode `current` gets to be no looser than `wanted`
/// (bits outside `wanted` cleared, setuid/setgid/sticky included); `None`
/// when it already is.
pub fn tightened(current: u32, wanted: u32) -> Option<u32> {
    let cur = current & 0o7777;
    let new = cur & wanted;
    (new != cur).then_some(new)
}

/// Clear the bits of `path`'s mode outside `wanted`. Symlinks are left
/// alone; a missing path is fine.
pub fn tighten(path: &Path, wanted: u32) -> io::Result<()> {
    let md = match std::fs::symlink_metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if md.file_type().is_symlink() {
        return Ok(());
    }
    if let Some(mode) = tightened(md.permissions().mode(), wanted) {
        tracing::debug!(path = %path.display(), mode = format_args!("{mode:o}"), "tighten mode");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Create the directory `path` with `mode` (its missing parents as usual,
/// 0755), or tighten it to `mode` when it exists.
pub fn dir(path: &Path, mode: u32) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    match DirBuilder::new().mode(mode).create(path) {
        Ok(()) => {
            // The umask may have cleared bits of `mode`: set it exactly.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => tighten(path, mode),
        Err(e) => Err(e),
    }
}

/// Write `bytes` to `path` (created or truncated) with exactly `mode`.
pub fn write(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    // An existing file keeps its mode through open: set it.
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    f.write_all(bytes)
}

/// The process settings pierd starts with: umask 0022 (the mode of what
/// it creates does not depend on who started it), and the soft
/// `RLIMIT_NOFILE` raised to the hard limit (as dockerd does: every
/// container costs descriptors, every API connection and log follower
/// one or two).
pub fn prepare_process() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                tracing::warn!(error = %e, soft, hard, "raise RLIMIT_NOFILE");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "read RLIMIT_NOFILE"),
    }
}

/// Entries of `dir` (none when it is missing or unreadable).
fn entries(dir: &Path) -> Vec<std::fs::DirEntry> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.flatten().collect(),
        Err(_) => Vec::new(),
    }
}

/// Create pierd's directories with their modes and tighten everything an
/// older release left looser: directories, records, bundles.
pub fn prepare(cfg: &DaemonConfig) -> io::Result<()> {
    let ctx = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |e: io::Error| io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
    };
    let volumes = cfg.data_root.join("volumes");
    for (path, mode) in [
        (cfg.data_root.clone(), DIR),
        (cfg.containers_dir(), DIR),
        (cfg.image_root(), DIR),
        (volumes.clone(), DIR),
        (cfg.exec_root.clone(), EXEC_ROOT),
        (cfg.runtime_root(), DIR),
    ] {
        dir(&path, mode).map_err(ctx("create", &path))?;
    }
    for e in entries(&cfg.containers_dir()) {
        let path = e.path();
        if !path.is_dir() {
            continue;
        }
        tighten(&path, DIR).map_err(ctx("chmod", &path))?;
        for f in ["container.json", "mounts.json"] {
            let p = path.join(f);
            tighten(&p, RECORD).map_err(ctx("chmod", &p))?;
        }
    }
    for e in entries(&volumes) {
        let path = e.path();
        if path.is_dir() {
            tighten(&path, DIR).map_err(ctx("chmod", &path))?;
            let meta = path.join("volume.json");
            tighten(&meta, RECORD).map_err(ctx("chmod", &meta))?;
        }
    }
    for e in entries(&cfg.exec_root) {
        let path = e.path();
        // Bundles are named by container id (the runtime's root too).
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        tighten(&path, DIR).map_err(ctx("chmod", &path))?;
        for f in entries(&path) {
            let name = f.file_name();
            let name = name.to_string_lossy();
            let holds_env = name == "config.json" || name == "shim.json" || name.starts_with("exec-");
            if holds_env && f.file_type().is_ok_and(|t| t.is_file()) {
                let p = f.path();
                tighten(&p, RECORD).map_err(ctx("chmod", &p))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tightening_only_clears_bits() {
        assert_eq!(tightened(0o755, DIR), Some(0o700));
        assert_eq!(tightened(0o40755, DIR), Some(0o700));
        assert_eq!(tightened(0o700, DIR), None);
        assert_eq!(tightened(0o500, DIR), None);
        assert_eq!(tightened(0o644, RECORD), Some(0o600));
        assert_eq!(tightened(0o4755, RECORD), Some(0o600));
        assert_eq!(tightened(0o600, RECORD), None);
        assert_eq!(tightened(0o755, EXEC_ROOT), Some(0o710));
        assert_eq!(tightened(0o1777, EXEC_ROOT), Some(0o710));
    }

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).expect("stat").permissions().mode() & 0o7777
    }

    #[test]
    fn prepare_creates_private_dirs_and_tightens_an_old_layout() {
        let t = tempfile::tempdir().expect("tempdir");
        let cfg = DaemonConfig::new(
            t.path().join("d"),
            t.path().join("x"),
            "/bin/true".into(),
            "/bin/true".into(),
        );
        // What an older release left: everything 0755 / 0644.
        let c = cfg.containers_dir().join("c1");
        let v = cfg.data_root.join("volumes/v1");
        let b = cfg.exec_root.join("c1");
        for d in [&c, &v.join("_data"), &b] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        for f in [
            c.join("container.json"),
            c.join("hosts"),
            v.join("volume.json"),
            b.join("config.json"),
            b.join("exec-e1.json"),
        ] {
            std::fs::write(&f, b"{}").expect("write");
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        for d in [
            &cfg.data_root,
            &cfg.containers_dir(),
            &c,
            &v,
            &v.join("_data"),
            &cfg.exec_root,
            &b,
        ] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let link = c.join("link");
        std::os::unix::fs::symlink("/etc/passwd", &link).expect("symlink");

        prepare(&cfg).expect("prepare");
        for d in [
            &cfg.data_root,
            &cfg.containers_dir(),
            &c,
            &cfg.image_root(),
            &cfg.data_root.join("volumes"),
            &v,
            &cfg.runtime_root(),
            &b,
        ] {
            assert_eq!(mode(d), 0o700, "{}", d.display());
        }
        assert_eq!(mode(&cfg.exec_root), 0o710);
        for f in [
            c.join("container.json"),
            v.join("volume.json"),
            b.join("config.json"),
            b.join("exec-e1.json"),
        ] {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
        // What containers see keeps its mode.
        assert_eq!(mode(&v.join("_data")), 0o755);
        assert_eq!(mode(&c.join("hosts")), 0o644);
        assert_eq!(mode(Path::new("/etc/passwd")), 0o644);
    }

    #[test]
    fn dir_and_write_set_exact_modes() {
        let t = tempfile::tempdir().expect("tempdir");
        let d = t.path().join("a/b");
        dir(&d, DIR).expect("dir");
        assert_eq!(mode(&d), 0o700);
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        dir(&d, DIR).expect("again");
        assert_eq!(mode(&d), 0o700);

        let f = d.join("r.json");
        std::fs::write(&f, b"old").expect("write");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        write(&f, b"new", RECORD).expect("write");
        assert_eq!(mode(&f), 0o600);
        assert_eq!(std::fs::read(&f).expect("read"), b"new");
    }
}
