//! Daemon configuration: `daemon.json` (dockerd's key names) merged under the
//! command-line flags. Parsing and merging are pure; reading the file is the
//! caller's business.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_DATA_ROOT: &str = "/var/lib/pier";
pub const DEFAULT_EXEC_ROOT: &str = "/run/pier";
pub const DEFAULT_HOST: &str = "unix:///run/pier/pier.sock";
pub const DEFAULT_RUNTIME: &str = "runc";
pub const DEFAULT_CONFIG_FILE: &str = "/etc/pier/daemon.json";
/// docker's init binary name (Debian's is tini-static).
pub const DEFAULT_INIT: &str = "docker-init";

/// What a running daemon needs to know.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    /// Path of the OCI runtime binary handed to every shim.
    pub runtime: PathBuf,
    /// Path of the `pier-shim` binary.
    pub shim: PathBuf,
    /// How containers' shims are reached: the `pier-shim` binary above, or
    /// in-process fakes in tests; with the calls' timeouts.
    pub shims: crate::shim::Shims,
    /// Default log driver (`json-file` or `none`).
    pub log_driver: String,
    pub log_opts: BTreeMap<String, String>,
    /// `detach-keys`: the default for attach and exec sessions.
    pub detach_keys: Option<String>,
    /// A pure cgroup v2 host (docker's default cgroupns mode is then
    /// `private`); read from /sys/fs/cgroup at construction.
    pub cgroup_v2: bool,
    /// CPUs available to the daemon (docker's NanoCpus range), read once.
    pub ncpu: usize,
    /// The kernel enforces AppArmor (as containerd's `apparmor.HostSupports`
    /// reads it), read at construction.
    pub apparmor: bool,
    /// Bounds on the API socket.
    pub api: ApiLimits,
    /// Runtimes a container may name (`--runtime`) besides the default:
    /// daemon.json `runtimes`, name -> binary.
    pub runtimes: BTreeMap<String, PathBuf>,
    /// Run an init in every container (`--init` of dockerd, daemon.json
    /// `init`); a container's own `--init` wins.
    pub init: bool,
    /// The init binary (daemon.json `init-path`, `--init-path`); `None`:
    /// `docker-init`, then `tini-static`, searched in PATH.
    pub init_path: Option<PathBuf>,
    /// `cgroup-parent`: the parent cgroup of containers without
    /// `--cgroup-parent`; `None`: `/pier`.
    pub cgroup_parent: Option<String>,
    /// What the host's cgroups support and the daemon's rlimits allow
    /// (dockerd's sysinfo), probed at construction.
    pub host_support: crate::model::HostSupport,
    /// Container networking (daemon.json `bridge`, `bip`,
    /// `default-address-pools`, `netavark-path`).
    pub networking: NetworkingConfig,
    /// The options a SIGHUP reload may change, as the daemon started
    /// (`Daemon::live_config` has the current ones).
    pub live: crate::daemon::reload::LiveConfig,
    /// The daemon.json a SIGHUP reloads (`None`: reload does nothing).
    pub config_file: Option<PathBuf>,
    /// The Kubernetes CRI server (`crate::cri`) and the registry host map.
    pub cri: CriConfig,
}

/// The default `cri.sandbox-image`: the pause image pods' infra containers run.
pub const DEFAULT_SANDBOX_IMAGE: &str = "registry.k8s.io/pause:3.9";

/// daemon.json `cri` (and `--cri-socket`): the CRI server is off unless a
/// socket is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriConfig {
    /// Where the CRI gRPC server listens; `None`: no CRI server.
    pub socket: Option<PathBuf>,
    /// The image of pods' infra (pause) containers.
    pub sandbox_image: String,
    /// Registry host -> endpoint URL (`http://127.0.0.1:5000`): pulls of
    /// images on that host go to the endpoint (plain HTTP allowed), for the
    /// Docker API's pulls too (containerd's `hosts.toml` `server`).
    pub registry_hosts: BTreeMap<String, String>,
    /// Where the streaming server (exec, attach, port-forward URLs) listens:
    /// `cri.stream-address` (an IP address) and `cri.stream-port` (0: any).
    pub stream_address: std::net::IpAddr,
    pub stream_port: u16,
    /// Where pods' CNI network configuration is (`cni-conf-dir`; the first
    /// `.conf`/`.conflist`/`.json` file in lexical order is used).
    pub cni_conf_dir: PathBuf,
    /// Where CNI plugins are looked for, in order (`cni-bin-dirs`).
    pub cni_bin_dirs: Vec<PathBuf>,
}

