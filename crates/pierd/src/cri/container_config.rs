//! Pure mapping of a CRI `ContainerConfig` onto Pier's container model: a
//! Docker-style create request (the same one `POST /containers/create`
//! takes, so `model::build` validates and records it) plus the labels
//! that mark the container as the CRI's. No IO: a `Localhost` seccomp
//! profile is read by the caller's `read_profile`.

use std::collections::{BTreeMap, HashMap};

use pier_cri_api::v1 as cri;
use serde::{Deserialize, Serialize};

use super::mapping::keys;

/// Labels of a CRI container (beside [`keys`]' shared ones).
pub mod ctr_keys {
    /// `io.pier.cri.kind` of a pod's container.
    pub const CONTAINER: &str = "container";
    pub const SANDBOX_ID: &str = "io.pier.cri.sandbox-id";
    pub const NAME: &str = "io.pier.cri.container.name";
    pub const ATTEMPT: &str = "io.pier.cri.container.attempt";
    /// `ImageSpec.image` as the kubelet asked for it.
    pub const IMAGE: &str = "io.pier.cri.image";
    /// `<log_directory>/<log_path>` (absent: no log).
    pub const LOG_PATH: &str = "io.pier.cri.log-path";
    /// The CRI mounts, JSON ([`MountRecord`](super::MountRecord)s), for `ContainerStatus`.
    pub const MOUNTS: &str = "io.pier.cri.mounts";
}

/// What the container needs to know of its pod.
#[derive(Debug, Clone, Default)]
pub struct Pod<'a> {
    pub sandbox_id: &'a str,
    /// The pod's hostname (`HOSTNAME` in the environment).
    pub hostname: &'a str,
    /// The pod's `log_directory`.
    pub log_directory: &'a str,
}

/// A CRI mount as recorded in [`ctr_keys::MOUNTS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountRecord {
    pub container_path: String,
    pub host_path: String,
    pub readonly: bool,
    pub propagation: i32,
}

impl MountRecord {
    pub fn to_cri(&self) -> cri::Mount {
        cri::Mount {
            container_path: self.container_path.clone(),
            host_path: self.host_path.clone(),
            readonly: self.readonly,
            propagation: self.propagation,
            ..Default::default()
        }
    }
}

/// The Pier container name (dockershim's form).
pub fn container_name(m: &cri::ContainerMetadata, pod: &cri::PodSandboxMetadata) -> String {
    super::mapping::fit_name(format!(
        "k8s_{}_{}_{}_{}_{}",
        m.name, pod.name, pod.namespace, pod.uid, m.attempt
    ))
}

/// The container's log file: `<log_directory>/<log_path>`, `None` when the
/// kubelet asked for no log (`log_path` empty).
pub fn log_file(pod: &Pod<'_>, log_path: &str) -> Result<Option<String>, String> {
    if log_path.is_empty() {
        return Ok(None);
    }
    let joined = std::path::Path::new(pod.log_directory).join(log_path);
    if !joined.is_absolute() {
        return Err(format!(
            "log path {log_path:?} under log directory {:?} is not absolute",
            pod.log_directory
        ));
    }
    if joined
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!("log path {log_path:?} leaves the log directory"));
    }
    Ok(Some(joined.display().to_string()))
}

