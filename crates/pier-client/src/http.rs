//! HTTP/1.1 message heads: encoding requests, parsing responses, choosing the
//! body framing. Pure functions over bytes and `BufRead`; no sockets here.

use std::io::{self, BufRead};

/// Longest response head we accept (status line plus headers).
pub const MAX_HEAD: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("connection closed before the response head was complete")]
    UnexpectedEof,
    #[error("response head larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("malformed status line {0:?}")]
    StatusLine(String),
    #[error("malformed header line {0:?}")]
    HeaderLine(String),
    #[error("invalid Content-Length {0:?}")]
    ContentLength(String),
    #[error("malformed chunk size line {0:?}")]
    ChunkSize(String),
    #[error("missing CRLF after chunk data")]
    ChunkTerminator,
    #[error("read response: {0}")]
    Io(#[from] io::Error),
}

/// Header list in arrival order; lookups are case-insensitive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// First value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Status line and headers of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
}

/// Encode a request head. `target` is the path with its query string.
/// `Host` is always written (HTTP/1.1 requires it; dockerd ignores it).
pub fn encode_request_head(method: &str, target: &str, headers: &Headers) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(format!("{method} {target} HTTP/1.1\r\nHost: pier\r\n").as_bytes());
    for (n, v) in headers.iter() {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Read one line ending in LF (CR stripped), refusing lines that would push
/// the head past [`MAX_HEAD`]. `Ok(None)` at clean EOF before any byte.
fn read_line<R: BufRead>(r: &mut R, budget: &mut usize) -> Result<Option<String>, HttpError> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return if line.is_empty() {
                Ok(None)
            } else {
                Err(HttpError::UnexpectedEof)
            };
        }
        let (take, done) = match memchr_lf(buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if take > *budget {
            return Err(HttpError::HeadTooLarge);
        }
        *budget -= take;
        line.extend_from_slice(&buf[..take]);
        r.consume(take);
        if done {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
        }
    }
}

fn memchr_lf(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// Parse `HTTP/1.1 200 OK`.
pub fn parse_status_line(line: &str) -> Result<(u16, String), HttpError> {
    let bad = || HttpError::StatusLine(line.to_string());
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().ok_or_else(bad)?;
    if !version.starts_with("HTTP/1.") {
        return Err(bad());
    }
    let code = parts.next().ok_or_else(bad)?;
    if code.len() != 3 {
        return Err(bad());
    }
    let status = code.parse::<u16>().map_err(|_| bad())?;
    let reason = parts.next().unwrap_or("").to_string();
    Ok((status, reason))
}

/// Parse `Name: value` (value trimmed).
pub fn parse_header_line(line: &str) -> Result<(String, String), HttpError> {
    let (n, v) = line
        .split_once(':')
        .ok_or_else(|| HttpError::HeaderLine(line.to_string()))?;
    if n.is_empty() || n.contains([' ', '\t']) {
        return Err(HttpError::HeaderLine(line.to_string()));
    }
    Ok((n.to_string(), v.trim().to_string()))
}

/// Read a response head, skipping `100 Continue`-style interim responses
/// (but not `101 Switching Protocols`, which ends the HTTP exchange).
pub fn read_response_head<R: BufRead>(r: &mut R) -> Result<ResponseHead, HttpError> {
    loop {
        let mut budget = MAX_HEAD;
        let status_line = read_line(r, &mut budget)?.ok_or(HttpError::UnexpectedEof)?;
        let (status, reason) = parse_status_line(&status_line)?;
        let mut headers = Headers::new();
        loop {
            let line = read_line(r, &mut budget)?.ok_or(HttpError::UnexpectedEof)?;
            if line.is_empty() {
                break;
            }
            let (n, v) = parse_header_line(&line)?;
            headers.push(n, v);
        }
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        return Ok(ResponseHead {
            status,
            reason,
            headers,
        });
    }
}

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body at all (HEAD, 1xx, 204, 304).
    Empty,
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    UntilEof,
}

/// Choose the body framing per RFC 9112 section 6.3.
pub fn framing(request_method: &str, head: &ResponseHead) -> Result<Framing, HttpError> {
    if request_method.eq_ignore_ascii_case("HEAD")
        || (100..200).contains(&head.status)
        || head.status == 204
        || head.status == 304
    {
        return Ok(Framing::Empty);
    }
    if let Some(te) = head.headers.get("Transfer-Encoding") {
        if te
            .rsplit(',')
            .next()
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
        {
            return Ok(Framing::Chunked);
        }
        return Ok(Framing::UntilEof);
    }
    if let Some(cl) = head.headers.get("Content-Length") {
        let n = cl
            .trim()
            .parse::<u64>()
            .map_err(|_| HttpError::ContentLength(cl.to_string()))?;
        return Ok(Framing::Length(n));
    }
    Ok(Framing::UntilEof)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_request_head() {
        let mut h = Headers::new();
        h.push("Content-Type", "application/json");
        let got = encode_request_head("POST", "/v1.50/containers/create?name=a", &h);
        assert_eq!(
            got,
            b"POST /v1.50/containers/create?name=a HTTP/1.1\r\nHost: pier\r\nContent-Type: application/json\r\n\r\n"
        );
    }

    #[test]
    fn parses_head_and_leaves_body() {
        let wire = b"HTTP/1.1 200 OK\r\nApi-Version: 1.50\r\ncontent-length: 2\r\n\r\nok";
        let mut r: &[u8] = wire;
        let head = read_response_head(&mut r).expect("head");
        assert_eq!(head.status, 200);
        assert_eq!(head.reason, "OK");
        assert_eq!(head.headers.get("API-VERSION"), Some("1.50"));
        assert_eq!(framing("GET", &head).expect("framing"), Framing::Length(2));
        assert_eq!(framing("HEAD", &head).expect("framing"), Framing::Empty);
        assert_eq!(r, b"ok");
    }

    #[test]
    fn tolerates_bare_lf_and_skips_100_continue() {
        let wire = b"HTTP/1.1 100 Continue\n\nHTTP/1.0 404 Not Found\nX: y\n\n";
        let mut r: &[u8] = wire;
        let head = read_response_head(&mut r).expect("head");
        assert_eq!(head.status, 404);
        assert_eq!(framing("GET", &head).expect("framing"), Framing::UntilEof);
    }

    #[test]
    fn switching_protocols_is_final() {
        let wire = b"HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\nstream";
        let mut r: &[u8] = wire;
        let head = read_response_head(&mut r).expect("head");
        assert_eq!(head.status, 101);
        assert_eq!(r, b"stream");
    }

    #[test]
    fn chunked_wins_over_length() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut r: &[u8] = wire;
        let head = read_response_head(&mut r).expect("head");
        assert_eq!(framing("GET", &head).expect("framing"), Framing::Chunked);
    }

    #[test]
    fn rejects_garbage() {
        for wire in [
            &b"SSH-2.0-OpenSSH\r\n\r\n"[..],
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: y\r\n",
            b"",
        ] {
            let mut r: &[u8] = wire;
            assert!(read_response_head(&mut r).is_err(), "{wire:?}");
        }
        let big = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        let mut r = big.as_bytes();
        assert!(matches!(read_response_head(&mut r), Err(HttpError::HeadTooLarge)));
        let mut r: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n";
        let head = read_response_head(&mut r).expect("head");
        assert!(framing("GET", &head).is_err());
    }
}
