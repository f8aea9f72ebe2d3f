//! The daemon side of the shim contract (`pier-shim-proto`): spawning a shim
//! and reading its ready line, and an async RPC client over its socket.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use pier_shim_proto::{AttachRequest, ExecInfo, ExecRequest, FrameError, Ready, Request, Response, MAX_FRAME};
use serde::{de::DeserializeOwned, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

/// How long a shim may take to create the container.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    #[error("spawn shim {path}: {source}")]
    Spawn { path: PathBuf, source: std::io::Error },
    #[error("read shim ready line: {0}")]
    ReadyIo(std::io::Error),
    #[error("shim did not report ready within {0:?}")]
    ReadyTimeout(Duration),
    #[error("shim exited without reporting ready ({0})")]
    NoReady(String),
    #[error("malformed shim ready line {line:?}: {source}")]
    BadReady { line: String, source: serde_json::Error },
    #[error("connect to shim socket {path}: {source}")]
    Connect { path: PathBuf, source: std::io::Error },
    #[error("shim rpc: {0}")]
    Frame(#[from] FrameError),
    #[error("shim closed the connection")]
    Closed,
    #[error("shim refused: {0}")]
    Refused(String),
    #[error("unexpected shim reply {0:?}")]
    Unexpected(Box<Response>),
}

/// Spawn `shim shim_json`, read its ready line to EOF and reap the
/// intermediate process (the shim daemonizes).
pub async fn spawn(shim: &Path, shim_json: &Path) -> Result<Ready, ShimError> {
    let mut child = tokio::process::Command::new(shim)
        .arg(shim_json)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| ShimError::Spawn {
            path: shim.to_path_buf(),
            source,
        })?;
    let mut out = Vec::new();
    let read = async {
        if let Some(mut stdout) = child.stdout.take() {
            stdout.read_to_end(&mut out).await?;
        }
        Ok::<_, std::io::Error>(())
    };
    let res = tokio::time::timeout(READY_TIMEOUT, read).await;
    // The first process exits at once; reap it whatever happened.
    let status = child.wait().await;
    match res {
        Err(_) => return Err(ShimError::ReadyTimeout(READY_TIMEOUT)),
        Ok(Err(e)) => return Err(ShimError::ReadyIo(e)),
        Ok(Ok(())) => {}
    }
    parse_ready(&out).map_err(|e| match e {
        ShimError::NoReady(_) => ShimError::NoReady(match status {
            Ok(s) => s.to_string(),
            Err(e) => e.to_string(),
        }),
        other => other,
    })
}

/// The first non-empty line of the ready pipe.
pub fn parse_ready(out: &[u8]) -> Result<Ready, ShimError> {
    let text = String::from_utf8_lossy(out);
    let Some(line) = text.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return Err(ShimError::NoReady(String::new()));
    };
    serde_json::from_str(line).map_err(|source| ShimError::BadReady {
        line: line.to_string(),
        source,
    })
}

/// One connection to a shim's RPC socket.
#[derive(Debug)]
pub struct ShimClient {
    stream: UnixStream,
}

impl ShimClient {
    pub async fn connect(socket: &Path) -> Result<Self, ShimError> {
        let stream = UnixStream::connect(socket).await.map_err(|source| ShimError::Connect {
            path: socket.to_path_buf(),
            source,
        })?;
        Ok(ShimClient { stream })
    }

    /// Send one request and read its reply; `Response::Error` becomes
    /// `ShimError::Refused`.
    pub async fn call(&mut self, req: &Request) -> Result<Response, ShimError> {
        write_frame(&mut self.stream, req).await?;
        match read_frame::<_, Response>(&mut self.stream).await? {
            None => Err(ShimError::Closed),
            Some(Response::Error { message }) => Err(ShimError::Refused(message)),
            Some(r) => Ok(r),
        }
    }

    /// Send a request without reading the reply (a pending `Wait`).
    pub async fn send(&mut self, req: &Request) -> Result<(), ShimError> {
        Ok(write_frame(&mut self.stream, req).await?)
    }

    /// Read the next reply.
    pub async fn recv(&mut self) -> Result<Response, ShimError> {
        match read_frame::<_, Response>(&mut self.stream).await? {
            None => Err(ShimError::Closed),
            Some(r) => Ok(r),
        }
    }

