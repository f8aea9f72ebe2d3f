//! Attach: joining a container's stdio through its shim, including the
//! docker CLI's order (attach first, then start): an attach to a container
//! without a shim is held and connected by `launch` once the shim is ready
//! and before it starts the container, so no output is lost.
//!
//! An attach to an exited container is held the same way (docker's
//! `start -a` attaches before starting an exited container too); the
//! "You cannot attach to a stopped container" refusal of `docker attach`
//! is the client's check, as in docker.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::UnixStream;
use tokio::sync::{oneshot, watch};

use crate::daemon::streams::detach_keys;
use crate::daemon::streams::session::EarlyInput;
use crate::daemon::{Container, Daemon, Live};
use crate::error::{Error, Result};
use crate::record::Status;
use crate::shim::{AttachStreams, ShimError};

/// Most client input buffered while an attach waits for its shim.
const EARLY_INPUT_MAX: usize = 1 << 20;

/// What the client asked for.
#[derive(Debug, Clone, Default)]
pub struct AttachParams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub logs: bool,
    pub detach_keys: Option<String>,
}

/// Where the session's shim stream comes from.
#[derive(Debug)]
pub enum ShimSource {
    /// The container runs: the stream is open.
    Now(UnixStream),
    /// The container has not started: the stream arrives when it does
    /// (never, if it is removed first).
    Later {
        rx: oneshot::Receiver<UnixStream>,
        live: watch::Receiver<Live>,
    },
}

/// An accepted attach.
#[derive(Debug)]
pub struct AttachTarget {
    pub tty: bool,
    /// Client input is the container's stdin (asked for, and `OpenStdin`).
    pub stdin: bool,
    pub detach_keys: Vec<u8>,
    pub source: ShimSource,
}

struct Pending {
    req: AttachStreams,
    tx: oneshot::Sender<UnixStream>,
}

/// Attaches waiting for their container to start, by container id.
#[derive(Default)]
pub(crate) struct AttachHub {
    pending: std::sync::Mutex<HashMap<String, Vec<Pending>>>,
}

impl AttachHub {
    fn add(&self, id: &str, p: Pending) {
        let mut m = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        // Sweep sessions whose client already left.
        m.retain(|_, v| {
            v.retain(|p| !p.tx.is_closed());
            !v.is_empty()
        });
        m.entry(id.to_string()).or_default().push(p);
    }

    fn take(&self, id: &str) -> Vec<Pending> {
        let mut m = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        m.remove(id).unwrap_or_default()
    }
}

impl Daemon {
    /// Accept an attach: open the shim stream now (running) or register it
    /// for the next start (created, exited).
    pub async fn attach(&self, key: &str, p: AttachParams) -> Result<AttachTarget> {
        let target = self.attach_target(key, p).await?;
        if let Ok(c) = self.lookup(key) {
            self.container_event(&c.record(), "attach", &[]);
        }
        Ok(target)
    }

    async fn attach_target(&self, key: &str, p: AttachParams) -> Result<AttachTarget> {
        let c = self.lookup(key)?;
        let req = AttachStreams {
            stdin: p.stdin,
            stdout: p.stdout,
            stderr: p.stderr,
            logs: p.logs,
        };
        let rec = c.record();
        let target = |source| AttachTarget {
            tty: rec.spec.process.stdio.tty,
            stdin: p.stdin && rec.spec.process.stdio.open_stdin,
            detach_keys: detach_keys::choose(p.detach_keys.as_deref(), self.cfg.detach_keys.as_deref()),
            source,
        };
        if rec.state.is_running() {
            if let Some(s) = open(&c, req).await? {
                return Ok(target(ShimSource::Now(s)));
            }
        }
        // A start in progress finishes first; then the state is settled.
        let _op = c.op.lock().await;
        let status = c.record().state.status;
        match status {
            Status::Running => match open(&c, req).await? {
                Some(s) => Ok(target(ShimSource::Now(s))),
                None => Err(Error::Conflict(
                    "You cannot attach to a stopped container, start it first".to_string(),
                )),
            },
            Status::Created | Status::Exited => {
                let (tx, rx) = oneshot::channel();
                self.attaches.add(&c.id, Pending { req, tx });
                Ok(target(ShimSource::Later {
                    rx,
                    live: c.subscribe(),
                }))
            }
            Status::Removing | Status::Dead => Err(Error::Conflict(format!(
                "unable to attach to container {}, container is marked for removal or is dead",
                c.id
            ))),
        }
    }

    /// Connect the attaches waiting for `c`: called by `launch` with the
    /// shim ready and before `Start`.
    pub(in crate::daemon) async fn connect_pending_attaches(&self, c: &Container) {
        for p in self.attaches.take(&c.id) {
            if p.tx.is_closed() {
                continue;
            }
            match c.shim.attach(p.req).await {
                Ok(stream) => {
                    let _ = p.tx.send(stream);
                }
                Err(e) => tracing::warn!(id = %c.id, error = %e, "connect waiting attach"),
            }
        }
    }

    /// `POST /containers/{id}/resize`.
    pub async fn resize(&self, key: &str, height: u16, width: u16) -> Result<()> {
        let c = self.lookup(key)?;
        if !c.record().state.is_running() {
            return Err(Error::NotRunning(c.id.clone()));
        }
        match c.shim.resize(None, height, width).await {
            Ok(()) => {
                let (h, w) = (height.to_string(), width.to_string());
                self.container_event(&c.record(), "resize", &[("height", &h), ("width", &w)]);
                Ok(())
            }
            Err(e) if e.is_not_running() => Err(Error::NotRunning(c.id.clone())),
            Err(e) => Err(Error::shim(format!("resize container {}", c.id), e)),
        }
    }
}

/// Open a shim stream; `None` when the shim is gone (the container just
/// exited).
async fn open(c: &Arc<Container>, req: AttachStreams) -> Result<Option<UnixStream>> {
    match c.shim.attach(req).await {
        Ok(s) => Ok(Some(s)),
        Err(ShimError::Closed) => Ok(None),
        Err(e) if e.is_not_running() => Ok(None),
        Err(e) => Err(Error::shim(format!("attach to container {}", c.id), e)),
    }
}

/// Wait for a held attach's shim stream, buffering what the client types
/// meanwhile. `None` if the client left or the container was removed.
pub async fn wait_for_shim<C: AsyncRead + Unpin>(
    client: &mut C,
    source: ShimSource,
) -> Option<(UnixStream, EarlyInput)> {
    let (mut rx, mut live) = match source {
        ShimSource::Now(s) => return Some((s, EarlyInput::default())),
        ShimSource::Later { rx, live } => (rx, live),
    };
    let mut early = EarlyInput::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let reading = !early.eof && early.bytes.len() < EARLY_INPUT_MAX;
        tokio::select! {
            s = &mut rx => return s.ok().map(|s| (s, early)),
            r = client.read(&mut buf), if reading => match r {
                Ok(0) => early.eof = true,
                Ok(n) => early.bytes.extend_from_slice(&buf[..n]),
                Err(_) => return None,
            },
            _ = live.wait_for(|l| l.removed) => return None,
        }
    }
}
