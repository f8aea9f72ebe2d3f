//! The daemon side of the shim contract (`pier-shim-proto`): one handle per
//! container with a typed method for every request the protocol has, each
//! bounded by a timeout, so a stopped (SIGSTOP) or wedged shim costs its
//! own container's callers a timeout and nobody else anything.
//!
//! Timeouts: a call that the shim answers from its own state (state, exec
//! state, resize, close-stdin, attach, arming a wait) gets
//! [`ShimTimeouts::answer`]; a call answered when a runtime invocation ends
//! (start, kill, exec) gets [`ShimTimeouts::runtime`]. Stream-opening calls
//! (attach, exec) are bounded only until the stream is open; a wait is
//! bounded only until it is armed.
//!
//! A lost shim (killed, crashed) leaves its container to the runtime: the
//! `runtime_*` calls ask the runtime about it through a one-shot `pier-shim
//! --recover` (the daemon never runs the runtime itself), bounded by
//! [`ShimTimeouts::runtime`], the process killed when it overruns.
//!
//! The seam: [`Shims`] is either the real `pier-shim` binary or an
//! in-process [`fake::FakeShims`] (no processes, no root), so the daemon
//! and its HTTP surface can be tested without runc, mounts or root. Nothing
//! outside this module builds `pier_shim_proto` requests.

mod client;
mod error;
pub mod fake;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pier_shim_proto::{
    AttachRequest, ExecRequest, Ready, RecoverOp, RecoverReply, RecoverRequest, Request, Response, Status,
};
use tokio::net::UnixStream;

pub use client::{parse_ready, read_frame, write_frame};
pub use error::{ProcessFailure, ShimError};
pub use pier_shim_proto::{ExecInfo, ExitRecord, RuntimeStatus};

use client::bounded;

/// How long the daemon waits for a shim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShimTimeouts {
    /// Connect plus an answer the shim gives from its own state.
    pub answer: Duration,
    /// Calls answered when a runtime invocation ends (the shim kills one
    /// after two minutes, and runs them one at a time).
    pub runtime: Duration,
}

impl Default for ShimTimeouts {
    fn default() -> Self {
        ShimTimeouts {
            answer: Duration::from_secs(3),
            runtime: Duration::from_secs(60),
        }
    }
}

/// How the daemon reaches its shims: the seam tests put a fake behind.
#[derive(Debug, Clone)]
pub struct Shims {
    backend: Backend,
    pub timeouts: ShimTimeouts,
}

#[derive(Debug, Clone)]
enum Backend {
    /// Spawn this `pier-shim` binary; talk over its socket.
    Process { binary: PathBuf },
    /// In-process fakes: no processes, no root.
    Fake(Arc<fake::FakeShims>),
}

/// A shim that reported ready: the container exists in the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spawned {
    /// The container's init (host pid).
    pub pid: i32,
    pub shim_pid: i32,
}

impl Shims {
    /// Shims run by the `pier-shim` binary at `binary`.
    pub fn process(binary: PathBuf) -> Self {
        Shims {
            backend: Backend::Process { binary },
            timeouts: ShimTimeouts::default(),
        }
    }

    /// In-process fake shims (tests).
    pub fn fake(fakes: Arc<fake::FakeShims>) -> Self {
        Shims {
            backend: Backend::Fake(fakes),
            timeouts: ShimTimeouts::default(),
        }
    }

    /// Whether starting a container needs its rootfs mounted and its bundle
    /// written (a fake shim runs nothing).
    pub fn needs_bundle(&self) -> bool {
        matches!(self.backend, Backend::Process { .. })
    }

    /// Start a shim for the container whose socket is `socket` (config in
    /// `shim_json`) and wait for its ready line: the container is created,
    /// or (`run_on_start`) the shim listens and `start` will create it
    /// (`pid` 0 until then).
    pub async fn spawn(&self, socket: &Path, shim_json: &Path) -> Result<Spawned, ShimError> {
        let ready = match &self.backend {
            Backend::Process { binary } => client::spawn(binary, shim_json).await?,
            Backend::Fake(f) => f.spawn(socket),
        };
        match ready {
            Ready::Created { pid, shim_pid } => Ok(Spawned { pid, shim_pid }),
            Ready::Listening { shim_pid } => Ok(Spawned { pid: 0, shim_pid }),
            Ready::Failed { message, code } => Err(ShimError::Refused { code, message }),
        }
    }

