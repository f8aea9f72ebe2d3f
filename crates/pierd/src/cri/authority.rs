//! gRPC clients that dial a unix socket send the socket's path as the
//! HTTP/2 `:authority` (grpc-go before 1.51, so critest v1.26 and older
//! kubelets and crictl; grpc-java; Python's grpc). h2, under tonic, refuses
//! such a request with a stream reset (PROTOCOL_ERROR), so those clients
//! could not talk to Pier at all. Every CRI connection therefore passes
//! through [`Rewriter`]: the client's HTTP/2 frames are read as they come,
//! each header block is decoded with the client's HPACK context and encoded
//! again with one of Pier's own, with an invalid `:authority` replaced by
//! `localhost` (what newer clients send); every other frame and the whole
//! server-to-client direction pass through unchanged.

use std::panic::AssertUnwindSafe;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
/// HTTP/2's default SETTINGS_MAX_FRAME_SIZE (h2's too): re-encoded blocks
/// are split to fit.
const MAX_FRAME: usize = 16_384;
/// A frame larger than this ends the connection (h2 would refuse it too).
const MAX_ACCEPTED: usize = 1 << 24;

/// Whether `value` is an authority h2 accepts (`host[:port]`).
fn valid_authority(value: &[u8]) -> bool {
    !value.is_empty()
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~:[]@!$&'()*+,;=%".contains(b))
}

/// The client-to-server half of one connection.
pub struct Rewriter {
    decoder: hpack::Decoder<'static>,
    encoder: hpack::Encoder<'static>,
    buf: Vec<u8>,
    preface_seen: bool,
    /// A header block waiting for its CONTINUATION frames: stream id,
    /// whether it ends the stream, the fragments so far.
    pending: Option<(u32, bool, Vec<u8>)>,
}

impl Default for Rewriter {
    fn default() -> Self {
        Self::new()
    }
}

fn frame_header(len: usize, kind: u8, flags: u8, stream: u32, out: &mut Vec<u8>) {
    let len = len as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
}

impl Rewriter {
    pub fn new() -> Self {
        Self {
            decoder: hpack::Decoder::new(),
            encoder: hpack::Encoder::new(),
            buf: Vec::new(),
            preface_seen: false,
            pending: None,
        }
    }

    /// Take `input` from the client; append what goes to the server to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        self.buf.extend_from_slice(input);
        if !self.preface_seen {
            if self.buf.len() < PREFACE.len() {
                return Ok(());
            }
            // Not HTTP/2 (or not from its start): leave it to h2 to refuse.
            out.extend_from_slice(&self.buf[..PREFACE.len()]);
            self.buf.drain(..PREFACE.len());
            self.preface_seen = true;
        }
        let mut at = 0;
        while self.buf.len() - at >= 9 {
            let h = &self.buf[at..at + 9];
            let len = (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
            if len > MAX_ACCEPTED {
                return Err(format!("frame of {len} bytes"));
            }
            if self.buf.len() - at < 9 + len {
                break;
            }
            let (kind, flags) = (h[3], h[4]);
            let stream = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
            let payload = self.buf[at + 9..at + 9 + len].to_vec();
            match kind {
                HEADERS => {
                    let fragment = headers_fragment(&payload, flags)?;
                    self.pending = Some((stream, flags & END_STREAM != 0, fragment.to_vec()));
                }
                CONTINUATION => match self.pending.as_mut() {
                    Some((id, _, block)) if *id == stream => block.extend_from_slice(&payload),
                    _ => return Err("CONTINUATION without HEADERS".into()),
                },
                _ => out.extend_from_slice(&self.buf[at..at + 9 + len]),
            }
            if matches!(kind, HEADERS | CONTINUATION) && flags & END_HEADERS != 0 {
                if let Some((id, end_stream, block)) = self.pending.take() {
                    self.emit(id, end_stream, &block, out)?;
                }
            }
            at += 9 + len;
        }
        self.buf.drain(..at);
        Ok(())
    }

    fn emit(&mut self, stream: u32, end_stream: bool, block: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let decoder = &mut self.decoder;
        let fields = std::panic::catch_unwind(AssertUnwindSafe(|| decoder.decode(block)))
            .map_err(|_| "undecodable header block".to_string())?
            .map_err(|e| format!("header block: {e:?}"))?;
        let fields: Vec<(Vec<u8>, Vec<u8>)> = fields
            .into_iter()
            .map(|(name, value)| {
                if name == b":authority" && !valid_authority(&value) {
                    (name, b"localhost".to_vec())
                } else {
                    (name, value)
                }
            })
            .collect();
        let encoded = self.encoder.encode(fields.iter().map(|(n, v)| (&n[..], &v[..])));
        let mut chunks = encoded.chunks(MAX_FRAME).peekable();
        let mut first = true;
        if encoded.is_empty() {
            let flags = END_HEADERS | if end_stream { END_STREAM } else { 0 };
            frame_header(0, HEADERS, flags, stream, out);
            return Ok(());
        }
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            let mut flags = if last { END_HEADERS } else { 0 };
            let kind = if first { HEADERS } else { CONTINUATION };
            if first && end_stream {
                flags |= END_STREAM;
            }
            frame_header(chunk.len(), kind, flags, stream, out);
            out.extend_from_slice(chunk);
            first = false;
        }
        Ok(())
    }
}

