//! IP address management, pure: docker's default pools, picking a subnet
//! for a new network, checking `--subnet`/`--ip-range`/`--gateway`/
//! `--aux-address`, and choosing a container's address in a network.
//!
//! Allocation is lowest-free within the network's range (the gateway,
//! auxiliary addresses, network and broadcast addresses excluded). What is
//! allocated is not stored here: the daemon derives it from the attachments
//! on disk (`network::store`), so it survives a restart or a kill -9.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::subnet::{Ipv4Net, SubnetError};

/// `default-address-pools` entry: split `base` into subnets of `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    pub base: Ipv4Net,
    pub size: u8,
}

/// dockerd's local-scope defaults (`ipamutils.localScopeDefaultNetworks`):
/// 172.17.0.0/16 (taken by the default bridge), 172.18.0.0/16 upward, then
/// 192.168.0.0/16 in /20s.
pub fn default_pools() -> Vec<Pool> {
    [
        ("172.17.0.0/16", 16),
        ("172.18.0.0/16", 16),
        ("172.19.0.0/16", 16),
        ("172.20.0.0/14", 16),
        ("172.24.0.0/14", 16),
        ("172.28.0.0/14", 16),
        ("192.168.0.0/16", 20),
    ]
    .into_iter()
    .filter_map(|(base, size)| base.parse().ok().map(|base| Pool { base, size }))
    .collect()
}

/// The default bridge's subnet when no `bip` is configured.
pub fn default_bridge_subnet() -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::new(172, 17, 0, 0), 16).unwrap_or_else(|| unreachable!("/16 is a valid prefix"))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("invalid network config:\n{0}")]
    Subnet(#[from] SubnetError),
    #[error("invalid network config:\n{what} {addr} is not in subnet {subnet}")]
    Outside {
        what: &'static str,
        addr: String,
        subnet: Ipv4Net,
    },
    #[error("invalid network config:\ninvalid {what} {value:?}")]
    BadAddress { what: &'static str, value: String },
    #[error("invalid pool request: Pool overlaps with other one on this address space")]
    Overlap,
    #[error(
        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"
    )]
    NoPool,
    #[error("no available IPv4 addresses on this network's address pools: {network} ({subnet})")]
    Exhausted { network: String, subnet: Ipv4Net },
    #[error("Address already in use")]
    InUse,
    #[error("invalid endpoint settings:\nno configured subnet or ip-range contain the IP address {0}")]
    NotInRange(Ipv4Addr),
    #[error("IPv6 networks are not supported by Pier yet: {0}")]
    Ipv6(String),
    #[error("invalid network config:\n{what} {addr} is not in subnet {subnet}")]
    Outside6 {
        what: &'static str,
        addr: String,
        subnet: String,
    },
    #[error(
        "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network"
    )]
    NoPool6,
    #[error("no available IPv6 addresses on this network's address pools: {network} ({subnet})")]
    Exhausted6 { network: String, subnet: String },
    #[error("invalid endpoint settings:\nno configured subnet or ip-range contain the IP address {0}")]
    NotInRange6(Ipv6Addr),
}

/// One `IPAM.Config` entry as requested (`--subnet`, `--ip-range`,
/// `--gateway`, `--aux-address`), all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpamRequest {
    pub subnet: Option<String>,
    pub ip_range: Option<String>,
    pub gateway: Option<String>,
    pub aux: BTreeMap<String, String>,
}

/// A network's subnet as decided at create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetPlan {
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// Containers' addresses come from here (default: the whole subnet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<Ipv4Net>,
    /// Reserved addresses (`--aux-address name=ip`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aux: BTreeMap<String, Ipv4Addr>,
}

fn parse_ip(what: &'static str, s: &str) -> Result<Ipv4Addr, IpamError> {
    if s.contains(':') {
        return Err(IpamError::Ipv6(s.to_string()));
    }
    s.parse().map_err(|_| IpamError::BadAddress {
        what,
        value: s.to_string(),
    })
}

/// The first subnet of `pools` that overlaps none of `taken` (other
/// networks' subnets and the host's routes).
pub fn pick_subnet(pools: &[Pool], taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    pools
        .iter()
        .flat_map(|p| p.base.split(p.size))
        .find(|s| !taken.iter().any(|t| t.overlaps(s)))
}

