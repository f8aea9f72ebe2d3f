//! The OCI runtime driver: typed options to `runc`/`crun` argv (pure
//! functions), spawning, reading the runtime's JSON error log, and parsing
//! `state` output.
//!
//! It must not know about pierd, the Engine API or the shim protocol, and
//! must not reap: a caller that waits with `waitpid(-1)` (the shim) spawns
//! through [`Runtime::spawn`], collects the exit itself and hands the status
//! back to [`Runtime::check`]. The blocking [`Runtime::run`] is for callers
//! that do not reap with `-1`.

mod args;
mod error;
mod state;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use args::{CreateOptions, ExecOptions, Op};
pub use error::{classify, last_error_message, Failure, RuntimeError};
pub use state::{parse_state, State, StateStatus};

/// One OCI runtime binary with its state root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// `runc`, `crun`, or a path to one.
    pub binary: PathBuf,
    /// The runtime's `--root`.
    pub root: PathBuf,
    /// Passed as `--log FILE --log-format json`; where errors are read from.
    pub log: Option<PathBuf>,
}

/// The three standard streams of a runtime invocation.
#[derive(Debug)]
pub struct ChildStdio {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
}

impl ChildStdio {
    /// All three at `/dev/null`.
    pub fn null() -> Self {
        ChildStdio {
            stdin: Stdio::null(),
            stdout: Stdio::null(),
            stderr: Stdio::null(),
        }
    }
}

impl Runtime {
    pub fn new(binary: impl Into<PathBuf>, root: impl Into<PathBuf>) -> Self {
        Runtime {
            binary: binary.into(),
            root: root.into(),
            log: None,
        }
    }

    /// Have the runtime log JSON to `path`; failures are read from there.
    pub fn with_log(mut self, path: impl Into<PathBuf>) -> Self {
        self.log = Some(path.into());
        self
    }

    /// Arguments before the subcommand.
    pub fn global_args(&self) -> Vec<OsString> {
        args::global(&self.root, self.log.as_deref())
    }

    pub fn create_args(&self, id: &str, opts: &CreateOptions) -> Vec<OsString> {
        self.with_global(args::create(id, opts))
    }

    /// `run --detach`: created and started by one runtime process.
    pub fn run_detached_args(&self, id: &str, opts: &CreateOptions) -> Vec<OsString> {
        self.with_global(args::run_detached(id, opts))
    }

    pub fn exec_args(&self, id: &str, opts: &ExecOptions) -> Vec<OsString> {
        self.with_global(args::exec(id, opts))
    }

    pub fn start_args(&self, id: &str) -> Vec<OsString> {
        self.with_global(args::start(id))
    }

    pub fn kill_args(&self, id: &str, signal: i32, all: bool) -> Vec<OsString> {
        self.with_global(args::kill(id, signal, all))
    }

    pub fn delete_args(&self, id: &str, force: bool) -> Vec<OsString> {
        self.with_global(args::delete(id, force))
    }

    pub fn state_args(&self, id: &str) -> Vec<OsString> {
        self.with_global(args::state(id))
    }

    pub fn pause_args(&self, id: &str) -> Vec<OsString> {
        self.with_global(args::pause(id))
    }

    pub fn resume_args(&self, id: &str) -> Vec<OsString> {
        self.with_global(args::resume(id))
    }

    pub fn update_args(&self, id: &str, resources: &Path) -> Vec<OsString> {
        self.with_global(args::update(id, resources))
    }

    fn with_global(&self, sub: Vec<OsString>) -> Vec<OsString> {
        let mut all = self.global_args();
        all.extend(sub);
        all
    }

