//! SPDY/3.1 framing (the SPDY/3 draft plus 3.1's WINDOW_UPDATE for the
//! session), as far as Kubernetes' streams use it: the frames, the header
//! block layout and its compression.
//!
//! Every frame has an 8-byte head. A control frame: the control bit and
//! version 3 (16 bits), its type (16 bits), flags (8 bits) and length (24
//! bits). A data frame: the stream id (31 bits, control bit clear), flags
//! and length. Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are a count
//! and length-prefixed name/value pairs (values of one name joined by NUL),
//! compressed by one zlib stream per direction for the whole connection,
//! primed with SPDY's dictionary and ended with a sync flush per block; so
//! frames must be encoded in the order they go on the wire, and decoded in
//! the order they came.
//!
//! Flow control: Kubernetes' peers (moby/spdystream) neither send nor
//! honour WINDOW_UPDATE; it is decoded and may be ignored.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

/// Largest payload of one frame (24-bit length).
pub const MAX_FRAME_LEN: usize = (1 << 24) - 1;
/// Largest decompressed header block accepted.
pub const MAX_HEADER_BLOCK: usize = 256 * 1024;
/// Data payload size this crate's users write per frame.
pub const DATA_CHUNK: usize = 32 * 1024;

const VERSION: u16 = 3;
const FLAG_FIN: u8 = 0x01;
const FLAG_UNIDIRECTIONAL: u8 = 0x02;

const TYPE_SYN_STREAM: u16 = 1;
const TYPE_SYN_REPLY: u16 = 2;
const TYPE_RST_STREAM: u16 = 3;
const TYPE_SETTINGS: u16 = 4;
const TYPE_PING: u16 = 6;
const TYPE_GOAWAY: u16 = 7;
const TYPE_HEADERS: u16 = 8;
const TYPE_WINDOW_UPDATE: u16 = 9;

/// RST_STREAM status: the stream was refused.
pub const RST_REFUSED_STREAM: u32 = 3;
/// RST_STREAM status: cancelled.
pub const RST_CANCEL: u32 = 5;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpdyError {
    #[error("spdy: unsupported version {0}")]
    Version(u16),
    #[error("spdy: frame too large ({0} bytes)")]
    TooLarge(usize),
    #[error("spdy: short {0} frame")]
    Short(&'static str),
    #[error("spdy: stream id zero in a {0} frame")]
    ZeroStream(&'static str),
    #[error("spdy: bad header block: {0}")]
    HeaderBlock(&'static str),
    #[error("spdy: header compression: {0}")]
    Zlib(String),
}

/// A header block: names (lowercase on the wire) and values in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    /// Add `name: value` (the name is lowercased, as SPDY wants).
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.push(name, value);
        self
    }

    pub fn push(&mut self, name: &str, value: &str) {
        self.0.push((name.to_ascii_lowercase(), value.to_string()));
    }

    /// The first value of `name` (any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The uncompressed block: values of one name joined by NUL.
    fn encode(&self) -> Vec<u8> {
        let mut names: Vec<&str> = Vec::new();
        for (n, _) in &self.0 {
            if !names.contains(&n.as_str()) {
                names.push(n);
            }
        }
        let mut out = Vec::new();
        out.extend_from_slice(&(names.len() as u32).to_be_bytes());
        for name in names {
            let value = self
                .0
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join("\0");
            out.extend_from_slice(&(name.len() as u32).to_be_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(value.len() as u32).to_be_bytes());
            out.extend_from_slice(value.as_bytes());
        }
        out
    }

    fn decode(block: &[u8]) -> Result<Headers, SpdyError> {
        let mut r = Reader(block);
        let count = r.u32().ok_or(SpdyError::HeaderBlock("no count"))? as usize;
        let mut out = Headers::new();
        for _ in 0..count {
            let name = r.string().ok_or(SpdyError::HeaderBlock("short name"))?;
            let value = r.string().ok_or(SpdyError::HeaderBlock("short value"))?;
            if name.is_empty() {
                return Err(SpdyError::HeaderBlock("empty name"));
            }
            for v in value.split('\0') {
                out.0.push((name.to_ascii_lowercase(), v.to_string()));
            }
        }
        Ok(out)
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_be_bytes(*head))
    }

    fn string(&mut self) -> Option<String> {
        let len = self.u32()? as usize;
        if len > self.0.len() {
            return None;
        }
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(String::from_utf8_lossy(s).into_owned())
    }
}

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    SynStream {
        stream_id: u32,
        associated_to: u32,
        priority: u8,
        fin: bool,
        unidirectional: bool,
        headers: Headers,
    },
    SynReply {
        stream_id: u32,
        fin: bool,
        headers: Headers,
    },
    RstStream {
        stream_id: u32,
        status: u32,
    },
    /// `(flags, id, value)` entries.
    Settings(Vec<(u8, u32, u32)>),
    Ping(u32),
    GoAway {
        last_good_stream_id: u32,
        status: u32,
    },
    Headers {
        stream_id: u32,
        fin: bool,
        headers: Headers,
    },
    WindowUpdate {
        stream_id: u32,
        delta: u32,
    },
    Data {
        stream_id: u32,
        fin: bool,
        data: Vec<u8>,
    },
    /// A control frame of a type not listed (SPDY says: ignore it).
    Unknown(u16),
}

