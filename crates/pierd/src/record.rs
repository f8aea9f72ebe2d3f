//! `container.json`: pierd's durable record of one container, and the atomic
//! write that keeps it whole across crashes.

use std::io::Write;
use std::path::{Path, PathBuf};

use pier_api::container::{ContainerConfig, HostConfig};
use serde::{Deserialize, Serialize};

/// Lifecycle status as docker names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Exited,
    Removing,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Exited => "exited",
            Status::Removing => "removing",
            Status::Dead => "dead",
        }
    }
}

/// The mutable part of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    /// Host pid of the init while running, else 0.
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub oom_killed: bool,
    /// Unix nanoseconds.
    pub started_at: Option<i64>,
    /// Unix nanoseconds.
    pub finished_at: Option<i64>,
    /// Pid of the shim serving the current run, for diagnostics.
    #[serde(default)]
    pub shim_pid: i32,
}

impl State {
    pub fn created() -> Self {
        State {
            status: Status::Created,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            oom_killed: false,
            started_at: None,
            finished_at: None,
            shim_pid: 0,
        }
    }

    pub fn is_running(&self) -> bool {
        self.status == Status::Running
    }
}

/// Everything pierd knows about a container; the file is the truth after a
/// restart (together with the shim socket or `exit.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// 64 hex.
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    /// Unix nanoseconds.
    pub created: i64,
    /// The image as the user named it.
    pub image: String,
    /// `sha256:<hex>` image id.
    pub image_id: String,
    /// Resolved command: `path` then `args`.
    pub path: String,
    pub args: Vec<String>,
    /// The create request's config with the image's defaults applied.
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    pub state: State,
    pub restart_count: i64,
}

impl ContainerRecord {
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parse {path}: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> RecordError + 'a {
    move |source| RecordError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Write `bytes` to `path` atomically: a temp file beside it, fsync, rename,
/// fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RecordError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(io_err("create", &tmp))?;
    f.write_all(bytes).map_err(io_err("write", &tmp))?;
    f.sync_all().map_err(io_err("fsync", &tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io_err("rename", path))?;
    if let Ok(d) = std::fs::File::open(dir) {
        // Best effort: the rename is durable once the directory is synced.
        let _ = d.sync_all();
    }
    Ok(())
}

/// Replace `path` with `bytes` atomically (a temp file beside it, then a
/// rename) but without fsync: for files derived from `container.json` and
/// rewritten on every start (the OCI spec, shim.json, /etc files). A crash
/// may lose them, never tear them, and the next start writes them again;
/// their 2 fsyncs each cost ~25 ms of a start on a virtio disk.
pub fn write_replace(path: &Path, bytes: &[u8]) -> Result<(), RecordError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(io_err("write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err("rename", path))
}

/// Persist a record as `<dir>/container.json`.
pub fn save(dir: &Path, record: &ContainerRecord) -> Result<(), RecordError> {
    let path = dir.join("container.json");
    let bytes = serde_json::to_vec_pretty(record).map_err(|source| RecordError::Parse {
        path: path.clone(),
        source,
    })?;
    write_atomic(&path, &bytes)
}

/// Load `<dir>/container.json`.
pub fn load(dir: &Path) -> Result<ContainerRecord, RecordError> {
    let path = dir.join("container.json");
    let bytes = std::fs::read(&path).map_err(io_err("read", &path))?;
    serde_json::from_slice(&bytes).map_err(|source| RecordError::Parse { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rec = ContainerRecord {
            id: "a".repeat(64),
            name: "x".into(),
            created: 1,
            image: "busybox".into(),
            image_id: "sha256:00".into(),
            path: "sh".into(),
            args: vec![],
            config: ContainerConfig::default(),
            host_config: HostConfig::default(),
            state: State::created(),
            restart_count: 0,
        };
        save(dir.path(), &rec).expect("save");
        assert_eq!(load(dir.path()).expect("load"), rec);
        assert_eq!(rec.short_id().len(), 12);
    }

    #[test]
    fn replace_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.json");
        write_replace(&path, b"one").expect("write");
        write_replace(&path, b"two").expect("rewrite");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
    }
}
