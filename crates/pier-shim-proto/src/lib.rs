//! The daemon <-> shim contract: the shim's start configuration, the start
//! handshake, the RPC messages and their framing, and the exit record.
//!
//! It must not do anything but describe and (de)frame: no sockets, no
//! processes. `pier-shim` and `pierd` both depend on it; nothing here knows
//! HTTP or Docker API types.
//!
//! # Start handshake
//!
//! 1. `pierd` writes a [`ShimConfig`] as JSON to `<bundle>/shim.json`, then
//!    spawns `pier-shim <bundle>/shim.json` with stdin `/dev/null` and stdout
//!    a pipe (the *ready pipe*), stderr `/dev/null`.
//! 2. The shim first moves the ready pipe off fd 1 onto a close-on-exec fd
//!    and points stdin, stdout and stderr at `/dev/null` (so no child can
//!    inherit the pipe). It validates the config (a bad one: `Ready::Failed`,
//!    exit 1, no fork), forks (the first process exits 0 at once and is
//!    reaped by `pierd`; the child is reparented to init), calls `setsid`,
//!    sets `PR_SET_CHILD_SUBREAPER`, closes every other inherited fd, opens
//!    its own log file (level from env `PIER_SHIM_LOG`, default `info`),
//!    binds [`ShimConfig::socket`], and (unless [`ShimConfig::run_on_start`])
//!    runs `<runtime> create` with the container's stdio pipes (stdin is `/dev/null` unless
//!    [`ShimConfig::open_stdin`]). The runtime gets `--pid-file
//!    <bundle>/init.pid` and `--log <bundle>/runtime.log --log-format json`;
//!    failures carry the last error-level message of that log. With
//!    [`ShimConfig::tty`] there are no pipes: the runtime gets
//!    `--console-socket <bundle>/console.sock`, sends the pty master over it
//!    (SCM_RIGHTS), and the shim logs the terminal's output as stdout; the
//!    console socket is removed once `create` has ended.
//! 3. It writes exactly one [`Ready`] JSON line to the ready pipe and closes
//!    it. `pierd` reads the ready pipe to
//!    EOF: `Ready::Created` means the socket accepts RPCs and the container
//!    is in the runtime's `created` state; `Ready::Failed` carries the reason
//!    (for example the runtime's stderr). EOF without a line means the shim
//!    died: `pierd` reports that and cleans up.
//! 4. `pierd` sends [`Request::Start`]; the shim runs `<runtime> start`.
//!
//! With [`ShimConfig::run_on_start`] the runtime runs once per start instead
//! of twice: the shim answers `Ready::Listening` as soon as its socket is
//! bound (no runtime container exists yet), `pierd` connects its exit
//! monitor (`Wait`) and held attach sessions, then sends `Start`, and the
//! shim runs `<runtime> run --detach` with the same pid file, stdio and
//! console socket `create` would get. `Start` is then answered with
//! [`Response::Started`] (init's pid) once the runtime has returned; exits
//! reaped meanwhile are handled after it, as during `create`. A `Kill`
//! before `Start` records an exit by that signal (nothing ran), so a shim
//! found waiting by a restarted `pierd` is settled like a created one.
//!
//! # RPC
//!
//! A unix stream socket at [`ShimConfig::socket`]. Each message is a frame: a
//! big-endian `u32` length, then that many bytes of JSON ([`MAX_FRAME`] at
//! most). The client sends one [`Request`] and reads one [`Response`]; a
//! connection may carry any number of such exchanges in order.
//! [`Request::Wait`] is answered only when the container has exited (with
//! [`Response::Exited`]), or at once if it already has. A connection's next
//! request is read only after the previous one is answered, so a `Wait`
//! holds its connection: use a connection of its own for it.
//! [`Request::Start`], [`Request::Kill`], [`Request::Pause`],
//! [`Request::Resume`] and [`Request::Update`] are answered when the runtime
//! invocation ends (`Ok`, or `Error` with the runtime's message); the shim
//! runs one invocation at a time, in arrival order, and kills one that takes
//! longer than two minutes.
//!
//! Every `Error` (and `Ready::Failed`) carries an [`ErrorCode`] saying what
//! kind of failure it is (the runtime's classified failure, or the shim's
//! own check), so `pierd` never reads meaning out of the message. The field
//! is optional: shims older than it send none and it reads as `Unknown`.
//!
//! [`Request::OomWait`] is parked the same way: the shim learns of OOM
//! kills as they happen (cgroup v1: an eventfd registered through
//! `cgroup.event_control` on `memory.oom_control`; v2: inotify on
//! `memory.events`) and answers every parked `OomWait` whose `seen` is
//! below its count; at the container's deletion it answers the rest with
//! `exited: true`.
//! [`Request::HealthWait`] likewise waits for a health status change
//! numbered above `seen` (answered at once when the checks have ended or
//! there are none), and [`Request::ExecWait`] for an exec's exit (answered
//! with its `ExecState`). Shims older than these answer `Error` `Invalid`
//! ("bad request"), and pierd falls back to asking now and then.
//!
//! # Stdio streams: attach and exec
//!
//! [`Request::Attach`] and an attached [`Request::Exec`] turn their
//! connection into a *stream* once the reply (`Ok` / [`Response::ExecStarted`])
//! has been sent; no further requests are read on it.
//!
//! - shim -> pierd: frames of the same layout as Docker's stdcopy: one byte
//!   [`StreamKind`], three zero bytes, a big-endian `u32` length, then the
//!   payload. `Stdout`/`Stderr` frames carry output (a TTY's output is all
//!   `Stdout`), so pierd can forward them to a non-TTY Docker client as they
//!   are. `Notice` carries UTF-8 text for the user (for example output a
//!   lagging client lost under the `none` log driver). `End` is always the
//!   last frame: its payload is a JSON [`StreamEnd`]; the shim closes the
//!   connection after it.
//! - pierd -> shim: raw stdin bytes, used only if the request asked for
//!   stdin (and, for attach, the container was created with `open_stdin`);
//!   otherwise discarded. A half-close (`shutdown(SHUT_WR)`) is stdin's EOF:
//!   it closes an exec's stdin, and the container's stdin when the container
//!   has `stdin_once`. Closing the whole connection is a detach.
//! - A client that reads too slowly never blocks the container, the log or
//!   other clients: the shim keeps a bounded buffer per stream and, past it,
//!   replays the client's missed output from the log file, so it loses
//!   nothing (with the `none` driver it skips ahead and sends a `Notice`).
//! - An exec's stream ends once the exec'd process has exited and the
//!   output already in its pipes has been forwarded, even if a background
//!   child still holds the pipes open. Its `End` carries the exit code,
//!   which the shim records before it sends the frame.
//! - An attach stream ends when the container exits (after the last of its
//!   output), with the container's exit code.
//!
//! Details as `pier-shim` implements them:
//!
//! - Attach is accepted while the container is created or running (attach
//!   before `Start` to miss nothing); otherwise `Error` "container is not
//!   running" (or "container is still being created"). Live output starts
//!   at the attach; `logs` first replays the whole log (rotated files
//!   included). An unterminated last line written before a live attach is
//!   not sent to it.
//! - Several stdin writers: bytes go to the container's stdin in the order
//!   the shim reads them from the connections (chunks interleave; nothing
//!   frames them). Stdin has backpressure: while the process does not read
//!   (256 KiB queued) the shim stops reading the writers' input; output is
//!   unaffected. Without `open_stdin` (or `stdin: false`) input is read and
//!   dropped.
//! - The lost-output `Notice` reads `pier: this client fell behind and lost
//!   N bytes of output (the container's log driver is none)`.
//! - Exec: `exec_id` is `[A-Za-z0-9_-]{1,128}` and unique per container
//!   (a second `Exec` with the same id is an `Error`); exec is accepted only
//!   while the container is running. The shim runs `runtime exec --process
//!   <process> --pid-file <bundle>/exec-<exec_id>.pid --detach
//!   [--console-socket <bundle>/x<n>.sock]` in the invocation queue and
//!   answers `ExecStarted` once it returned. A detached exec's connection
//!   stays an RPC connection. With `tty`, put the initial size into the
//!   process JSON as `consoleSize` too: the runtime sizes the terminal
//!   before the process runs (the shim's own resize from `console_size`
//!   comes after it started). A TTY exec's output is all `Stdout`.
//! - A failed exec is `Error` with the runtime's own message, for runc
//!   1.1: `exec failed: unable to start container process: exec: "nope":
//!   executable file not found in $PATH` (Docker: 127), `...: exec:
//!   "/proc": permission denied` (126), `...: no such file or directory`
//!   for a missing path (127).
//! - Exec output is not logged and, unlike a container's, has
//!   backpressure: while its stream holds 2 MiB unread the shim stops
//!   reading the exec's pipes. After the process exits, what is in its
//!   pipes is forwarded (a terminal gets 100 ms for its last bytes), then
//!   `End`; `ExecState` already shows the exit code when `End` is sent.
//!   Finished execs are remembered until the shim exits.
//! - `ExecState` of an unknown id is `Error` "no such exec: \<id\>"; before
//!   the runtime started it, `running: false, pid: 0`.
//! - `Resize` of a container without a terminal is an `Error`; of an exec
//!   not started yet, it becomes its initial size; of an exec without a
//!   terminal, an `Error`. `CloseStdin` is always `Ok` (nothing to close
//!   without `open_stdin`); it waits for queued input to be written.
//!
//! # Exit
//!
//! When the container's init exits the shim drains stdout/stderr to EOF
//! (giving up after two seconds if a stray process keeps them open),
//! flushes the log, writes the [`ExitRecord`] to [`ShimConfig::exit_path`]
//! atomically (write, fsync, rename), runs `<runtime> delete`, and once that
//! ended answers every pending `Wait`; it exits once no client connection is
//! left open (at once if none is), or at once after a [`Request::Shutdown`]
//! (SIGTERM and SIGINT mean the same). It removes its socket on the way out.
//! The record on disk is the truth for a daemon that was not there to hear
//! it.
//!
//! # A lost shim
//!
//! A shim that dies without writing the exit record (SIGKILL, a crash) leaves
//! its container to the runtime. `pierd` then asks the runtime through a
//! one-shot `pier-shim --recover` ([`recover`]): the container's real state,
//! and `kill`/`delete --force` to end it.