/// Compresses the header blocks of one direction of a connection.
pub struct Encoder {
    zlib: Compress,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    pub fn new() -> Self {
        let mut zlib = Compress::new(Compression::best(), true);
        // A fresh stream always takes a dictionary.
        let _ = zlib.set_dictionary(&crate::dictionary::bytes());
        Encoder { zlib }
    }

    fn compress(&mut self, block: &[u8]) -> Result<Vec<u8>, SpdyError> {
        let mut out = Vec::with_capacity(block.len() + 64);
        let start_in = self.zlib.total_in();
        loop {
            let done = (self.zlib.total_in() - start_in) as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(block.len() + 64);
            }
            self.zlib
                .compress_vec(&block[done..], &mut out, FlushCompress::Sync)
                .map_err(|e| SpdyError::Zlib(e.to_string()))?;
            // Finished when every byte went in and the flush left room
            // (a full output buffer may hold back more).
            let consumed = (self.zlib.total_in() - start_in) as usize == block.len();
            if consumed && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }

    /// Append `frame`'s bytes to `out`.
    pub fn encode(&mut self, frame: &Frame, out: &mut Vec<u8>) -> Result<(), SpdyError> {
        match frame {
            Frame::Data { stream_id, fin, data } => {
                if data.len() > MAX_FRAME_LEN {
                    return Err(SpdyError::TooLarge(data.len()));
                }
                out.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
                push_flags_len(out, if *fin { FLAG_FIN } else { 0 }, data.len());
                out.extend_from_slice(data);
                Ok(())
            }
            Frame::SynStream {
                stream_id,
                associated_to,
                priority,
                fin,
                unidirectional,
                headers,
            } => {
                let block = self.compress(&headers.encode())?;
                let mut body = Vec::with_capacity(10 + block.len());
                body.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
                body.extend_from_slice(&(associated_to & 0x7fff_ffff).to_be_bytes());
                body.push((priority & 0x7) << 5);
                body.push(0); // slot
                body.extend_from_slice(&block);
                let flags = if *fin { FLAG_FIN } else { 0 } | if *unidirectional { FLAG_UNIDIRECTIONAL } else { 0 };
                control(out, TYPE_SYN_STREAM, flags, &body)
            }
            Frame::SynReply {
                stream_id,
                fin,
                headers,
            }
            | Frame::Headers {
                stream_id,
                fin,
                headers,
            } => {
                let kind = if matches!(frame, Frame::SynReply { .. }) {
                    TYPE_SYN_REPLY
                } else {
                    TYPE_HEADERS
                };
                let block = self.compress(&headers.encode())?;
                let mut body = Vec::with_capacity(4 + block.len());
                body.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
                body.extend_from_slice(&block);
                control(out, kind, if *fin { FLAG_FIN } else { 0 }, &body)
            }
            Frame::RstStream { stream_id, status } => {
                control(out, TYPE_RST_STREAM, 0, &two_words(stream_id & 0x7fff_ffff, *status))
            }
            Frame::Settings(entries) => {
                let mut body = (entries.len() as u32).to_be_bytes().to_vec();
                for (flags, id, value) in entries {
                    body.push(*flags);
                    body.extend_from_slice(&id.to_be_bytes()[1..]);
                    body.extend_from_slice(&value.to_be_bytes());
                }
                control(out, TYPE_SETTINGS, 0, &body)
            }
            Frame::Ping(id) => control(out, TYPE_PING, 0, &id.to_be_bytes()),
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => control(
                out,
                TYPE_GOAWAY,
                0,
                &two_words(last_good_stream_id & 0x7fff_ffff, *status),
            ),
            Frame::WindowUpdate { stream_id, delta } => control(
                out,
                TYPE_WINDOW_UPDATE,
                0,
                &two_words(stream_id & 0x7fff_ffff, delta & 0x7fff_ffff),
            ),
            Frame::Unknown(kind) => control(out, *kind, 0, &[]),
        }
    }
}

