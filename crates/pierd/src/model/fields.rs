//! Every field of the create request in one of docker's three honest
//! classes: applied, refused (with docker's message, at create), or
//! accepted-but-not-applied (a create warning, and a row in the README's
//! compatibility table). The table is checked against the Engine API
//! schema by a test, so a new field cannot slip through unclassified.

/// Which object of the create request a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Config,
    HostConfig,
}

impl Section {
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Config => "Config",
            Section::HostConfig => "HostConfig",
        }
    }
}

/// What Pier does with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Reaches the OCI spec, the shim or the daemon's behaviour; invalid
    /// values are refused at create with docker's message.
    Applied,
    /// Some values are applied, the others are warned about (see `note`).
    Partly,
    /// Any non-default value is refused at create with docker's message.
    Refused,
    /// Recorded and shown by inspect, not applied yet: a non-default value
    /// produces a create warning.
    Warned,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Applied => "applied",
            Class::Partly => "partly",
            Class::Refused => "refused",
            Class::Warned => "warned",
        }
    }
}

/// One request field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub section: Section,
    /// The wire name.
    pub name: &'static str,
    pub class: Class,
    /// What happens, in a few words (the README table shows it).
    pub note: &'static str,
}

const fn f(section: Section, name: &'static str, class: Class, note: &'static str) -> Field {
    Field {
        section,
        name,
        class,
        note,
    }
}

use Class::{Applied, Partly, Refused, Warned};
use Section::{Config as C, HostConfig as H};

const CGROUPS: &str = "cgroup limits are not set yet";
const NETWORKING: &str = "container networking is not implemented yet";