/// The default `cri.cni-conf-dir`.
pub const DEFAULT_CNI_CONF_DIR: &str = "/etc/cni/net.d";
/// The default `cri.cni-bin-dirs` (the second is where Debian's
/// `containernetworking-plugins` installs them).
pub const DEFAULT_CNI_BIN_DIRS: &[&str] = &["/opt/cni/bin", "/usr/lib/cni"];

impl Default for CriConfig {
    fn default() -> Self {
        CriConfig {
            socket: None,
            sandbox_image: DEFAULT_SANDBOX_IMAGE.to_string(),
            registry_hosts: BTreeMap::new(),
            stream_address: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            stream_port: 0,
            cni_conf_dir: PathBuf::from(DEFAULT_CNI_CONF_DIR),
            cni_bin_dirs: DEFAULT_CNI_BIN_DIRS.iter().map(PathBuf::from).collect(),
        }
    }
}

/// daemon.json's `cri` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct CriFileConfig {
    /// `unix:///PATH`.
    pub socket: Option<String>,
    pub sandbox_image: Option<String>,
    pub registry_hosts: Option<BTreeMap<String, String>>,
    pub stream_address: Option<String>,
    pub stream_port: Option<u16>,
    pub cni_conf_dir: Option<PathBuf>,
    pub cni_bin_dirs: Option<Vec<PathBuf>>,
}

impl CriConfig {
    /// The `cri` section of daemon.json under the `--cri-socket` flag.
    pub fn from_file(file: Option<&CriFileConfig>, flag_socket: Option<&str>) -> Result<Self, ConfigError> {
        let mut cfg = CriConfig::default();
        if let Some(f) = file {
            if let Some(image) = f.sandbox_image.as_ref().filter(|i| !i.is_empty()) {
                cfg.sandbox_image = image.clone();
            }
            if let Some(hosts) = &f.registry_hosts {
                for (host, url) in hosts {
                    check_registry_endpoint(url)?;
                    cfg.registry_hosts
                        .insert(host.clone(), url.trim_end_matches('/').to_string());
                }
            }
            if let Some(a) = f.stream_address.as_deref().filter(|a| !a.is_empty()) {
                cfg.stream_address = a.parse().map_err(|_| ConfigError::StreamAddress(a.to_string()))?;
            }
            if let Some(port) = f.stream_port {
                cfg.stream_port = port;
            }
            if let Some(dir) = f.cni_conf_dir.as_ref().filter(|d| !d.as_os_str().is_empty()) {
                cfg.cni_conf_dir = dir.clone();
            }
            if let Some(dirs) = f.cni_bin_dirs.as_ref().filter(|d| !d.is_empty()) {
                cfg.cni_bin_dirs = dirs.clone();
            }
        }
        let socket = flag_socket.or(file.and_then(|f| f.socket.as_deref()).filter(|s| !s.is_empty()));
        if let Some(s) = socket {
            cfg.socket = Some(parse_host(s)?);
        }
        Ok(cfg)
    }
}

/// A registry host map endpoint is an `http://` or `https://` URL with a host.
fn check_registry_endpoint(url: &str) -> Result<(), ConfigError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| ConfigError::RegistryEndpoint(url.to_string()))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(ConfigError::RegistryEndpoint(url.to_string()));
    }
    Ok(())
}

/// The default bridge's device when daemon.json names none (docker's is
/// `docker0`).
pub const DEFAULT_BRIDGE: &str = "pier0";

