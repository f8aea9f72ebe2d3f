//! Device nodes and device cgroup rules in the OCI spec's shapes: the
//! pure half of `--device`, `--device-cgroup-rule` and `--privileged`
//! (the daemon stats the host's nodes and passes what it found).

use std::path::PathBuf;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};

/// A node found on the host (`stat` of a block or character device).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostNode {
    /// `b` or `c`.
    pub kind: char,
    pub major: i64,
    pub minor: i64,
    /// Permission bits (`st_mode & 0o777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

fn device_type(kind: char) -> Option<LinuxDeviceType> {
    match kind {
        'b' => Some(LinuxDeviceType::B),
        'c' => Some(LinuxDeviceType::C),
        'a' => Some(LinuxDeviceType::A),
        _ => None,
    }
}

/// The node to create at `path` in the container (containerd's
/// `DeviceFromPath` with the container path set).
pub fn device_node(path: &str, node: &HostNode) -> LinuxDevice {
    let mut d = LinuxDevice::default();
    d.set_path(PathBuf::from(path));
    d.set_typ(device_type(node.kind).unwrap_or(LinuxDeviceType::C));
    d.set_major(node.major);
    d.set_minor(node.minor);
    d.set_file_mode(Some(node.mode));
    d.set_uid(Some(node.uid));
    d.set_gid(Some(node.gid));
    d
}

/// An allow rule (`kind` `a`, `b` or `c`; `None` is `*`).
pub fn allow_rule(kind: char, major: Option<i64>, minor: Option<i64>, access: &str) -> LinuxDeviceCgroup {
    let mut rule = LinuxDeviceCgroup::default();
    rule.set_allow(true);
    rule.set_typ(device_type(kind));
    // dockerd writes `*` as -1; runc reads both the same.
    rule.set_major(Some(major.unwrap_or(-1)));
    rule.set_minor(Some(minor.unwrap_or(-1)));
    rule.set_access(Some(access.to_string()));
    rule
}

/// The rule that lets the container use `node` with `access` (dockerd's
/// `deviceCgroup`).
pub fn node_rule(node: &HostNode, access: &str) -> LinuxDeviceCgroup {
    allow_rule(node.kind, Some(node.major), Some(node.minor), access)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_and_rule() {
        let n = HostNode {
            kind: 'c',
            major: 1,
            minor: 5,
            mode: 0o666,
            uid: 0,
            gid: 0,
        };
        let d = device_node("/dev/myzero", &n);
        assert_eq!(d.path(), &PathBuf::from("/dev/myzero"));
        assert_eq!((d.major(), d.minor(), d.file_mode()), (1, 5, Some(0o666)));
        let r = serde_json::to_value(node_rule(&n, "r")).expect("json");
        assert_eq!(
            r,
            serde_json::json!({"allow": true, "type": "c", "major": 1, "minor": 5, "access": "r"})
        );
        let all = serde_json::to_value(allow_rule('a', None, None, "rwm")).expect("json");
        assert_eq!(all["major"], -1);
    }
}
