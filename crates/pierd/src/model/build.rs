//! The one pure function from a create request to a [`ContainerSpec`]: the
//! image's defaults merged in, every field validated (docker's messages),
//! every field Pier records without applying turned into a warning.

use std::collections::BTreeMap;

use pier_api::container::{ContainerConfig, ContainerCreateRequest, HostConfig};
use pier_image::ImageConfig;
use serde_json::Value;

use super::fields::{self, Class, Section, FIELDS};
use super::log_policy;
use super::resources::{self, HostSupport};
use super::spec::{
    CgroupnsMode, ConsoleSize, ContainerSpec, EtcSpec, ExtraHost, NetworkMode, ProcessSpec, RestartPolicy,
    SeccompPolicy, SecuritySpec, Stdio, StopPolicy, StopSignal, StorageSpec,
};
use super::CreateError;
use crate::spec;

/// docker's default /dev/shm size.
pub const DEFAULT_SHM_SIZE: u64 = 64 * 1024 * 1024;

/// What the daemon contributes to a new container.
#[derive(Debug, Clone)]
pub struct Defaults<'a> {
    pub log_driver: &'a str,
    pub log_opts: &'a BTreeMap<String, String>,
    /// The configured runtime's name (`runc`, `crun`): the only one accepted.
    pub runtime: &'a str,
    /// CPUs of the host, for docker's NanoCpus range check.
    pub ncpu: usize,
    /// Pure cgroup v2 host: docker's default cgroupns mode is then `private`.
    pub cgroup_v2: bool,
    /// The host enforces AppArmor (`--security-opt apparmor=` is refused
    /// otherwise).
    pub apparmor: bool,
    /// What the host's cgroups support and the daemon's rlimits allow.
    pub host: &'a HostSupport,
    /// A container without a network mode joins the default bridge (else
    /// it gets loopback only: networking unavailable or disabled).
    pub bridge_default: bool,
}

/// A built spec and the warnings for the create response.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    pub spec: ContainerSpec,
    pub warnings: Vec<String>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> CreateError {
    CreateError::Invalid {
        field,
        message: message.into(),
    }
}

