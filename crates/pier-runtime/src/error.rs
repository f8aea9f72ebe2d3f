//! Runtime failures and the runtime's own words for them.

use std::path::PathBuf;

use serde::Deserialize;

use crate::Op;

/// What kind of failure a runtime message describes, so callers can explain
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// crun refuses cgroup v1/v2 hybrid hosts ("cgroups in hybrid mode not
    /// supported").
    CgroupsHybridUnsupported,
    /// The container is not known to the runtime.
    NotFound,
    /// The process's executable (or working directory) does not exist
    /// (docker's exit code 127).
    NoSuchExecutable,
    /// The process's executable cannot be run (docker's exit code 126).
    PermissionDenied,
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("spawn {}: {source}", binary.display())]
    Spawn {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("runtime {op} {id}: {message}")]
    Failed {
        op: Op,
        id: String,
        message: String,
        kind: Failure,
    },
    #[error("runtime {op} {id}: no answer after {}s, killed", after.as_secs())]
    TimedOut {
        op: Op,
        id: String,
        after: std::time::Duration,
    },
    #[error("reset runtime log {}: {source}", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parse runtime state of {id}: {source}")]
    State {
        id: String,
        #[source]
        source: serde_json::Error,
    },
}

impl RuntimeError {
    /// The runtime's message, for the failure variants.
    pub fn runtime_message(&self) -> Option<&str> {
        match self {
            RuntimeError::Failed { message, .. } => Some(message),
            _ => None,
        }
    }

    pub fn kind(&self) -> Failure {
        match self {
            RuntimeError::Failed { kind, .. } => *kind,
            _ => Failure::Other,
        }
    }
}

#[derive(Deserialize)]
struct LogLine {
    #[serde(default)]
    level: String,
    #[serde(default)]
    msg: String,
}

/// The last `"level":"error"` (or fatal/panic) message in a runtime's JSON
/// log (runc writes one object per line; crun may omit the final newline,
/// so objects are read as a stream). Lines that are not JSON are skipped.
pub fn last_error_message(log: &str) -> Option<String> {
    let mut last = None;
    for line in log.lines() {
        let stream = serde_json::Deserializer::from_str(line).into_iter::<LogLine>();
        for entry in stream {
            let Ok(entry) = entry else { break };
            if matches!(entry.level.as_str(), "error" | "fatal" | "panic") && !entry.msg.is_empty() {
                last = Some(entry.msg);
            }
        }
    }
    last
}

/// Recognize failures callers explain specially. The runtime's message is
/// all a runtime tells (runc and crun exit 1 for everything), so this is the
/// one place its words are read; everything above works with the kind.
/// The 127/126 split follows dockerd's reading of the same messages.
pub fn classify(message: &str) -> Failure {
    let m = message.to_ascii_lowercase();
    if m.contains("hybrid mode not supported") {
        Failure::CgroupsHybridUnsupported
    } else if m.contains("does not exist") || (m.contains("no such file or directory") && m.contains("status")) {
        Failure::NotFound
    } else if m.contains("executable file not found") || m.contains("no such file or directory") {
        Failure::NoSuchExecutable
    } else if m.contains("permission denied") {
        Failure::PermissionDenied
    } else {
        Failure::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_log() {
        let log = concat!(
            r#"{"level":"warning","msg":"meh","time":"2026-11-28T14:01:00Z"}"#,
            "\n",
            r#"{"level":"error","msg":"runc create failed: chdir /nonexist: no such file or directory","time":"2026-11-28T14:01:00Z"}"#,
            "\nnot json\n",
            r#"{"level":"info","msg":"later","time":"x"}"#,
            "\n"
        );
        assert_eq!(
            last_error_message(log).as_deref(),
            Some("runc create failed: chdir /nonexist: no such file or directory")
        );
        assert_eq!(last_error_message(""), None);
    }

    #[test]
    fn crun_hybrid() {
        let log = r#"{"msg":"cgroups in hybrid mode not supported, drop all controllers from cgroupv2","level":"error","time":"2026-11-28T14:01:03.765488Z"}"#;
        let msg = last_error_message(log).expect("message");
        assert_eq!(classify(&msg), Failure::CgroupsHybridUnsupported);
        assert_eq!(classify("container does not exist"), Failure::NotFound);
        assert_eq!(classify("boom"), Failure::Other);
        assert_eq!(
            classify(
                "exec failed: unable to start container process: exec: \"nope\": executable file not found in $PATH"
            ),
            Failure::NoSuchExecutable
        );
        assert_eq!(
            classify("runc create failed: unable to start container process: error during container init: error setting cwd: chdir to cwd (\"/x\") set in config.json failed: no such file or directory"),
            Failure::NoSuchExecutable
        );
        assert_eq!(
            classify("exec failed: unable to start container process: exec: \"/etc\": permission denied"),
            Failure::PermissionDenied
        );
    }
}
