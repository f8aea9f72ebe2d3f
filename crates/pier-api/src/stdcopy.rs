//! Docker's multiplexed stream framing ("stdcopy"), used for non-TTY attach,
//! exec and logs streams: an 8-byte header `[stream, 0, 0, 0, len_be_u32]`
//! followed by `len` bytes of payload. Stream 0 is stdin, 1 stdout, 2 stderr
//! (Pier also uses 3, "systemerr", for stream-level errors, as dockerd does).

/// Which stream a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum StreamType {
    Stdin = 0,
    Stdout = 1,
    Stderr = 2,
    SystemErr = 3,
}

impl StreamType {
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => StreamType::Stdin,
            1 => StreamType::Stdout,
            2 => StreamType::Stderr,
            3 => StreamType::SystemErr,
            _ => return None,
        })
    }
}

/// Length of a frame header.
pub const HEADER_LEN: usize = 8;

/// Encode a frame header for `len` payload bytes.
pub fn header(stream: StreamType, len: u32) -> [u8; HEADER_LEN] {
    let l = len.to_be_bytes();
    [stream as u8, 0, 0, 0, l[0], l[1], l[2], l[3]]
}

/// Append frames carrying `payload` to `out` (payloads larger than
/// `u32::MAX` are split; an empty payload appends nothing).
pub fn encode_into(out: &mut Vec<u8>, stream: StreamType, payload: &[u8]) {
    for chunk in payload.chunks(u32::MAX as usize) {
        out.extend_from_slice(&header(stream, chunk.len() as u32));
        out.extend_from_slice(chunk);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("unknown stream type {0} in frame header")]
    UnknownStream(u8),
}

/// Incremental decoder: feed bytes, take out whole frames.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Start of the unconsumed bytes: frames are taken without shifting the
    /// rest of the buffer each time (compacted when more is pushed).
    pos: usize,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, if one is buffered.
    pub fn next_frame(&mut self) -> Result<Option<(StreamType, Vec<u8>)>, FrameError> {
        let buf = &self.buf[self.pos..];
        if buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let stream = StreamType::from_byte(buf[0]).ok_or(FrameError::UnknownStream(buf[0]))?;
        let len = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
        if buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let payload = buf[HEADER_LEN..HEADER_LEN + len].to_vec();
        self.pos += HEADER_LEN + len;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        Ok(Some((stream, payload)))
    }

    /// Bytes buffered but not yet returned as a frame.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_split_reads() {
        let mut wire = Vec::new();
        encode_into(&mut wire, StreamType::Stdout, b"hello\n");
        encode_into(&mut wire, StreamType::Stderr, b"oops\n");
        encode_into(&mut wire, StreamType::Stdout, b"");
        let mut d = Decoder::new();
        let mut got = Vec::new();
        for b in &wire {
            d.push(std::slice::from_ref(b));
            while let Some(f) = d.next_frame().expect("decode") {
                got.push(f);
            }
        }
        assert_eq!(
            got,
            vec![
                (StreamType::Stdout, b"hello\n".to_vec()),
                (StreamType::Stderr, b"oops\n".to_vec()),
            ]
        );
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn header_layout() {
        assert_eq!(header(StreamType::Stderr, 0x0102_0304), [2, 0, 0, 0, 1, 2, 3, 4]);
        let mut d = Decoder::new();
        d.push(&[9, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(FrameError::UnknownStream(9)));
    }
}