pub mod frame;
pub mod health;
pub mod recover;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use frame::{FrameDecoder, FrameError, MAX_FRAME};
pub use recover::{RecoverOp, RecoverReply, RecoverRequest, RuntimeStatus};

/// What `pierd` hands the shim at start, as `<bundle>/shim.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimConfig {
    /// Full 64-hex container id (also the runtime's container id).
    pub id: String,
    /// OCI bundle directory holding `config.json` (and `shim.json`).
    pub bundle: PathBuf,
    /// Path of the OCI runtime binary (runc, crun).
    pub runtime: PathBuf,
    /// The runtime's `--root` state directory.
    pub runtime_root: PathBuf,
    /// The RPC socket to bind.
    pub socket: PathBuf,
    /// Where the exit record is written.
    pub exit_path: PathBuf,
    /// The shim's own diagnostic log.
    pub shim_log: PathBuf,
    /// The container's log.
    pub log: LogSettings,
    /// Keep a writable stdin for the container (`docker run -i`).
    pub open_stdin: bool,
    /// Close the container's stdin when the first attached client detaches.
    pub stdin_once: bool,
    /// Allocate a terminal (`docker run -t`).
    pub tty: bool,
    /// The healthcheck the shim runs (absent: none).
    #[serde(default)]
    pub health: Option<health::HealthSettings>,
    /// Create nothing until `Start`, then `runtime run --detach` (one
    /// runtime process per start instead of `create` + `start`).
    #[serde(default)]
    pub run_on_start: bool,
}