/// Build the spec of container `id` from a create request and its image.
pub fn build(
    id: &str,
    req: &ContainerCreateRequest,
    image: &ImageConfig,
    defaults: &Defaults<'_>,
) -> Result<Built, CreateError> {
    let c = &req.config;
    let hc = req.host_config.clone().unwrap_or_default();
    let mut warnings = Vec::new();

    // Config.
    let command = spec::merge_command(
        image.entrypoint.as_deref().unwrap_or_default(),
        image.cmd.as_deref().unwrap_or_default(),
        c.entrypoint.as_deref(),
        c.cmd.as_deref().unwrap_or_default(),
    )
    .map_err(|e| invalid("Config.Cmd", e.to_string()))?;
    for e in c.env.iter().flatten() {
        if e.split('=').next().unwrap_or("").is_empty() {
            return Err(invalid("Config.Env", format!("invalid environment variable: {e}")));
        }
    }
    let working_dir = if c.working_dir.is_empty() {
        image.working_dir.clone()
    } else if !c.working_dir.starts_with('/') {
        return Err(invalid(
            "Config.WorkingDir",
            format!(
                "the working directory '{}' is invalid, it needs to be an absolute path",
                c.working_dir
            ),
        ));
    } else {
        clean_path(&c.working_dir)
    };
    let stop_signal = match (c.stop_signal.as_str(), image.stop_signal.as_deref()) {
        ("", None | Some("")) => None,
        ("", Some(s)) | (s, _) => Some(StopSignal {
            name: s.to_string(),
            number: spec::parse_signal(s).map_err(|e| invalid("Config.StopSignal", e.to_string()))?,
        }),
    };
    if let Some(h) = &c.healthcheck {
        check_healthcheck(h)?;
    }
    let mut labels = image.labels.clone();
    labels.extend(c.labels.clone().unwrap_or_default());
    let mut volumes: Vec<String> = image.volumes.clone();
    for v in c.volumes.iter().flatten().map(|(k, _)| k) {
        if !volumes.contains(v) {
            volumes.push(v.clone());
        }
    }
    volumes.sort();
    let argv = command.argv();
    let hostname = if c.hostname.is_empty() {
        spec::default_hostname(id)
    } else {
        c.hostname.clone()
    };

    // HostConfig.
    let mut resources = resources::from_wire(&hc);
    warnings.extend(resources::check(&mut resources, defaults.host, defaults.ncpu, false)?);
    check_io_maximum(&hc)?;
    let host_ns = |mode: &str| mode == "host";
    resources::check_process_limits(
        &resources,
        defaults.host,
        resources::Namespaces {
            host_ipc: host_ns(&hc.ipc_mode),
            host_uts: host_ns(&hc.uts_mode),
            host_net: host_ns(&hc.network_mode),
        },
    )?;
    let log = log_policy::resolve(&hc.log_config, defaults.log_driver, defaults.log_opts)?;
    let restart = restart_policy(&hc)?;
    if hc.auto_remove && restart != RestartPolicy::No {
        return Err(invalid(
            "HostConfig.AutoRemove",
            "can't create 'AutoRemove' container with restart policy",
        ));
    }
    let extra_hosts = hc
        .extra_hosts
        .iter()
        .flatten()
        .map(|e| parse_extra_host(e))
        .collect::<Result<Vec<_>, _>>()?;
    for (name, list) in [("CapAdd", &hc.cap_add), ("CapDrop", &hc.cap_drop)] {
        let words = list.as_deref().unwrap_or_default();
        let (add, drop): (&[String], &[String]) = if name == "CapAdd" { (words, &[]) } else { (&[], words) };
        spec::tweak_capabilities(false, add, drop, spec::ALL_CAPS_MASK)
            .map_err(|e| invalid("HostConfig.CapAdd", format!("invalid {name}: {e}")))?;
    }
    if hc.annotations.iter().flatten().any(|(k, _)| k.is_empty()) {
        return Err(invalid(
            "HostConfig.Annotations",
            "invalid Annotations: the empty string is not permitted as an annotation key",
        ));
    }
    if !matches!(hc.isolation.as_str(), "" | "default") {
        return Err(invalid(
            "HostConfig.Isolation",
            format!("invalid isolation '{}' on linux", hc.isolation),
        ));
    }
    if hc.storage_opt.as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(invalid(
            "HostConfig.StorageOpt",
            "--storage-opt is supported only for overlay over xfs with 'pquota' mount option",
        ));
    }
    if !matches!(hc.volume_driver.as_str(), "" | "local") {
        return Err(invalid(
            "HostConfig.VolumeDriver",
            format!(
                "error looking up volume plugin {}: plugin \"{}\" not found",
                hc.volume_driver, hc.volume_driver
            ),
        ));
    }
    if let Some(r) = hc.device_requests.iter().flatten().next() {
        let caps: Vec<String> = r
            .capabilities
            .iter()
            .flatten()
            .map(|and| format!("[{}]", and.join(" ")))
            .collect();
        return Err(invalid(
            "HostConfig.DeviceRequests",
            format!(
                "could not select device driver \"{}\" with capabilities: [{}]",
                r.driver,
                caps.join(" ")
            ),
        ));
    }
    // The runtime's name is checked by the daemon, which knows its runtimes.
    if hc.oom_score_adj < -1000 || hc.oom_score_adj > 1000 {
        return Err(invalid(
            "HostConfig.OomScoreAdj",
            format!(
                "Invalid value {}, range for oom score adj is [-1000, 1000]",
                hc.oom_score_adj
            ),
        ));
    }
    if hc.shm_size < 0 {
        return Err(invalid("HostConfig.ShmSize", "SHM size can not be less than 0"));
    }
    let mut tmpfs = BTreeMap::new();
    for (dest, opts) in hc.tmpfs.iter().flatten() {
        // dockerd's ValidateTmpfsMountDestination: root first, then absolute.
        if clean_path(dest) == "/" {
            return Err(invalid("HostConfig.Tmpfs", TARGET_IS_ROOT));
        }
        if !dest.starts_with('/') {
            return Err(invalid(
                "HostConfig.Tmpfs",
                format!("invalid mount path: '{dest}' mount path must be absolute"),
            ));
        }
        tmpfs.insert(clean_path(dest), opts.clone());
    }
    check_net_container_mode(&hc.network_mode, c, &hc)?;
    let network = network_mode(&hc.network_mode, defaults.bridge_default, &mut warnings);
    let cgroupns = namespace_modes(&hc, defaults, &mut warnings)?;
    let isolation = super::isolation::build(&hc)?;
    super::isolation::check_hostname(&c.hostname, &isolation)?;
    let security_opts = security_opts(hc.security_opt.as_deref().unwrap_or_default(), defaults)?;
    check_ports(&hc)?;

    // Fields recorded but not applied: one warning each when set.
    let config_wire = to_map(c);
    let host_wire = to_map(&hc);
    for f in FIELDS.iter().filter(|f| f.class == Class::Warned) {
        let wire = match f.section {
            Section::Config => &config_wire,
            Section::HostConfig => &host_wire,
        };
        if wire.get(f.name).is_some_and(|v| is_set(f.name, v)) {
            let w = match f.name {
                "CpuPercent" => "linux does not support CPU percent. Percent discarded.".to_string(),
                _ => fields::warning(f),
            };
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
    }

    let endpoint = endpoint_spec(req.networking_config.as_ref(), &network)?;
    let links = legacy_links(&hc, &network)?;
    let spec = ContainerSpec {
        process: ProcessSpec {
            entrypoint: (!command.entrypoint.is_empty()).then(|| command.entrypoint.clone()),
            cmd: (!command.cmd.is_empty()).then(|| command.cmd.clone()),
            path: argv.first().cloned().unwrap_or_default(),
            args: argv.iter().skip(1).cloned().collect(),
            env: spec::merge_env(&image.env, c.env.as_deref().unwrap_or_default()),
            working_dir,
            user: if c.user.is_empty() {
                image.user.clone()
            } else {
                c.user.clone()
            },
            stdio: Stdio {
                attach_stdin: c.attach_stdin,
                attach_stdout: c.attach_stdout,
                attach_stderr: c.attach_stderr,
                open_stdin: c.open_stdin,
                stdin_once: c.stdin_once,
                tty: c.tty,
            },
            console_size: match hc.console_size {
                [h, w] if h > 0 && w > 0 => Some(ConsoleSize { height: h, width: w }),
                _ => None,
            },
        },
        hostname,
        domainname: c.domainname.clone(),
        labels,
        stop: StopPolicy {
            signal: stop_signal,
            timeout: c.stop_timeout,
        },
        log,
        storage: StorageSpec {
            readonly_rootfs: hc.readonly_rootfs,
            tmpfs,
            volumes,
        },
        security: SecuritySpec {
            privileged: hc.privileged,
            cap_add: hc.cap_add.clone(),
            cap_drop: hc.cap_drop.clone(),
            masked_paths: hc.masked_paths.clone(),
            readonly_paths: hc.readonly_paths.clone(),
            seccomp: security_opts.seccomp,
            no_new_privileges: security_opts.no_new_privileges,
            apparmor_profile: security_opts.apparmor_profile,
            writable_cgroups: security_opts.writable_cgroups,
        },
        etc: EtcSpec {
            extra_hosts,
            dns: hc.dns.clone(),
            dns_search: hc.dns_search.clone(),
            dns_options: hc.dns_options.clone(),
        },
        shm_size: if hc.shm_size == 0 {
            DEFAULT_SHM_SIZE
        } else {
            hc.shm_size.unsigned_abs()
        },
        auto_remove: hc.auto_remove,
        oom_score_adj: i32::try_from(hc.oom_score_adj).unwrap_or(0),
        annotations: hc.annotations.clone().unwrap_or_default(),
        restart,
        network,
        cgroupns,
        runtime: if hc.runtime.is_empty() {
            defaults.runtime.to_string()
        } else {
            hc.runtime.clone()
        },
        isolation,
        resources,
        ports: ports_spec(&hc, c.exposed_ports.as_ref(), &image.exposed_ports),
        endpoint,
        connected: None,
        links,
        healthcheck: super::health::merge(
            c.healthcheck.as_ref(),
            image.healthcheck.as_ref(),
            c.shell
                .clone()
                .filter(|s| !s.is_empty())
                .or_else(|| image.shell.clone())
                .unwrap_or_default(),
        ),
        echo: super::render::echo_of(config_wire, host_wire, &hc, image, defaults),
    };
    Ok(Built { spec, warnings })
}

