//! Container networking: pierd's network definitions, address and port
//! allocation, and the attachments of containers, plumbed by a
//! [`backend::NetworkBackend`] (netavark).
//!
//! Two backends: netavark for the Docker API's networks, CNI (`cni`) for
//! the CRI's pod networks; both attachments live in the same
//! `network.json` and go through the same lifecycle hooks.
//!
//! Parts: `subnet`, `ipam` and `ports` are pure (docker's default pools,
//! `--subnet/--ip-range/--gateway/--aux-address`, host ports from the
//! ephemeral range); `netavark` builds netavark's options document (pure)
//! and runs it; `netns` makes namespace files (the only syscalls);
//! `store` keeps networks and attachments on disk and in memory.
//!
//! What is allocated (addresses, host ports) is never stored apart from
//! the attachments: each container's `network.json` holds its endpoints,
//! its ports and the backend's exact input, written before the setup and
//! removed after the teardown, and pierd rebuilds its allocations from
//! those files at start, so a restart or a kill -9 loses nothing.

mod attach;
pub mod backend;
pub mod cni;
pub mod ipam;
pub mod native;
pub mod netavark;
pub mod netns;
pub mod ports;
pub mod store;
pub mod subnet;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use store::{BridgeConfig, CreateNetwork, NetworkError, Networks, NetworksConfig};

/// The predefined networks' names (not removable, not creatable).
pub const BRIDGE: &str = "bridge";
pub const HOST: &str = "host";
pub const NONE: &str = "none";

/// A network as pierd keeps it (`<data-root>/networks/<id>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    /// `bridge`, or `host`/`null` for the predefined pseudo-networks.
    pub driver: String,
    /// Unix nanoseconds.
    pub created: i64,
    /// The bridge device (`pier0`, `br-<12 hex>`); empty for host/none.
    pub interface: String,
    pub subnets: Vec<ipam::SubnetPlan>,
    /// The IPv6 subnet of a network created with `--ipv6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<ipam::Subnet6Plan>,
    /// `IPAM.Config` as inspect shows it: what was requested, or the
    /// subnet and gateway picked for a request that named none.
    #[serde(default)]
    pub ipam_config: Vec<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    pub ipam_options: BTreeMap<String, String>,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    /// Name resolution between its containers (aardvark-dns): user
    /// networks, not the default bridge.
    #[serde(default)]
    pub dns: bool,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl NetworkRecord {
    pub fn is_predefined(&self) -> bool {
        matches!(self.name.as_str(), BRIDGE | HOST | NONE)
    }

    /// Whether containers get interfaces on it (not host/none).
    pub fn is_bridge(&self) -> bool {
        self.driver == "bridge"
    }
}

/// One interface of a container on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub network_id: String,
    pub network_name: String,
    pub endpoint_id: String,
    /// In the container (`eth0`, `eth1`, ...).
    pub interface: String,
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Ipv4Addr,
    /// The address on the network's IPv6 subnet (`--ipv6` networks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Endpoint6>,
    /// Set by the setup (or requested).
    #[serde(default)]
    pub mac: Option<String>,
    /// Names it answers to besides the container's name (DNS networks).
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// An endpoint's IPv6 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint6 {
    pub ip: Ipv6Addr,
    pub prefix_len: u8,
    pub gateway: Ipv6Addr,
}

/// A container's network plumbing: what was set up, and what a teardown
/// needs. Persisted as `<container dir>/network.json` ([`AttachmentFile`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub container_id: String,
    pub container_name: String,
    /// The namespace file (`<exec-root>/netns/<id>`).
    pub netns: PathBuf,
    pub endpoints: Vec<Endpoint>,
    #[serde(default)]
    pub ports: Vec<ports::PortMapping>,
}

/// `network.json`: an attachment, the backend that set it up and that
/// backend's exact inputs: `input` for the first network and the published
/// ports (`null` once that network is disconnected, or when the container
/// started on no network), `more` for each other network, set up (at
/// start or by a live connect) and torn down on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachmentFile {
    pub attachment: Attachment,
    pub backend: String,
    pub input: serde_json::Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more: Vec<NetworkInput>,
}

/// The backend's input for one more network of an attachment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkInput {
    pub network_id: String,
    pub input: serde_json::Value,
}

/// One network a container asks to join.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndpointRequest {
    /// The network's name or id (`bridge` for the default one).
    pub network: String,
    pub aliases: Vec<String>,
    pub ipv4: Option<Ipv4Addr>,
    /// `--ip6` / `IPAMConfig.IPv6Address`.
    pub ipv6: Option<Ipv6Addr>,
    pub mac: Option<String>,
}

/// What a container asks of the network at start: its networks (the
/// first gets the published ports; none: a namespace with loopback only,
/// which a live connect can join later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachRequest {
    pub container_id: String,
    pub container_name: String,
    pub networks: Vec<EndpointRequest>,
    pub ports: Vec<ports::PortRequest>,
}
