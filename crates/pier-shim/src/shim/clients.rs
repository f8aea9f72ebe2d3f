//! RPC clients: accepting, reading requests in order, answering.

use std::io;

use mio::{Interest, Token};
use pier_shim_proto::{ErrorCode, FrameError, Response};

use super::{Invocation, Shim};
use crate::conn::Conn;
use crate::decide::{self, Decision};
use crate::feed::{Source, REFILL_BELOW};

impl Shim {
    pub(super) fn on_accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((mut stream, _)) => {
                    let id = self.next_conn;
                    self.next_conn += 1;
                    if let Err(e) =
                        self.poll
                            .registry()
                            .register(&mut stream, Token(id), Interest::READABLE | Interest::WRITABLE)
                    {
                        tracing::error!(error = %e, "register client");
                        continue;
                    }
                    self.conns.insert(id, Conn::new(stream));
                    self.on_client(id, false);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::error!(error = %e, "accept client");
                    return;
                }
            }
        }
    }

    pub(super) fn on_client(&mut self, id: usize, hup: bool) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if let Some(source) = conn.stdio.as_ref().map(|st| st.source) {
            // A stream: room to write more, input to read, or a hang-up.
            self.progress_stream(id);
            if let Source::Exec(seq) = source {
                if self.conns.get(&id).is_some_and(|c| c.queued() < REFILL_BELOW) {
                    self.exec_stream_writable(seq);
                }
            }
            self.read_input(id);
            if hup {
                if let Some(conn) = self.conns.get_mut(&id) {
                    conn.close();
                }
            }
            self.reap_conn(id);
            return;
        }
        conn.fill(&mut self.buf);
        conn.flush();
        self.serve(id);
    }

    /// Take requests from `id` while none is outstanding.
    pub(super) fn serve(&mut self, id: usize) {
        loop {
            let view = self.view();
            let Some(conn) = self.conns.get_mut(&id) else {
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
                    self.queue.push_back(Invocation::Client { conn: id, op });
                }
                Decision::Park => {
                    conn.busy = true;
                    self.waiters.push(id);
                }
                Decision::Shutdown => {
                    self.shutdown = true;
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
                Decision::ExecState(exec_id) => {
                    let resp = self.exec_state(&exec_id);
                    conn_send(self, id, &resp);
                }
                Decision::Resize { exec_id, height, width } => {
                    let resp = self.resize(exec_id.as_deref(), height, width);
                    conn_send(self, id, &resp);
                }
                Decision::CloseStdin => {
                    if let Some(stdin) = self.stdin.as_mut() {
                        stdin.close(self.poll.registry());
                    }
                    conn_send(self, id, &Response::Ok);
                }
            }
        }
        self.reap_conn(id);
    }

    pub(super) fn answer(&mut self, id: usize, resp: &Response) {
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.busy = false;
            conn.send(resp);
            self.serve(id);
        }
    }

    pub(super) fn reap_conn(&mut self, id: usize) {
        if id == 0 {
            return;
        }
        if self.conns.get(&id).is_some_and(Conn::finished) {
            if let Some(mut conn) = self.conns.remove(&id) {
                if conn.stdio.is_some() {
                    conn.discard_input(&mut self.buf);
                }
                let _ = self.poll.registry().deregister(&mut conn.stream);
            }
            self.waiters.retain(|&w| w != id);
        }
    }
}

fn conn_send(shim: &mut Shim, id: usize, resp: &Response) {
    if let Some(conn) = shim.conns.get_mut(&id) {
        conn.send(resp);
    }
}
