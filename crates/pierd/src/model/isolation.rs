//! Namespaces, devices, extra groups and the init process: the part of a
//! [`super::ContainerSpec`] that says what the container shares with the
//! host or with other containers. Built and checked at create with
//! dockerd's rules and messages (`verifyPlatformContainerSettings`,
//! `WithNamespaces`, `WithDevices`), rendered back for inspect with
//! dockerd's names and defaults.
//!
//! What needs the host (device nodes, another container's pid, the image's
//! /etc/group, the init binary) is resolved at each start by the daemon.

use pier_api::container::{DeviceMapping as WireDevice, HostConfig};
use serde::{Deserialize, Serialize};

use super::CreateError;

/// Namespaces, devices, groups and init.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IsolationSpec {
    pub pid: PidMode,
    pub ipc: IpcMode,
    pub uts: UtsMode,
    /// `--device`, in request order.
    pub devices: Vec<DeviceMapping>,
    /// `--device-cgroup-rule`, checked at create (see [`DeviceRule::parse`]).
    pub device_cgroup_rules: Vec<String>,
    /// `--group-add`: names resolved in the container's /etc/group at
    /// start, numbers as they are.
    pub group_add: Vec<String>,
    /// `--init` (`None`: not given; the daemon's default applies).
    pub init: Option<bool>,
}

/// docker's `PidMode`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", content = "container", rename_all = "kebab-case")]
pub enum PidMode {
    #[default]
    Private,
    Host,
    /// Another container's namespace, by full id (resolved at create).
    Container(String),
}

/// docker's `IpcMode` (dockerd's default is `private`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", content = "container", rename_all = "kebab-case")]
pub enum IpcMode {
    #[default]
    Private,
    /// A private namespace others may join (`container:<this>`).
    Shareable,
    /// A private namespace without /dev/shm.
    None,
    Host,
    /// Another container's namespace (it must be `shareable`), by full id.
    Container(String),
}

/// docker's `UTSMode`, plus podman's `container:<id>` (which docker
/// refuses): a pod's containers share its infra container's (CRI).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UtsMode {
    #[default]
    Private,
    Host,
    /// Another container's namespace, by full id (resolved at create).
    Container(String),
}

/// One `--device HOST[:CONTAINER[:PERMS]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    /// Some of `rwm`, in any order.
    pub cgroup_permissions: String,
}

/// A device cgroup rule (`c 1:3 rwm`, `a *:* r`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRule {
    /// `a`, `b` or `c`.
    pub kind: char,
    /// `None`: `*`.
    pub major: Option<i64>,
    pub minor: Option<i64>,
    /// `r`, `w`, `m` combined: bit 0 r, 1 w, 2 m (for the access string
    /// see [`DeviceRule::access`]).
    access: u8,
}

