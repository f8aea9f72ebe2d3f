//! `GET /containers/{id}/logs`: a stream of output chunks, demultiplexed
//! unless the container has a TTY.

use std::io::{BufReader, Read};
use std::os::unix::net::UnixStream;

use pier_api::stdcopy::{Decoder, FrameError, StreamType, HEADER_LEN};
use pier_api::version::is_multiplexed;

use crate::body::Body;
use crate::client::RequestBody;
use crate::query::{path, Query};
use crate::{Client, Error};

/// Query of the logs endpoint. `since`/`until` are what the daemon takes:
/// unix seconds, optionally with a fraction (`1700000000.5`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    pub timestamps: bool,
    /// `all` or a number of lines.
    pub tail: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// Show the attributes given by `--log-opt labels=/env=` (`--details`).
    pub details: bool,
}

impl Default for LogsOptions {
    fn default() -> Self {
        LogsOptions {
            stdout: true,
            stderr: true,
            follow: false,
            timestamps: false,
            tail: None,
            since: None,
            until: None,
            details: false,
        }
    }
}

impl LogsOptions {
    pub(crate) fn query(&self) -> Query {
        let mut q = Query::new();
        q.flag("stdout", self.stdout)
            .flag("stderr", self.stderr)
            .flag("follow", self.follow)
            .flag("timestamps", self.timestamps)
            .push_opt("tail", self.tail.as_deref())
            .push_opt("since", self.since.as_deref())
            .push_opt("until", self.until.as_deref())
            .flag("details", self.details);
        q
    }
}

/// Output chunks from a stream, in arrival order.
pub struct OutputStream<R> {
    inner: R,
    decoder: Option<Decoder>,
    path: String,
    buf: Vec<u8>,
    /// [`next_piece`](OutputStream::next_piece)'s window of `buf`: bytes
    /// read and not yet returned.
    lo: usize,
    hi: usize,
    /// The frame being returned in pieces: its stream, payload bytes left.
    frame: (StreamType, usize),
}

/// A logs stream over the daemon connection.
pub type LogStream = OutputStream<Body<BufReader<UnixStream>>>;

impl<R: Read> OutputStream<R> {
    /// Wrap a stream; `multiplexed` selects stdcopy decoding.
    pub fn new(inner: R, multiplexed: bool, path: String) -> Self {
        OutputStream {
            inner,
            decoder: multiplexed.then(Decoder::new),
            path,
            buf: vec![0; 256 * 1024],
            lo: 0,
            hi: 0,
            frame: (StreamType::Stdout, 0),
        }
    }

    /// The next piece of output, borrowed from the read buffer: a frame's
    /// payload may come in several pieces (as it arrives), and nothing is
    /// copied. `None` at the end of the stream. Use either this or
    /// [`next_chunk`](Self::next_chunk) on one stream, not both.
    pub fn next_piece(&mut self) -> Result<Option<(StreamType, &[u8])>, Error> {
        loop {
            if self.decoder.is_none() {
                if self.lo < self.hi {
                    let (lo, hi) = (self.lo, self.hi);
                    self.lo = hi;
                    return Ok(Some((StreamType::Stdout, &self.buf[lo..hi])));
                }
            } else if self.frame.1 > 0 {
                if self.lo < self.hi {
                    let take = self.frame.1.min(self.hi - self.lo);
                    let lo = self.lo;
                    self.lo += take;
                    self.frame.1 -= take;
                    return Ok(Some((self.frame.0, &self.buf[lo..lo + take])));
                }
            } else if let Some(h) = self.buf.get(self.lo..self.hi).filter(|h| h.len() >= HEADER_LEN) {
                let stream = StreamType::from_byte(h[0]).ok_or_else(|| Error::Frame {
                    path: self.path.clone(),
                    source: FrameError::UnknownStream(h[0]),
                })?;
                self.frame = (stream, u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize);
                self.lo += HEADER_LEN;
                continue;
            }
            // Keep a partial header at the front, read behind it.
            self.buf.copy_within(self.lo..self.hi, 0);
            self.hi -= self.lo;
            self.lo = 0;
            let Some(n) = self.read_at(self.hi)? else {
                continue;
            };
            if n == 0 {
                // A partial frame at the end is dropped, as docker's stdcopy
                // does when the connection ends.
                return Ok(None);
            }
            self.hi += n;
        }
    }

