//! Container types: the create request, inspect and list responses.
//!
//! Field names follow the Engine API exactly (PascalCase). Unknown request
//! fields are ignored, as dockerd ignores them; a field of the wrong JSON type
//! is an error (400 at the HTTP edge).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `Config` of a container: what to run. Used in the create request body
/// (flattened together with `HostConfig`) and in inspect output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub user: Option<String>,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    #[serde(deserialize_with = "crate::string_or_vec::deserialize")]
    pub cmd: Option<Vec<String>>,
    pub image: Option<String>,
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    pub working_dir: Option<String>,
    #[serde(deserialize_with = "crate::string_or_vec::deserialize")]
    pub entrypoint: Option<Vec<String>>,
    pub network_disabled: Option<bool>,
    pub labels: Option<BTreeMap<String, String>>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
}

/// `HostConfig.LogConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: Option<BTreeMap<String, String>>,
}

/// `HostConfig.RestartPolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: i64,
}

/// `HostConfig`: how to run it. Only fields Pier acts on or reports are
/// listed; the rest are accepted and ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    pub log_config: Option<LogConfig>,
    pub network_mode: Option<String>,
    pub restart_policy: Option<RestartPolicy>,
    pub auto_remove: bool,
    pub volumes_from: Option<Vec<String>>,
    /// `[height, width]`.
    pub console_size: Option<[u32; 2]>,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub dns: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub extra_hosts: Option<Vec<String>>,
    pub privileged: bool,
    pub readonly_rootfs: bool,
    pub init: Option<bool>,
    pub tmpfs: Option<BTreeMap<String, String>>,
    pub mounts: Option<Vec<crate::volume::Mount>>,
    pub shm_size: Option<i64>,
    pub memory: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub pids_limit: Option<i64>,
    pub runtime: Option<String>,
}

/// Body of `POST /containers/create`: `Config` fields at the top level plus
/// `HostConfig` and `NetworkingConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerCreateRequest {
    #[serde(flatten)]
    pub config: ContainerConfig,
    pub host_config: Option<HostConfig>,
    pub networking_config: Option<serde_json::Value>,
}

/// `201` reply of `POST /containers/create` (and of exec create).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdResponse {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

/// `ContainerState` in inspect output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerState {
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited`, `dead`.
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    /// RFC 3339 with nanoseconds; `0001-01-01T00:00:00Z` when never.
    pub started_at: String,
    pub finished_at: String,
}

/// `GET /containers/{id}/json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerInspect {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: ContainerState,
    pub image: String,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    pub name: String,
    pub restart_count: i64,
    pub driver: String,
    pub platform: String,
    pub mount_label: String,
    pub process_label: String,
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    pub host_config: HostConfig,
    pub graph_driver: GraphDriver,
    pub mounts: Vec<serde_json::Value>,
    pub config: ContainerConfig,
    pub network_settings: serde_json::Value,
}

/// `GraphDriver` in inspect output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GraphDriver {
    pub name: String,
    pub data: BTreeMap<String, String>,
}

/// One entry of `GET /containers/json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerSummary {
    pub id: String,
    pub names: Vec<String>,
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    pub command: String,
    /// Unix seconds.
    pub created: i64,
    pub ports: Vec<serde_json::Value>,
    pub labels: BTreeMap<String, String>,
    pub state: String,
    /// Human text: `Up 3 seconds`, `Exited (0) 2 minutes ago`, `Created`.
    pub status: String,
    pub host_config: serde_json::Value,
    pub network_settings: serde_json::Value,
    pub mounts: Vec<serde_json::Value>,
}

/// `200` reply of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitResponse {
    pub status_code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WaitError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitError {
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_from_docker_cli_shape() {
        let body = r#"{"Hostname":"","User":"","AttachStdin":false,"Tty":false,
            "OpenStdin":false,"Env":null,"Cmd":["sleep","10"],"Image":"busybox",
            "Volumes":{},"WorkingDir":"","Entrypoint":null,"Labels":{"a":"b"},
            "HostConfig":{"Binds":null,"LogConfig":{"Type":"","Config":{}},
            "AutoRemove":true,"ConsoleSize":[24,80],"Unknown":1},
            "NetworkingConfig":{"EndpointsConfig":{}}}"#;
        let req: ContainerCreateRequest = serde_json::from_str(body).expect("parse");
        assert_eq!(req.config.cmd, Some(vec!["sleep".to_string(), "10".to_string()]));
        assert_eq!(req.config.image.as_deref(), Some("busybox"));
        let hc = req.host_config.expect("host config");
        assert!(hc.auto_remove);
        assert_eq!(hc.console_size, Some([24, 80]));
    }

    #[test]
    fn cmd_as_string_and_wrong_types() {
        let req: ContainerCreateRequest = serde_json::from_str(r#"{"Image":"x","Cmd":"echo hi"}"#).expect("parse");
        assert_eq!(req.config.cmd, Some(vec!["echo hi".to_string()]));
        assert!(serde_json::from_str::<ContainerCreateRequest>(r#"{"Image":5}"#).is_err());
        assert!(serde_json::from_str::<ContainerCreateRequest>(r#"{"Env":"x"}"#).is_err());
    }
}
