//! The CNI backend: pod networks for the CRI (Kubernetes' Container
//! Network Interface, spec 1.0 and 0.4/0.3). The network comes from the
//! first configuration file of `cri.cni-conf-dir`, its plugins from
//! `cri.cni-bin-dirs`; a pod gets the loopback network (`lo` up, as
//! containerd does) and that network on `eth0`.
//!
//! Pure parts: `conf` (conflist parsing, which file, each plugin's stdin),
//! `invoke` (a call's environment and error documents), `result` (the
//! pod's addresses from any result version). `Cni` runs the chains.
//!
//! What a teardown needs is the exact input of the setup ([`CniInput`]:
//! the network lists as loaded, the runtime arguments, the capability
//! arguments) plus each chain's ADD result (DEL's `prevResult` from 0.4.0
//! on); `network::Networks` persists it in the container's `network.json`
//! before the ADD and again with the results after it, so a DEL after a
//! pierd crash or a configuration change replays exactly what was set up.
//! DEL is idempotent (spec): running it for a half-made attachment is fine.

pub mod conf;
pub mod invoke;
pub mod result;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use conf::{ConfError, NetworkList};
pub use invoke::{PluginError, Runtime, Verb};

/// The backend's name in `network.json`.
pub const BACKEND: &str = "cni";

/// The label carrying a container's [`PodNetwork`] (JSON): a CRI
/// sandbox's infra container.
pub const POD_LABEL: &str = "io.pier.cri.pod-network";

/// The interface of the pod network inside the pod.
pub const IFNAME: &str = "eth0";

/// Where the configuration and the plugins are (`cri.cni-conf-dir`,
/// `cri.cni-bin-dirs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CniConfig {
    pub conf_dir: PathBuf,
    pub bin_dirs: Vec<PathBuf>,
}

/// One `portMappings` capability entry (hostPort), in CNI's spelling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp`, `udp`, `sctp`.
    pub protocol: String,
    #[serde(rename = "hostIP", default, skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
}

/// What a pod asks of its network: who it is (`CNI_ARGS`) and its host
/// ports. Recorded as the infra container's [`POD_LABEL`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodNetwork {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    #[serde(default)]
    pub port_mappings: Vec<PortMapping>,
}

/// One network of an attachment, as set up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachedNetwork {
    pub list: NetworkList,
    pub runtime: Runtime,
    /// The chain's ADD result, once it succeeded.
    #[serde(default)]
    pub result: Option<Value>,
}

/// A CNI attachment's exact input (`network.json`'s `input`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CniInput {
    /// Set up in this order (loopback first), torn down in reverse.
    pub networks: Vec<AttachedNetwork>,
    #[serde(default)]
    pub capability_args: Map<String, Value>,
}

impl CniInput {
    /// The pod network's result (the last network's).
    pub fn pod_result(&self) -> Option<&Value> {
        self.networks
            .iter()
            .rev()
            .find(|n| n.runtime.ifname == IFNAME)
            .and_then(|n| n.result.as_ref())
    }

