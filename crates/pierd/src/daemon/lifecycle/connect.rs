//! `network connect` and `disconnect` of a container: a created or stopped
//! one has its network list changed (applied at its next start, shown by
//! inspect at once); a running one also gets an interface added or removed
//! live. dockerd's refusals and messages (`daemon/container_operations.go`
//! `updateNetworkSettings`, `validateEndpointSettings`, `ConnectToNetwork`,
//! `DisconnectFromNetwork`).

use std::sync::Arc;

use crate::daemon::lifecycle::networking::attachment_file;
use crate::daemon::{Container, Daemon};
use crate::error::{Error, Result};
use crate::model::spec::{ContainerSpec, EndpointSpec, NetworkEndpoint, NetworkMode};
use crate::network::{EndpointRequest, NetworkError, NetworkRecord, HOST, NONE};
use crate::record::Status;

const SHARED_NAMESPACE: &str =
    "container sharing network namespace with another container or host cannot be connected to any other network";

/// Whether the list entry `e` names the network `n`.
fn names(e: &NetworkEndpoint, n: &NetworkRecord) -> bool {
    (!e.network_id.is_empty() && e.network_id == n.id) || e.network == n.name || e.network == n.id
}

/// The networks a spec is on for dockerd's checks: its list, or its mode's
/// network (`none` and `host` included).
fn current(spec: &ContainerSpec) -> Vec<NetworkEndpoint> {
    match (&spec.connected, &spec.network) {
        (None, NetworkMode::None | NetworkMode::Host) => vec![NetworkEndpoint {
            network: if spec.network == NetworkMode::None { NONE } else { HOST }.to_string(),
            network_id: String::new(),
            endpoint: EndpointSpec::default(),
        }],
        _ => spec.networks(),
    }
}

/// `validateEndpointSettings`: aliases and static addresses on user
/// networks only, a static address inside the network's subnet.
fn validate(n: &NetworkRecord, ep: &EndpointSpec) -> Result<()> {
    let mut errs = Vec::new();
    if n.is_predefined() {
        if ep.ipv4.is_some() {
            errs.push("user-specified IP address is supported on user-defined networks only".to_string());
        }
        if !ep.aliases.is_empty() {
            errs.push("network-scoped aliases are only supported for user-defined networks".to_string());
        }
    } else if let Some(ip) = ep.ipv4 {
        if !n.subnets.iter().any(|s| s.subnet.contains(ip)) {
            errs.push(format!("no configured subnet contains IP address {ip}"));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidParameter(format!(
            "invalid endpoint settings:\n{}",
            errs.join("\n")
        )))
    }
}

impl Daemon {
    fn refuse_removed(&self, c: &Arc<Container>) -> Result<()> {
        let rec = c.record();
        if c.live.borrow().removed || matches!(rec.state.status, Status::Removing | Status::Dead) {
            return Err(Error::Plain(format!(
                "Container {} is marked for removal and cannot be connected or disconnected to the network",
                c.id
            )));
        }
        Ok(())
    }

    fn network_event(&self, action: &str, n: &NetworkRecord, container: &str) {
        self.event(
            "network",
            action,
            &n.id,
            &[("container", container), ("name", &n.name), ("type", &n.driver)],
        );
    }

