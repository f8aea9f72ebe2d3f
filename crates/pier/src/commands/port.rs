//! `pier port CONTAINER [PRIVATE_PORT[/PROTO]]`: the published ports, from
//! inspect's `NetworkSettings.Ports`, as docker prints them.

use clap::Args;
use pier_client::Client;

#[derive(Debug, Args)]
pub struct PortArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub port: Option<String>,
}

/// `host_ip:port` (IPv6 in brackets).
fn join(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// The lines docker prints for `ports` (`NetworkSettings.Ports`), all of
/// them or those of `wanted` (`80`, `80/udp`); `None` when `wanted` has no
/// binding.
pub fn lines(ports: &serde_json::Value, wanted: Option<&str>) -> Option<Vec<String>> {
    let map = ports.as_object();
    let bindings = |key: &str| -> Vec<String> {
        map.and_then(|m| m.get(key))
            .and_then(|v| v.as_array())
            .map(|list| {
                list.iter()
                    .map(|b| join(b["HostIp"].as_str().unwrap_or(""), b["HostPort"].as_str().unwrap_or("")))
                    .collect()
            })
            .unwrap_or_default()
    };
    match wanted {
        Some(p) => {
            let key = if p.contains('/') {
                p.to_string()
            } else {
                format!("{p}/tcp")
            };
            let out = bindings(&key);
            (!out.is_empty()).then_some(out)
        }
        None => {
            let mut out: Vec<String> = map
                .into_iter()
                .flat_map(|m| m.keys())
                .flat_map(|k| bindings(k).into_iter().map(move |b| format!("{k} -> {b}")))
                .collect();
            out.sort();
            Some(out)
        }
    }
}

pub fn port(client: &Client, a: &PortArgs) -> anyhow::Result<i32> {
    let raw = client.container_inspect_raw(&a.container)?;
    let v: serde_json::Value = serde_json::from_slice(&raw)?;
    match lines(&v["NetworkSettings"]["Ports"], a.port.as_deref()) {
        Some(out) => {
            for l in out {
                println!("{l}");
            }
            Ok(0)
        }
        None => {
            let p = a.port.as_deref().unwrap_or("");
            let key = if p.contains('/') {
                p.to_string()
            } else {
                format!("{p}/tcp")
            };
            anyhow::bail!("No public port '{key}' published for {}", a.container)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_lines() {
        let ports = serde_json::json!({
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
            "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
            "81/tcp": null
        });
        assert_eq!(
            lines(&ports, None).expect("all"),
            [
                "53/udp -> 127.0.0.1:5353",
                "80/tcp -> 0.0.0.0:8080",
                "80/tcp -> [::]:8080"
            ]
        );
        assert_eq!(lines(&ports, Some("80")).expect("80"), ["0.0.0.0:8080", "[::]:8080"]);
        assert_eq!(lines(&ports, Some("53/udp")).expect("53"), ["127.0.0.1:5353"]);
        assert_eq!(lines(&ports, Some("81")), None);
    }
}
