//! The container's mount list: docker's defaults, the /etc files pierd
//! writes, and caller-given bind and tmpfs mounts, combined the way
//! docker's `WithMounts` does it.

use std::path::PathBuf;

use oci_spec::runtime::Mount;

use super::SpecError;

/// Mount propagation of a bind mount (`-v …:shared`, `bind-propagation=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    Private,
    /// Docker's default for every bind mount.
    #[default]
    RPrivate,
    Shared,
    RShared,
    Slave,
    RSlave,
}

impl Propagation {
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Private => "private",
            Propagation::RPrivate => "rprivate",
            Propagation::Shared => "shared",
            Propagation::RShared => "rshared",
            Propagation::Slave => "slave",
            Propagation::RSlave => "rslave",
        }
    }
}

/// A bind mount of a host path (a `-v`, a volume's directory, an /etc file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub destination: String,
    pub readonly: bool,
    pub propagation: Propagation,
    /// `bind` instead of docker's default `rbind`.
    pub non_recursive: bool,
}

/// A `--tmpfs`/`--mount type=tmpfs` mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsMount {
    /// Absolute path inside the container.
    pub destination: String,
    /// Extra options as given by the user (`size=64m`, `mode=1777`, `exec`).
    pub options: Vec<String>,
}

/// A mount the caller adds to docker's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtraMount {
    Bind(BindMount),
    Tmpfs(TmpfsMount),
}

impl ExtraMount {
    pub fn destination(&self) -> &str {
        match self {
            ExtraMount::Bind(b) => &b.destination,
            ExtraMount::Tmpfs(t) => &t.destination,
        }
    }
}

/// Docker's default size of /dev/shm: 64 MiB.
pub const DEFAULT_SHM_SIZE: u64 = 64 * 1024 * 1024;

fn mount(destination: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_destination(PathBuf::from(destination));
    m.set_typ(Some(typ.to_string()));
    m.set_source(Some(PathBuf::from(source)));
    m.set_options(Some(options.iter().map(|o| o.to_string()).collect()));
    m
}

/// Docker's `DefaultLinuxSpec` mounts, in its order.
pub fn default_mounts() -> Vec<Mount> {
    vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        ),
        mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"]),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["ro", "nosuid", "noexec", "nodev"],
        ),
        mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"]),
        mount("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777"]),
    ]
}

/// Mount flags docker's tmpfs merge knows, grouped so that a flag and its
/// opposite share a key (the later one wins).
fn flag_key(option: &str) -> Option<&'static str> {
    Some(match option {
        "ro" | "rw" => "rdonly",
        "suid" | "nosuid" => "nosuid",
        "dev" | "nodev" => "nodev",
        "exec" | "noexec" => "noexec",
        "sync" | "async" => "sync",
        "dirsync" => "dirsync",
        "remount" => "remount",
        "mand" | "nomand" => "mand",
        "atime" | "noatime" => "noatime",
        "diratime" | "nodiratime" => "nodiratime",
        "bind" | "rbind" => "bind",
        "relatime" | "norelatime" => "relatime",
        "strictatime" | "nostrictatime" => "strictatime",
        "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable" | "runbindable" => {
            "propagation"
        }
        _ => return None,
    })
}

/// tmpfs data options docker accepts.
const TMPFS_DATA: &[&str] = &["size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"];

/// Docker's `MergeTmpfsOptions` over `noexec,nosuid,nodev,rprivate` + the
/// user's: the last of each flag group and data key wins, order kept.
fn tmpfs_options(t: &TmpfsMount) -> Result<Vec<String>, SpecError> {
    let mut all: Vec<&str> = vec!["noexec", "nosuid", "nodev", "rprivate"];
    all.extend(t.options.iter().map(String::as_str));
    let mut seen: Vec<String> = Vec::new();
    let mut merged: Vec<String> = Vec::new();
    for option in all.iter().rev() {
        if *option == "defaults" {
            continue;
        }
        let key = match flag_key(option) {
            Some(k) => k.to_string(),
            None => match option.split_once('=') {
                Some((k, _)) if TMPFS_DATA.contains(&k) => format!("data:{k}"),
                _ => {
                    return Err(SpecError::InvalidTmpfsOption {
                        destination: t.destination.clone(),
                        option: option.to_string(),
                    })
                }
            },
        };
        if !seen.contains(&key) {
            seen.push(key);
            merged.push(option.to_string());
        }
    }
    merged.reverse();
    Ok(merged)
}

