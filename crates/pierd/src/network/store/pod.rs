//! Pod attachments: a CRI sandbox's network through the CNI backend, kept
//! in the same `network.json` and torn down by the same `release` as the
//! netavark attachments (its backend is recorded as `cni`).

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use super::super::cni::{self, CniError, CniInput, PodNetwork};
use super::super::netns;
use super::super::ports::{PortMapping, Proto};
use super::{new_id, read_file, write_file, NetworkError, Networks};
use crate::network::{Attachment, AttachmentFile, Endpoint};

/// The pod's endpoint (the first IPv4 address of its result, if any).
fn endpoint(input: &CniInput) -> Option<Endpoint> {
    let result = input.pod_result()?;
    let ips = cni::result::pod_ips(result, cni::IFNAME);
    let v4 = ips.iter().find_map(|ip| match ip.addr {
        IpAddr::V4(a) => Some((a, ip)),
        IpAddr::V6(_) => None,
    })?;
    let name = input.pod_network_name().to_string();
    Some(Endpoint {
        network_id: format!("{}:{name}", cni::BACKEND),
        network_name: name,
        endpoint_id: new_id(),
        interface: cni::IFNAME.to_string(),
        ip: v4.0,
        prefix_len: v4.1.prefix_len,
        gateway: match v4.1.gateway {
            Some(IpAddr::V4(g)) => g,
            _ => Ipv4Addr::UNSPECIFIED,
        },
        ipv6: None,
        mac: v4.1.mac.clone(),
        aliases: Vec::new(),
    })
}

impl Networks {
    /// Why pods cannot get a network now, if they cannot.
    pub fn pod_network_unavailable(&self) -> Option<String> {
        self.cfg.cni.network().err().map(|e| e.to_string())
    }

    /// Plumb a pod's sandbox container through CNI: persist the input,
    /// create the namespace, ADD loopback and the pod network, persist the
    /// results. On any failure everything is undone (DEL, namespace, file)
    /// before the error returns.
    pub fn attach_pod(
        &self,
        container_id: &str,
        container_name: &str,
        pod: &PodNetwork,
        file: &Path,
    ) -> Result<Attachment, NetworkError> {
        let list = self.cfg.cni.network()?;
        let netns_path = self.cfg.netns_dir.join(container_id);
        let mut input = cni::render(list, pod, container_id, &netns_path);
        let ports: Vec<PortMapping> = pod
            .port_mappings
            .iter()
            .map(|p| PortMapping {
                host_ip: p.host_ip.clone(),
                host_port: p.host_port,
                container_port: p.container_port,
                proto: Proto::parse(&p.protocol).unwrap_or(Proto::Tcp),
            })
            .collect();
        let mut attachment = Attachment {
            container_id: container_id.to_string(),
            container_name: container_name.to_string(),
            netns: netns_path.clone(),
            endpoints: Vec::new(),
            ports,
        };
        {
            let mut st = self.lock();
            if st.attached.contains_key(container_id) {
                return Err(NetworkError::Invalid(format!(
                    "container {container_id} is already attached"
                )));
            }
            st.attached.insert(container_id.to_string(), attachment.clone());
        }
        let undo_registration = || {
            self.lock().attached.remove(container_id);
        };
        let record = |a: &Attachment, input: &CniInput| AttachmentFile {
            attachment: a.clone(),
            backend: cni::BACKEND.to_string(),
            input: serde_json::to_value(input).unwrap_or(serde_json::Value::Null),
            more: Vec::new(),
        };
        if let Err(e) = write_file(file, &record(&attachment, &input), true) {
            undo_registration();
            return Err(e);
        }
        let undo_all = |input: &CniInput, why: &dyn std::fmt::Display| {
            tracing::debug!(id = %container_id, error = %why, "undo a failed pod network setup");
            if let Err(e) = self.cfg.cni.del(input) {
                tracing::warn!(id = %container_id, error = %e, "CNI DEL after a failed ADD");
            }
            if let Err(e) = netns::remove(&netns_path) {
                tracing::warn!(id = %container_id, error = %e, "remove network namespace");
            }
            let _ = std::fs::remove_file(file);
            undo_registration();
        };
        if let Err(e) = netns::remove(&netns_path).and_then(|()| netns::create(&netns_path)) {
            let _ = std::fs::remove_file(file);
            undo_registration();
            return Err(e.into());
        }
        if let Err(e) = self.cfg.cni.add(&mut input) {
            undo_all(&input, &e);
            return Err(e.into());
        }
        attachment.endpoints.extend(endpoint(&input));
        // Durable: DEL's prevResult.
        if let Err(e) = write_file(file, &record(&attachment, &input), true) {
            undo_all(&input, &e);
            return Err(e);
        }
        self.lock()
            .attached
            .insert(container_id.to_string(), attachment.clone());
        Ok(attachment)
    }

    /// The CNI DEL of a recorded pod attachment.
    pub(in crate::network) fn teardown_pod(
        &self,
        container_id: &str,
        record: &AttachmentFile,
    ) -> Result<(), NetworkError> {
        let input: CniInput =
            serde_json::from_value(record.input.clone()).map_err(|e| CniError::Record(e.to_string()))?;
        tracing::debug!(id = %container_id, "CNI DEL");
        self.cfg.cni.del(&input)?;
        Ok(())
    }

    /// The pod's addresses from its attachment file (IPv4 first), while
    /// it has one.
    pub fn pod_ips(&self, file: &Path) -> Vec<IpAddr> {
        let Some(record) = read_file(file).filter(|r| r.backend == cni::BACKEND) else {
            return Vec::new();
        };
        let Ok(input) = serde_json::from_value::<CniInput>(record.input) else {
            return Vec::new();
        };
        input
            .pod_result()
            .map(|r| {
                cni::result::pod_ips(r, cni::IFNAME)
                    .into_iter()
                    .map(|ip| ip.addr)
                    .collect()
            })
            .unwrap_or_default()
    }
}
