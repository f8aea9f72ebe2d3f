//! Legacy links on the default bridge (`--link name:alias`), as dockerd up
//! to v28 (`daemon/links`, `setupLinkedContainers`, `addLegacyLinks`):
//! at the parent's start, `<ALIAS>_PORT_*`, `<ALIAS>_NAME` and
//! `<ALIAS>_ENV_*` variables and an /etc/hosts line per running child;
//! `DELETE /containers/{parent}/{alias}?link=1` removes one.

use crate::daemon::Daemon;
use crate::error::{Error, Result};
use crate::record::ContainerRecord;
use crate::spec::HostEntry;

/// dockerd's `withTCPPriority` order: tcp first, then by protocol, each by
/// port number.
fn sort_ports(ports: &mut [(u16, String)]) {
    ports.sort_by(|a, b| {
        let rank = |p: &str| (p != "tcp", p.to_string());
        rank(&a.1).cmp(&rank(&b.1)).then(a.0.cmp(&b.0))
    });
}

/// The variables a link `name` (`/parent/alias`) to a child at `child_ip`
/// gives, in dockerd's order (`links.Link.ToEnv`).
pub fn link_env(name: &str, child_ip: &str, child_env: &[String], mut ports: Vec<(u16, String)>) -> Vec<String> {
    let last = name.rsplit('/').next().unwrap_or(name);
    let alias = last.to_uppercase().replace('-', "_");
    sort_ports(&mut ports);
    let mut env = Vec::new();
    let (mut start, mut end) = match ports.first() {
        Some(p) => (p.clone(), p.clone()),
        None => ((0, String::new()), (0, String::new())),
    };
    for (i, (num, proto)) in ports.iter().enumerate() {
        if i == 0 {
            env.push(format!("{alias}_PORT={proto}://{child_ip}:{num}"));
        }
        let prefix = format!("{alias}_PORT_{num}_{}", proto.to_uppercase());
        env.push(format!("{prefix}={proto}://{child_ip}:{num}"));
        env.push(format!("{prefix}_ADDR={child_ip}"));
        env.push(format!("{prefix}_PORT={num}"));
        env.push(format!("{prefix}_PROTO={proto}"));
        if u32::from(*num) == u32::from(end.0) + 1 && *proto == end.1 {
            end = (*num, proto.clone());
            if i < ports.len() - 1 {
                continue;
            }
        }
        if end != start {
            let prefix = format!("{alias}_PORT_{}_{}", start.0, start.1.to_uppercase());
            env.push(format!("{prefix}_START={}://{child_ip}:{}", start.1, start.0));
            env.push(format!("{prefix}_PORT_START={}", start.0));
            env.push(format!("{prefix}_END={}://{child_ip}:{}", end.1, end.0));
            env.push(format!("{prefix}_PORT_END={}", end.0));
        }
        start = (*num, proto.clone());
        end = start.clone();
    }
    env.push(format!("{alias}_NAME={name}"));
    for v in child_env {
        let Some((k, val)) = v.split_once('=') else {
            continue;
        };
        if k == "HOME" || k == "PATH" {
            continue;
        }
        env.push(format!("{alias}_ENV_{k}={val}"));
    }
    env
}

