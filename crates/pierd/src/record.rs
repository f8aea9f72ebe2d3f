//! `container.json`: pierd's durable record of one container, and the atomic
//! write that keeps it whole across crashes.
//!
//! The record carries a schema `version`. [`load`] reads the current
//! version and every earlier one; an older record comes back upgraded (the
//! caller writes it back). A record of a newer version than this pierd
//! knows is refused with an error naming both versions, never guessed at.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::{self, ContainerSpec};

/// The schema version this pierd writes.
pub const VERSION: u32 = 2;

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
    /// Frozen by `pause` (meaningful while running; docker's `Paused`).
    #[serde(default)]
    pub paused: bool,
    /// OOM events of the current run the daemon has recorded (the shim
    /// counts them; a restored daemon resumes from here).
    #[serde(default)]
    pub oom_events: u64,
    /// Exited and waiting out its restart policy's back-off (docker's
    /// `Restarting`: shown as running and restarting).
    #[serde(default)]
    pub restarting: bool,
    /// Stopped or killed through the API since its last manual start
    /// (docker's `HasBeenManuallyStopped`): `unless-stopped` holds off.
    #[serde(default)]
    pub manually_stopped: bool,
    /// The last health change (the shim's sequence number) journaled as
    /// an event; the shim numbers on across runs.
    #[serde(default)]
    pub health_events: u64,
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
            paused: false,
            oom_events: 0,
            restarting: false,
            manually_stopped: false,
            health_events: 0,
        }
    }

    pub fn is_running(&self) -> bool {
        self.status == Status::Running
    }

    /// Running and frozen.
    pub fn is_paused(&self) -> bool {
        self.is_running() && self.paused
    }

    /// Exited, with a restart by its policy pending.
    pub fn is_restarting(&self) -> bool {
        self.status == Status::Exited && self.restarting
    }

    /// Docker's state name: `paused` for a frozen running container,
    /// `restarting` while a policy restart is pending.
    pub fn status_name(&self) -> &'static str {
        if self.is_paused() {
            "paused"
        } else if self.is_restarting() {
            "restarting"
        } else {
            self.status.as_str()
        }
    }
}

/// Everything pierd knows about a container; the file is the truth after a
/// restart (together with the shim socket or `exit.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// Schema version ([`VERSION`]).
    pub version: u32,
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
    pub spec: ContainerSpec,
    pub state: State,
    pub restart_count: i64,
}

impl ContainerRecord {
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
}

/// The fields every version has.
#[derive(Debug, Deserialize)]
struct Common {
    #[serde(default = "v1")]
    version: u32,
    id: String,
    name: String,
    created: i64,
    image: String,
    image_id: String,
    state: State,
    #[serde(default)]
    restart_count: i64,
}

fn v1() -> u32 {
    1
}

/// A loaded record and whether it was upgraded from an older version.
#[derive(Debug)]
pub struct Loaded {
    pub record: ContainerRecord,
    /// `Some(old version)` when upgraded; what the upgrade dropped, if anything.
    pub upgraded_from: Option<u32>,
    pub notes: Vec<String>,
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
    #[error("{path}: record version {found} is newer than this pierd's ({VERSION})")]
    TooNew { path: PathBuf, found: u32 },
    #[error("upgrade {path}: {source}")]
    Upgrade { path: PathBuf, source: model::CreateError },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> RecordError + 'a {
    move |source| RecordError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// How durable a record write is when it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The file and its name: after a crash the new record is there.
    Full,
    /// The file only (no fsync of the directory): after a crash the
    /// directory holds the new record or the one it replaced, each whole;
    /// the rename becomes durable with the file system's next journal
    /// commit. For changes a crash may undo because the old record is a
    /// state restore settles anyway (a start: after a reboot its
    /// container is gone either way).
    OldOrNew,
}

/// Write `bytes` to `path` atomically: a temp file beside it (mode 0600),
/// fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RecordError> {
    write_atomic_with(path, bytes, Durability::Full)
}

