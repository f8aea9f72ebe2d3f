//! CNI network configuration (pure): a conflist (`.conflist`) or a single
//! plugin's configuration (`.conf`, `.json`, turned into a list of one, as
//! libcni's `ConfListFromConf`), which file of a directory is used, and the
//! document each plugin of the chain reads on stdin (libcni's
//! `buildOneConfig`).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// The extensions libcni's `ConfFiles` (and containerd) consider.
pub const EXTENSIONS: &[&str] = &["conf", "conflist", "json"];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfError {
    #[error("read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("parse {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("no network config found in {0}")]
    Missing(PathBuf),
}

/// A network: its name, version and plugins in order. Each plugin is kept
/// verbatim (its own keys reach the plugin unchanged).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetworkList {
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    pub name: String,
    #[serde(rename = "disableCheck", default)]
    pub disable_check: bool,
    pub plugins: Vec<Map<String, Value>>,
}

impl NetworkList {
    /// Parse a file's bytes: `list` for a `.conflist`, else a single
    /// plugin's configuration.
    pub fn parse(path: &Path, bytes: &[u8], list: bool) -> Result<NetworkList, ConfError> {
        let invalid = |message: &str| ConfError::Invalid {
            path: path.to_path_buf(),
            message: message.to_string(),
        };
        let doc: Map<String, Value> = serde_json::from_slice(bytes).map_err(|e| ConfError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let text = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let name = text(&doc, "name");
        if name.is_empty() {
            return Err(invalid("no 'name' field"));
        }
        let cni_version = text(&doc, "cniVersion");
        let plugins = if list {
            let Some(Value::Array(items)) = doc.get("plugins") else {
                return Err(invalid("no 'plugins' key"));
            };
            let mut plugins = Vec::new();
            for item in items {
                let Value::Object(p) = item else {
                    return Err(invalid("a plugin is not an object"));
                };
                plugins.push(p.clone());
            }
            plugins
        } else {
            vec![doc.clone()]
        };
        if plugins.is_empty() {
            return Err(invalid("CNI config list has no networks"));
        }
        if plugins.iter().any(|p| text(p, "type").is_empty()) {
            return Err(invalid("network type not found"));
        }
        Ok(NetworkList {
            cni_version,
            name,
            disable_check: doc.get("disableCheck").and_then(Value::as_bool).unwrap_or(false),
            plugins,
        })
    }

    /// The plugin's `type` (its binary's name).
    pub fn plugin_type(&self, index: usize) -> &str {
        self.plugins
            .get(index)
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The loopback network containerd adds to every pod (ifname `lo`).
    pub fn loopback() -> NetworkList {
        let mut plugin = Map::new();
        plugin.insert("type".to_string(), Value::from("loopback"));
        NetworkList {
            cni_version: "0.3.1".to_string(),
            name: "cni-loopback".to_string(),
            disable_check: false,
            plugins: vec![plugin],
        }
    }

    /// The stdin of plugin `index` (libcni's `buildOneConfig`): the
    /// plugin's keys, the list's `name` and `cniVersion`, `prevResult`
    /// when given, and `runtimeConfig` with those `capability_args` the
    /// plugin declares in its `capabilities`.
    pub fn plugin_stdin(
        &self,
        index: usize,
        prev_result: Option<&Value>,
        capability_args: &Map<String, Value>,
    ) -> Option<Value> {
        let mut conf = self.plugins.get(index)?.clone();
        conf.insert("name".to_string(), Value::from(self.name.clone()));
        conf.insert("cniVersion".to_string(), Value::from(self.cni_version.clone()));
        if let Some(prev) = prev_result {
            conf.insert("prevResult".to_string(), prev.clone());
        }
        let mut runtime = Map::new();
        if let Some(Value::Object(caps)) = conf.get("capabilities") {
            for (cap, on) in caps {
                if on.as_bool() == Some(true) {
                    if let Some(v) = capability_args.get(cap) {
                        runtime.insert(cap.clone(), v.clone());
                    }
                }
            }
        }
        if !runtime.is_empty() {
            conf.insert("runtimeConfig".to_string(), Value::Object(runtime));
        }
        Some(Value::Object(conf))
    }

    /// Whether the spec version knows CHECK and cached results on DEL
    /// (0.4.0 and later).
    pub fn has_check(&self) -> bool {
        version_at_least(&self.cni_version, (0, 4, 0))
    }
}

/// `a.b.c` >= `want` (an unparsable or empty version is the oldest).
pub fn version_at_least(v: &str, want: (u32, u32, u32)) -> bool {
    let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
    let mut next = || parts.next().flatten().unwrap_or(0);
    (next(), next(), next()) >= want
}

/// The file a runtime uses from `dir`: the first, in lexical order, with a
/// CNI extension (libcni's `ConfFiles`; containerd loads one network).
pub fn pick_file(names: &[String]) -> Option<&String> {
    let mut candidates: Vec<&String> = names
        .iter()
        .filter(|n| {
            Path::new(n)
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.contains(&e))
        })
        .collect();
    candidates.sort();
    candidates.first().copied()
}

/// Load the network `dir` configures.
pub fn load_dir(dir: &Path) -> Result<(PathBuf, NetworkList), ConfError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ConfError::Missing(dir.to_path_buf())),
        Err(e) => {
            return Err(ConfError::Read {
                path: dir.to_path_buf(),
                message: e.to_string(),
            })
        }
    };
    let names: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    let name = pick_file(&names).ok_or_else(|| ConfError::Missing(dir.to_path_buf()))?;
    let path = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|e| ConfError::Read {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let list = NetworkList::parse(&path, &bytes, name.ends_with(".conflist"))?;
    Ok((path, list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIST: &str = r#"{
        "cniVersion": "1.0.0", "name": "podnet",
        "plugins": [
            {"type": "bridge", "bridge": "cni0", "ipam": {"type": "host-local", "subnet": "10.9.0.0/24"}},
            {"type": "portmap", "capabilities": {"portMappings": true, "bandwidth": false}}
        ]}"#;

    fn list() -> NetworkList {
        NetworkList::parse(Path::new("/x/10.conflist"), LIST.as_bytes(), true).expect("parse")
    }

    #[test]
    fn conflist_and_single_conf() {
        let l = list();
        assert_eq!((l.name.as_str(), l.cni_version.as_str()), ("podnet", "1.0.0"));
        assert_eq!(
            (l.plugin_type(0), l.plugin_type(1), l.plugin_type(2)),
            ("bridge", "portmap", "")
        );
        assert!(l.has_check() && !l.disable_check);
        let single = br#"{"cniVersion": "0.3.1", "name": "one", "type": "bridge"}"#;
        let one = NetworkList::parse(Path::new("/x/a.conf"), single, false).expect("conf");
        assert_eq!(one.plugins.len(), 1);
        assert_eq!(one.plugin_type(0), "bridge");
        assert!(!one.has_check());
        let err = |b: &str, list| NetworkList::parse(Path::new("/x/f"), b.as_bytes(), list).expect_err(b);
        assert!(matches!(err("{", true), ConfError::Parse { .. }));
        assert_eq!(err(r#"{"plugins": []}"#, true).to_string(), "/x/f: no 'name' field");
        assert_eq!(
            err(r#"{"name": "n", "plugins": []}"#, true).to_string(),
            "/x/f: CNI config list has no networks"
        );
        assert_eq!(
            err(r#"{"name": "n", "plugins": [{"ipam": {}}]}"#, true).to_string(),
            "/x/f: network type not found"
        );
        assert_eq!(
            err(r#"{"name": "n"}"#, false).to_string(),
            "/x/f: network type not found"
        );
    }

    #[test]
    fn plugin_stdin_injects_name_version_prev_result_and_capabilities() {
        let l = list();
        let caps: Map<String, Value> = [
            (
                "portMappings".to_string(),
                json!([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]),
            ),
            ("bandwidth".to_string(), json!({"ingressRate": 1})),
        ]
        .into_iter()
        .collect();
        let first = l.plugin_stdin(0, None, &caps).expect("first");
        assert_eq!(first["name"], "podnet");
        assert_eq!(first["cniVersion"], "1.0.0");
        assert_eq!(first["bridge"], "cni0");
        assert!(first.get("prevResult").is_none());
        // The bridge declares no capability: no runtimeConfig.
        assert!(first.get("runtimeConfig").is_none());
        let prev = json!({"cniVersion": "1.0.0", "ips": [{"address": "10.9.0.2/24"}]});
        let second = l.plugin_stdin(1, Some(&prev), &caps).expect("second");
        assert_eq!(second["prevResult"], prev);
        // Only the capabilities declared true.
        assert_eq!(
            second["runtimeConfig"],
            json!({"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]})
        );
        assert!(l.plugin_stdin(2, None, &caps).is_none());
    }

    #[test]
    fn versions() {
        assert!(version_at_least("1.0.0", (0, 4, 0)));
        assert!(version_at_least("0.4.0", (0, 4, 0)));
        assert!(!version_at_least("0.3.1", (0, 4, 0)));
        assert!(!version_at_least("", (0, 4, 0)));
    }

    #[test]
    fn first_file_in_lexical_order() {
        let names: Vec<String> = ["99-z.conflist", "README", "10-b.conf", "10-a.json", "05.txt"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(pick_file(&names).map(String::as_str), Some("10-a.json"));
        assert_eq!(pick_file(&["x.txt".to_string()]), None);
    }

    #[test]
    fn load_from_a_directory() {
        let tmp = tempfile::tempdir().expect("tmp");
        let missing = tmp.path().join("nope");
        assert_eq!(load_dir(&missing).expect_err("missing"), ConfError::Missing(missing));
        assert!(matches!(load_dir(tmp.path()), Err(ConfError::Missing(_))));
        std::fs::write(tmp.path().join("20-other.conflist"), "{").expect("write");
        std::fs::write(tmp.path().join("10-pod.conflist"), LIST).expect("write");
        let (path, l) = load_dir(tmp.path()).expect("load");
        assert_eq!(path, tmp.path().join("10-pod.conflist"));
        assert_eq!(l, list());
    }
}