/// Where and how the shim writes the container's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSettings {
    /// `json-file`, `cri` (the same files in the Kubernetes CRI line
    /// format) or `none`.
    pub driver: String,
    /// The json-file path `<data-root>/containers/<id>/<id>-json.log`.
    pub path: PathBuf,
    /// Rotate when the file reaches this many bytes; `None` never rotates.
    pub max_size: Option<u64>,
    /// Files kept, the live one included.
    pub max_file: u32,
    /// Gzip rotated files (`<path>.N.gz`).
    #[serde(default)]
    pub compress: bool,
    /// Attributes stored with every record (docker's `attrs`, from
    /// `--log-opt labels=/env=`), shown by `logs --details`.
    #[serde(default)]
    pub attrs: Vec<(String, String)>,
}

/// The one line the shim writes to its ready pipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Ready {
    /// The container exists in the runtime; `pid` is its init (host pid).
    Created { pid: i32, shim_pid: i32 },
    /// The socket accepts RPCs; the runtime container is made by `Start`
    /// ([`ShimConfig::run_on_start`]).
    Listening { shim_pid: i32 },
    /// The shim could not create the container.
    Failed {
        message: String,
        /// What kind of failure (absent from shims before codes existed).
        #[serde(default)]
        code: ErrorCode,
    },
}

