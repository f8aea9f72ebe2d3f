//! Hijacked connections (`Upgrade: tcp`): after the `101`/`200` head the
//! socket carries the raw attach stream both ways.

use std::io::{self, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;

use crate::client::error_message;
use crate::http::{self, Headers};
use pier_api::version::{is_multiplexed, ApiVersion};

use crate::logs::OutputStream;
use crate::query::{path, Query};
use crate::{Client, Error};

/// A connection the daemon has handed over to a raw stream. Reading yields
/// first the bytes that arrived with the response head, then the socket.
#[derive(Debug)]
pub struct Hijacked {
    pub status: u16,
    pub headers: Headers,
    /// The API version the request was sent with.
    pub version: ApiVersion,
    buffered: Vec<u8>,
    pos: usize,
    stream: UnixStream,
}

impl Hijacked {
    /// Whether output is stdcopy-framed (see [`is_multiplexed`]).
    pub fn is_multiplexed(&self, tty: bool) -> bool {
        is_multiplexed(self.headers.get("Content-Type"), tty, self.version)
    }

    /// End our side of stdin: the daemon sees EOF, output keeps flowing.
    pub fn close_write(&self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)
    }

    /// A second handle on the socket, e.g. to copy stdin from another thread
    /// while this one reads output.
    pub fn try_clone_stream(&self) -> io::Result<UnixStream> {
        self.stream.try_clone()
    }

    /// Bytes already read past the head, and the socket.
    pub fn into_parts(self) -> (Vec<u8>, UnixStream) {
        let Hijacked {
            mut buffered,
            pos,
            stream,
            ..
        } = self;
        buffered.drain(..pos);
        (buffered, stream)
    }

    /// Demultiplex (or not, for TTY) the output side.
    pub fn into_output(self, tty: bool, path: String) -> OutputStream<Hijacked> {
        let multiplexed = self.is_multiplexed(tty);
        OutputStream::new(self, multiplexed, path)
    }
}

impl Read for Hijacked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.buffered.len() {
            let n = buf.len().min(self.buffered.len() - self.pos);
            buf[..n].copy_from_slice(&self.buffered[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        self.stream.read(buf)
    }
}

impl Write for Hijacked {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// Options of `POST /containers/{id}/attach`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub logs: bool,
    pub detach_keys: Option<String>,
}

impl Default for AttachOptions {
    fn default() -> Self {
        AttachOptions {
            stdin: false,
            stdout: true,
            stderr: true,
            logs: false,
            detach_keys: None,
        }
    }
}

impl Client {
    /// Send a request with `Upgrade: tcp` and take over the connection once
    /// the daemon answers `101` (or `200`, as dockerd does for clients that
    /// do not ask to upgrade). Error statuses become [`Error::Daemon`].
    pub fn hijack(
        &self,
        method: &str,
        path: &str,
        query: &Query,
        json_body: Option<Vec<u8>>,
    ) -> Result<Hijacked, Error> {
        let target = format!("{}{}", self.versioned(path)?, query.encode());
        let stream = self.connect()?;
        let io_err = |op: &'static str| {
            let path = target.clone();
            move |source| Error::Io { op, path, source }
        };
        let mut headers = Headers::new();
        headers.push("Connection", "Upgrade");
        headers.push("Upgrade", "tcp");
        let body = match json_body {
            Some(b) => {
                headers.push("Content-Type", "application/json");
                headers.push("Content-Length", b.len().to_string());
                b
            }
            None => {
                headers.push("Content-Length", "0");
                Vec::new()
            }
        };
        let mut msg = http::encode_request_head(method, &target, &headers);
        msg.extend_from_slice(&body);
        (&stream).write_all(&msg).map_err(io_err("send request"))?;

        let mut reader = BufReader::with_capacity(64 * 1024, stream);
        let head = http::read_response_head(&mut reader).map_err(|source| Error::Http {
            path: target.clone(),
            source,
        })?;
        if head.status >= 400 {
            let framing = http::framing(method, &head).map_err(|source| Error::Http {
                path: target.clone(),
                source,
            })?;
            let body = crate::body::Body::new(reader, framing).read_all().unwrap_or_default();
            return Err(Error::Daemon {
                status: head.status,
                message: error_message(&body),
            });
        }
        if head.status != 101 && head.status != 200 {
            return Err(Error::NotHijacked {
                path: target,
                status: head.status,
            });
        }
        let buffered = reader.buffer().to_vec();
        Ok(Hijacked {
            status: head.status,
            headers: head.headers,
            version: self.api_version()?,
            buffered,
            pos: 0,
            stream: reader.into_inner(),
        })
    }

    /// `POST /containers/{id}/attach?stream=1&...`, hijacked.
    pub fn container_attach(&self, id: &str, opts: &AttachOptions) -> Result<Hijacked, Error> {
        let mut q = Query::new();
        q.push("stream", "1")
            .flag("stdin", opts.stdin)
            .flag("stdout", opts.stdout)
            .flag("stderr", opts.stderr)
            .flag("logs", opts.logs)
            .push_opt("detachKeys", opts.detach_keys.as_deref());
        self.hijack("POST", &path("/containers/", id, "/attach"), &q, None)
    }
}
