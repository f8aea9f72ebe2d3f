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
    f(C, "Healthcheck", Applied, "probes run by the shim, also while pierd is down"),
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
    f(H, "CpuShares", Applied, "cpu.shares; negative refused"),
    f(H, "Memory", Applied, "memory limit; below 6MB refused"),
    f(
        H,
        "CgroupParent",
        Applied,
        "cgroupfs parent (default: daemon.json cgroup-parent, else /pier)",
    ),
    f(
        H,
        "BlkioWeight",
        Applied,
        "discarded with docker's warning where the kernel has no weight file",
    ),
    f(
        H,
        "BlkioWeightDevice",
        Applied,
        "discarded with docker's warning where the kernel has no weight_device file",
    ),
    f(H, "BlkioDeviceReadBps", Applied, "blkio throttle"),
    f(H, "BlkioDeviceWriteBps", Applied, "blkio throttle"),
    f(H, "BlkioDeviceReadIOps", Applied, "blkio throttle"),
    f(H, "BlkioDeviceWriteIOps", Applied, "blkio throttle"),
    f(H, "CpuPeriod", Applied, "CFS period; range 1ms..1s"),
    f(H, "CpuQuota", Applied, "CFS quota; at least 1ms"),
    f(H, "CpuRealtimePeriod", Applied, "cpu.rt_period_us (cgroup v1)"),
    f(H, "CpuRealtimeRuntime", Applied, "cpu.rt_runtime_us (cgroup v1)"),
    f(H, "CpusetCpus", Applied, "unavailable CPUs refused"),
    f(H, "CpusetMems", Applied, "unavailable nodes refused"),
    f(H, "Devices", Applied, "device nodes from the host, with their cgroup permissions; a missing device refused at create"),
    f(H, "DeviceCgroupRules", Applied, "device cgroup allow rules; bad rules refused"),
    f(H, "DeviceRequests", Refused, "no device drivers (docker's message)"),
    f(H, "KernelMemory", Warned, "discarded, as docker since API 1.42"),
    f(H, "KernelMemoryTCP", Warned, "discarded"),
    f(H, "MemoryReservation", Applied, "memory soft limit"),
    f(
        H,
        "MemorySwap",
        Applied,
        "memory+swap limit (default twice the memory, -1 unlimited); below memory refused",
    ),
    f(H, "MemorySwappiness", Applied, "range 0-100"),
    f(H, "NanoCpus", Applied, "CFS quota over a 100ms period"),
    f(H, "OomKillDisable", Applied, "memory.oom_control"),
    f(H, "Init", Applied, "tini (docker-init) bound read-only at /sbin/docker-init; daemon `init`/`init-path`"),
    f(H, "PidsLimit", Applied, "pids.max; <= 0 unlimited"),
    f(
        H,
        "Ulimits",
        Applied,
        "rlimits; unknown names and values above the daemon's hard limit refused",
    ),
    f(H, "CpuCount", Warned, "Windows only"),
    f(H, "CpuPercent", Warned, "Windows only; docker's warning"),
    f(H, "IOMaximumIOps", Refused, "Windows only (docker's message)"),
    f(H, "IOMaximumBandwidth", Refused, "Windows only (docker's message)"),
    f(H, "Binds", Applied, "bind mounts and named volumes"),
    f(H, "ContainerIDFile", Applied, "written by the client; recorded"),
    f(H, "LogConfig", Applied, "json-file, cri, none; others refused; default rotation 20m x 5 (not shown in inspect) unless `max-size=-1`"),
    f(H, "NetworkMode", Applied, "none, host, bridge (the default when networking is available), user networks, container:<name|id>"),
    f(H, "PortBindings", Applied, "netavark port forwarding; host ports from the ephemeral range when not given"),
    f(
        H,
        "RestartPolicy",
        Applied,
        "no, always, unless-stopped, on-failure[:N] (create and update); invalid refused",
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
    f(H, "Cgroup", Warned, "joining another container's cgroup is not supported yet"),
    f(H, "Links", Warned, NETWORKING),
    f(H, "OomScoreAdj", Applied, "range [-1000, 1000]"),
    f(H, "PidMode", Applied, "private, host, container:<id> (a running container); invalid refused"),
    f(H, "Privileged", Applied, "all capabilities and devices"),
    f(H, "PublishAllPorts", Applied, "every exposed port on a random host port"),
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
    f(H, "UTSMode", Applied, "private, host or container:<id> (podman's; used by CRI pods; no hostname unless private); invalid refused"),
    f(
        H,
        "UsernsMode",
        Partly,
        "host (no user namespace): applied; others warned",
    ),
    f(H, "ShmSize", Applied, "/dev/shm size; negative refused"),
    f(
        H,
        "Sysctls",
        Applied,
        "namespaced sysctls only (runc's rules, refused at create)",
    ),
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
