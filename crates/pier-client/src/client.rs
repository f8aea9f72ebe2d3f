//! The transport: one connection per request over the daemon's unix socket,
//! version negotiation, and turning error statuses into [`Error::Daemon`].

use std::io::{BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::OnceLock;

use pier_api::version::{ApiVersion, API_VERSION};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::body::{copy_chunked, Body, CopyError};
use crate::http::{self, Headers, ResponseHead};
use crate::query::Query;
use crate::Error;

/// Where the daemon listens when neither `-H` nor `PIER_HOST` says otherwise.
pub const DEFAULT_HOST: &str = "unix:///run/pier/pier.sock";

/// API version assumed when `/_ping` carries no `Api-Version` header
/// (docker's rule).
pub const FALLBACK_API_VERSION: ApiVersion = ApiVersion { major: 1, minor: 24 };

/// A blocking Engine API client. Cheap to share by reference: each call
/// opens its own connection, so calls from several threads do not interfere.
#[derive(Debug)]
pub struct Client {
    host: String,
    socket: PathBuf,
    version: OnceLock<ApiVersion>,
}

/// What to send after the request head.
pub enum RequestBody<'a> {
    Empty,
    /// Serialized JSON, sent with Content-Length.
    Json(Vec<u8>),
    /// A stream of unknown length, sent chunked.
    Stream {
        content_type: &'a str,
        reader: &'a mut dyn Read,
    },
}

/// A response whose head has been read; the body is read on demand.
#[derive(Debug)]
pub struct Response {
    pub head: ResponseHead,
    pub body: Body<BufReader<UnixStream>>,
    pub(crate) path: String,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.head.status
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get(name)
    }

    /// Read the whole body.
    pub fn bytes(mut self) -> Result<Vec<u8>, Error> {
        let path = std::mem::take(&mut self.path);
        self.body.read_all().map_err(|source| Error::Io {
            op: "read response body of",
            path,
            source,
        })
    }

    /// Read the whole body and decode it as JSON.
    pub fn json<T: DeserializeOwned>(self, what: &'static str) -> Result<T, Error> {
        let path = self.path.clone();
        let bytes = self.bytes()?;
        serde_json::from_slice(&bytes).map_err(|source| Error::Json { what, path, source })
    }
}

/// Turn `unix:///run/pier/pier.sock` (or a bare absolute path) into the
/// socket path.
pub fn parse_host(host: &str) -> Result<PathBuf, Error> {
    let path = host.strip_prefix("unix://").unwrap_or(host);
    if path.starts_with('/') {
        Ok(PathBuf::from(path))
    } else {
        Err(Error::InvalidHost(host.to_string()))
    }
}

/// Decode an error body: docker's `{"message": ...}`, else the raw text.
pub fn error_message(body: &[u8]) -> String {
    match serde_json::from_slice::<pier_api::ErrorResponse>(body) {
        Ok(e) => e.message,
        Err(_) => String::from_utf8_lossy(body).trim().to_string(),
    }
}

impl Client {
    /// A client for `host` (`unix:///path`). Does not connect yet.
    pub fn new(host: &str) -> Result<Self, Error> {
        Ok(Client {
            host: host.to_string(),
            socket: parse_host(host)?,
            version: OnceLock::new(),
        })
    }

