//! Length-prefixed JSON frames: `u32` big-endian length, then JSON.

use std::io::{self, Read, Write};

use serde::{de::DeserializeOwned, Serialize};

/// Largest frame either side accepts.
pub const MAX_FRAME: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes exceeds the {MAX_FRAME} byte limit")]
    TooLarge(usize),
    #[error("malformed frame: {0}")]
    Json(#[from] serde_json::Error),
    #[error("frame io: {0}")]
    Io(#[from] io::Error),
    #[error("connection closed mid-frame")]
    Truncated,
}

/// Encode `msg` as one frame.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let body = serde_json::to_vec(msg)?;
    if body.len() > MAX_FRAME {
        return Err(FrameError::TooLarge(body.len()));
    }
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Blocking write of one frame.
pub fn write_frame<T: Serialize>(w: &mut impl Write, msg: &T) -> Result<(), FrameError> {
    w.write_all(&encode(msg)?)?;
    Ok(())
}

/// Blocking read of one frame; `Ok(None)` on a clean EOF before a frame.
pub fn read_frame<T: DeserializeOwned>(r: &mut impl Read) -> Result<Option<T>, FrameError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..])? {
            0 if got == 0 => return Ok(None),
            0 => return Err(FrameError::Truncated),
            n => got += n,
        }
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => FrameError::Truncated,
        _ => FrameError::Io(e),
    })?;
    Ok(Some(serde_json::from_slice(&body)?))
}

/// Incremental decoder for non-blocking readers.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole message, if buffered.
    #[allow(clippy::should_implement_trait)] // generic over T, not an Iterator
    pub fn next<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len > MAX_FRAME {
            return Err(FrameError::TooLarge(len));
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&self.buf[4..4 + len]);
        self.buf.drain(..4 + len);
        Ok(Some(msg?))
    }

    /// Take every buffered byte not yet decoded (when the connection stops
    /// carrying frames, for example after a stream starts).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// True when bytes of an unfinished frame are buffered.
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExitRecord, Request, Response};

    #[test]
    fn round_trip_blocking_and_incremental() {
        let mut wire = Vec::new();
        write_frame(&mut wire, &Request::Kill { signal: 9, all: false }).expect("write");
        write_frame(&mut wire, &Request::Wait).expect("write");
        let mut cursor = io::Cursor::new(wire.clone());
        assert_eq!(
            read_frame::<Request>(&mut cursor).expect("read"),
            Some(Request::Kill { signal: 9, all: false })
        );
        assert_eq!(read_frame::<Request>(&mut cursor).expect("read"), Some(Request::Wait));
        assert!(read_frame::<Request>(&mut cursor).expect("read").is_none());

        let mut d = FrameDecoder::new();
        let mut got = Vec::new();
        for b in &wire {
            d.push(std::slice::from_ref(b));
            while let Some(m) = d.next::<Request>().expect("decode") {
                got.push(m);
            }
        }
        assert_eq!(got.len(), 2);
        assert!(!d.has_partial());
    }

    #[test]
    fn rejects_oversize_and_truncated() {
        let mut d = FrameDecoder::new();
        d.push(&u32::MAX.to_be_bytes());
        assert!(matches!(d.next::<Request>(), Err(FrameError::TooLarge(_))));
        let wire = encode(&Response::Exited(ExitRecord {
            exit_code: 137,
            signal: Some(9),
            started_at: None,
            finished_at: 1,
            oom_killed: false,
        }))
        .expect("encode");
        let mut cursor = io::Cursor::new(&wire[..wire.len() - 1]);
        assert!(matches!(
            read_frame::<Response>(&mut cursor),
            Err(FrameError::Truncated)
        ));
    }
}