    /// One read into the buffer from `at`: bytes read (0 at the end),
    /// `None` when interrupted (the caller reads again).
    fn read_at(&mut self, at: usize) -> Result<Option<usize>, Error> {
        match self.inner.read(&mut self.buf[at..]) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(None),
            Err(source) => Err(Error::Io {
                op: "read stream",
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// The next chunk of output; `None` at the end of the stream. Raw (TTY)
    /// streams report everything as stdout.
    pub fn next_chunk(&mut self) -> Result<Option<(StreamType, Vec<u8>)>, Error> {
        loop {
            if let Some(d) = self.decoder.as_mut() {
                let frame = d.next_frame().map_err(|source| Error::Frame {
                    path: self.path.clone(),
                    source,
                })?;
                if let Some(f) = frame {
                    return Ok(Some(f));
                }
            }
            let Some(n) = self.read_at(0)? else {
                continue;
            };
            if n == 0 {
                // A partial frame at the end is dropped, as docker's stdcopy
                // does when the connection ends.
                return Ok(None);
            }
            match self.decoder.as_mut() {
                Some(d) => d.push(&self.buf[..n]),
                None => return Ok(Some((StreamType::Stdout, self.buf[..n].to_vec()))),
            }
        }
    }

    /// Bytes received and not yet returned; 0 means the next
    /// [`next_chunk`](Self::next_chunk) or [`next_piece`](Self::next_piece)
    /// reads the connection (and may wait), so a caller buffering output
    /// should flush first.
    pub fn buffered(&self) -> usize {
        self.decoder.as_ref().map_or(0, Decoder::pending) + self.piece_ready()
    }

    /// Payload bytes `next_piece` can return without reading: a header
    /// alone (or part of one) is not enough, and empty frames are skipped
    /// as `next_piece` skips them.
    fn piece_ready(&self) -> usize {
        if self.decoder.is_none() || self.frame.1 > 0 {
            return self.hi - self.lo;
        }
        let mut at = self.lo;
        while let Some(h) = self.buf.get(at..self.hi).filter(|h| h.len() >= HEADER_LEN) {
            if StreamType::from_byte(h[0]).is_none() {
                // `next_piece` fails without reading.
                return h.len();
            }
            let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
            if len > 0 {
                return (h.len() - HEADER_LEN).min(len);
            }
            at += HEADER_LEN;
        }
        0
    }

    /// The wrapped reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl Client {
    /// `GET /containers/{id}/logs`. Inspects the container first to learn
    /// whether it has a TTY (docker does the same), unless the response's
    /// Content-Type settles it.
    pub fn container_logs(&self, id: &str, opts: &LogsOptions) -> Result<LogStream, Error> {
        let tty = self.container_inspect(id)?.config.tty;
        let resp = self.request(
            "GET",
            &path("/containers/", id, "/logs"),
            &opts.query(),
            RequestBody::Empty,
        )?;
        let multiplexed = is_multiplexed(resp.header("Content-Type"), tty, self.api_version()?);
        let path = resp.path.clone();
        Ok(OutputStream::new(resp.body, multiplexed, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pier_api::stdcopy::encode_into;

    #[test]
    fn demultiplexes_across_reads() {
        let mut wire = Vec::new();
        encode_into(&mut wire, StreamType::Stdout, b"out\n");
        encode_into(&mut wire, StreamType::Stderr, b"err\n");
        let mut s = OutputStream::new(&wire[..], true, "/x".into());
        assert_eq!(
            s.next_chunk().expect("chunk"),
            Some((StreamType::Stdout, b"out\n".to_vec()))
        );
        assert_eq!(
            s.next_chunk().expect("chunk"),
            Some((StreamType::Stderr, b"err\n".to_vec()))
        );
        assert_eq!(s.next_chunk().expect("end"), None);
    }

    #[test]
    fn raw_stream_is_stdout() {
        let mut s = OutputStream::new(&b"\x01tty bytes"[..], false, "/x".into());
        assert_eq!(
            s.next_chunk().expect("chunk"),
            Some((StreamType::Stdout, b"\x01tty bytes".to_vec()))
        );
    }

    #[test]
    fn bad_frame_is_an_error() {
        let mut s = OutputStream::new(&[7u8, 0, 0, 0, 0, 0, 0, 1, b'x'][..], true, "/x".into());
        assert!(s.next_chunk().is_err());
    }

    /// A reader that hands out `step` bytes per read.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(self.0.len()).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// Every piece, merged per stream in order.
    fn pieces(r: impl Read, multiplexed: bool) -> Result<Vec<(StreamType, Vec<u8>)>, Error> {
        let mut s = OutputStream::new(r, multiplexed, "/x".into());
        let mut got: Vec<(StreamType, Vec<u8>)> = Vec::new();
        while let Some((kind, bytes)) = s.next_piece()? {
            assert!(!bytes.is_empty());
            match got.last_mut() {
                Some((k, b)) if *k == kind => b.extend_from_slice(bytes),
                _ => got.push((kind, bytes.to_vec())),
            }
        }
        Ok(got)
    }

    #[test]
    fn pieces_follow_frames_across_any_reads() {
        let mut wire = Vec::new();
        encode_into(&mut wire, StreamType::Stdout, b"out\n");
        encode_into(&mut wire, StreamType::Stdout, b"");
        encode_into(&mut wire, StreamType::Stderr, &[b'e'; 300]);
        encode_into(&mut wire, StreamType::SystemErr, b"notice");
        encode_into(&mut wire, StreamType::Stdout, b"more");
        let want = vec![
            (StreamType::Stdout, b"out\n".to_vec()),
            (StreamType::Stderr, vec![b'e'; 300]),
            (StreamType::SystemErr, b"notice".to_vec()),
            (StreamType::Stdout, b"more".to_vec()),
        ];
        for step in 1..=wire.len() {
            assert_eq!(pieces(Trickle(&wire, step), true).expect("pieces"), want, "step {step}");
        }
        // A frame cut short by the end of the stream: what arrived of it.
        assert_eq!(
            pieces(&wire[..wire.len() - 2], true).expect("pieces").last(),
            Some(&(StreamType::Stdout, b"mo".to_vec()))
        );
        assert_eq!(
            pieces(Trickle(b"\x01raw", 2), false).expect("raw"),
            vec![(StreamType::Stdout, b"\x01raw".to_vec())]
        );
        assert!(pieces(&[7u8, 0, 0, 0, 0, 0, 0, 1, b'x'][..], true).is_err());
    }

    /// A reader that counts its reads.
    struct Counted<R>(R, std::rc::Rc<std::cell::Cell<usize>>);

    impl<R: Read> Read for Counted<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.1.set(self.1.get() + 1);
            self.0.read(buf)
        }
    }

    #[test]
    fn buffered_pieces_never_hide_a_read() {
        // `logs -f` flushes when `buffered()` is 0; anything else must be
        // returned without waiting on the connection.
        let mut wire = Vec::new();
        encode_into(&mut wire, StreamType::Stdout, b"one\n");
        encode_into(&mut wire, StreamType::Stdout, b"");
        encode_into(&mut wire, StreamType::Stderr, b"two\n");
        encode_into(&mut wire, StreamType::Stdout, &[b'x'; 40]);
        for step in 1..=wire.len() {
            let reads = std::rc::Rc::new(std::cell::Cell::new(0));
            let mut s = OutputStream::new(Counted(Trickle(&wire, step), reads.clone()), true, "/x".into());
            let mut saw_buffered = false;
            loop {
                let ready = s.buffered();
                let before = reads.get();
                let done = s.next_piece().expect("piece").is_none();
                if ready > 0 {
                    saw_buffered = true;
                    assert_eq!(reads.get(), before, "step {step}: buffered {ready} but read");
                }
                if done {
                    break;
                }
            }
            if step == wire.len() {
                assert!(saw_buffered, "one read holds every frame");
            }
        }
    }

    #[test]
    fn buffered_skips_empty_frames_like_next_piece() {
        // Found by fuzz/stdcopy: an empty frame, then part of a header.
        let mut wire = Vec::new();
        encode_into(&mut wire, StreamType::Stdout, b"helps\n");
        encode_into(&mut wire, StreamType::Stdout, b"");
        wire.extend_from_slice(&[3, 0, 0]);
        let reads = std::rc::Rc::new(std::cell::Cell::new(0));
        let mut s = OutputStream::new(Counted(&wire[..], reads.clone()), true, "/x".into());
        assert_eq!(
            s.next_piece().expect("piece"),
            Some((StreamType::Stdout, &b"helps\n"[..]))
        );
        assert_eq!(s.buffered(), 0, "only an empty frame and part of a header are left");
    }

    #[test]
    fn query_flags() {
        let o = LogsOptions {
            follow: true,
            tail: Some("10".into()),
            ..Default::default()
        };
        assert_eq!(o.query().encode(), "?stdout=1&stderr=1&follow=1&tail=10");
    }
}