fn two_words(a: u32, b: u32) -> [u8; 8] {
    let mut w = [0u8; 8];
    w[..4].copy_from_slice(&a.to_be_bytes());
    w[4..].copy_from_slice(&b.to_be_bytes());
    w
}

fn push_flags_len(out: &mut Vec<u8>, flags: u8, len: usize) {
    out.push(flags);
    out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
}

fn control(out: &mut Vec<u8>, kind: u16, flags: u8, body: &[u8]) -> Result<(), SpdyError> {
    if body.len() > MAX_FRAME_LEN {
        return Err(SpdyError::TooLarge(body.len()));
    }
    out.extend_from_slice(&(0x8000 | VERSION).to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    push_flags_len(out, flags, body.len());
    out.extend_from_slice(body);
    Ok(())
}

/// Decompresses the header blocks of one direction of a connection.
pub struct Decoder {
    zlib: Decompress,
    max_frame: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    pub fn new() -> Self {
        Decoder {
            zlib: Decompress::new(true),
            max_frame: MAX_FRAME_LEN,
        }
    }

    /// Refuse frames longer than `len` bytes (memory bound per frame).
    pub fn with_max_frame(mut self, len: usize) -> Self {
        self.max_frame = len.min(MAX_FRAME_LEN);
        self
    }

    fn decompress(&mut self, block: &[u8]) -> Result<Vec<u8>, SpdyError> {
        let mut out = Vec::with_capacity(block.len() * 4 + 64);
        let start_in = self.zlib.total_in();
        loop {
            let done = (self.zlib.total_in() - start_in) as usize;
            if out.len() > MAX_HEADER_BLOCK {
                return Err(SpdyError::HeaderBlock("too large"));
            }
            if out.capacity() - out.len() < 256 {
                out.reserve(out.capacity().max(1024));
            }
            let before_out = out.len();
            if let Err(e) = self
                .zlib
                .decompress_vec(&block[done..], &mut out, FlushDecompress::Sync)
            {
                match e.needs_dictionary() {
                    Some(_) => {
                        self.zlib
                            .set_dictionary(&crate::dictionary::bytes())
                            .map_err(|e| SpdyError::Zlib(e.to_string()))?;
                        continue;
                    }
                    None => return Err(SpdyError::Zlib(e.to_string())),
                }
            }
            let now_in = (self.zlib.total_in() - start_in) as usize;
            if now_in == block.len() && out.len() < out.capacity() {
                return Ok(out);
            }
            if now_in == done && out.len() == before_out {
                return Err(SpdyError::Zlib("header block does not decompress".into()));
            }
        }
    }

    /// The first frame in `buf`, and how many bytes it took; `None` until
    /// `buf` holds a whole frame.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Option<(Frame, usize)>, SpdyError> {
        let Some(head) = buf.first_chunk::<8>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([0, head[5], head[6], head[7]]) as usize;
        if len > self.max_frame {
            return Err(SpdyError::TooLarge(len));
        }
        if buf.len() < 8 + len {
            return Ok(None);
        }
        let flags = head[4];
        let body = &buf[8..8 + len];
        let fin = flags & FLAG_FIN != 0;
        if head[0] & 0x80 == 0 {
            let stream_id = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
            if stream_id == 0 {
                return Err(SpdyError::ZeroStream("data"));
            }
            let frame = Frame::Data {
                stream_id,
                fin,
                data: body.to_vec(),
            };
            return Ok(Some((frame, 8 + len)));
        }
        let version = u16::from_be_bytes([head[0], head[1]]) & 0x7fff;
        if version != VERSION {
            return Err(SpdyError::Version(version));
        }
        let kind = u16::from_be_bytes([head[2], head[3]]);
        let word = |i: usize, what: &'static str| -> Result<u32, SpdyError> {
            body.get(i..i + 4)
                .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
                .ok_or(SpdyError::Short(what))
        };
        let stream = |what: &'static str| -> Result<u32, SpdyError> {
            let id = word(0, what)? & 0x7fff_ffff;
            if id == 0 {
                return Err(SpdyError::ZeroStream(what));
            }
            Ok(id)
        };
        let frame = match kind {
            TYPE_SYN_STREAM => {
                let stream_id = stream("SYN_STREAM")?;
                let associated_to = word(4, "SYN_STREAM")? & 0x7fff_ffff;
                let priority = body.get(8).ok_or(SpdyError::Short("SYN_STREAM"))? >> 5;
                let block = body.get(10..).ok_or(SpdyError::Short("SYN_STREAM"))?;
                let headers = Headers::decode(&self.decompress(block)?)?;
                Frame::SynStream {
                    stream_id,
                    associated_to,
                    priority,
                    fin,
                    unidirectional: flags & FLAG_UNIDIRECTIONAL != 0,
                    headers,
                }
            }
            TYPE_SYN_REPLY | TYPE_HEADERS => {
                let what = if kind == TYPE_SYN_REPLY { "SYN_REPLY" } else { "HEADERS" };
                let stream_id = stream(what)?;
                let block = body.get(4..).ok_or(SpdyError::Short(what))?;
                let headers = Headers::decode(&self.decompress(block)?)?;
                if kind == TYPE_SYN_REPLY {
                    Frame::SynReply {
                        stream_id,
                        fin,
                        headers,
                    }
                } else {
                    Frame::Headers {
                        stream_id,
                        fin,
                        headers,
                    }
                }
            }
            TYPE_RST_STREAM => Frame::RstStream {
                stream_id: stream("RST_STREAM")?,
                status: word(4, "RST_STREAM")?,
            },
            TYPE_SETTINGS => {
                let count = word(0, "SETTINGS")? as usize;
                if body.len() < 4 + count.saturating_mul(8) {
                    return Err(SpdyError::Short("SETTINGS"));
                }
                let entries = (0..count)
                    .map(|i| {
                        let e = &body[4 + i * 8..12 + i * 8];
                        (
                            e[0],
                            u32::from_be_bytes([0, e[1], e[2], e[3]]),
                            u32::from_be_bytes([e[4], e[5], e[6], e[7]]),
                        )
                    })
                    .collect();
                Frame::Settings(entries)
            }
            TYPE_PING => Frame::Ping(word(0, "PING")?),
            TYPE_GOAWAY => Frame::GoAway {
                last_good_stream_id: word(0, "GOAWAY")? & 0x7fff_ffff,
                // SPDY/2-style GOAWAY frames have no status.
                status: word(4, "GOAWAY").unwrap_or(0),
            },
            TYPE_WINDOW_UPDATE => Frame::WindowUpdate {
                stream_id: word(0, "WINDOW_UPDATE")? & 0x7fff_ffff,
                delta: word(4, "WINDOW_UPDATE")? & 0x7fff_ffff,
            },
            other => Frame::Unknown(other),
        };
        Ok(Some((frame, 8 + len)))
    }
}