impl DeviceRule {
    /// dockerd's `AppendDevicePermissionsFromCgroupRules`:
    /// `^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$`.
    pub fn parse(rule: &str) -> Result<DeviceRule, String> {
        let bad = || format!("invalid device cgroup rule format: '{rule}'");
        let mut parts = rule.split(' ');
        let (Some(kind), Some(numbers), Some(access), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let kind = match kind {
            "a" => 'a',
            "b" => 'b',
            "c" => 'c',
            _ => return Err(bad()),
        };
        let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
        let number = |s: &str, which: &str| -> Result<Option<i64>, String> {
            if s == "*" {
                return Ok(None);
            }
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse()
                .map(Some)
                .map_err(|_| format!("invalid {which} value in device cgroup rule format: '{rule}'"))
        };
        let major = number(major, "major")?;
        let minor = number(minor, "minor")?;
        if access.is_empty() || access.len() > 3 {
            return Err(bad());
        }
        let mut bits = 0u8;
        for c in access.chars() {
            bits |= match c {
                'r' => 1,
                'w' => 2,
                'm' => 4,
                _ => return Err(bad()),
            };
        }
        Ok(DeviceRule {
            kind,
            major,
            minor,
            access: bits,
        })
    }

    /// The access string in `rwm` order.
    pub fn access(&self) -> String {
        [(1, 'r'), (2, 'w'), (4, 'm')]
            .iter()
            .filter(|(b, _)| self.access & b != 0)
            .map(|(_, c)| *c)
            .collect()
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> CreateError {
    CreateError::Invalid {
        field,
        message: message.into(),
    }
}

/// docker CLI's `validDeviceMode`: one to three of `r`, `w`, `m`, none twice.
pub fn valid_device_mode(mode: &str) -> bool {
    if mode.is_empty() || mode.len() > 3 {
        return false;
    }
    let mut seen = [false; 3];
    mode.chars().all(|c| {
        let i = match c {
            'r' => 0,
            'w' => 1,
            'm' => 2,
            _ => return false,
        };
        !std::mem::replace(&mut seen[i], true)
    })
}

/// The `container:<name>` part of a namespace mode, if it is one.
fn container_of(mode: &str) -> Option<&str> {
    mode.strip_prefix("container:")
}

/// The isolation part of a create request, checked with dockerd's messages.
/// `container:<name>` modes keep the name as given: the daemon resolves it
/// to an id (docker's `adaptSharedNamespaceContainer`).
pub fn build(hc: &HostConfig) -> Result<IsolationSpec, CreateError> {
    let ipc = match hc.ipc_mode.as_str() {
        "" | "private" => IpcMode::Private,
        "shareable" => IpcMode::Shareable,
        "none" => IpcMode::None,
        "host" => IpcMode::Host,
        v => match container_of(v) {
            Some(c) if !c.is_empty() => IpcMode::Container(c.to_string()),
            _ => return Err(invalid("HostConfig.IpcMode", format!("invalid IPC mode: {v}"))),
        },
    };
    let pid = match hc.pid_mode.as_str() {
        "" => PidMode::Private,
        "host" => PidMode::Host,
        v => match container_of(v) {
            Some(c) if !c.is_empty() => PidMode::Container(c.to_string()),
            _ => return Err(invalid("HostConfig.PidMode", format!("invalid PID mode: {v}"))),
        },
    };
    let uts = match hc.uts_mode.as_str() {
        "" => UtsMode::Private,
        "host" => UtsMode::Host,
        v => match container_of(v) {
            Some(c) if !c.is_empty() => UtsMode::Container(c.to_string()),
            _ => return Err(invalid("HostConfig.UTSMode", format!("invalid UTS mode: {v}"))),
        },
    };
    let mut devices = Vec::new();
    for d in hc.devices.iter().flatten() {
        devices.push(device(d)?);
    }
    let rules: Vec<String> = hc.device_cgroup_rules.clone().unwrap_or_default();
    for r in &rules {
        DeviceRule::parse(r).map_err(|m| invalid("HostConfig.DeviceCgroupRules", m))?;
    }
    let group_add: Vec<String> = hc.group_add.clone().unwrap_or_default();
    for g in &group_add {
        if g.is_empty() {
            return Err(invalid(
                "HostConfig.GroupAdd",
                "unable to find group : no matching entries in group file",
            ));
        }
        if g.bytes().all(|b| b.is_ascii_digit()) && g.parse::<u32>().map_or(true, |n| n > i32::MAX as u32) {
            return Err(invalid(
                "HostConfig.GroupAdd",
                "uids and gids must be in range 0-2147483647",
            ));
        }
    }
    Ok(IsolationSpec {
        pid,
        ipc,
        uts,
        devices,
        device_cgroup_rules: rules,
        group_add,
        init: hc.init,
    })
}

/// A device mapping as the API sends it (the CLI fills every part): paths
/// absolute, permissions some of `rwm`; an empty container path means the
/// host's, empty permissions `rwm` (dockerd's defaults).
fn device(d: &WireDevice) -> Result<DeviceMapping, CreateError> {
    let field = "HostConfig.Devices";
    let host = d.path_on_host.as_str();
    if !host.starts_with('/') {
        return Err(invalid(
            field,
            format!("error gathering device information while adding custom device {host:?}: not an absolute path"),
        ));
    }
    let container = if d.path_in_container.is_empty() {
        host
    } else {
        d.path_in_container.as_str()
    };
    if !container.starts_with('/') {
        return Err(invalid(field, format!("{container} is not an absolute path")));
    }
    let perms = if d.cgroup_permissions.is_empty() {
        "rwm"
    } else {
        d.cgroup_permissions.as_str()
    };
    if !valid_device_mode(perms) {
        return Err(invalid(field, format!("invalid device mode: {perms}")));
    }
    Ok(DeviceMapping {
        path_on_host: host.to_string(),
        path_in_container: container.to_string(),
        cgroup_permissions: perms.to_string(),
    })
}

/// dockerd's `validateNetMode`: a hostname cannot be set in the host's
/// UTS namespace.
pub fn check_hostname(hostname: &str, spec: &IsolationSpec) -> Result<(), CreateError> {
    if spec.uts != UtsMode::Private && !hostname.is_empty() {
        return Err(invalid(
            "HostConfig.UTSMode",
            "conflicting options: hostname and the UTS mode",
        ));
    }
    Ok(())
}

/// inspect's wire values.
pub fn pid_wire(m: &PidMode) -> String {
    match m {
        PidMode::Private => String::new(),
        PidMode::Host => "host".into(),
        PidMode::Container(id) => format!("container:{id}"),
    }
}

pub fn ipc_wire(m: &IpcMode) -> String {
    match m {
        IpcMode::Private => "private".into(),
        IpcMode::Shareable => "shareable".into(),
        IpcMode::None => "none".into(),
        IpcMode::Host => "host".into(),
        IpcMode::Container(id) => format!("container:{id}"),
    }
}

pub fn uts_wire(m: &UtsMode) -> String {
    match m {
        UtsMode::Private => String::new(),
        UtsMode::Host => "host".into(),
        UtsMode::Container(id) => format!("container:{id}"),
    }
}

/// Fill inspect's `HostConfig` fields of this part.
pub fn render(spec: &IsolationSpec, hc: &mut HostConfig) {
    hc.pid_mode = pid_wire(&spec.pid);
    hc.ipc_mode = ipc_wire(&spec.ipc);
    hc.uts_mode = uts_wire(&spec.uts);
    hc.devices = Some(
        spec.devices
            .iter()
            .map(|d| WireDevice {
                path_on_host: d.path_on_host.clone(),
                path_in_container: d.path_in_container.clone(),
                cgroup_permissions: d.cgroup_permissions.clone(),
            })
            .collect(),
    );
    hc.device_cgroup_rules = (!spec.device_cgroup_rules.is_empty()).then(|| spec.device_cgroup_rules.clone());
    hc.group_add = (!spec.group_add.is_empty()).then(|| spec.group_add.clone());
    hc.init = spec.init;
}

/// Fields rendered by [`render`] (the rest of `HostConfig` is echoed).
pub const TYPED: &[&str] = &[
    "PidMode",
    "IpcMode",
    "UTSMode",
    "Devices",
    "DeviceCgroupRules",
    "GroupAdd",
    "Init",
];