/// Decide a network's subnet: the requested one (checked, and refused when
/// it overlaps another network's), else the first free one of `pools`.
/// `routes` are the host's: a picked subnet avoids them; a requested one
/// may overlap them, as with dockerd.
pub fn plan(
    req: &IpamRequest,
    pools: &[Pool],
    networks: &[Ipv4Net],
    routes: &[Ipv4Net],
) -> Result<SubnetPlan, IpamError> {
    let subnet = match req.subnet.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => {
            if s.contains(':') {
                return Err(IpamError::Ipv6(s.to_string()));
            }
            let net = Ipv4Net::parse_strict(s)?;
            if networks.iter().any(|n| n.overlaps(&net)) {
                return Err(IpamError::Overlap);
            }
            net
        }
        None => {
            if req.ip_range.is_some() || req.gateway.is_some() || !req.aux.is_empty() {
                return Err(IpamError::BadAddress {
                    what: "pool request",
                    value: "an ip-range, gateway or aux-address needs a subnet".to_string(),
                });
            }
            let mut taken = networks.to_vec();
            taken.extend_from_slice(routes);
            pick_subnet(pools, &taken).ok_or(IpamError::NoPool)?
        }
    };
    let inside = |what: &'static str, addr: Ipv4Addr| {
        if subnet.contains(addr) {
            Ok(addr)
        } else {
            Err(IpamError::Outside {
                what,
                addr: addr.to_string(),
                subnet,
            })
        }
    };
    let ip_range = match req.ip_range.as_deref().filter(|s| !s.is_empty()) {
        Some(r) => {
            let range = Ipv4Net::parse_strict(r)?;
            if !subnet.contains_net(&range) {
                return Err(IpamError::Outside {
                    what: "ip-range",
                    addr: range.to_string(),
                    subnet,
                });
            }
            Some(range)
        }
        None => None,
    };
    let gateway = match req.gateway.as_deref().filter(|s| !s.is_empty()) {
        Some(g) => inside("gateway", parse_ip("gateway", g)?)?,
        None => subnet.nth(1).ok_or(IpamError::Exhausted {
            network: String::new(),
            subnet,
        })?,
    };
    let mut aux = BTreeMap::new();
    for (name, a) in &req.aux {
        aux.insert(
            name.clone(),
            inside("auxiliary address", parse_ip("auxiliary address", a)?)?,
        );
    }
    Ok(SubnetPlan {
        subnet,
        gateway,
        ip_range,
        aux,
    })
}

impl SubnetPlan {
    /// Addresses no container may get.
    fn reserved(&self, ip: Ipv4Addr) -> bool {
        let s = &self.subnet;
        ip == self.gateway
            || self.aux.values().any(|a| *a == ip)
            || (s.prefix() < 31 && (ip == s.network() || ip == s.last()))
    }

    /// A container's address: `requested` (inside the subnet or range, not
    /// reserved, not `used`), else the lowest free one of the range.
    pub fn allocate(
        &self,
        network: &str,
        used: &BTreeSet<Ipv4Addr>,
        requested: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr, IpamError> {
        let range = self.ip_range.unwrap_or(self.subnet);
        if let Some(ip) = requested {
            if !self.subnet.contains(ip) {
                return Err(IpamError::NotInRange(ip));
            }
            if used.contains(&ip) || self.reserved(ip) {
                return Err(IpamError::InUse);
            }
            return Ok(ip);
        }
        (0..range.size())
            .filter_map(|n| range.nth(n))
            .find(|ip| !self.reserved(*ip) && !used.contains(ip))
            .ok_or_else(|| IpamError::Exhausted {
                network: network.to_string(),
                subnet: self.subnet,
            })
    }
}

/// A network's IPv6 subnet (`--ipv6 --subnet fd00:10:20::/64`): the
/// gateway is `::1` of the subnet unless given, containers get `::2`
/// upward, lowest free.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet6Plan {
    /// The network address (host bits zero).
    pub network: Ipv6Addr,
    pub prefix: u8,
    pub gateway: Ipv6Addr,
}

