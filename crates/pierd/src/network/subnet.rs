//! IPv4 subnets (`172.18.0.0/16`): parsing with docker's strictness,
//! containment, overlap and splitting a pool into subnets. Pure.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An IPv4 network: its address (host bits zero) and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Net {
    addr: u32,
    prefix: u8,
}

/// Why a subnet text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubnetError {
    #[error("invalid CIDR address: {0}")]
    Invalid(String),
    /// dockerd's words for `172.20.0.1/16`.
    #[error("invalid subnet {given}: it should be {network}")]
    HostBits { given: String, network: Ipv4Net },
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl Ipv4Net {
    /// The network of `addr/prefix` (host bits cleared); `None` past /32.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Self> {
        (prefix <= 32).then(|| Ipv4Net {
            addr: u32::from(addr) & mask(prefix),
            prefix,
        })
    }

    /// Parse `a.b.c.d/n`, allowing host bits (`--ip-range` style inputs are
    /// checked separately with [`Ipv4Net::parse_strict`]); returns the
    /// address as written and its network.
    pub fn parse_with_addr(s: &str) -> Result<(Ipv4Addr, Ipv4Net), SubnetError> {
        let bad = || SubnetError::Invalid(s.to_string());
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        let net = Ipv4Net::new(addr, prefix).ok_or_else(bad)?;
        Ok((addr, net))
    }

    /// Parse a subnet whose host bits must be zero (dockerd refuses
    /// `--subnet 172.20.0.1/16`).
    pub fn parse_strict(s: &str) -> Result<Ipv4Net, SubnetError> {
        let (addr, net) = Ipv4Net::parse_with_addr(s)?;
        if addr != net.network() {
            return Err(SubnetError::HostBits {
                given: s.to_string(),
                network: net,
            });
        }
        Ok(net)
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.addr)
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The last address (the broadcast address of a subnet wider than /31).
    pub fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.addr | !mask(self.prefix))
    }

    /// Number of addresses.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == self.addr
    }

    /// True when `other` lies wholly inside this network.
    pub fn contains_net(&self, other: &Ipv4Net) -> bool {
        other.prefix >= self.prefix && self.contains(other.network())
    }

    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.network()) || other.contains(self.network())
    }

    /// The `n`th address from the network address, if inside.
    pub fn nth(&self, n: u64) -> Option<Ipv4Addr> {
        (n < self.size()).then(|| Ipv4Addr::from(self.addr.wrapping_add(n as u32)))
    }

    /// Offset of `ip` from the network address (`ip` must be inside).
    pub fn offset(&self, ip: Ipv4Addr) -> u64 {
        u64::from(u32::from(ip).wrapping_sub(self.addr))
    }

    /// The subnets of length `prefix` this network splits into, in order;
    /// empty when `prefix` is shorter than this network's.
    pub fn split(&self, prefix: u8) -> impl Iterator<Item = Ipv4Net> + '_ {
        let count = if prefix < self.prefix || prefix > 32 {
            0
        } else {
            1u64 << (prefix - self.prefix)
        };
        let step = if prefix > 32 {
            0
        } else {
            1u64 << (32 - u32::from(prefix))
        };
        (0..count).map(move |i| Ipv4Net {
            addr: (u64::from(self.addr) + i * step) as u32,
            prefix,
        })
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = SubnetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ipv4Net::parse_strict(s)
    }
}

impl Serialize for Ipv4Net {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ipv4Net {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ipv4Net::parse_strict(&s).map_err(serde::de::Error::custom)
    }
}

/// The IPv4 routes of `/proc/net/route` (destination and mask in
/// little-endian hex), default routes left out: what a new network must
/// not overlap (dockerd's `CheckRouteOverlaps`).
pub fn parse_proc_route(text: &str) -> Vec<Ipv4Net> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?.swap_bytes();
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?.swap_bytes();
            let prefix = mask.leading_ones() as u8;
            (prefix > 0).then(|| Ipv4Net::new(Ipv4Addr::from(dest), prefix))?
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().expect("subnet")
    }

    #[test]
    fn parse_and_show() {
        assert_eq!(net("172.17.0.0/16").to_string(), "172.17.0.0/16");
        assert_eq!(
            "172.20.0.1/16".parse::<Ipv4Net>().expect_err("refused").to_string(),
            "invalid subnet 172.20.0.1/16: it should be 172.20.0.0/16"
        );
        assert!("172.20.0.0".parse::<Ipv4Net>().is_err());
        assert!("172.20.0.0/33".parse::<Ipv4Net>().is_err());
        assert!("fd00::/64".parse::<Ipv4Net>().is_err());
        let (a, n) = Ipv4Net::parse_with_addr("10.1.2.3/8").expect("addr");
        assert_eq!((a, n), (Ipv4Addr::new(10, 1, 2, 3), net("10.0.0.0/8")));
    }

    #[test]
    fn containment_and_overlap() {
        let n = net("172.18.0.0/16");
        assert!(n.contains(Ipv4Addr::new(172, 18, 255, 255)));
        assert!(!n.contains(Ipv4Addr::new(172, 19, 0, 0)));
        assert!(n.contains_net(&net("172.18.5.0/24")));
        assert!(!net("172.18.5.0/24").contains_net(&n));
        assert!(n.overlaps(&net("172.16.0.0/12")));
        assert!(!n.overlaps(&net("172.19.0.0/16")));
        assert_eq!(n.last(), Ipv4Addr::new(172, 18, 255, 255));
        assert_eq!(n.size(), 65536);
        assert_eq!(n.nth(1), Some(Ipv4Addr::new(172, 18, 0, 1)));
        assert_eq!(n.nth(65536), None);
        assert_eq!(n.offset(Ipv4Addr::new(172, 18, 1, 0)), 256);
    }

    #[test]
    fn split() {
        let parts: Vec<String> = net("192.168.0.0/16").split(20).take(3).map(|n| n.to_string()).collect();
        assert_eq!(parts, ["192.168.0.0/20", "192.168.16.0/20", "192.168.32.0/20"]);
        assert_eq!(net("192.168.0.0/16").split(20).count(), 16);
        assert_eq!(net("172.20.0.0/14").split(16).count(), 4);
        assert_eq!(net("10.0.0.0/24").split(16).count(), 0);
    }

    #[test]
    fn routes() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        assert_eq!(parse_proc_route(text), vec![net("10.0.0.0/24"), net("172.17.0.0/16")]);
    }
}