/// A request from `pierd` to a shim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Report the container's state.
    State,
    /// Run the runtime's `start` (`run --detach` with
    /// [`ShimConfig::run_on_start`]).
    Start,
    /// Send a signal to the init process (`all`: to every process).
    Kill { signal: i32, all: bool },
    /// Answer when the container has exited.
    Wait,
    /// Exit the shim once the container is gone (kills nothing itself).
    Shutdown,
    /// Join the container's stdio; the connection becomes a stream.
    Attach(AttachRequest),
    /// Start a process in the container (`runtime exec --detach`); the
    /// connection becomes its stream unless `detach`.
    Exec(ExecRequest),
    /// Report an exec's state.
    ExecState { exec_id: String },
    /// Resize the container's terminal, or an exec's with `exec_id`.
    Resize {
        exec_id: Option<String>,
        height: u16,
        width: u16,
    },
    /// Close the container's stdin (EOF).
    CloseStdin,
    /// Freeze every process of the container (`runtime pause`).
    Pause,
    /// Thaw a paused container (`runtime resume`).
    Resume,
    /// Change the running container's resource limits (`runtime update
    /// --resources FILE`): `resources` is an OCI `linux.resources` JSON
    /// file written by pierd.
    Update { resources: PathBuf },
    /// Answer with [`Response::Oom`] once the kernel's OOM killer has
    /// struck the container's cgroup more than `seen` times since it was
    /// created, or once the container is gone. Holds its connection like
    /// `Wait`.
    OomWait { seen: u64 },
    /// Answer with [`Response::Health`] once the health record holds a
    /// status change numbered above `seen`, or once the container is gone
    /// (or has no healthcheck). Holds its connection like `Wait`.
    HealthWait { seen: u64 },
    /// Answer with [`Response::ExecState`] once the exec has exited (at
    /// once if it has); an unknown id is an `Error`. Holds its connection
    /// like `Wait`.
    ExecWait { exec_id: String },
    /// Write what the log holds, then open the log file again by its path
    /// (kubelet renamed it away to rotate it: CRI `ReopenContainerLog`).
    ReopenLog,
}

/// Which of the container's streams an attach wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachRequest {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Replay the log first, then live output, with no gap or duplicate.
    pub logs: bool,
}

/// A process to run inside the running container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRequest {
    /// Docker's exec id (64 hex).
    pub exec_id: String,
    /// An OCI `process` JSON file written by pierd (`runtime exec --process`).
    pub process: PathBuf,
    pub tty: bool,
    /// Give the process a stdin pipe fed from the stream.
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Detached (`docker exec -d`): no stream; output is discarded.
    pub detach: bool,
    /// Initial terminal size `(height, width)` for `tty`.
    pub console_size: Option<(u16, u16)>,
}

/// The kind byte of a stream frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum StreamKind {
    Stdout = 1,
    Stderr = 2,
    Notice = 3,
    End = 4,
}

impl StreamKind {
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => StreamKind::Stdout,
            2 => StreamKind::Stderr,
            3 => StreamKind::Notice,
            4 => StreamKind::End,
            _ => return None,
        })
    }
}

/// Payload of the last frame of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamEnd {
    /// The exec's or the container's exit code; `None` if unknown (for
    /// example the shim is shutting down).
    pub exit_code: Option<i32>,
}

/// An exec as the shim sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecInfo {
    pub running: bool,
    pub pid: i32,
    pub exit_code: Option<i32>,
}