    /// A call whose only good answer is `Ok`.
    pub async fn call_ok(&mut self, req: &Request) -> Result<(), ShimError> {
        match self.call(req).await? {
            Response::Ok => Ok(()),
            other => Err(ShimError::Unexpected(Box::new(other))),
        }
    }
}

impl ShimClient {
    /// Send a stream-opening request (`Attach`, attached `Exec`) and read
    /// its reply; the socket then carries the stdio stream.
    pub async fn open_stream(mut self, req: &Request) -> Result<(Response, UnixStream), ShimError> {
        let reply = self.call(req).await?;
        Ok((reply, self.stream))
    }
}

/// `Attach`: join the container's stdio; the returned socket is the stream.
pub async fn attach(socket: &Path, req: AttachRequest) -> Result<UnixStream, ShimError> {
    let conn = ShimClient::connect(socket).await?;
    match conn.open_stream(&Request::Attach(req)).await? {
        (Response::Ok, stream) => Ok(stream),
        (other, _) => Err(ShimError::Unexpected(Box::new(other))),
    }
}

/// `Exec`: start a process; returns its host pid and, unless detached, the
/// socket carrying its stream.
pub async fn exec(socket: &Path, req: ExecRequest) -> Result<(i32, Option<UnixStream>), ShimError> {
    let detach = req.detach;
    let conn = ShimClient::connect(socket).await?;
    match conn.open_stream(&Request::Exec(req)).await? {
        (Response::ExecStarted { pid }, stream) => Ok((pid, (!detach).then_some(stream))),
        (other, _) => Err(ShimError::Unexpected(Box::new(other))),
    }
}

/// `ExecState` of one exec.
pub async fn exec_state(socket: &Path, exec_id: &str) -> Result<ExecInfo, ShimError> {
    let mut conn = ShimClient::connect(socket).await?;
    match conn
        .call(&Request::ExecState {
            exec_id: exec_id.to_string(),
        })
        .await?
    {
        Response::ExecState(info) => Ok(info),
        other => Err(ShimError::Unexpected(Box::new(other))),
    }
}

/// Connect, send one request, expect `Ok`.
pub async fn call_once(socket: &Path, req: &Request) -> Result<(), ShimError> {
    ShimClient::connect(socket).await?.call_ok(req).await
}

/// Write one length-prefixed JSON frame.
pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(w: &mut W, msg: &T) -> Result<(), FrameError> {
    let bytes = pier_shim_proto::frame::encode(msg)?;
    w.write_all(&bytes).await?;
    w.flush().await?;
    Ok(())
}

/// Read one frame; `Ok(None)` on a clean EOF before it.
pub async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(r: &mut R) -> Result<Option<T>, FrameError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]).await? {
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
    r.read_exact(&mut body).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => FrameError::Truncated,
        _ => FrameError::Io(e),
    })?;
    Ok(Some(serde_json::from_slice(&body)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pier_shim_proto::ExitRecord;

    #[test]
    fn ready_lines() {
        assert_eq!(
            parse_ready(b"{\"status\":\"created\",\"pid\":5,\"shim_pid\":4}\n").expect("ready"),
            Ready::Created { pid: 5, shim_pid: 4 }
        );
        assert!(matches!(parse_ready(b""), Err(ShimError::NoReady(_))));
        assert!(matches!(parse_ready(b"junk\n"), Err(ShimError::BadReady { .. })));
    }

    #[tokio::test]
    async fn frames_round_trip() {
        let (mut a, mut b) = tokio::io::duplex(64);
        let rec = ExitRecord {
            exit_code: 3,
            signal: None,
            started_at: Some(1),
            finished_at: 2,
            oom_killed: false,
        };
        let sent = Response::Exited(rec);
        let s2 = sent.clone();
        let w = tokio::spawn(async move { write_frame(&mut a, &s2).await });
        let got: Option<Response> = read_frame(&mut b).await.expect("read");
        w.await.expect("join").expect("write");
        assert_eq!(got, Some(sent));
        let none: Option<Response> = read_frame(&mut b).await.expect("eof");
        assert!(none.is_none());
    }
}
