//! The native backend: pierd plumbs a container's network itself, with
//! the same input document netavark reads (so either backend replays the
//! other's rendering) and the same result, at a fraction of the cost: a
//! bridge made once, a veth pair whose peer is created straight in the
//! container's namespace, its addresses and default route by rtnetlink
//! (`netlink`), the container's firewall rules in one `iptables-restore`
//! transaction (`firewall`), and name resolution through aardvark-dns's
//! files (`dns`). Setups and teardowns are serialized (a bridge is
//! removed with its last port).

pub mod dns;
pub mod firewall;
pub mod netlink;

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Mutex;

use nix::sched::{setns, CloneFlags};

use super::backend::{BackendError, NetworkBackend, SetupStatus};
use super::netavark::{Network, Options};
use super::{Attachment, NetworkRecord};
use dns::{Aardvark, Entry};
use firewall::{Address, Firewall, Published};
use netlink::{link_index, Message, Socket};

/// The native backend of one daemon.
#[derive(Debug)]
pub struct Native {
    /// aardvark-dns, when installed (DNS networks need it).
    pub aardvark: Option<Aardvark>,
    firewall: Firewall,
    lock: Mutex<()>,
}

impl Native {
    pub fn new(aardvark: Option<Aardvark>) -> Self {
        Self {
            aardvark,
            firewall: Firewall::default(),
            lock: Mutex::new(()),
        }
    }
}

fn failed(verb: &str, message: impl std::fmt::Display) -> BackendError {
    BackendError::Failed {
        verb: verb.to_string(),
        message: message.to_string(),
    }
}

/// `addr/len` parsed.
fn cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (a, l) = text.split_once('/')?;
    Some((a.parse().ok()?, l.parse().ok()?))
}

/// Whether `ip` is in `net/len`.
fn contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len.min(32)))
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len.min(128)))
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = text.split(':');
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

fn show_mac(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn random_mac() -> [u8; 6] {
    let mut m: [u8; 6] = rand::random();
    // Locally administered, unicast.
    m[0] = (m[0] & 0xfe) | 0x02;
    m
}

/// Run `f` on a thread that entered the network namespace `ns`.
fn in_netns<T: Send>(ns: &File, f: impl FnOnce() -> io::Result<T> + Send) -> io::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            setns(ns, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("netns thread panicked")))
    })
}

fn ignore(e: io::Error, kinds: &[i32]) -> io::Result<()> {
    match e.raw_os_error() {
        Some(code) if kinds.contains(&code) => Ok(()),
        _ => Err(e),
    }
}

fn write_sysctl(path: &str, value: &str) {
    if std::fs::read_to_string(path)
        .map(|v| v.trim() == value)
        .unwrap_or(false)
    {
        return;
    }
    if let Err(e) = std::fs::write(path, value) {
        tracing::warn!(path, error = %e, "set sysctl");
    }
}

/// One network of the input, parsed.
struct Plan<'a> {
    name: &'a str,
    info: &'a Network,
    interface: &'a str,
    /// The container's addresses with their prefix length and gateway.
    addresses: Vec<(IpAddr, u8, Option<IpAddr>)>,
    /// Every subnet of the network: (subnet text, gateway).
    subnets: Vec<(String, IpAddr, u8)>,
    mac: Option<[u8; 6]>,
    aliases: &'a [String],
}

