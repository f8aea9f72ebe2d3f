//! Pure mapping between CRI objects and Pier's: image names, images, users,
//! filters. No IO; everything here is unit-tested.

use pier_cri_api::v1 as cri;
use pier_image::{Image, Reference};

/// What a CRI image name (`ImageSpec.image`) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageName {
    /// An image id: `sha256:<64 hex>` or the bare 64 hex digits.
    Id(String),
    /// A reference, fully qualified (`docker.io/library/busybox:latest`):
    /// no tag means `latest`, no registry `docker.io`.
    Reference(Reference),
}

/// Parse `ImageSpec.image`.
pub fn image_name(name: &str) -> Result<ImageName, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("image name is empty".to_string());
    }
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Ok(ImageName::Id(format!("sha256:{hex}")));
    }
    Reference::parse(name)
        .map(ImageName::Reference)
        .map_err(|e| e.to_string())
}

impl ImageName {
    /// The key the image store resolves.
    pub fn store_key(&self) -> String {
        match self {
            ImageName::Id(id) => id.clone(),
            ImageName::Reference(r) => r.canonical(),
        }
    }
}

/// A familiar reference as the store lists it (`busybox:latest`,
/// `busybox@sha256:…`) in the fully qualified form CRI clients expect
/// (`docker.io/library/busybox:latest`); unparsable ones as they are.
pub fn qualified(familiar: &str) -> String {
    Reference::parse(familiar).map_or_else(|_| familiar.to_string(), |r| r.canonical())
}

/// The image config's `User` as CRI's `uid` / `username` (containerd's
/// rule): a numeric user (`1000`, `1000:50`) is a uid, a name (`nobody`,
/// `nobody:nogroup`) a username; no user is neither (root).
pub fn image_user(user: &str) -> (Option<i64>, String) {
    let user = user.split(':').next().unwrap_or("");
    if user.is_empty() {
        return (None, String::new());
    }
    match user.parse::<i64>() {
        Ok(uid) if uid >= 0 => (Some(uid), String::new()),
        _ => (None, user.to_string()),
    }
}

/// Pier's image as a CRI `Image`.
pub fn cri_image(image: &Image) -> cri::Image {
    let (uid, username) = image_user(&image.config.user);
    cri::Image {
        id: image.id.clone(),
        repo_tags: image.repo_tags.iter().map(|t| qualified(t)).collect(),
        repo_digests: image.repo_digests.iter().map(|d| qualified(d)).collect(),
        size: image.size,
        uid: uid.map(|value| cri::Int64Value { value }),
        username,
        spec: Some(cri::ImageSpec {
            image: image.id.clone(),
            ..Default::default()
        }),
        pinned: false,
    }
}

