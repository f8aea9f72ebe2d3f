//! The host side of `--device` and `--privileged`: which device nodes exist
//! on the host (containerd's `DeviceFromPath` and `HostDevices`), turned
//! into the OCI spec's shapes by the pure `spec` helpers. Blocking.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup};

use crate::model::DeviceMapping;
use crate::spec::{self, HostNode};

/// The node at `path` (not following a last symlink), if it is a block or
/// character device.
fn node_at(path: &Path) -> std::io::Result<Option<HostNode>> {
    let m = std::fs::symlink_metadata(path)?;
    let ft = m.file_type();
    let kind = if ft.is_block_device() {
        'b'
    } else if ft.is_char_device() {
        'c'
    } else {
        return Ok(None);
    };
    let rdev = m.rdev();
    Ok(Some(HostNode {
        kind,
        major: i64::from(nix::sys::stat::major(rdev) as u32),
        minor: i64::from(nix::sys::stat::minor(rdev) as u32),
        mode: m.mode() & 0o777,
        uid: m.uid(),
        gid: m.gid(),
    }))
}

/// Every device under `dir` (recursively), as `(path relative to dir, node)`,
/// skipping what containerd's `getDevices` skips.
fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, HostNode)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(ft) = e.file_type() else { continue };
        let child_rel = format!("{rel}/{name}");
        if ft.is_dir() {
            if matches!(
                name.as_str(),
                "pts" | "shm" | "fd" | "mqueue" | ".lxc" | ".lxd-mounts" | ".udev"
            ) {
                continue;
            }
            walk(&e.path(), &child_rel, out);
        } else if name != "console" {
            if let Ok(Some(node)) = node_at(&e.path()) {
                out.push((child_rel, node));
            }
        }
    }
}

/// The devices of `--device HOST:CONTAINER:PERMS` (dockerd's
/// `DevicesFromPath`): the node itself (a symlink followed once), or every
/// node in a directory. The error is dockerd's message.
pub(crate) fn from_mapping(d: &DeviceMapping) -> Result<Vec<(String, HostNode)>, String> {
    let host = Path::new(&d.path_on_host);
    let resolved = std::fs::canonicalize(host).unwrap_or_else(|_| host.to_path_buf());
    let fail = |why: String| {
        format!(
            "error gathering device information while adding custom device {:?}: {why}",
            d.path_on_host
        )
    };
    match node_at(&resolved) {
        Ok(Some(node)) => Ok(vec![(d.path_in_container.clone(), node)]),
        Ok(None) => {
            let mut found = Vec::new();
            if resolved.is_dir() {
                walk(&resolved, "", &mut found);
            }
            if found.is_empty() {
                return Err(fail("not a device node".to_string()));
            }
            let base = d.path_in_container.trim_end_matches('/');
            Ok(found.into_iter().map(|(rel, n)| (format!("{base}{rel}"), n)).collect())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(fail("no such file or directory".to_string())),
        Err(e) => Err(fail(e.to_string())),
    }
}

/// Device nodes and cgroup rules of a container: every host device when
/// privileged (plus mappings to other paths), else the mapped ones with
/// their permissions and the `--device-cgroup-rule`s (checked at create).
pub(crate) fn resolve(
    privileged: bool,
    mappings: &[DeviceMapping],
    rules: &[String],
) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>), String> {
    let mut devices = Vec::new();
    let mut allow = Vec::new();
    if privileged {
        let mut host = Vec::new();
        walk(Path::new("/dev"), "/dev", &mut host);
        devices.extend(host.iter().map(|(p, n)| spec::device_node(p, n)));
    }
    for m in mappings {
        if privileged && m.path_on_host == m.path_in_container {
            continue;
        }
        for (path, node) in from_mapping(m)? {
            devices.push(spec::device_node(&path, &node));
            if !privileged {
                allow.push(spec::node_rule(&node, &m.cgroup_permissions));
            }
        }
    }
    if !privileged {
        for r in rules {
            let rule = crate::model::DeviceRule::parse(r)?;
            allow.push(spec::allow_rule(rule.kind, rule.major, rule.minor, &rule.access()));
        }
    }
    Ok((devices, allow))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(host: &str, container: &str) -> DeviceMapping {
        DeviceMapping {
            path_on_host: host.into(),
            path_in_container: container.into(),
            cgroup_permissions: "r".into(),
        }
    }

    #[test]
    fn dev_zero_maps_with_its_numbers() {
        let found = from_mapping(&mapping("/dev/zero", "/dev/myzero")).expect("zero");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "/dev/myzero");
        assert_eq!((found[0].1.kind, found[0].1.major, found[0].1.minor), ('c', 1, 5));
    }

    #[test]
    fn missing_or_not_a_device_is_dockers_error() {
        assert_eq!(
            from_mapping(&mapping("/dev/nope-pier", "/dev/x")).expect_err("missing"),
            "error gathering device information while adding custom device \"/dev/nope-pier\": no such file or directory"
        );
        assert!(from_mapping(&mapping("/etc/hostname", "/dev/x"))
            .expect_err("file")
            .ends_with("not a device node"));
    }

    #[test]
    fn privileged_gets_host_devices_and_allows_all() {
        let (devices, rules) = resolve(true, &[], &["c 1:3 r".to_string()]).expect("resolve");
        assert!(devices.iter().any(|d| d.path() == Path::new("/dev/null")));
        assert!(!devices.iter().any(|d| d.path().starts_with("/dev/pts")));
        assert!(rules.is_empty());
        let (_, rules) = resolve(false, &[], &["c 1:3 r".to_string()]).expect("resolve");
        assert_eq!(rules.len(), 1);
    }
}
