//! `run`/`create` flags -> the create request body, field for field what
//! docker CLI 28's `parse` (cli/command/container/opts.go) sends, checked in
//! the same order so the first error is docker's. Pure: environment
//! lookups, file contents and the terminal size come in as arguments.

use std::collections::BTreeMap;

use pier_api::container::{
    ContainerConfig, ContainerCreateRequest, DeviceMapping, DeviceRequest, HealthConfig, HostConfig, LogConfig,
    NetworkingConfig, RestartPolicy,
};

use pier_api::version::ApiVersion;

use crate::cli::ContainerFlags;
use crate::opts::{self, Invalid, NetworkAttachment};

/// A flag combination docker's CLI refuses after parsing the flags; the
/// text is docker's (`run` prints it as `pier: TEXT`, exit 125).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    #[error("invalid environment variable: {0}")]
    EmptyEnv(String),
    #[error("variable '{0}' contains whitespaces")]
    EnvWhitespace(String),
    #[error("no variable name on line '{0}'")]
    NoVariableName(String),
    #[error("invalid logging opts for driver {0}")]
    LogOptsForNone(String),
    /// A value refused with docker's reason (`invalid containerPort: x`).
    #[error(transparent)]
    Value(#[from] Invalid),
    #[error(transparent)]
    Storage(#[from] super::mount_flags::MountFlagError),
}

/// `--log-driver` and `--log-opt k=v` into `HostConfig.LogConfig` (a bare
/// `k` has an empty value, as docker's CLI; `Config` is always a map).
pub fn log_config(driver: Option<&str>, log_opts: &[String]) -> Result<LogConfig, FlagError> {
    let driver = driver.unwrap_or("");
    if driver == "none" && !log_opts.is_empty() {
        return Err(FlagError::LogOptsForNone(driver.to_string()));
    }
    Ok(LogConfig {
        kind: driver.to_string(),
        config: Some(opts::kv_map(log_opts)),
    })
}

/// One `-e` value: `K=V` as given; a bare `K` takes its value from the
/// CLI's environment, or stays bare (unset) when it has none.
pub fn env_entry(raw: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, FlagError> {
    match raw.split_once('=') {
        Some(("", _)) => Err(FlagError::EmptyEnv(raw.to_string())),
        Some(_) => Ok(raw.to_string()),
        None if raw.is_empty() => Err(FlagError::EmptyEnv(raw.to_string())),
        None => Ok(lookup(raw).map_or_else(|| raw.to_string(), |v| format!("{raw}={v}"))),
    }
}

/// Lines of an `--env-file`/`--label-file`: blank lines and `#` comments
/// skipped, leading whitespace trimmed, keys without whitespace.
pub fn file_entries(content: &str) -> Result<Vec<String>, FlagError> {
    let mut out = Vec::new();
    for line in content.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = line.split_once('=').map_or(line, |(k, _)| k);
        if key.is_empty() {
            return Err(FlagError::NoVariableName(line.to_string()));
        }
        if key.contains(char::is_whitespace) {
            return Err(FlagError::EnvWhitespace(key.to_string()));
        }
        out.push(line.to_string());
    }
    Ok(out)
}

/// docker's `kvfile.Parse`: a bare name takes its value from `lookup`, and
/// is dropped when it has none (label files have no lookup: always dropped).
/// An environment lookup (`std::env::var` in the binary, a fake in tests).
type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

fn kv_file(content: &str, lookup: Option<Lookup<'_>>) -> Result<Vec<String>, FlagError> {
    let mut out = Vec::new();
    for line in file_entries(content.trim_start_matches('\u{feff}'))? {
        if line.contains('=') {
            out.push(line);
        } else if let Some(v) = lookup.and_then(|f| f(&line)) {
            out.push(format!("{line}={v}"));
        }
    }
    Ok(out)
}

/// `-e` values as docker 28 collects them (through a map: one entry per
/// name, the last value wins); pier keeps the order of first appearance
/// where docker's is random.
fn dedup_env(entries: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in entries {
        let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k).to_string();
        match out
            .iter_mut()
            .find(|o| o.split_once('=').map_or(o.as_str(), |(k, _)| k) == key)
        {
            Some(slot) => *slot = e,
            None => out.push(e),
        }
    }
    out
}

/// Inputs read from outside: file contents in flag order, env lookup.
pub struct Sources<'a> {
    pub env_files: &'a [String],
    pub label_files: &'a [String],
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    /// `[height, width]` of the local terminal (stdout), when it is one.
    pub console_size: Option<[u32; 2]>,
}

/// Which verb builds the request: docker attaches stdout/stderr for
/// `create` and a foreground `run`, nothing for `run -d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Run { detach: bool },
}

