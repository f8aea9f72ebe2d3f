//! Attachments: a container's endpoints set up at start (`attach`), one
//! network more or less while it runs (`connect`, `disconnect`), and the
//! teardown of all of it (`release`). Blocking; the networks mutex is held
//! for lookups and allocations only, never while the backend runs.
//!
//! Each network is set up by its own backend input: the first network
//! with the published ports (`AttachmentFile::input`), every other one
//! alone (`AttachmentFile::more`), so that one network can be torn down
//! without touching the others. The file is written (fsynced) before a
//! setup and after a teardown, so a crash leaves at most a teardown to
//! replay.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;

use super::backend::NetworkBackend;
use super::netns;
use super::ports::{self, PortMapping};
use super::store::{find, host_can_bind, new_id, read_file, write_file, State};
use super::{
    AttachRequest, Attachment, AttachmentFile, Endpoint, EndpointRequest, NetworkError, NetworkInput, NetworkRecord,
    Networks,
};

/// `a` restricted to one endpoint (and its ports, for the first network).
fn part(a: &Attachment, ep: &Endpoint, with_ports: bool) -> Attachment {
    Attachment {
        container_id: a.container_id.clone(),
        container_name: a.container_name.clone(),
        netns: a.netns.clone(),
        endpoints: vec![ep.clone()],
        ports: if with_ports { a.ports.clone() } else { Vec::new() },
    }
}

/// The inputs of a record in setup order.
fn inputs(record: &AttachmentFile) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    if !record.input.is_null() {
        all.push(record.input.clone());
    }
    all.extend(record.more.iter().map(|m| m.input.clone()));
    all
}

/// The endpoint of `container` on `net`: its address (requested or the
/// lowest free one) and, on DNS networks, its aliases (the short id first,
/// then the requested ones, as DNS names besides the container's name).
fn plan_endpoint(
    st: &State,
    net: &NetworkRecord,
    req: &EndpointRequest,
    container_id: &str,
    container_name: &str,
    interface: String,
) -> Result<Endpoint, NetworkError> {
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
    let ipv6 = match &net.ipv6 {
        Some(p6) => {
            let used6: BTreeSet<Ipv6Addr> = st
                .attached
                .values()
                .flat_map(|a| a.endpoints.iter())
                .filter(|e| e.network_id == net.id)
                .filter_map(|e| e.ipv6.map(|v| v.ip))
                .collect();
            Some(super::Endpoint6 {
                ip: p6.allocate(&net.name, &used6, req.ipv6)?,
                prefix_len: p6.prefix,
                gateway: p6.gateway,
            })
        }
        None => None,
    };
    let mut aliases = Vec::new();
    if net.dns {
        aliases.push(container_id.chars().take(12).collect::<String>());
        for a in &req.aliases {
            if !aliases.contains(a) && a != container_name {
                aliases.push(a.clone());
            }
        }
    }
    Ok(Endpoint {
        network_id: net.id.clone(),
        network_name: net.name.clone(),
        endpoint_id: new_id(),
        interface,
        ip,
        prefix_len: plan.subnet.prefix(),
        gateway: plan.gateway,
        ipv6,
        // docker's classic MAC from the address (02:42 + the IPv4 bytes):
        // the same address after a restart gives the same MAC.
        mac: Some(req.mac.clone().unwrap_or_else(|| mac_of(ip))),
        aliases,
    })
}

/// `02:42:a:b:c:d` for `a.b.c.d`, as dockerd before v26 derived it.
pub fn mac_of(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("02:42:{a:02x}:{b:02x}:{c:02x}:{d:02x}")
}

/// The MAC addresses a setup reported, written into the endpoints.
fn apply_macs(endpoints: &mut [Endpoint], status: &super::backend::SetupStatus) {
    for ep in endpoints {
        if let Some(mac) = status.macs.get(&(ep.network_name.clone(), ep.interface.clone())) {
            ep.mac = Some(mac.clone());
        }
    }
}

impl Networks {
    fn backend(&self) -> Result<Arc<dyn NetworkBackend>, NetworkError> {
        self.cfg
            .backend
            .as_ref()
            .map_err(|why| NetworkError::Unavailable(why.clone()))
            .cloned()
    }

    /// Register an attachment found on disk at start (its container runs,
    /// or its teardown is still due).
    pub fn restore(&self, file: &Path) -> Option<Attachment> {
        let loaded = read_file(file)?;
        let a = loaded.attachment;
        self.lock().attached.insert(a.container_id.clone(), a.clone());
        Some(a)
    }