    /// The handle of container `id`'s shim, listening (or not) on
    /// `socket`; `runtime` is what a lost shim's container is recovered
    /// with.
    pub fn handle(&self, id: &str, socket: PathBuf, runtime: RuntimeRef) -> ShimHandle {
        ShimHandle {
            id: id.to_string(),
            socket,
            runtime,
            backend: self.backend.clone(),
            timeouts: self.timeouts,
        }
    }
}

/// The OCI runtime and its `--root`, as handed to the shims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeRef {
    pub binary: PathBuf,
    pub root: PathBuf,
}

/// What the runtime knows of a container (asked when its shim is lost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeView {
    /// Not known to the runtime: nothing of it runs.
    Missing,
    Present {
        status: RuntimeStatus,
        pid: i32,
    },
}

/// Which processes a kill reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillScope {
    /// The container's init only (docker kill, stop).
    Init,
    /// Every process of the container.
    All,
}

/// The container's state as its shim sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShimState {
    /// Created in the runtime, never started.
    Created { pid: i32 },
    Running {
        pid: i32,
        /// Frozen (`pause`).
        paused: bool,
    },
    /// Init has exited; the record once it is written.
    Exited(Option<ExitRecord>),
}

/// Which of the container's streams an attach joins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttachStreams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Replay the log first, then live output.
    pub logs: bool,
}

/// A process to start in the running container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecLaunch {
    pub exec_id: String,
    /// The OCI process JSON written for the runtime.
    pub process: PathBuf,
    pub tty: bool,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// No stream: output is discarded.
    pub detach: bool,
    /// `(height, width)` for `tty`.
    pub console_size: Option<(u16, u16)>,
}

/// A started exec: its host pid and, unless detached, its stream.
#[derive(Debug)]
pub struct ExecStarted {
    pub pid: i32,
    pub stream: Option<UnixStream>,
}

/// A connection holding a pending `Wait`: resolves when the container exits.
#[derive(Debug)]
pub struct ExitWatch {
    inner: WatchInner,
}

#[derive(Debug)]
enum WatchInner {
    Process(client::Conn),
    Fake(fake::FakeWatch),
}

impl ExitWatch {
    /// The exit record, once the container has exited. Not bounded: a
    /// container runs as long as it runs.
    pub async fn exited(self) -> Result<ExitRecord, ShimError> {
        match self.inner {
            WatchInner::Process(mut conn) => match conn.recv().await? {
                Response::Exited(rec) => Ok(rec),
                Response::Error { message, code } => Err(ShimError::Refused { code, message }),
                other => Err(ShimError::Unexpected(Box::new(other))),
            },
            WatchInner::Fake(w) => w.exited().await,
        }
    }
}

/// One container's shim.
#[derive(Debug, Clone)]
pub struct ShimHandle {
    id: String,
    socket: PathBuf,
    runtime: RuntimeRef,
    backend: Backend,
    timeouts: ShimTimeouts,
}

fn unexpected<T>(r: Response) -> Result<T, ShimError> {
    Err(ShimError::Unexpected(Box::new(r)))
}

/// The start time (clock ticks after boot) of a live, non-zombie `pid`, so
/// a reused pid is not taken for the container's init.
fn process_start(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // After the state: ppid … starttime is the 20th field from here.
    fields.nth(18)?.parse().ok()
}

fn recover_failed<T>(r: RecoverReply) -> Result<T, ShimError> {
    match r {
        RecoverReply::Failed { code, message } => Err(ShimError::Refused { code, message }),
        other => Err(ShimError::BadRecover(format!("unexpected reply {other:?}"))),
    }
}