/// Go's `path.Clean` for absolute and relative slash paths.
fn clean_path(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

fn valid_device_mode(mode: &str) -> bool {
    let mut seen = Vec::new();
    !mode.is_empty()
        && mode.chars().all(|c| {
            let fresh = matches!(c, 'r' | 'w' | 'm') && !seen.contains(&c);
            seen.push(c);
            fresh
        })
}

/// docker's `validateLinuxPath` then `parseLinuxDevice` (`--device
/// /dev/x[:/dev/y][:rwm]`).
pub fn device(raw: &str) -> Result<DeviceMapping, Invalid> {
    let bad = || Invalid(format!("bad format for path: {raw}"));
    if raw.matches(':').count() > 2 {
        return Err(bad());
    }
    let split: Vec<&str> = raw.splitn(3, ':').collect();
    if split[0].is_empty() {
        return Err(bad());
    }
    let (container, validated) = match split.as_slice() {
        [c] => (c.to_string(), clean_path(c)),
        [h, m] if valid_device_mode(m) => (h.to_string(), format!("{}:{m}", clean_path(h))),
        [h, c] => (c.to_string(), format!("{h}:{}", clean_path(c))),
        [h, c, m] => {
            if !valid_device_mode(m) {
                return Err(Invalid(format!("bad mode specified: {m}")));
            }
            (c.to_string(), format!("{h}:{c}:{m}"))
        }
        _ => return Err(bad()),
    };
    if !container.starts_with('/') {
        return Err(Invalid(format!("{container} is not an absolute path")));
    }
    let arr: Vec<&str> = validated.splitn(4, ':').collect();
    let mut permissions = "rwm".to_string();
    let mut dst = String::new();
    if let Some(p) = arr.get(2) {
        permissions = (*p).to_string();
    }
    if let Some(second) = arr.get(1) {
        if valid_device_mode(second) {
            permissions = (*second).to_string();
        } else {
            dst = (*second).to_string();
        }
    }
    let src = arr[0].to_string();
    Ok(DeviceMapping {
        path_in_container: if dst.is_empty() { src.clone() } else { dst },
        path_on_host: src,
        cgroup_permissions: permissions,
    })
}

/// A CDI device name (`vendor.com/class=name`) goes to `DeviceRequests`.
fn is_cdi_name(device: &str) -> bool {
    device.split_once('=').is_some_and(|(kind, name)| {
        !name.is_empty()
            && !kind.starts_with('/')
            && kind
                .split_once('/')
                .is_some_and(|(vendor, class)| !vendor.is_empty() && !class.is_empty())
    })
}

/// docker's `opts.ParseRestartPolicy`.
pub(crate) fn restart_policy(policy: &str) -> Result<RestartPolicy, Invalid> {
    if policy.is_empty() {
        return Ok(RestartPolicy::default());
    }
    let (name, count) = policy.split_once(':').unwrap_or((policy, ""));
    if policy.contains(':') && name.is_empty() {
        return Err(Invalid(
            "invalid restart policy format: no policy provided before colon".to_string(),
        ));
    }
    let maximum_retry_count = if count.is_empty() {
        0
    } else {
        count
            .parse()
            .map_err(|_| Invalid("invalid restart policy format: maximum retry count must be an integer".to_string()))?
    };
    Ok(RestartPolicy {
        name: name.to_string(),
        maximum_retry_count,
    })
}

fn container_mode(mode: &str) -> bool {
    mode.split_once(':')
        .is_some_and(|(k, v)| k == "container" && !v.is_empty())
}

/// docker's `parseSecurityOpts` and `parseSystemPaths`: the options, and
/// `MaskedPaths`/`ReadonlyPaths` emptied by `systempaths=unconfined`.
/// A seccomp profile file is read through `read_file` and sent compacted.
type SecurityOpts = (Option<Vec<String>>, Option<Vec<String>>, Option<Vec<String>>);

fn security_opts(raw: &[String], read_file: &dyn Fn(&str) -> Result<String, String>) -> Result<SecurityOpts, Invalid> {
    let mut out = Vec::new();
    let mut unconfined = false;
    for opt in raw {
        let (k, v) = match opt.split_once('=') {
            Some(kv) => kv,
            None if opt == "no-new-privileges" => (opt.as_str(), ""),
            None => opt.split_once(':').unwrap_or((opt.as_str(), "")),
        };
        if v.is_empty() && k != "no-new-privileges" {
            return Err(Invalid(format!("Invalid --security-opt: {opt:?}")));
        }
        if opt == "systempaths=unconfined" {
            unconfined = true;
            continue;
        }
        if k == "seccomp" && v != "builtin" && v != "unconfined" {
            let content = read_file(v).map_err(|e| Invalid(format!("opening seccomp profile ({v}) failed: {e}")))?;
            serde_json::from_str::<serde::de::IgnoredAny>(&content)
                .map_err(|e| Invalid(format!("compacting json for seccomp profile ({v}) failed: {e}")))?;
            out.push(format!("seccomp={}", compact_json(&content)));
            continue;
        }
        out.push(opt.clone());
    }
    let paths = unconfined.then(Vec::new);
    let opts = if raw.is_empty() { None } else { Some(out) };
    Ok((opts, paths.clone(), paths))
}

/// Go's `json.Compact` of valid JSON: the insignificant whitespace
/// removed, keys and numbers kept as written.
fn compact_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

fn storage_opts(raw: &[String]) -> Result<BTreeMap<String, String>, Invalid> {
    raw.iter()
        .map(|o| {
            o.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| Invalid("invalid storage option".to_string()))
        })
        .collect()
}

