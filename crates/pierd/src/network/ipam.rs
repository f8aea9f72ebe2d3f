//! IP address management, pure: docker's default pools, picking a subnet
//! for a new network, checking `--subnet`/`--ip-range`/`--gateway`/
//! `--aux-address`, and choosing a container's address in a network.
//!
//! Allocation is lowest-free within the network's range (the gateway,
//! auxiliary addresses, network and broadcast addresses excluded). What is
//! allocated is not stored here: the daemon derives it from the attachments
//! on disk (`network::store`), so it survives a restart or a kill -9.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

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
}