fn mask6(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

/// Parse an IPv6 subnet whose host bits are zero.
pub fn parse_subnet6(s: &str) -> Result<(Ipv6Addr, u8), IpamError> {
    let bad = || IpamError::Subnet(SubnetError::Invalid(s.to_string()));
    let (a, p) = s.split_once('/').ok_or_else(bad)?;
    let addr: Ipv6Addr = a.parse().map_err(|_| bad())?;
    let prefix: u8 = p.parse().map_err(|_| bad())?;
    if prefix > 128 {
        return Err(bad());
    }
    let net = u128::from(addr) & mask6(prefix);
    if net != u128::from(addr) {
        return Err(IpamError::BadAddress {
            what: "subnet",
            value: format!("{s}: it should be {}/{prefix}", Ipv6Addr::from(net)),
        });
    }
    Ok((addr, prefix))
}

impl Subnet6Plan {
    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & mask6(self.prefix) == u128::from(self.network)
    }

    pub fn overlaps(&self, other: &Subnet6Plan) -> bool {
        self.contains(other.network) || other.contains(self.network)
    }

    /// `network/prefix`.
    pub fn subnet_string(&self) -> String {
        format!("{}/{}", self.network, self.prefix)
    }

    /// A container's address: `requested` (inside, not the gateway or the
    /// subnet's first address, not `used`), else the lowest free from `::1`.
    pub fn allocate(
        &self,
        network: &str,
        used: &BTreeSet<Ipv6Addr>,
        requested: Option<Ipv6Addr>,
    ) -> Result<Ipv6Addr, IpamError> {
        let base = u128::from(self.network);
        if let Some(ip) = requested {
            if !self.contains(ip) {
                return Err(IpamError::NotInRange6(ip));
            }
            if used.contains(&ip) || ip == self.gateway || ip == self.network {
                return Err(IpamError::InUse);
            }
            return Ok(ip);
        }
        let size: u128 = if self.prefix == 0 {
            u128::MAX
        } else {
            1u128 << (128 - u32::from(self.prefix))
        };
        // Bounded: a network never has more endpoints than `used` holds.
        let tries = (used.len() as u128).saturating_add(3).min(size);
        (1..tries)
            .map(|n| Ipv6Addr::from(base.wrapping_add(n)))
            .find(|ip| *ip != self.gateway && !used.contains(ip))
            .ok_or_else(|| IpamError::Exhausted6 {
                network: network.to_string(),
                subnet: self.subnet_string(),
            })
    }
}