fn healthcheck(f: &ContainerFlags) -> Result<Option<HealthConfig>, Invalid> {
    let interval = f.health_interval.unwrap_or(0);
    let timeout = f.health_timeout.unwrap_or(0);
    let start_period = f.health_start_period.unwrap_or(0);
    let start_interval = f.health_start_interval.unwrap_or(0);
    let retries = f.health_retries.unwrap_or(0);
    let cmd = f.health_cmd.as_deref().unwrap_or("");
    let have =
        !cmd.is_empty() || interval != 0 || timeout != 0 || start_period != 0 || retries != 0 || start_interval != 0;
    if f.no_healthcheck {
        if have {
            return Err(Invalid(
                "--no-healthcheck conflicts with --health-* options".to_string(),
            ));
        }
        return Ok(Some(HealthConfig {
            test: Some(vec!["NONE".to_string()]),
            ..Default::default()
        }));
    }
    if !have {
        return Ok(None);
    }
    for (v, name) in [
        (interval, "--health-interval"),
        (timeout, "--health-timeout"),
        (retries, "--health-retries"),
        (start_period, "--health-start-period"),
        (start_interval, "--health-start-interval"),
    ] {
        if v < 0 {
            return Err(Invalid(format!("{name} cannot be negative")));
        }
    }
    Ok(Some(HealthConfig {
        test: (!cmd.is_empty()).then(|| vec!["CMD-SHELL".to_string(), cmd.to_string()]),
        interval,
        timeout,
        start_period,
        start_interval,
        retries,
    }))
}

/// A network mode naming a user-defined network (not a built-in mode).
fn user_defined(mode: &str) -> bool {
    !matches!(mode, "default" | "bridge" | "host" | "none") && !mode.starts_with("container:")
}