fn expect_ok(r: Response) -> Result<(), ShimError> {
    match r {
        Response::Ok => Ok(()),
        other => unexpected(other),
    }
}

impl ShimHandle {
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// One request on a fresh connection, bounded by `after`.
    async fn call(&self, op: &'static str, after: Duration, req: Request) -> Result<Response, ShimError> {
        bounded(op, after, async {
            match &self.backend {
                Backend::Process { .. } => client::call_once(&self.socket, &req).await,
                Backend::Fake(f) => f.call(&self.socket, req).await,
            }
        })
        .await
    }

    /// Whether a shim listens on the socket (connect only).
    pub async fn is_alive(&self) -> bool {
        let probe = bounded("connect", self.timeouts.answer, async {
            match &self.backend {
                Backend::Process { .. } => client::Conn::connect(&self.socket).await.map(drop),
                Backend::Fake(f) => f.connect(&self.socket).await.map(drop),
            }
        });
        probe.await.is_ok()
    }

    /// The container's state.
    pub async fn state(&self) -> Result<ShimState, ShimError> {
        match self.call("state", self.timeouts.answer, Request::State).await? {
            Response::State(st) => Ok(match st.status {
                Status::Created => ShimState::Created { pid: st.pid },
                Status::Running => ShimState::Running {
                    pid: st.pid,
                    paused: st.paused,
                },
                Status::Stopped => ShimState::Exited(st.exit),
            }),
            other => unexpected(other),
        }
    }

    /// Run the runtime's `start` (or `run --detach` for a shim that
    /// listens without a container): init's pid when the shim reports it
    /// here, `None` when the ready line did.
    pub async fn start(&self) -> Result<Option<i32>, ShimError> {
        match self.call("start", self.timeouts.runtime, Request::Start).await? {
            Response::Ok => Ok(None),
            Response::Started { pid } => Ok(Some(pid)),
            other => unexpected(other),
        }
    }

    /// Send `signal` to the init process or to every process.
    pub async fn kill(&self, signal: i32, scope: KillScope) -> Result<(), ShimError> {
        let req = Request::Kill {
            signal,
            all: scope == KillScope::All,
        };
        expect_ok(self.call("kill", self.timeouts.runtime, req).await?)
    }

    /// Freeze every process of the container (`runtime pause`).
    pub async fn pause(&self) -> Result<(), ShimError> {
        expect_ok(self.call("pause", self.timeouts.runtime, Request::Pause).await?)
    }

    /// Thaw the container (`runtime resume`).
    pub async fn resume(&self) -> Result<(), ShimError> {
        expect_ok(self.call("resume", self.timeouts.runtime, Request::Resume).await?)
    }

    /// Apply the OCI `linux.resources` JSON file `resources` to the
    /// running container (`runtime update`).
    pub async fn update(&self, resources: PathBuf) -> Result<(), ShimError> {
        expect_ok(
            self.call("update", self.timeouts.runtime, Request::Update { resources })
                .await?,
        )
    }

    /// Wait for the container's OOM events beyond `seen`, on a connection
    /// of its own: `(count, exited)` once the count passes `seen` or the
    /// container is gone. Not bounded once sent (OOM kills come when they
    /// come).
    pub async fn oom_wait(&self, seen: u64) -> Result<(u64, bool), ShimError> {
        match self.parked("oom wait", Request::OomWait { seen }).await? {
            Response::Oom { count, exited } => Ok((count, exited)),
            Response::Error { message, code } => Err(ShimError::Refused { code, message }),
            other => unexpected(other),
        }
    }

    /// Wait for a health change numbered above `seen`, on a connection of
    /// its own: `(seq, ended)` once there is one or the checks have ended.
    /// Not bounded once sent (changes come when they come).
    pub async fn health_wait(&self, seen: u64) -> Result<(u64, bool), ShimError> {
        match self.parked("health wait", Request::HealthWait { seen }).await? {
            Response::Health { seq, exited } => Ok((seq, exited)),
            Response::Error { message, code } => Err(ShimError::Refused { code, message }),
            other => unexpected(other),
        }
    }