fn plans(o: &Options) -> Result<Vec<Plan<'_>>, BackendError> {
    let mut out = Vec::new();
    for (name, per) in &o.networks {
        let info = o
            .network_info
            .get(name)
            .ok_or_else(|| BackendError::Input(format!("no network_info for {name}")))?;
        let mut subnets = Vec::new();
        for s in &info.subnets {
            let (net, len) = cidr(&s.subnet).ok_or_else(|| BackendError::Input(format!("subnet {:?}", s.subnet)))?;
            let gw: IpAddr = s
                .gateway
                .parse()
                .map_err(|_| BackendError::Input(format!("gateway {:?}", s.gateway)))?;
            let _ = net;
            subnets.push((s.subnet.clone(), gw, len));
        }
        let mut addresses = Vec::new();
        for ip in &per.static_ips {
            let ip: IpAddr = ip.parse().map_err(|_| BackendError::Input(format!("address {ip:?}")))?;
            let found = info.subnets.iter().zip(&subnets).find_map(|(s, (_, gw, len))| {
                let (net, _) = cidr(&s.subnet)?;
                contains(net, *len, ip).then_some((*len, *gw))
            });
            let (len, gw) = found.ok_or_else(|| BackendError::Input(format!("{ip} is in no subnet of {name}")))?;
            addresses.push((ip, len, Some(gw)));
        }
        let mac = match &per.static_mac {
            Some(m) => Some(parse_mac(m).ok_or_else(|| BackendError::Input(format!("MAC address {m:?}")))?),
            None => None,
        };
        out.push(Plan {
            name,
            info,
            interface: &per.interface_name,
            addresses,
            subnets,
            mac,
            aliases: &per.aliases,
        });
    }
    Ok(out)
}

/// The bridge of `p`, made (up, with its gateways) when missing.
fn ensure_bridge(sock: &mut Socket, p: &Plan) -> io::Result<u32> {
    let name = &p.info.network_interface;
    let mtu = p.info.options.get("mtu").and_then(|m| m.parse().ok());
    let index = match link_index(name) {
        Ok(i) => i,
        Err(_) => {
            sock.request(&Message::new_bridge(name, mtu))
                .or_else(|e| ignore(e, &[libc::EEXIST]))?;
            link_index(name)?
        }
    };
    sock.request(&Message::link_up(index))?;
    let mut v6 = false;
    for (_, gw, len) in &p.subnets {
        v6 |= gw.is_ipv6();
        sock.request(&Message::new_addr(index, *gw, *len))
            .or_else(|e| ignore(e, &[libc::EEXIST]))?;
    }
    write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
    // Published ports on 127.0.0.1 are DNATed out of this bridge.
    write_sysctl(&format!("/proc/sys/net/ipv4/conf/{name}/route_localnet"), "1");
    if v6 {
        write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1");
    }
    Ok(index)
}

/// Remove bridge `name` when no port is left on it.
fn remove_bridge_if_empty(sock: &mut Socket, name: &str) {
    let ports = std::fs::read_dir(format!("/sys/class/net/{name}/brif"));
    let Ok(mut ports) = ports else { return };
    if ports.next().is_none() {
        if let Err(e) = sock.request(&Message::del_link(name)) {
            if e.raw_os_error() != Some(libc::ENODEV) {
                tracing::warn!(bridge = name, error = %e, "remove the bridge");
            }
        }
    }
}

