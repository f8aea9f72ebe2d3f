//! The code a failed runtime invocation carries back to `pierd`: taken from
//! the runtime's classified failure, so nobody above reads message text.

use pier_runtime::{Failure, RuntimeError};
use pier_shim_proto::ErrorCode;

/// The protocol's code for a runtime failure.
pub fn code_of(e: &RuntimeError) -> ErrorCode {
    match e {
        RuntimeError::TimedOut { .. } => ErrorCode::Timeout,
        RuntimeError::Failed { kind, .. } => match kind {
            Failure::NotFound | Failure::NoSuchExecutable => ErrorCode::NotFound,
            Failure::PermissionDenied => ErrorCode::PermissionDenied,
            Failure::CgroupsHybridUnsupported | Failure::Other => ErrorCode::RuntimeFailed,
        },
        RuntimeError::Spawn { .. } | RuntimeError::Log { .. } | RuntimeError::State { .. } => ErrorCode::Internal,
    }
}

/// Whether the runtime refused because the container (or process) is no
/// longer running: runc's "container not running", "process already
/// finished"; crun's "... is not running".
pub fn means_not_running(e: &RuntimeError) -> bool {
    let text = message_of(e).to_lowercase();
    text.contains("not running") || text.contains("already finished")
}

/// The runtime's own words when it gave some, else the error itself.
pub fn message_of(e: &RuntimeError) -> String {
    e.runtime_message().map_or_else(|| e.to_string(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pier_runtime::Op;

    fn failed(message: &str) -> RuntimeError {
        RuntimeError::Failed {
            op: Op::Exec,
            id: "c".into(),
            message: message.into(),
            kind: pier_runtime::classify(message),
        }
    }

    #[test]
    fn codes_follow_the_classification() {
        assert_eq!(
            code_of(&failed("exec: \"nope\": executable file not found in $PATH")),
            ErrorCode::NotFound
        );
        assert_eq!(
            code_of(&failed("exec: \"/etc\": permission denied")),
            ErrorCode::PermissionDenied
        );
        assert_eq!(code_of(&failed("boom")), ErrorCode::RuntimeFailed);
        assert!(means_not_running(&failed("container not running")));
        assert!(means_not_running(&failed("process already finished")));
        assert!(!means_not_running(&failed("boom")));
        assert_eq!(
            code_of(&RuntimeError::TimedOut {
                op: Op::Start,
                id: "c".into(),
                after: std::time::Duration::from_secs(1)
            }),
            ErrorCode::Timeout
        );
    }
}