/// `Value`s of a wire struct's fields by name.
pub(super) fn to_map<T: serde::Serialize>(v: &T) -> serde_json::Map<String, Value> {
    match serde_json::to_value(v) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

/// Whether a field carries a non-default value (null, "", 0, false, empty
/// lists and maps, and docker CLI's own defaults are "not set").
fn is_set(name: &str, v: &Value) -> bool {
    match (name, v) {
        (_, Value::Null | Value::Bool(false)) => false,
        (_, Value::String(s)) => !s.is_empty(),
        (_, Value::Array(a)) => !a.is_empty(),
        (_, Value::Object(o)) => !o.is_empty(),
        // The docker CLI sends -1 for "unset" swappiness and 0 for no pids limit.
        ("MemorySwappiness", Value::Number(n)) => n.as_i64() != Some(-1),
        ("PidsLimit", Value::Number(n)) => n.as_i64().is_some_and(|n| n > 0),
        (_, Value::Number(n)) => n.as_f64() != Some(0.0),
        (_, Value::Bool(true)) => true,
    }
}

/// dockerd's `ErrVolumeTargetIsRoot`: nothing may be mounted over the root.
pub const TARGET_IS_ROOT: &str = "invalid specification: destination can't be '/'";

/// Go's `path.Clean` of a destination, made absolute (`..` stops at the root).
pub fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

fn check_healthcheck(h: &pier_api::container::HealthConfig) -> Result<(), CreateError> {
    const MIN: i64 = 1_000_000; // 1ms
    for (name, v) in [
        ("Interval", h.interval),
        ("Timeout", h.timeout),
        ("StartPeriod", h.start_period),
        ("StartInterval", h.start_interval),
    ] {
        if v != 0 && v < MIN {
            return Err(invalid(
                "Config.Healthcheck",
                format!("{name} in Healthcheck cannot be less than 1ms"),
            ));
        }
    }
    if h.retries < 0 {
        return Err(invalid(
            "Config.Healthcheck",
            "Retries in Healthcheck cannot be negative",
        ));
    }
    Ok(())
}

pub(super) fn restart_policy(hc: &HostConfig) -> Result<RestartPolicy, CreateError> {
    let p = &hc.restart_policy;
    let bad = |m: &str| Err(invalid("HostConfig.RestartPolicy", m));
    match p.name.as_str() {
        "always" | "unless-stopped" | "no" if p.maximum_retry_count != 0 => {
            if p.maximum_retry_count < 0 {
                bad("invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative")
            } else {
                bad("invalid restart policy: maximum retry count can only be used with 'on-failure'")
            }
        }
        "" | "no" => Ok(RestartPolicy::No),
        "always" => Ok(RestartPolicy::Always),
        "unless-stopped" => Ok(RestartPolicy::UnlessStopped),
        "on-failure" if p.maximum_retry_count < 0 => {
            bad("invalid restart policy: maximum retry count cannot be negative")
        }
        "on-failure" => Ok(RestartPolicy::OnFailure {
            max_retries: u32::try_from(p.maximum_retry_count).unwrap_or(u32::MAX),
        }),
        other => Err(invalid(
            "HostConfig.RestartPolicy",
            format!("invalid restart policy: unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"),
        )),
    }
}

/// docker's `ValidateExtraHost`: `name:address`, the address an IP or
/// `host-gateway`.
pub fn parse_extra_host(e: &str) -> Result<ExtraHost, CreateError> {
    let field = "HostConfig.ExtraHosts";
    match e.split_once(':') {
        Some((name, addr)) if !name.is_empty() => {
            let bare = addr.trim_start_matches('[').trim_end_matches(']');
            if addr != "host-gateway" && bare.parse::<std::net::IpAddr>().is_err() {
                return Err(invalid(field, format!("invalid IP address in add-host: {addr:?}")));
            }
            Ok(ExtraHost {
                name: name.to_string(),
                address: if addr == "host-gateway" { addr } else { bare }.to_string(),
            })
        }
        _ => Err(invalid(field, format!("bad format for add-host: {e:?}"))),
    }
}

fn network_mode(mode: &str, bridge_default: bool, warnings: &mut Vec<String>) -> NetworkMode {
    let m = match mode {
        "" | "default" if bridge_default => NetworkMode::Bridge,
        "" | "default" | "none" => NetworkMode::None,
        "bridge" => NetworkMode::Bridge,
        "host" => NetworkMode::Host,
        other => match other.strip_prefix("container:") {
            Some(c) => NetworkMode::Container(c.to_string()),
            None => NetworkMode::Named(other.to_string()),
        },
    };
    let _ = warnings;
    m
}

/// dockerd's `validateNetContainerMode`: what a container joining another
/// one's network namespace cannot set, in dockerd's order and words.
fn check_net_container_mode(mode: &str, c: &ContainerConfig, hc: &HostConfig) -> Result<(), CreateError> {
    let Some(donor) = mode.strip_prefix("container:").or((mode == "container").then_some("")) else {
        return Ok(());
    };
    let field = "HostConfig.NetworkMode";
    let set = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
    if donor.is_empty() {
        return Err(invalid(
            field,
            "invalid network mode: invalid container format container:<name|id>",
        ));
    }
    if !c.hostname.is_empty() {
        return Err(invalid(field, "conflicting options: hostname and the network mode"));
    }
    if set(&hc.links) {
        return Err(invalid(
            field,
            "conflicting options: container type network can't be used with links. This would result in undefined behavior",
        ));
    }
    if set(&hc.dns) {
        return Err(invalid(field, "conflicting options: dns and the network mode"));
    }
    if set(&hc.extra_hosts) {
        return Err(invalid(
            field,
            "conflicting options: custom host-to-IP mapping and the network mode",
        ));
    }
    if hc.port_bindings.as_ref().is_some_and(|p| !p.is_empty()) || hc.publish_all_ports {
        return Err(invalid(
            field,
            "conflicting options: port publishing and the container type network mode",
        ));
    }
    if c.exposed_ports.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(invalid(
            field,
            "conflicting options: port exposing and the container type network mode",
        ));
    }
    Ok(())
}

