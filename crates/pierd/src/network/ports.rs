//! Published ports, pure: `HostConfig.PortBindings` turned into host port
//! mappings, host ports picked from the ephemeral range, conflicts found
//! against the mappings of other containers (and, through a caller's probe,
//! against the host's own listeners).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn parse(s: &str) -> Option<Proto> {
        match s.to_ascii_lowercase().as_str() {
            "" | "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            "sctp" => Some(Proto::Sctp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One requested binding: a container port published on a host address
/// and a host port or range (`0..=0`: any free one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRequest {
    pub container_port: u16,
    pub proto: Proto,
    /// `""`: every address of the host.
    pub host_ip: String,
    pub host_port_first: u16,
    pub host_port_last: u16,
}

/// A host port given to a container.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortMapping {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

impl PortMapping {
    /// The host address as docker shows it (`0.0.0.0` for all).
    pub fn shown_host_ip(&self) -> &str {
        if self.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &self.host_ip
        }
    }

    /// Whether two mappings want the same host socket.
    fn clashes(&self, proto: Proto, host_ip: &str, port: u16) -> bool {
        self.proto == proto
            && self.host_port == port
            && (self.host_ip.is_empty()
                || host_ip.is_empty()
                || unspecified(host_ip)
                || unspecified(&self.host_ip)
                || self.host_ip == host_ip)
    }
}

fn unspecified(ip: &str) -> bool {
    ip.parse::<IpAddr>().is_ok_and(|a| a.is_unspecified())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("invalid port specification: {0:?}")]
    Invalid(String),
    #[error("invalid IP address: {0}")]
    BadHostIp(String),
    /// dockerd's words when another container holds the port.
    #[error("Bind for {host}:{port} failed: port is already allocated")]
    Allocated { host: String, port: u16 },
    /// The host's own listener holds it.
    #[error("failed to bind host port for {host}:{port}:{proto}: address already in use")]
    HostInUse { host: String, port: u16, proto: Proto },
    #[error("no free host port in {first}-{last} for {proto}")]
    NoFreePort { first: u16, last: u16, proto: Proto },
}

/// `HostConfig.PortBindings` (`"80/tcp": [{"HostIp": "", "HostPort": "8080"}]`)
/// as requests, in key order. An empty list or a null publishes on a
/// random port of every address, as dockerd.
pub fn requests_from_bindings(
    bindings: &BTreeMap<String, Vec<(String, String)>>,
) -> Result<Vec<PortRequest>, PortError> {
    let mut out = Vec::new();
    for (key, targets) in bindings {
        let (port, proto) = match key.split_once('/') {
            Some((p, pr)) => (p, pr),
            None => (key.as_str(), "tcp"),
        };
        let proto = Proto::parse(proto).ok_or_else(|| PortError::Invalid(key.clone()))?;
        let container_port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| PortError::Invalid(key.clone()))?;
        let default = [(String::new(), String::new())];
        let targets: &[(String, String)] = if targets.is_empty() { &default } else { targets };
        for (host_ip, host_port) in targets {
            let host_ip = host_ip.trim_start_matches('[').trim_end_matches(']').to_string();
            if !host_ip.is_empty() && host_ip.parse::<IpAddr>().is_err() {
                return Err(PortError::BadHostIp(host_ip));
            }
            let (first, last) = parse_host_ports(host_port)?;
            out.push(PortRequest {
                container_port,
                proto,
                host_ip,
                host_port_first: first,
                host_port_last: last,
            });
        }
    }
    Ok(out)
}