/// The header block fragment of a HEADERS frame's payload (padding and
/// priority removed).
fn headers_fragment(payload: &[u8], flags: u8) -> Result<&[u8], String> {
    let mut start = 0;
    let mut end = payload.len();
    if flags & PADDED != 0 {
        let pad = usize::from(*payload.first().ok_or("empty padded HEADERS")?);
        start += 1;
        end = end.checked_sub(pad).ok_or("padding longer than the frame")?;
    }
    if flags & PRIORITY != 0 {
        start += 5;
    }
    if start > end {
        return Err("HEADERS frame too short".into());
    }
    Ok(&payload[start..end])
}

/// Serve `client` through a rewriter: returns the end tonic serves.
pub fn proxied(client: tokio::net::UnixStream) -> tokio::io::DuplexStream {
    let (server_end, ours) = tokio::io::duplex(256 * 1024);
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = tokio::io::split(ours);
    tokio::spawn(async move {
        let mut rewriter = Rewriter::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut out = Vec::with_capacity(64 * 1024);
        loop {
            let n = match from_client.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            out.clear();
            if let Err(e) = rewriter.feed(&buf[..n], &mut out) {
                tracing::debug!(error = %e, "CRI connection: bad HTTP/2 from the client");
                break;
            }
            if to_server.write_all(&out).await.is_err() {
                break;
            }
        }
        let _ = to_server.shutdown().await;
    });
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
        let _ = to_client.shutdown().await;
    });
    server_end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers_frame(block: &[u8], stream: u32, flags: u8) -> Vec<u8> {
        let mut f = Vec::new();
        frame_header(block.len(), HEADERS, flags, stream, &mut f);
        f.extend_from_slice(block);
        f
    }

    type Fields = Vec<(Vec<u8>, Vec<u8>)>;

    /// The header lists of the HEADERS/CONTINUATION blocks in `out`
    /// (after the preface), and the other frames' kinds.
    fn read_back(out: &[u8]) -> (Vec<Fields>, Vec<u8>) {
        let mut d = hpack::Decoder::new();
        let mut at = PREFACE.len();
        let (mut lists, mut others, mut block) = (Vec::new(), Vec::new(), Vec::new());
        while at < out.len() {
            let len = (usize::from(out[at]) << 16) | (usize::from(out[at + 1]) << 8) | usize::from(out[at + 2]);
            let (kind, flags) = (out[at + 3], out[at + 4]);
            let payload = &out[at + 9..at + 9 + len];
            if matches!(kind, HEADERS | CONTINUATION) {
                block.extend_from_slice(payload);
                if flags & END_HEADERS != 0 {
                    lists.push(d.decode(&block).expect("decode"));
                    block.clear();
                }
            } else {
                others.push(kind);
            }
            at += 9 + len;
        }
        (lists, others)
    }

    #[test]
    fn a_socket_path_authority_becomes_localhost() {
        // As grpc-go encodes: literals with incremental indexing, then
        // references to the client's dynamic table.
        fn literal(index: u8, value: &[u8], out: &mut Vec<u8>) {
            out.push(0x40 | index);
            out.push(value.len() as u8);
            out.extend_from_slice(value);
        }
        let mut first = vec![0x83, 0x86];
        literal(4, b"/runtime.v1.RuntimeService/Version", &mut first);
        literal(1, b"/tmp/crt/cri.sock", &mut first);
        literal(31, b"application/grpc", &mut first);
        // Newest first: content-type 62, :authority 63, :path 64.
        let second = [0x83, 0x86, 0x80 | 64, 0x80 | 63, 0x80 | 62];
        let mut input = PREFACE.to_vec();
        // A SETTINGS frame passes through as it is.
        frame_header(0, 0x4, 0, 0, &mut input);
        input.extend(headers_frame(&first, 1, END_HEADERS));
        // Split over HEADERS + CONTINUATION, with padding.
        let (a, b) = second.split_at(2);
        let mut padded = vec![3u8];
        padded.extend_from_slice(a);
        padded.extend_from_slice(&[0, 0, 0]);
        input.extend(headers_frame(&padded, 3, PADDED | END_STREAM));
        frame_header(b.len(), CONTINUATION, END_HEADERS, 3, &mut input);
        input.extend_from_slice(b);

        let mut r = Rewriter::new();
        let mut out = Vec::new();
        // Byte by byte: frames split anywhere are reassembled.
        for byte in &input {
            r.feed(std::slice::from_ref(byte), &mut out).expect("feed");
        }
        assert!(out.starts_with(PREFACE));
        let (lists, others) = read_back(&out);
        assert_eq!(others, [0x4]);
        assert_eq!(lists.len(), 2);
        for list in &lists {
            let authority = list.iter().find(|(n, _)| n == b":authority").expect("authority");
            assert_eq!(authority.1, b"localhost");
            assert!(list
                .iter()
                .any(|(n, v)| n == b":path" && v == b"/runtime.v1.RuntimeService/Version"));
            assert_eq!(list.len(), 5);
        }
    }

    #[test]
    fn valid_authorities_are_kept_and_garbage_is_refused() {
        assert!(valid_authority(b"localhost"));
        assert!(valid_authority(b"127.0.0.1:10010"));
        assert!(!valid_authority(b"/run/pier/cri.sock"));
        assert!(!valid_authority(b""));
        let mut r = Rewriter::new();
        let mut out = Vec::new();
        let mut input = PREFACE.to_vec();
        input.extend(headers_frame(&[0xff, 0xff, 0xff, 0xff, 0x7f], 1, END_HEADERS));
        assert!(r.feed(&input, &mut out).is_err());
        let mut r = Rewriter::new();
        let mut input = PREFACE.to_vec();
        frame_header(1, CONTINUATION, END_HEADERS, 1, &mut input);
        input.push(0x82);
        assert!(r.feed(&input, &mut Vec::new()).is_err());
    }
}
