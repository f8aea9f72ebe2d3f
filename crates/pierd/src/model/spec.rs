//! `ContainerSpec`: what pierd knows about a container it was asked to run,
//! in its own types. Built once at create ([`super::build()`]), stored in
//! `container.json`, read by every operation; wire types appear only in
//! [`super::render`] and in [`Echo`], the verbatim copy of fields Pier
//! records but does not act on yet.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The container model. Field groups follow what the engine does with them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerSpec {
    pub process: ProcessSpec,
    pub hostname: String,
    pub domainname: String,
    pub labels: BTreeMap<String, String>,
    pub stop: StopPolicy,
    pub log: LogPolicy,
    pub storage: StorageSpec,
    pub security: SecuritySpec,
    pub etc: EtcSpec,
    /// Bytes of /dev/shm.
    pub shm_size: u64,
    pub auto_remove: bool,
    /// `--oom-score-adj`, in [-1000, 1000].
    pub oom_score_adj: i32,
    /// OCI annotations (`HostConfig.Annotations`).
    pub annotations: BTreeMap<String, String>,
    pub restart: RestartPolicy,
    pub network: NetworkMode,
    /// The container's cgroup namespace (records before issue 12: host).
    #[serde(default)]
    pub cgroupns: CgroupnsMode,
    /// The runtime name as inspect shows it (`runc`).
    pub runtime: String,
    /// Namespaces, devices, extra groups, init (records before issue 13:
    /// private namespaces, nothing added).
    #[serde(default)]
    pub isolation: super::isolation::IsolationSpec,
    /// cgroup limits, rlimits and sysctls (records before issue 13: none).
    #[serde(default)]
    pub resources: ResourcesSpec,
    /// Published ports (records before issue 15: none).
    #[serde(default)]
    pub ports: PortsSpec,
    /// The container's endpoint on its network (`NetworkingConfig`).
    #[serde(default)]
    pub endpoint: EndpointSpec,
    /// The networks the container is on, after a `network connect` or
    /// `disconnect`; `None` until then: its mode's network with `endpoint`
    /// (see [`ContainerSpec::networks`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected: Option<Vec<NetworkEndpoint>>,
    /// Legacy links on the default bridge (`HostConfig.Links`), children
    /// resolved to ids at create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LegacyLink>,
    /// The healthcheck, image's merged with the request's (records before
    /// issue 14: none).
    #[serde(default)]
    pub healthcheck: Option<super::health::HealthcheckSpec>,
    /// Metadata docker records with no effect of its own (ExposedPorts,
    /// OnBuild, Shell, ContainerIDFile, …), and fields accepted but not yet
    /// applied (each one announced by a create warning): echoed by inspect.
    pub echo: Echo,
}

/// The process to run and its stdio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// After merging with the image (docker's `Config.Entrypoint`/`Cmd`).
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// `argv[0]` and the rest (inspect's `Path` and `Args`).
    pub path: String,
    pub args: Vec<String>,
    /// `KEY=value` entries, image's merged under the request's.
    pub env: Vec<String>,
    /// Absolute and clean; empty means `/`.
    pub working_dir: String,
    /// `user[:group]` as given; resolved against the image's /etc/passwd at start.
    pub user: String,
    pub stdio: Stdio,
    pub console_size: Option<ConsoleSize>,
}

impl ProcessSpec {
    /// The working directory the process starts in.
    pub fn cwd(&self) -> &str {
        if self.working_dir.is_empty() {
            "/"
        } else {
            &self.working_dir
        }
    }

    /// `path` then `args`.
    pub fn argv(&self) -> Vec<String> {
        let mut argv = Vec::with_capacity(self.args.len() + 1);
        argv.push(self.path.clone());
        argv.extend(self.args.iter().cloned());
        argv
    }
}

/// Which streams exist and how stdin behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stdio {
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub tty: bool,
}

/// Initial terminal size, both non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSize {
    pub height: u64,
    pub width: u64,
}

/// How `stop` ends the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopPolicy {
    /// `None`: SIGTERM. The name is kept as given (`SIGUSR1`, `10`).
    pub signal: Option<StopSignal>,
    /// Seconds before SIGKILL; `None`: the daemon's default (10 s);
    /// negative: wait forever.
    pub timeout: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopSignal {
    pub name: String,
    pub number: i32,
}

