//! The reference row: the raw runtime on the very spec Pier generates (its
//! seccomp profile, mounts, masked paths, capabilities, rlimits), over the
//! same plain rootfs as the floor. The floor (`runc spec`'s default) has no
//! seccomp filter; runc compiling docker's default profile is a cost every
//! docker-compatible engine pays inside the runtime, so this row separates
//! what Pier adds from what the container's security costs.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::cli::CliEngine;

/// Pier's spec for `run -d --network none IMAGE sleep 1000`, made runnable
/// by a raw runtime on `rootfs`: the per-container files it binds are copied
/// into `work`, and the cgroup path is left to the runtime (one per id).
pub fn from_pier(engine: &mut CliEngine, work: &Path, rootfs: &Path) -> Result<Value> {
    let name = "pb-refspec";
    engine.run_detached(name, &["sleep", "1000"])?;
    let taken = take_spec(engine, name, work, rootfs);
    let removed = engine.remove(&[name.to_string()]);
    let spec = taken?;
    removed?;
    Ok(spec)
}

fn take_spec(engine: &CliEngine, name: &str, work: &Path, rootfs: &Path) -> Result<Value> {
    let root = engine
        .guard
        .as_ref()
        .map(|g| g.root.clone())
        .context("pier has no private root")?;
    let info = engine.inspect(&[name.to_string()])?;
    let id = info
        .first()
        .and_then(|v| v["Id"].as_str())
        .context("inspect gave no Id")?
        .to_string();
    let path = root.join("exec").join(&id).join("config.json");
    let text = fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    let spec: Value = serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
    let files = work.join("refspec-files");
    fs::create_dir_all(&files).with_context(|| format!("create {}", files.display()))?;
    let mut copies = Vec::new();
    let spec = as_reference(spec, rootfs, |src| {
        let dest = files.join(src.file_name()?);
        copies.push((src.to_path_buf(), dest.clone()));
        Some(dest)
    });
    for (src, dest) in copies {
        fs::copy(&src, &dest).with_context(|| format!("copy {}", src.display()))?;
    }
    Ok(spec)
}

/// The pure rewrite: `rootfs` read-only as the floor's, no cgroup path, no
/// hooks, and every bind mount of a regular file re-pointed by `relocate`
/// (which returns the copy's path, or `None` to keep the source).
pub fn as_reference(mut spec: Value, rootfs: &Path, mut relocate: impl FnMut(&Path) -> Option<PathBuf>) -> Value {
    spec["root"] = json!({ "path": rootfs, "readonly": true });
    if let Some(linux) = spec.get_mut("linux").and_then(Value::as_object_mut) {
        linux.remove("cgroupsPath");
    }
    if let Some(o) = spec.as_object_mut() {
        o.remove("hooks");
    }
    if let Some(mounts) = spec.get_mut("mounts").and_then(Value::as_array_mut) {
        for m in mounts.iter_mut() {
            if m["type"] != "bind" {
                continue;
            }
            let Some(src) = m["source"].as_str().map(PathBuf::from) else {
                continue;
            };
            if let Some(copy) = relocate(&src) {
                m["source"] = json!(copy);
            }
        }
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_security_and_repoints_files() {
        let spec = json!({
            "root": {"path": "/data/overlay/merged"},
            "hooks": {"prestart": []},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/etc/hosts", "type": "bind", "source": "/data/c/abc/hosts"}
            ],
            "linux": {"cgroupsPath": "/pier/abc", "seccomp": {"defaultAction": "SCMP_ACT_ERRNO"}}
        });
        let out = as_reference(spec, Path::new("/bench/rootfs"), |p| {
            Some(Path::new("/w").join(p.file_name().unwrap_or_default()))
        });
        assert_eq!(out["root"], json!({"path": "/bench/rootfs", "readonly": true}));
        assert!(out.get("hooks").is_none());
        assert!(out["linux"].get("cgroupsPath").is_none());
        assert_eq!(out["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(out["mounts"][0]["source"], "proc");
        assert_eq!(out["mounts"][1]["source"], "/w/hosts");
    }
}
