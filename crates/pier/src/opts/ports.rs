//! `-p`/`--publish` and `--expose` as docker's CLI turns them into
//! `ExposedPorts` and `PortBindings` (go-connections' `nat.ParsePortSpecs`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use pier_api::container::PortBinding;

use super::Invalid;

/// `ExposedPorts` keys (`80/tcp`) and `PortBindings` in docker's shapes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ports {
    pub exposed: BTreeMap<String, serde_json::Value>,
    pub bindings: BTreeMap<String, Option<Vec<PortBinding>>>,
}

fn port_range(s: &str) -> Result<(u16, u16), ()> {
    if s.is_empty() {
        return Err(());
    }
    match s.split_once('-') {
        None => {
            let p = s.parse().map_err(|_| ())?;
            Ok((p, p))
        }
        Some((a, b)) => {
            let b = b.split('-').next().unwrap_or(b);
            let (a, b): (u16, u16) = (a.parse().map_err(|_| ())?, b.parse().map_err(|_| ())?);
            if b < a {
                return Err(());
            }
            Ok((a, b))
        }
    }
}

/// `nat.SplitProtoPort`: `80/udp` -> (`udp`, `80`); no proto is tcp.
fn split_proto_port(raw: &str) -> (String, String) {
    let parts: Vec<&str> = raw.split('/').collect();
    if raw.is_empty() || parts[0].is_empty() {
        return (String::new(), String::new());
    }
    match parts.get(1) {
        None | Some(&"") => ("tcp".to_string(), parts[0].to_string()),
        Some(p) => ((*p).to_string(), parts[0].to_string()),
    }
}

/// docker's `convertToStandardNotation`: the long syntax
/// `target=80,published=8080,protocol=udp` into `8080:80/udp`.
fn standard_notation(publish: &str) -> Result<String, Invalid> {
    if !publish.contains('=') {
        return Ok(publish.to_string());
    }
    let mut params = BTreeMap::from([("protocol".to_string(), "tcp".to_string())]);
    for param in publish.split(',') {
        let (k, v) = param.split_once('=').filter(|(k, _)| !k.is_empty()).ok_or_else(|| {
            Invalid(format!(
                "invalid publish opts format (should be name=value but got '{param}')"
            ))
        })?;
        params.insert(k.to_string(), v.to_string());
    }
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    Ok(format!("{}:{}/{}", get("published"), get("target"), get("protocol")))
}

/// `nat.ParsePortSpec` for one value, appended to `out`.
fn parse_spec(raw: &str, out: &mut Ports) -> Result<(), Invalid> {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let container = parts[n - 1];
    let (mut ip, host) = match n {
        1 => (String::new(), ""),
        2 => (String::new(), parts[0]),
        3 => (parts[0].to_string(), parts[1]),
        _ => (parts[..n - 2].join(":"), parts[n - 2]),
    };
    let (proto, container) = split_proto_port(container);
    if let Some(inner) = ip.strip_prefix('[') {
        ip = inner
            .strip_suffix(']')
            .map(str::to_string)
            .ok_or_else(|| Invalid(format!("invalid IP address {ip}: missing ']' in address")))?;
    }
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(Invalid(format!("invalid IP address: {ip}")));
    }
    if container.is_empty() {
        return Err(Invalid(format!("no port specified: {raw}<empty>")));
    }
    let (start, end) = port_range(&container).map_err(|_| Invalid(format!("invalid containerPort: {container}")))?;
    let (host_start, host_end) = if host.is_empty() {
        (0, 0)
    } else {
        port_range(host).map_err(|_| Invalid(format!("invalid hostPort: {host}")))?
    };
    if !host.is_empty() && end - start != host_end - host_start && end != start {
        return Err(Invalid(format!(
            "invalid ranges specified for container and host Ports: {container} and {host}"
        )));
    }
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(Invalid(format!("invalid proto: {proto}")));
    }
    for i in 0..=(end - start) {
        let port = format!("{}/{proto}", start + i);
        let host_port = if host.is_empty() {
            String::new()
        } else if start == end && host_start != host_end {
            format!("{host_start}-{host_end}")
        } else {
            (host_start + i).to_string()
        };
        out.exposed.entry(port.clone()).or_insert_with(|| serde_json::json!({}));
        out.bindings
            .entry(port)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: ip.clone(),
                host_port,
            });
    }
    Ok(())
}

/// `-p` values then `--expose` values, as docker's `parse` merges them.
pub fn parse(publish: &[String], expose: &[String]) -> Result<Ports, Invalid> {
    let mut out = Ports::default();
    for p in publish {
        parse_spec(&standard_notation(p)?, &mut out)?;
    }
    for e in expose {
        if e.contains(':') {
            return Err(Invalid(format!("invalid port format for --expose: {e}")));
        }
        let (proto, port) = split_proto_port(e);
        let (start, end) = port_range(&port).map_err(|_| {
            Invalid(format!(
                "invalid range format for --expose: {e}, error: {}",
                range_error(&port)
            ))
        })?;
        for p in start..=end {
            out.exposed
                .entry(format!("{p}/{proto}"))
                .or_insert_with(|| serde_json::json!({}));
        }
    }
    Ok(out)
}

/// The Go error text `nat.ParsePortRange` gives for a bad range.
fn range_error(port: &str) -> String {
    if port.is_empty() {
        return "empty string specified for ports".to_string();
    }
    let first = port.split('-').find(|p| p.parse::<u16>().is_err());
    match first {
        Some(bad) => format!("strconv.ParseUint: parsing \"{bad}\": invalid syntax"),
        None => format!("invalid range specified for port: {port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn publish_specs() {
        let p = parse(
            &strings(&["8080:80", "127.0.0.1::53/udp", "9000-9001:9000-9001", "[::1]:7000:7000"]),
            &strings(&["443", "5000-5001/udp"]),
        )
        .expect("ports");
        let keys: Vec<&str> = p.exposed.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["443/tcp", "5000/udp", "5001/udp", "53/udp", "7000/tcp", "80/tcp", "9000/tcp", "9001/tcp"]
        );
        let b = |k: &str| p.bindings[k].clone().expect("binding");
        assert_eq!(b("80/tcp")[0].host_port, "8080");
        assert_eq!(
            (b("53/udp")[0].host_ip.as_str(), b("53/udp")[0].host_port.as_str()),
            ("127.0.0.1", "")
        );
        assert_eq!(b("9001/tcp")[0].host_port, "9001");
        assert_eq!(b("7000/tcp")[0].host_ip, "::1");
        assert!(!p.bindings.contains_key("443/tcp"));
    }

    #[test]
    fn publish_errors_and_long_syntax() {
        assert_eq!(
            parse(&strings(&["x"]), &[]),
            Err(Invalid("invalid containerPort: x".into()))
        );
        assert_eq!(
            parse(&[], &strings(&["1:2"])),
            Err(Invalid("invalid port format for --expose: 1:2".into()))
        );
        let p = parse(&strings(&["target=80,published=8080,protocol=udp"]), &[]).expect("long");
        assert_eq!(p.bindings["80/udp"].clone().expect("b")[0].host_port, "8080");
        let p = parse(&strings(&["8000-8010:80"]), &[]).expect("host range");
        assert_eq!(p.bindings["80/tcp"].clone().expect("b")[0].host_port, "8000-8010");
    }
}
