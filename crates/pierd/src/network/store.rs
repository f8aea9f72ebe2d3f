//! The networks pierd knows and the containers attached to them: records
//! under `<data-root>/networks/<id>.json`, attachments in each container's
//! `network.json`, and in memory the union of both (one mutex, held for
//! lookups and allocations only, never while netavark runs). Blocking.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::backend::{BackendError, NetworkBackend};
use super::cni::{Cni, CniError};
use super::ipam::{self, IpamError, IpamRequest, Pool, SubnetPlan};
use super::netns::NetnsError;
use super::ports::{self, PortError, PortMapping};
use super::subnet::Ipv4Net;
use super::{Attachment, AttachmentFile, Endpoint, NetworkRecord, BRIDGE, HOST, NONE};

/// The default bridge as configured (`bridge`, `bip`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    /// The bridge device (`pier0`).
    pub interface: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
}

/// How networking is set up in this daemon.
#[derive(Debug, Clone)]
pub struct NetworksConfig {
    /// `<data-root>/networks`.
    pub dir: PathBuf,
    /// `<exec-root>/netns`.
    pub netns_dir: PathBuf,
    /// `None`: no default bridge (`"bridge": "none"`).
    pub bridge: Option<BridgeConfig>,
    /// `default-address-pools` (docker's defaults otherwise).
    pub pools: Vec<Pool>,
    /// The backend, or why there is none (netavark missing).
    pub backend: Result<Arc<dyn NetworkBackend>, String>,
    /// Host ports for `-p 80` come from here.
    pub ephemeral: (u16, u16),
    /// The CRI's pod networks (`cri.cni-conf-dir`, `cri.cni-bin-dirs`).
    pub cni: Cni,
}

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("network {0} not found")]
    NotFound(String),
    #[error("network {0} is ambiguous")]
    Ambiguous(String),
    #[error("network with name {0} already exists")]
    Exists(String),
    #[error("operation is not permitted on predefined {0} network ")]
    PredefinedCreate(String),
    #[error("{0} is a pre-defined network and cannot be removed")]
    PredefinedRemove(String),
    #[error("error while removing network: network {name} id {id} has active endpoints")]
    InUse { name: String, id: String },
    #[error("plugin \"{0}\" not found")]
    Driver(String),
    #[error("only one instance of \"{0}\" network is allowed")]
    OneInstance(String),
    #[error("{0}")]
    Invalid(String),
    #[error("endpoint with name {name} already exists in network {network}")]
    EndpointExists { name: String, network: String },
    #[error("container {container} is not connected to network {network}")]
    NotConnected { container: String, network: String },
    #[error("container networking is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Ipam(#[from] IpamError),
    #[error("driver failed programming external connectivity on endpoint {endpoint}: {source}")]
    Ports { endpoint: String, source: PortError },
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error(transparent)]
    Cni(#[from] CniError),
    #[error("{op} {path}: {message}")]
    Io {
        op: &'static str,
        path: PathBuf,
        message: String,
    },
}

pub(super) fn io_err(op: &'static str, path: &Path, e: impl std::fmt::Display) -> NetworkError {
    NetworkError::Io {
        op,
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// `POST /networks/create`, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateNetwork {
    pub name: String,
    pub driver: String,
    pub internal: bool,
    pub attachable: bool,
    pub ipv6: bool,
    pub ipam_driver: String,
    pub ipam: Vec<IpamRequest>,
    pub ipam_options: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) nets: BTreeMap<String, NetworkRecord>,
    /// By container id: set up (or being set up) and not torn down.
    pub(super) attached: BTreeMap<String, Attachment>,
}

/// The daemon's networks.
#[derive(Debug)]
pub struct Networks {
    pub(super) cfg: NetworksConfig,
    pub(super) state: Mutex<State>,
}

mod pod;

