//! The netavark backend: the options document netavark reads on stdin
//! (built purely from an attachment and its networks), and the program run
//! as `netavark --config DIR [--aardvark-binary PATH] setup|teardown NETNS`.
//! netavark answers with JSON on stdout: per network, the interfaces made
//! (rc 0), or `{"error": "..."}` (rc 1). It allocates nothing and keeps no
//! state but aardvark-dns's files under DIR; a failed setup may leave
//! interfaces or rules behind, so the caller always tears down after one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::backend::{BackendError, NetworkBackend, SetupStatus};
use super::{Attachment, NetworkRecord};

/// netavark's `NetworkOptions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    pub container_id: String,
    pub container_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub port_mappings: Vec<PortMapping>,
    pub networks: BTreeMap<String, PerNetwork>,
    pub network_info: BTreeMap<String, Network>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    pub host_ip: String,
    pub container_port: u16,
    pub host_port: u16,
    pub range: u16,
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerNetwork {
    pub interface_name: String,
    pub static_ips: Vec<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_mac: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub id: String,
    pub driver: String,
    pub network_interface: String,
    pub subnets: Vec<Subnet>,
    pub ipv6_enabled: bool,
    pub internal: bool,
    pub dns_enabled: bool,
    pub ipam_options: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub subnet: String,
    pub gateway: String,
}

/// netavark's answer to a setup: per network, what it made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct StatusBlock {
    #[serde(default)]
    pub dns_server_ips: Vec<String>,
    #[serde(default)]
    pub dns_search_domains: Vec<String>,
    #[serde(default)]
    pub interfaces: BTreeMap<String, NetInterface>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct NetInterface {
    #[serde(default)]
    pub mac_address: String,
    #[serde(default)]
    pub subnets: Vec<NetAddress>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct NetAddress {
    pub ipnet: String,
    #[serde(default)]
    pub gateway: Option<String>,
}

/// The options document for `a` (its networks looked up in `networks`).
/// Networks are keyed by name, as netavark names aardvark's files.
pub fn options(a: &Attachment, networks: &[&NetworkRecord]) -> Options {
    let mut per = BTreeMap::new();
    let mut info = BTreeMap::new();
    for ep in &a.endpoints {
        let Some(net) = networks.iter().find(|n| n.id == ep.network_id) else {
            continue;
        };
        per.insert(
            net.name.clone(),
            PerNetwork {
                interface_name: ep.interface.clone(),
                static_ips: std::iter::once(ep.ip.to_string())
                    .chain(ep.ipv6.map(|v| v.ip.to_string()))
                    .collect(),
                aliases: ep.aliases.clone(),
                static_mac: ep.mac.clone(),
            },
        );
        let mut opts = BTreeMap::new();
        // docker's networks are isolated from each other.
        opts.insert("isolate".to_string(), "true".to_string());
        if let Some(mtu) = net.options.get("com.docker.network.driver.mtu") {
            opts.insert("mtu".to_string(), mtu.clone());
        }
        info.insert(
            net.name.clone(),
            Network {
                name: net.name.clone(),
                id: net.id.clone(),
                driver: "bridge".to_string(),
                network_interface: net.interface.clone(),
                subnets: net
                    .subnets
                    .iter()
                    .map(|s| Subnet {
                        subnet: s.subnet.to_string(),
                        gateway: s.gateway.to_string(),
                    })
                    .chain(net.ipv6.iter().map(|s| Subnet {
                        subnet: s.subnet_string(),
                        gateway: s.gateway.to_string(),
                    }))
                    .collect(),
                ipv6_enabled: net.ipv6.is_some(),
                internal: net.internal,
                dns_enabled: net.dns,
                ipam_options: [("driver".to_string(), "host-local".to_string())].into(),
                options: opts,
            },
        );
    }
    Options {
        container_id: a.container_id.clone(),
        container_name: a.container_name.clone(),
        port_mappings: a
            .ports
            .iter()
            .map(|p| PortMapping {
                host_ip: p.host_ip.clone(),
                container_port: p.container_port,
                host_port: p.host_port,
                range: 1,
                protocol: p.proto.as_str().to_string(),
            })
            .collect(),
        networks: per,
        network_info: info,
    }
}

/// [`options`] as the JSON value a backend persists.
pub fn render(a: &Attachment, networks: &[&NetworkRecord]) -> Result<serde_json::Value, BackendError> {
    serde_json::to_value(options(a, networks)).map_err(|e| BackendError::Input(e.to_string()))
}

/// netavark's stdout after a setup: the status per network, or its error.
pub fn parse_setup_output(stdout: &[u8]) -> Result<BTreeMap<String, StatusBlock>, String> {
    serde_json::from_slice(stdout).map_err(|_| error_of(stdout))
}

/// The error netavark printed (`{"error": "..."}`), else the raw text.
pub fn error_of(stdout: &[u8]) -> String {
    #[derive(Deserialize)]
    struct E {
        error: String,
    }
    match serde_json::from_slice::<E>(stdout) {
        Ok(e) => e.error,
        Err(_) => String::from_utf8_lossy(stdout).trim().to_string(),
    }
}

/// Runs the netavark program.
#[derive(Debug, Clone)]
pub struct Netavark {
    pub binary: PathBuf,
    pub aardvark: Option<PathBuf>,
    /// `--config`: where aardvark-dns keeps its files (under the exec root).
    pub config_dir: PathBuf,
}

impl Netavark {
    fn run(&self, verb: &str, netns: &Path, input: &serde_json::Value) -> Result<Vec<u8>, BackendError> {
        let bytes = serde_json::to_vec(input).map_err(|e| BackendError::Input(e.to_string()))?;
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--config").arg(&self.config_dir);
        if let Some(a) = &self.aardvark {
            cmd.arg("--aardvark-binary").arg(a);
        }
        cmd.arg(verb)
            .arg(netns)
            .env("RUST_LOG", "netavark=warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| BackendError::Spawn {
            binary: self.binary.clone(),
            source: e,
        })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A netavark that exits early closes its end: its answer says why.
            let _ = stdin.write_all(&bytes);
        }
        let out = child.wait_with_output().map_err(|e| BackendError::Spawn {
            binary: self.binary.clone(),
            source: e,
        })?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        let mut msg = error_of(&out.stdout);
        if msg.is_empty() {
            msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
        }
        Err(BackendError::Failed {
            verb: verb.to_string(),
            message: msg,
        })
    }
}