/// docker's `parseNetworkOpts`: endpoint settings per network, with
/// `--network-alias`, `--link`, `--ip`, `--ip6`, `--mac-address` and
/// `--link-local-ip` applied to the first one.
fn endpoints(f: &ContainerFlags) -> Result<BTreeMap<String, Option<serde_json::Value>>, Invalid> {
    let conflict = |what: &str| Err(Invalid(format!("conflicting options: cannot specify both {what}")));
    let apply = |n: &mut NetworkAttachment| -> Result<(), Invalid> {
        if !n.aliases.is_empty() && !f.network_alias.is_empty() {
            return conflict("--network-alias and per-network alias");
        }
        if !n.ipv4_address.is_empty() && f.ip.is_some() {
            return conflict("--ip and per-network IPv4 address");
        }
        if !n.ipv6_address.is_empty() && f.ip6.is_some() {
            return conflict("--ip6 and per-network IPv6 address");
        }
        if !n.mac_address.is_empty() && f.mac_address.is_some() {
            return conflict("--mac-address and per-network MAC address");
        }
        if !n.link_local_ips.is_empty() && !f.link_local_ip.is_empty() {
            return conflict("--link-local-ip and per-network link-local IP addresses");
        }
        if !f.network_alias.is_empty() {
            n.aliases = f.network_alias.clone();
        }
        if let Some(ip) = &f.ip {
            n.ipv4_address = ip.clone();
        }
        if let Some(ip) = &f.ip6 {
            n.ipv6_address = ip.clone();
        }
        if let Some(mac) = &f.mac_address {
            n.mac_address = mac.clone();
        }
        if !f.link_local_ip.is_empty() {
            n.link_local_ips = f.link_local_ip.clone();
        }
        Ok(())
    };
    let endpoint = |n: &NetworkAttachment, links: &[String]| -> Result<serde_json::Value, Invalid> {
        if n.target.trim().is_empty() {
            return Err(Invalid("no name set for network".to_string()));
        }
        if !user_defined(&n.target) {
            if !n.aliases.is_empty() {
                return Err(Invalid(
                    "network-scoped aliases are only supported for user-defined networks".to_string(),
                ));
            }
            if !links.is_empty() {
                return Err(Invalid(
                    "links are only supported for user-defined networks".to_string(),
                ));
            }
        }
        if !n.mac_address.is_empty() && !opts::is_mac_address(&n.mac_address) {
            return Err(Invalid(format!("{} is not a valid mac address", n.mac_address)));
        }
        let ipam =
            (!n.ipv4_address.is_empty() || !n.ipv6_address.is_empty() || !n.link_local_ips.is_empty()).then(|| {
                let mut m = serde_json::Map::new();
                if !n.ipv4_address.is_empty() {
                    m.insert("IPv4Address".into(), n.ipv4_address.clone().into());
                }
                if !n.ipv6_address.is_empty() {
                    m.insert("IPv6Address".into(), n.ipv6_address.clone().into());
                }
                if !n.link_local_ips.is_empty() {
                    m.insert("LinkLocalIPs".into(), n.link_local_ips.clone().into());
                }
                serde_json::Value::Object(m)
            });
        let list = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
        Ok(serde_json::json!({
            "IPAMConfig": ipam,
            "Links": list(links),
            "Aliases": list(&n.aliases),
            "MacAddress": n.mac_address,
            "DriverOpts": (!n.driver_opts.is_empty()).then(|| n.driver_opts.clone()),
            "GwPriority": n.gw_priority,
            "NetworkID": "",
            "EndpointID": "",
            "Gateway": "",
            "IPAddress": "",
            "IPPrefixLen": 0,
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "DNSNames": null,
        }))
    };
    let is_empty = |n: &NetworkAttachment, links: &[String]| {
        n.aliases.is_empty()
            && links.is_empty()
            && n.ipv4_address.is_empty()
            && n.ipv6_address.is_empty()
            && n.link_local_ips.is_empty()
            && n.mac_address.is_empty()
            && n.driver_opts.is_empty()
            && n.gw_priority == 0
    };
    let mut out = BTreeMap::new();
    if f.network.is_empty() {
        let mut n = NetworkAttachment {
            target: "default".to_string(),
            ..Default::default()
        };
        apply(&mut n)?;
        out.insert("default".to_string(), Some(endpoint(&n, &[])?));
        return Ok(out);
    }
    let (mut user, mut builtin) = (false, false);
    for (i, n) in f.network.iter().enumerate() {
        let mut n = n.clone();
        if user_defined(&n.target) {
            user = true;
        } else {
            builtin = true;
        }
        let mut links = Vec::new();
        if i == 0 {
            apply(&mut n)?;
            if user_defined(&n.target) {
                links = f.link.clone();
            }
        }
        let ep = endpoint(&n, &links)?;
        if out.contains_key(&n.target) {
            return Err(Invalid(format!("network {:?} is specified multiple times", n.target)));
        }
        if i == 0 && f.network.len() == 1 && is_empty(&n, &links) {
            continue;
        }
        out.insert(n.target.clone(), Some(ep));
    }
    if user && builtin {
        return Err(Invalid(
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes".to_string(),
        ));
    }
    Ok(out)
}

fn some_if_any<T: Clone>(v: &[T]) -> Option<Vec<T>> {
    (!v.is_empty()).then(|| v.to_vec())
}

/// Build the create request exactly as docker's CLI does.
pub fn build(f: &ContainerFlags, mode: Mode, src: &Sources<'_>) -> Result<ContainerCreateRequest, FlagError> {
    build_with(f, mode, src, &|p| std::fs::read_to_string(p).map_err(|e| e.to_string()))
}

