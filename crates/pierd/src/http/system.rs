//! `/_ping`, `/version`, `/info`.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use pier_api::system::{Component, Platform, SystemInfo, SystemVersion};
use pier_api::version::{API_VERSION, MIN_API_VERSION};

use super::AppState;
use crate::record::Status;

pub async fn ping() -> impl IntoResponse {
    (
        [
            (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
            (header::PRAGMA, "no-cache"),
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
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

fn os_pretty_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".to_string())
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

pub async fn info(State(d): State<AppState>) -> Json<SystemInfo> {
    let recs: Vec<_> = d.containers().iter().map(|c| c.record()).collect();
    let paused = recs.iter().filter(|r| r.state.is_paused()).count() as i64;
    let running = recs.iter().filter(|r| r.state.status == Status::Running).count() as i64 - paused;
    let images = d.list_images().await.map_or(0, |l| l.len()) as i64;
    let cgroup_v2 = d.cfg.cgroup_v2;
    let runtime = d.cfg.runtime.display().to_string();
    let runtime_name = d
        .cfg
        .runtime
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| runtime.clone());
    Json(SystemInfo {
        id: std::fs::read_to_string("/etc/machine-id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        containers: recs.len() as i64,
        containers_running: running,
        containers_paused: paused,
        containers_stopped: recs.len() as i64 - running - paused,
        images,
        driver: "overlay2".to_string(),
        logging_driver: d.cfg.log_driver.clone(),
        cgroup_driver: "cgroupfs".to_string(),
        cgroup_version: if cgroup_v2 { "2" } else { "1" }.to_string(),
        kernel_version: kernel_version(),
        operating_system: os_pretty_name(),
        os_type: "linux".to_string(),
        architecture: std::env::consts::ARCH.to_string(),
        ncpu: i64::try_from(d.cfg.ncpu).unwrap_or(i64::MAX),
        mem_total: mem_total(),
        docker_root_dir: d.cfg.data_root.display().to_string(),
        name: nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
        server_version: env!("CARGO_PKG_VERSION").to_string(),
        default_runtime: runtime_name.clone(),
        runtimes: serde_json::json!({ runtime_name: { "path": runtime } }),
        security_options: security_options(d.cfg.apparmor, cgroup_v2),
        warnings: Vec::new(),
        n_events_listener: i64::try_from(d.events.listeners()).unwrap_or(i64::MAX),
    })
}
