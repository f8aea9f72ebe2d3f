//! In-process fake shims: the protocol's behaviour without processes, so
//! the daemon and its HTTP surface run in tests without root, runc or
//! mounts. A fake container starts, runs until killed (or told to exit) and
//! streams nothing but its end; it runs no exec. A shim can be *wedged*:
//! it then accepts connections and never answers, like a SIGSTOPped one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use pier_shim_proto::{
    ErrorCode, ExitRecord, Ready, RecoverOp, RecoverReply, Request, Response, RuntimeStatus, StateInfo, Status,
    StreamEnd, StreamKind,
};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::sync::watch;

use super::ShimError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Created,
    Running { started_at: i64 },
    Exited(ExitRecord),
}

#[derive(Debug)]
pub(super) struct FakeShim {
    pid: i32,
    phase: watch::Sender<Phase>,
    wedged: AtomicBool,
    paused: AtomicBool,
    /// The last resources file an `Update` named.
    updated: Mutex<Option<PathBuf>>,
}

/// Every fake shim of a daemon, by socket path. Survives a daemon restart
/// when the test hands the same `Arc` to the next daemon.
#[derive(Debug, Default)]
pub struct FakeShims {
    shims: Mutex<HashMap<PathBuf, Arc<FakeShim>>>,
    /// Containers whose shim was lost (`lose`), as the runtime holds them.
    runtime: Mutex<HashMap<PathBuf, Orphan>>,
    next_pid: AtomicI32,
}

/// A container left to the fake runtime by a lost shim.
#[derive(Debug, Clone, Copy)]
struct Orphan {
    pid: i32,
    stopped: bool,
    /// The runtime fails to kill or delete it.
    jammed: bool,
}

/// A pending wait on a fake shim.
#[derive(Debug)]
pub struct FakeWatch {
    phase: watch::Receiver<Phase>,
}

impl FakeWatch {
    pub(super) async fn exited(mut self) -> Result<ExitRecord, ShimError> {
        let phase = self
            .phase
            .wait_for(|p| matches!(p, Phase::Exited(_)))
            .await
            .map_err(|_| ShimError::Closed)?;
        match &*phase {
            Phase::Exited(rec) => Ok(rec.clone()),
            _ => Err(ShimError::Closed),
        }
    }
}

fn refused(code: ErrorCode, message: &str) -> ShimError {
    ShimError::Refused {
        code,
        message: message.to_string(),
    }
}

fn now_nanos() -> i64 {
    pier_time::now_nanos()
}

