//! `/_ping`, `/version`, `/info`.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Extension;
use axum::Json;
use std::path::Path;

use pier_api::system::{Commit, Component, Platform, PluginsInfo, SwarmInfo, SystemInfo, SystemVersion};
use pier_api::version::{ApiVersion, API_VERSION, MIN_API_VERSION};

use super::error::ApiResult;
use super::AppState;
use crate::daemon::Daemon;
use crate::record::Status;
use crate::sysinfo::{self, SysInfo};

pub async fn ping() -> impl IntoResponse {
    (
        [
            (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
            (header::PRAGMA, "no-cache"),
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::HeaderName::from_static("swarm"), super::swarm::LOCAL_NODE_STATE),
        ],
        "OK",
    )
}

/// GOARCH naming of the host architecture.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub async fn version() -> Json<SystemVersion> {
    let version = env!("CARGO_PKG_VERSION").to_string();
    let details = serde_json::json!({
        "ApiVersion": API_VERSION.to_string(),
        "MinAPIVersion": MIN_API_VERSION.to_string(),
        "Os": "linux",
        "Arch": go_arch(),
        "KernelVersion": kernel_version(),
        "Experimental": "false",
        "GitCommit": "",
        "GoVersion": "",
        "BuildTime": "",
    });
    Json(SystemVersion {
        platform: Platform {
            name: "Pier".to_string(),
        },
        components: vec![Component {
            name: "Engine".to_string(),
            version: version.clone(),
            details: Some(details),
        }],
        version,
        api_version: API_VERSION.to_string(),
        min_api_version: MIN_API_VERSION.to_string(),
        git_commit: String::new(),
        go_version: String::new(),
        os: "linux".to_string(),
        arch: go_arch().to_string(),
        kernel_version: kernel_version(),
        build_time: String::new(),
    })
}

fn mem_total() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
            })
        })
        .map_or(0, |kb| kb * 1024)
}

/// dockerd's `fillSecurityOptions` for what Pier enforces: AppArmor when the
/// host has it, the default seccomp profile, and cgroup namespaces when
/// they are the default (cgroup v2).
fn security_options(apparmor: bool, cgroup_v2: bool) -> Vec<String> {
    let mut opts = Vec::new();
    if apparmor {
        opts.push("name=apparmor".to_string());
    }
    opts.push("name=seccomp,profile=builtin".to_string());
    if cgroup_v2 {
        opts.push("name=cgroupns".to_string());
    }
    opts
}

/// Why containers get no network, in docker's `WARNING:` style.
fn network_warnings(d: &crate::daemon::Daemon) -> Vec<String> {
    match d.networks.unavailable() {
        Some(why) => vec![format!(
            "WARNING: container networking is unavailable: {why}; containers get a loopback interface only"
        )],
        None => Vec::new(),
    }
}

/// What `/info` learns from the host, off the async threads (files under
/// /proc and /sys, and the runtime's and init's `--version`).
struct HostFacts {
    sys: SysInfo,
    os: (String, String),
    containerized: bool,
    runc_commit: String,
    init_binary: String,
    init_commit: String,
    backing_fs: String,
    fds: i64,
    threads: i64,
}

fn host_facts(cfg: &crate::config::DaemonConfig) -> HostFacts {
    let sys = sysinfo::probe(
        Path::new("/sys/fs/cgroup"),
        Path::new("/proc/sys/net/ipv4/ip_forward"),
        cfg.host_support.swap_limit,
    );
    let os = sysinfo::os_release(&std::fs::read_to_string("/etc/os-release").unwrap_or_default());
    let containerized = sysinfo::containerized(&std::fs::read_to_string("/proc/1/cgroup").unwrap_or_default());
    // dockerd's default when a tool's version cannot be read.
    let na = || "N/A".to_string();
    let runc_commit = sysinfo::version_output(&cfg.runtime)
        .and_then(|o| sysinfo::runtime_commit(&o))
        .unwrap_or_else(na);
    let path_var = std::env::var("PATH").ok();
    let init = cfg.find_init(path_var.as_deref()).ok();
    let init_binary = init
        .as_ref()
        .map_or_else(|| crate::config::DEFAULT_INIT.to_string(), |p| p.display().to_string());
    let init_commit = init
        .and_then(|p| sysinfo::version_output(&p))
        .and_then(|o| sysinfo::init_commit(&o))
        .unwrap_or_else(na);
    let (fds, threads) = sysinfo::fds_and_threads();
    HostFacts {
        sys,
        os,
        containerized,
        runc_commit,
        init_binary,
        init_commit,
        backing_fs: sysinfo::backing_filesystem(&cfg.data_root),
        fds,
        threads,
    }
}