/// [`build`] with the seccomp profile reader passed in.
pub fn build_with(
    f: &ContainerFlags,
    mode: Mode,
    src: &Sources<'_>,
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Result<ContainerCreateRequest, FlagError> {
    if let Some(mac) = &f.mac_address {
        if !opts::is_mac_address(mac) {
            return Err(Invalid(format!("{mac} is not a valid mac address")).into());
        }
    }
    let swappiness = f.memory_swappiness;
    if swappiness != -1 && !(0..=100).contains(&swappiness) {
        return Err(Invalid(format!(
            "invalid value: {swappiness}. Valid memory swappiness range is 0-100"
        ))
        .into());
    }
    let storage = super::mount_flags::build(&f.volume, &f.mount, &f.tmpfs)?;
    let entrypoint = f.entrypoint.as_ref().map(|e| vec![e.clone()]);
    let cmd = (!f.command().is_empty()).then(|| f.command().to_vec());
    let ports = opts::ports::parse(&f.publish, &f.expose)?;

    let mut devices = Vec::new();
    let mut cdi = Vec::new();
    for d in &f.device {
        if is_cdi_name(d) {
            cdi.push(d.clone());
        } else {
            devices.push(device(d)?);
        }
    }

    let mut env = Vec::new();
    for content in src.env_files {
        env.extend(kv_file(content, Some(src.lookup))?);
    }
    let mut flag_env = Vec::new();
    for e in &f.env {
        flag_env.push(env_entry(e, src.lookup)?);
    }
    env.extend(dedup_env(flag_env));
    let mut label_list = Vec::new();
    for content in src.label_files {
        label_list.extend(kv_file(content, None)?);
    }
    label_list.extend(f.label.iter().cloned());

    let pid = f.pid.clone().unwrap_or_default();
    if !(pid.is_empty() || pid == "host" || container_mode(&pid)) {
        return Err(Invalid("--pid: invalid PID mode".to_string()).into());
    }
    let uts = f.uts.clone().unwrap_or_default();
    if !(uts.is_empty() || uts == "host") {
        return Err(Invalid("--uts: invalid UTS mode".to_string()).into());
    }
    let userns = f.userns.clone().unwrap_or_default();
    if !(userns.is_empty() || userns == "host") {
        return Err(Invalid("--userns: invalid USER mode".to_string()).into());
    }
    let cgroupns = f.cgroupns.clone().unwrap_or_default();
    if !matches!(cgroupns.as_str(), "" | "host" | "private") {
        return Err(Invalid("--cgroupns: invalid CGROUP mode".to_string()).into());
    }
    let restart = restart_policy(&f.restart)?;
    let log_config = log_config(f.log_driver.as_deref(), &f.log_opt)?;
    let (security_opt, masked_paths, readonly_paths) = security_opts(&f.security_opt, read_file)?;
    let storage_opt = storage_opts(&f.storage_opt)?;
    let healthcheck = healthcheck(f)?;

    let mut device_requests: Vec<DeviceRequest> = f.gpus.clone();
    if !cdi.is_empty() {
        device_requests.push(DeviceRequest {
            driver: "cdi".to_string(),
            device_ids: Some(cdi),
            ..Default::default()
        });
    }
    // A later --ulimit for the same name replaces the earlier; sorted by name.
    let mut ulimits: BTreeMap<String, pier_api::container::Ulimit> = BTreeMap::new();
    for u in &f.ulimit {
        ulimits.insert(u.name.clone(), u.clone());
    }

    let (attach_stdin, attach_stdout, attach_stderr) = match mode {
        Mode::Run { detach: true } => (false, false, false),
        _ => {
            let has = |s: &str| f.attach.iter().any(|a| a == s);
            let none = f.attach.is_empty();
            (
                has("stdin") || f.interactive,
                has("stdout") || none,
                has("stderr") || none,
            )
        }
    };
    if mode == (Mode::Run { detach: true }) && !f.attach.is_empty() {
        return Err(Invalid("conflicting options: cannot specify both --attach and --detach".to_string()).into());
    }
    let network_mode = f
        .network
        .first()
        .map_or_else(|| "default".to_string(), |n| n.target.clone());

    let mut config = ContainerConfig {
        hostname: f.hostname.clone().unwrap_or_default(),
        domainname: f.domainname.clone().unwrap_or_default(),
        user: f.user.clone().unwrap_or_default(),
        attach_stdin,
        attach_stdout,
        attach_stderr,
        exposed_ports: Some(ports.exposed),
        tty: f.tty,
        open_stdin: f.interactive,
        stdin_once: f.interactive && attach_stdin,
        env: (!env.is_empty()).then_some(env),
        cmd,
        healthcheck,
        image: f.image().to_string(),
        volumes: Some(
            storage
                .volumes
                .iter()
                .map(|v| (v.clone(), serde_json::json!({})))
                .collect(),
        ),
        working_dir: f.workdir.clone().unwrap_or_default(),
        entrypoint,
        labels: Some(opts::kv_map(&label_list)),
        stop_signal: f.stop_signal.clone().unwrap_or_default(),
        stop_timeout: f.stop_timeout,
        ..Default::default()
    };
    let host_config = HostConfig {
        binds: some_if_any(&storage.binds),
        container_id_file: f.cidfile.clone().unwrap_or_default(),
        log_config,
        network_mode: network_mode.clone(),
        port_bindings: Some(ports.bindings),
        restart_policy: restart,
        auto_remove: f.rm,
        volume_driver: f.volume_driver.clone().unwrap_or_default(),
        volumes_from: some_if_any(&f.volumes_from),
        console_size: src.console_size.map_or([0, 0], |[h, w]| [u64::from(h), u64::from(w)]),
        annotations: Some(opts::kv_map(&f.annotation)),
        cap_add: some_if_any(&f.cap_add),
        cap_drop: some_if_any(&f.cap_drop),
        cgroupns_mode: cgroupns,
        dns: Some(f.dns.clone()),
        dns_options: Some(f.dns_option.clone()),
        dns_search: Some(f.dns_search.clone()),
        extra_hosts: some_if_any(&f.add_host),
        group_add: some_if_any(&f.group_add),
        ipc_mode: f.ipc.clone().unwrap_or_default(),
        links: some_if_any(&f.link),
        oom_score_adj: f.oom_score_adj.unwrap_or(0),
        pid_mode: pid,
        privileged: f.privileged,
        publish_all_ports: f.publish_all,
        readonly_rootfs: f.read_only,
        security_opt,
        storage_opt: Some(storage_opt),
        tmpfs: Some(storage.tmpfs),
        uts_mode: uts,
        userns_mode: userns,
        shm_size: f.shm_size.unwrap_or(0),
        sysctls: Some(opts::kv_map(&f.sysctl)),
        runtime: f.runtime.clone().unwrap_or_default(),
        isolation: f.isolation.clone().unwrap_or_default(),
        cpu_shares: f.cpu_shares.unwrap_or(0),
        memory: f.memory.unwrap_or(0),
        nano_cpus: f.cpus.unwrap_or(0),
        cgroup_parent: f.cgroup_parent.clone().unwrap_or_default(),
        blkio_weight: f.blkio_weight.unwrap_or(0),
        blkio_weight_device: Some(f.blkio_weight_device.clone()),
        blkio_device_read_bps: Some(f.device_read_bps.clone()),
        blkio_device_write_bps: Some(f.device_write_bps.clone()),
        blkio_device_read_iops: Some(f.device_read_iops.clone()),
        blkio_device_write_iops: Some(f.device_write_iops.clone()),
        cpu_period: f.cpu_period.unwrap_or(0),
        cpu_quota: f.cpu_quota.unwrap_or(0),
        cpu_realtime_period: f.cpu_rt_period.unwrap_or(0),
        cpu_realtime_runtime: f.cpu_rt_runtime.unwrap_or(0),
        cpuset_cpus: f.cpuset_cpus.clone().unwrap_or_default(),
        cpuset_mems: f.cpuset_mems.clone().unwrap_or_default(),
        devices: Some(devices),
        device_cgroup_rules: some_if_any(&f.device_cgroup_rule),
        device_requests: some_if_any(&device_requests),
        kernel_memory: f.kernel_memory.unwrap_or(0),
        memory_reservation: f.memory_reservation.unwrap_or(0),
        memory_swap: f.memory_swap.unwrap_or(0),
        memory_swappiness: Some(swappiness),
        oom_kill_disable: Some(f.oom_kill_disable),
        pids_limit: Some(f.pids_limit.unwrap_or(0)),
        ulimits: Some(ulimits.into_values().collect()),
        mounts: some_if_any(&storage.mounts),
        masked_paths,
        readonly_paths,
        init: f.init,
        ..Default::default()
    };
    if f.rm && !matches!(host_config.restart_policy.name.as_str(), "" | "no") {
        return Err(Invalid("conflicting options: cannot specify both --restart and --rm".to_string()).into());
    }
    let endpoints = endpoints(f)?;
    // docker copies the main network's MAC address into the (deprecated)
    // Config.MacAddress for daemons older than API 1.44.
    if let Some(Some(ep)) = endpoints.get(&network_mode) {
        config.mac_address = ep["MacAddress"].as_str().unwrap_or("").to_string();
    }
    Ok(ContainerCreateRequest {
        config,
        host_config: Some(host_config),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(endpoints),
        }),
    })
}