/// A shim's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Response {
    Ok,
    State(StateInfo),
    Exited(ExitRecord),
    Error {
        message: String,
        /// What kind of failure; absent (`Unknown`) from shims older than
        /// the codes, which a new pierd must still understand.
        #[serde(default)]
        code: ErrorCode,
    },
    /// The exec'd process runs with this host pid.
    ExecStarted {
        pid: i32,
    },
    /// `Start` of a [`ShimConfig::run_on_start`] shim: the container runs,
    /// its init is this host pid.
    Started {
        pid: i32,
    },
    ExecState(ExecInfo),
    /// OOM events of the container's cgroup since create (v1: the
    /// `memory.oom_control` eventfd, v2: `memory.events`); `exited`: the
    /// container is gone and no more will come.
    Oom {
        count: u64,
        exited: bool,
    },
    /// The number of the last health change recorded in `health.json`;
    /// `exited`: no more will come from this run.
    Health {
        seq: u64,
        exited: bool,
    },
}

/// The kind of an [`Response::Error`] or [`Ready::Failed`], so `pierd`
/// never reads meaning out of message text. Filled from the runtime's
/// classified failure (`pier_runtime::Failure`) or the shim's own checks.
///
/// On the wire a snake_case string. It is optional in both directions: a
/// shim started by an older `pierd` sends none (`Unknown`), and a code this
/// side does not know yet also reads as `Unknown`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// What the request names does not exist: the process's executable or
    /// working directory (docker's exit code 127), an exec id, the
    /// container in the runtime.
    NotFound,
    /// The process's executable exists but cannot be run (docker's 126).
    PermissionDenied,
    /// The request cannot be served in the container's current state (not
    /// running, still being created).
    NotRunning,
    /// The request is malformed or contradicts itself (a duplicate exec id,
    /// resizing a process without a terminal).
    Invalid,
    /// The runtime invocation overran and was killed.
    Timeout,
    /// The runtime failed for another reason; the message says why.
    RuntimeFailed,
    /// The shim could not do its own part (pipes, sockets, files).
    Internal,
    /// No code sent (an older shim) or one this side does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unknown => "unknown",
            ErrorCode::NotFound => "not_found",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::NotRunning => "not_running",
            ErrorCode::Invalid => "invalid",
            ErrorCode::Timeout => "timeout",
            ErrorCode::RuntimeFailed => "runtime_failed",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The container's state as the shim sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Created,
    Running,
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateInfo {
    pub status: Status,
    pub pid: i32,
    /// Unix nanoseconds of `start`, if it ran.
    pub started_at: Option<i64>,
    pub exit: Option<ExitRecord>,
    /// Frozen by a `Pause` (absent from shims before pause existed).
    #[serde(default)]
    pub paused: bool,
}

/// How the container's init ended. Written to `exit.json` before any client
/// hears of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// Docker's exit code: the status, or 128 + signal.
    pub exit_code: i32,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// Unix nanoseconds.
    pub started_at: Option<i64>,
    /// Unix nanoseconds.
    pub finished_at: i64,
    pub oom_killed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_code_is_optional_both_ways() {
        // A shim started by an older pierd sends no code.
        let old: Response = serde_json::from_str(r#"{"reply":"error","message":"boom"}"#).expect("old reply");
        assert_eq!(
            old,
            Response::Error {
                message: "boom".into(),
                code: ErrorCode::Unknown
            }
        );
        // A code this side does not know yet.
        let newer: Response =
            serde_json::from_str(r#"{"reply":"error","message":"x","code":"quota_exceeded"}"#).expect("newer reply");
        assert!(matches!(
            newer,
            Response::Error {
                code: ErrorCode::Unknown,
                ..
            }
        ));
        let sent = serde_json::to_string(&Response::Error {
            message: "m".into(),
            code: ErrorCode::NotFound,
        })
        .expect("encode");
        assert_eq!(sent, r#"{"reply":"error","message":"m","code":"not_found"}"#);
        let ready: Ready = serde_json::from_str(r#"{"status":"failed","message":"m"}"#).expect("old ready");
        assert!(matches!(
            ready,
            Ready::Failed {
                code: ErrorCode::Unknown,
                ..
            }
        ));
    }
}
