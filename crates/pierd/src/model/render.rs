//! The spec rendered back into docker's wire shapes for inspect: the typed
//! fields from the spec, the rest from its [`Echo`] with docker's
//! create-time defaults applied, so that inspect prints what dockerd prints
//! for the same request.

use pier_api::container::{ContainerConfig, HostConfig, LogConfig, RestartPolicy as WireRestart};
use pier_image::ImageConfig;
use serde_json::Value;

use super::build::{to_map, Defaults};
use super::resources;
use super::spec::{ContainerSpec, Echo, EchoMap, RestartPolicy};

/// `Config` fields rendered from typed spec fields (everything else is echoed).
const TYPED_CONFIG: &[&str] = &[
    "Hostname",
    "Domainname",
    "User",
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "Tty",
    "OpenStdin",
    "StdinOnce",
    "Env",
    "Cmd",
    "Image",
    "Volumes",
    "WorkingDir",
    "Entrypoint",
    "Labels",
    "StopSignal",
    "StopTimeout",
    "Healthcheck",
];

/// `HostConfig` fields rendered from typed spec fields.
const TYPED_HOST_CONFIG: &[&str] = &[
    "LogConfig",
    "Links",
    "NetworkMode",
    "RestartPolicy",
    "AutoRemove",
    "ConsoleSize",
    "Annotations",
    "CapAdd",
    "CapDrop",
    "Dns",
    "DnsOptions",
    "DnsSearch",
    "ExtraHosts",
    "OomScoreAdj",
    "Privileged",
    "ReadonlyRootfs",
    "Tmpfs",
    "ShmSize",
    "Runtime",
    "MaskedPaths",
    "ReadonlyPaths",
];

/// The request fields kept verbatim, with dockerd's create-time defaults
/// (IPC and cgroupns modes, `label=disable` for privileged or host-IPC/PID containers).
/// `config` and `host` are the request's `Config` and `HostConfig` as JSON
/// maps (`build` has them already), `hc` the same `HostConfig` typed.
pub fn echo_of(
    mut config: serde_json::Map<String, Value>,
    mut host: serde_json::Map<String, Value>,
    hc: &HostConfig,
    image: &ImageConfig,
    defaults: &Defaults<'_>,
) -> Echo {
    config.retain(|k, _| !TYPED_CONFIG.contains(&k.as_str()));
    if !image.exposed_ports.is_empty() {
        let ports = config
            .entry("ExposedPorts")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(m) = ports {
            for p in &image.exposed_ports {
                m.entry(p.clone()).or_insert_with(|| Value::Object(Default::default()));
            }
        } else {
            *ports = Value::Object(
                image
                    .exposed_ports
                    .iter()
                    .map(|p| (p.clone(), Value::Object(Default::default())))
                    .collect(),
            );
        }
    }
    host.retain(|k, _| {
        !TYPED_HOST_CONFIG.contains(&k.as_str())
            && !resources::WIRE_NAMES.contains(&k.as_str())
            && !super::isolation::TYPED.contains(&k.as_str())
    });
    let set = |host: &mut serde_json::Map<String, Value>, k: &str, v: Value| {
        host.insert(k.to_string(), v);
    };
    if hc.cgroupns_mode.is_empty() {
        let mode = if defaults.cgroup_v2 { "private" } else { "host" };
        set(&mut host, "CgroupnsMode", mode.into());
    }
    // dockerd's generateSecurityOpt: SELinux labeling off for containers
    // sharing the host's IPC or PID namespace or privileged, unless a label
    // option was given (it appends this also on hosts without SELinux).
    let opts = hc.security_opt.as_deref().unwrap_or_default();
    let labelled = opts.iter().any(|o| o.split('=').next() == Some("label"));
    if !labelled && (hc.privileged || hc.ipc_mode == "host" || hc.pid_mode == "host") {
        let mut with_label: Vec<Value> = opts.iter().map(|o| Value::String(o.clone())).collect();
        with_label.push("label=disable".into());
        set(&mut host, "SecurityOpt", Value::Array(with_label));
    }
    host.remove("KernelMemory");
    Echo {
        config: EchoMap::from_map(&config.into_iter().collect()),
        host_config: EchoMap::from_map(&host.into_iter().collect()),
    }
}

