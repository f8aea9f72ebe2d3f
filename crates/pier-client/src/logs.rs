//! `GET /containers/{id}/logs`: a stream of output chunks, demultiplexed
//! unless the container has a TTY.

use std::io::{BufReader, Read};
use std::os::unix::net::UnixStream;

use pier_api::stdcopy::{Decoder, StreamType};
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
            let n = match self.inner.read(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(Error::Io {
                        op: "read stream",
                        path: self.path.clone(),
                        source,
                    })
                }
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
    /// [`next_chunk`](Self::next_chunk) reads the connection (and may wait),
    /// so a caller buffering output should flush first.
    pub fn buffered(&self) -> usize {
        self.decoder.as_ref().map_or(0, Decoder::pending)
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
