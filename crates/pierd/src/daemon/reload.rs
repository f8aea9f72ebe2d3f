//! dockerd's live reload (SIGHUP): daemon.json is read again and the
//! options that can change without a restart are applied at once — `debug`
//! (the log level), `labels`, `insecure-registries` and `live-restore` —
//! then a `daemon reload` event with dockerd's attributes is journaled. A
//! file that does not parse, or a bad value, changes nothing (logged, as
//! dockerd's "Error reloading configuration"). Everything else in the file
//! needs a restart, as with dockerd.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use crate::config::FileConfig;
use crate::daemon::events::Event;
use crate::daemon::Daemon;

/// The options a reload changes; read through [`Daemon::live_config`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveConfig {
    pub debug: bool,
    pub labels: Vec<String>,
    pub insecure_registries: Vec<String>,
    pub live_restore: bool,
}

/// Sets the log filter (`main` installs it: the level is the process's).
type LogLevelSetter = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;
static LOG_LEVEL: OnceLock<LogLevelSetter> = OnceLock::new();

/// Let reloads change the log level (`debug`), through `set`.
pub fn install_log_level_setter(set: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static) {
    let _ = LOG_LEVEL.set(Box::new(set));
}

/// dockerd's label checks (`opts.ValidateLabel` on each, then
/// `GetConflictFreeLabels`): the labels to use, sorted and deduplicated.
pub fn check_labels(labels: &[String]) -> Result<Vec<String>, String> {
    crate::config::daemon_labels(labels).map_err(|e| e.to_string())
}

/// The options a file sets, over `base`, the current ones (a key the file
/// omits keeps its value, as dockerd's `IsValueSet`).
pub fn merge(base: &LiveConfig, file: &FileConfig) -> Result<LiveConfig, String> {
    let labels = check_labels(&file.labels.clone().unwrap_or_else(|| base.labels.clone()))?;
    Ok(LiveConfig {
        debug: file.debug.unwrap_or(base.debug),
        labels,
        insecure_registries: file
            .insecure_registries
            .clone()
            .unwrap_or_else(|| base.insecure_registries.clone()),
        live_restore: file.live_restore.unwrap_or(base.live_restore),
    })
}

/// dockerd's encoding of a list attribute (`marshalAttributeSlice`).
fn list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// The `reload` event's attributes, with dockerd's keys.
pub fn attributes(c: &LiveConfig, default_runtime: &str, name: &str) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    a.insert("debug".into(), c.debug.to_string());
    a.insert("labels".into(), list(&c.labels));
    a.insert("insecure-registries".into(), list(&c.insecure_registries));
    a.insert("registry-mirrors".into(), "[]".into());
    a.insert("live-restore".into(), c.live_restore.to_string());
    a.insert("default-runtime".into(), default_runtime.to_string());
    if !name.is_empty() {
        a.insert("name".into(), name.to_string());
    }
    a
}

impl Daemon {
    /// The options a reload may have changed.
    pub fn live_config(&self) -> LiveConfig {
        self.live_cfg.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Read `path` again and apply what can change live.
    pub fn reload_from(&self, path: &Path) {
        let file = std::fs::read_to_string(path)
            .map_err(|e| format!("read {}: {e}", path.display()))
            .and_then(|t| crate::config::parse_file(path, &t).map_err(|e| e.to_string()));
        match file.and_then(|f| self.reload(&f)) {
            Ok(()) => tracing::info!(file = %path.display(), "configuration reloaded"),
            Err(e) => tracing::error!(error = %e, "Error reloading configuration"),
        }
    }

    /// Apply `file`'s live options and journal the `reload` event.
    pub fn reload(&self, file: &FileConfig) -> Result<(), String> {
        let next = merge(&self.live_config(), file)?;
        if let Some(set) = LOG_LEVEL.get() {
            let level = if next.debug {
                "debug".to_string()
            } else {
                file.log_level.clone().unwrap_or_else(|| "info".into())
            };
            set(&level)?;
        }
        *self.live_cfg.write().unwrap_or_else(|p| p.into_inner()) = next.clone();
        let name = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        let attrs = attributes(&next, self.cfg.runtime_name(), &name);
        self.events.record(Event::new(
            "daemon",
            "reload",
            &self.engine_id(),
            attrs,
            pier_time::now_nanos(),
        ));
        Ok(())
    }

    /// The engine's ID (`/info`'s `ID`, the `daemon` events' actor).
    pub fn engine_id(&self) -> String {
        std::fs::read_to_string("/etc/machine-id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_keys_keep_their_start_values() {
        let base = LiveConfig {
            debug: true,
            labels: vec!["a=1".into()],
            insecure_registries: vec!["r:5000".into()],
            live_restore: false,
        };
        let file = FileConfig {
            labels: Some(vec!["b=2".into()]),
            live_restore: Some(true),
            ..Default::default()
        };
        let next = merge(&base, &file).expect("merge");
        assert!(next.debug);
        assert_eq!(next.labels, ["b=2"]);
        assert_eq!(next.insecure_registries, ["r:5000"]);
        assert!(next.live_restore);
    }

    #[test]
    fn bad_labels_are_refused() {
        // dockerd's rules: `=` required, docker's namespaces reserved, one
        // value per key (its ValidateLabel accepts `=x` and ` a=1`).
        for bad in [&["novalue"][..], &["com.docker.x=1"], &["a=1", "a=2"]] {
            let file = FileConfig {
                labels: Some(bad.iter().map(|l| l.to_string()).collect()),
                ..Default::default()
            };
            assert!(merge(&LiveConfig::default(), &file).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_labels(&["a.b=c=d".into(), "a=".into(), "a=".into()]).expect("good"),
            ["a=", "a.b=c=d"]
        );
    }

    #[test]
    fn attributes_as_dockerd_writes_them() {
        let c = LiveConfig {
            debug: false,
            labels: vec![],
            insecure_registries: vec!["127.0.0.1:5000".into()],
            live_restore: true,
        };
        let a = attributes(&c, "runc", "host1");
        assert_eq!(a["debug"], "false");
        assert_eq!(a["labels"], "[]");
        assert_eq!(a["insecure-registries"], r#"["127.0.0.1:5000"]"#);
        assert_eq!(a["live-restore"], "true");
        assert_eq!(a["default-runtime"], "runc");
        assert_eq!(a["name"], "host1");
    }
}