    /// Send `req` on a connection of its own and wait for its answer,
    /// however long the shim parks it (only the connect is bounded).
    async fn parked(&self, what: &'static str, req: Request) -> Result<Response, ShimError> {
        match &self.backend {
            Backend::Process { .. } => {
                // The connect is boxed: a parked call (one per running
                // container, for its whole run) keeps only the read.
                let mut conn =
                    Box::pin(bounded(what, self.timeouts.answer, client::Conn::connect(&self.socket))).await?;
                conn.send(&req).await?;
                conn.recv().await
            }
            Backend::Fake(f) => f.call(&self.socket, req).await,
        }
    }

    /// Arm a wait: a connection of its own with `Wait` sent. Arm it before
    /// `start`: the shim leaves once the container has exited and no
    /// client is connected.
    pub async fn arm_wait(&self) -> Result<ExitWatch, ShimError> {
        bounded("wait", self.timeouts.answer, async {
            let inner = match &self.backend {
                Backend::Process { .. } => {
                    let mut conn = client::Conn::connect(&self.socket).await?;
                    conn.send(&Request::Wait).await?;
                    WatchInner::Process(conn)
                }
                Backend::Fake(f) => WatchInner::Fake(f.watch(&self.socket).await?),
            };
            Ok(ExitWatch { inner })
        })
        .await
    }

    /// Join the container's stdio; the returned socket is the stream.
    pub async fn attach(&self, streams: AttachStreams) -> Result<UnixStream, ShimError> {
        let req = Request::Attach(AttachRequest {
            stdin: streams.stdin,
            stdout: streams.stdout,
            stderr: streams.stderr,
            logs: streams.logs,
        });
        let (reply, stream) = self.open_stream("attach", self.timeouts.answer, req).await?;
        expect_ok(reply)?;
        Ok(stream)
    }

    /// Start a process in the running container.
    pub async fn exec(&self, launch: ExecLaunch) -> Result<ExecStarted, ShimError> {
        let detach = launch.detach;
        let req = Request::Exec(ExecRequest {
            exec_id: launch.exec_id,
            process: launch.process,
            tty: launch.tty,
            stdin: launch.stdin,
            stdout: launch.stdout,
            stderr: launch.stderr,
            detach,
            console_size: launch.console_size,
        });
        match self.open_stream("exec", self.timeouts.runtime, req).await? {
            (Response::ExecStarted { pid }, stream) => Ok(ExecStarted {
                pid,
                stream: (!detach).then_some(stream),
            }),
            (other, _) => unexpected(other),
        }
    }

    /// Send a stream-opening request; bounded until its reply.
    async fn open_stream(
        &self,
        op: &'static str,
        after: Duration,
        req: Request,
    ) -> Result<(Response, UnixStream), ShimError> {
        bounded(op, after, async {
            match &self.backend {
                Backend::Process { .. } => {
                    let mut conn = client::Conn::connect(&self.socket).await?;
                    let reply = conn.call(&req).await?;
                    Ok((reply, conn.into_stream()))
                }
                Backend::Fake(f) => f.open_stream(&self.socket, req).await,
            }
        })
        .await
    }

    /// An exec's state.
    pub async fn exec_state(&self, exec_id: &str) -> Result<ExecInfo, ShimError> {
        let req = Request::ExecState {
            exec_id: exec_id.to_string(),
        };
        match self.call("exec state", self.timeouts.answer, req).await? {
            Response::ExecState(info) => Ok(info),
            other => unexpected(other),
        }
    }

    /// Wait until the exec has exited, on a connection of its own (not
    /// bounded once sent).
    pub async fn exec_wait(&self, exec_id: &str) -> Result<ExecInfo, ShimError> {
        let req = Request::ExecWait {
            exec_id: exec_id.to_string(),
        };
        match self.parked("exec wait", req).await? {
            Response::ExecState(info) => Ok(info),
            Response::Error { message, code } => Err(ShimError::Refused { code, message }),
            other => unexpected(other),
        }
    }