impl NetworkBackend for Netavark {
    fn name(&self) -> &'static str {
        "netavark"
    }

    fn render(&self, a: &Attachment, networks: &[&NetworkRecord]) -> Result<serde_json::Value, BackendError> {
        render(a, networks)
    }

    fn setup(&self, netns: &Path, input: &serde_json::Value) -> Result<SetupStatus, BackendError> {
        let out = self.run("setup", netns, input)?;
        let blocks = parse_setup_output(&out).map_err(|message| BackendError::Failed {
            verb: "setup".to_string(),
            message,
        })?;
        let mut status = SetupStatus::default();
        for (network, block) in blocks {
            for (iface, i) in block.interfaces {
                status.macs.insert((network.clone(), iface), i.mac_address);
            }
            status.dns_servers.extend(block.dns_server_ips);
        }
        Ok(status)
    }

    fn teardown(&self, netns: &Path, input: &serde_json::Value) -> Result<(), BackendError> {
        self.run("teardown", netns, input).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::ipam::SubnetPlan;
    use crate::network::ports::{PortMapping as Mapping, Proto};
    use crate::network::Endpoint;

    fn net() -> NetworkRecord {
        NetworkRecord {
            id: "b".repeat(64),
            name: "front".into(),
            driver: "bridge".into(),
            created: 0,
            interface: "br-bbbbbbbbbbbb".into(),
            subnets: vec![SubnetPlan {
                subnet: "10.213.5.0/24".parse().expect("subnet"),
                gateway: "10.213.5.1".parse().expect("ip"),
                ip_range: None,
                aux: BTreeMap::new(),
            }],
            ipv6: None,
            ipam_config: Vec::new(),
            ipam_options: BTreeMap::new(),
            internal: false,
            attachable: false,
            dns: true,
            options: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn options_document() {
        let a = Attachment {
            container_id: "a".repeat(64),
            container_name: "web".into(),
            netns: "/run/pier/netns/x".into(),
            endpoints: vec![Endpoint {
                network_id: "b".repeat(64),
                network_name: "front".into(),
                endpoint_id: "e".repeat(64),
                interface: "eth0".into(),
                ip: "10.213.5.2".parse().expect("ip"),
                prefix_len: 24,
                gateway: "10.213.5.1".parse().expect("ip"),
                ipv6: None,
                mac: None,
                aliases: vec!["web".into(), "www".into()],
            }],
            ports: vec![Mapping {
                host_ip: "127.0.0.1".into(),
                host_port: 18080,
                container_port: 80,
                proto: Proto::Tcp,
            }],
        };
        let n = net();
        let v = serde_json::to_value(options(&a, &[&n])).expect("json");
        let want = serde_json::json!({
            "container_id": "a".repeat(64),
            "container_name": "web",
            "port_mappings": [{"host_ip": "127.0.0.1", "container_port": 80, "host_port": 18080, "range": 1, "protocol": "tcp"}],
            "networks": {"front": {"interface_name": "eth0", "static_ips": ["10.213.5.2"], "aliases": ["web", "www"]}},
            "network_info": {"front": {
                "name": "front", "id": "b".repeat(64), "driver": "bridge", "network_interface": "br-bbbbbbbbbbbb",
                "subnets": [{"subnet": "10.213.5.0/24", "gateway": "10.213.5.1"}],
                "ipv6_enabled": false, "internal": false, "dns_enabled": true,
                "ipam_options": {"driver": "host-local"}, "options": {"isolate": "true"}
            }}
        });
        assert_eq!(v, want);
    }

    #[test]
    fn outputs() {
        let ok = br#"{"navt":{"dns_search_domains":["dns.podman"],"dns_server_ips":["10.213.77.1"],"interfaces":{"eth0":{"mac_address":"c2:1f:ce:56:0b:6f","subnets":[{"gateway":"10.213.77.1","ipnet":"10.213.77.2/24"}]}}}}"#;
        let parsed = parse_setup_output(ok).expect("parse");
        assert_eq!(parsed["navt"].interfaces["eth0"].mac_address, "c2:1f:ce:56:0b:6f");
        assert_eq!(parsed["navt"].dns_server_ips, ["10.213.77.1"]);
        let err = br#"{"error":"IO error: aardvark-dns failed to start"}"#;
        assert_eq!(
            parse_setup_output(err).expect_err("refused"),
            "IO error: aardvark-dns failed to start"
        );
        assert_eq!(error_of(b"plain words\n"), "plain words");
    }
}