/// docker's `normalizeCap`: upper case with a `CAP_` prefix (`ALL` stays).
fn normalize_caps(caps: Option<Vec<String>>) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for c in caps? {
        let c = c.to_ascii_uppercase();
        let c = if c == "ALL" || c.starts_with("CAP_") {
            c
        } else {
            format!("CAP_{c}")
        };
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out.sort();
    (!out.is_empty()).then_some(out)
}

/// What docker's client library (`client.ContainerCreate`) changes for
/// the negotiated API version before sending: capabilities normalised,
/// `KernelMemory` dropped from 1.42, `Config.MacAddress` dropped from 1.44,
/// `AutoRemove` dropped below 1.25.
pub fn for_api_version(mut req: ContainerCreateRequest, version: ApiVersion) -> ContainerCreateRequest {
    let v = |minor| ApiVersion { major: 1, minor };
    if let Some(hc) = req.host_config.as_mut() {
        if version < v(25) {
            hc.auto_remove = false;
        }
        if version >= v(42) || version < v(40) {
            hc.kernel_memory = 0;
        }
        hc.cap_add = normalize_caps(hc.cap_add.take());
        hc.cap_drop = normalize_caps(hc.cap_drop.take());
    }
    if version >= v(44) {
        req.config.mac_address.clear();
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(k: &str) -> Option<String> {
        (k == "HOME").then(|| "/root".to_string())
    }

    fn flags(args: &[&str]) -> ContainerFlags {
        let argv = ["pier", "create"].iter().chain(args).copied();
        let cli = crate::cli::usage::parse(argv).expect("parse");
        match cli.command {
            Some(crate::cli::Command::Create(c)) => c.0.flags,
            _ => panic!("not create"),
        }
    }

    #[test]
    fn env_entries() {
        assert_eq!(env_entry("A=1=2", &lookup), Ok("A=1=2".to_string()));
        assert_eq!(env_entry("HOME", &lookup), Ok("HOME=/root".to_string()));
        assert_eq!(env_entry("NOPE", &lookup), Ok("NOPE".to_string()));
        assert!(env_entry("=x", &lookup).is_err());
        assert_eq!(
            file_entries("# c\n\n  A=1 2\nB\n").expect("file"),
            vec!["A=1 2".to_string(), "B".to_string()]
        );
        assert!(file_entries("A B=1").is_err());
    }

    #[test]
    fn detached_request() {
        let f = flags(&[
            "--name", "web", "-e", "A=1", "-e", "HOME", "-l", "k=v", "-l", "flag", "-w", "/tmp", "-u", "1000", "--rm",
            "-i", "busybox", "sh", "-c", "echo hi",
        ]);
        let src = Sources {
            env_files: &["X=1".to_string()],
            label_files: &[],
            lookup: &lookup,
            console_size: Some([24, 80]),
        };
        let req = build(&f, Mode::Run { detach: true }, &src).expect("build");
        let c = &req.config;
        assert_eq!(c.image, "busybox");
        assert_eq!(
            c.cmd.as_deref(),
            Some(&["sh".to_string(), "-c".to_string(), "echo hi".to_string()][..])
        );
        assert_eq!(
            c.env.as_deref(),
            Some(&["X=1".to_string(), "A=1".to_string(), "HOME=/root".to_string()][..])
        );
        let labels = c.labels.as_ref().expect("labels");
        assert_eq!(labels.get("flag").map(String::as_str), Some(""));
        assert_eq!(c.working_dir, "/tmp");
        assert_eq!(c.user, "1000");
        assert!(c.open_stdin && !c.attach_stdin && !c.stdin_once && !c.attach_stdout);
        let hc = req.host_config.as_ref().expect("host config");
        assert!(hc.auto_remove);
        // docker sends the terminal's size whether or not -t is given.
        assert_eq!(hc.console_size, [24, 80]);
        assert_eq!(c.entrypoint, None);
    }

    #[test]
    fn foreground_tty_request() {
        let f = flags(&["-it", "--entrypoint", "", "busybox"]);
        let src = Sources {
            env_files: &[],
            label_files: &[],
            lookup: &lookup,
            console_size: Some([24, 80]),
        };
        let req = build(&f, Mode::Run { detach: false }, &src).expect("build");
        let c = &req.config;
        assert!(c.tty && c.attach_stdin && c.stdin_once && c.attach_stdout && c.attach_stderr);
        assert_eq!(c.cmd, None);
        assert_eq!(c.entrypoint, Some(vec![String::new()]));
        assert_eq!(req.host_config.expect("hc").console_size, [24, 80]);
        // The JSON the daemon gets carries docker's field names.
        let json = serde_json::to_value(build(&f, Mode::Run { detach: false }, &src).expect("build")).expect("json");
        assert_eq!(json["Image"], "busybox");
        assert_eq!(json["HostConfig"]["ConsoleSize"], serde_json::json!([24, 80]));
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// The bodies docker CLI 28.2 sent for `docker create FLAGS busybox
    /// true` (captured from a fake daemon at API 1.50, stdout not a tty):
    /// pier sends the same JSON for the same flags.
    #[test]
    fn same_body_as_docker_cli() {
        let fixtures = include_str!("fixtures/docker-create.txt");
        let lines: Vec<&str> = fixtures.lines().collect();
        assert_eq!(lines.len() % 3, 0, "fixture: name, flags, body per case");
        for case in lines.chunks(3) {
            let (name, args, body) = (case[0], case[1], case[2]);
            // `_` stands for a space inside one argument.
            let mut argv: Vec<String> = args.split_whitespace().map(|a| a.replace('_', " ")).collect();
            argv.extend(["busybox".to_string(), "true".to_string()]);
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let src = Sources {
                env_files: &[],
                label_files: &[],
                lookup: &no_env,
                console_size: None,
            };
            let req = build(&flags(&argv), Mode::Create, &src).unwrap_or_else(|e| panic!("{name}: {e}"));
            let req = for_api_version(req, ApiVersion { major: 1, minor: 50 });
            let ours = serde_json::to_value(&req).expect("json");
            let docker: serde_json::Value = serde_json::from_str(body).expect("fixture json");
            assert_eq!(ours, docker, "{name}: {args}");
        }
    }

    #[test]
    fn docker_refusals_after_flag_parsing() {
        let src = Sources {
            env_files: &[],
            label_files: &[],
            lookup: &no_env,
            console_size: None,
        };
        let refused = |args: &[&str]| {
            let mut argv = args.to_vec();
            argv.push("busybox");
            build(&flags(&argv), Mode::Create, &src)
                .expect_err("refused")
                .to_string()
        };
        assert_eq!(
            refused(&["--memory-swappiness", "200"]),
            "invalid value: 200. Valid memory swappiness range is 0-100"
        );
        assert_eq!(
            refused(&["--rm", "--restart", "always"]),
            "conflicting options: cannot specify both --restart and --rm"
        );
        assert_eq!(refused(&["--pid", "bogus"]), "--pid: invalid PID mode");
        assert_eq!(refused(&["-p", "x"]), "invalid containerPort: x");
        assert_eq!(
            refused(&["--restart", ":3"]),
            "invalid restart policy format: no policy provided before colon"
        );
        assert_eq!(
            refused(&["--no-healthcheck", "--health-cmd", "x"]),
            "--no-healthcheck conflicts with --health-* options"
        );
        assert_eq!(
            refused(&["--health-interval", "-1s"]),
            "--health-interval cannot be negative"
        );
        assert_eq!(refused(&["--security-opt", "x"]), "Invalid --security-opt: \"x\"");
        assert_eq!(refused(&["--device", "rel"]), "rel is not an absolute path");
        assert_eq!(refused(&["--mac-address", "x"]), "x is not a valid mac address");
        assert_eq!(
            refused(&["--log-driver", "none", "--log-opt", "a=b"]),
            "invalid logging opts for driver none"
        );
        assert_eq!(
            refused(&["--network", "none", "--network-alias", "x"]),
            "network-scoped aliases are only supported for user-defined networks"
        );
        let detached = build(&flags(&["-a", "stdin", "busybox"]), Mode::Run { detach: true }, &src);
        assert!(detached.is_err());
    }

    #[test]
    fn seccomp_profile_files_are_sent_compacted_as_docker_does() {
        let profile = "{\n  \"syscalls\": [ {\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\"} ],\n\t\"defaultAction\" : \"SCMP_ACT_ALLOW\", \"comment\": \"a \\\" b \"\n}\n";
        let read = |path: &str| match path {
            "/p.json" => Ok(profile.to_string()),
            "/bad.json" => Ok("{nope".to_string()),
            _ => Err("open /missing.json: no such file or directory".to_string()),
        };
        let opts = |raw: &[&str]| {
            let raw: Vec<String> = raw.iter().map(|s| s.to_string()).collect();
            security_opts(&raw, &read).map(|(o, _, _)| o)
        };
        // Keys keep their order and strings their spaces, as Go's json.Compact.
        assert_eq!(
            opts(&["seccomp=/p.json", "seccomp:/p.json", "seccomp=unconfined", "no-new-privileges"]).ok(),
            Some(Some(vec![
                "seccomp={\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\"}],\"defaultAction\":\"SCMP_ACT_ALLOW\",\"comment\":\"a \\\" b \"}".to_string();
                2
            ]
            .into_iter()
            .chain(["seccomp=unconfined".to_string(), "no-new-privileges".to_string()])
            .collect()))
        );
        let err = |raw: &[&str]| opts(raw).map(|_| ()).expect_err("refused").0;
        assert!(err(&["seccomp=/bad.json"]).starts_with("compacting json for seccomp profile (/bad.json) failed: "));
        assert_eq!(
            err(&["seccomp=/missing.json"]),
            "opening seccomp profile (/missing.json) failed: open /missing.json: no such file or directory"
        );
    }
}