    /// `POST /networks/{id}/connect`.
    pub async fn connect_network(&self, container: &str, network: &str, ep: EndpointSpec) -> Result<()> {
        let c = self.lookup(container)?;
        let _op = c.op.lock().await;
        self.refuse_removed(&c)?;
        let rec = c.record();
        let net = self.networks.get(network).map_err(Error::from)?;
        if matches!(rec.spec.network, NetworkMode::Container(_)) {
            return Err(Error::InvalidParameter(SHARED_NAMESPACE.to_string()));
        }
        let running = rec.state.is_running();
        let on = current(&rec.spec);
        if net.name == HOST && rec.spec.network != NetworkMode::Host {
            return Err(Error::InvalidParameter(
                "cannot connect container to host network - container must be created in host network mode".to_string(),
            ));
        }
        for e in &on {
            if names(e, &net) {
                if running {
                    return Err(NetworkError::EndpointExists {
                        name: rec.name.clone(),
                        network: net.name.clone(),
                    }
                    .into());
                }
                // dockerd keeps the first settings of a network.
                return Ok(());
            }
            let other = self.networks.get(&e.network).ok();
            if e.network == HOST || net.name == HOST || other.as_ref().is_some_and(|o| o.name == HOST) {
                return Err(Error::InvalidParameter(SHARED_NAMESPACE.to_string()));
            }
            if e.network == NONE || net.name == NONE {
                return Err(Error::InvalidParameter(
                    "container cannot be connected to multiple networks with one of the networks in private (none) mode"
                        .to_string(),
                ));
            }
        }
        validate(&net, &ep)?;
        if running && net.is_bridge() {
            let networks = self.networks.clone();
            let (id, file) = (c.id.clone(), attachment_file(&c.dir));
            let req = EndpointRequest {
                network: net.id.clone(),
                aliases: ep.aliases.clone(),
                ipv4: ep.ipv4,
                ipv6: ep.ipv6,
                mac: ep.mac.clone(),
            };
            let added = Daemon::blocking("connect network", move || {
                networks.connect(&id, &req, &file).map_err(Error::from)
            })
            .await?;
            if net.dns {
                self.add_nameserver(&c, &added.gateway.to_string());
            }
        }
        let mut list = rec.spec.networks();
        list.push(NetworkEndpoint {
            network: net.name.clone(),
            network_id: net.id.clone(),
            endpoint: ep,
        });
        c.commit(|r| r.spec.connected = Some(list)).await?;
        self.network_event("connect", &net, &c.id);
        tracing::info!(id = %c.id, network = %net.name, running, "container connected");
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn disconnect_network(&self, container: &str, network: &str, force: bool) -> Result<()> {
        let c = self.lookup(container)?;
        let _op = c.op.lock().await;
        self.refuse_removed(&c)?;
        let rec = c.record();
        let found = self.networks.get(network);
        let running = rec.state.is_running();
        let list = rec.spec.networks();
        let net = match found {
            Ok(n) => n,
            Err(e) if running && !force => return Err(e.into()),
            // dockerd drops an entry by name when the network is gone.
            Err(_) => {
                if !list.iter().any(|e| e.network == network) {
                    return Err(Error::Plain(format!(
                        "container {} is not connected to the network {network}",
                        c.id
                    )));
                }
                let rest: Vec<NetworkEndpoint> = list.into_iter().filter(|e| e.network != network).collect();
                c.commit(|r| r.spec.connected = Some(rest)).await?;
                return Ok(());
            }
        };
        if running {
            if rec.spec.network == NetworkMode::Host && net.name == HOST {
                return Err(Error::InvalidParameter(
                    "cannot disconnect container from host network - container was created in host network mode"
                        .to_string(),
                ));
            }
            if net.is_bridge() {
                let networks = self.networks.clone();
                let (id, file, key) = (c.id.clone(), attachment_file(&c.dir), net.id.clone());
                Daemon::blocking("disconnect network", move || {
                    networks.disconnect(&id, &key, &file).map_err(Error::from)
                })
                .await?;
            } else if !current(&rec.spec).iter().any(|e| names(e, &net)) {
                return Err(NetworkError::NotConnected {
                    container: c.id.clone(),
                    network: net.name.clone(),
                }
                .into());
            }
        } else if !current(&rec.spec).iter().any(|e| names(e, &net)) {
            return Err(Error::Plain(format!(
                "container {} is not connected to the network {}",
                c.id, net.name
            )));
        }
        let rest: Vec<NetworkEndpoint> = list.into_iter().filter(|e| !names(e, &net)).collect();
        c.commit(|r| r.spec.connected = Some(rest)).await?;
        self.network_event("disconnect", &net, &c.id);
        tracing::info!(id = %c.id, network = %net.name, running, "container disconnected");
        Ok(())
    }

    /// A running container's /etc/resolv.conf (bind-mounted from its
    /// directory, so rewritten in place) names `server` too.
    fn add_nameserver(&self, c: &Container, server: &str) {
        let path = c.dir.join("resolv.conf");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return;
        };
        let line = format!("nameserver {server}");
        if text.lines().any(|l| l.trim() == line) {
            return;
        }
        // After the other nameservers (the first one stays first).
        let mut out = String::new();
        let mut placed = false;
        let lines: Vec<&str> = text.lines().collect();
        let last_ns = lines.iter().rposition(|l| l.trim_start().starts_with("nameserver"));
        for (i, l) in lines.iter().enumerate() {
            out.push_str(l);
            out.push('\n');
            if Some(i) == last_ns {
                out.push_str(&line);
                out.push('\n');
                placed = true;
            }
        }
        if !placed {
            out.push_str(&line);
            out.push('\n');
        }
        let written = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, out.as_bytes()));
        if let Err(e) = written {
            tracing::warn!(id = %c.id, error = %e, "add a nameserver to resolv.conf");
        }
    }
}