/// Checks the user namespace mode (warning: not applied) and resolves the
/// cgroup namespace (the PID, IPC and UTS modes are [`super::isolation`]'s).
fn namespace_modes(
    hc: &HostConfig,
    defaults: &Defaults<'_>,
    warnings: &mut Vec<String>,
) -> Result<CgroupnsMode, CreateError> {
    let mut warn = |field: &str, value: &str, what: &str| {
        warnings.push(format!(
            "HostConfig.{field} \"{value}\" is recorded but not applied by Pier: {what}"
        ));
    };
    match hc.userns_mode.as_str() {
        "" | "host" => {}
        v => warn("UsernsMode", v, "Pier does not use user namespaces"),
    }
    match hc.cgroupns_mode.as_str() {
        "" if defaults.cgroup_v2 => Ok(CgroupnsMode::Private),
        "" | "host" => Ok(CgroupnsMode::Host),
        "private" => Ok(CgroupnsMode::Private),
        v => Err(invalid(
            "HostConfig.CgroupnsMode",
            format!("invalid cgroup namespace mode: {v}"),
        )),
    }
}

/// `HostConfig.SecurityOpt`, typed.
#[derive(Debug, Default)]
struct SecurityOpts {
    seccomp: Option<SeccompPolicy>,
    no_new_privileges: bool,
    apparmor_profile: Option<String>,
    writable_cgroups: Option<bool>,
}