/// `RegistryConfig` as dockerd's registry service shows it: loopback is
/// always plain HTTP (its default insecure CIDRs, which Pier applies too),
/// plus the configured insecure registries; no mirrors.
fn registry_config(insecure: &[String]) -> serde_json::Value {
    let mut index = serde_json::Map::new();
    for r in insecure {
        index.insert(
            r.clone(),
            serde_json::json!({"Name": r, "Mirrors": [], "Secure": false, "Official": false}),
        );
    }
    index.insert(
        "docker.io".to_string(),
        serde_json::json!({"Name": "docker.io", "Mirrors": [], "Secure": true, "Official": true}),
    );
    serde_json::json!({
        "InsecureRegistryCIDRs": ["::1/128", "127.0.0.0/8"],
        "IndexConfigs": index,
        "Mirrors": [],
    })
}

/// dockerd's `getInfo` conversions for older clients: fields a version
/// did not have yet, or had and lost.
fn for_version(info: &mut SystemInfo, version: ApiVersion) {
    let below = |minor: u32| version < ApiVersion { major: 1, minor };
    if below(25) {
        // Names only (`DecodeSecurityOptions`).
        for o in &mut info.security_options {
            let name = o
                .split(',')
                .find_map(|kv| kv.strip_prefix("name="))
                .unwrap_or_default()
                .to_string();
            *o = name;
        }
    }
    if below(47) {
        if let Some(serde_json::Value::Object(r)) = &mut info.registry_config {
            r.insert("AllowNondistributableArtifactsCIDRs".into(), serde_json::Value::Null);
            r.insert(
                "AllowNondistributableArtifactsHostnames".into(),
                serde_json::Value::Null,
            );
        }
    }
    if below(49) {
        for c in [
            &mut info.containerd_commit,
            &mut info.runc_commit,
            &mut info.init_commit,
        ] {
            c.expected = Some(c.id.clone());
        }
    }
    if !below(42) {
        info.kernel_memory = false;
    }
    if below(50) {
        info.bridge_nf_iptables = Some(false);
        info.bridge_nf_ip6tables = Some(false);
    }
}