/// The seccomp option (`--security-opt seccomp=…`) a security context asks
/// for: `None` leaves the default (privileged containers: no filter).
/// Kubernetes' default is unconfined (no profile named). The deprecated
/// `seccomp_profile_path` is what kubelets before 1.19's field send.
#[allow(deprecated)]
fn seccomp_opt(
    sc: &cri::LinuxContainerSecurityContext,
    read_profile: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Option<String>, String> {
    if sc.privileged {
        return Ok(None);
    }
    let localhost = |path: &str| -> Result<Option<String>, String> {
        if !path.starts_with('/') {
            return Err(format!("seccomp localhost profile {path:?} is not an absolute path"));
        }
        Ok(Some(format!("seccomp={}", read_profile(path)?)))
    };
    if let Some(p) = &sc.seccomp {
        return match cri::security_profile::ProfileType::try_from(p.profile_type) {
            Ok(cri::security_profile::ProfileType::RuntimeDefault) => Ok(Some("seccomp=builtin".into())),
            Ok(cri::security_profile::ProfileType::Unconfined) => Ok(Some("seccomp=unconfined".into())),
            Ok(cri::security_profile::ProfileType::Localhost) => localhost(&p.localhost_ref),
            Err(_) => Err(format!("unknown seccomp profile type {}", p.profile_type)),
        };
    }
    match sc.seccomp_profile_path.as_str() {
        "" | "unconfined" => Ok(Some("seccomp=unconfined".into())),
        "runtime/default" | "docker/default" => Ok(Some("seccomp=builtin".into())),
        p => match p.strip_prefix("localhost/") {
            Some(path) => localhost(path),
            None => Err(format!("unsupported seccomp profile {p:?}")),
        },
    }
}

/// `User` of the request: `run_as_user` or `run_as_username`, with
/// `run_as_group`; empty: the image's user.
fn user(sc: &cri::LinuxContainerSecurityContext) -> Result<String, String> {
    let group = match &sc.run_as_group {
        Some(g) if g.value < 0 => return Err(format!("run_as_group {} is negative", g.value)),
        Some(g) => Some(g.value),
        None => None,
    };
    let user = match (&sc.run_as_user, sc.run_as_username.as_str()) {
        (Some(u), _) if u.value < 0 => return Err(format!("run_as_user {} is negative", u.value)),
        (Some(u), _) => u.value.to_string(),
        (None, name) if !name.is_empty() => {
            if name.contains(':') {
                return Err(format!("run_as_username {name:?} contains ':'"));
            }
            name.to_string()
        }
        (None, _) if group.is_some() => {
            return Err("run_as_group is set without run_as_user or run_as_username".to_string())
        }
        (None, _) => return Ok(String::new()),
    };
    Ok(match group {
        Some(g) => format!("{user}:{g}"),
        None => user,
    })
}

fn propagation(p: i32) -> Result<&'static str, String> {
    match cri::MountPropagation::try_from(p) {
        Ok(cri::MountPropagation::PropagationPrivate) => Ok("rprivate"),
        Ok(cri::MountPropagation::PropagationHostToContainer) => Ok("rslave"),
        Ok(cri::MountPropagation::PropagationBidirectional) => Ok("rshared"),
        Err(_) => Err(format!("unknown mount propagation {p}")),
    }
}

/// A bind (`HostConfig.Binds` entry) for a CRI mount.
fn bind(m: &cri::Mount) -> Result<String, String> {
    for (what, p) in [("container_path", &m.container_path), ("host_path", &m.host_path)] {
        if !p.starts_with('/') {
            return Err(format!("mount {what} {p:?} is not an absolute path"));
        }
        if p.contains(':') || p.contains(',') {
            return Err(format!("mount {what} {p:?} contains ':' or ','"));
        }
    }
    let mode = if m.readonly { "ro" } else { "rw" };
    Ok(format!(
        "{}:{}:{mode},{}",
        m.host_path,
        m.container_path,
        propagation(m.propagation)?
    ))
}

/// The labels marking the container and keeping what the CRI reads back.
pub fn labels(
    config: &cri::ContainerConfig,
    pod: &Pod<'_>,
    log: Option<&str>,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let m = config.metadata.clone().unwrap_or_default();
    out.insert(keys::KIND.to_string(), ctr_keys::CONTAINER.to_string());
    out.insert(ctr_keys::SANDBOX_ID.to_string(), pod.sandbox_id.to_string());
    out.insert(ctr_keys::NAME.to_string(), m.name);
    out.insert(ctr_keys::ATTEMPT.to_string(), m.attempt.to_string());
    out.insert(
        ctr_keys::IMAGE.to_string(),
        config.image.as_ref().map(|i| i.image.clone()).unwrap_or_default(),
    );
    if let Some(log) = log {
        out.insert(ctr_keys::LOG_PATH.to_string(), log.to_string());
    }
    let mounts: Vec<MountRecord> = config
        .mounts
        .iter()
        .map(|m| MountRecord {
            container_path: m.container_path.clone(),
            host_path: m.host_path.clone(),
            readonly: m.readonly,
            propagation: m.propagation,
        })
        .collect();
    out.insert(
        ctr_keys::MOUNTS.to_string(),
        serde_json::to_string(&mounts).map_err(|e| format!("encode mounts: {e}"))?,
    );
    for (k, v) in &config.labels {
        out.insert(format!("{}{k}", keys::LABEL), v.clone());
    }
    for (k, v) in &config.annotations {
        out.insert(format!("{}{k}", keys::ANNOTATION), v.clone());
    }
    Ok(out)
}