/// Go's `strconv.ParseBool`.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// dockerd's `parseSecurityOpt`: `key=value` (or the deprecated
/// `key:value`), the bare `no-new-privileges`, `writable-cgroups` and
/// `disable`; anything else is refused with dockerd's message. SELinux
/// label options have no effect (Pier does not label, as dockerd on a host
/// without SELinux). A seccomp profile is decoded and checked here, so a bad
/// one is a 400 at create rather than a failed start.
fn security_opts(list: &[String], defaults: &Defaults<'_>) -> Result<SecurityOpts, CreateError> {
    let field = "HostConfig.SecurityOpt";
    let mut out = SecurityOpts::default();
    for opt in list {
        match opt.as_str() {
            "no-new-privileges" => {
                out.no_new_privileges = true;
                continue;
            }
            "writable-cgroups" => {
                out.writable_cgroups = Some(true);
                continue;
            }
            "disable" => continue,
            _ => {}
        }
        let Some((key, value)) = opt.split_once('=').or_else(|| opt.split_once(':')) else {
            return Err(invalid(field, format!("invalid --security-opt 1: {opt:?}")));
        };
        let bad_value = || invalid(field, format!("invalid --security-opt 2: {opt:?}"));
        match key {
            "label" => {}
            "apparmor" => {
                out.apparmor_profile = match value {
                    "" => None,
                    _ if defaults.apparmor => Some(value.to_string()),
                    // Nothing confines a process on this host: unconfined is what it gets.
                    "unconfined" => None,
                    _ => {
                        return Err(invalid(
                            field,
                            format!("AppArmor is not enabled on this host: cannot apply --security-opt {opt:?}"),
                        ))
                    }
                }
            }
            "seccomp" => {
                out.seccomp = match value {
                    "" => None,
                    "builtin" => Some(SeccompPolicy::Builtin),
                    "unconfined" => Some(SeccompPolicy::Unconfined),
                    profile => {
                        spec::seccomp::Profile::parse(profile).map_err(|e| invalid(field, e.to_string()))?;
                        Some(SeccompPolicy::Custom {
                            profile: profile.to_string(),
                        })
                    }
                }
            }
            "no-new-privileges" => out.no_new_privileges = go_bool(value).ok_or_else(bad_value)?,
            "writable-cgroups" => out.writable_cgroups = Some(go_bool(value).ok_or_else(bad_value)?),
            _ => return Err(bad_value()),
        }
    }
    Ok(out)
}