pub async fn info(State(d): State<AppState>, Extension(version): Extension<ApiVersion>) -> ApiResult<Json<SystemInfo>> {
    let recs: Vec<_> = d.containers().iter().map(|c| c.record()).collect();
    let paused = recs.iter().filter(|r| r.state.is_paused()).count() as i64;
    let running = recs.iter().filter(|r| r.state.status == Status::Running).count() as i64 - paused;
    let images = d.list_images().await.map_or(0, |l| l.len()) as i64;
    let facts = {
        let d = d.clone();
        Daemon::blocking("probe host", move || Ok(host_facts(&d.cfg))).await?
    };
    let cgroup_v2 = d.cfg.cgroup_v2;
    let runtime = d.cfg.runtime.display().to_string();
    let runtime_name = d.cfg.runtime_name().to_string();
    let mut runtimes = serde_json::Map::new();
    for (name, path) in &d.cfg.runtimes {
        runtimes.insert(name.clone(), serde_json::json!({ "path": path.display().to_string() }));
    }
    runtimes.insert(runtime_name.clone(), serde_json::json!({ "path": runtime }));
    let sys = &facts.sys;
    let mut warnings = sysinfo::warnings(sys);
    warnings.extend(network_warnings(&d));
    let live = d.live_config();
    let (os_name, os_version) = facts.os.clone();
    let operating_system = if facts.containerized {
        format!("{os_name} (containerized)")
    } else {
        os_name
    };
    let mut info = SystemInfo {
        id: std::fs::read_to_string("/etc/machine-id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        containers: recs.len() as i64,
        containers_running: running,
        containers_paused: paused,
        containers_stopped: recs.len() as i64 - running - paused,
        images,
        driver: "overlay2".to_string(),
        driver_status: vec![["Backing Filesystem".to_string(), facts.backing_fs.clone()]],
        plugins: PluginsInfo {
            volume: vec!["local".to_string()],
            network: vec!["host".to_string(), "null".to_string()],
            authorization: None,
            log: vec!["cri".to_string(), "json-file".to_string()],
        },
        memory_limit: sys.memory_limit,
        swap_limit: sys.swap_limit,
        kernel_memory: sys.kernel_memory,
        kernel_memory_tcp: sys.kernel_memory_tcp,
        cpu_cfs_period: sys.cpu_cfs,
        cpu_cfs_quota: sys.cpu_cfs,
        cpu_shares: sys.cpu_shares,
        cpu_set: sys.cpuset,
        pids_limit: sys.pids_limit,
        ipv4_forwarding: sys.ipv4_forwarding,
        debug: live.debug
            || tracing::level_filters::LevelFilter::current() >= tracing::level_filters::LevelFilter::DEBUG,
        n_fd: facts.fds,
        oom_kill_disable: sys.oom_kill_disable,
        n_goroutines: facts.threads,
        system_time: pier_time::format_nano(pier_time::now_nanos()),
        logging_driver: d.cfg.log_driver.clone(),
        cgroup_driver: "cgroupfs".to_string(),
        cgroup_version: if cgroup_v2 { "2" } else { "1" }.to_string(),
        n_events_listener: i64::try_from(d.events.listeners()).unwrap_or(i64::MAX),
        kernel_version: kernel_version(),
        operating_system,
        os_version,
        os_type: "linux".to_string(),
        architecture: std::env::consts::ARCH.to_string(),
        index_server_address: "https://index.docker.io/v1/".to_string(),
        registry_config: Some(registry_config(&live.insecure_registries)),
        ncpu: i64::try_from(d.cfg.ncpu).unwrap_or(i64::MAX),
        mem_total: mem_total(),
        generic_resources: None,
        docker_root_dir: d.cfg.data_root.display().to_string(),
        // Pier's registry client does not use proxies (ureq without
        // `proxy-from-env`), so none is reported.
        http_proxy: String::new(),
        https_proxy: String::new(),
        no_proxy: String::new(),
        name: nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
        labels: live.labels,
        experimental_build: false,
        server_version: env!("CARGO_PKG_VERSION").to_string(),
        runtimes: serde_json::Value::Object(runtimes),
        default_runtime: runtime_name,
        swarm: SwarmInfo {
            local_node_state: super::swarm::LOCAL_NODE_STATE.to_string(),
            ..Default::default()
        },
        // Containers always outlive pierd (their shims hold them), which is
        // what docker's live restore means; daemon.json `live-restore`
        // changes nothing (README).
        live_restore_enabled: true,
        isolation: String::new(),
        init_binary: facts.init_binary,
        containerd_commit: Commit {
            id: "N/A".to_string(),
            expected: None,
        },
        runc_commit: Commit {
            id: facts.runc_commit,
            expected: None,
        },
        init_commit: Commit {
            id: facts.init_commit,
            expected: None,
        },
        security_options: security_options(d.cfg.apparmor, cgroup_v2),
        product_license: String::new(),
        cdi_spec_dirs: Vec::new(),
        warnings,
        bridge_nf_iptables: None,
        bridge_nf_ip6tables: None,
    };
    for_version(&mut info, version);
    Ok(Json(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(minor: u32) -> ApiVersion {
        ApiVersion { major: 1, minor }
    }

    fn sample() -> SystemInfo {
        SystemInfo {
            kernel_memory: true,
            security_options: vec!["name=seccomp,profile=builtin".into(), "name=cgroupns".into()],
            registry_config: Some(registry_config(&[])),
            runc_commit: Commit {
                id: "v1.1.12".into(),
                expected: None,
            },
            ..Default::default()
        }
    }

    #[test]
    fn current_clients_get_the_1_50_shape() {
        let mut i = sample();
        for_version(&mut i, API_VERSION);
        let j = serde_json::to_value(&i).expect("json");
        assert!(j.get("KernelMemory").is_none(), "gone since 1.42");
        assert!(j.get("BridgeNfIptables").is_none());
        assert!(j["RuncCommit"].get("Expected").is_none());
        assert!(j["RegistryConfig"].get("AllowNondistributableArtifactsCIDRs").is_none());
        assert_eq!(j["SecurityOptions"][0], "name=seccomp,profile=builtin");
        assert_eq!(j["Swarm"]["LocalNodeState"], "");
    }

    #[test]
    fn older_clients_get_what_dockerd_gave_them() {
        let mut i = sample();
        for_version(&mut i, v(41));
        let j = serde_json::to_value(&i).expect("json");
        assert_eq!(j["KernelMemory"], true);
        assert_eq!(j["BridgeNfIptables"], false);
        assert_eq!(j["BridgeNfIp6tables"], false);
        assert_eq!(j["RuncCommit"]["Expected"], "v1.1.12");
        assert!(j["RegistryConfig"]["AllowNondistributableArtifactsHostnames"].is_null());
        assert!(j["RegistryConfig"]
            .as_object()
            .expect("object")
            .contains_key("AllowNondistributableArtifactsCIDRs"));
        let mut i = sample();
        for_version(&mut i, v(24));
        assert_eq!(i.security_options, ["seccomp", "cgroupns"]);
    }
}
