//! A plugin chain's result (pure): the addresses the pod got, read from
//! any result version (1.0.0 and 0.3.x/0.4.0 `ips` with `interface`
//! indexes into `interfaces`; 0.1/0.2 `ip4` / `ip6`).

use std::net::IpAddr;

use serde_json::Value;

/// One address of a result (`10.9.0.2/24`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultIp {
    pub addr: IpAddr,
    pub prefix_len: u8,
    pub gateway: Option<IpAddr>,
    /// The interface's MAC, when the result names it.
    pub mac: Option<String>,
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = s.split_once('/')?;
    Some((ip.parse().ok()?, len.parse().ok()?))
}

fn gateway(v: &Value) -> Option<IpAddr> {
    v.get("gateway").and_then(Value::as_str).and_then(|g| g.parse().ok())
}

/// The addresses on `ifname` inside the sandbox (an address whose
/// interface is not named counts: plugins may leave it out); IPv4 ones
/// first, each family in the result's order (containerd's choice of the
/// pod IP and its additional IPs).
pub fn pod_ips(result: &Value, ifname: &str) -> Vec<ResultIp> {
    let interfaces = result.get("interfaces").and_then(Value::as_array);
    let mut out = Vec::new();
    if let Some(ips) = result.get("ips").and_then(Value::as_array) {
        for ip in ips {
            let Some((addr, prefix_len)) = ip.get("address").and_then(Value::as_str).and_then(parse_cidr) else {
                continue;
            };
            let iface = ip
                .get("interface")
                .and_then(Value::as_u64)
                .and_then(|i| interfaces.and_then(|all| all.get(usize::try_from(i).ok()?)));
            if let Some(iface) = iface {
                let name = iface.get("name").and_then(Value::as_str).unwrap_or("");
                let sandbox = iface.get("sandbox").and_then(Value::as_str).unwrap_or("");
                if name != ifname || sandbox.is_empty() {
                    continue;
                }
            }
            out.push(ResultIp {
                addr,
                prefix_len,
                gateway: gateway(ip),
                mac: iface
                    .and_then(|i| i.get("mac"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
        }
    }
    for key in ["ip4", "ip6"] {
        if let Some(ip) = result.get(key) {
            if let Some((addr, prefix_len)) = ip.get("ip").and_then(Value::as_str).and_then(parse_cidr) {
                out.push(ResultIp {
                    addr,
                    prefix_len,
                    gateway: gateway(ip),
                    mac: None,
                });
            }
        }
    }
    out.sort_by_key(|ip| ip.addr.is_ipv6());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn addresses_of_the_pod_interface() {
        // The bridge plugin's 1.0.0 result: the bridge, the host veth, the
        // pod's eth0.
        let r = json!({
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name": "cni0", "mac": "aa:aa:aa:aa:aa:aa"},
                {"name": "veth1", "mac": "bb:bb:bb:bb:bb:bb"},
                {"name": "eth0", "mac": "cc:cc:cc:cc:cc:cc", "sandbox": "/run/netns/x"}
            ],
            "ips": [
                {"address": "fd00::5/64", "gateway": "fd00::1", "interface": 2},
                {"address": "10.9.0.5/24", "gateway": "10.9.0.1", "interface": 2},
                {"address": "10.9.0.1/24", "interface": 0}
            ]
        });
        let ips = pod_ips(&r, "eth0");
        assert_eq!(ips.len(), 2, "{ips:?}");
        assert_eq!(ips[0].addr.to_string(), "10.9.0.5");
        assert_eq!(ips[0].prefix_len, 24);
        assert_eq!(ips[0].gateway.map(|g| g.to_string()).as_deref(), Some("10.9.0.1"));
        assert_eq!(ips[0].mac.as_deref(), Some("cc:cc:cc:cc:cc:cc"));
        assert_eq!(ips[1].addr.to_string(), "fd00::5");
        assert!(pod_ips(&r, "eth1").is_empty());
    }

    #[test]
    fn older_results() {
        let r = json!({"cniVersion": "0.3.1", "ips": [{"version": "4", "address": "10.1.0.2/16"}]});
        assert_eq!(pod_ips(&r, "eth0")[0].addr.to_string(), "10.1.0.2");
        let r = json!({"cniVersion": "0.2.0", "ip4": {"ip": "10.2.0.2/24", "gateway": "10.2.0.1"}});
        let ips = pod_ips(&r, "eth0");
        assert_eq!(
            (ips[0].addr.to_string(), ips[0].prefix_len),
            ("10.2.0.2".to_string(), 24)
        );
        assert!(pod_ips(&json!(null), "eth0").is_empty());
        assert!(pod_ips(&json!({"ips": [{"address": "garbage"}]}), "eth0").is_empty());
    }
}