    /// Truncate the JSON log, so the next failure reads only its own lines.
    /// Callers that run one invocation at a time call this before each.
    pub fn reset_log(&self) -> Result<(), RuntimeError> {
        if let Some(log) = &self.log {
            std::fs::write(log, b"").map_err(|source| RuntimeError::Log {
                path: log.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Start `binary args` with `stdio` and return its pid without waiting.
    /// The caller reaps it (with `waitpid(-1)` or by pid).
    pub fn spawn(&self, args: &[OsString], stdio: ChildStdio) -> Result<u32, RuntimeError> {
        tracing::debug!(binary = %self.binary.display(), ?args, "spawn runtime");
        let child = Command::new(&self.binary)
            .args(args)
            .stdin(stdio.stdin)
            .stdout(stdio.stdout)
            .stderr(stdio.stderr)
            .spawn()
            .map_err(|source| RuntimeError::Spawn {
                binary: self.binary.clone(),
                source,
            })?;
        // Dropping a Child neither kills nor waits; the caller reaps by pid.
        Ok(child.id())
    }

    /// Turn an invocation's end into a result: `Ok` when it succeeded,
    /// otherwise the runtime's own message (from the JSON log, else
    /// `status`).
    pub fn check(&self, op: Op, id: &str, success: bool, status: &str) -> Result<(), RuntimeError> {
        if success {
            return Ok(());
        }
        Err(self.failure(op, id, status))
    }

    /// The error for a failed invocation, reading the JSON log.
    pub fn failure(&self, op: Op, id: &str, status: &str) -> RuntimeError {
        self.failure_with_stderr(op, id, status, "")
    }

    /// The error for a failed invocation: the JSON log's last error, else
    /// the invocation's stderr, else its exit status.
    fn failure_with_stderr(&self, op: Op, id: &str, status: &str, stderr: &str) -> RuntimeError {
        let logged = self
            .log
            .as_deref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|text| last_error_message(&text));
        let stderr = stderr.trim();
        let message = logged.unwrap_or_else(|| {
            if stderr.is_empty() {
                format!("{} {status}", self.binary.display())
            } else {
                text_log_message(stderr).unwrap_or_else(|| stderr.to_owned())
            }
        });
        RuntimeError::Failed {
            op,
            id: id.to_owned(),
            kind: classify(&message),
            message,
        }
    }

    /// Run an invocation to completion (blocking, waits by pid) and return
    /// its stdout.
    pub fn run(&self, op: Op, id: &str, args: &[OsString]) -> Result<Vec<u8>, RuntimeError> {
        self.reset_log()?;
        let out = Command::new(&self.binary)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|source| RuntimeError::Spawn {
                binary: self.binary.clone(),
                source,
            })?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(self.failure_with_stderr(op, id, &out.status.to_string(), &stderr))
    }

    /// `state ID`, blocking.
    pub fn state(&self, id: &str) -> Result<State, RuntimeError> {
        let out = self.run(Op::State, id, &self.state_args(id))?;
        parse_state(&out).map_err(|source| RuntimeError::State {
            id: id.to_owned(),
            source,
        })
    }

    /// `kill [--all] ID SIGNAL`, blocking.
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<(), RuntimeError> {
        self.run(Op::Kill, id, &self.kill_args(id, signal, all)).map(drop)
    }

    /// `delete [--force] ID`, blocking.
    pub fn delete(&self, id: &str, force: bool) -> Result<(), RuntimeError> {
        self.run(Op::Delete, id, &self.delete_args(id, force)).map(drop)
    }

    /// The path of the runtime's log, if one is set.
    pub fn log_path(&self) -> Option<&Path> {
        self.log.as_deref()
    }
}

/// The last `msg="…"` of a runtime's text log on stderr (runc without
/// `--log-format json` writes logfmt: `time="…" level=error msg="…"`).
fn text_log_message(stderr: &str) -> Option<String> {
    let line = stderr.lines().rev().find(|l| l.contains("msg=\""))?;
    let start = line.find("msg=\"")? + "msg=\"".len();
    let mut out = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[OsString]) -> Vec<&str> {
        v.iter().map(|s| s.to_str().unwrap_or("?")).collect()
    }

    #[test]
    fn full_argv() {
        let rt = Runtime::new("/usr/bin/runc", "/run/pier/runc").with_log("/b/runtime.log");
        let opts = CreateOptions {
            bundle: "/b".into(),
            pid_file: "/b/init.pid".into(),
            console_socket: None,
        };
        assert_eq!(
            strs(&rt.create_args("abc", &opts)),
            [
                "--root",
                "/run/pier/runc",
                "--log",
                "/b/runtime.log",
                "--log-format",
                "json",
                "create",
                "--bundle",
                "/b",
                "--pid-file",
                "/b/init.pid",
                "abc"
            ]
        );
        let bare = Runtime::new("runc", "/r");
        assert_eq!(strs(&bare.start_args("x")), ["--root", "/r", "start", "x"]);
    }

    #[test]
    fn failure_reads_the_json_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("runtime.log");
        let rt = Runtime::new("/bin/sh", "/r").with_log(&log);
        std::fs::write(&log, "{\"level\":\"error\",\"msg\":\"container does not exist\"}\n").expect("write");
        let err = rt
            .check(Op::Kill, "abc", false, "exited with status 1")
            .expect_err("fails");
        assert_eq!(err.runtime_message(), Some("container does not exist"));
        assert_eq!(err.kind(), Failure::NotFound);
        assert_eq!(err.to_string(), "runtime kill abc: container does not exist");
        rt.reset_log().expect("reset");
        let err = rt.failure(Op::Start, "abc", "exited with status 1");
        assert_eq!(err.runtime_message(), Some("/bin/sh exited with status 1"));
        assert!(rt.check(Op::Start, "abc", true, "").is_ok());
    }

    #[test]
    fn blocking_run_reports_stderr_without_log() {
        let rt = Runtime::new("/bin/sh", "/nonexistent");
        let err = rt
            .run(Op::State, "x", &["-c".into(), "echo boom >&2; exit 3".into()])
            .expect_err("fails");
        assert!(err.to_string().contains("boom"), "{err}");
        let err = rt
            .run(
                Op::State,
                "x",
                &[
                    "-c".into(),
                    "echo 'time=\"2026-12-03T01:47:45Z\" level=error msg=\"container \\\"x\\\" does not exist\"' >&2; exit 1".into(),
                ],
            )
            .expect_err("fails");
        assert_eq!(err.runtime_message(), Some("container \"x\" does not exist"));
        assert_eq!(err.kind(), Failure::NotFound);
    }
}
