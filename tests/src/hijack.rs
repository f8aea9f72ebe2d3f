//! Raw hijacked API connections (attach, exec start) for tests that need
//! several clients or byte-exact streams.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::Daemon;

/// An upgraded connection and the head it was answered with.
pub struct Hijacked {
    pub status: u16,
    pub head: String,
    pub stream: UnixStream,
    /// Stream bytes that came in with the head.
    pub early: Vec<u8>,
}

impl Hijacked {
    /// Read to EOF (with a timeout per read), early bytes first.
    pub fn read_all(mut self, timeout: Duration) -> Vec<u8> {
        self.stream.set_read_timeout(Some(timeout)).expect("set timeout");
        let mut out = std::mem::take(&mut self.early);
        let mut buf = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => panic!("read hijacked stream after {} bytes: {e}", out.len()),
            }
        }
    }
}

/// Decode stdcopy frames into (stream, payload) pairs, concatenating.
pub fn demux(mut raw: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while raw.len() >= 8 {
        let len = u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]) as usize;
        assert!(raw.len() >= 8 + len, "truncated stdcopy frame");
        match raw[0] {
            1 => out.extend_from_slice(&raw[8..8 + len]),
            _ => err.extend_from_slice(&raw[8..8 + len]),
        }
        raw = &raw[8 + len..];
    }
    assert!(raw.is_empty(), "trailing bytes after frames");
    (out, err)
}

impl Daemon {
    /// Send `method path` with `Upgrade: tcp` and return the hijacked
    /// connection once the head has been read.
    pub fn hijack(&self, method: &str, path: &str, body: Option<&[u8]>) -> Hijacked {
        let mut s = UnixStream::connect(&self.sock).expect("connect API socket");
        let body = body.unwrap_or(b"");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: pier\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(req.as_bytes()).expect("send request");
        s.write_all(body).expect("send body");
        s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        let end = loop {
            let n = s.read(&mut buf).expect("read head");
            assert!(
                n > 0,
                "connection closed before the head: {:?}",
                String::from_utf8_lossy(&raw)
            );
            raw.extend_from_slice(&buf[..n]);
            if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status code");
        Hijacked {
            status,
            head,
            stream: s,
            early: raw[end..].to_vec(),
        }
    }
}