pub(super) fn new_id() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn predefined(name: &str, driver: &str) -> NetworkRecord {
    NetworkRecord {
        id: new_id(),
        name: name.to_string(),
        driver: driver.to_string(),
        created: pier_time::now_nanos(),
        interface: String::new(),
        subnets: Vec::new(),
        ipv6: None,
        ipam_config: Vec::new(),
        ipam_options: BTreeMap::new(),
        internal: false,
        attachable: false,
        dns: false,
        options: BTreeMap::new(),
        labels: BTreeMap::new(),
    }
}

/// The default bridge's record for `b` (its id kept from `old`).
fn bridge_record(b: &BridgeConfig, old: Option<&NetworkRecord>) -> NetworkRecord {
    let mut rec = old.cloned().unwrap_or_else(|| predefined(BRIDGE, "bridge"));
    rec.driver = "bridge".to_string();
    rec.interface = b.interface.clone();
    rec.subnets = vec![SubnetPlan {
        subnet: b.subnet,
        gateway: b.gateway,
        ip_range: None,
        aux: BTreeMap::new(),
    }];
    rec.ipam_config = vec![[
        ("Subnet".to_string(), serde_json::json!(b.subnet.to_string())),
        ("Gateway".to_string(), serde_json::json!(b.gateway.to_string())),
    ]
    .into()];
    rec.dns = false;
    rec.options = [
        ("com.docker.network.bridge.default_bridge", "true"),
        ("com.docker.network.bridge.enable_icc", "true"),
        ("com.docker.network.bridge.enable_ip_masquerade", "true"),
        ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
        ("com.docker.network.bridge.name", b.interface.as_str()),
        ("com.docker.network.driver.mtu", "1500"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    rec
}

/// Whether the host can bind `m` now (no listener of its own holds it).
pub fn host_can_bind(m: &PortMapping) -> bool {
    let ip: IpAddr = if m.host_ip.is_empty() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        match m.host_ip.parse() {
            Ok(ip) => ip,
            Err(_) => return false,
        }
    };
    let addr = std::net::SocketAddr::new(ip, m.host_port);
    match m.proto {
        ports::Proto::Udp => std::net::UdpSocket::bind(addr).is_ok(),
        _ => std::net::TcpListener::bind(addr).is_ok(),
    }
}

/// The host's IPv4 routes (new networks avoid them).
fn host_routes() -> Vec<Ipv4Net> {
    std::fs::read_to_string("/proc/net/route")
        .map(|t| super::subnet::parse_proc_route(&t))
        .unwrap_or_default()
}

impl Networks {
    /// Load the records, add the predefined networks, and bring the
    /// default bridge's record in line with the configuration.
    pub fn open(cfg: NetworksConfig) -> Result<Self, NetworkError> {
        crate::private::dir(&cfg.dir, crate::private::DIR).map_err(|e| io_err("create", &cfg.dir, e))?;
        let mut nets = BTreeMap::new();
        let entries = std::fs::read_dir(&cfg.dir).map_err(|e| io_err("read", &cfg.dir, e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<NetworkRecord>(&b).map_err(|e| e.to_string()))
            {
                Ok(rec) => {
                    nets.insert(rec.id.clone(), rec);
                }
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "skip network record"),
            }
        }
        let me = Networks {
            cfg,
            state: Mutex::new(State::default()),
        };
        let by_name = |n: &str| nets.values().find(|r| r.name == n).cloned();
        let mut wanted = Vec::new();
        for (name, driver) in [(HOST, "host"), (NONE, "null")] {
            if by_name(name).is_none() {
                wanted.push(predefined(name, driver));
            }
        }
        let old_bridge = by_name(BRIDGE);
        match &me.cfg.bridge {
            Some(b) => {
                let rec = bridge_record(b, old_bridge.as_ref());
                if old_bridge.as_ref() != Some(&rec) {
                    wanted.push(rec);
                }
            }
            // No default bridge: its record (if any) is left on disk, unused.
            None => {
                if let Some(old) = old_bridge {
                    nets.remove(&old.id);
                }
            }
        }
        for rec in wanted {
            me.save(&rec)?;
            nets.insert(rec.id.clone(), rec);
        }
        me.lock().nets = nets;
        Ok(me)
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, rec: &NetworkRecord) -> Result<(), NetworkError> {
        let path = self.cfg.dir.join(format!("{}.json", rec.id));
        let bytes = serde_json::to_vec_pretty(rec).map_err(|e| io_err("encode", &path, e))?;
        crate::record::write_atomic(&path, &bytes).map_err(|e| io_err("write", &path, e))
    }

    /// Why containers cannot get networks, if they cannot.
    pub fn unavailable(&self) -> Option<&str> {
        self.cfg.backend.as_ref().err().map(String::as_str)
    }

    /// Whether a container without a network mode joins the default bridge
    /// (else it gets loopback only).
    pub fn bridge_by_default(&self) -> bool {
        self.cfg.bridge.is_some() && self.cfg.backend.is_ok()
    }

    /// The default bridge's gateway (`host-gateway` of `--add-host`).
    pub fn host_gateway(&self) -> Option<Ipv4Addr> {
        self.cfg.bridge.as_ref().map(|b| b.gateway)
    }

    pub fn list(&self) -> Vec<NetworkRecord> {
        self.lock().nets.values().cloned().collect()
    }

    /// By full id, name, or unique id prefix (dockerd's order).
    pub fn get(&self, key: &str) -> Result<NetworkRecord, NetworkError> {
        find(&self.lock().nets, key).cloned()
    }

    /// Containers with an interface on network `id`: (container id, endpoint).
    pub fn endpoints_on(&self, id: &str) -> Vec<(String, Endpoint)> {
        self.lock()
            .attached
            .values()
            .flat_map(|a| {
                a.endpoints
                    .iter()
                    .filter(|e| e.network_id == id)
                    .map(|e| (a.container_id.clone(), e.clone()))
            })
            .collect()
    }

    /// A container's attachment, while it has one.
    pub fn attachment(&self, container_id: &str) -> Option<Attachment> {
        self.lock().attached.get(container_id).cloned()
    }

    pub fn create(&self, req: CreateNetwork) -> Result<NetworkRecord, NetworkError> {
        let driver = if req.driver.is_empty() {
            "bridge"
        } else {
            req.driver.as_str()
        };
        if matches!(req.name.as_str(), BRIDGE | HOST | NONE) {
            return Err(NetworkError::PredefinedCreate(req.name));
        }
        if req.name.is_empty() {
            return Err(NetworkError::Invalid(
                "invalid network name: name is required".to_string(),
            ));
        }
        match driver {
            "bridge" => {}
            "host" | "null" => return Err(NetworkError::OneInstance(driver.to_string())),
            other => return Err(NetworkError::Driver(other.to_string())),
        }
        if !matches!(req.ipam_driver.as_str(), "" | "default") {
            return Err(NetworkError::Driver(req.ipam_driver));
        }
        let is_v6 = |r: &IpamRequest| r.subnet.as_deref().is_some_and(|s| s.contains(':'));
        let (v6_reqs, v4_reqs): (Vec<IpamRequest>, Vec<IpamRequest>) = req.ipam.iter().cloned().partition(is_v6);
        if !req.ipv6 && !v6_reqs.is_empty() {
            return Err(NetworkError::Invalid(
                "invalid network config:\nIPv6 subnet provided but IPv6 is not enabled".to_string(),
            ));
        }
        if v4_reqs.len() > 1 || v6_reqs.len() > 1 {
            return Err(NetworkError::Invalid(
                "Pier supports one IPv4 and one IPv6 subnet per network".to_string(),
            ));
        }
        let routes = host_routes();
        let mut st = self.lock();
        if st.nets.values().any(|n| n.name == req.name) {
            return Err(NetworkError::Exists(req.name));
        }
        let taken: Vec<Ipv4Net> = st
            .nets
            .values()
            .flat_map(|n| n.subnets.iter().map(|s| s.subnet))
            .collect();
        let ipam_req = v4_reqs.first().cloned().unwrap_or_default();
        let plan = ipam::plan(&ipam_req, &self.cfg.pools, &taken, &routes)?;
        let ipv6 = if req.ipv6 {
            let taken6: Vec<ipam::Subnet6Plan> = st.nets.values().filter_map(|n| n.ipv6.clone()).collect();
            Some(ipam::plan6(v6_reqs.first(), &taken6)?)
        } else {
            None
        };
        let mut echo = BTreeMap::new();
        match &ipam_req.subnet {
            Some(s) if !s.is_empty() => {
                echo.insert("Subnet".to_string(), serde_json::json!(s));
                if let Some(r) = ipam_req.ip_range.as_ref().filter(|r| !r.is_empty()) {
                    echo.insert("IPRange".to_string(), serde_json::json!(r));
                }
                if let Some(g) = ipam_req.gateway.as_ref().filter(|g| !g.is_empty()) {
                    echo.insert("Gateway".to_string(), serde_json::json!(g));
                }
                if !ipam_req.aux.is_empty() {
                    echo.insert("AuxiliaryAddresses".to_string(), serde_json::json!(ipam_req.aux));
                }
            }
            _ => {
                echo.insert("Subnet".to_string(), serde_json::json!(plan.subnet.to_string()));
                echo.insert("Gateway".to_string(), serde_json::json!(plan.gateway.to_string()));
            }
        }
        let mut ipam_config = vec![echo];
        if let Some(p6) = &ipv6 {
            let mut echo6 = BTreeMap::new();
            match v6_reqs.first() {
                Some(r6) => {
                    echo6.insert("Subnet".to_string(), serde_json::json!(r6.subnet));
                    if let Some(g) = r6.gateway.as_ref().filter(|g| !g.is_empty()) {
                        echo6.insert("Gateway".to_string(), serde_json::json!(g));
                    }
                }
                None => {
                    echo6.insert("Subnet".to_string(), serde_json::json!(p6.subnet_string()));
                    echo6.insert("Gateway".to_string(), serde_json::json!(p6.gateway.to_string()));
                }
            }
            // As requested: a v6 entry given first stays first.
            if req.ipam.first().is_some_and(is_v6) {
                ipam_config.insert(0, echo6);
            } else {
                ipam_config.push(echo6);
            }
        }
        let id = new_id();
        let interface = req
            .options
            .get("com.docker.network.bridge.name")
            .cloned()
            .unwrap_or_else(|| format!("br-{}", &id[..12]));
        if interface.len() > 15 || interface.is_empty() {
            return Err(NetworkError::Invalid(format!("invalid bridge name {interface:?}")));
        }
        if st.nets.values().any(|n| n.interface == interface) {
            return Err(NetworkError::Invalid(format!(
                "bridge name {interface} is already used by another network"
            )));
        }
        let rec = NetworkRecord {
            id,
            name: req.name,
            driver: "bridge".to_string(),
            created: pier_time::now_nanos(),
            interface,
            subnets: vec![plan],
            ipv6,
            ipam_config,
            ipam_options: req.ipam_options,
            internal: req.internal,
            attachable: req.attachable,
            dns: true,
            options: req.options,
            labels: req.labels,
        };
        self.save(&rec)?;
        st.nets.insert(rec.id.clone(), rec.clone());
        Ok(rec)
    }

    /// Remove a user network; refused for predefined ones and while a
    /// container has an interface on it.
    pub fn remove(&self, key: &str) -> Result<NetworkRecord, NetworkError> {
        let mut st = self.lock();
        let rec = find(&st.nets, key)?.clone();
        if rec.is_predefined() {
            return Err(NetworkError::PredefinedRemove(rec.name));
        }
        if st
            .attached
            .values()
            .any(|a| a.endpoints.iter().any(|e| e.network_id == rec.id))
        {
            return Err(NetworkError::InUse {
                name: rec.name,
                id: rec.id,
            });
        }
        let path = self.cfg.dir.join(format!("{}.json", rec.id));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("remove", &path, e)),
        }
        st.nets.remove(&rec.id);
        Ok(rec)
    }
}