/// Where netavark is looked for when daemon.json `netavark-path` is unset.
pub const NETAVARK_PATHS: &[&str] = &["/usr/lib/podman/netavark", "/usr/libexec/podman/netavark"];

/// How containers get networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkingConfig {
    /// The default bridge's device; `None` disables the default bridge
    /// (daemon.json `"bridge": "none"`), and containers without a network
    /// mode get loopback only. [`DaemonConfig::new`] leaves it `None`;
    /// `pierd` sets [`DEFAULT_BRIDGE`] unless daemon.json says otherwise.
    pub bridge: Option<String>,
    /// `bip`: the default bridge's gateway address and prefix
    /// (`172.17.0.1/16` when unset).
    pub bip: Option<String>,
    /// `default-address-pools` for user networks (docker's when empty).
    pub pools: Vec<AddressPool>,
    /// `netavark-path`; else [`NETAVARK_PATHS`].
    pub netavark_path: Option<PathBuf>,
    /// `network-backend`: who plumbs containers' networks.
    pub backend: BackendKind,
}

/// daemon.json `network-backend`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// pierd itself: rtnetlink, one iptables-restore, aardvark-dns's files.
    #[default]
    Native,
    /// The netavark program.
    Netavark,
}

/// One `default-address-pools` entry (`{"base": "10.10.0.0/16", "size": 24}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AddressPool {
    pub base: String,
    pub size: u8,
}

/// Bounds on the API socket, so no client (or crowd of idle ones) can take
/// the daemon's file descriptors or stall others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiLimits {
    /// HTTP connections served at once; `None`: [`connection_cap`] of the
    /// soft `RLIMIT_NOFILE` when serving starts. Over the cap the daemon
    /// stops accepting until a connection ends: new clients wait in the
    /// socket's backlog (connect blocks), they are not refused. Connections
    /// hijacked for attach and exec leave the count once upgraded (they are
    /// bounded by their containers' streams); streamed responses (`logs
    /// -f`, `wait`, pulls) count for as long as they stream.
    pub max_connections: Option<usize>,
    /// Time a client has to send a request's headers, also between
    /// requests on a kept-alive connection (hyper's header read timeout);
    /// then the connection is closed.
    pub header_read_timeout: std::time::Duration,
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            max_connections: None,
            header_read_timeout: std::time::Duration::from_secs(60),
        }
    }
}

/// Connections served at once for a soft `RLIMIT_NOFILE` of `nofile`: a
/// quarter of the descriptors (a connection may hold its socket, a log
/// file and a shim stream), leaving the rest to containers' shims, logs
/// and mounts; never below 64 nor above 16384.
pub fn connection_cap(nofile: u64) -> usize {
    usize::try_from(nofile / 4).unwrap_or(usize::MAX).clamp(64, 16384)
}

