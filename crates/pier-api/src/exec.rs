//! Exec endpoints: `POST /containers/{id}/exec`, `POST /exec/{id}/start`,
//! `GET /exec/{id}/json`.

use serde::{Deserialize, Serialize};

/// Body of `POST /containers/{id}/exec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecCreateRequest {
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    /// `[height, width]`.
    pub console_size: Option<[u32; 2]>,
    pub detach_keys: Option<String>,
    pub tty: bool,
    pub env: Option<Vec<String>>,
    #[serde(deserialize_with = "crate::string_or_vec::deserialize")]
    pub cmd: Option<Vec<String>>,
    pub privileged: bool,
    pub user: Option<String>,
    pub working_dir: Option<String>,
}

/// Body of `POST /exec/{id}/start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecStartRequest {
    pub detach: bool,
    pub tty: bool,
    /// `[height, width]`.
    pub console_size: Option<[u32; 2]>,
}

/// `ProcessConfig` of exec inspect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExecProcessConfig {
    pub arguments: Vec<String>,
    pub entrypoint: String,
    pub privileged: bool,
    pub tty: bool,
    pub user: String,
}

/// Reply of `GET /exec/{id}/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecInspect {
    #[serde(rename = "ID")]
    pub id: String,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub process_config: ExecProcessConfig,
    pub open_stdin: bool,
    pub open_stderr: bool,
    pub open_stdout: bool,
    pub can_remove: bool,
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    pub detach_keys: String,
    pub pid: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_cli_exec_create() {
        let r: ExecCreateRequest = serde_json::from_str(
            r#"{"User":"nobody","Privileged":false,"Tty":true,"ConsoleSize":[24,80],"AttachStdin":true,
                "AttachStderr":true,"AttachStdout":true,"Detach":false,"DetachKeys":"","Env":["A=1"],
                "WorkingDir":"/tmp","Cmd":["sh"]}"#,
        )
        .expect("parse");
        assert_eq!(r.cmd.as_deref(), Some(&["sh".to_string()][..]));
        assert_eq!(r.console_size, Some([24, 80]));
        assert!(r.tty && r.attach_stdin);
        let i = ExecInspect {
            id: "x".into(),
            container_id: "c".into(),
            ..Default::default()
        };
        let v = serde_json::to_value(&i).expect("json");
        assert_eq!(v["ID"], "x");
        assert_eq!(v["ContainerID"], "c");
        assert!(v["ProcessConfig"]["entrypoint"].is_string());
    }
}