/// The classification, in the schema's order.
pub const FIELDS: &[Field] = &[
    f(C, "Hostname", Applied, "default: the short id"),
    f(C, "Domainname", Applied, "OCI domainname"),
    f(C, "User", Applied, "resolved in the image's /etc/passwd at start"),
    f(C, "AttachStdin", Applied, "recorded for clients"),
    f(C, "AttachStdout", Applied, "recorded for clients"),
    f(C, "AttachStderr", Applied, "recorded for clients"),
    f(
        C,
        "ExposedPorts",
        Applied,
        "metadata, merged with the image's, as docker",
    ),
    f(C, "Tty", Applied, "pty owned by the shim"),
    f(C, "OpenStdin", Applied, "stdin pipe kept open by the shim"),
    f(C, "StdinOnce", Applied, "stdin closed when the first client detaches"),
    f(C, "Env", Applied, "merged over the image's; an empty name is refused"),
    f(C, "Cmd", Applied, "merged with the image's"),
    f(C, "Healthcheck", Warned, "healthchecks are not run yet"),
    f(C, "ArgsEscaped", Applied, "Windows only; no effect on Linux, as docker"),
    f(C, "Image", Applied, "resolved to an image id at create"),
    f(C, "Volumes", Applied, "anonymous volumes, with the image's"),
    f(C, "WorkingDir", Applied, "must be absolute"),
    f(C, "Entrypoint", Applied, "merged with the image's"),
    f(C, "NetworkDisabled", Applied, "every Pier container has loopback only"),
    f(C, "MacAddress", Warned, NETWORKING),
    f(C, "OnBuild", Applied, "metadata, as docker"),
    f(
        C,
        "Labels",
        Applied,
        "merged over the image's; never passed to the runtime",
    ),
    f(C, "StopSignal", Applied, "validated at create; used by stop"),
    f(C, "StopTimeout", Applied, "used by stop"),
    f(C, "Shell", Applied, "metadata, as docker"),
    f(H, "CpuShares", Warned, CGROUPS),
    f(H, "Memory", Warned, CGROUPS),
    f(H, "CgroupParent", Warned, CGROUPS),
    f(H, "BlkioWeight", Warned, CGROUPS),
    f(H, "BlkioWeightDevice", Warned, CGROUPS),
    f(H, "BlkioDeviceReadBps", Warned, CGROUPS),
    f(H, "BlkioDeviceWriteBps", Warned, CGROUPS),
    f(H, "BlkioDeviceReadIOps", Warned, CGROUPS),
    f(H, "BlkioDeviceWriteIOps", Warned, CGROUPS),
    f(H, "CpuPeriod", Warned, CGROUPS),
    f(H, "CpuQuota", Warned, CGROUPS),
    f(H, "CpuRealtimePeriod", Warned, CGROUPS),
    f(H, "CpuRealtimeRuntime", Warned, CGROUPS),
    f(H, "CpusetCpus", Warned, CGROUPS),
    f(H, "CpusetMems", Warned, CGROUPS),
    f(H, "Devices", Applied, "device nodes from the host, with their cgroup permissions; a missing device refused at create"),
    f(H, "DeviceCgroupRules", Applied, "device cgroup allow rules; bad rules refused"),
    f(H, "DeviceRequests", Refused, "no device drivers (docker's message)"),
    f(H, "KernelMemory", Warned, "discarded, as docker since API 1.42"),
    f(H, "KernelMemoryTCP", Warned, "discarded"),
    f(H, "MemoryReservation", Warned, CGROUPS),
    f(H, "MemorySwap", Warned, CGROUPS),
    f(H, "MemorySwappiness", Warned, CGROUPS),
    f(H, "NanoCpus", Warned, CGROUPS),
    f(H, "OomKillDisable", Warned, CGROUPS),
    f(H, "Init", Applied, "tini (docker-init) bound read-only at /sbin/docker-init; daemon `init`/`init-path`"),
    f(H, "PidsLimit", Warned, CGROUPS),
    f(
        H,
        "Ulimits",
        Warned,
        "rlimits other than docker's defaults are not set yet",
    ),
    f(H, "CpuCount", Warned, "Windows only"),
    f(H, "CpuPercent", Warned, "Windows only; docker's warning"),
    f(H, "IOMaximumIOps", Refused, "Windows only (docker's message)"),
    f(H, "IOMaximumBandwidth", Refused, "Windows only (docker's message)"),
    f(H, "Binds", Applied, "bind mounts and named volumes"),
    f(H, "ContainerIDFile", Applied, "written by the client; recorded"),
    f(H, "LogConfig", Applied, "json-file, cri, none; others refused"),
    f(H, "NetworkMode", Partly, "none/default: loopback only; others warned"),
    f(H, "PortBindings", Warned, NETWORKING),
    f(
        H,
        "RestartPolicy",
        Partly,
        "no: applied; others warned (not restarted yet); invalid refused",
    ),
    f(H, "AutoRemove", Applied, "removed when it exits"),
    f(H, "VolumeDriver", Partly, "local only; others refused"),
    f(H, "VolumesFrom", Applied, "mounts of another container"),
    f(H, "Mounts", Applied, "bind, volume, tmpfs"),
    f(H, "ConsoleSize", Applied, "initial pty size"),
    f(H, "Annotations", Applied, "the OCI annotations (their only source)"),
    f(H, "CapAdd", Applied, "unknown names refused"),
    f(H, "CapDrop", Applied, "unknown names refused"),
    f(
        H,
        "CgroupnsMode",
        Applied,
        "host or private (default: private on cgroup v2 hosts, host otherwise); invalid refused",
    ),
    f(H, "Dns", Applied, "/etc/resolv.conf nameservers"),
    f(H, "DnsOptions", Applied, "/etc/resolv.conf options"),
    f(H, "DnsSearch", Applied, "/etc/resolv.conf search"),
    f(H, "ExtraHosts", Applied, "/etc/hosts entries; bad entries refused"),
    f(H, "GroupAdd", Applied, "names resolved in the container's /etc/group at start, numbers as they are"),
    f(H, "IpcMode", Applied, "private, shareable, none, host, container:<id> (a running shareable container); invalid refused"),
    f(H, "Cgroup", Warned, CGROUPS),
    f(H, "Links", Warned, NETWORKING),
    f(H, "OomScoreAdj", Applied, "range [-1000, 1000]"),
    f(H, "PidMode", Applied, "private, host, container:<id> (a running container); invalid refused"),
    f(H, "Privileged", Applied, "all capabilities and devices"),
    f(H, "PublishAllPorts", Warned, NETWORKING),
    f(H, "ReadonlyRootfs", Applied, "read-only root mount"),
    f(
        H,
        "SecurityOpt",
        Applied,
        "seccomp (docker's default profile, unconfined, custom), no-new-privileges, writable-cgroups; label ignored (no SELinux); apparmor refused without AppArmor; others refused",
    ),
    f(
        H,
        "StorageOpt",
        Refused,
        "overlay over a filesystem without quota (docker's message)",
    ),
    f(H, "Tmpfs", Applied, "tmpfs mounts; relative paths refused"),
    f(H, "UTSMode", Applied, "private or host (no hostname with host); invalid refused"),
    f(
        H,
        "UsernsMode",
        Partly,
        "host (no user namespace): applied; others warned",
    ),
    f(H, "ShmSize", Applied, "/dev/shm size; negative refused"),
    f(H, "Sysctls", Warned, "sysctls are not set yet"),
    f(H, "Runtime", Applied, "the daemon's runtimes (daemon.json `runtimes`, the default); other names refused"),
    f(H, "Isolation", Refused, "only default on Linux (docker's message)"),
    f(H, "MaskedPaths", Applied, "replaces docker's masked paths"),
    f(H, "ReadonlyPaths", Applied, "replaces docker's read-only paths"),
];

/// The entry for `section.name`.
pub fn lookup(section: Section, name: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.section == section && f.name == name)
}

/// The create warning for a field set to a value Pier records but does
/// not apply.
pub fn warning(field: &Field) -> String {
    format!(
        "{}.{} is recorded but not applied by Pier: {}",
        field.section.as_str(),
        field.name,
        field.note
    )
}
