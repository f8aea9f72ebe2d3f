//! RPC clients: the listener, accepting, reading requests in order,
//! answering; the connections that became streams live here too.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use anyhow::Context;
use mio::net::UnixListener;
use mio::{Interest, Registry, Token};
use pier_shim_proto::{ErrorCode, FrameError, Response};

use super::{Invocation, Shim, FIRST_CLIENT, LISTENER};
use crate::conn::Conn;
use crate::decide::{self, Decision};
use crate::feed::{Source, REFILL_BELOW};

/// The RPC socket and every connection on it, by token.
pub(super) struct Clients {
    listener: UnixListener,
    /// (device, inode) of the socket file we bound.
    socket_id: Option<(u64, u64)>,
    pub(super) conns: BTreeMap<usize, Conn>,
    next_conn: usize,
    /// Connections parked on `Wait` until the container is deleted.
    pub(super) waiters: Vec<usize>,
    /// Connections parked on `OomWait`, with the count they have seen.
    pub(super) oom_waiters: Vec<(usize, u64)>,
    /// Connections parked on `HealthWait`, with the change they have seen.
    pub(super) health_waiters: Vec<(usize, u64)>,
    /// Connections parked on `ExecWait`, with the exec they wait for.
    pub(super) exec_waiters: Vec<(usize, String)>,
}

fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl Clients {
    /// Bind the RPC socket at `path`, replacing a stale one.
    pub(super) fn bind(path: &Path) -> anyhow::Result<Clients> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("remove {}", path.display())),
        }
        let listener =
            crate::peer::bind(path, |p| UnixListener::bind(p)).with_context(|| format!("bind {}", path.display()))?;
        Ok(Clients {
            listener,
            socket_id: file_id(path),
            conns: BTreeMap::new(),
            next_conn: FIRST_CLIENT,
            waiters: Vec::new(),
            oom_waiters: Vec::new(),
            health_waiters: Vec::new(),
            exec_waiters: Vec::new(),
        })
    }

    pub(super) fn register(&mut self, registry: &Registry) -> anyhow::Result<()> {
        registry
            .register(&mut self.listener, LISTENER, Interest::READABLE)
            .context("register listener")
    }

    /// Accept one connection; `None` once none is waiting.
    fn accept(&mut self, registry: &Registry) -> Option<usize> {
        loop {
            match self.listener.accept() {
                Ok((mut stream, _)) => {
                    if !crate::peer::admit(&stream, "rpc") {
                        continue;
                    }
                    let id = self.next_conn;
                    self.next_conn += 1;
                    if let Err(e) = registry.register(&mut stream, Token(id), Interest::READABLE | Interest::WRITABLE) {
                        tracing::error!(error = %e, "register client");
                        continue;
                    }
                    self.conns.insert(id, Conn::new(stream));
                    return Some(id);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::error!(error = %e, "accept client");
                    return None;
                }
            }
        }
    }

    pub(super) fn len(&self) -> usize {
        self.conns.len()
    }

    /// Drop a connection that is done (`buf` reads what a stream's client
    /// still sends).
    fn reap(&mut self, id: usize, registry: &Registry, buf: &mut [u8]) {
        if id == 0 {
            return;
        }
        if self.conns.get(&id).is_some_and(Conn::finished) {
            if let Some(mut conn) = self.conns.remove(&id) {
                if conn.stdio.is_some() {
                    conn.discard_input(buf);
                }
                let _ = registry.deregister(&mut conn.stream);
            }
            self.waiters.retain(|&w| w != id);
            self.oom_waiters.retain(|&(w, _)| w != id);
            self.health_waiters.retain(|&(w, _)| w != id);
            self.exec_waiters.retain(|(w, _)| *w != id);
        }
    }

    /// Before the shim leaves: write what is queued.
    pub(super) fn flush_all(&mut self) {
        for conn in self.conns.values_mut() {
            conn.flush();
        }
    }

    /// Remove the socket file, unless a successor shim for the same
    /// container (a restart) has bound the path anew.
    pub(super) fn remove_socket(&self, path: &Path) {
        if self.socket_id.is_some() && file_id(path) == self.socket_id {
            if let Err(e) = std::fs::remove_file(path) {
                tracing::debug!(error = %e, "remove socket");
            }
        }
    }
}

impl Shim {
    pub(super) fn on_accept(&mut self) {
        while let Some(id) = self.clients.accept(self.poll.registry()) {
            self.on_client(id, false);
        }
    }

