//! What can go wrong talking to a shim.

use std::path::PathBuf;
use std::time::Duration;

use pier_shim_proto::{ErrorCode, FrameError, Response};

/// How a process the shim tried to start failed, as the runtime classified
/// it (the shim's error code). Decides docker's exit codes 127 and 126.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessFailure {
    /// The executable or working directory does not exist (127).
    NotFound,
    /// The executable cannot be run (126).
    PermissionDenied,
    /// Anything else the runtime refused.
    Other,
}

impl ProcessFailure {
    /// docker's exit code for an exec that failed this way; a failed start
    /// that is neither of the two records 128.
    pub fn exit_code(self) -> i32 {
        match self {
            ProcessFailure::NotFound => 127,
            ProcessFailure::PermissionDenied | ProcessFailure::Other => 126,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    #[error("spawn shim {path}: {source}")]
    Spawn { path: PathBuf, source: std::io::Error },
    #[error("read shim ready line: {0}")]
    ReadyIo(std::io::Error),
    #[error("shim did not report ready within {0:?}")]
    ReadyTimeout(Duration),
    #[error("shim exited without reporting ready ({0})")]
    NoReady(String),
    #[error("malformed shim ready line {line:?}: {source}")]
    BadReady { line: String, source: serde_json::Error },
    /// Nobody listens on the socket: the shim is gone (the container is
    /// not running).
    #[error("connect to shim socket {path}: {source}")]
    Connect { path: PathBuf, source: std::io::Error },
    /// The shim did not answer in time (stopped, wedged or overloaded).
    #[error("shim did not answer {op} within {after:?}")]
    Timeout { op: &'static str, after: Duration },
    #[error("shim rpc: {0}")]
    Frame(#[from] FrameError),
    #[error("shim closed the connection")]
    Closed,
    /// The shim answered with an error; `message` is the runtime's (or the
    /// shim's) words, shown to users as they are.
    #[error("{message}")]
    Refused { code: ErrorCode, message: String },
    #[error("unexpected shim reply {0:?}")]
    Unexpected(Box<Response>),
    /// A one-shot recovery shim failed to answer (spawn, exit, reply).
    #[error("ask the runtime through pier-shim --recover: {0}")]
    BadRecover(String),
}

impl ShimError {
    /// The shim is not there: no socket, or nobody listens on it. A
    /// listener whose queue is full (a stopped shim asked many times) is
    /// there, just not answering.
    pub fn is_gone(&self) -> bool {
        match self {
            ShimError::Connect { source, .. } => !matches!(
                source.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted | std::io::ErrorKind::TimedOut
            ),
            _ => false,
        }
    }

    /// A refusal because the container is not running (or not yet).
    pub fn is_not_running(&self) -> bool {
        self.is_gone()
            || matches!(
                self,
                ShimError::Refused {
                    code: ErrorCode::NotRunning,
                    ..
                }
            )
    }

    /// How a process failed to start, when the shim refused to start one.
    /// Only the code decides, never the message text (a shim older than
    /// the codes sends `Unknown`: `Other`).
    pub fn process_failure(&self) -> Option<ProcessFailure> {
        match self {
            ShimError::Refused { code, .. } => Some(match code {
                ErrorCode::NotFound => ProcessFailure::NotFound,
                ErrorCode::PermissionDenied => ProcessFailure::PermissionDenied,
                _ => ProcessFailure::Other,
            }),
            _ => None,
        }
    }

    /// The runtime's words when the shim refused, else `None`.
    pub fn refusal_message(&self) -> Option<&str> {
        match self {
            ShimError::Refused { message, .. } => Some(message),
            _ => None,
        }
    }
}