    /// A client that uses `version` and skips negotiation.
    pub fn with_version(host: &str, version: ApiVersion) -> Result<Self, Error> {
        let c = Self::new(host)?;
        let _ = c.version.set(version);
        Ok(c)
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The negotiated API version: the daemon's `Api-Version` from
    /// `HEAD /_ping`, capped at ours. Pinged once, on first use.
    pub fn api_version(&self) -> Result<ApiVersion, Error> {
        if let Some(v) = self.version.get() {
            return Ok(*v);
        }
        let resp = self.send("HEAD", "/_ping", RequestBody::Empty, &Headers::new())?;
        let server = resp
            .header("Api-Version")
            .and_then(|v| ApiVersion::parse(v).ok())
            .unwrap_or(FALLBACK_API_VERSION);
        let v = server.min(API_VERSION);
        tracing::debug!(version = %v, "negotiated API version");
        Ok(*self.version.get_or_init(|| v))
    }

    /// `/v1.NN{path}` for the negotiated version.
    pub fn versioned(&self, path: &str) -> Result<String, Error> {
        Ok(format!("/v{}{path}", self.api_version()?))
    }

    pub(crate) fn connect(&self) -> Result<UnixStream, Error> {
        UnixStream::connect(&self.socket).map_err(|source| Error::Connect {
            host: self.host.clone(),
            socket: self.socket.clone(),
            source,
        })
    }

    /// Send a request on a fresh connection and read the response head.
    /// `target` is the full path (already versioned) plus query string.
    /// Error statuses are returned as responses, not errors.
    pub fn send(&self, method: &str, target: &str, body: RequestBody<'_>, extra: &Headers) -> Result<Response, Error> {
        let stream = self.connect()?;
        let io_err = |op: &'static str| {
            let path = target.to_string();
            move |source| Error::Io { op, path, source }
        };
        let mut headers = extra.clone();
        if extra.get("Connection").is_none() {
            headers.push("Connection", "close");
        }
        match &body {
            RequestBody::Empty => {
                if method == "POST" {
                    headers.push("Content-Length", "0");
                }
            }
            RequestBody::Json(b) => {
                headers.push("Content-Type", "application/json");
                headers.push("Content-Length", b.len().to_string());
            }
            RequestBody::Stream { content_type, .. } => {
                headers.push("Content-Type", *content_type);
                headers.push("Transfer-Encoding", "chunked");
            }
        }
        let head = http::encode_request_head(method, target, &headers);
        let mut w = &stream;
        // A failed write still gets its answer read: the daemon may refuse
        // (say, 431 for a huge request line) and close before reading it all.
        let sent = match (w.write_all(&head), body) {
            (Err(e), _) => Err(e),
            (Ok(()), RequestBody::Empty) => Ok(()),
            (Ok(()), RequestBody::Json(b)) => w.write_all(&b),
            (Ok(()), RequestBody::Stream { reader, .. }) => match copy_chunked(reader, &mut w) {
                Ok(_) => Ok(()),
                // Our own source failed: the daemon still waits for body
                // bytes, so do not wait for its answer.
                Err(CopyError::Read(source)) => {
                    return Err(Error::Io {
                        op: "read request body for",
                        path: target.to_string(),
                        source,
                    })
                }
                Err(e) => Err(e.into_io()),
            },
        };
        let mut reader = BufReader::with_capacity(64 * 1024, stream);
        let head = match (sent, http::read_response_head(&mut reader)) {
            (_, Ok(head)) => head,
            // The daemon may answer (say, 400 for a body that is not a tar)
            // and close before taking the whole request: prefer its answer.
            (Err(source), Err(_)) => return Err(io_err("send request")(source)),
            (Ok(()), Err(source)) => {
                return Err(Error::Http {
                    path: target.to_string(),
                    source,
                })
            }
        };
        let framing = http::framing(method, &head).map_err(|source| Error::Http {
            path: target.to_string(),
            source,
        })?;
        Ok(Response {
            head,
            body: Body::new(reader, framing),
            path: target.to_string(),
        })
    }

    /// Versioned request; statuses >= 400 become [`Error::Daemon`].
    pub fn request(&self, method: &str, path: &str, query: &Query, body: RequestBody<'_>) -> Result<Response, Error> {
        let target = format!("{}{}", self.versioned(path)?, query.encode());
        let resp = self.send(method, &target, body, &Headers::new())?;
        check_status(resp)
    }

    /// Versioned request with a JSON body.
    pub fn request_json<T: Serialize>(
        &self,
        method: &str,
        path: &str,
        query: &Query,
        body: &T,
    ) -> Result<Response, Error> {
        let bytes = serde_json::to_vec(body).map_err(|source| Error::Encode {
            path: path.to_string(),
            source,
        })?;
        self.request(method, path, query, RequestBody::Json(bytes))
    }
}

/// Map an error status to [`Error::Daemon`] with the body's message.
pub(crate) fn check_status(resp: Response) -> Result<Response, Error> {
    let status = resp.status();
    if status < 400 {
        return Ok(resp);
    }
    let body = resp.bytes().unwrap_or_default();
    let mut message = error_message(&body);
    if message.is_empty() {
        message = format!("status {status}");
    }
    Err(Error::Daemon { status, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            parse_host("unix:///run/pier/pier.sock").expect("host"),
            PathBuf::from("/run/pier/pier.sock")
        );
        assert_eq!(parse_host("/tmp/x.sock").expect("host"), PathBuf::from("/tmp/x.sock"));
        assert!(parse_host("tcp://127.0.0.1:2375").is_err());
        assert!(parse_host("unix://relative").is_err());
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_message(br#"{"message":"No such container: x"}"#),
            "No such container: x"
        );
        assert_eq!(error_message(b"plain failure\n"), "plain failure");
    }
}
