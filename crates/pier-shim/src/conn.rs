//! One client connection: non-blocking reads into a frame decoder, buffered
//! writes, and whether a request is awaiting its answer. After an attach or
//! an attached exec the connection carries a stdio stream instead
//! ([`Conn::stdio`]): stream frames out, raw stdin bytes in.

use std::io::{self, IoSlice, Read, Write};

use mio::net::UnixStream;
use pier_shim_proto::{frame, FrameDecoder, FrameError, Request, Response, StreamKind};

use crate::feed::StdioStream;

/// Queued output bytes, consumed from the front without moving the rest.
#[derive(Debug, Default)]
struct OutBuf {
    buf: Vec<u8>,
    head: usize,
}

/// A drained buffer larger than this is given back to the allocator, so
/// a past burst does not stay in the shim's RSS.
const KEEP_CAPACITY: usize = 64 * 1024;

impl OutBuf {
    fn len(&self) -> usize {
        self.buf.len() - self.head
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[self.head..]
    }

    fn extend(&mut self, parts: &[&[u8]]) {
        for p in parts {
            self.buf.extend_from_slice(p);
        }
    }

    fn consume(&mut self, n: usize) {
        self.head += n;
        if self.head == self.buf.len() {
            self.head = 0;
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
        } else if self.head >= KEEP_CAPACITY && self.head * 2 >= self.buf.len() {
            self.buf.drain(..self.head);
            self.head = 0;
        }
    }
}

/// What a read of a stream's input found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Data(usize),
    /// The client shut down its write side (or closed).
    Eof,
    WouldBlock,
}

pub struct Conn {
    pub stream: UnixStream,
    decoder: FrameDecoder,
    out: OutBuf,
    /// A request was taken and its answer is not sent yet; later requests
    /// wait in the decoder so answers keep their order.
    pub busy: bool,
    read_closed: bool,
    broken: bool,
    /// Set once the connection carries a stdio stream.
    pub stdio: Option<StdioStream>,
}

/// The 8-byte header of a stream frame (stdcopy's layout).
pub fn frame_header(kind: StreamKind, len: usize) -> [u8; 8] {
    let l = (len as u32).to_be_bytes();
    [kind as u8, 0, 0, 0, l[0], l[1], l[2], l[3]]
}

impl Conn {
    pub fn new(stream: UnixStream) -> Self {
        Conn {
            stream,
            decoder: FrameDecoder::new(),
            out: OutBuf::default(),
            busy: false,
            read_closed: false,
            broken: false,
            stdio: None,
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

    /// One read of a stream's raw input.
    pub fn read_input(&mut self, buf: &mut [u8]) -> Input {
        if self.read_closed || self.broken {
            return Input::Eof;
        }
        loop {
            match self.stream.read(buf) {
                Ok(0) => {
                    self.read_closed = true;
                    return Input::Eof;
                }
                Ok(n) => return Input::Data(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Input::WouldBlock,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::debug!(error = %e, "read stream input");
                    self.broken = true;
                    return Input::Eof;
                }
            }
        }
    }

    /// Read and drop pending input, so closing does not reset the
    /// connection under a client that still has our last frames to read.
    pub fn discard_input(&mut self, buf: &mut [u8]) {
        while !self.read_closed && !self.broken {
            if !matches!(self.read_input(buf), Input::Data(_)) {
                return;
            }
        }
    }

    /// Bytes that arrived behind the request that started a stream: the
    /// first of its input.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        self.decoder.take_buffered()
    }

    /// The next request, unless one is already being served.
    pub fn next_request(&mut self) -> Option<Result<Request, FrameError>> {
        if self.busy || self.broken || self.stdio.is_some() {
            return None;
        }
        self.decoder.next::<Request>().transpose()
    }

    /// Queue `resp` and write what the socket takes.
    pub fn send(&mut self, resp: &Response) {
        match frame::encode(resp) {
            Ok(bytes) => self.out.extend(&[&bytes]),
            Err(e) => {
                tracing::error!(error = %e, "encode response");
                self.broken = true;
            }
        }
        self.flush();
    }

    /// Send one stream frame. With nothing queued it goes straight to the
    /// socket (header and payload in one `writev`, no copy); what the socket
    /// does not take is queued.
    pub fn send_frame(&mut self, kind: StreamKind, payload: &[u8]) {
        if self.broken {
            return;
        }
        let header = frame_header(kind, payload.len());
        if self.out.len() > 0 {
            self.out.extend(&[&header, payload]);
            self.flush();
            return;
        }
        let total = header.len() + payload.len();
        let mut done = 0;
        while done < total && !self.broken {
            let res = if done < header.len() {
                self.stream
                    .write_vectored(&[IoSlice::new(&header[done..]), IoSlice::new(payload)])
            } else {
                self.stream.write(&payload[done - header.len()..])
            };
            match res {
                Ok(0) => self.broken = true,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(error = %e, "write stream");
                    self.broken = true;
                }
            }
        }
        if done < header.len() {
            self.out.extend(&[&header[done..], payload]);
        } else if done < total {
            self.out.extend(&[&payload[done - header.len()..]]);
        }
    }

    /// Queue one stream frame without writing (a batch; call
    /// [`flush`](Self::flush) after it).
    pub fn queue_frame(&mut self, kind: StreamKind, payload: &[u8]) {
        if !self.broken {
            self.out.extend(&[&frame_header(kind, payload.len()), payload]);
        }
    }

    /// Bytes queued for the client.
    pub fn queued(&self) -> usize {
        self.out.len()
    }

    /// Write buffered bytes until the socket would block.
    pub fn flush(&mut self) {
        while self.out.len() > 0 && !self.broken {
            match self.stream.write(self.out.bytes()) {
                Ok(0) => self.broken = true,
                Ok(n) => self.out.consume(n),
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
        if self.broken {
            return true;
        }
        match &self.stdio {
            Some(st) => st.ended && self.out.len() == 0,
            None => self.read_closed && !self.busy && self.out.len() == 0,
        }
    }

    /// Mark broken (a protocol violation, or the client hung up).
    pub fn close(&mut self) {
        self.broken = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_buffer_consumes_from_the_front() {
        let mut b = OutBuf::default();
        b.extend(&[b"abc", b"def"]);
        b.consume(2);
        assert_eq!(b.bytes(), b"cdef");
        b.consume(4);
        assert_eq!(b.len(), 0);
        assert_eq!(frame_header(StreamKind::Stderr, 258), [2, 0, 0, 0, 0, 0, 1, 2]);
    }
}