fn check_ports(hc: &HostConfig) -> Result<(), CreateError> {
    let port_ok = |p: &str| {
        let (lo, hi) = p.split_once('-').unwrap_or((p, p));
        matches!((lo.parse::<u16>(), hi.parse::<u16>()), (Ok(a), Ok(b)) if a <= b)
    };
    for (port, bindings) in hc.port_bindings.iter().flatten() {
        let bare = port.split_once('/').map_or(port.as_str(), |(p, _)| p);
        if !port_ok(bare) {
            return Err(invalid(
                "HostConfig.PortBindings",
                format!("invalid port specification: {bare:?}"),
            ));
        }
        for b in bindings.iter().flatten() {
            let hp = b.host_port.split_once('/').map_or(b.host_port.as_str(), |(p, _)| p);
            if !hp.is_empty() && !port_ok(hp) {
                return Err(invalid(
                    "HostConfig.PortBindings",
                    format!("invalid port specification: {:?}", b.host_port),
                ));
            }
        }
    }
    Ok(())
}

/// `HostConfig.Links` (`name[:alias]`, docker's `ParseLink`), for the
/// default bridge (dockerd ignores them on user networks, where they are
/// per-endpoint) and refused with host networking.
fn legacy_links(hc: &HostConfig, network: &NetworkMode) -> Result<Vec<super::spec::LegacyLink>, CreateError> {
    let field = "HostConfig.Links";
    let given = hc.links.as_deref().unwrap_or_default();
    if given.is_empty() || matches!(network, NetworkMode::Named(_)) {
        return Ok(Vec::new());
    }
    if *network == NetworkMode::Host {
        return Err(invalid(
            field,
            "conflicting options: host type networking can't be used with links. This would result in undefined behavior",
        ));
    }
    given
        .iter()
        .map(|l| {
            let (name, alias) = l.split_once(':').unwrap_or((l.as_str(), l.as_str()));
            let name = name.trim_start_matches('/');
            let alias = alias.trim_start_matches('/');
            if name.is_empty() || alias.is_empty() {
                return Err(invalid(field, format!("bad format for links: {l}")));
            }
            Ok(super::spec::LegacyLink {
                child: name.to_string(),
                alias: alias.to_string(),
            })
        })
        .collect()
}