/// Split `data` into DATA frames of at most [`DATA_CHUNK`] bytes.
pub fn data_frames(stream_id: u32, data: &[u8]) -> impl Iterator<Item = Frame> + '_ {
    data.chunks(DATA_CHUNK).map(move |c| Frame::Data {
        stream_id,
        fin: false,
        data: c.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(frames: &[Frame]) {
        let mut enc = Encoder::new();
        let mut dec = Decoder::new();
        let mut wire = Vec::new();
        for f in frames {
            enc.encode(f, &mut wire).expect("encode");
        }
        let mut at = 0;
        for f in frames {
            let (got, used) = dec
                .decode(&wire[at..])
                .expect("decode")
                .unwrap_or_else(|| panic!("incomplete at {at}"));
            assert_eq!(&got, f);
            assert_eq!(dec.decode(&wire[at..at + used - 1]).expect("partial"), None);
            at += used;
        }
        assert_eq!(at, wire.len());
    }

    #[test]
    fn frames_roundtrip_with_one_compression_context() {
        let h = Headers::new()
            .with("streamType", "stdout")
            .with("X-Multi", "a")
            .with("x-multi", "b");
        roundtrip(&[
            Frame::SynStream {
                stream_id: 1,
                associated_to: 0,
                priority: 0,
                fin: false,
                unidirectional: false,
                headers: h.clone(),
            },
            Frame::SynReply {
                stream_id: 1,
                fin: false,
                headers: Headers::new(),
            },
            // The second block refers to the first through the window.
            Frame::SynStream {
                stream_id: 3,
                associated_to: 0,
                priority: 2,
                fin: true,
                unidirectional: false,
                headers: Headers::new().with("streamtype", "stderr"),
            },
            Frame::Headers {
                stream_id: 3,
                fin: false,
                headers: h,
            },
            Frame::Data {
                stream_id: 1,
                fin: true,
                data: b"hello".to_vec(),
            },
            Frame::RstStream {
                stream_id: 5,
                status: 5,
            },
            Frame::Settings(vec![(0, 7, 65536), (1, 4, 100)]),
            Frame::Ping(7),
            Frame::GoAway {
                last_good_stream_id: 3,
                status: 0,
            },
            Frame::WindowUpdate {
                stream_id: 1,
                delta: 4096,
            },
        ]);
    }

    #[test]
    fn wire_layout() {
        let mut out = Vec::new();
        Encoder::new()
            .encode(
                &Frame::Data {
                    stream_id: 3,
                    fin: true,
                    data: b"ab".to_vec(),
                },
                &mut out,
            )
            .expect("data");
        assert_eq!(out, [0, 0, 0, 3, 1, 0, 0, 2, b'a', b'b']);
        out.clear();
        Encoder::new().encode(&Frame::Ping(9), &mut out).expect("ping");
        assert_eq!(out, [0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 9]);
        // A header block's zlib stream names SPDY's dictionary (FDICT).
        out.clear();
        Encoder::new()
            .encode(
                &Frame::SynReply {
                    stream_id: 1,
                    fin: false,
                    headers: Headers::new(),
                },
                &mut out,
            )
            .expect("reply");
        let zlib = &out[12..];
        assert_eq!(zlib[1] & 0x20, 0x20, "FDICT");
        assert_eq!(zlib[2..6], [0xe3, 0xc6, 0xa7, 0xc2]);
    }

    #[test]
    fn header_block_layout() {
        let h = Headers::new().with("A", "1").with("a", "2").with("b", "");
        let raw = h.encode();
        assert_eq!(
            raw,
            [0, 0, 0, 2, 0, 0, 0, 1, b'a', 0, 0, 0, 3, b'1', 0, b'2', 0, 0, 0, 1, b'b', 0, 0, 0, 0]
        );
        let back = Headers::decode(&raw).expect("decode");
        assert_eq!(back.get("A"), Some("1"));
        assert_eq!(back.iter().count(), 3);
        assert!(Headers::decode(&[0, 0, 0, 1, 0, 0, 0, 9, b'a']).is_err());
    }

    /// Two SYN_STREAM header blocks as another zlib (Python's, level 9,
    /// SPDY's dictionary, sync flush; what Go's spdy framer does) wrote
    /// them: one context across frames.
    #[test]
    fn reads_another_zlibs_blocks() {
        let blocks = [
            "78f9e3c6a7c202253a703a2b294a4dcc851625aca9a0808614cb45e01c6061606100a4398b20d198094ade8c0600000000ffff",
            "c2aa19540e2512d60b000000ffff",
        ];
        let mut dec = Decoder::new();
        for (i, (hex_block, kind)) in blocks.iter().zip(["error", "data"]).enumerate() {
            let block: Vec<u8> = (0..hex_block.len())
                .step_by(2)
                .map(|j| u8::from_str_radix(&hex_block[j..j + 2], 16).expect("hex"))
                .collect();
            let mut body = vec![0, 0, 0, (2 * i + 1) as u8, 0, 0, 0, 0, 0, 0];
            body.extend_from_slice(&block);
            let mut frame = vec![0x80, 3, 0, 1, 0];
            frame.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
            frame.extend_from_slice(&body);
            let Some((Frame::SynStream { headers, .. }, _)) = dec.decode(&frame).expect("decode") else {
                panic!("not a SYN_STREAM");
            };
            assert_eq!(headers.get("streamType"), Some(kind));
            assert_eq!(headers.get("port"), Some("8080"));
            assert_eq!(headers.get("requestID"), Some("0"));
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut dec = Decoder::new();
        // Version 2.
        assert_eq!(
            dec.decode(&[0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]),
            Err(SpdyError::Version(2))
        );
        // Data on stream 0.
        assert!(Decoder::new().decode(&[0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        // Garbage header block.
        let frame = [0x80, 3, 0, 2, 0, 0, 0, 8, 0, 0, 0, 1, 1, 2, 3, 4];
        assert!(Decoder::new().decode(&frame).is_err());
        // Oversized.
        let big = [0, 0, 0, 1, 0, 0x10, 0, 0];
        assert!(Decoder::new().with_max_frame(1024).decode(&big).is_err());
        // Short control frames.
        assert!(Decoder::new().decode(&[0x80, 3, 0, 3, 0, 0, 0, 2, 0, 1]).is_err());
    }
}