impl FakeShims {
    pub fn new() -> Arc<Self> {
        Arc::new(FakeShims {
            shims: Mutex::new(HashMap::new()),
            runtime: Mutex::new(HashMap::new()),
            next_pid: AtomicI32::new(10_000),
        })
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<FakeShim>>> {
        self.shims.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The shim of container `id` (its socket is `<exec-root>/<id>/shim.sock`).
    fn by_id(&self, id: &str) -> Option<Arc<FakeShim>> {
        self.map()
            .iter()
            .find(|(socket, _)| socket.parent().and_then(Path::file_name).is_some_and(|n| n == id))
            .map(|(_, s)| s.clone())
    }

    pub(super) fn spawn(&self, socket: &Path) -> Ready {
        let pid = self.next_pid.fetch_add(2, Ordering::Relaxed);
        let shim = Arc::new(FakeShim {
            pid,
            phase: watch::Sender::new(Phase::Created),
            wedged: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            updated: Mutex::new(None),
        });
        self.map().insert(socket.to_path_buf(), shim);
        Ready::Created { pid, shim_pid: pid + 1 }
    }

    /// Make container `id`'s shim stop answering (SIGSTOP), or answer again.
    pub fn wedge(&self, id: &str, wedged: bool) -> bool {
        match self.by_id(id) {
            Some(s) => {
                s.wedged.store(wedged, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// Make container `id`'s init exit with `code`.
    pub fn exit(&self, id: &str, code: i32) -> bool {
        match self.by_id(id) {
            Some(s) => {
                s.finish(code, None);
                true
            }
            None => false,
        }
    }

    fn orphans(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Orphan>> {
        self.runtime.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Kill container `id`'s shim (SIGKILL): its socket stops answering,
    /// pending waits break, and a container that was running is left to
    /// the runtime. `jammed`: the runtime then fails to kill or delete it.
    pub fn lose(&self, id: &str, jammed: bool) -> bool {
        let Some((socket, shim)) = self
            .map()
            .iter()
            .find(|(socket, _)| socket.parent().and_then(Path::file_name).is_some_and(|n| n == id))
            .map(|(k, v)| (k.clone(), v.clone()))
        else {
            return false;
        };
        self.map().remove(&socket);
        if matches!(*shim.phase.borrow(), Phase::Running { .. } | Phase::Created) {
            let orphan = Orphan {
                pid: shim.pid,
                stopped: false,
                jammed,
            };
            self.orphans().insert(socket, orphan);
        }
        true
    }

    /// Let the fake runtime work again on container `id` (see `lose`).
    pub fn unjam(&self, id: &str) {
        for (socket, o) in self.orphans().iter_mut() {
            if socket.parent().and_then(Path::file_name).is_some_and(|n| n == id) {
                o.jammed = false;
            }
        }
    }

    pub(super) fn runtime_knows(&self, socket: &Path) -> bool {
        self.orphans().contains_key(socket)
    }

    /// A lost container's init lives until the runtime killed it.
    pub(super) fn process_start(&self, socket: &Path, pid: i32) -> Option<u64> {
        self.orphans()
            .get(socket)
            .filter(|o| o.pid == pid && !o.stopped)
            .map(|_| 1)
    }

    /// A recovery call against the fake runtime: it knows only containers
    /// whose shim was lost.
    pub(super) fn recover(&self, socket: &Path, op: RecoverOp) -> RecoverReply {
        let mut orphans = self.orphans();
        let Some(o) = orphans.get_mut(socket) else {
            return match op {
                RecoverOp::State | RecoverOp::Kill { .. } => RecoverReply::NotFound,
                RecoverOp::Delete { .. } => RecoverReply::Ok,
            };
        };
        let jammed = || RecoverReply::Failed {
            code: ErrorCode::RuntimeFailed,
            message: "fake runtime: operation not permitted".to_string(),
        };
        match op {
            RecoverOp::State => RecoverReply::State {
                status: if o.stopped {
                    RuntimeStatus::Stopped
                } else {
                    RuntimeStatus::Running
                },
                pid: o.pid,
            },
            RecoverOp::Kill { .. } if o.jammed => jammed(),
            RecoverOp::Kill { .. } => {
                o.stopped = true;
                RecoverReply::Ok
            }
            RecoverOp::Delete { .. } if o.jammed => jammed(),
            RecoverOp::Delete { force } if force || o.stopped => {
                orphans.remove(socket);
                RecoverReply::Ok
            }
            RecoverOp::Delete { .. } => RecoverReply::Failed {
                code: ErrorCode::RuntimeFailed,
                message: "fake runtime: cannot delete a running container".to_string(),
            },
        }
    }

    /// How many shims exist (running or exited, not yet shut down).
    pub fn count(&self) -> usize {
        self.map().len()
    }

    pub(super) async fn connect(&self, socket: &Path) -> Result<Arc<FakeShim>, ShimError> {
        self.map().get(socket).cloned().ok_or_else(|| ShimError::Connect {
            path: socket.to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        })
    }

    /// Connect; a wedged shim accepts and then never answers.
    async fn answering(&self, socket: &Path) -> Result<Arc<FakeShim>, ShimError> {
        let shim = self.connect(socket).await?;
        if shim.wedged.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        Ok(shim)
    }

    pub(super) async fn call(&self, socket: &Path, req: Request) -> Result<Response, ShimError> {
        let shim = self.answering(socket).await?;
        let phase = shim.phase.borrow().clone();
        match (req, phase) {
            (Request::State, phase) => {
                let (status, started_at, exit) = match phase {
                    Phase::Created => (Status::Created, None, None),
                    Phase::Running { started_at } => (Status::Running, Some(started_at), None),
                    Phase::Exited(rec) => (Status::Stopped, rec.started_at, Some(rec)),
                };
                Ok(Response::State(StateInfo {
                    paused: status == Status::Running && shim.paused.load(Ordering::SeqCst),
                    status,
                    pid: shim.pid,
                    started_at,
                    exit,
                }))
            }
            (Request::Start, Phase::Created) => {
                shim.phase.send_replace(Phase::Running {
                    started_at: now_nanos(),
                });
                Ok(Response::Ok)
            }
            (Request::Start, Phase::Running { .. }) => Err(refused(ErrorCode::Invalid, "container is already running")),
            (Request::Start, Phase::Exited(_)) => Err(refused(ErrorCode::NotRunning, "container has exited")),
            (Request::Kill { signal, .. }, Phase::Created | Phase::Running { .. }) => {
                shim.paused.store(false, Ordering::SeqCst);
                shim.finish(128 + signal, Some(signal));
                Ok(Response::Ok)
            }
            (Request::Pause, Phase::Running { .. }) => {
                shim.paused.store(true, Ordering::SeqCst);
                Ok(Response::Ok)
            }
            (Request::Resume, Phase::Running { .. }) => {
                shim.paused.store(false, Ordering::SeqCst);
                Ok(Response::Ok)
            }
            (Request::Update { resources }, Phase::Created | Phase::Running { .. }) => {
                *shim.updated.lock().unwrap_or_else(|p| p.into_inner()) = Some(resources);
                Ok(Response::Ok)
            }
            (Request::Pause | Request::Resume | Request::Update { .. }, _) => {
                Err(refused(ErrorCode::NotRunning, "container is not running"))
            }
            (Request::Kill { .. } | Request::Exec(_), Phase::Exited(_)) => {
                Err(refused(ErrorCode::NotRunning, "container is not running"))
            }
            (Request::Exec(_), _) => Err(refused(ErrorCode::RuntimeFailed, "the fake shim runs no processes")),
            (
                Request::ExecState { exec_id }
                | Request::Resize {
                    exec_id: Some(exec_id), ..
                },
                _,
            ) => Err(refused(ErrorCode::NotFound, &format!("no such exec: {exec_id}"))),
            (Request::Resize { .. } | Request::CloseStdin | Request::ReopenLog, _) => Ok(Response::Ok),
            (Request::ExecWait { exec_id }, _) => {
                Err(refused(ErrorCode::NotFound, &format!("no such exec: {exec_id}")))
            }
            (Request::HealthWait { .. }, _) => Ok(Response::Health { seq: 0, exited: true }),
            (Request::OomWait { .. }, _) => Err(refused(ErrorCode::Invalid, "the fake shim has no cgroup")),
            (Request::Shutdown, _) => {
                self.map().remove(socket);
                Ok(Response::Ok)
            }
            (Request::Wait | Request::Attach(_), _) => Err(refused(ErrorCode::Invalid, "use a stream")),
        }
    }

    pub(super) async fn watch(&self, socket: &Path) -> Result<FakeWatch, ShimError> {
        let shim = self.connect(socket).await?;
        Ok(FakeWatch {
            phase: shim.phase.subscribe(),
        })
    }

    /// Attach: a socket pair whose far end sends the stream's `End` frame
    /// once the container exits. Exec: refused (no processes here).
    pub(super) async fn open_stream(&self, socket: &Path, req: Request) -> Result<(Response, UnixStream), ShimError> {
        if !matches!(req, Request::Attach(_)) {
            let reply = self.call(socket, req).await?;
            return Err(ShimError::Unexpected(Box::new(reply)));
        }
        let shim = self.answering(socket).await?;
        if matches!(*shim.phase.borrow(), Phase::Exited(_)) {
            return Err(refused(ErrorCode::NotRunning, "container is not running"));
        }
        let (ours, mut theirs) =
            UnixStream::pair().map_err(|e| ShimError::Frame(pier_shim_proto::FrameError::Io(e)))?;
        let mut phase = shim.phase.subscribe();
        tokio::spawn(async move {
            let code = match phase.wait_for(|p| matches!(p, Phase::Exited(_))).await {
                Ok(p) => match &*p {
                    Phase::Exited(rec) => Some(rec.exit_code),
                    _ => None,
                },
                Err(_) => None,
            };
            let body = serde_json::to_vec(&StreamEnd { exit_code: code }).unwrap_or_default();
            let mut frame = vec![StreamKind::End as u8, 0, 0, 0];
            frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
            frame.extend_from_slice(&body);
            let _ = theirs.write_all(&frame).await;
            let _ = theirs.shutdown().await;
        });
        Ok((Response::Ok, ours))
    }
}

impl FakeShim {
    fn finish(&self, exit_code: i32, signal: Option<i32>) {
        self.phase.send_modify(|p| {
            let started_at = match p {
                Phase::Running { started_at } => Some(*started_at),
                Phase::Created => None,
                Phase::Exited(_) => return,
            };
            *p = Phase::Exited(ExitRecord {
                exit_code,
                signal,
                started_at,
                finished_at: now_nanos(),
                oom_killed: false,
            });
        });
    }
}
