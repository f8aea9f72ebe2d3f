//! A process's stdin as the shim feeds it: non-blocking writes with a
//! bounded queue. Clients whose input would overflow it are paused (their
//! sockets are not read), so stdin has backpressure while output never
//! does.

use std::io::{self, Write};
use std::os::fd::OwnedFd;

use mio::unix::pipe::Sender;
use mio::{Interest, Registry, Token};

/// Input queued past this pauses the clients that write it.
pub(super) const STDIN_LIMIT: usize = 256 * 1024;

pub(super) struct StdinPipe {
    pipe: Option<Sender>,
    queue: Vec<u8>,
    close_when_flushed: bool,
}

impl StdinPipe {
    /// Take the write end of a stdin pipe (or a pty master's duplicate).
    pub(super) fn new(fd: OwnedFd, registry: &Registry, token: Token) -> io::Result<StdinPipe> {
        let mut pipe = Sender::from(fd);
        pipe.set_nonblocking(true)?;
        registry.register(&mut pipe, token, Interest::WRITABLE)?;
        Ok(StdinPipe {
            pipe: Some(pipe),
            queue: Vec::new(),
            close_when_flushed: false,
        })
    }

    /// Queue `bytes` and write what the pipe takes. Input after a close, or
    /// to a process that stopped reading for good, is dropped.
    pub(super) fn push(&mut self, bytes: &[u8], registry: &Registry) {
        if self.pipe.is_none() || self.close_when_flushed {
            return;
        }
        self.queue.extend_from_slice(bytes);
        self.flush(registry);
    }

    /// Write the queue until the pipe would block; close it if asked and
    /// drained.
    pub(super) fn flush(&mut self, registry: &Registry) {
        let Some(pipe) = self.pipe.as_mut() else {
            self.queue = Vec::new();
            return;
        };
        let mut done = 0;
        let mut failed = false;
        while done < self.queue.len() {
            match pipe.write(&self.queue[done..]) {
                Ok(0) => {
                    failed = true;
                    break;
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(error = %e, "write stdin");
                    failed = true;
                    break;
                }
            }
        }
        self.queue.drain(..done);
        if failed || (self.close_when_flushed && self.queue.is_empty()) {
            self.shut(registry);
        }
    }

    /// EOF for the process once what is queued is written.
    pub(super) fn close(&mut self, registry: &Registry) {
        self.close_when_flushed = true;
        self.flush(registry);
    }

    /// Drop the pipe now, queue and all.
    pub(super) fn shut(&mut self, registry: &Registry) {
        if let Some(mut pipe) = self.pipe.take() {
            let _ = registry.deregister(&mut pipe);
        }
        self.queue = Vec::new();
    }

    /// Writers should wait before sending more.
    pub(super) fn is_full(&self) -> bool {
        self.pipe.is_some() && self.queue.len() >= STDIN_LIMIT
    }
}