/// Where the container's output goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPolicy {
    pub driver: LogDriver,
    /// Effective options as inspect shows them (validated at create).
    pub options: BTreeMap<String, String>,
    /// `None`: no rotation.
    pub max_size: Option<u64>,
    pub max_file: u32,
    pub compress: bool,
    /// Label and env names whose values go into each record's attributes.
    pub attribute_labels: Vec<String>,
    pub attribute_env: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogDriver {
    JsonFile,
    Cri,
    None,
}

impl LogDriver {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "json-file" => Some(LogDriver::JsonFile),
            "cri" => Some(LogDriver::Cri),
            "none" => Some(LogDriver::None),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogDriver::JsonFile => "json-file",
            LogDriver::Cri => "cri",
            LogDriver::None => "none",
        }
    }
}

/// Filesystem: rootfs mode, tmpfs and what create resolved into
/// `mounts.json` (binds, volumes, volumes-from).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageSpec {
    pub readonly_rootfs: bool,
    /// Destination (absolute) -> comma-separated mount options.
    pub tmpfs: BTreeMap<String, String>,
    /// `Config.Volumes` (image's and request's): anonymous volumes.
    pub volumes: Vec<String>,
}

/// Privileges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecuritySpec {
    pub privileged: bool,
    /// As given (validated: known names, `CAP_` optional, or `ALL`).
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    /// `None`: docker's defaults (none when privileged).
    pub masked_paths: Option<Vec<String>>,
    pub readonly_paths: Option<Vec<String>>,
    /// `--security-opt seccomp=…`; `None` when not given: docker's default
    /// profile, no filter when privileged.
    #[serde(default)]
    pub seccomp: Option<SeccompPolicy>,
    /// `--security-opt no-new-privileges[=bool]`.
    #[serde(default)]
    pub no_new_privileges: bool,
    /// `--security-opt apparmor=…` (accepted only on hosts with AppArmor,
    /// `unconfined` everywhere); `None`: unconfined.
    #[serde(default)]
    pub apparmor_profile: Option<String>,
    /// `--security-opt writable-cgroups[=bool]`; `None`: writable when
    /// privileged.
    #[serde(default)]
    pub writable_cgroups: Option<bool>,
}

/// A seccomp profile named by `--security-opt seccomp=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SeccompPolicy {
    /// `builtin`: docker's default profile, also when privileged.
    Builtin,
    /// `unconfined`: no filter.
    Unconfined,
    /// A profile in docker's format, as the client sent it (checked at
    /// create, resolved at each start for the host's kernel).
    Custom { profile: String },
}

/// docker's `CgroupnsMode`, resolved at create (the default depends on the
/// host: `private` on cgroup v2, `host` otherwise).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CgroupnsMode {
    #[default]
    Host,
    Private,
}

/// What goes into /etc/hosts and /etc/resolv.conf.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcSpec {
    pub extra_hosts: Vec<ExtraHost>,
    /// `None`: the host's.
    pub dns: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
}

/// One `--add-host name:address` entry (the address as given: an IP or
/// `host-gateway`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraHost {
    pub name: String,
    pub address: String,
}

/// docker's restart policy (recorded; restarts are not run yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum RestartPolicy {
    No,
    Always,
    UnlessStopped,
    OnFailure { max_retries: u32 },
}

impl RestartPolicy {
    pub fn name(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
            RestartPolicy::OnFailure { .. } => "on-failure",
        }
    }
}

/// The network the container joins. Pier gives every container its own
/// network namespace with only a loopback interface (`none`); the other
/// modes are recorded and announced by a warning until networking lands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", content = "name", rename_all = "kebab-case")]
pub enum NetworkMode {
    None,
    Bridge,
    Host,
    Container(String),
    Named(String),
}

impl NetworkMode {
    pub fn as_wire(&self) -> String {
        match self {
            NetworkMode::None => "none".to_string(),
            NetworkMode::Bridge => "bridge".to_string(),
            NetworkMode::Host => "host".to_string(),
            NetworkMode::Container(c) => format!("container:{c}"),
            NetworkMode::Named(n) => n.clone(),
        }
    }
}