impl DaemonConfig {
    /// A config with defaults for everything but the roots, runtime and shim.
    pub fn new(data_root: PathBuf, exec_root: PathBuf, runtime: PathBuf, shim: PathBuf) -> Self {
        DaemonConfig {
            data_root,
            exec_root,
            runtime,
            shims: crate::shim::Shims::process(shim.clone()),
            shim,
            log_driver: "json-file".to_string(),
            log_opts: BTreeMap::new(),
            detach_keys: None,
            cgroup_v2: Path::new("/sys/fs/cgroup/cgroup.controllers").exists(),
            ncpu: std::thread::available_parallelism().map_or(1, |n| n.get()),
            apparmor: Path::new("/sys/kernel/security/apparmor").exists()
                && std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|v| v.starts_with('Y')),
            api: ApiLimits::default(),
            runtimes: BTreeMap::new(),
            init: false,
            init_path: None,
            cgroup_parent: None,
            host_support: probe_host_support(Path::new("/sys/fs/cgroup")),
            networking: NetworkingConfig::default(),
            live: Default::default(),
            config_file: None,
            cri: CriConfig::default(),
        }
    }

    /// The binary of the runtime named `name` (a container's
    /// `HostConfig.Runtime`); the default one for its own name or an
    /// unknown one (refused at create).
    pub fn runtime_path(&self, name: &str) -> PathBuf {
        match self.runtimes.get(name) {
            Some(p) if name != self.runtime_name() => p.clone(),
            _ => self.runtime.clone(),
        }
    }

    /// Whether a container may name this runtime.
    pub fn knows_runtime(&self, name: &str) -> bool {
        name == self.runtime_name() || self.runtimes.contains_key(name)
    }

    /// The init binary for `--init`: the configured path, else
    /// `docker-init` or `tini-static` in `path_var`.
    pub fn find_init(&self, path_var: Option<&str>) -> Result<PathBuf, ConfigError> {
        if let Some(p) = &self.init_path {
            return Ok(p.clone());
        }
        resolve_runtime(DEFAULT_INIT, path_var)
            .or_else(|_| resolve_runtime("tini-static", path_var))
            .map_err(|_| ConfigError::Init(DEFAULT_INIT.to_string()))
    }

    /// The runtime's name as inspect shows it (`runc`, `crun`): the
    /// binary's file name.
    pub fn runtime_name(&self) -> &str {
        self.runtime
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(DEFAULT_RUNTIME)
    }

    pub fn containers_dir(&self) -> PathBuf {
        self.data_root.join("containers")
    }

    pub fn image_root(&self) -> PathBuf {
        self.data_root.join("image")
    }

    pub fn runtime_root(&self) -> PathBuf {
        self.exec_root.join("runc")
    }
}

/// `daemon.json`, with dockerd's key names. Unknown keys are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct FileConfig {
    pub data_root: Option<PathBuf>,
    pub exec_root: Option<PathBuf>,
    pub hosts: Option<Vec<String>>,
    pub default_runtime: Option<String>,
    pub log_level: Option<String>,
    pub log_driver: Option<String>,
    pub log_opts: Option<BTreeMap<String, String>>,
    pub detach_keys: Option<String>,
    pub insecure_registries: Option<Vec<String>>,
    pub runtimes: Option<BTreeMap<String, RuntimeEntry>>,
    pub init: Option<bool>,
    pub init_path: Option<PathBuf>,
    pub cgroup_parent: Option<String>,
    /// dockerd's `live-restore`: accepted and meaningless for Pier, whose
    /// containers always outlive pierd (their shims hold them).
    pub live_restore: Option<bool>,
    /// The default bridge's device, or `none` for no default bridge.
    pub bridge: Option<String>,
    pub bip: Option<String>,
    pub default_address_pools: Option<Vec<AddressPool>>,
    pub netavark_path: Option<PathBuf>,
    pub network_backend: Option<BackendKind>,
    /// dockerd's `debug`: the log level is `debug` (reloadable).
    pub debug: Option<bool>,
    /// dockerd's engine `labels` (`key=value`; reloadable).
    pub labels: Option<Vec<String>>,
    /// The Kubernetes CRI server (`CriConfig`).
    pub cri: Option<CriFileConfig>,
}

/// One entry of daemon.json `runtimes` (dockerd's `path`; `runtimeArgs`
/// are not supported).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RuntimeEntry {
    pub path: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("parse config file {path}: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("unsupported host {0:?}: only unix:///PATH is supported")]
    Host(String),
    #[error("unsupported log driver {0:?}: json-file and none are supported")]
    LogDriver(String),
    #[error("runtime {0:?} not found in PATH")]
    Runtime(String),
    #[error("exec: \"{0}\": executable file not found in $PATH")]
    Init(String),
    #[error("invalid cri.stream-address {0:?}: want an IP address")]
    StreamAddress(String),
    #[error("invalid cri.registry-hosts endpoint {0:?}: want http://HOST[:PORT] or https://HOST[:PORT]")]
    RegistryEndpoint(String),
    /// A daemon label dockerd refuses, in its words.
    #[error("{0}")]
    Label(String),
}

