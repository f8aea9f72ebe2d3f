//! A container's network at start and after its exit: the namespace it
//! joins, its plumbing through `network::Networks`, and the /etc/hosts and
//! /etc/resolv.conf that go with it. Blocking (called from the bundle
//! preparation or through `Daemon::blocking`).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{BackendKind, DaemonConfig, NETAVARK_PATHS};
use crate::daemon::{Container, Daemon};
use crate::error::{Error, Result};
use crate::model::spec::NetworkMode;
use crate::network::backend::NetworkBackend;
use crate::network::ipam::{self, Pool};
use crate::network::native::dns::Aardvark;
use crate::network::native::Native;
use crate::network::netavark::Netavark;
use crate::network::subnet::Ipv4Net;
use crate::network::{AttachRequest, BridgeConfig, EndpointRequest, Networks, NetworksConfig};
use crate::record::ContainerRecord;
use crate::spec::{self, HostEntry, Namespace};

/// The attachment file of a container.
pub(in crate::daemon) fn attachment_file(dir: &Path) -> PathBuf {
    dir.join("network.json")
}

/// Whether `program` is in PATH (or the sbin directories).
fn on_path(program: &str) -> bool {
    let path_var = std::env::var("PATH").unwrap_or_default();
    let found = path_var
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .any(|d| !d.is_empty() && Path::new(d).join(program).is_file());
    found
}

/// Find netavark (and iptables, which it drives); `Err` says why
/// networking is unavailable.
fn find_netavark(cfg: &DaemonConfig) -> std::result::Result<Netavark, String> {
    let binary = match &cfg.networking.netavark_path {
        Some(p) if p.is_file() => p.clone(),
        Some(p) => return Err(format!("netavark not found at {} (daemon.json netavark-path)", p.display())),
        None => NETAVARK_PATHS
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| {
                format!(
                    "netavark not found in {} (install the netavark and aardvark-dns packages, or set netavark-path in daemon.json)",
                    NETAVARK_PATHS.join(", ")
                )
            })?,
    };
    if !on_path("iptables") {
        return Err("iptables not found in PATH (netavark needs it)".to_string());
    }
    let aardvark = binary.parent().map(|d| d.join("aardvark-dns")).filter(|p| p.is_file());
    Ok(Netavark {
        binary,
        aardvark,
        config_dir: cfg.exec_root.join("netavark"),
    })
}

/// The native backend: iptables-restore is required; aardvark-dns (next to
/// netavark, where Debian installs it) for DNS networks.
fn find_native(cfg: &DaemonConfig) -> std::result::Result<Native, String> {
    if !on_path("iptables-restore") {
        return Err("iptables-restore not found in PATH (install the iptables package)".to_string());
    }
    let dirs: Vec<PathBuf> = match &cfg.networking.netavark_path {
        Some(p) => p.parent().map(Path::to_path_buf).into_iter().collect(),
        None => NETAVARK_PATHS
            .iter()
            .filter_map(|p| Path::new(p).parent().map(Path::to_path_buf))
            .collect(),
    };
    let aardvark = dirs
        .iter()
        .map(|d| d.join("aardvark-dns"))
        .find(|p| p.is_file())
        .map(|binary| Aardvark {
            binary,
            dir: cfg.exec_root.join("netavark").join("aardvark-dns"),
        });
    if aardvark.is_none() {
        tracing::warn!("aardvark-dns not found: user networks will have no name resolution");
    }
    Ok(Native::new(aardvark))
}

/// The configured backend; `Err` says why networking is unavailable.
fn find_backend(cfg: &DaemonConfig) -> std::result::Result<Arc<dyn NetworkBackend>, String> {
    let config_dir = cfg.exec_root.join("netavark");
    let backend: Arc<dyn NetworkBackend> = match cfg.networking.backend {
        BackendKind::Native => Arc::new(find_native(cfg)?),
        BackendKind::Netavark => Arc::new(find_netavark(cfg)?),
    };
    // aardvark-dns's files live here; netavark does not create it.
    crate::private::dir(&config_dir, crate::private::DIR)
        .map_err(|e| format!("create {}: {e}", config_dir.display()))?;
    Ok(backend)
}