/// Published ports: `HostConfig.PortBindings` as (host ip, host port)
/// per `port/proto`, with `-P` (`PublishAllPorts`) already expanded over
/// the exposed ports into bindings to random host ports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortsSpec {
    pub bindings: BTreeMap<String, Vec<(String, String)>>,
    #[serde(default)]
    pub publish_all: bool,
}

/// What `NetworkingConfig.EndpointsConfig` asks of the container's
/// network: aliases (user networks only), a static IPv4 address, a MAC.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<std::net::Ipv4Addr>,
    /// `IPAMConfig.IPv6Address` (`--ip6`), on `--ipv6` networks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<std::net::Ipv6Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// `EndpointSettings.Links` as given (`name:alias`), shown by inspect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
}

/// A legacy link (`--link name:alias`): the child container and the alias
/// it has in this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyLink {
    /// The child's id (its name as given until the create resolves it).
    pub child: String,
    pub alias: String,
}

/// A network the container is on and its endpoint settings, as dockerd
/// keeps `NetworkSettings.Networks` between create and start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkEndpoint {
    /// The network's name (its id when it was not found at connect).
    pub network: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub network_id: String,
    #[serde(default)]
    pub endpoint: EndpointSpec,
}

impl ContainerSpec {
    /// The networks the container joins at start, first the one that gets
    /// the published ports: the connected list, else its mode's network.
    pub fn networks(&self) -> Vec<NetworkEndpoint> {
        if let Some(list) = &self.connected {
            return list.clone();
        }
        let network = match &self.network {
            NetworkMode::Bridge => "bridge".to_string(),
            NetworkMode::Named(n) => n.clone(),
            _ => return Vec::new(),
        };
        vec![NetworkEndpoint {
            network,
            network_id: String::new(),
            endpoint: self.endpoint.clone(),
        }]
    }
}

/// Request fields kept verbatim for inspect, by their wire names: the
/// `Config` part and the `HostConfig` part.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Echo {
    pub config: EchoMap,
    pub host_config: EchoMap,
}

/// One part of the [`Echo`]: a JSON object kept as its compact text, and
/// read as a map only when it is used (inspect, commit, links, upgrades).
/// A map of `serde_json::Value`s costs several KiB per container in
/// B-tree nodes, small strings and nested objects, held for the
/// container's whole life (pierd's memory with hundreds of containers,
/// issue 16); the text is a few hundred bytes. `container.json` holds the
/// same object as before: this type (de)serializes as the map.
#[derive(Clone, Default)]
pub struct EchoMap {
    /// The map's JSON; empty for an empty map (no allocation).
    json: Box<str>,
}

impl EchoMap {
    /// The map (parsed from the kept text).
    pub fn map(&self) -> BTreeMap<String, serde_json::Value> {
        if self.json.is_empty() {
            return BTreeMap::new();
        }
        // The text was written by `from_map` from such a map: it reads back.
        serde_json::from_str(&self.json).unwrap_or_default()
    }

    pub fn from_map(map: &BTreeMap<String, serde_json::Value>) -> Self {
        if map.is_empty() {
            return EchoMap::default();
        }
        // A map of JSON values with string keys always serializes.
        EchoMap {
            json: serde_json::to_string(map).unwrap_or_default().into_boxed_str(),
        }
    }

    pub fn get(&self, key: &str) -> Option<serde_json::Value> {
        self.map().remove(key)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.map().contains_key(key)
    }

    /// Change the map through `f`.
    pub fn update(&mut self, f: impl FnOnce(&mut BTreeMap<String, serde_json::Value>)) {
        let mut m = self.map();
        f(&mut m);
        *self = EchoMap::from_map(&m);
    }
}

impl From<BTreeMap<String, serde_json::Value>> for EchoMap {
    fn from(map: BTreeMap<String, serde_json::Value>) -> Self {
        EchoMap::from_map(&map)
    }
}

impl PartialEq for EchoMap {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json || self.map() == other.map()
    }
}

impl std::fmt::Debug for EchoMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.map()).finish()
    }
}

impl Serialize for EchoMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.map().serialize(s)
    }
}

impl<'de> Deserialize<'de> for EchoMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BTreeMap::<String, serde_json::Value>::deserialize(d).map(EchoMap::from)
    }
}

