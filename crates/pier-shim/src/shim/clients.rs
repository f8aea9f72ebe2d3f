//! RPC clients: accepting, reading requests in order, answering.

use std::io;

use mio::{Interest, Token};
use pier_shim_proto::{FrameError, Response};

use super::{Invocation, Shim};
use crate::conn::Conn;
use crate::decide::{self, Decision};

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
                    self.on_client(id);
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

    pub(super) fn on_client(&mut self, id: usize) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
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
        if self.conns.get(&id).is_some_and(Conn::finished) {
            if let Some(mut conn) = self.conns.remove(&id) {
                let _ = self.poll.registry().deregister(&mut conn.stream);
            }
            self.waiters.retain(|&w| w != id);
        }
    }
}
