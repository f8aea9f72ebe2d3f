//! One plugin call (CNI spec, "Execution protocol"): the environment
//! (`CNI_COMMAND`, `CNI_CONTAINERID`, `CNI_NETNS`, `CNI_IFNAME`,
//! `CNI_ARGS`, `CNI_PATH`) and the configuration on stdin; the result (or
//! the error document) on stdout. Building the call is pure; `run` spawns.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// `CNI_COMMAND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Add,
    Del,
    Check,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Add => "ADD",
            Verb::Del => "DEL",
            Verb::Check => "CHECK",
        }
    }
}

/// What every plugin of one attachment is called with besides its verb.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Runtime {
    pub container_id: String,
    pub netns: PathBuf,
    pub ifname: String,
    /// `CNI_ARGS` pairs, in order (`IgnoreUnknown=1` first, then the
    /// `K8S_POD_*` ones).
    pub args: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("failed to find plugin {plugin:?} in path {path:?}")]
    NotFound { plugin: String, path: Vec<PathBuf> },
    #[error("run plugin {binary}: {source}")]
    Spawn { binary: PathBuf, source: std::io::Error },
    /// The plugin's error document (`msg`, `details`), or its output.
    #[error("plugin type={plugin:?} failed ({verb}): {message}")]
    Failed {
        plugin: String,
        verb: &'static str,
        message: String,
    },
}

/// The environment of one call: `CNI_*` over the caller's `PATH` (plugins
/// such as portmap run iptables).
pub fn env(verb: Verb, rt: &Runtime, bin_dirs: &[PathBuf]) -> Vec<(String, String)> {
    let args = rt
        .args
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";");
    let path = bin_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    vec![
        ("CNI_COMMAND".to_string(), verb.as_str().to_string()),
        ("CNI_CONTAINERID".to_string(), rt.container_id.clone()),
        ("CNI_NETNS".to_string(), rt.netns.display().to_string()),
        ("CNI_IFNAME".to_string(), rt.ifname.clone()),
        ("CNI_ARGS".to_string(), args),
        ("CNI_PATH".to_string(), path),
    ]
}

/// The binary of plugin `plugin` (a bare name) in the first of `dirs` that
/// has it.
pub fn find(plugin: &str, dirs: &[PathBuf]) -> Result<PathBuf, PluginError> {
    let not_found = || PluginError::NotFound {
        plugin: plugin.to_string(),
        path: dirs.to_vec(),
    };
    if plugin.is_empty() || plugin.contains('/') || plugin == "." || plugin == ".." {
        return Err(not_found());
    }
    dirs.iter()
        .map(|d| d.join(plugin))
        .find(|p| p.is_file())
        .ok_or_else(not_found)
}

/// The message of a failed call: the error document's `msg` (and
/// `details`), else what the plugin wrote.
pub fn error_message(stdout: &[u8], stderr: &[u8], status: &str) -> String {
    if let Ok(doc) = serde_json::from_slice::<Value>(stdout) {
        if let Some(msg) = doc.get("msg").and_then(Value::as_str) {
            return match doc.get("details").and_then(Value::as_str).filter(|d| !d.is_empty()) {
                Some(d) => format!("{msg}; {d}"),
                None => msg.to_string(),
            };
        }
    }
    let out = String::from_utf8_lossy(stdout);
    let err = String::from_utf8_lossy(stderr);
    let text = [out.trim(), err.trim()]
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if text.is_empty() {
        status.to_string()
    } else {
        text
    }
}