/// The daemon's networks from its configuration.
pub(crate) fn open_networks(cfg: &DaemonConfig) -> anyhow::Result<Networks> {
    use anyhow::Context;
    let n = &cfg.networking;
    let bridge = match &n.bridge {
        None => None,
        Some(interface) => {
            let (gateway, subnet) = match &n.bip {
                Some(bip) => Ipv4Net::parse_with_addr(bip).with_context(|| format!("daemon.json bip {bip:?}"))?,
                None => {
                    let subnet = ipam::default_bridge_subnet();
                    (subnet.nth(1).unwrap_or(Ipv4Addr::UNSPECIFIED), subnet)
                }
            };
            if interface.len() > 15 {
                anyhow::bail!("bridge name {interface:?} is longer than 15 characters");
            }
            Some(BridgeConfig {
                interface: interface.clone(),
                subnet,
                gateway,
            })
        }
    };
    let pools = if n.pools.is_empty() {
        ipam::default_pools()
    } else {
        n.pools
            .iter()
            .map(|p| {
                Ok(Pool {
                    base: p
                        .base
                        .parse()
                        .with_context(|| format!("default-address-pools base {:?}", p.base))?,
                    size: p.size,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let backend = find_backend(cfg);
    if let Err(why) = &backend {
        tracing::warn!(
            "container networking is unavailable: {why}; containers get a loopback interface only (--network none)"
        );
    }
    let ephemeral = crate::network::ports::parse_ephemeral_range(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .as_deref(),
    );
    Networks::open(NetworksConfig {
        dir: cfg.data_root.join("networks"),
        netns_dir: cfg.exec_root.join("netns"),
        bridge,
        pools,
        backend,
        ephemeral,
        cni: crate::network::cni::Cni {
            cfg: crate::network::cni::CniConfig {
                conf_dir: cfg.cri.cni_conf_dir.clone(),
                bin_dirs: cfg.cri.cni_bin_dirs.clone(),
            },
        },
    })
    .context("open the networks")
}

/// What a start needs from the network.
pub(in crate::daemon) struct NetworkPlan {
    pub namespace: Namespace,
    /// Legacy links' variables (before the container's own).
    pub link_env: Vec<String>,
    pub hosts: String,
    pub resolv_conf: String,
}

/// The host's resolv.conf, as docker picks it: systemd-resolved's upstream
/// file when /etc/resolv.conf only names the 127.0.0.53 stub.
pub(in crate::daemon) fn host_resolv_conf() -> String {
    let main = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    if main.contains("127.0.0.53") {
        if let Ok(up) = std::fs::read_to_string("/run/systemd/resolve/resolv.conf") {
            return up;
        }
    }
    main
}

impl Daemon {
    /// Plumb the network of a container about to start (a stale attachment
    /// torn down first) and render its /etc files. On error nothing of the
    /// plumbing is left.
    pub(in crate::daemon) fn attach_network(&self, c: &Container, rec: &ContainerRecord) -> Result<NetworkPlan> {
        let file = attachment_file(&c.dir);
        self.networks
            .release(&c.id, &file)
            .map_err(|e| Error::system(format!("tear down the old network of {}", c.id), e))?;
        let s = &rec.spec;
        let gateway = self.networks.host_gateway();
        let extra: Vec<HostEntry> = s
            .etc
            .extra_hosts
            .iter()
            .map(|h| HostEntry {
                name: h.name.clone(),
                ip: match (h.address.as_str(), gateway) {
                    ("host-gateway", Some(gw)) => gw.to_string(),
                    _ => h.address.clone(),
                },
            })
            .collect();
        let host_resolv = host_resolv_conf();
        let with_user_dns = |base: &str, dns: Option<&[String]>| {
            spec::resolv_conf_with(base, dns, s.etc.dns_search.as_deref(), s.etc.dns_options.as_deref())
        };
        if let (NetworkMode::None, Some(pod)) = (&s.network, s.labels.get(crate::network::cni::POD_LABEL)) {
            let a = self.attach_pod_network(c, rec, pod)?;
            let ip = a.endpoints.first().map(|e| std::net::IpAddr::V4(e.ip));
            return Ok(NetworkPlan {
                link_env: Vec::new(),
                namespace: Namespace::Join(a.netns.clone()),
                hosts: spec::hosts_file(&s.hostname, ip, &extra),
                resolv_conf: with_user_dns(&host_resolv, s.etc.dns.as_deref()),
            });
        }
        match &s.network {
            NetworkMode::Container(donor) => {
                // As dockerd: the donor's namespace and its hosts and
                // resolv.conf files.
                let (namespace, dir) = self.network_donor(&c.id, donor)?;
                let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
                return Ok(NetworkPlan {
                    link_env: Vec::new(),
                    namespace,
                    hosts: read("hosts"),
                    resolv_conf: read("resolv.conf"),
                });
            }
            NetworkMode::None => {
                return Ok(NetworkPlan {
                    link_env: Vec::new(),
                    namespace: Namespace::Private,
                    hosts: spec::hosts_file(&s.hostname, None, &extra),
                    resolv_conf: with_user_dns(&host_resolv, s.etc.dns.as_deref()),
                })
            }
            NetworkMode::Host => {
                // As docker: the host's files, --add-host and --dns applied.
                let mut hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
                if !hosts.is_empty() && !hosts.ends_with('\n') {
                    hosts.push('\n');
                }
                for e in &extra {
                    hosts.push_str(&format!("{}\t{}\n", e.ip, e.name));
                }
                let resolv = if s.etc.dns.is_none() && s.etc.dns_search.is_none() && s.etc.dns_options.is_none() {
                    host_resolv
                } else {
                    with_user_dns(&host_resolv, s.etc.dns.as_deref())
                };
                return Ok(NetworkPlan {
                    link_env: Vec::new(),
                    namespace: Namespace::Host,
                    hosts,
                    resolv_conf: resolv,
                });
            }
            NetworkMode::Bridge | NetworkMode::Named(_) => (),
        };
        let ports = crate::network::ports::requests_from_bindings(&s.ports.bindings)
            .map_err(|e| Error::InvalidParameter(e.to_string()))?;
        let req = AttachRequest {
            container_id: c.id.clone(),
            container_name: rec.name.clone(),
            networks: s
                .networks()
                .into_iter()
                // `none` in a connected list plumbs nothing.
                .filter(|n| self.networks.get(&n.network).map_or(true, |r| r.is_bridge()))
                .map(|n| EndpointRequest {
                    // By id when it was known at connect, as dockerd.
                    network: if n.network_id.is_empty() || self.networks.get(&n.network_id).is_err() {
                        n.network
                    } else {
                        n.network_id
                    },
                    aliases: n.endpoint.aliases,
                    ipv4: n.endpoint.ipv4,
                    ipv6: n.endpoint.ipv6,
                    mac: n.endpoint.mac,
                })
                .collect(),
            ports,
        };
        let a = self.networks.attach(&req, &file).map_err(Error::from)?;
        let ep = a.endpoints.first();
        let ip = ep.map(|e| std::net::IpAddr::V4(e.ip));
        let ip6 = ep.and_then(|e| e.ipv6).map(|v| v.ip);
        // aardvark-dns answers on the gateway of each DNS network.
        let dns_servers: Vec<String> = a
            .endpoints
            .iter()
            .filter(|e| self.networks.get(&e.network_id).is_ok_and(|n| n.dns))
            .map(|e| e.gateway.to_string())
            .collect();
        let resolv = if dns_servers.is_empty() {
            with_user_dns(&host_resolv, s.etc.dns.as_deref())
        } else {
            let mut servers = dns_servers;
            servers.extend(s.etc.dns.iter().flatten().cloned());
            with_user_dns(&host_resolv, Some(&servers))
        };
        // Legacy links, for a container on the default bridge.
        let on_bridge = a.endpoints.iter().any(|e| e.network_name == crate::network::BRIDGE);
        let (link_env, link_hosts) = if on_bridge && !s.links.is_empty() {
            match self.link_plan(rec) {
                Ok(p) => p,
                Err(e) => {
                    if let Err(e) = self.networks.release(&c.id, &file) {
                        tracing::warn!(id = %c.id, error = %e, "release network");
                    }
                    return Err(e);
                }
            }
        } else {
            (Vec::new(), Vec::new())
        };
        let mut extra = extra;
        extra.extend(link_hosts);
        let mut hosts = spec::hosts_file(&s.hostname, ip, &extra);
        if let Some(v6) = ip6 {
            // docker adds the IPv6 address's line after the IPv4 one.
            hosts.push_str(&format!("{v6}\t{}\n", s.hostname));
        }
        Ok(NetworkPlan {
            link_env,
            namespace: Namespace::Join(a.netns.clone()),
            hosts,
            resolv_conf: resolv,
        })
    }

    /// Tear down a container's network if it has one (idempotent; see
    /// `Networks::release`).
    pub(in crate::daemon) async fn release_network(&self, c: &Arc<Container>) {
        let networks = self.networks.clone();
        let (id, file) = (c.id.clone(), attachment_file(&c.dir));
        let released = Daemon::blocking("release network", move || {
            networks
                .release(&id, &file)
                .map_err(|e| Error::system(format!("tear down the network of {id}"), e))
        })
        .await;
        if let Err(e) = released {
            tracing::warn!(id = %c.id, error = %e, "release network");
        }
    }

    /// At start: register the attachments on disk (running containers'
    /// allocations; exited ones' teardowns still due).
    pub(in crate::daemon) fn restore_attachments(&self, containers: &[Arc<Container>]) {
        for c in containers {
            if let Some(a) = self.networks.restore(&attachment_file(&c.dir)) {
                tracing::debug!(id = %c.id, netns = %a.netns.display(), "network attachment restored");
            }
        }
    }
}

impl Daemon {
    /// The network namespace (`/proc/<pid>/ns/net`) and directory of the
    /// running container `donor` that `id` joins (dockerd's
    /// `getNetworkedContainer`, with its messages). A donor on the host's
    /// network gives the host's namespace itself (so no per-namespace
    /// sysctl is set in it).
    fn network_donor(&self, id: &str, donor: &str) -> Result<(Namespace, std::path::PathBuf)> {
        let d = self.lookup(donor)?;
        if d.id == id {
            return Err(Error::InvalidParameter("cannot join own network namespace".into()));
        }
        let rec = d.record();
        if rec.state.is_restarting() {
            return Err(Error::Conflict(format!(
                "cannot join network namespace of container: Container {} is restarting, wait until the container is running",
                d.id
            )));
        }
        if !rec.state.is_running() || rec.state.pid <= 0 {
            return Err(Error::Conflict(format!(
                "cannot join network namespace of a non running container: container {} is {}",
                rec.name,
                rec.state.status.as_str()
            )));
        }
        let namespace = if rec.spec.network == NetworkMode::Host {
            Namespace::Host
        } else {
            Namespace::Join(std::path::PathBuf::from(format!("/proc/{}/ns/net", rec.state.pid)))
        };
        Ok((namespace, d.dir.clone()))
    }
}

impl Daemon {
    /// A CRI sandbox's pod network (its `network::cni::POD_LABEL`), through
    /// the CNI backend.
    fn attach_pod_network(
        &self,
        c: &Container,
        rec: &ContainerRecord,
        pod: &str,
    ) -> Result<crate::network::Attachment> {
        let pod: crate::network::cni::PodNetwork = serde_json::from_str(pod)
            .map_err(|e| Error::InvalidParameter(format!("label {}: {e}", crate::network::cni::POD_LABEL)))?;
        self.networks
            .attach_pod(&c.id, &rec.name, &pod, &attachment_file(&c.dir))
            .map_err(|e| Error::system(format!("failed to setup network for sandbox {:?}", c.id), e))
    }

    /// The addresses of a container's pod network (IPv4 first); none
    /// unless it has one.
    pub(crate) fn pod_ips(&self, c: &Container) -> Vec<std::net::IpAddr> {
        self.networks.pod_ips(&attachment_file(&c.dir))
    }

    /// Tear down an exited container's network now, under its op lock,
    /// unless it runs again (CRI `StopPodSandbox`: the network is gone when
    /// the call returns, and a failed CNI DEL is the caller's error, so
    /// kubelet retries it, as with containerd).
    pub(crate) async fn release_network_of_exited(&self, c: &Arc<Container>) -> Result<()> {
        let _op = c.op.lock().await;
        if c.record().state.is_running() {
            return Ok(());
        }
        let networks = self.networks.clone();
        let (id, file) = (c.id.clone(), attachment_file(&c.dir));
        Daemon::blocking("release network", move || {
            networks
                .release(&id, &file)
                .map_err(|e| Error::system(format!("failed to destroy network for sandbox {id:?}"), e))
        })
        .await
    }
}