fn to_oci(extra: &ExtraMount) -> Result<Mount, SpecError> {
    match extra {
        ExtraMount::Tmpfs(t) => {
            let options = tmpfs_options(t)?;
            let opts: Vec<&str> = options.iter().map(String::as_str).collect();
            Ok(mount(&t.destination, "tmpfs", "tmpfs", &opts))
        }
        ExtraMount::Bind(b) => {
            let mut m = Mount::default();
            m.set_destination(PathBuf::from(&b.destination));
            m.set_typ(Some("bind".to_string()));
            m.set_source(Some(b.source.clone()));
            let mut opts = vec![if b.non_recursive { "bind" } else { "rbind" }.to_string()];
            if b.readonly {
                opts.push("ro".to_string());
            }
            opts.push(b.propagation.as_str().to_string());
            m.set_options(Some(opts));
            Ok(m)
        }
    }
}

/// Docker's sort key: the number of path components of the destination.
fn depth(destination: &str) -> usize {
    destination.split('/').filter(|p| !p.is_empty()).count()
}

fn clear_readonly(m: &mut Mount) {
    if let Some(opts) = m.options_mut() {
        opts.retain(|o| o != "ro");
    }
}

/// What [`assemble`] needs to know about the container.
pub struct MountPlan<'a> {
    pub user_mounts: &'a [ExtraMount],
    pub shm_size: u64,
    pub readonly_rootfs: bool,
    pub privileged: bool,
    /// /sys/fs/cgroup read-write (docker: privileged, or `writable-cgroups`).
    pub writable_cgroups: bool,
}

/// The full list plus the rootfs propagation the bind mounts require
/// (docker turns the root shared/rslave for shared/slave binds).
pub struct Assembled {
    pub mounts: Vec<Mount>,
    pub rootfs_propagation: Option<&'static str>,
}