pub(super) fn find<'a>(
    nets: &'a BTreeMap<String, NetworkRecord>,
    key: &str,
) -> Result<&'a NetworkRecord, NetworkError> {
    if key.is_empty() {
        return Err(NetworkError::NotFound(key.to_string()));
    }
    if let Some(n) = nets.get(key) {
        return Ok(n);
    }
    if let Some(n) = nets.values().find(|n| n.name == key) {
        return Ok(n);
    }
    let mut found = nets.values().filter(|n| n.id.starts_with(key));
    match (found.next(), found.next()) {
        (Some(n), None) => Ok(n),
        (Some(_), Some(_)) => Err(NetworkError::Ambiguous(key.to_string())),
        _ => Err(NetworkError::NotFound(key.to_string())),
    }
}

pub(super) fn read_file(file: &Path) -> Option<AttachmentFile> {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %file.display(), error = %e, "read network attachment");
            return None;
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(f) => Some(f),
        Err(e) => {
            tracing::warn!(path = %file.display(), error = %e, "malformed network attachment");
            None
        }
    }
}

pub(super) fn write_file(file: &Path, record: &AttachmentFile, durable: bool) -> Result<(), NetworkError> {
    let bytes = serde_json::to_vec_pretty(record).map_err(|e| io_err("encode", file, e))?;
    let written = if durable {
        crate::record::write_atomic(file, &bytes)
    } else {
        crate::record::write_replace(file, &bytes, crate::private::RECORD)
    };
    written.map_err(|e| io_err("write", file, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend that is never run (these tests do not attach).
    #[derive(Debug)]
    struct Unused;

    impl NetworkBackend for Unused {
        fn name(&self) -> &'static str {
            "unused"
        }
        fn render(&self, _: &Attachment, _: &[&NetworkRecord]) -> Result<serde_json::Value, BackendError> {
            Ok(serde_json::Value::Null)
        }
        fn setup(&self, _: &Path, _: &serde_json::Value) -> Result<super::super::backend::SetupStatus, BackendError> {
            Err(BackendError::Input("not here".into()))
        }
        fn teardown(&self, _: &Path, _: &serde_json::Value) -> Result<(), BackendError> {
            Ok(())
        }
    }

    fn open(dir: &Path, bridge: bool) -> Networks {
        Networks::open(NetworksConfig {
            dir: dir.join("networks"),
            netns_dir: dir.join("netns"),
            bridge: bridge.then(|| BridgeConfig {
                interface: "ptest0".into(),
                subnet: "10.77.0.0/16".parse().expect("subnet"),
                gateway: "10.77.0.1".parse().expect("ip"),
            }),
            pools: vec![Pool {
                base: "10.78.0.0/16".parse().expect("pool"),
                size: 24,
            }],
            backend: Ok(Arc::new(Unused)),
            ephemeral: (40000, 40100),
            cni: Cni {
                cfg: super::super::cni::CniConfig {
                    conf_dir: dir.join("net.d"),
                    bin_dirs: Vec::new(),
                },
            },
        })
        .expect("open")
    }

    fn create(n: &Networks, name: &str) -> Result<NetworkRecord, NetworkError> {
        n.create(CreateNetwork {
            name: name.into(),
            ..Default::default()
        })
    }

    #[test]
    fn predefined_networks_persist_and_refuse() {
        let tmp = tempfile::tempdir().expect("tmp");
        let n = open(tmp.path(), true);
        let names: Vec<String> = n.list().into_iter().map(|r| r.name).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        let bridge = n.get("bridge").expect("bridge");
        assert_eq!(bridge.interface, "ptest0");
        assert!(!bridge.dns);
        assert!(matches!(create(&n, "bridge"), Err(NetworkError::PredefinedCreate(_))));
        assert!(matches!(n.remove("host"), Err(NetworkError::PredefinedRemove(_))));
        // Ids are kept across restarts; without a default bridge there is none.
        drop(n);
        let again = open(tmp.path(), true);
        assert_eq!(again.get("bridge").expect("bridge").id, bridge.id);
        let without = open(tmp.path(), false);
        assert!(matches!(without.get("bridge"), Err(NetworkError::NotFound(_))));
        assert!(without.get("none").is_ok());
    }

    #[test]
    fn user_networks_from_the_pool() {
        let tmp = tempfile::tempdir().expect("tmp");
        let n = open(tmp.path(), true);
        let a = create(&n, "a").expect("a");
        assert_eq!(a.subnets[0].subnet.to_string(), "10.78.0.0/24");
        assert_eq!(a.interface, format!("br-{}", &a.id[..12]));
        assert!(a.dns);
        let b = create(&n, "b").expect("b");
        assert_eq!(b.subnets[0].subnet.to_string(), "10.78.1.0/24");
        assert!(matches!(create(&n, "a"), Err(NetworkError::Exists(_))));
        let bad = n.create(CreateNetwork {
            name: "c".into(),
            driver: "overlay".into(),
            ..Default::default()
        });
        assert_eq!(bad.expect_err("refused").to_string(), "plugin \"overlay\" not found");
        // By id prefix, then removed; the record file goes with it.
        assert_eq!(n.get(&a.id[..8]).expect("prefix").name, "a");
        n.remove("a").expect("remove");
        assert!(!tmp.path().join(format!("networks/{}.json", a.id)).exists());
        // A restart sees b, and a's subnet is free again.
        drop(n);
        let n = open(tmp.path(), true);
        assert!(n.get("b").is_ok());
        assert_eq!(
            create(&n, "c").expect("c").subnets[0].subnet.to_string(),
            "10.78.0.0/24"
        );
    }

    #[test]
    fn ipv6_networks() {
        let tmp = tempfile::tempdir().expect("tmp");
        let n = open(tmp.path(), true);
        let v6 = |subnet: &str| IpamRequest {
            subnet: Some(subnet.into()),
            ..Default::default()
        };
        // A v6 subnet without --ipv6 is refused.
        let refused = n.create(CreateNetwork {
            name: "x".into(),
            ipam: vec![v6("fd00:10:20::/64")],
            ..Default::default()
        });
        assert!(refused
            .expect_err("refused")
            .to_string()
            .contains("IPv6 is not enabled"));
        let a = n
            .create(CreateNetwork {
                name: "a".into(),
                ipv6: true,
                ipam: vec![v6("fd00:10:20::/64")],
                ..Default::default()
            })
            .expect("a");
        let p6 = a.ipv6.clone().expect("v6 plan");
        assert_eq!(p6.subnet_string(), "fd00:10:20::/64");
        // The IPv4 subnet still comes from the pool; inspect echoes both.
        assert_eq!(a.subnets[0].subnet.to_string(), "10.78.0.0/24");
        assert_eq!(a.ipam_config.len(), 2);
        assert_eq!(a.ipam_config[0]["Subnet"], "fd00:10:20::/64");
        // Overlapping v6 subnets are refused; --ipv6 alone gets a ULA /64.
        assert!(n
            .create(CreateNetwork {
                name: "b".into(),
                ipv6: true,
                ipam: vec![v6("fd00:10:20::/56")],
                ..Default::default()
            })
            .is_err());
        let c = n
            .create(CreateNetwork {
                name: "c".into(),
                ipv6: true,
                ..Default::default()
            })
            .expect("c");
        assert!(c.ipv6.expect("ula").subnet_string().starts_with("fd"));
        // Records written before the field existed still load.
        drop(n);
        let n = open(tmp.path(), true);
        assert_eq!(n.get("a").expect("a").ipv6, Some(p6));
        assert_eq!(n.get("bridge").expect("bridge").ipv6, None);
    }
}