/// Decide a network's IPv6 subnet: the requested one (gateway given or
/// `::1`), refused when it overlaps another network's, else a random ULA
/// /64 (`fdXX:XXXX:XXXX:XXXX::/64`, as docker 28 picks one from fd00::/8).
pub fn plan6(req: Option<&IpamRequest>, networks: &[Subnet6Plan]) -> Result<Subnet6Plan, IpamError> {
    let subnet = req.and_then(|r| r.subnet.as_deref()).filter(|s| !s.is_empty());
    let (network, prefix) = match subnet {
        Some(s) => parse_subnet6(s)?,
        None => {
            let mut tries = 0;
            loop {
                let r: u64 = rand::random::<u64>() & 0x00ff_ffff_ffff_ffff;
                let net = Ipv6Addr::from((0xfd00_0000_0000_0000u128 | u128::from(r)) << 64);
                let cand = Subnet6Plan {
                    network: net,
                    prefix: 64,
                    gateway: net,
                };
                if !networks.iter().any(|n| n.overlaps(&cand)) {
                    break (net, 64);
                }
                tries += 1;
                if tries > 16 {
                    return Err(IpamError::NoPool6);
                }
            }
        }
    };
    if prefix > 126 {
        return Err(IpamError::BadAddress {
            what: "subnet",
            value: format!("{network}/{prefix}: too small"),
        });
    }
    let mut plan = Subnet6Plan {
        network,
        prefix,
        gateway: Ipv6Addr::from(u128::from(network) + 1),
    };
    if subnet.is_some() && networks.iter().any(|n| n.overlaps(&plan)) {
        return Err(IpamError::Overlap);
    }
    if let Some(g) = req.and_then(|r| r.gateway.as_deref()).filter(|g| !g.is_empty()) {
        let gw: Ipv6Addr = g.parse().map_err(|_| IpamError::BadAddress {
            what: "gateway",
            value: g.to_string(),
        })?;
        if !plan.contains(gw) {
            return Err(IpamError::Outside6 {
                what: "gateway",
                addr: g.to_string(),
                subnet: plan.subnet_string(),
            });
        }
        plan.gateway = gw;
    }
    if req.is_some_and(|r| r.ip_range.as_deref().is_some_and(|s| !s.is_empty()) || !r.aux.is_empty()) {
        return Err(IpamError::BadAddress {
            what: "IPv6 pool request",
            value: "Pier does not support --ip-range or --aux-address on IPv6 subnets".to_string(),
        });
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().expect("subnet")
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().expect("ip")
    }

    #[test]
    fn user_networks_start_at_172_18() {
        let pools = default_pools();
        let bridge = default_bridge_subnet();
        let p = plan(&IpamRequest::default(), &pools, &[bridge], &[]).expect("plan");
        assert_eq!(p.subnet, net("172.18.0.0/16"));
        assert_eq!(p.gateway, ip("172.18.0.1"));
        let p2 = plan(&IpamRequest::default(), &pools, &[bridge, p.subnet], &[]).expect("plan");
        assert_eq!(p2.subnet, net("172.19.0.0/16"));
        // Host routes are avoided.
        let p3 = plan(&IpamRequest::default(), &pools, &[bridge], &[net("172.18.5.0/24")]).expect("plan");
        assert_eq!(p3.subnet, net("172.19.0.0/16"));
        // After the 172.16/12 ranges, 192.168 in /20s.
        let all172: Vec<Ipv4Net> = vec![net("172.16.0.0/12")];
        let p4 = plan(&IpamRequest::default(), &pools, &all172, &[]).expect("plan");
        assert_eq!(p4.subnet, net("192.168.0.0/20"));
        let none = plan(&IpamRequest::default(), &pools, &[net("0.0.0.0/0")], &[]);
        assert_eq!(none, Err(IpamError::NoPool));
    }

    #[test]
    fn requested_subnet_range_gateway_aux() {
        let req = IpamRequest {
            subnet: Some("10.5.0.0/16".into()),
            ip_range: Some("10.5.1.0/24".into()),
            gateway: Some("10.5.0.254".into()),
            aux: [("host1".to_string(), "10.5.1.0".to_string())].into(),
        };
        let p = plan(&req, &default_pools(), &[], &[]).expect("plan");
        assert_eq!(p.gateway, ip("10.5.0.254"));
        assert_eq!(p.ip_range, Some(net("10.5.1.0/24")));
        // 10.5.1.0 is reserved by aux (and is not the subnet's network address).
        assert_eq!(p.allocate("n", &BTreeSet::new(), None), Ok(ip("10.5.1.1")));
        let used: BTreeSet<_> = [ip("10.5.1.1"), ip("10.5.1.2")].into();
        assert_eq!(p.allocate("n", &used, None), Ok(ip("10.5.1.3")));
        assert_eq!(p.allocate("n", &used, Some(ip("10.5.1.2"))), Err(IpamError::InUse));
        assert_eq!(p.allocate("n", &used, Some(ip("10.5.0.254"))), Err(IpamError::InUse));
        assert_eq!(p.allocate("n", &used, Some(ip("10.5.9.9"))), Ok(ip("10.5.9.9")));
        assert_eq!(
            p.allocate("n", &used, Some(ip("10.6.0.1"))),
            Err(IpamError::NotInRange(ip("10.6.0.1")))
        );
    }

    #[test]
    fn refusals() {
        let pools = default_pools();
        let r = |subnet: &str, range: Option<&str>, gw: Option<&str>| IpamRequest {
            subnet: Some(subnet.into()),
            ip_range: range.map(Into::into),
            gateway: gw.map(Into::into),
            aux: BTreeMap::new(),
        };
        assert!(matches!(
            plan(&r("10.5.0.1/16", None, None), &pools, &[], &[]),
            Err(IpamError::Subnet(SubnetError::HostBits { .. }))
        ));
        assert_eq!(
            plan(&r("10.5.0.0/16", None, None), &pools, &[net("10.5.3.0/24")], &[]),
            Err(IpamError::Overlap)
        );
        assert!(matches!(
            plan(&r("10.5.0.0/16", Some("10.6.0.0/24"), None), &pools, &[], &[]),
            Err(IpamError::Outside { what: "ip-range", .. })
        ));
        assert!(matches!(
            plan(&r("10.5.0.0/16", None, Some("10.6.0.1")), &pools, &[], &[]),
            Err(IpamError::Outside { what: "gateway", .. })
        ));
        assert!(matches!(
            plan(&r("fd00::/64", None, None), &pools, &[], &[]),
            Err(IpamError::Ipv6(_))
        ));
    }

    #[test]
    fn exhaustion() {
        let p = plan(
            &IpamRequest {
                subnet: Some("10.9.0.0/30".into()),
                ..Default::default()
            },
            &default_pools(),
            &[],
            &[],
        )
        .expect("plan");
        // .0 network, .1 gateway, .3 broadcast: one address left.
        assert_eq!(p.allocate("n", &BTreeSet::new(), None), Ok(ip("10.9.0.2")));
        let used: BTreeSet<_> = [ip("10.9.0.2")].into();
        assert!(matches!(p.allocate("n", &used, None), Err(IpamError::Exhausted { .. })));
    }

    fn ip6(s: &str) -> Ipv6Addr {
        s.parse().expect("ip6")
    }

    fn req6(subnet: &str, gw: Option<&str>) -> IpamRequest {
        IpamRequest {
            subnet: Some(subnet.into()),
            gateway: gw.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn ipv6_plan_and_allocation() {
        let p = plan6(Some(&req6("fd00:10:20::/64", None)), &[]).expect("plan6");
        assert_eq!(p.subnet_string(), "fd00:10:20::/64");
        assert_eq!(p.gateway, ip6("fd00:10:20::1"));
        assert_eq!(p.allocate("n", &BTreeSet::new(), None), Ok(ip6("fd00:10:20::2")));
        let used: BTreeSet<_> = [ip6("fd00:10:20::2"), ip6("fd00:10:20::4")].into();
        // Lowest free: a hole is filled first.
        assert_eq!(p.allocate("n", &used, None), Ok(ip6("fd00:10:20::3")));
        let used: BTreeSet<_> = [ip6("fd00:10:20::2"), ip6("fd00:10:20::3")].into();
        assert_eq!(p.allocate("n", &used, None), Ok(ip6("fd00:10:20::4")));
        // Requested addresses.
        assert_eq!(
            p.allocate("n", &used, Some(ip6("fd00:10:20::99"))),
            Ok(ip6("fd00:10:20::99"))
        );
        assert_eq!(
            p.allocate("n", &used, Some(ip6("fd00:10:20::3"))),
            Err(IpamError::InUse)
        );
        assert_eq!(
            p.allocate("n", &used, Some(ip6("fd00:10:20::1"))),
            Err(IpamError::InUse)
        );
        assert_eq!(
            p.allocate("n", &used, Some(ip6("fd00:99::2"))),
            Err(IpamError::NotInRange6(ip6("fd00:99::2")))
        );
        // A given gateway is skipped by allocation.
        let g = plan6(Some(&req6("fd00:10:21::/64", Some("fd00:10:21::2"))), &[]).expect("plan6");
        assert_eq!(g.gateway, ip6("fd00:10:21::2"));
        assert_eq!(g.allocate("n", &BTreeSet::new(), None), Ok(ip6("fd00:10:21::1")));
        let used: BTreeSet<_> = [ip6("fd00:10:21::1")].into();
        assert_eq!(g.allocate("n", &used, None), Ok(ip6("fd00:10:21::3")));
        // A tiny subnet runs out.
        let t = plan6(Some(&req6("fd00:10:22::/126", None)), &[]).expect("plan6");
        let used: BTreeSet<_> = [ip6("fd00:10:22::2"), ip6("fd00:10:22::3")].into();
        assert!(matches!(
            t.allocate("n", &used, None),
            Err(IpamError::Exhausted6 { .. })
        ));
    }

    #[test]
    fn ipv6_refusals_and_default() {
        let taken = plan6(Some(&req6("fd00:10:20::/64", None)), &[]).expect("plan6");
        assert_eq!(
            plan6(Some(&req6("fd00:10:20::/48", None)), std::slice::from_ref(&taken)),
            Err(IpamError::Overlap)
        );
        assert!(plan6(Some(&req6("fd00:10:20::1/64", None)), &[]).is_err());
        assert!(plan6(Some(&req6("fd00:10:20::/129", None)), &[]).is_err());
        assert!(matches!(
            plan6(Some(&req6("fd00:10:20::/64", Some("fd00:99::1"))), &[]),
            Err(IpamError::Outside6 { what: "gateway", .. })
        ));
        // No subnet asked: a ULA /64.
        let d = plan6(None, &[taken]).expect("default");
        assert_eq!(d.prefix, 64);
        assert_eq!(d.network.segments()[0] >> 8, 0xfd);
        assert_eq!(d.gateway, Ipv6Addr::from(u128::from(d.network) + 1));
    }
}
