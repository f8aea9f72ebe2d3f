//! Message bodies: a `Read` over a response body in any framing, and a
//! chunked writer for streamed request bodies. Generic over the transport so
//! the framing is tested on byte slices.

use std::io::{self, BufRead, Read, Write};

use crate::http::{Framing, HttpError};

/// Longest chunk-size line (with extensions) we accept.
const MAX_CHUNK_LINE: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Bytes left in a Content-Length body or the current chunk.
    Remaining(u64),
    /// Expect a chunk-size line next (chunked only).
    ChunkHeader,
    /// Expect the CRLF after a chunk's data.
    ChunkEnd,
    UntilEof,
    Done,
}

/// A response body. `read` returns data as soon as the transport delivers
/// it (it never waits to fill the caller's buffer), so a follow stream is
/// printed as it arrives.
#[derive(Debug)]
pub struct Body<R> {
    inner: R,
    chunked: bool,
    state: State,
}

impl<R: BufRead> Body<R> {
    pub fn new(inner: R, framing: Framing) -> Self {
        let (chunked, state) = match framing {
            Framing::Empty | Framing::Length(0) => (false, State::Done),
            Framing::Length(n) => (false, State::Remaining(n)),
            Framing::Chunked => (true, State::ChunkHeader),
            Framing::UntilEof => (false, State::UntilEof),
        };
        Body { inner, chunked, state }
    }

    /// True once the whole body has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Read the whole (remaining) body.
    pub fn read_all(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_to_end(&mut out)?;
        Ok(out)
    }

    fn read_chunk_header(&mut self) -> io::Result<()> {
        let mut line = Vec::new();
        (&mut self.inner)
            .take(MAX_CHUNK_LINE as u64)
            .read_until(b'\n', &mut line)?;
        if line.last() != Some(&b'\n') {
            return Err(if line.len() >= MAX_CHUNK_LINE {
                bad(HttpError::ChunkSize(lossy(&line)))
            } else {
                io::Error::new(io::ErrorKind::UnexpectedEof, HttpError::UnexpectedEof)
            });
        }
        let text = lossy(&line);
        let size_text = text.trim_end_matches(['\r', '\n']);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size_text, 16).map_err(|_| bad(HttpError::ChunkSize(text.clone())))?;
        if size == 0 {
            self.skip_trailers()?;
            self.state = State::Done;
        } else {
            self.state = State::Remaining(size);
        }
        Ok(())
    }

    fn skip_trailers(&mut self) -> io::Result<()> {
        loop {
            let mut line = Vec::new();
            (&mut self.inner)
                .take(MAX_CHUNK_LINE as u64)
                .read_until(b'\n', &mut line)?;
            // EOF right after the last chunk is tolerated: we asked for
            // Connection: close and some servers stop there.
            if line.is_empty() || line == b"\r\n" || line == b"\n" {
                return Ok(());
            }
            if line.last() != Some(&b'\n') {
                return Err(bad(HttpError::ChunkSize(lossy(&line))));
            }
        }
    }

    fn read_chunk_end(&mut self) -> io::Result<()> {
        let mut crlf = [0u8; 2];
        self.inner.read_exact(&mut crlf[..1])?;
        if crlf[0] == b'\r' {
            self.inner.read_exact(&mut crlf[1..])?;
        } else {
            crlf[1] = crlf[0];
        }
        if crlf[1] != b'\n' {
            return Err(bad(HttpError::ChunkTerminator));
        }
        self.state = State::ChunkHeader;
        Ok(())
    }
}

