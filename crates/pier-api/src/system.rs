//! `/version` and `/info`.

use serde::{Deserialize, Serialize};

/// `GET /version`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SystemVersion {
    pub platform: Platform,
    pub components: Vec<Component>,
    pub version: String,
    pub api_version: String,
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
    pub git_commit: String,
    pub go_version: String,
    pub os: String,
    pub arch: String,
    pub kernel_version: String,
    pub build_time: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Platform {
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Component {
    pub name: String,
    pub version: String,
    pub details: Option<serde_json::Value>,
}

/// `GET /info` (the subset Pier fills; clients tolerate missing fields).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SystemInfo {
    #[serde(rename = "ID")]
    pub id: String,
    pub containers: i64,
    pub containers_running: i64,
    pub containers_paused: i64,
    pub containers_stopped: i64,
    pub images: i64,
    pub driver: String,
    pub logging_driver: String,
    pub cgroup_driver: String,
    pub cgroup_version: String,
    pub kernel_version: String,
    pub operating_system: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    pub architecture: String,
    #[serde(rename = "NCPU")]
    pub ncpu: i64,
    pub mem_total: i64,
    pub docker_root_dir: String,
    pub name: String,
    pub server_version: String,
    pub default_runtime: String,
    pub runtimes: serde_json::Value,
    pub security_options: Vec<String>,
    pub warnings: Vec<String>,
    /// Clients following `GET /events` now.
    #[serde(rename = "NEventsListener")]
    pub n_events_listener: i64,
}

/// `GET /system/df` (API 1.42+ shape; `BuildCache` is always empty here).
/// A kind left out by `type=` is `null`, as dockerd writes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DiskUsage {
    /// Bytes of every stored layer, each counted once.
    pub layers_size: i64,
    /// With `SharedSize` and `Containers` filled in.
    pub images: Option<Vec<crate::image::ImageSummary>>,
    /// With `SizeRw` and `SizeRootFs` filled in.
    pub containers: Option<Vec<crate::container::ContainerSummary>>,
    /// With `UsageData` filled in.
    pub volumes: Option<Vec<crate::volume::Volume>>,
    pub build_cache: Option<Vec<serde_json::Value>>,
}