/// Make the veth pair of `p` (the peer in `ns`, already named) under
/// `bridge`; a random host-side name, tried again if taken.
fn make_veth(sock: &mut Socket, p: &Plan, bridge: u32, ns: &File, mac: [u8; 6]) -> io::Result<()> {
    let mtu = p.info.options.get("mtu").and_then(|m| m.parse().ok());
    let mut last = None;
    for _ in 0..4 {
        let host = format!("veth{:08x}", rand::random::<u32>());
        match sock.request(&Message::new_veth(&host, bridge, mtu, p.interface, ns.as_raw_fd(), mac)) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && link_index(&host).is_ok() => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free veth name")))
}

/// The container side: loopback up, the interface's addresses, a default
/// route (the first network's wins; internal networks give none).
fn configure_inside(p: &Plan) -> io::Result<()> {
    let mut sock = Socket::open()?;
    sock.request(&Message::link_up(link_index("lo")?))?;
    let index = link_index(p.interface)?;
    for (ip, len, _) in &p.addresses {
        sock.request(&Message::new_addr(index, *ip, *len))
            .or_else(|e| ignore(e, &[libc::EEXIST]))?;
    }
    sock.request(&Message::link_up(index))?;
    if !p.info.internal {
        for (ip, _, gw) in &p.addresses {
            if let Some(gw) = gw {
                if gw.is_ipv4() == ip.is_ipv4() {
                    sock.request(&Message::default_route(index, *gw))
                        .or_else(|e| ignore(e, &[libc::EEXIST]))?;
                }
            }
        }
    }
    Ok(())
}

/// The firewall view of the input: addresses per family (v4, v6), ports
/// published to the first network's addresses.
fn addresses(o: &Options, plans: &[Plan]) -> (Vec<Address>, Vec<Address>) {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for (i, p) in plans.iter().enumerate() {
        for (ip, _, _) in &p.addresses {
            let a = Address {
                ip: *ip,
                bridge: p.info.network_interface.clone(),
                subnets: p
                    .subnets
                    .iter()
                    .filter(|(_, gw, _)| gw.is_ipv4() == ip.is_ipv4())
                    .map(|(s, _, _)| s.clone())
                    .collect(),
                internal: p.info.internal,
                ports: if i == 0 && !p.info.internal {
                    o.port_mappings
                        .iter()
                        .flat_map(|m| {
                            (0..m.range.max(1)).map(move |k| Published {
                                host_ip: m.host_ip.clone(),
                                host_port: m.host_port.saturating_add(k),
                                container_port: m.container_port.saturating_add(k),
                                protocol: m.protocol.clone(),
                            })
                        })
                        .collect()
                } else {
                    Vec::new()
                },
            };
            if ip.is_ipv4() {
                v4.push(a);
            } else {
                v6.push(a);
            }
        }
    }
    (v4, v6)
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

impl Native {
    fn dns_entry(&self, o: &Options, p: &Plan, add: bool) -> Result<Vec<String>, BackendError> {
        if !p.info.dns_enabled {
            return Ok(Vec::new());
        }
        let Some(aardvark) = &self.aardvark else {
            return if add {
                Err(failed("setup", "aardvark-dns is not installed: DNS networks need it"))
            } else {
                Ok(Vec::new())
            };
        };
        let gateways: Vec<String> = p.subnets.iter().map(|(_, gw, _)| gw.to_string()).collect();
        let mut names = vec![o.container_name.clone()];
        for a in p.aliases {
            if !names.contains(a) {
                names.push(a.clone());
            }
        }
        let entry = Entry {
            container_id: o.container_id.clone(),
            ipv4: p
                .addresses
                .iter()
                .filter(|a| a.0.is_ipv4())
                .map(|a| a.0.to_string())
                .collect(),
            ipv6: p
                .addresses
                .iter()
                .filter(|a| a.0.is_ipv6())
                .map(|a| a.0.to_string())
                .collect(),
            names,
        };
        aardvark
            .update(p.name, &gateways, &o.container_id, add.then_some(&entry))
            .map_err(|e| failed(if add { "setup" } else { "teardown" }, format!("aardvark-dns: {e}")))?;
        Ok(gateways)
    }

    fn setup_locked(&self, ns: &File, o: &Options, plans: &[Plan]) -> Result<SetupStatus, BackendError> {
        let mut status = SetupStatus::default();
        let mut sock = Socket::open().map_err(|e| failed("setup", format!("netlink: {e}")))?;
        for p in plans {
            let bridge = ensure_bridge(&mut sock, p)
                .map_err(|e| failed("setup", format!("bridge {}: {e}", p.info.network_interface)))?;
            let mac = p.mac.unwrap_or_else(random_mac);
            make_veth(&mut sock, p, bridge, ns, mac)
                .map_err(|e| failed("setup", format!("veth for {}: {e}", p.interface)))?;
            in_netns(ns, || configure_inside(p))
                .map_err(|e| failed("setup", format!("configure {}: {e}", p.interface)))?;
            status
                .macs
                .insert((p.name.to_string(), p.interface.to_string()), show_mac(mac));
            status.dns_servers.extend(self.dns_entry(o, p, true)?);
        }
        let (v4, v6) = addresses(o, plans);
        let tag = short(&o.container_id);
        self.firewall
            .add(&firewall::rules(&v4, tag), false)
            .map_err(|e| failed("setup", e))?;
        self.firewall
            .add(&firewall::rules(&v6, tag), true)
            .map_err(|e| failed("setup", e))?;
        Ok(status)
    }
}

impl NetworkBackend for Native {
    fn name(&self) -> &'static str {
        "native"
    }

    fn render(&self, a: &Attachment, networks: &[&NetworkRecord]) -> Result<serde_json::Value, BackendError> {
        super::netavark::render(a, networks)
    }

    fn setup(&self, netns: &Path, input: &serde_json::Value) -> Result<SetupStatus, BackendError> {
        let o: Options = serde_json::from_value(input.clone()).map_err(|e| BackendError::Input(e.to_string()))?;
        let plans = plans(&o)?;
        let ns = File::open(netns).map_err(|e| failed("setup", format!("open {}: {e}", netns.display())))?;
        let _serial = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.setup_locked(&ns, &o, &plans)
    }

    fn teardown(&self, netns: &Path, input: &serde_json::Value) -> Result<(), BackendError> {
        let o: Options = serde_json::from_value(input.clone()).map_err(|e| BackendError::Input(e.to_string()))?;
        let plans = plans(&o)?;
        let _serial = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let (v4, v6) = addresses(&o, &plans);
        let tag = short(&o.container_id);
        self.firewall.delete(&firewall::rules(&v4, tag), false);
        self.firewall.delete(&firewall::rules(&v6, tag), true);
        let mut errors = Vec::new();
        // The namespace may be gone already (its veths went with it).
        if let Ok(ns) = File::open(netns) {
            for p in &plans {
                let gone = in_netns(&ns, || {
                    let mut sock = Socket::open()?;
                    sock.request(&Message::del_link(p.interface))
                        .or_else(|e| ignore(e, &[libc::ENODEV, libc::ENOENT]))
                });
                if let Err(e) = gone {
                    errors.push(format!("remove {}: {e}", p.interface));
                }
            }
        }
        for p in &plans {
            if let Err(e) = self.dns_entry(&o, p, false) {
                errors.push(e.to_string());
            }
        }
        let mut bridges: BTreeMap<&str, ()> = BTreeMap::new();
        for p in &plans {
            bridges.insert(&p.info.network_interface, ());
        }
        if let Ok(mut sock) = Socket::open() {
            for b in bridges.keys() {
                remove_bridge_if_empty(&mut sock, b);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(failed("teardown", errors.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_and_macs() {
        let (n, l) = cidr("10.1.2.0/24").expect("cidr");
        assert!(contains(n, l, "10.1.2.200".parse().expect("ip")));
        assert!(!contains(n, l, "10.1.3.1".parse().expect("ip")));
        let (n6, l6) = cidr("fd00:1::/64").expect("cidr");
        assert!(contains(n6, l6, "fd00:1::5".parse().expect("ip")));
        assert!(!contains(n6, l6, "10.1.2.3".parse().expect("ip")));
        assert_eq!(parse_mac("02:42:ac:11:00:02"), Some([2, 0x42, 0xac, 0x11, 0, 2]));
        assert_eq!(parse_mac("02:42:ac:11:00"), None);
        assert_eq!(show_mac([2, 0x42, 0xac, 0x11, 0, 2]), "02:42:ac:11:00:02");
        let m = random_mac();
        assert_eq!(m[0] & 0x03, 0x02);
    }

    #[test]
    fn the_plan_of_an_input() {
        let input = serde_json::json!({
            "container_id": "a".repeat(64), "container_name": "web",
            "port_mappings": [{"host_ip": "", "container_port": 80, "host_port": 8080, "range": 1, "protocol": "tcp"}],
            "networks": {"front": {"interface_name": "eth0", "static_ips": ["10.9.0.2"], "aliases": ["w"]}},
            "network_info": {"front": {"name": "front", "id": "b", "driver": "bridge", "network_interface": "br-x",
                "subnets": [{"subnet": "10.9.0.0/24", "gateway": "10.9.0.1"}], "ipv6_enabled": false,
                "internal": false, "dns_enabled": true, "ipam_options": {}, "options": {}}}
        });
        let o: Options = serde_json::from_value(input).expect("options");
        let p = plans(&o).expect("plans");
        assert_eq!(
            p[0].addresses,
            [(
                "10.9.0.2".parse().expect("ip"),
                24,
                Some("10.9.0.1".parse().expect("ip"))
            )]
        );
        let (v4, v6) = addresses(&o, &p);
        assert_eq!(v4.len(), 1);
        assert!(v6.is_empty());
        assert_eq!(v4[0].ports[0].host_port, 8080);
        assert_eq!(v4[0].subnets, ["10.9.0.0/24"]);
    }
}