/// What [`labels`] recorded: `None` unless these are a CRI container's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerInfo {
    pub sandbox_id: String,
    pub metadata: cri::ContainerMetadata,
    pub image: String,
    pub log_path: String,
    pub mounts: Vec<cri::Mount>,
    pub labels: HashMap<String, String>,
    pub annotations: HashMap<String, String>,
}

pub fn container_info(labels: &BTreeMap<String, String>) -> Option<ContainerInfo> {
    if labels.get(keys::KIND).map(String::as_str) != Some(ctr_keys::CONTAINER) {
        return None;
    }
    let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
    let strip = |prefix: &str| super::mapping::labels_under(labels, prefix);
    let mounts: Vec<MountRecord> = labels
        .get(ctr_keys::MOUNTS)
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    Some(ContainerInfo {
        sandbox_id: get(ctr_keys::SANDBOX_ID),
        metadata: cri::ContainerMetadata {
            name: get(ctr_keys::NAME),
            attempt: get(ctr_keys::ATTEMPT).parse().unwrap_or(0),
        },
        image: get(ctr_keys::IMAGE),
        log_path: get(ctr_keys::LOG_PATH),
        mounts: mounts.iter().map(MountRecord::to_cri).collect(),
        labels: strip(keys::LABEL),
        annotations: strip(keys::ANNOTATION),
    })
}

/// `HostConfig` resource fields of CRI `LinuxContainerResources` (zero:
/// not set), for create and for `update`.
pub fn resources(r: &cri::LinuxContainerResources) -> serde_json::Map<String, serde_json::Value> {
    let mut hc = serde_json::Map::new();
    let mut put = |k: &str, v: serde_json::Value| {
        hc.insert(k.to_string(), v);
    };
    if r.cpu_period != 0 {
        put("CpuPeriod", r.cpu_period.into());
    }
    if r.cpu_quota != 0 {
        put("CpuQuota", r.cpu_quota.into());
    }
    if r.cpu_shares != 0 {
        put("CpuShares", r.cpu_shares.into());
    }
    if r.memory_limit_in_bytes != 0 {
        put("Memory", r.memory_limit_in_bytes.into());
    }
    if r.memory_swap_limit_in_bytes != 0 {
        put("MemorySwap", r.memory_swap_limit_in_bytes.into());
    }
    if !r.cpuset_cpus.is_empty() {
        put("CpusetCpus", r.cpuset_cpus.clone().into());
    }
    if !r.cpuset_mems.is_empty() {
        put("CpusetMems", r.cpuset_mems.clone().into());
    }
    hc
}