/// The endpoint settings for the container's network: the entry named
/// after it (`default` or `bridge` for the default bridge), else the only
/// one. dockerd refuses aliases and static addresses on the default bridge.
fn endpoint_spec(
    nc: Option<&pier_api::container::NetworkingConfig>,
    network: &NetworkMode,
) -> Result<super::spec::EndpointSpec, CreateError> {
    let field = "NetworkingConfig.EndpointsConfig";
    let Some(all) = nc.and_then(|n| n.endpoints_config.as_ref()) else {
        return Ok(Default::default());
    };
    let names: &[&str] = match network {
        NetworkMode::Bridge => &["bridge", "default"],
        NetworkMode::Named(n) => &[n.as_str()],
        _ => &[],
    };
    let entry = names
        .iter()
        .find_map(|n| all.get(*n))
        .or_else(|| (all.len() == 1).then(|| all.values().next()).flatten())
        .and_then(|v| v.as_ref());
    let Some(e) = entry else {
        return Ok(Default::default());
    };
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let aliases = strings(&e["Aliases"]);
    let ipv4 = match e["IPAMConfig"]["IPv4Address"].as_str().filter(|s| !s.is_empty()) {
        Some(ip) => Some(
            ip.parse::<std::net::Ipv4Addr>()
                .map_err(|_| invalid(field, format!("invalid IPv4 address: {ip}")))?,
        ),
        None => None,
    };
    let ipv6 = match e["IPAMConfig"]["IPv6Address"].as_str().filter(|s| !s.is_empty()) {
        Some(ip) => Some(
            ip.parse::<std::net::Ipv6Addr>()
                .map_err(|_| invalid(field, format!("invalid IPv6 address: {ip}")))?,
        ),
        None => None,
    };
    let mac = e["MacAddress"].as_str().filter(|s| !s.is_empty()).map(str::to_string);
    if *network == NetworkMode::Bridge {
        if !aliases.is_empty() {
            return Err(invalid(
                field,
                "network-scoped alias is supported only for containers in user defined networks",
            ));
        }
        if ipv4.is_some() || ipv6.is_some() {
            return Err(invalid(
                field,
                "user specified IP address is supported on user defined networks only",
            ));
        }
    }
    let links = strings(&e["Links"]);
    Ok(super::spec::EndpointSpec {
        aliases,
        ipv4,
        ipv6,
        mac,
        links,
    })
}

/// `PortBindings` typed, and `-P`: every exposed port (the request's and
/// the image's) without a binding gets one to a random host port.
fn ports_spec(
    hc: &HostConfig,
    exposed: Option<&pier_api::container::StringSet>,
    image_exposed: &[String],
) -> super::spec::PortsSpec {
    let mut bindings: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let key = |k: &str| {
        if k.contains('/') {
            k.to_string()
        } else {
            format!("{k}/tcp")
        }
    };
    for (port, list) in hc.port_bindings.iter().flatten() {
        let targets = list
            .iter()
            .flatten()
            .map(|b| (b.host_ip.clone(), b.host_port.clone()))
            .collect();
        bindings.insert(key(port), targets);
    }
    if hc.publish_all_ports {
        let all = exposed.into_iter().flat_map(|m| m.keys()).chain(image_exposed.iter());
        for p in all {
            bindings.entry(key(p)).or_default();
        }
    }
    super::spec::PortsSpec {
        bindings,
        publish_all: hc.publish_all_ports,
    }
}

/// dockerd refuses the Windows-only IO limits on Linux.
fn check_io_maximum(hc: &HostConfig) -> Result<(), CreateError> {
    if hc.io_maximum_bandwidth != 0 || hc.io_maximum_iops != 0 {
        return Err(invalid(
            "HostConfig.IOMaximumIOps",
            "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps",
        ));
    }
    Ok(())
}