/// `""` -> any (0, 0); `"8080"`; `"8000-8010"`.
pub fn parse_host_ports(s: &str) -> Result<(u16, u16), PortError> {
    let bad = || PortError::Invalid(s.to_string());
    if s.is_empty() {
        return Ok((0, 0));
    }
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// `/proc/sys/net/ipv4/ip_local_port_range` (`32768\t60999`); dockerd's
/// fallback 49153-65535 when unreadable.
pub fn parse_ephemeral_range(text: Option<&str>) -> (u16, u16) {
    let parsed = text.and_then(|t| {
        let mut it = t.split_whitespace().map(|w| w.parse::<u16>());
        match (it.next(), it.next()) {
            (Some(Ok(a)), Some(Ok(b))) if a > 0 && a <= b => Some((a, b)),
            _ => None,
        }
    });
    parsed.unwrap_or((49153, 65535))
}

/// Give every request a host port. `taken` are other containers'
/// mappings; `host_free(mapping)` asks the host whether it can bind it
/// (not called for ports taken by other containers); `start` picks where
/// in a range the search begins (random in the daemon, fixed in tests).
pub fn allocate(
    requests: &[PortRequest],
    taken: &[PortMapping],
    ephemeral: (u16, u16),
    start: &mut dyn FnMut(u16, u16) -> u16,
    host_free: &mut dyn FnMut(&PortMapping) -> bool,
) -> Result<Vec<PortMapping>, PortError> {
    let mut out: Vec<PortMapping> = Vec::new();
    for r in requests {
        let clash = |out: &[PortMapping], port: u16| {
            taken
                .iter()
                .chain(out.iter())
                .any(|m| m.clashes(r.proto, &r.host_ip, port))
        };
        let mapping = |port| PortMapping {
            host_ip: r.host_ip.clone(),
            host_port: port,
            container_port: r.container_port,
            proto: r.proto,
        };
        let shown = if r.host_ip.is_empty() {
            "0.0.0.0".to_string()
        } else {
            r.host_ip.clone()
        };
        if r.host_port_first != 0 && r.host_port_first == r.host_port_last {
            let port = r.host_port_first;
            if clash(&out, port) {
                return Err(PortError::Allocated { host: shown, port });
            }
            let m = mapping(port);
            if !host_free(&m) {
                return Err(PortError::HostInUse {
                    host: shown,
                    port,
                    proto: r.proto,
                });
            }
            out.push(m);
            continue;
        }
        let (first, last) = if r.host_port_first == 0 {
            ephemeral
        } else {
            (r.host_port_first, r.host_port_last)
        };
        let span = u32::from(last - first) + 1;
        let begin = u32::from(start(first, last).clamp(first, last) - first);
        let found = (0..span)
            .map(|i| first + ((begin + i) % span) as u16)
            .find(|p| !clash(&out, *p) && host_free(&mapping(*p)));
        match found {
            Some(p) => out.push(mapping(p)),
            None => {
                return Err(PortError::NoFreePort {
                    first,
                    last,
                    proto: r.proto,
                })
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bindings(list: &[(&str, &[(&str, &str)])]) -> BTreeMap<String, Vec<(String, String)>> {
        list.iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
                )
            })
            .collect()
    }

    fn first(a: u16, _: u16) -> u16 {
        a
    }

    #[test]
    fn parse_bindings() {
        let r = requests_from_bindings(&bindings(&[
            ("80/tcp", &[("127.0.0.1", "8080")]),
            ("53/udp", &[("", "")]),
            ("443", &[]),
            ("90/tcp", &[("", "9000-9010")]),
        ]))
        .expect("parse");
        assert_eq!(r.len(), 4);
        assert_eq!((r[0].container_port, r[0].proto), (443, Proto::Tcp));
        assert_eq!((r[0].host_port_first, r[0].host_port_last), (0, 0));
        assert_eq!(r[1].proto, Proto::Udp);
        assert_eq!(r[2].host_ip, "127.0.0.1");
        assert_eq!((r[3].host_port_first, r[3].host_port_last), (9000, 9010));
        assert!(requests_from_bindings(&bindings(&[("x/tcp", &[])])).is_err());
        assert!(requests_from_bindings(&bindings(&[("80/icmp", &[])])).is_err());
        assert!(requests_from_bindings(&bindings(&[("80", &[("nope", "1")])])).is_err());
        assert!(requests_from_bindings(&bindings(&[("80", &[("", "9-1")])])).is_err());
    }

    #[test]
    fn ephemeral_range() {
        assert_eq!(parse_ephemeral_range(Some("32768\t60999\n")), (32768, 60999));
        assert_eq!(parse_ephemeral_range(Some("garbage")), (49153, 65535));
        assert_eq!(parse_ephemeral_range(None), (49153, 65535));
    }

    #[test]
    fn fixed_ports_and_conflicts() {
        let reqs = requests_from_bindings(&bindings(&[("80/tcp", &[("", "8080")])])).expect("parse");
        let got = allocate(&reqs, &[], (40000, 40010), &mut first, &mut |_| true).expect("alloc");
        assert_eq!(got[0].host_port, 8080);
        assert_eq!(got[0].shown_host_ip(), "0.0.0.0");
        // Another container holds 127.0.0.1:8080: 0.0.0.0:8080 clashes.
        let taken = vec![PortMapping {
            host_ip: "127.0.0.1".into(),
            host_port: 8080,
            container_port: 80,
            proto: Proto::Tcp,
        }];
        let err = allocate(&reqs, &taken, (40000, 40010), &mut first, &mut |_| true).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "Bind for 0.0.0.0:8080 failed: port is already allocated"
        );
        // A different address or protocol does not clash.
        let reqs2 = requests_from_bindings(&bindings(&[
            ("80/udp", &[("", "8080")]),
            ("81", &[("127.0.0.2", "8080")]),
        ]))
        .expect("parse");
        assert!(allocate(&reqs2, &taken, (40000, 40010), &mut first, &mut |_| true).is_ok());
        // The host's own listener.
        let err = allocate(&reqs, &[], (40000, 40010), &mut first, &mut |_| false).expect_err("refused");
        assert!(matches!(err, PortError::HostInUse { port: 8080, .. }));
    }

    #[test]
    fn random_ports_skip_taken_ones() {
        let reqs =
            requests_from_bindings(&bindings(&[("80/tcp", &[("", "")]), ("81/tcp", &[("", "")])])).expect("parse");
        let taken = vec![PortMapping {
            host_ip: String::new(),
            host_port: 40000,
            container_port: 1,
            proto: Proto::Tcp,
        }];
        let got = allocate(&reqs[..1], &taken, (40000, 40002), &mut first, &mut |m| {
            m.host_port != 40001
        })
        .expect("alloc");
        assert_eq!(got[0].host_port, 40002);
        // The second request finds nothing left.
        let err =
            allocate(&reqs, &taken, (40000, 40002), &mut first, &mut |m| m.host_port != 40001).expect_err("refused");
        assert!(matches!(err, PortError::NoFreePort { .. }));
        // A start in the middle wraps around.
        let one = &reqs[..1];
        let got = allocate(one, &[], (40000, 40002), &mut |_, _| 40002, &mut |m| {
            m.host_port != 40002
        })
        .expect("alloc");
        assert_eq!(got[0].host_port, 40000);
        // A host range.
        let r = requests_from_bindings(&bindings(&[("80/tcp", &[("", "9000-9001")])])).expect("parse");
        let taken = vec![PortMapping {
            host_ip: String::new(),
            host_port: 9000,
            container_port: 1,
            proto: Proto::Tcp,
        }];
        let got = allocate(&r, &taken, (40000, 40002), &mut first, &mut |_| true).expect("alloc");
        assert_eq!(got[0].host_port, 9001);
    }
}