impl<R: BufRead> Read for Body<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::ChunkHeader => self.read_chunk_header()?,
                State::ChunkEnd => self.read_chunk_end()?,
                State::UntilEof => {
                    let n = self.inner.read(buf)?;
                    if n == 0 {
                        self.state = State::Done;
                    }
                    return Ok(n);
                }
                State::Remaining(left) => {
                    let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.inner.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "connection closed in the middle of the response body",
                        ));
                    }
                    let left = left - n as u64;
                    self.state = match (left, self.chunked) {
                        (0, true) => State::ChunkEnd,
                        (0, false) => State::Done,
                        (l, _) => State::Remaining(l),
                    };
                    return Ok(n);
                }
            }
        }
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn bad(e: HttpError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Which side of [`copy_chunked`] failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("read request body source: {0}")]
    Read(#[source] io::Error),
    #[error("write request body: {0}")]
    Write(#[source] io::Error),
}

impl CopyError {
    pub fn into_io(self) -> io::Error {
        match self {
            CopyError::Read(e) | CopyError::Write(e) => e,
        }
    }
}

/// Copy `src` to `dst` as a chunked body, ending with the zero chunk.
/// Each read of `src` becomes one chunk, so interactive input is sent as it
/// comes. Returns the number of payload bytes.
pub fn copy_chunked<R: Read + ?Sized, W: Write + ?Sized>(src: &mut R, dst: &mut W) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        write_chunk(dst, &buf[..n]).map_err(CopyError::Write)?;
        total += n as u64;
    }
    dst.write_all(b"0\r\n\r\n")
        .and_then(|()| dst.flush())
        .map_err(CopyError::Write)?;
    Ok(total)
}

fn write_chunk<W: Write + ?Sized>(dst: &mut W, data: &[u8]) -> io::Result<()> {
    write!(dst, "{:x}\r\n", data.len())?;
    dst.write_all(data)?;
    dst.write_all(b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_in_small_pieces<R: BufRead>(mut b: Body<R>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = b.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn content_length_stops_at_length() {
        let b = Body::new(&b"hello, extra"[..], Framing::Length(5));
        assert_eq!(read_in_small_pieces(b).expect("read"), b"hello");
        let b = Body::new(&b"hel"[..], Framing::Length(5));
        assert!(read_in_small_pieces(b).is_err());
        let mut b = Body::new(&b"x"[..], Framing::Empty);
        assert_eq!(b.read_all().expect("read"), b"");
        assert!(b.is_done());
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let wire = b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: y\r\n\r\nNEXT";
        let mut r: &[u8] = wire;
        let b = Body::new(&mut r, Framing::Chunked);
        assert_eq!(read_in_small_pieces(b).expect("read"), b"hello, world");
        assert_eq!(r, b"NEXT");
    }

    #[test]
    fn chunked_tolerates_eof_after_last_chunk() {
        let b = Body::new(&b"2\r\nhi\r\n0\r\n"[..], Framing::Chunked);
        assert_eq!(read_in_small_pieces(b).expect("read"), b"hi");
    }

    #[test]
    fn chunked_rejects_bad_framing() {
        for wire in [
            &b"zz\r\nhi\r\n0\r\n\r\n"[..],
            b"2\r\nhiXX0\r\n\r\n",
            b"5\r\nhi",
            b"2\r\nhi\r\n",
        ] {
            let b = Body::new(wire, Framing::Chunked);
            assert!(read_in_small_pieces(b).is_err(), "{wire:?}");
        }
    }

    #[test]
    fn until_eof_reads_everything() {
        let b = Body::new(&b"all of it"[..], Framing::UntilEof);
        assert_eq!(read_in_small_pieces(b).expect("read"), b"all of it");
    }

    #[test]
    fn chunked_writer_round_trips() {
        let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut wire = Vec::new();
        let n = copy_chunked(&mut &payload[..], &mut wire).expect("write");
        assert_eq!(n, payload.len() as u64);
        assert!(wire.ends_with(b"0\r\n\r\n"));
        let mut b = Body::new(&wire[..], Framing::Chunked);
        assert_eq!(b.read_all().expect("read"), payload);
        let mut wire = Vec::new();
        copy_chunked(&mut &b""[..], &mut wire).expect("write");
        assert_eq!(wire, b"0\r\n\r\n");
    }
}
