//! The recovery call: what `pierd` asks when a container's shim is lost
//! (killed, crashed) while the container's processes may still run.
//!
//! `pierd` never runs the OCI runtime itself, so it spawns `pier-shim
//! --recover` (no fork, no daemonizing, no socket), writes one
//! [`RecoverRequest`] as JSON to its stdin and closes it; the one-shot shim
//! runs one runtime invocation (`state`, `kill`, `delete`) with the
//! container's runtime and `--root`, writes one [`RecoverReply`] JSON line to
//! stdout and exits 0. Any other outcome (no line, a non-zero exit) is a
//! failure of the call, never an answer about the container.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ErrorCode;

/// One runtime invocation for a container whose shim is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverRequest {
    /// The container's id in the runtime.
    pub id: String,
    /// The OCI runtime binary (as in [`crate::ShimConfig::runtime`]).
    pub runtime: PathBuf,
    /// The runtime's `--root`.
    pub runtime_root: PathBuf,
    pub op: RecoverOp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RecoverOp {
    /// `state ID`.
    State,
    /// `kill [--all] ID SIGNAL`.
    Kill { signal: i32, all: bool },
    /// `delete [--force] ID`: ends what still runs (with `force`) and
    /// removes the container's cgroup and runtime state.
    Delete { force: bool },
}

/// The container's status as the runtime reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeStatus {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
    #[serde(other)]
    Unknown,
}

impl RuntimeStatus {
    /// Whether processes of the container may still exist.
    pub fn has_processes(self) -> bool {
        !matches!(self, RuntimeStatus::Stopped)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeStatus::Creating => "creating",
            RuntimeStatus::Created => "created",
            RuntimeStatus::Running => "running",
            RuntimeStatus::Paused => "paused",
            RuntimeStatus::Stopped => "stopped",
            RuntimeStatus::Unknown => "unknown",
        }
    }
}

/// The one line a one-shot recovery shim writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RecoverReply {
    /// `state`: the runtime knows the container.
    State { status: RuntimeStatus, pid: i32 },
    /// The runtime does not know the container (never created, or
    /// deleted): nothing of it runs under this runtime root.
    NotFound,
    /// `kill` or `delete` succeeded.
    Ok,
    /// The runtime failed; `message` is its own words.
    Failed { code: ErrorCode, message: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape() {
        let req = RecoverRequest {
            id: "abc".into(),
            runtime: "/usr/bin/runc".into(),
            runtime_root: "/run/pier/runc".into(),
            op: RecoverOp::Kill { signal: 9, all: true },
        };
        let json = serde_json::to_string(&req).expect("encode");
        assert_eq!(
            json,
            r#"{"id":"abc","runtime":"/usr/bin/runc","runtime_root":"/run/pier/runc","op":{"op":"kill","signal":9,"all":true}}"#
        );
        let back: RecoverRequest = serde_json::from_str(&json).expect("decode");
        assert_eq!(back, req);
        let reply: RecoverReply =
            serde_json::from_str(r#"{"result":"state","status":"paused","pid":7}"#).expect("decode");
        assert_eq!(
            reply,
            RecoverReply::State {
                status: RuntimeStatus::Paused,
                pid: 7
            }
        );
        let odd: RecoverReply = serde_json::from_str(r#"{"result":"state","status":"new","pid":7}"#).expect("decode");
        assert!(matches!(
            odd,
            RecoverReply::State {
                status: RuntimeStatus::Unknown,
                ..
            }
        ));
        assert!(!RuntimeStatus::Stopped.has_processes());
        assert!(RuntimeStatus::Unknown.has_processes());
    }
}