    /// Plumb a container: allocate its addresses and ports, persist the
    /// attachment (`file`), create its namespace, run the backend's setup
    /// per network. On any failure everything is undone before the error
    /// returns.
    pub fn attach(&self, req: &AttachRequest, file: &Path) -> Result<Attachment, NetworkError> {
        let backend = self.backend()?;
        let netns_path = self.cfg.netns_dir.join(&req.container_id);
        let record = {
            let mut st = self.lock();
            if st.attached.contains_key(&req.container_id) {
                return Err(NetworkError::Invalid(format!(
                    "container {} is already attached",
                    req.container_id
                )));
            }
            let mut endpoints = Vec::new();
            let mut nets: Vec<NetworkRecord> = Vec::new();
            for r in &req.networks {
                let net = find(&st.nets, &r.network)?.clone();
                if nets.iter().any(|n| n.id == net.id) {
                    continue;
                }
                let iface = format!("eth{}", endpoints.len());
                endpoints.push(plan_endpoint(
                    &st,
                    &net,
                    r,
                    &req.container_id,
                    &req.container_name,
                    iface,
                )?);
                nets.push(net);
            }
            let mapped = if endpoints.is_empty() {
                Vec::new()
            } else {
                let taken: Vec<PortMapping> = st.attached.values().flat_map(|a| a.ports.iter().cloned()).collect();
                let mut start = |a: u16, b: u16| rand::random_range(a..=b);
                let mut probe = host_can_bind;
                ports::allocate(&req.ports, &taken, self.cfg.ephemeral, &mut start, &mut probe).map_err(|source| {
                    NetworkError::Ports {
                        endpoint: req.container_name.clone(),
                        source,
                    }
                })?
            };
            let a = Attachment {
                container_id: req.container_id.clone(),
                container_name: req.container_name.clone(),
                netns: netns_path.clone(),
                endpoints,
                ports: mapped,
            };
            let mut input = serde_json::Value::Null;
            let mut more = Vec::new();
            for (i, (ep, net)) in a.endpoints.iter().zip(&nets).enumerate() {
                let rendered = backend.render(&part(&a, ep, i == 0), &[net])?;
                if i == 0 {
                    input = rendered;
                } else {
                    more.push(NetworkInput {
                        network_id: net.id.clone(),
                        input: rendered,
                    });
                }
            }
            st.attached.insert(a.container_id.clone(), a.clone());
            AttachmentFile {
                attachment: a,
                backend: backend.name().to_string(),
                input,
                more,
            }
        };
        let undo_registration = || {
            self.lock().attached.remove(&req.container_id);
        };
        if let Err(e) = write_file(file, &record, true) {
            undo_registration();
            return Err(e);
        }
        // A namespace file left by a crash before the previous teardown.
        if let Err(e) = netns::remove(&netns_path).and_then(|()| netns::create(&netns_path)) {
            let _ = std::fs::remove_file(file);
            undo_registration();
            return Err(e.into());
        }
        let all = inputs(&record);
        let mut record = record;
        for (done, input) in all.iter().enumerate() {
            match backend.setup(&netns_path, input) {
                Ok(status) => apply_macs(&mut record.attachment.endpoints, &status),
                Err(e) => {
                    tracing::debug!(id = %req.container_id, error = %e, "undo a failed network setup");
                    for input in all[..=done].iter().rev() {
                        if let Err(e) = backend.teardown(&netns_path, input) {
                            tracing::debug!(id = %req.container_id, error = %e, "teardown after a failed setup");
                        }
                    }
                    if let Err(e) = netns::remove(&netns_path) {
                        tracing::warn!(id = %req.container_id, error = %e, "remove network namespace");
                    }
                    let _ = std::fs::remove_file(file);
                    undo_registration();
                    return Err(e.into());
                }
            }
        }
        // The MACs only: a crash losing them loses nothing a teardown needs.
        if let Err(e) = write_file(file, &record, false) {
            tracing::warn!(id = %req.container_id, error = %e, "record the MAC addresses");
        }
        let attachment = record.attachment;
        self.lock()
            .attached
            .insert(attachment.container_id.clone(), attachment.clone());
        Ok(attachment)
    }