/// Credentials from a CRI `AuthConfig`: `username`/`password`, else
/// `auth` (base64 of `user:password`). Token forms are not supported
/// (`None`).
pub fn credentials(auth: &cri::AuthConfig) -> Option<pier_image::distribution::auth::Credentials> {
    use base64::Engine as _;
    use pier_image::distribution::auth::Credentials;
    if !auth.username.is_empty() {
        return Some(Credentials {
            username: auth.username.clone(),
            password: auth.password.clone(),
        });
    }
    if auth.auth.is_empty() {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth.auth.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (username, password) = text.split_once(':')?;
    Some(Credentials {
        username: username.to_string(),
        password: password.to_string(),
    })
}

/// `RuntimeCondition`s of `Status`: the runtime is ready; the network is
/// when a CNI configuration is found (`network_error` says why not, in
/// containerd's words: reason `NetworkPluginNotReady`, message
/// `Network plugin returns error: …`).
pub fn runtime_conditions(network_error: Option<&str>) -> Vec<cri::RuntimeCondition> {
    vec![
        cri::RuntimeCondition {
            r#type: "RuntimeReady".to_string(),
            status: true,
            reason: String::new(),
            message: String::new(),
        },
        cri::RuntimeCondition {
            r#type: "NetworkReady".to_string(),
            status: network_error.is_none(),
            reason: if network_error.is_some() {
                "NetworkPluginNotReady".to_string()
            } else {
                String::new()
            },
            message: network_error
                .map(|e| format!("Network plugin returns error: {e}"))
                .unwrap_or_default(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(user: &str) -> Image {
        Image {
            id: format!("sha256:{}", "a".repeat(64)),
            repo_tags: vec!["busybox:latest".into(), "127.0.0.1:5000/x/y:1".into()],
            repo_digests: vec![format!("busybox@sha256:{}", "b".repeat(64))],
            created: 0,
            created_rfc3339: String::new(),
            size: 4096,
            architecture: "amd64".into(),
            os: "linux".into(),
            author: String::new(),
            comment: String::new(),
            config: pier_image::ImageConfig {
                user: user.to_string(),
                ..Default::default()
            },
            diff_ids: Vec::new(),
            parent: String::new(),
        }
    }

    #[test]
    fn names_default_to_latest_and_docker_io() {
        let key = |n: &str| image_name(n).expect(n).store_key();
        assert_eq!(key("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(key("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(key("docker.io/library/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(key("registry.k8s.io/pause:3.9"), "registry.k8s.io/pause:3.9");
        assert_eq!(key("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b:latest");
        let digest = format!("sha256:{}", "c".repeat(64));
        assert_eq!(
            key(&format!("busybox@{digest}")),
            format!("docker.io/library/busybox@{digest}")
        );
        assert_eq!(image_name(&digest).expect("id"), ImageName::Id(digest.clone()));
        assert_eq!(image_name(&"c".repeat(64)).expect("hex"), ImageName::Id(digest));
        assert!(image_name("").is_err());
        assert!(image_name("Busybox").is_err());
        assert!(image_name("busybox:bad tag").is_err());
    }

    #[test]
    fn users() {
        assert_eq!(image_user(""), (None, String::new()));
        assert_eq!(image_user("0"), (Some(0), String::new()));
        assert_eq!(image_user("1000:50"), (Some(1000), String::new()));
        assert_eq!(image_user("nobody"), (None, "nobody".to_string()));
        assert_eq!(image_user("www-data:www-data"), (None, "www-data".to_string()));
        assert_eq!(image_user("-1"), (None, "-1".to_string()));
    }

    #[test]
    fn images_are_fully_qualified() {
        let i = cri_image(&image("1000"));
        assert_eq!(
            i.repo_tags,
            vec!["docker.io/library/busybox:latest", "127.0.0.1:5000/x/y:1"]
        );
        assert_eq!(
            i.repo_digests,
            vec![format!("docker.io/library/busybox@sha256:{}", "b".repeat(64))]
        );
        assert_eq!(i.uid, Some(cri::Int64Value { value: 1000 }));
        assert_eq!(i.size, 4096);
        assert_eq!(i.spec.expect("spec").image, i.id);
        let named = cri_image(&image("nobody"));
        assert_eq!((named.uid, named.username.as_str()), (None, "nobody"));
    }

    #[test]
    fn auth() {
        let c = credentials(&cri::AuthConfig {
            username: "alice".into(),
            password: "secret".into(),
            ..Default::default()
        })
        .expect("user");
        assert_eq!((c.username.as_str(), c.password.as_str()), ("alice", "secret"));
        let c = credentials(&cri::AuthConfig {
            auth: "YWxpY2U6c2VjcmV0".into(),
            ..Default::default()
        })
        .expect("auth");
        assert_eq!((c.username.as_str(), c.password.as_str()), ("alice", "secret"));
        assert!(credentials(&cri::AuthConfig::default()).is_none());
        assert!(credentials(&cri::AuthConfig {
            auth: "!!".into(),
            ..Default::default()
        })
        .is_none());
    }

    #[test]
    fn network_is_ready_with_a_cni_config() {
        let c = runtime_conditions(Some("cni plugin not initialized: no network config found in /x"));
        assert!(c.iter().any(|c| c.r#type == "RuntimeReady" && c.status));
        let net = c.iter().find(|c| c.r#type == "NetworkReady").expect("network");
        assert!(!net.status);
        assert_eq!(net.reason, "NetworkPluginNotReady");
        assert_eq!(
            net.message,
            "Network plugin returns error: cni plugin not initialized: no network config found in /x"
        );
        let c = runtime_conditions(None);
        assert!(c.iter().all(|c| c.status && c.reason.is_empty()));
    }
}

/// Labels marking Pier containers that belong to the CRI.
pub mod keys {
    /// `sandbox` (a pod's infra container) or `container`.
    pub const KIND: &str = "io.pier.cri.kind";
    pub const SANDBOX: &str = "sandbox";
    pub const POD_NAME: &str = "io.pier.cri.pod.name";
    pub const POD_NAMESPACE: &str = "io.pier.cri.pod.namespace";
    pub const POD_UID: &str = "io.pier.cri.pod.uid";
    pub const POD_ATTEMPT: &str = "io.pier.cri.pod.attempt";
    /// The CRI's own labels are kept under this prefix, its annotations
    /// under [`ANNOTATION`].
    pub const LABEL: &str = "io.pier.cri.label/";
    pub const ANNOTATION: &str = "io.pier.cri.annotation/";
    /// The pod's `log_directory` (its containers' logs go under it).
    pub const LOG_DIRECTORY: &str = "io.pier.cri.pod.log-directory";
}

/// The Pier container name of a pod's infra container (dockershim's form).
pub fn sandbox_name(m: &cri::PodSandboxMetadata) -> String {
    fit_name(format!("k8s_POD_{}_{}_{}_{}", m.name, m.namespace, m.uid, m.attempt))
}

/// Longest name a Pier container may have.
const NAME_MAX: usize = 255;

/// `name`, or when it is longer than a container name may be, its first
/// bytes and a hash of the whole (kubelet's names join metadata that can
/// be long; the CRI ids, not the names, are what kubelet uses).
pub fn fit_name(name: String) -> String {
    if name.len() <= NAME_MAX {
        return name;
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    name.hash(&mut h);
    let tag = format!("_{:016x}", h.finish());
    let mut cut = NAME_MAX - tag.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{tag}", &name[..cut])
}

/// The Pier labels recording a sandbox's metadata, labels and annotations.
pub fn sandbox_labels(config: &cri::PodSandboxConfig) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    out.insert(keys::KIND.to_string(), keys::SANDBOX.to_string());
    if let Some(m) = &config.metadata {
        out.insert(keys::POD_NAME.to_string(), m.name.clone());
        out.insert(keys::POD_NAMESPACE.to_string(), m.namespace.clone());
        out.insert(keys::POD_UID.to_string(), m.uid.clone());
        out.insert(keys::POD_ATTEMPT.to_string(), m.attempt.to_string());
    }
    for (k, v) in &config.labels {
        out.insert(format!("{}{k}", keys::LABEL), v.clone());
    }
    for (k, v) in &config.annotations {
        out.insert(format!("{}{k}", keys::ANNOTATION), v.clone());
    }
    if !config.log_directory.is_empty() {
        out.insert(keys::LOG_DIRECTORY.to_string(), config.log_directory.clone());
    }
    out
}

/// What [`sandbox_labels`] recorded: `None` unless these are a sandbox's.
pub struct SandboxInfo {
    pub metadata: cri::PodSandboxMetadata,
    pub labels: std::collections::HashMap<String, String>,
    pub annotations: std::collections::HashMap<String, String>,
}

/// The labels under `prefix`, the prefix taken off (CRI labels and
/// annotations kept in Pier's labels).
pub fn labels_under(
    labels: &std::collections::BTreeMap<String, String>,
    prefix: &str,
) -> std::collections::HashMap<String, String> {
    labels
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_string(), v.clone())))
        .collect()
}

pub fn sandbox_info(labels: &std::collections::BTreeMap<String, String>) -> Option<SandboxInfo> {
    if labels.get(keys::KIND).map(String::as_str) != Some(keys::SANDBOX) {
        return None;
    }
    let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
    let strip = |prefix: &str| labels_under(labels, prefix);
    Some(SandboxInfo {
        metadata: cri::PodSandboxMetadata {
            name: get(keys::POD_NAME),
            namespace: get(keys::POD_NAMESPACE),
            uid: get(keys::POD_UID),
            attempt: get(keys::POD_ATTEMPT).parse().unwrap_or(0),
        },
        labels: strip(keys::LABEL),
        annotations: strip(keys::ANNOTATION),
    })
}

/// Whether the pod uses the host's network namespace.
pub fn host_network(config: &cri::PodSandboxConfig) -> bool {
    config
        .linux
        .as_ref()
        .and_then(|l| l.security_context.as_ref())
        .and_then(|s| s.namespace_options.as_ref())
        .is_some_and(|n| n.network == cri::NamespaceMode::Node as i32)
}

/// What a pod asks of the CNI network: who it is and its host ports
/// (mappings without a host port are not published, as containerd);
/// `None` for a host-network pod.
pub fn pod_network(config: &cri::PodSandboxConfig) -> Result<Option<crate::network::cni::PodNetwork>, String> {
    use crate::network::cni::{PodNetwork, PortMapping};
    if host_network(config) {
        return Ok(None);
    }
    let m = config.metadata.clone().unwrap_or_default();
    let mut port_mappings = Vec::new();
    for p in config.port_mappings.iter().filter(|p| p.host_port > 0) {
        let port = |n: i32, what: &str| u16::try_from(n).map_err(|_| format!("invalid {what} {n} in port mapping"));
        let protocol = cri::Protocol::try_from(p.protocol)
            .map_err(|_| format!("invalid protocol {} in port mapping", p.protocol))?;
        port_mappings.push(PortMapping {
            host_port: port(p.host_port, "host port")?,
            container_port: port(p.container_port, "container port")?,
            protocol: protocol.as_str_name().to_ascii_lowercase(),
            host_ip: p.host_ip.clone(),
        });
    }
    Ok(Some(PodNetwork {
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        port_mappings,
    }))
}

/// The Docker-style create request of a pod's infra container: the pause
/// image holding the pod's IPC (shareable) and UTS namespaces (PID too with
/// `pid = POD`); host namespaces where the pod asks for `NODE`. Its network
/// mode is `none` plus the `network::cni::POD_LABEL` label: pierd plumbs
/// it through CNI at start (a host-network pod has neither). `dns_config`
/// becomes `--dns`/`--dns-search`/`--dns-option` (no searches given: none
/// of the host's).
pub fn sandbox_request(config: &cri::PodSandboxConfig, image: &str) -> serde_json::Value {
    const NODE: i32 = cri::NamespaceMode::Node as i32;
    let linux = config.linux.as_ref();
    let ns = linux
        .and_then(|l| l.security_context.as_ref())
        .and_then(|s| s.namespace_options.as_ref());
    let mode = |m: Option<i32>, host: &str, own: &str| {
        if m == Some(NODE) {
            host.to_string()
        } else {
            own.to_string()
        }
    };
    let network = mode(ns.map(|n| n.network), "host", "none");
    let hostname = if network == "host" {
        ""
    } else {
        config.hostname.as_str()
    };
    let sysctls: std::collections::BTreeMap<String, String> = linux
        .map(|l| l.sysctls.clone().into_iter().collect())
        .unwrap_or_default();
    let mut labels = sandbox_labels(config);
    if let Ok(Some(pod)) = pod_network(config) {
        if let Ok(text) = serde_json::to_string(&pod) {
            labels.insert(crate::network::cni::POD_LABEL.to_string(), text);
        }
    }
    let mut request = serde_json::json!({
        "Image": image,
        "Hostname": hostname,
        "Labels": labels,
        "HostConfig": {
            "NetworkMode": network,
            "IpcMode": mode(ns.map(|n| n.ipc), "host", "shareable"),
            "PidMode": mode(ns.map(|n| n.pid), "host", ""),
            "Sysctls": sysctls,
        },
    });
    if let Some(dns) = &config.dns_config {
        let searches = if dns.searches.is_empty() {
            vec![".".to_string()]
        } else {
            dns.searches.clone()
        };
        request["HostConfig"]["Dns"] = serde_json::json!(dns.servers);
        request["HostConfig"]["DnsSearch"] = serde_json::json!(searches);
        request["HostConfig"]["DnsOptions"] = serde_json::json!(dns.options);
    }
    request
}

/// Whether `labels` (a CRI object's) carry every pair of `selector`.
pub fn selected(
    selector: &std::collections::HashMap<String, String>,
    labels: &std::collections::HashMap<String, String>,
) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[cfg(test)]
mod sandbox_tests {
    use super::*;

    fn config() -> cri::PodSandboxConfig {
        cri::PodSandboxConfig {
            metadata: Some(cri::PodSandboxMetadata {
                name: "web".into(),
                uid: "u1".into(),
                namespace: "default".into(),
                attempt: 2,
            }),
            hostname: "web-0".into(),
            labels: [("app".to_string(), "web".to_string())].into(),
            annotations: [("note".to_string(), "x".to_string())].into(),
            ..Default::default()
        }
    }

    #[test]
    fn sandbox_round_trips_through_labels() {
        let c = config();
        assert_eq!(
            sandbox_name(c.metadata.as_ref().expect("metadata")),
            "k8s_POD_web_default_u1_2"
        );
        let long = "n".repeat(300);
        let a = fit_name(format!("k8s_{long}_a"));
        let b = fit_name(format!("k8s_{long}_b"));
        assert_eq!(a.len(), 255);
        assert_ne!(a, b);
        assert!(a.starts_with("k8s_nnn"));
        assert_eq!(fit_name("short".into()), "short");
        let labels = sandbox_labels(&c);
        let info = sandbox_info(&labels).expect("a sandbox");
        assert_eq!(Some(info.metadata), c.metadata);
        assert_eq!(info.labels, c.labels);
        assert_eq!(info.annotations, c.annotations);
        assert!(sandbox_info(&Default::default()).is_none());
        assert!(selected(&[("app".to_string(), "web".to_string())].into(), &info.labels));
        assert!(!selected(&[("app".to_string(), "db".to_string())].into(), &info.labels));
    }

    #[test]
    fn sandbox_request_namespaces() {
        let r = sandbox_request(&config(), "registry.k8s.io/pause:3.9");
        assert_eq!(r["Hostname"], "web-0");
        assert_eq!(r["HostConfig"]["NetworkMode"], "none");
        assert_eq!(r["HostConfig"]["IpcMode"], "shareable");
        assert_eq!(r["HostConfig"]["PidMode"], "");
        let mut c = config();
        c.linux = Some(cri::LinuxPodSandboxConfig {
            security_context: Some(cri::LinuxSandboxSecurityContext {
                namespace_options: Some(cri::NamespaceOption {
                    network: cri::NamespaceMode::Node as i32,
                    pid: cri::NamespaceMode::Node as i32,
                    ipc: cri::NamespaceMode::Node as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            sysctls: [("kernel.shm_rmid_forced".to_string(), "1".to_string())].into(),
            ..Default::default()
        });
        assert!(host_network(&c));
        assert_eq!(pod_network(&c), Ok(None));
        let r = sandbox_request(&c, "p");
        assert!(r["Labels"].get(crate::network::cni::POD_LABEL).is_none());
        assert_eq!(r["HostConfig"]["NetworkMode"], "host");
        assert_eq!(r["HostConfig"]["IpcMode"], "host");
        assert_eq!(r["HostConfig"]["PidMode"], "host");
        assert_eq!(r["Hostname"], "");
        assert_eq!(r["HostConfig"]["Sysctls"]["kernel.shm_rmid_forced"], "1");
    }

    #[test]
    fn pod_network_ports_and_dns() {
        let mut c = config();
        c.port_mappings = vec![
            cri::PortMapping {
                protocol: cri::Protocol::Udp as i32,
                container_port: 53,
                host_port: 5353,
                host_ip: "127.0.0.1".into(),
            },
            // No host port: not published.
            cri::PortMapping {
                protocol: cri::Protocol::Tcp as i32,
                container_port: 80,
                host_port: 0,
                host_ip: String::new(),
            },
        ];
        c.dns_config = Some(cri::DnsConfig {
            servers: vec!["10.96.0.10".into()],
            searches: Vec::new(),
            options: vec!["ndots:5".into()],
        });
        let pod = pod_network(&c).expect("valid").expect("a pod network");
        assert_eq!(
            (pod.name.as_str(), pod.namespace.as_str(), pod.uid.as_str()),
            ("web", "default", "u1")
        );
        assert_eq!(
            serde_json::to_value(&pod.port_mappings).expect("json"),
            serde_json::json!([{"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": "127.0.0.1"}])
        );
        let r = sandbox_request(&c, "p");
        assert_eq!(r["HostConfig"]["NetworkMode"], "none");
        let label = r["Labels"][crate::network::cni::POD_LABEL].as_str().expect("label");
        assert_eq!(
            serde_json::from_str::<crate::network::cni::PodNetwork>(label).expect("label"),
            pod
        );
        assert_eq!(r["HostConfig"]["Dns"], serde_json::json!(["10.96.0.10"]));
        assert_eq!(r["HostConfig"]["DnsSearch"], serde_json::json!(["."]));
        assert_eq!(r["HostConfig"]["DnsOptions"], serde_json::json!(["ndots:5"]));
        c.port_mappings[0].host_port = 70000;
        assert_eq!(
            pod_network(&c),
            Err("invalid host port 70000 in port mapping".to_string())
        );
    }
}