/// The Docker-style create request of a pod's container. The container
/// joins the sandbox's network, IPC and UTS namespaces (the host's for
/// `NODE`), and its PID namespace for `pid = POD`.
pub fn request(
    config: &cri::ContainerConfig,
    pod: &Pod<'_>,
    image: &str,
    read_profile: &dyn Fn(&str) -> Result<String, String>,
) -> Result<serde_json::Value, String> {
    use serde_json::{json, Value};
    const NODE: i32 = cri::NamespaceMode::Node as i32;
    let Some(metadata) = config.metadata.as_ref().filter(|m| !m.name.is_empty()) else {
        return Err("container config has no metadata name".to_string());
    };
    let _ = metadata;
    let default_sc = cri::LinuxContainerSecurityContext::default();
    let linux = config.linux.as_ref();
    let sc = linux.and_then(|l| l.security_context.as_ref()).unwrap_or(&default_sc);
    let ns = sc.namespace_options.clone().unwrap_or_default();
    let join = format!("container:{}", pod.sandbox_id);
    let (network, uts) = if ns.network == NODE {
        ("host".to_string(), "host".to_string())
    } else {
        (join.clone(), join.clone())
    };
    let ipc = if ns.ipc == NODE {
        "host".to_string()
    } else {
        join.clone()
    };
    let pid = match cri::NamespaceMode::try_from(ns.pid) {
        Ok(cri::NamespaceMode::Node) => "host".to_string(),
        Ok(cri::NamespaceMode::Pod) => join,
        Ok(cri::NamespaceMode::Container) => String::new(),
        Ok(cri::NamespaceMode::Target) if !ns.target_id.is_empty() => format!("container:{}", ns.target_id),
        Ok(cri::NamespaceMode::Target) => return Err("pid namespace TARGET without a target_id".to_string()),
        Err(_) => return Err(format!("unknown pid namespace mode {}", ns.pid)),
    };

    let mut env: Vec<String> = Vec::new();
    if !pod.hostname.is_empty() && network != "host" {
        env.push(format!("HOSTNAME={}", pod.hostname));
    }
    for kv in &config.envs {
        if kv.key.is_empty() {
            return Err("an environment variable has no name".to_string());
        }
        env.push(format!("{}={}", kv.key, kv.value));
    }
    let log = log_file(pod, &config.log_path)?;
    let log_config = match &log {
        // kubelet rotates the file itself (then ReopenContainerLog).
        Some(path) => json!({"Type": "cri", "Config": {"path": path, "max-size": "-1"}}),
        None => json!({"Type": "none"}),
    };
    let binds = config.mounts.iter().map(bind).collect::<Result<Vec<_>, _>>()?;
    let devices: Vec<Value> = config
        .devices
        .iter()
        .map(|d| {
            json!({
                "PathOnHost": d.host_path,
                "PathInContainer": d.container_path,
                "CgroupPermissions": d.permissions,
            })
        })
        .collect();

    let mut hc = serde_json::Map::new();
    hc.insert("NetworkMode".into(), network.into());
    hc.insert("UTSMode".into(), uts.into());
    hc.insert("IpcMode".into(), ipc.into());
    hc.insert("PidMode".into(), pid.into());
    hc.insert("LogConfig".into(), log_config);
    hc.insert("Binds".into(), binds.into());
    hc.insert("Devices".into(), devices.into());
    hc.insert("Privileged".into(), sc.privileged.into());
    hc.insert("ReadonlyRootfs".into(), sc.readonly_rootfs.into());
    if let Some(caps) = &sc.capabilities {
        if !caps.add_capabilities.is_empty() {
            hc.insert("CapAdd".into(), caps.add_capabilities.clone().into());
        }
        if !caps.drop_capabilities.is_empty() {
            hc.insert("CapDrop".into(), caps.drop_capabilities.clone().into());
        }
    }
    if !sc.supplemental_groups.is_empty() {
        let groups: Vec<String> = sc.supplemental_groups.iter().map(i64::to_string).collect();
        hc.insert("GroupAdd".into(), groups.into());
    }
    let mut security_opt: Vec<String> = Vec::new();
    if sc.no_new_privs {
        security_opt.push("no-new-privileges=true".to_string());
    }
    if let Some(opt) = seccomp_opt(sc, read_profile)? {
        security_opt.push(opt);
    }
    hc.insert("SecurityOpt".into(), security_opt.into());
    // As given; none given keeps the runtime's defaults (none when
    // privileged), as containerd.
    if !sc.privileged {
        if !sc.masked_paths.is_empty() {
            hc.insert("MaskedPaths".into(), sc.masked_paths.clone().into());
        }
        if !sc.readonly_paths.is_empty() {
            hc.insert("ReadonlyPaths".into(), sc.readonly_paths.clone().into());
        }
    }
    if let Some(r) = linux.and_then(|l| l.resources.as_ref()) {
        hc.extend(resources(r));
        if r.oom_score_adj != 0 {
            hc.insert("OomScoreAdj".into(), r.oom_score_adj.into());
        }
    }

    let mut req = serde_json::Map::new();
    req.insert("Image".into(), image.into());
    // kubelet's rule is docker's: a command replaces the image's
    // ENTRYPOINT and drops its CMD; args replace CMD.
    if !config.command.is_empty() {
        req.insert("Entrypoint".into(), config.command.clone().into());
    }
    if !config.args.is_empty() {
        req.insert("Cmd".into(), config.args.clone().into());
    }
    req.insert("Env".into(), env.into());
    req.insert("WorkingDir".into(), config.working_dir.clone().into());
    req.insert("User".into(), user(sc)?.into());
    req.insert(
        "Labels".into(),
        serde_json::to_value(labels(config, pod, log.as_deref())?).map_err(|e| e.to_string())?,
    );
    req.insert("Tty".into(), config.tty.into());
    req.insert("OpenStdin".into(), config.stdin.into());
    req.insert("StdinOnce".into(), config.stdin_once.into());
    req.insert("AttachStdin".into(), config.stdin.into());
    req.insert("HostConfig".into(), Value::Object(hc));
    Ok(Value::Object(req))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Pod<'static> {
        Pod {
            sandbox_id: "sb1",
            hostname: "web-0",
            log_directory: "/var/log/pods/default_web_u1",
        }
    }

    fn no_profile(p: &str) -> Result<String, String> {
        Err(format!("no profile {p}"))
    }

    fn config() -> cri::ContainerConfig {
        cri::ContainerConfig {
            metadata: Some(cri::ContainerMetadata {
                name: "app".into(),
                attempt: 1,
            }),
            image: Some(cri::ImageSpec {
                image: "busybox".into(),
                ..Default::default()
            }),
            command: vec!["/bin/sh".into()],
            envs: vec![cri::KeyValue {
                key: "A".into(),
                value: "1".into(),
            }],
            log_path: "app/1.log".into(),
            labels: [("l".to_string(), "v".to_string())].into(),
            annotations: [("a".to_string(), "w".to_string())].into(),
            mounts: vec![cri::Mount {
                container_path: "/data".into(),
                host_path: "/srv/data".into(),
                readonly: true,
                propagation: cri::MountPropagation::PropagationHostToContainer as i32,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn joins_the_pod_and_keeps_cri_fields_apart() {
        let r = request(&config(), &pod(), "sha256:x", &no_profile).expect("request");
        let hc = &r["HostConfig"];
        assert_eq!(hc["NetworkMode"], "container:sb1");
        assert_eq!(hc["IpcMode"], "container:sb1");
        assert_eq!(hc["UTSMode"], "container:sb1");
        // The proto's default PID mode is POD.
        assert_eq!(hc["PidMode"], "container:sb1");
        assert_eq!(hc["Binds"][0], "/srv/data:/data:ro,rslave");
        assert_eq!(hc["LogConfig"]["Type"], "cri");
        assert_eq!(
            hc["LogConfig"]["Config"]["path"],
            "/var/log/pods/default_web_u1/app/1.log"
        );
        assert_eq!(hc["SecurityOpt"][0], "seccomp=unconfined");
        assert_eq!(r["Entrypoint"][0], "/bin/sh");
        assert!(r.get("Cmd").is_none());
        assert_eq!(r["Env"][0], "HOSTNAME=web-0");
        assert_eq!(r["Env"][1], "A=1");
        assert_eq!(r["User"], "");
        let labels: BTreeMap<String, String> = serde_json::from_value(r["Labels"].clone()).expect("labels");
        let info = container_info(&labels).expect("info");
        assert_eq!(info.sandbox_id, "sb1");
        assert_eq!(info.metadata, config().metadata.expect("m"));
        assert_eq!(info.labels, config().labels);
        assert_eq!(info.annotations, config().annotations);
        assert_eq!(info.mounts.len(), 1);
        assert_eq!(info.mounts[0].host_path, "/srv/data");
        assert_eq!(info.log_path, "/var/log/pods/default_web_u1/app/1.log");
        assert!(container_info(&BTreeMap::new()).is_none());
    }

    #[test]
    #[allow(deprecated)]
    fn security_context() {
        let mut c = config();
        c.linux = Some(cri::LinuxContainerConfig {
            security_context: Some(cri::LinuxContainerSecurityContext {
                run_as_user: Some(cri::Int64Value { value: 1000 }),
                run_as_group: Some(cri::Int64Value { value: 50 }),
                supplemental_groups: vec![7, 8],
                capabilities: Some(cri::Capability {
                    add_capabilities: vec!["NET_ADMIN".into()],
                    drop_capabilities: vec!["ALL".into()],
                    ..Default::default()
                }),
                no_new_privs: true,
                readonly_rootfs: true,
                masked_paths: vec!["/proc/kcore".into()],
                readonly_paths: vec!["/proc/sys".into()],
                seccomp: Some(cri::SecurityProfile {
                    profile_type: cri::security_profile::ProfileType::Localhost as i32,
                    localhost_ref: "/p.json".into(),
                }),
                namespace_options: Some(cri::NamespaceOption {
                    pid: cri::NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            resources: Some(cri::LinuxContainerResources {
                memory_limit_in_bytes: 64 << 20,
                cpu_shares: 512,
                ..Default::default()
            }),
        });
        let read = |p: &str| Ok(format!("{{\"from\":\"{p}\"}}"));
        let r = request(&c, &pod(), "i", &read).expect("request");
        let hc = &r["HostConfig"];
        assert_eq!(r["User"], "1000:50");
        assert_eq!(hc["GroupAdd"], serde_json::json!(["7", "8"]));
        assert_eq!(hc["CapAdd"], serde_json::json!(["NET_ADMIN"]));
        assert_eq!(hc["CapDrop"], serde_json::json!(["ALL"]));
        assert_eq!(hc["SecurityOpt"][0], "no-new-privileges=true");
        assert_eq!(hc["SecurityOpt"][1], "seccomp={\"from\":\"/p.json\"}");
        assert_eq!(hc["ReadonlyRootfs"], true);
        assert_eq!(hc["MaskedPaths"], serde_json::json!(["/proc/kcore"]));
        assert_eq!(hc["ReadonlyPaths"], serde_json::json!(["/proc/sys"]));
        assert_eq!(hc["PidMode"], "container:sb1");
        assert_eq!(hc["Memory"], 64 << 20);
        assert_eq!(hc["CpuShares"], 512);

        // RuntimeDefault is docker's default profile; privileged has none.
        let sc = |f: &dyn Fn(&mut cri::LinuxContainerSecurityContext)| {
            let mut c = config();
            let mut s = cri::LinuxContainerSecurityContext::default();
            f(&mut s);
            c.linux = Some(cri::LinuxContainerConfig {
                security_context: Some(s),
                resources: None,
            });
            request(&c, &pod(), "i", &no_profile)
        };
        let r = sc(&|s| s.seccomp = Some(cri::SecurityProfile::default())).expect("default");
        assert_eq!(r["HostConfig"]["SecurityOpt"][0], "seccomp=builtin");
        let r = sc(&|s| {
            s.privileged = true;
            s.masked_paths = vec!["/x".into()];
        })
        .expect("privileged");
        assert_eq!(r["HostConfig"]["SecurityOpt"], serde_json::json!([]));
        assert!(r["HostConfig"].get("MaskedPaths").is_none());
        let r = sc(&|s| s.run_as_username = "nobody".into()).expect("username");
        assert_eq!(r["User"], "nobody");
        // Refused.
        assert!(sc(&|s| s.run_as_group = Some(cri::Int64Value { value: 1 })).is_err());
        assert!(sc(&|s| s.seccomp_profile_path = "bogus".into()).is_err());
        assert!(sc(&|s| s.seccomp = Some(cri::SecurityProfile {
            profile_type: 9,
            localhost_ref: String::new()
        }))
        .is_err());
        assert!(sc(&|s| s.seccomp = Some(cri::SecurityProfile {
            profile_type: cri::security_profile::ProfileType::Localhost as i32,
            localhost_ref: "/nope".into()
        }))
        .is_err());
        let r = sc(&|s| {
            s.namespace_options = Some(cri::NamespaceOption {
                network: cri::NamespaceMode::Node as i32,
                ipc: cri::NamespaceMode::Node as i32,
                pid: cri::NamespaceMode::Node as i32,
                ..Default::default()
            })
        })
        .expect("host");
        let hc = &r["HostConfig"];
        assert_eq!(
            (&hc["NetworkMode"], &hc["UTSMode"], &hc["IpcMode"], &hc["PidMode"]),
            (&"host".into(), &"host".into(), &"host".into(), &"host".into())
        );
    }

    #[test]
    fn command_args_and_bad_input() {
        let mut c = config();
        c.command.clear();
        c.args = vec!["echo".into(), "hi".into()];
        let r = request(&c, &pod(), "i", &no_profile).expect("args");
        assert!(r.get("Entrypoint").is_none());
        assert_eq!(r["Cmd"], serde_json::json!(["echo", "hi"]));
        c.log_path = String::new();
        let r = request(&c, &pod(), "i", &no_profile).expect("no log");
        assert_eq!(r["HostConfig"]["LogConfig"]["Type"], "none");
        let mut bad = config();
        bad.metadata = None;
        assert!(request(&bad, &pod(), "i", &no_profile).is_err());
        let mut bad = config();
        bad.mounts[0].host_path = "rel".into();
        assert!(request(&bad, &pod(), "i", &no_profile).is_err());
        let mut bad = config();
        bad.log_path = "../../etc/x".into();
        assert!(request(&bad, &pod(), "i", &no_profile).is_err());
        let p = Pod {
            log_directory: "",
            ..pod()
        };
        assert!(request(&config(), &p, "i", &no_profile).is_err());
        assert_eq!(
            container_name(
                &cri::ContainerMetadata {
                    name: "app".into(),
                    attempt: 1
                },
                &cri::PodSandboxMetadata {
                    name: "web".into(),
                    uid: "u".into(),
                    namespace: "ns".into(),
                    attempt: 0
                }
            ),
            "k8s_app_web_ns_u_1"
        );
    }
}