    /// Connect a running container (attached, its namespace at hand) to one
    /// more network: the next free `ethN`, set up alone.
    pub fn connect(&self, container_id: &str, req: &EndpointRequest, file: &Path) -> Result<Endpoint, NetworkError> {
        let backend = self.backend()?;
        let (ep, net, input, netns_path) = {
            let mut st = self.lock();
            let net = find(&st.nets, &req.network)?.clone();
            let a =
                st.attached.get(container_id).cloned().ok_or_else(|| {
                    NetworkError::Invalid(format!("container {container_id} has no network namespace"))
                })?;
            if a.endpoints.iter().any(|e| e.network_id == net.id) {
                return Err(NetworkError::EndpointExists {
                    name: a.container_name.clone(),
                    network: net.name.clone(),
                });
            }
            let iface = (0..u32::MAX)
                .map(|i| format!("eth{i}"))
                .find(|n| !a.endpoints.iter().any(|e| &e.interface == n))
                .unwrap_or_default();
            let ep = plan_endpoint(&st, &net, req, &a.container_id, &a.container_name, iface)?;
            let input = backend.render(&part(&a, &ep, false), &[&net])?;
            if let Some(x) = st.attached.get_mut(container_id) {
                x.endpoints.push(ep.clone());
            }
            (ep, net, input, a.netns.clone())
        };
        let forget = || {
            if let Some(x) = self.lock().attached.get_mut(container_id) {
                x.endpoints.retain(|e| e.endpoint_id != ep.endpoint_id);
            }
        };
        let Some(mut record) = read_file(file) else {
            forget();
            return Err(NetworkError::Invalid(format!(
                "container {container_id} has no network namespace"
            )));
        };
        let before = record.clone();
        record.attachment.endpoints.push(ep.clone());
        record.more.push(NetworkInput {
            network_id: net.id.clone(),
            input: input.clone(),
        });
        if let Err(e) = write_file(file, &record, true) {
            forget();
            return Err(e);
        }
        let status = match backend.setup(&netns_path, &input) {
            Ok(s) => s,
            Err(e) => {
                if let Err(e) = backend.teardown(&netns_path, &input) {
                    tracing::debug!(id = %container_id, error = %e, "teardown after a failed setup");
                }
                if let Err(e) = write_file(file, &before, true) {
                    tracing::warn!(id = %container_id, error = %e, "restore the network attachment");
                }
                forget();
                return Err(e.into());
            }
        };
        apply_macs(&mut record.attachment.endpoints, &status);
        if let Err(e) = write_file(file, &record, false) {
            tracing::warn!(id = %container_id, error = %e, "record the MAC addresses");
        }
        let ep = record
            .attachment
            .endpoints
            .iter()
            .find(|e| e.endpoint_id == ep.endpoint_id)
            .cloned()
            .unwrap_or(ep);
        self.lock()
            .attached
            .insert(container_id.to_string(), record.attachment.clone());
        Ok(ep)
    }

    /// Disconnect a running container from one network: that network's
    /// teardown (with the published ports when it is the first network).
    pub fn disconnect(&self, container_id: &str, network: &str, file: &Path) -> Result<(), NetworkError> {
        let backend = self.backend()?;
        let net = find(&self.lock().nets, network)?.clone();
        let not_connected = || NetworkError::NotConnected {
            container: container_id.to_string(),
            network: net.name.clone(),
        };
        let mut record = read_file(file).ok_or_else(not_connected)?;
        let pos = record
            .attachment
            .endpoints
            .iter()
            .position(|e| e.network_id == net.id)
            .ok_or_else(not_connected)?;
        let input = if let Some(i) = record.more.iter().position(|m| m.network_id == net.id) {
            record.more.remove(i).input
        } else {
            record.attachment.ports.clear();
            std::mem::take(&mut record.input)
        };
        if !input.is_null() {
            backend.teardown(&record.attachment.netns, &input)?;
        }
        record.attachment.endpoints.remove(pos);
        write_file(file, &record, true)?;
        self.lock()
            .attached
            .insert(container_id.to_string(), record.attachment.clone());
        Ok(())
    }

    /// Tear down a container's networking if it has any (idempotent): the
    /// backend's teardowns with the recorded inputs (last network first),
    /// the namespace file, the attachment file; its addresses and ports
    /// are free after.
    pub fn release(&self, container_id: &str, file: &Path) -> Result<(), NetworkError> {
        let Some(record) = read_file(file) else {
            self.lock().attached.remove(container_id);
            return Ok(());
        };
        let netns_path = record.attachment.netns.clone();
        match &self.cfg.backend {
            // A failed DEL keeps the attachment: the next release retries.
            _ if record.backend == super::cni::BACKEND => self.teardown_pod(container_id, &record)?,
            Ok(b) if b.name() == record.backend => {
                for input in inputs(&record).iter().rev() {
                    if let Err(e) = b.teardown(&netns_path, input) {
                        tracing::warn!(id = %container_id, error = %e, "network teardown");
                    }
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
            Err(e) => return Err(super::store::io_err("remove", file, e)),
        }
        self.lock().attached.remove(container_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mac_from_the_address() {
        assert_eq!(super::mac_of("172.17.0.2".parse().expect("ip")), "02:42:ac:11:00:02");
    }
}