/// The container's cgroup limits, rlimits and sysctls, as dockerd keeps
/// them after create (`adaptContainerSettings` and
/// `verifyPlatformContainerResources` applied: swap defaulted to twice the
/// memory, swappiness -1 and pids limits <= 0 unset, unsupported settings
/// discarded). Zero and `None` mean "not set". Lists keep the request's
/// null-or-empty distinction, as inspect prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourcesSpec {
    /// Bytes; 0: unlimited.
    pub memory: i64,
    /// Memory plus swap, bytes; 0: not set, -1: unlimited swap.
    pub memory_swap: i64,
    /// Soft limit, bytes.
    pub memory_reservation: i64,
    /// 0..=100; `None`: the kernel's.
    pub memory_swappiness: Option<i64>,
    pub oom_kill_disable: bool,
    /// CPUs in billionths (`--cpus`); exclusive with period and quota.
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    /// CFS period and quota, microseconds.
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpu_realtime_period: i64,
    pub cpu_realtime_runtime: i64,
    /// cpuset lists (`0-1,3`); empty: all.
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    /// `None`: unlimited.
    pub pids_limit: Option<i64>,
    /// 10..=1000; 0: not set.
    pub blkio_weight: u16,
    pub blkio_weight_device: Option<Vec<WeightDevice>>,
    pub blkio_device_read_bps: Option<Vec<ThrottleDevice>>,
    pub blkio_device_write_bps: Option<Vec<ThrottleDevice>>,
    pub blkio_device_read_iops: Option<Vec<ThrottleDevice>>,
    pub blkio_device_write_iops: Option<Vec<ThrottleDevice>>,
    /// rlimits (`--ulimit`), by docker's names (`nofile`, `nproc`, …).
    pub ulimits: Option<Vec<Ulimit>>,
    /// Namespaced sysctls (`--sysctl`), over docker's network defaults.
    pub sysctls: BTreeMap<String, String>,
    /// `--cgroup-parent`; empty: the daemon's (`cgroup-parent`, else `/pier`).
    pub cgroup_parent: String,
}

/// A per-device blkio weight (`--blkio-weight-device PATH:WEIGHT`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightDevice {
    /// Host path of a block device, resolved to its numbers at start.
    pub path: String,
    pub weight: u16,
}

/// A per-device throttle (`--device-read-bps PATH:RATE`, …): bytes or
/// operations per second.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

/// One `--ulimit name=soft[:hard]`; -1 is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

#[cfg(test)]
mod echo_map_tests {
    use super::*;
    use serde_json::json;

    fn sample() -> BTreeMap<String, serde_json::Value> {
        [
            ("ExposedPorts".to_string(), json!({"80/tcp": {}})),
            ("OnBuild".to_string(), serde_json::Value::Null),
            ("Binds".to_string(), json!(["/a:/b"])),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn serializes_as_the_map_it_holds() {
        let m = EchoMap::from_map(&sample());
        assert_eq!(serde_json::to_value(&m).expect("serialize"), json!(sample()));
        let back: EchoMap = serde_json::from_value(json!(sample())).expect("deserialize");
        assert_eq!(back.map(), sample());
        assert_eq!(back, m);
    }

    #[test]
    fn an_empty_map_holds_no_text() {
        let m = EchoMap::from_map(&BTreeMap::new());
        assert!(m.json.is_empty());
        assert_eq!(m, EchoMap::default());
        assert_eq!(serde_json::to_string(&m).expect("serialize"), "{}");
        assert!(m.map().is_empty());
    }

    #[test]
    fn get_and_update_read_and_change_the_map() {
        let mut m = EchoMap::from_map(&sample());
        assert_eq!(m.get("Binds"), Some(json!(["/a:/b"])));
        assert!(m.contains_key("OnBuild"));
        assert_eq!(m.get("Nope"), None);
        m.update(|x| {
            x.remove("Binds");
            x.insert("Cgroup".into(), json!(""));
        });
        assert!(!m.contains_key("Binds"));
        assert_eq!(m.get("Cgroup"), Some(json!("")));
        m.update(BTreeMap::clear);
        assert_eq!(m, EchoMap::default());
    }
}