    pub(super) fn on_client(&mut self, id: usize, hup: bool) {
        let Some(conn) = self.clients.conns.get_mut(&id) else {
            return;
        };
        if let Some(source) = conn.stdio.as_ref().map(|st| st.source) {
            // A stream: room to write more, input to read, or a hang-up.
            self.clients.progress(id, &self.output);
            if let Source::Exec(seq) = source {
                if self.clients.conns.get(&id).is_some_and(|c| c.queued() < REFILL_BELOW) {
                    self.exec_stream_writable(seq);
                }
            }
            self.read_input(id);
            if hup {
                if let Some(conn) = self.clients.conns.get_mut(&id) {
                    conn.close();
                }
            }
            self.reap_conn(id);
            return;
        }
        conn.fill(self.buf.scratch());
        conn.flush();
        self.serve(id);
    }

    /// Take requests from `id` while none is outstanding.
    pub(super) fn serve(&mut self, id: usize) {
        loop {
            let view = self.view();
            let Some(conn) = self.clients.conns.get_mut(&id) else {
                return;
            };
            let req = match conn.next_request() {
                None => break,
                Some(Ok(req)) => req,
                Some(Err(FrameError::Json(e))) => {
                    conn.send(&Response::Error {
                        message: format!("bad request: {e}"),
                        code: ErrorCode::Invalid,
                    });
                    continue;
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "client protocol error");
                    conn.close();
                    break;
                }
            };
            tracing::debug!(?req, "request");
            match decide::decide(&view, &req) {
                Decision::Reply(resp) => conn.send(&resp),
                Decision::Run(op) => {
                    conn.busy = true;
                    self.invocations.push(Invocation::Client { conn: id, op });
                }
                Decision::Park => {
                    conn.busy = true;
                    self.clients.waiters.push(id);
                }
                Decision::Abandon(signal) => {
                    let record = self.lifecycle.abandon(signal, &self.cfg.exit_path);
                    conn.send(&Response::Ok);
                    self.exited_and_deleted(record);
                    continue;
                }
                Decision::Shutdown => {
                    self.lifecycle.shutdown = true;
                    conn.send(&Response::Ok);
                }
                Decision::Attach(req) => {
                    // The connection is a stream from here on.
                    self.start_attach(id, &req);
                    return;
                }
                Decision::Exec(req) => {
                    self.start_exec(id, req);
                    return;
                }
                Decision::ExecState(exec_id) => conn.send(&self.execs.state(&exec_id)),
                Decision::OomWait(seen) => {
                    let count = self.lifecycle.oom_events();
                    let exited = decide::finished(&self.lifecycle.phase).is_some();
                    if count > seen || exited {
                        conn.send(&Response::Oom { count, exited });
                    } else {
                        conn.busy = true;
                        self.clients.oom_waiters.push((id, seen));
                    }
                }
                Decision::HealthWait(seen) => {
                    let (seq, ended) = self.prober.progress(&self.lifecycle.phase, self.cfg.health.is_some());
                    if seq > seen || ended {
                        conn.send(&Response::Health { seq, exited: ended });
                    } else {
                        conn.busy = true;
                        self.clients.health_waiters.push((id, seen));
                    }
                }
                Decision::ExecWait(exec_id) => match self.execs.exit_of(&exec_id) {
                    Some(None) => {
                        conn.busy = true;
                        self.clients.exec_waiters.push((id, exec_id));
                    }
                    Some(Some(_)) | None => conn.send(&self.execs.state(&exec_id)),
                },
                Decision::Resize { exec_id, height, width } => {
                    let resp = match exec_id {
                        None => self.terminal.resize(height, width),
                        Some(exec_id) => self.execs.resize(&exec_id, height, width),
                    };
                    conn.send(&resp);
                }
                Decision::CloseStdin => {
                    if let Some(stdin) = self.stdin.as_mut() {
                        stdin.close(self.poll.registry());
                    }
                    conn.send(&Response::Ok);
                }
                Decision::ReopenLog => {
                    let resp = match self.output.reopen_log() {
                        Ok(()) => Response::Ok,
                        Err(e) => Response::Error {
                            message: format!("reopen the container log: {e}"),
                            code: pier_shim_proto::ErrorCode::Internal,
                        },
                    };
                    conn.send(&resp);
                }
            }
        }
        self.reap_conn(id);
    }

    pub(super) fn answer(&mut self, id: usize, resp: &Response) {
        if let Some(conn) = self.clients.conns.get_mut(&id) {
            conn.busy = false;
            conn.send(resp);
            self.serve(id);
        }
    }

    pub(super) fn reap_conn(&mut self, id: usize) {
        self.clients.reap(id, self.poll.registry(), self.buf.scratch());
    }
}