/// Run `binary` (plugin `plugin`) with `env` and `stdin`; its result
/// document on success (`Null` when it printed nothing, as DEL may).
pub fn run(
    binary: &Path,
    plugin: &str,
    verb: Verb,
    env: &[(String, String)],
    stdin: &Value,
) -> Result<Value, PluginError> {
    let spawn_err = |source| PluginError::Spawn {
        binary: binary.to_path_buf(),
        source,
    };
    let mut cmd = Command::new(binary);
    cmd.env_clear()
        .env(
            "PATH",
            std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into()),
        )
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(spawn_err)?;
    let body = serde_json::to_vec(stdin).map_err(|e| spawn_err(std::io::Error::other(e)))?;
    if let Some(mut input) = child.stdin.take() {
        // A plugin that exits without reading closes the pipe: its exit
        // status says what went wrong.
        let _ = input.write_all(&body);
    }
    let out = child.wait_with_output().map_err(spawn_err)?;
    if !out.status.success() {
        return Err(PluginError::Failed {
            plugin: plugin.to_string(),
            verb: verb.as_str(),
            message: error_message(&out.stdout, &out.stderr, &out.status.to_string()),
        });
    }
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&out.stdout).map_err(|e| PluginError::Failed {
        plugin: plugin.to_string(),
        verb: verb.as_str(),
        message: format!("unparsable result: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> Runtime {
        Runtime {
            container_id: "abc".into(),
            netns: "/run/pier/netns/abc".into(),
            ifname: "eth0".into(),
            args: vec![
                ("IgnoreUnknown".into(), "1".into()),
                ("K8S_POD_NAMESPACE".into(), "default".into()),
                ("K8S_POD_NAME".into(), "web".into()),
            ],
        }
    }

    #[test]
    fn environment_of_a_call() {
        let env = env(Verb::Del, &rt(), &["/opt/cni/bin".into(), "/usr/lib/cni".into()]);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("CNI_COMMAND"), Some("DEL"));
        assert_eq!(get("CNI_CONTAINERID"), Some("abc"));
        assert_eq!(get("CNI_NETNS"), Some("/run/pier/netns/abc"));
        assert_eq!(get("CNI_IFNAME"), Some("eth0"));
        assert_eq!(
            get("CNI_ARGS"),
            Some("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web")
        );
        assert_eq!(get("CNI_PATH"), Some("/opt/cni/bin:/usr/lib/cni"));
        assert_eq!(Verb::Check.as_str(), "CHECK");
    }

    #[test]
    fn plugins_are_found_by_bare_name_in_order() {
        let a = tempfile::tempdir().expect("a");
        let b = tempfile::tempdir().expect("b");
        std::fs::write(b.path().join("bridge"), "").expect("write");
        let dirs = vec![a.path().to_path_buf(), b.path().to_path_buf()];
        assert_eq!(find("bridge", &dirs).expect("found"), b.path().join("bridge"));
        std::fs::write(a.path().join("bridge"), "").expect("write");
        assert_eq!(find("bridge", &dirs).expect("found"), a.path().join("bridge"));
        assert!(matches!(find("../bridge", &dirs), Err(PluginError::NotFound { .. })));
        assert!(matches!(find("", &dirs), Err(PluginError::NotFound { .. })));
        assert!(matches!(find("portmap", &dirs), Err(PluginError::NotFound { .. })));
    }

    #[test]
    fn error_documents() {
        let doc = br#"{"cniVersion":"1.0.0","code":7,"msg":"failed to allocate","details":"range full"}"#;
        assert_eq!(error_message(doc, b"", "exit 1"), "failed to allocate; range full");
        assert_eq!(error_message(br#"{"code":4,"msg":"bad"}"#, b"", "x"), "bad");
        assert_eq!(error_message(b"", b"panic: boom\n", "x"), "panic: boom");
        assert_eq!(error_message(b"", b"", "exit status: 1"), "exit status: 1");
    }

    #[test]
    fn runs_a_plugin_and_reads_its_result() {
        let dir = tempfile::tempdir().expect("dir");
        let plugin = dir.path().join("echo");
        // Echoes its verb and stdin's name, fails on DEL.
        std::fs::write(
            &plugin,
            "#!/bin/sh\nread -r input\nif [ \"$CNI_COMMAND\" = DEL ]; then echo '{\"code\":11,\"msg\":\"nope\"}'; exit 1; fi\n\
             printf '{\"cmd\":\"%s\",\"ifname\":\"%s\",\"in\":%s}' \"$CNI_COMMAND\" \"$CNI_IFNAME\" \"$input\"\n",
        )
        .expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let env_add = env(Verb::Add, &rt(), &[dir.path().to_path_buf()]);
        let stdin = serde_json::json!({"name": "n"});
        let out = run(&plugin, "echo", Verb::Add, &env_add, &stdin).expect("add");
        assert_eq!(
            out,
            serde_json::json!({"cmd": "ADD", "ifname": "eth0", "in": {"name": "n"}})
        );
        let env_del = env(Verb::Del, &rt(), &[dir.path().to_path_buf()]);
        let err = run(&plugin, "echo", Verb::Del, &env_del, &stdin).expect_err("del fails");
        assert_eq!(err.to_string(), "plugin type=\"echo\" failed (DEL): nope");
    }
}