/// A container's exposed ports (`Config.ExposedPorts` and its bindings'
/// keys), as (number, protocol).
fn exposed_ports(r: &ContainerRecord) -> Vec<(u16, String)> {
    let mut keys: Vec<String> = r
        .spec
        .echo
        .config
        .get("ExposedPorts")
        .and_then(|v| match v {
            serde_json::Value::Object(m) => Some(m.into_iter().map(|(k, _)| k).collect()),
            _ => None,
        })
        .unwrap_or_default();
    keys.extend(r.spec.ports.bindings.keys().cloned());
    let mut out: Vec<(u16, String)> = keys
        .iter()
        .filter_map(|k| {
            let (num, proto) = k.split_once('/').unwrap_or((k.as_str(), "tcp"));
            Some((num.parse().ok()?, proto.to_string()))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

impl Daemon {
    /// The link variables and /etc/hosts lines of `rec` at its start (it
    /// is on the default bridge); dockerd's refusals of a child that does
    /// not run or is not on the default bridge.
    pub(in crate::daemon) fn link_plan(&self, rec: &ContainerRecord) -> Result<(Vec<String>, Vec<HostEntry>)> {
        let mut env = Vec::new();
        let mut hosts = Vec::new();
        for l in &rec.spec.links {
            let child = self.lookup(&l.child)?;
            let cr = child.record();
            let name = format!("/{}/{}", rec.name, l.alias);
            if !cr.state.is_running() {
                return Err(Error::Plain(format!(
                    "Cannot link to a non running container: /{} AS {name}",
                    cr.name
                )));
            }
            let ep = self
                .networks
                .attachment(&child.id)
                .and_then(|a| {
                    a.endpoints
                        .into_iter()
                        .find(|e| e.network_name == crate::network::BRIDGE)
                })
                .ok_or_else(|| {
                    Error::Plain(format!(
                        "Cannot link to /{}, as it does not belong to the default network",
                        cr.name
                    ))
                })?;
            let ip = ep.ip.to_string();
            env.extend(link_env(&name, &ip, &cr.spec.process.env, exposed_ports(&cr)));
            let mut names = format!("{} {}", l.alias, cr.spec.hostname);
            if l.alias != cr.name {
                names.push(' ');
                names.push_str(&cr.name);
            }
            hosts.push(HostEntry { name: names, ip });
        }
        Ok((env, hosts))
    }

    /// `DELETE /containers/{name}?link=1`: remove the link `name`
    /// (`/parent/alias`); a container's own name is refused with
    /// dockerd's plain error (a 500). The parent's environment and hosts
    /// change at its next start.
    pub async fn remove_link(&self, key: &str) -> Result<()> {
        let full = if key.starts_with('/') {
            key.to_string()
        } else {
            format!("/{key}")
        };
        let (parent, alias) = full.rsplit_once('/').unwrap_or(("", full.as_str()));
        if parent.is_empty() {
            let c = self.lookup(key)?;
            tracing::debug!(id = %c.id, name = key, "rm --link of a container's own name");
            return Err(Error::Plain(
                "Conflict, cannot remove the default link name of the container".to_string(),
            ));
        }
        let no_such = || Error::NoSuchContainer(key.to_string());
        let p = self.lookup(parent.trim_start_matches('/')).map_err(|_| no_such())?;
        let _op = p.op.lock().await;
        let rec = p.record();
        if !rec.spec.links.iter().any(|l| l.alias == alias) {
            return Err(no_such());
        }
        let rest: Vec<_> = rec.spec.links.iter().filter(|l| l.alias != alias).cloned().collect();
        p.commit(|r| r.spec.links = rest).await?;
        tracing::info!(id = %p.id, alias, "link removed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_as_dockerd() {
        let env = link_env(
            "/web/db",
            "172.17.0.2",
            &["PATH=/bin".into(), "PASSWORD=x".into(), "EMPTY=".into()],
            vec![(5432, "tcp".into()), (53, "udp".into())],
        );
        assert_eq!(
            env,
            [
                "DB_PORT=tcp://172.17.0.2:5432",
                "DB_PORT_5432_TCP=tcp://172.17.0.2:5432",
                "DB_PORT_5432_TCP_ADDR=172.17.0.2",
                "DB_PORT_5432_TCP_PORT=5432",
                "DB_PORT_5432_TCP_PROTO=tcp",
                "DB_PORT_53_UDP=udp://172.17.0.2:53",
                "DB_PORT_53_UDP_ADDR=172.17.0.2",
                "DB_PORT_53_UDP_PORT=53",
                "DB_PORT_53_UDP_PROTO=udp",
                "DB_NAME=/web/db",
                "DB_ENV_PASSWORD=x",
                "DB_ENV_EMPTY=",
            ]
        );
        let ranged = link_env(
            "/a/my-db",
            "10.0.0.2",
            &[],
            vec![(80, "tcp".into()), (81, "tcp".into())],
        );
        assert!(
            ranged.contains(&"MY_DB_PORT_80_TCP_START=tcp://10.0.0.2:80".to_string()),
            "{ranged:?}"
        );
        assert!(
            ranged.contains(&"MY_DB_PORT_80_TCP_PORT_END=81".to_string()),
            "{ranged:?}"
        );
        assert_eq!(ranged.last().map(String::as_str), Some("MY_DB_NAME=/a/my-db"));
    }
}