/// Docker's `WithMounts`: defaults not overridden by a user mount (and none
/// under /dev when /dev itself is user-mounted), /dev/shm sized, then the
/// user mounts sorted by depth; on a read-only root every default but
/// /proc and /dev* becomes `ro`; privileged clears `ro` on /sys, and
/// `writable_cgroups` on the cgroup mount.
pub fn assemble(plan: &MountPlan<'_>) -> Result<Assembled, SpecError> {
    for m in plan.user_mounts {
        if !m.destination().starts_with('/') {
            return Err(SpecError::RelativeMountDestination {
                destination: m.destination().to_string(),
            });
        }
    }
    let user_dest = |d: &str| plan.user_mounts.iter().any(|m| m.destination() == d);
    let dev_mounted = user_dest("/dev");

    let mut mounts = Vec::new();
    for mut m in default_mounts() {
        let dest = m.destination().to_string_lossy().into_owned();
        if user_dest(&dest) || (dev_mounted && dest.starts_with("/dev/")) {
            continue;
        }
        if dest == "/dev/shm" {
            if let Some(opts) = m.options_mut() {
                opts.push(format!("size={}", plan.shm_size));
            }
        }
        if plan.readonly_rootfs
            && !matches!(
                dest.as_str(),
                "/proc" | "/dev/pts" | "/dev/shm" | "/dev/mqueue" | "/dev"
            )
        {
            if let Some(opts) = m.options_mut() {
                if !opts.iter().any(|o| o == "ro") {
                    opts.push("ro".to_string());
                }
            }
        }
        if (plan.privileged && dest == "/sys") || (plan.writable_cgroups && m.typ().as_deref() == Some("cgroup")) {
            clear_readonly(&mut m);
        }
        mounts.push(m);
    }

    let mut user: Vec<&ExtraMount> = plan.user_mounts.iter().collect();
    user.sort_by_key(|m| depth(m.destination()));
    let mut rootfs_propagation = None;
    for m in user {
        if let ExtraMount::Bind(b) = m {
            match b.propagation {
                Propagation::Shared | Propagation::RShared => rootfs_propagation = Some("shared"),
                Propagation::Slave | Propagation::RSlave if rootfs_propagation.is_none() => {
                    rootfs_propagation = Some("rslave")
                }
                _ => {}
            }
        }
        mounts.push(to_oci(m)?);
    }
    Ok(Assembled {
        mounts,
        rootfs_propagation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dests(mounts: &[Mount]) -> Vec<String> {
        mounts
            .iter()
            .map(|m| m.destination().to_string_lossy().into_owned())
            .collect()
    }

    fn opts(mounts: &[Mount], dest: &str) -> Vec<String> {
        mounts
            .iter()
            .find(|m| m.destination().to_string_lossy() == dest)
            .and_then(|m| m.options().clone())
            .unwrap_or_default()
    }

    fn bind(dest: &str, propagation: Propagation) -> ExtraMount {
        ExtraMount::Bind(BindMount {
            source: PathBuf::from("/srv").join(dest.trim_start_matches('/')),
            destination: dest.to_string(),
            readonly: false,
            propagation,
            non_recursive: false,
        })
    }

    fn plan(user_mounts: &[ExtraMount]) -> MountPlan<'_> {
        MountPlan {
            user_mounts,
            shm_size: DEFAULT_SHM_SIZE,
            readonly_rootfs: false,
            privileged: false,
            writable_cgroups: false,
        }
    }

    #[test]
    fn user_mounts_override_defaults_and_sort_by_depth() {
        let user = [
            bind("/a/b/c", Propagation::RPrivate),
            bind("/dev/shm", Propagation::RPrivate),
            bind("/x", Propagation::RPrivate),
        ];
        let out = assemble(&plan(&user)).map(|a| dests(&a.mounts)).unwrap_or_default();
        assert_eq!(
            out,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/x",
                "/dev/shm",
                "/a/b/c"
            ]
        );
    }

    #[test]
    fn dev_mount_drops_everything_under_dev() {
        let user = [bind("/dev", Propagation::RPrivate)];
        let out = assemble(&plan(&user)).map(|a| dests(&a.mounts)).unwrap_or_default();
        assert_eq!(out, ["/proc", "/sys", "/sys/fs/cgroup", "/dev"]);
    }

    #[test]
    fn propagation_reaches_options_and_rootfs() {
        let user = [bind("/s", Propagation::RSlave)];
        let a = assemble(&plan(&user)).ok();
        assert_eq!(a.as_ref().and_then(|a| a.rootfs_propagation), Some("rslave"));
        assert_eq!(
            opts(&a.map(|a| a.mounts).unwrap_or_default(), "/s"),
            ["rbind", "rslave"]
        );
        let user = [bind("/s", Propagation::RSlave), bind("/t", Propagation::Shared)];
        let a = assemble(&plan(&user)).ok();
        assert_eq!(a.and_then(|a| a.rootfs_propagation), Some("shared"));
    }

    #[test]
    fn tmpfs_options_merge_like_docker() {
        let t = TmpfsMount {
            destination: "/run".into(),
            options: vec!["exec".into(), "size=10m".into(), "mode=1777".into(), "size=20m".into()],
        };
        assert_eq!(
            tmpfs_options(&t),
            Ok(vec![
                "nosuid".to_string(),
                "nodev".into(),
                "rprivate".into(),
                "exec".into(),
                "mode=1777".into(),
                "size=20m".into()
            ])
        );
        let bad = TmpfsMount {
            destination: "/run".into(),
            options: vec!["bogus=1".into()],
        };
        assert!(tmpfs_options(&bad).is_err());
    }

    #[test]
    fn relative_destination_is_refused() {
        let user = [bind("rel", Propagation::RPrivate)];
        assert!(matches!(
            assemble(&plan(&user)),
            Err(SpecError::RelativeMountDestination { .. })
        ));
    }

    #[test]
    fn readonly_rootfs_and_privileged() {
        let mut p = plan(&[]);
        p.readonly_rootfs = true;
        let m = assemble(&p).map(|a| a.mounts).unwrap_or_default();
        assert_eq!(opts(&m, "/sys/fs/cgroup"), ["ro", "nosuid", "noexec", "nodev"]);
        assert!(!opts(&m, "/dev/mqueue").contains(&"ro".to_string()));
        p.readonly_rootfs = false;
        p.privileged = true;
        p.writable_cgroups = true;
        let m = assemble(&p).map(|a| a.mounts).unwrap_or_default();
        assert_eq!(opts(&m, "/sys"), ["nosuid", "noexec", "nodev"]);
        assert_eq!(opts(&m, "/sys/fs/cgroup"), ["nosuid", "noexec", "nodev"]);
        // `writable-cgroups=false` keeps the cgroup mount read-only.
        p.writable_cgroups = false;
        let m = assemble(&p).map(|a| a.mounts).unwrap_or_default();
        assert_eq!(opts(&m, "/sys"), ["nosuid", "noexec", "nodev"]);
        assert_eq!(opts(&m, "/sys/fs/cgroup"), ["ro", "nosuid", "noexec", "nodev"]);
        assert_eq!(opts(&m, "/dev/shm").last().map(String::as_str), Some("size=67108864"));
    }
}
