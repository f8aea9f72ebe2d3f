//! The networks pierd knows and the containers attached to them: records
//! under `<data-root>/networks/<id>.json`, attachments in each container's
//! `network.json`, and in memory the union of both (one mutex, held for
//! lookups and allocations only, never while netavark runs). Blocking.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::backend::{BackendError, NetworkBackend};
use super::cni::{self, Cni, CniError};
use super::ipam::{self, IpamError, IpamRequest, Pool, SubnetPlan};
use super::netns::{self, NetnsError};
use super::ports::{self, PortError, PortMapping};
use super::subnet::Ipv4Net;
use super::{AttachRequest, Attachment, AttachmentFile, Endpoint, NetworkRecord, BRIDGE, HOST, NONE};

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

fn io_err(op: &'static str, path: &Path, e: impl std::fmt::Display) -> NetworkError {
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
struct State {
    nets: BTreeMap<String, NetworkRecord>,
    /// By container id: set up (or being set up) and not torn down.
    attached: BTreeMap<String, Attachment>,
}

/// The daemon's networks.
#[derive(Debug)]
pub struct Networks {
    cfg: NetworksConfig,
    state: Mutex<State>,
}

mod pod;

fn new_id() -> String {
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

    fn lock(&self) -> MutexGuard<'_, State> {
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
        if req.ipv6 {
            return Err(NetworkError::Invalid(
                "IPv6 networks are not supported by Pier yet".to_string(),
            ));
        }
        if req.ipam.len() > 1 {
            return Err(NetworkError::Invalid(
                "Pier supports one IPv4 subnet per network".to_string(),
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
        let ipam_req = req.ipam.first().cloned().unwrap_or_default();
        let plan = ipam::plan(&ipam_req, &self.cfg.pools, &taken, &routes)?;
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
            ipam_config: vec![echo],
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

    /// Register an attachment found on disk at start (its container runs,
    /// or its teardown is still due).
    pub fn restore(&self, file: &Path) -> Option<Attachment> {
        let loaded = read_file(file)?;
        let a = loaded.attachment;
        self.lock().attached.insert(a.container_id.clone(), a.clone());
        Some(a)
    }

    /// Plumb a container: allocate its address and ports, persist the
    /// attachment (`file`), create its namespace, run the backend's setup.
    /// On any failure everything is undone before the error returns.
    pub fn attach(&self, req: &AttachRequest, file: &Path) -> Result<Attachment, NetworkError> {
        let backend = self
            .cfg
            .backend
            .as_ref()
            .map_err(|why| NetworkError::Unavailable(why.clone()))?
            .clone();
        let netns_path = self.cfg.netns_dir.join(&req.container_id);
        let (attachment, input, names) = {
            let mut st = self.lock();
            if st.attached.contains_key(&req.container_id) {
                return Err(NetworkError::Invalid(format!(
                    "container {} is already attached",
                    req.container_id
                )));
            }
            let net = find(&st.nets, &req.network)?.clone();
            if !net.is_bridge() {
                return Err(NetworkError::Invalid(format!(
                    "network {} cannot be joined this way",
                    net.name
                )));
            }
            let plan = net
                .subnets
                .first()
                .ok_or_else(|| NetworkError::Invalid(format!("network {} has no subnet", net.name)))?;
            let used: BTreeSet<Ipv4Addr> = st
                .attached
                .values()
                .flat_map(|a| a.endpoints.iter())
                .filter(|e| e.network_id == net.id)
                .map(|e| e.ip)
                .collect();
            let ip = plan.allocate(&net.name, &used, req.ipv4)?;
            let taken: Vec<PortMapping> = st.attached.values().flat_map(|a| a.ports.iter().cloned()).collect();
            let mut start = |a: u16, b: u16| rand::random_range(a..=b);
            let mut probe = host_can_bind;
            let mapped =
                ports::allocate(&req.ports, &taken, self.cfg.ephemeral, &mut start, &mut probe).map_err(|source| {
                    NetworkError::Ports {
                        endpoint: req.container_name.clone(),
                        source,
                    }
                })?;
            let mut aliases = Vec::new();
            if net.dns {
                aliases.push(req.container_id.chars().take(12).collect::<String>());
                for a in &req.aliases {
                    if !aliases.contains(a) && *a != req.container_name {
                        aliases.push(a.clone());
                    }
                }
            }
            let a = Attachment {
                container_id: req.container_id.clone(),
                container_name: req.container_name.clone(),
                netns: netns_path.clone(),
                endpoints: vec![Endpoint {
                    network_id: net.id.clone(),
                    network_name: net.name.clone(),
                    endpoint_id: new_id(),
                    interface: "eth0".to_string(),
                    ip,
                    prefix_len: plan.subnet.prefix(),
                    gateway: plan.gateway,
                    mac: req.mac.clone(),
                    aliases,
                }],
                ports: mapped,
            };
            let input = backend.render(&a, &[&net])?;
            st.attached.insert(a.container_id.clone(), a.clone());
            (a, input, net.name)
        };
        let undo_registration = || {
            self.lock().attached.remove(&req.container_id);
        };
        let record = AttachmentFile {
            attachment: attachment.clone(),
            backend: backend.name().to_string(),
            input: input.clone(),
        };
        if let Err(e) = write_file(file, &record, true) {
            undo_registration();
            return Err(e);
        }
        let undo_all = |why: &dyn std::fmt::Display| {
            tracing::debug!(id = %req.container_id, error = %why, "undo a failed network setup");
            if let Err(e) = backend.teardown(&netns_path, &input) {
                tracing::debug!(id = %req.container_id, error = %e, "teardown after a failed setup");
            }
            if let Err(e) = netns::remove(&netns_path) {
                tracing::warn!(id = %req.container_id, error = %e, "remove network namespace");
            }
            let _ = std::fs::remove_file(file);
            undo_registration();
        };
        // A namespace file left by a crash before the previous teardown.
        if let Err(e) = netns::remove(&netns_path).and_then(|()| netns::create(&netns_path)) {
            let _ = std::fs::remove_file(file);
            undo_registration();
            return Err(e.into());
        }
        let status = match backend.setup(&netns_path, &input) {
            Ok(s) => s,
            Err(e) => {
                undo_all(&e);
                return Err(e.into());
            }
        };
        let mut attachment = attachment;
        for ep in &mut attachment.endpoints {
            if let Some(mac) = status.macs.get(&(names.clone(), ep.interface.clone())) {
                ep.mac = Some(mac.clone());
            }
        }
        let record = AttachmentFile {
            attachment: attachment.clone(),
            backend: backend.name().to_string(),
            input,
        };
        // The MACs only: a crash losing them loses nothing a teardown needs.
        if let Err(e) = write_file(file, &record, false) {
            tracing::warn!(id = %req.container_id, error = %e, "record the MAC addresses");
        }
        self.lock()
            .attached
            .insert(attachment.container_id.clone(), attachment.clone());
        Ok(attachment)
    }

    /// Tear down a container's networking if it has any (idempotent): the
    /// backend's teardown with the recorded input, the namespace file, the
    /// attachment file; its address and ports are free after.
    pub fn release(&self, container_id: &str, file: &Path) -> Result<(), NetworkError> {
        let Some(record) = read_file(file) else {
            self.lock().attached.remove(container_id);
            return Ok(());
        };
        let netns_path = record.attachment.netns.clone();
        match &self.cfg.backend {
            // A failed DEL keeps the attachment: the next release retries.
            _ if record.backend == cni::BACKEND => self.teardown_pod(container_id, &record)?,
            Ok(b) if b.name() == record.backend => {
                if let Err(e) = b.teardown(&netns_path, &record.input) {
                    tracing::warn!(id = %container_id, error = %e, "network teardown");
                }
            }
            Ok(b) => tracing::warn!(
                id = %container_id,
                recorded = %record.backend,
                running = b.name(),
                "attachment made by another backend: not torn down"
            ),
            Err(why) => tracing::warn!(id = %container_id, why = %why, "no network backend for the teardown"),
        }
        netns::remove(&netns_path)?;
        match std::fs::remove_file(file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("remove", file, e)),
        }
        self.lock().attached.remove(container_id);
        Ok(())
    }
}

fn find<'a>(nets: &'a BTreeMap<String, NetworkRecord>, key: &str) -> Result<&'a NetworkRecord, NetworkError> {
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

fn read_file(file: &Path) -> Option<AttachmentFile> {
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

fn write_file(file: &Path, record: &AttachmentFile, durable: bool) -> Result<(), NetworkError> {
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
                cfg: cni::CniConfig {
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
}