    /// The pod network's name.
    pub fn pod_network_name(&self) -> &str {
        self.networks
            .iter()
            .find(|n| n.runtime.ifname == IFNAME)
            .map_or("", |n| n.list.name.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CniError {
    #[error("cni plugin not initialized: {0}")]
    Conf(#[from] ConfError),
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("malformed CNI attachment record: {0}")]
    Record(String),
}

/// The CNI backend of one daemon.
#[derive(Debug, Clone)]
pub struct Cni {
    pub cfg: CniConfig,
}

/// `CNI_ARGS` of a pod (containerd's labels).
pub fn pod_args(pod: &PodNetwork, container_id: &str) -> Vec<(String, String)> {
    vec![
        ("IgnoreUnknown".to_string(), "1".to_string()),
        ("K8S_POD_NAMESPACE".to_string(), pod.namespace.clone()),
        ("K8S_POD_NAME".to_string(), pod.name.clone()),
        ("K8S_POD_INFRA_CONTAINER_ID".to_string(), container_id.to_string()),
        ("K8S_POD_UID".to_string(), pod.uid.clone()),
    ]
}

/// The input of a pod's attachment (pure): loopback on `lo`, `list` on
/// `eth0`, the host ports as the `portMappings` capability.
pub fn render(list: NetworkList, pod: &PodNetwork, container_id: &str, netns: &Path) -> CniInput {
    let runtime = |ifname: &str| Runtime {
        container_id: container_id.to_string(),
        netns: netns.to_path_buf(),
        ifname: ifname.to_string(),
        args: pod_args(pod, container_id),
    };
    let mut capability_args = Map::new();
    if !pod.port_mappings.is_empty() {
        capability_args.insert(
            "portMappings".to_string(),
            serde_json::to_value(&pod.port_mappings).unwrap_or(Value::Null),
        );
    }
    CniInput {
        networks: vec![
            AttachedNetwork {
                list: NetworkList::loopback(),
                runtime: runtime("lo"),
                result: None,
            },
            AttachedNetwork {
                list,
                runtime: runtime(IFNAME),
                result: None,
            },
        ],
        capability_args,
    }
}

impl Cni {
    /// The network pods get now, or why there is none.
    pub fn network(&self) -> Result<NetworkList, CniError> {
        Ok(conf::load_dir(&self.cfg.conf_dir)?.1)
    }

    fn call(
        &self,
        verb: Verb,
        net: &AttachedNetwork,
        index: usize,
        prev: Option<&Value>,
        caps: &Map<String, Value>,
    ) -> Result<Value, CniError> {
        let plugin = net.list.plugin_type(index);
        let binary = invoke::find(plugin, &self.cfg.bin_dirs)?;
        let stdin = net
            .list
            .plugin_stdin(index, prev, caps)
            .ok_or_else(|| CniError::Record(format!("no plugin {index} in network {}", net.list.name)))?;
        let env = invoke::env(verb, &net.runtime, &self.cfg.bin_dirs);
        tracing::debug!(plugin, verb = verb.as_str(), ifname = %net.runtime.ifname, "CNI call");
        Ok(invoke::run(&binary, plugin, verb, &env, &stdin)?)
    }

    /// ADD every network in order, each chain's result recorded in
    /// `input` as it completes. On error the caller runs [`Cni::del`].
    pub fn add(&self, input: &mut CniInput) -> Result<(), CniError> {
        let caps = input.capability_args.clone();
        for net in &mut input.networks {
            let mut prev: Option<Value> = None;
            for i in 0..net.list.plugins.len() {
                let out = self.call(Verb::Add, net, i, prev.as_ref(), &caps)?;
                prev = Some(out);
            }
            net.result = prev;
        }
        Ok(())
    }

    /// DEL every network in reverse, each chain's plugins in reverse, with
    /// the ADD result as `prevResult` from 0.4.0 on (libcni's
    /// `DelNetworkList`). Every network is tried; the first error returns.
    pub fn del(&self, input: &CniInput) -> Result<(), CniError> {
        let mut first_err = None;
        for net in input.networks.iter().rev() {
            let prev = net.result.as_ref().filter(|_| net.list.has_check());
            for i in (0..net.list.plugins.len()).rev() {
                if let Err(e) = self.call(Verb::Del, net, i, prev, &input.capability_args) {
                    tracing::warn!(network = %net.list.name, error = %e, "CNI DEL");
                    first_err.get_or_insert(e);
                    break;
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// CHECK every network that supports it (0.4.0 on, not
    /// `disableCheck`), in order.
    pub fn check(&self, input: &CniInput) -> Result<(), CniError> {
        for net in &input.networks {
            if !net.list.has_check() || net.list.disable_check {
                continue;
            }
            for i in 0..net.list.plugins.len() {
                self.call(Verb::Check, net, i, net.result.as_ref(), &input.capability_args)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> PodNetwork {
        PodNetwork {
            name: "web".into(),
            namespace: "default".into(),
            uid: "u1".into(),
            port_mappings: vec![PortMapping {
                host_port: 8080,
                container_port: 80,
                protocol: "tcp".into(),
                host_ip: String::new(),
            }],
        }
    }

    fn list() -> NetworkList {
        NetworkList::parse(
            Path::new("/x.conflist"),
            br#"{"cniVersion":"1.0.0","name":"podnet","plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}}]}"#,
            true,
        )
        .expect("list")
    }

    #[test]
    fn a_pod_input_round_trips() {
        let input = render(list(), &pod(), "abc", Path::new("/run/netns/abc"));
        assert_eq!(input.networks[0].runtime.ifname, "lo");
        assert_eq!(input.networks[0].list.plugin_type(0), "loopback");
        assert_eq!(input.networks[1].runtime.ifname, "eth0");
        assert_eq!(input.pod_network_name(), "podnet");
        assert!(input.networks[1]
            .runtime
            .args
            .contains(&("K8S_POD_INFRA_CONTAINER_ID".to_string(), "abc".to_string())));
        assert_eq!(
            input.capability_args["portMappings"],
            json!([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}])
        );
        let text = serde_json::to_value(&input).expect("encode");
        let back: CniInput = serde_json::from_value(text).expect("decode");
        assert_eq!(back, input);
        assert!(back.pod_result().is_none());
        let label = serde_json::to_string(&pod()).expect("label");
        assert_eq!(serde_json::from_str::<PodNetwork>(&label).expect("label"), pod());
    }

    /// A fake plugin directory: `bridge`, `portmap` and `loopback` log
    /// their verb, ifname and stdin to `calls`; the bridge answers a 1.0.0
    /// result, `fail` makes every DEL fail.
    fn fake_plugins(dir: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let log = dir.join("calls");
        for name in ["bridge", "portmap", "loopback"] {
            let script = format!(
                "#!/bin/sh\nread -r input\necho \"{name} $CNI_COMMAND $CNI_IFNAME $input\" >> {log}\n\
                 if [ \"$CNI_COMMAND\" = DEL ] && [ -e {dir}/fail ]; then echo '{{\"code\":999,\"msg\":\"down\"}}'; exit 1; fi\n\
                 if [ \"$CNI_COMMAND\" = ADD ]; then echo '{{\"cniVersion\":\"1.0.0\",\"interfaces\":[{{\"name\":\"'$CNI_IFNAME'\",\"sandbox\":\"'$CNI_NETNS'\"}}],\"ips\":[{{\"address\":\"10.9.0.7/24\",\"interface\":0}}]}}'; fi\n",
                log = log.display(),
                dir = dir.display()
            );
            let path = dir.join(name);
            std::fs::write(&path, script).expect("write plugin");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        log
    }

    #[test]
    fn add_chains_results_and_del_replays_in_reverse() {
        let tmp = tempfile::tempdir().expect("tmp");
        let log = fake_plugins(tmp.path());
        let cni = Cni {
            cfg: CniConfig {
                conf_dir: tmp.path().join("net.d"),
                bin_dirs: vec![tmp.path().join("none"), tmp.path().to_path_buf()],
            },
        };
        assert!(matches!(cni.network(), Err(CniError::Conf(ConfError::Missing(_)))));
        let mut input = render(list(), &pod(), "abc", Path::new("/run/netns/abc"));
        cni.add(&mut input).expect("add");
        let result = input.pod_result().expect("result").clone();
        assert_eq!(result::pod_ips(&result, IFNAME)[0].addr.to_string(), "10.9.0.7");
        cni.check(&input).expect("check");
        cni.del(&input).expect("del");
        let calls = std::fs::read_to_string(&log).expect("log");
        let lines: Vec<(&str, &str, &str, Value)> = calls
            .lines()
            .map(|l| {
                let mut w = l.splitn(4, ' ');
                let (a, b, c) = (w.next().unwrap_or(""), w.next().unwrap_or(""), w.next().unwrap_or(""));
                (
                    a,
                    b,
                    c,
                    serde_json::from_str(w.next().unwrap_or("null")).expect("stdin json"),
                )
            })
            .collect();
        let order: Vec<String> = lines.iter().map(|(p, v, i, _)| format!("{p} {v} {i}")).collect();
        assert_eq!(
            order,
            [
                "loopback ADD lo",
                "bridge ADD eth0",
                "portmap ADD eth0",
                // The loopback list is 0.3.1: no CHECK for it.
                "bridge CHECK eth0",
                "portmap CHECK eth0",
                "portmap DEL eth0",
                "bridge DEL eth0",
                "loopback DEL lo",
            ]
        );
        // portmap's ADD chains the bridge's result and gets its capability.
        let portmap_add = &lines[2].3;
        assert_eq!(portmap_add["prevResult"]["ips"][0]["address"], "10.9.0.7/24");
        assert_eq!(portmap_add["runtimeConfig"]["portMappings"][0]["hostPort"], 8080);
        // DEL carries the chain's final result (1.0.0); the 0.3.1 loopback none.
        assert_eq!(lines[5].3["prevResult"], result);
        assert!(lines[7].3.get("prevResult").is_none());
        // A failing DEL is reported, after every network was tried.
        std::fs::write(tmp.path().join("fail"), "").expect("fail");
        let err = cni.del(&input).expect_err("fails");
        assert_eq!(err.to_string(), "plugin type=\"portmap\" failed (DEL): down");
        let calls = std::fs::read_to_string(&log).expect("log");
        assert!(
            calls.lines().last().unwrap_or("").starts_with("loopback DEL"),
            "{calls}"
        );
        // A plugin that is nowhere.
        let mut missing = input.clone();
        missing.networks[1].list.plugins[0].insert("type".into(), json!("macvlan"));
        let err = cni.add(&mut missing).expect_err("no plugin");
        assert!(
            err.to_string().starts_with("failed to find plugin \"macvlan\""),
            "{err}"
        );
    }
}