    /// Resize the container's terminal (`exec_id` `None`) or an exec's.
    pub async fn resize(&self, exec_id: Option<&str>, height: u16, width: u16) -> Result<(), ShimError> {
        let req = Request::Resize {
            exec_id: exec_id.map(str::to_string),
            height,
            width,
        };
        expect_ok(self.call("resize", self.timeouts.answer, req).await?)
    }

    /// Open the container's log file again by its path (after kubelet
    /// renamed it away).
    pub async fn reopen_log(&self) -> Result<(), ShimError> {
        expect_ok(
            self.call("reopen log", self.timeouts.answer, Request::ReopenLog)
                .await?,
        )
    }

    /// Close the container's stdin once what is queued is written.
    pub async fn close_stdin(&self) -> Result<(), ShimError> {
        expect_ok(
            self.call("close stdin", self.timeouts.answer, Request::CloseStdin)
                .await?,
        )
    }

    /// One recovery call (`pier-shim --recover`), bounded by the runtime
    /// timeout.
    async fn recover(&self, op: RecoverOp) -> Result<RecoverReply, ShimError> {
        let req = RecoverRequest {
            id: self.id.clone(),
            runtime: self.runtime.binary.clone(),
            runtime_root: self.runtime.root.clone(),
            op,
        };
        bounded("recover", self.timeouts.runtime, async {
            match &self.backend {
                Backend::Process { binary } => client::recover(binary, &req).await,
                Backend::Fake(f) => Ok(f.recover(&self.socket, op)),
            }
        })
        .await
    }

    /// Whether the runtime may still hold state for the container: runc
    /// and crun keep it in `<root>/<id>`, so without that directory there
    /// is nothing to ask (the common case, answered without a process).
    pub fn runtime_may_know(&self) -> bool {
        match &self.backend {
            Backend::Process { .. } => self.runtime.root.join(&self.id).exists(),
            Backend::Fake(f) => f.runtime_knows(&self.socket),
        }
    }

    /// The start time of a container process `pid` while it lives (not a
    /// zombie), so a reused pid is not taken for it: watched by pid (from
    /// `/proc`, no process spawned) while its shim is lost.
    pub fn process_start(&self, pid: i32) -> Option<u64> {
        match &self.backend {
            Backend::Process { .. } => process_start(pid),
            Backend::Fake(f) => f.process_start(&self.socket, pid),
        }
    }

    /// The runtime's view of the container (`runtime state`).
    pub async fn runtime_state(&self) -> Result<RuntimeView, ShimError> {
        match self.recover(RecoverOp::State).await? {
            RecoverReply::State { status, pid } => Ok(RuntimeView::Present { status, pid }),
            RecoverReply::NotFound => Ok(RuntimeView::Missing),
            other => recover_failed(other),
        }
    }

    /// Signal the container through the runtime (`runtime kill`); `false`
    /// when the runtime does not know it.
    pub async fn runtime_kill(&self, signal: i32, scope: KillScope) -> Result<bool, ShimError> {
        let op = RecoverOp::Kill {
            signal,
            all: scope == KillScope::All,
        };
        match self.recover(op).await? {
            RecoverReply::Ok => Ok(true),
            RecoverReply::NotFound => Ok(false),
            other => recover_failed(other),
        }
    }

    /// `runtime delete [--force]`: with `force` it kills what still runs;
    /// either way it removes the container's cgroup and runtime state.
    /// `Ok` also when the runtime does not know the container.
    pub async fn runtime_delete(&self, force: bool) -> Result<(), ShimError> {
        match self.recover(RecoverOp::Delete { force }).await? {
            RecoverReply::Ok | RecoverReply::NotFound => Ok(()),
            other => recover_failed(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time() {
        let me = std::process::id() as i32;
        let a = process_start(me);
        assert!(a.is_some());
        assert_eq!(process_start(me), a);
        assert_eq!(process_start(0), None);
        assert_eq!(process_start(-1), None);
    }
}
