//! `pier-shim --recover`: one runtime invocation for a container whose shim
//! is lost (`pier_shim_proto::recover`). No fork, no socket, no log: read
//! the request from stdin, run the runtime (waited for by pid), write the
//! reply line to stdout.

use std::io::{Read, Write};
use std::process::ExitCode;

use pier_runtime::{Failure, Runtime, RuntimeError, StateStatus};
use pier_shim_proto::{ErrorCode, RecoverOp, RecoverReply, RecoverRequest, RuntimeStatus};

/// Read the request, answer it; exit 0 once a reply line is written.
pub fn main() -> ExitCode {
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().take(64 * 1024).read_to_end(&mut input) {
        eprintln!("pier-shim --recover: read request: {e}");
        return ExitCode::FAILURE;
    }
    let req: RecoverRequest = match serde_json::from_slice(&input) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pier-shim --recover: parse request: {e}");
            return ExitCode::FAILURE;
        }
    };
    let reply = answer(&req);
    let mut line = match serde_json::to_vec(&reply) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("pier-shim --recover: encode reply: {e}");
            return ExitCode::FAILURE;
        }
    };
    line.push(b'\n');
    let mut out = std::io::stdout().lock();
    match out.write_all(&line).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pier-shim --recover: write reply: {e}");
            ExitCode::FAILURE
        }
    }
}

fn answer(req: &RecoverRequest) -> RecoverReply {
    let rt = Runtime::new(&req.runtime, &req.runtime_root);
    let done = match req.op {
        RecoverOp::State => {
            return match rt.state(&req.id) {
                Ok(st) => RecoverReply::State {
                    status: status(st.status),
                    pid: st.pid,
                },
                Err(e) => failure(e),
            }
        }
        RecoverOp::Kill { signal, all } => rt.kill(&req.id, signal, all),
        RecoverOp::Delete { force } => rt.delete(&req.id, force),
    };
    match done {
        Ok(()) => RecoverReply::Ok,
        Err(e) => failure(e),
    }
}

fn status(s: StateStatus) -> RuntimeStatus {
    match s {
        StateStatus::Creating => RuntimeStatus::Creating,
        StateStatus::Created => RuntimeStatus::Created,
        StateStatus::Running => RuntimeStatus::Running,
        StateStatus::Paused => RuntimeStatus::Paused,
        StateStatus::Stopped => RuntimeStatus::Stopped,
        StateStatus::Unknown => RuntimeStatus::Unknown,
    }
}

fn failure(e: RuntimeError) -> RecoverReply {
    if e.kind() == Failure::NotFound {
        return RecoverReply::NotFound;
    }
    RecoverReply::Failed {
        code: match e {
            RuntimeError::TimedOut { .. } => ErrorCode::Timeout,
            RuntimeError::Spawn { .. } | RuntimeError::Log { .. } => ErrorCode::Internal,
            _ => ErrorCode::RuntimeFailed,
        },
        message: e.to_string(),
    }
}
