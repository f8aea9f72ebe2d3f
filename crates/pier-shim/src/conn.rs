//! One RPC client connection: non-blocking reads into a frame decoder,
//! buffered writes, and whether a request is awaiting its answer.

use std::io::{self, Read, Write};

use mio::net::UnixStream;
use pier_shim_proto::{frame, FrameDecoder, FrameError, Request, Response};

pub struct Conn {
    pub stream: UnixStream,
    decoder: FrameDecoder,
    out: Vec<u8>,
    /// A request was taken and its answer is not sent yet; later requests
    /// wait in the decoder so answers keep their order.
    pub busy: bool,
    read_closed: bool,
    broken: bool,
}

impl Conn {
    pub fn new(stream: UnixStream) -> Self {
        Conn {
            stream,
            decoder: FrameDecoder::new(),
            out: Vec::new(),
            busy: false,
            read_closed: false,
            broken: false,
        }
    }

    /// Read everything available (mio is edge-triggered).
    pub fn fill(&mut self, buf: &mut [u8]) {
        loop {
            match self.stream.read(buf) {
                Ok(0) => {
                    self.read_closed = true;
                    return;
                }
                Ok(n) => self.decoder.push(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::debug!(error = %e, "read client");
                    self.broken = true;
                    return;
                }
            }
        }
    }

    /// The next request, unless one is already being served.
    pub fn next_request(&mut self) -> Option<Result<Request, FrameError>> {
        if self.busy || self.broken {
            return None;
        }
        self.decoder.next::<Request>().transpose()
    }

    /// Queue `resp` and write what the socket takes.
    pub fn send(&mut self, resp: &Response) {
        match frame::encode(resp) {
            Ok(bytes) => self.out.extend_from_slice(&bytes),
            Err(e) => {
                tracing::error!(error = %e, "encode response");
                self.broken = true;
            }
        }
        self.flush();
    }

    /// Write buffered answers until the socket would block.
    pub fn flush(&mut self) {
        while !self.out.is_empty() && !self.broken {
            match self.stream.write(&self.out) {
                Ok(0) => self.broken = true,
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::debug!(error = %e, "write client");
                    self.broken = true;
                }
            }
        }
    }

    /// Nothing more will happen on this connection.
    pub fn finished(&self) -> bool {
        self.broken || (self.read_closed && !self.busy && self.out.is_empty())
    }

    /// Mark broken (a protocol violation).
    pub fn close(&mut self) {
        self.broken = true;
    }
}