/// dockerd's `ValidateLabel` for each label and `GetConflictFreeLabels`
/// over them: `key=value`, outside docker's reserved namespaces, one
/// value per key (a repeated identical label is kept once). Sorted.
pub fn daemon_labels(labels: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut by_key: BTreeMap<&str, &str> = BTreeMap::new();
    for label in labels {
        let Some((key, value)) = label.split_once('=') else {
            return Err(ConfigError::Label(format!("bad attribute format: {label}")));
        };
        let lowered = label.to_lowercase();
        if ["com.docker.", "io.docker.", "org.dockerproject."]
            .iter()
            .any(|p| lowered.starts_with(p))
        {
            return Err(ConfigError::Label(format!(
                "label {label} is not allowed: the namespaces com.docker.*, io.docker.*, and org.dockerproject.* are reserved for internal use"
            )));
        }
        match by_key.insert(key, value) {
            Some(old) if old != value => {
                return Err(ConfigError::Label(format!(
                    "conflict labels for {key}={value} and {key}={old}"
                )));
            }
            _ => {}
        }
    }
    Ok(by_key.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

/// dockerd's sysinfo for the cgroup hierarchy mounted at `root` (v1: one
/// directory per controller; v2: one unified tree), and the daemon's hard
/// rlimits when it cannot raise them (no `CAP_SYS_RESOURCE`).
pub fn probe_host_support(root: &Path) -> crate::model::HostSupport {
    let exists = |p: &str| root.join(p).exists();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).ok().map(|s| s.trim().to_string());
    let v2 = exists("cgroup.controllers");
    let (swap_limit, blkio_weight, blkio_weight_device, cpus, mems) = if v2 {
        let controllers = read("cgroup.controllers").unwrap_or_default();
        let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
        (
            has("memory"),
            has("io"),
            has("io"),
            read("cpuset.cpus.effective"),
            read("cpuset.mems.effective"),
        )
    } else {
        (
            exists("memory/memory.memsw.limit_in_bytes"),
            exists("blkio/blkio.weight"),
            exists("blkio/blkio.weight_device"),
            read("cpuset/cpuset.cpus"),
            read("cpuset/cpuset.mems"),
        )
    };
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    const CAP_SYS_RESOURCE: u32 = 24;
    let can_raise = crate::spec::parse_cap_mask(&status, "CapEff").is_some_and(|m| m & (1 << CAP_SYS_RESOURCE) != 0);
    let rlimit_hard = if can_raise {
        Default::default()
    } else {
        daemon_hard_rlimits()
    };
    crate::model::HostSupport {
        swap_limit,
        blkio_weight,
        blkio_weight_device,
        cpus,
        mems,
        rlimit_hard,
    }
}

/// The daemon's hard rlimits by docker's ulimit names.
fn daemon_hard_rlimits() -> BTreeMap<String, u64> {
    use nix::sys::resource::{getrlimit, Resource};
    [
        ("as", Resource::RLIMIT_AS),
        ("core", Resource::RLIMIT_CORE),
        ("cpu", Resource::RLIMIT_CPU),
        ("data", Resource::RLIMIT_DATA),
        ("fsize", Resource::RLIMIT_FSIZE),
        ("locks", Resource::RLIMIT_LOCKS),
        ("memlock", Resource::RLIMIT_MEMLOCK),
        ("msgqueue", Resource::RLIMIT_MSGQUEUE),
        ("nice", Resource::RLIMIT_NICE),
        ("nofile", Resource::RLIMIT_NOFILE),
        ("nproc", Resource::RLIMIT_NPROC),
        ("rss", Resource::RLIMIT_RSS),
        ("rtprio", Resource::RLIMIT_RTPRIO),
        ("rttime", Resource::RLIMIT_RTTIME),
        ("sigpending", Resource::RLIMIT_SIGPENDING),
        ("stack", Resource::RLIMIT_STACK),
    ]
    .into_iter()
    .filter_map(|(name, r)| getrlimit(r).ok().map(|(_, hard)| (name.to_string(), hard)))
    .collect()
}

impl NetworkingConfig {
    /// The networking keys of daemon.json over pierd's defaults (the
    /// default bridge `pier0`).
    pub fn from_file(file: &FileConfig) -> Self {
        let bridge = match file.bridge.as_deref() {
            Some("none") => None,
            Some(b) if !b.is_empty() => Some(b.to_string()),
            _ => Some(DEFAULT_BRIDGE.to_string()),
        };
        NetworkingConfig {
            bridge,
            bip: file.bip.clone().filter(|b| !b.is_empty()),
            pools: file.default_address_pools.clone().unwrap_or_default(),
            netavark_path: file.netavark_path.clone(),
            backend: file.network_backend.unwrap_or_default(),
        }
    }
}

/// Parse the text of a `daemon.json`.
pub fn parse_file(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    if text.trim().is_empty() {
        return Ok(FileConfig::default());
    }
    serde_json::from_str(text).map_err(|source| ConfigError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// `unix:///run/pier/pier.sock` -> `/run/pier/pier.sock`.
pub fn parse_host(host: &str) -> Result<PathBuf, ConfigError> {
    match host.strip_prefix("unix://") {
        Some(p) if p.starts_with('/') => Ok(PathBuf::from(p)),
        _ if host.starts_with('/') => Ok(PathBuf::from(host)),
        _ => Err(ConfigError::Host(host.to_string())),
    }
}

/// Check a log driver name.
pub fn check_log_driver(driver: &str) -> Result<(), ConfigError> {
    match driver {
        "json-file" | "cri" | "none" => Ok(()),
        other => Err(ConfigError::LogDriver(other.to_string())),
    }
}

/// A runtime name (`runc`) searched in `path_var`, or a path used as is.
pub fn resolve_runtime(name: &str, path_var: Option<&str>) -> Result<PathBuf, ConfigError> {
    if name.contains('/') {
        return Ok(PathBuf::from(name));
    }
    let search = path_var.unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    search
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| ConfigError::Runtime(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dockerd_keys() {
        let f = parse_file(
            Path::new("/x"),
            r#"{"data-root":"/d","exec-root":"/e","hosts":["unix:///s"],
               "default-runtime":"crun","log-level":"debug","log-driver":"none",
               "log-opts":{"max-size":"10m"},"insecure-registries":["reg.lan:5000"],"unknown":1}"#,
        )
        .expect("parse");
        assert_eq!(f.data_root, Some(PathBuf::from("/d")));
        assert_eq!(f.default_runtime.as_deref(), Some("crun"));
        assert_eq!(f.log_opts.expect("opts")["max-size"], "10m");
        assert_eq!(f.insecure_registries, Some(vec!["reg.lan:5000".to_string()]));
        let f = parse_file(
            Path::new("/x"),
            r#"{"init":true,"init-path":"/usr/bin/tini-static","runtimes":{"r2":{"path":"/usr/sbin/runc"}}}"#,
        )
        .expect("parse");
        assert_eq!(f.init, Some(true));
        assert_eq!(f.init_path, Some(PathBuf::from("/usr/bin/tini-static")));
        assert_eq!(f.runtimes.expect("runtimes")["r2"].path, "/usr/sbin/runc");
        assert_eq!(parse_file(Path::new("/x"), "").expect("empty"), FileConfig::default());
        assert!(parse_file(Path::new("/x"), "{").is_err());
    }

    #[test]
    fn cri_section() {
        let f = parse_file(
            Path::new("/x"),
            r#"{"cri":{"socket":"unix:///run/c.sock","sandbox-image":"reg/p:1",
               "registry-hosts":{"registry.k8s.io":"http://127.0.0.1:5000/"}}}"#,
        )
        .expect("parse");
        let c = CriConfig::from_file(f.cri.as_ref(), None).expect("cri");
        assert_eq!(c.socket, Some(PathBuf::from("/run/c.sock")));
        assert_eq!(c.sandbox_image, "reg/p:1");
        assert_eq!(c.registry_hosts["registry.k8s.io"], "http://127.0.0.1:5000");
        let c = CriConfig::from_file(f.cri.as_ref(), Some("unix:///flag.sock")).expect("flag wins");
        assert_eq!(c.socket, Some(PathBuf::from("/flag.sock")));
        let off = CriConfig::from_file(None, None).expect("default");
        assert_eq!(off, CriConfig::default());
        assert_eq!(off.sandbox_image, DEFAULT_SANDBOX_IMAGE);
        assert_eq!(off.cni_conf_dir, PathBuf::from("/etc/cni/net.d"));
        assert_eq!(
            off.cni_bin_dirs,
            [PathBuf::from("/opt/cni/bin"), PathBuf::from("/usr/lib/cni")]
        );
        let f = parse_file(
            Path::new("/x"),
            r#"{"cri":{"cni-conf-dir":"/t/net.d","cni-bin-dirs":["/t/bin"]}}"#,
        )
        .expect("parse");
        let c = CriConfig::from_file(f.cri.as_ref(), None).expect("cni dirs");
        assert_eq!(
            (c.cni_conf_dir, c.cni_bin_dirs),
            (PathBuf::from("/t/net.d"), vec![PathBuf::from("/t/bin")])
        );
        let bad = parse_file(Path::new("/x"), r#"{"cri":{"registry-hosts":{"a":"ftp://x"}}}"#).expect("parse");
        assert!(CriConfig::from_file(bad.cri.as_ref(), None).is_err());
        let bad = parse_file(Path::new("/x"), r#"{"cri":{"socket":"tcp://x"}}"#).expect("parse");
        assert!(CriConfig::from_file(bad.cri.as_ref(), None).is_err());
        assert_eq!(off.stream_address.to_string(), "127.0.0.1");
        assert_eq!(off.stream_port, 0);
        let f = parse_file(
            Path::new("/x"),
            r#"{"cri":{"stream-address":"0.0.0.0","stream-port":10010}}"#,
        )
        .expect("parse");
        let c = CriConfig::from_file(f.cri.as_ref(), None).expect("stream");
        assert_eq!((c.stream_address.to_string(), c.stream_port), ("0.0.0.0".into(), 10010));
        let bad = parse_file(Path::new("/x"), r#"{"cri":{"stream-address":"localhost"}}"#).expect("parse");
        assert!(CriConfig::from_file(bad.cri.as_ref(), None).is_err());
    }

    #[test]
    fn labels_as_dockerd_checks_them() {
        let l = |v: &[&str]| daemon_labels(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(l(&["b=2", "a=1", "a=1"]).expect("ok"), ["a=1", "b=2"]);
        assert_eq!(l(&["a="]).expect("empty value"), ["a="]);
        assert_eq!(
            l(&["novalue"]).expect_err("bad").to_string(),
            "bad attribute format: novalue"
        );
        assert_eq!(
            l(&["a=1", "a=2"]).expect_err("conflict").to_string(),
            "conflict labels for a=2 and a=1"
        );
        assert!(l(&["com.docker.x=1"])
            .expect_err("reserved")
            .to_string()
            .ends_with("are reserved for internal use"));
        let f = parse_file(Path::new("d.json"), r#"{"labels": ["env=prod"]}"#).expect("parse");
        assert_eq!(f.labels, Some(vec!["env=prod".to_string()]));
    }

    #[test]
    fn connection_cap_follows_nofile() {
        assert_eq!(connection_cap(20_000), 5_000);
        assert_eq!(connection_cap(1_024), 256);
        assert_eq!(connection_cap(100), 64);
        assert_eq!(connection_cap(1 << 20), 16_384);
        assert_eq!(connection_cap(u64::MAX), 16_384);
    }

    #[test]
    fn hosts() {
        assert_eq!(
            parse_host("unix:///run/x.sock").expect("unix"),
            PathBuf::from("/run/x.sock")
        );
        assert!(parse_host("tcp://0.0.0.0:2375").is_err());
        assert!(parse_host("unix://relative").is_err());
    }
}