fn overlay<T: serde::Serialize + serde::de::DeserializeOwned>(typed: T, echo: &EchoMap) -> T {
    let mut map = to_map(&typed);
    for (k, v) in echo.map() {
        map.insert(k, v);
    }
    // The echo came from this type's own serialization: it reads back.
    serde_json::from_value(Value::Object(map)).unwrap_or(typed)
}

/// inspect's `Config`.
pub fn config(spec: &ContainerSpec, image: &str) -> ContainerConfig {
    let p = &spec.process;
    let typed = ContainerConfig {
        hostname: spec.hostname.clone(),
        domainname: spec.domainname.clone(),
        user: p.user.clone(),
        attach_stdin: p.stdio.attach_stdin,
        attach_stdout: p.stdio.attach_stdout,
        attach_stderr: p.stdio.attach_stderr,
        tty: p.stdio.tty,
        open_stdin: p.stdio.open_stdin,
        stdin_once: p.stdio.stdin_once,
        // dockerd keeps the image's (possibly nil) Env when the request has none.
        env: (!p.env.is_empty()).then(|| p.env.clone()),
        cmd: p.cmd.clone(),
        image: image.to_string(),
        volumes: (!spec.storage.volumes.is_empty()).then(|| {
            spec.storage
                .volumes
                .iter()
                .map(|v| (v.clone(), Value::Object(Default::default())))
                .collect()
        }),
        working_dir: p.working_dir.clone(),
        entrypoint: p.entrypoint.clone(),
        labels: Some(spec.labels.clone()),
        stop_signal: spec.stop.signal.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
        stop_timeout: spec.stop.timeout,
        healthcheck: spec.healthcheck.as_ref().map(|h| h.to_wire()),
        ..Default::default()
    };
    overlay(typed, &spec.echo.config)
}

/// inspect's `HostConfig`.
pub fn host_config(spec: &ContainerSpec) -> HostConfig {
    let (name, max) = match spec.restart {
        RestartPolicy::OnFailure { max_retries } => ("on-failure", i64::from(max_retries)),
        other => (other.name(), 0),
    };
    let mut typed = HostConfig {
        log_config: LogConfig {
            kind: spec.log.driver.as_str().to_string(),
            config: Some(spec.log.options.clone()),
        },
        network_mode: spec.network.as_wire(),
        restart_policy: WireRestart {
            name: name.to_string(),
            maximum_retry_count: max,
        },
        auto_remove: spec.auto_remove,
        console_size: spec.process.console_size.map_or([0, 0], |c| [c.height, c.width]),
        annotations: (!spec.annotations.is_empty()).then(|| spec.annotations.clone()),
        cap_add: spec.security.cap_add.clone(),
        cap_drop: spec.security.cap_drop.clone(),
        dns: spec.etc.dns.clone(),
        dns_options: spec.etc.dns_options.clone(),
        dns_search: spec.etc.dns_search.clone(),
        extra_hosts: (!spec.etc.extra_hosts.is_empty()).then(|| {
            spec.etc
                .extra_hosts
                .iter()
                .map(|h| format!("{}:{}", h.name, h.address))
                .collect()
        }),
        oom_score_adj: i64::from(spec.oom_score_adj),
        privileged: spec.security.privileged,
        readonly_rootfs: spec.storage.readonly_rootfs,
        tmpfs: (!spec.storage.tmpfs.is_empty()).then(|| spec.storage.tmpfs.clone()),
        shm_size: i64::try_from(spec.shm_size).unwrap_or(i64::MAX),
        runtime: spec.runtime.clone(),
        // dockerd fills in its defaults at create unless privileged.
        masked_paths: spec.security.masked_paths.clone().or_else(|| {
            (!spec.security.privileged).then(|| crate::spec::MASKED_PATHS.iter().map(|p| p.to_string()).collect())
        }),
        readonly_paths: spec.security.readonly_paths.clone().or_else(|| {
            (!spec.security.privileged).then(|| crate::spec::READONLY_PATHS.iter().map(|p| p.to_string()).collect())
        }),
        ..Default::default()
    };
    resources::render_into(&spec.resources, &mut typed);
    super::isolation::render(&spec.isolation, &mut typed);
    overlay(typed, &spec.echo.host_config)
}