/// [`write_atomic`], the directory's fsync only with [`Durability::Full`].
pub fn write_atomic_with(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), RecordError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(crate::private::RECORD)
        .open(&tmp)
        .map_err(io_err("create", &tmp))?;
    f.set_permissions(std::fs::Permissions::from_mode(crate::private::RECORD))
        .map_err(io_err("chmod", &tmp))?;
    f.write_all(bytes).map_err(io_err("write", &tmp))?;
    f.sync_all().map_err(io_err("fsync", &tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io_err("rename", path))?;
    if durability == Durability::OldOrNew {
        return Ok(());
    }
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
/// their 2 fsyncs each cost ~25 ms of a start on a virtio disk. The file
/// gets `mode` (`private::RECORD` or, for files containers read,
/// `private::SHARED_FILE`).
pub fn write_replace(path: &Path, bytes: &[u8], mode: u32) -> Result<(), RecordError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp"));
    crate::private::write(&tmp, bytes, mode).map_err(io_err("write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err("rename", path))
}

/// Persist a record as `<dir>/container.json`.
pub fn save(dir: &Path, record: &ContainerRecord) -> Result<(), RecordError> {
    save_with(dir, record, Durability::Full)
}

/// [`save`] with the given [`Durability`].
pub fn save_with(dir: &Path, record: &ContainerRecord, durability: Durability) -> Result<(), RecordError> {
    let path = dir.join("container.json");
    let bytes = serde_json::to_vec_pretty(record).map_err(|source| RecordError::Parse {
        path: path.clone(),
        source,
    })?;
    write_atomic_with(&path, &bytes, durability)
}

/// Load `<dir>/container.json`, upgrading an older version in memory
/// (`defaults` are the daemon's, for rebuilding the spec).
pub fn load(dir: &Path, defaults: &model::Defaults<'_>) -> Result<Loaded, RecordError> {
    let path = dir.join("container.json");
    let bytes = std::fs::read(&path).map_err(io_err("read", &path))?;
    parse(&path, &bytes, defaults)
}

/// [`load`] of bytes already read.
pub fn parse(path: &Path, bytes: &[u8], defaults: &model::Defaults<'_>) -> Result<Loaded, RecordError> {
    let parse_err = |source| RecordError::Parse {
        path: path.to_path_buf(),
        source,
    };
    let common: Common = serde_json::from_slice(bytes).map_err(parse_err)?;
    match common.version {
        VERSION => {
            let mut record: ContainerRecord = serde_json::from_slice(bytes).map_err(parse_err)?;
            model::upgrade::lift_resources(&mut record.spec);
            Ok(Loaded {
                record,
                upgraded_from: None,
                notes: Vec::new(),
            })
        }
        1 => {
            let v1: model::upgrade::V1Request = serde_json::from_slice(bytes).map_err(parse_err)?;
            let (spec, notes) =
                model::upgrade::spec_from_v1(&common.id, &v1, defaults).map_err(|source| RecordError::Upgrade {
                    path: path.to_path_buf(),
                    source,
                })?;
            Ok(Loaded {
                record: ContainerRecord {
                    version: VERSION,
                    id: common.id,
                    name: common.name,
                    created: common.created,
                    image: common.image,
                    image_id: common.image_id,
                    spec,
                    state: common.state,
                    restart_count: common.restart_count,
                },
                upgraded_from: Some(1),
                notes,
            })
        }
        found => Err(RecordError::TooNew {
            path: path.to_path_buf(),
            found,
        }),
    }
}

/// A created container running `sh` with `labels`, for tests of code that
/// reads records.
#[cfg(test)]
pub(crate) fn sample(id: &str, name: &str, labels: &[(&str, &str)]) -> ContainerRecord {
    let opts = std::collections::BTreeMap::new();
    let defaults = model::Defaults {
        log_driver: "json-file",
        log_opts: &opts,
        runtime: "runc",
        ncpu: 2,
        cgroup_v2: false,
        apparmor: false,
        bridge_default: false,
        host: model::HostSupport::unchecked(),
    };
    let req = pier_api::container::ContainerCreateRequest {
        config: pier_api::container::ContainerConfig {
            cmd: Some(vec!["sh".into()]),
            labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        },
        ..Default::default()
    };
    let spec = match model::build(id, &req, &Default::default(), &defaults) {
        Ok(b) => b.spec,
        Err(e) => panic!("sample spec: {e}"),
    };
    ContainerRecord {
        version: VERSION,
        id: id.to_string(),
        name: name.to_string(),
        created: 0,
        image: "busybox".into(),
        image_id: "sha256:feed".into(),
        spec,
        state: State::created(),
        restart_count: 0,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn defaults() -> (BTreeMap<String, String>, &'static str) {
        (BTreeMap::new(), "runc")
    }

    fn daemon<'a>(opts: &'a BTreeMap<String, String>, runtime: &'a str) -> model::Defaults<'a> {
        model::Defaults {
            log_driver: "json-file",
            log_opts: opts,
            runtime,
            ncpu: 2,
            cgroup_v2: false,
            apparmor: false,
            bridge_default: false,
            host: model::HostSupport::unchecked(),
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (opts, rt) = defaults();
        let d = daemon(&opts, rt);
        let req = pier_api::container::ContainerCreateRequest {
            config: pier_api::container::ContainerConfig {
                cmd: Some(vec!["sh".into()]),
                ..Default::default()
            },
            ..Default::default()
        };
        let built = model::build(&"a".repeat(64), &req, &Default::default(), &d).expect("build");
        let rec = ContainerRecord {
            version: VERSION,
            id: "a".repeat(64),
            name: "x".into(),
            created: 1,
            image: "busybox".into(),
            image_id: "sha256:00".into(),
            spec: built.spec,
            state: State::created(),
            restart_count: 0,
        };
        save(dir.path(), &rec).expect("save");
        let loaded = load(dir.path(), &d).expect("load");
        assert_eq!(loaded.record, rec);
        assert_eq!(loaded.upgraded_from, None);
        assert_eq!(rec.short_id().len(), 12);
    }

    #[test]
    fn newer_versions_are_refused() {
        let (opts, rt) = defaults();
        let bytes = br#"{"version":99,"id":"a","name":"n","created":1,"image":"i","image_id":"s",
            "state":{"status":"created","pid":0,"exit_code":0,"error":"","oom_killed":false,
            "started_at":null,"finished_at":null}}"#;
        let err = parse(Path::new("c.json"), bytes, &daemon(&opts, rt)).expect_err("too new");
        assert!(matches!(err, RecordError::TooNew { found: 99, .. }), "{err}");
    }

    #[test]
    fn replace_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.json");
        write_replace(&path, b"one", crate::private::RECORD).expect("write");
        write_replace(&path, b"two", crate::private::RECORD).expect("rewrite");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
    }
}
