//! The process backend: spawning `pier-shim`, reading its ready line, and
//! RPC over its socket (`pier_shim_proto`'s framing), every step bounded by
//! a timeout.

use std::future::Future;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use pier_shim_proto::{FrameError, Ready, RecoverReply, RecoverRequest, Request, Response, MAX_FRAME};
use serde::{de::DeserializeOwned, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

use super::ShimError;

/// How long a shim may take to create the container.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the shim's first process may take to exit once the ready pipe
/// is closed (it forks and leaves).
const REAP_TIMEOUT: Duration = Duration::from_secs(5);

/// Spawn `shim shim_json`, read its ready line to EOF and reap the
/// intermediate process (the shim daemonizes).
pub(super) async fn spawn(shim: &Path, shim_json: &Path) -> Result<Ready, ShimError> {
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
    // The first process exits at once (it forks and leaves); reap it
    // whatever happened, but never wait on a stopped one without end.
    let status = match tokio::time::timeout(REAP_TIMEOUT, child.wait()).await {
        Ok(st) => st,
        Err(_) => {
            let _ = child.start_kill();
            child.wait().await
        }
    };
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

/// Run `shim --recover` with `req` on its stdin and read its one reply
/// line. Unbounded: the caller bounds it, and dropping this future kills
/// the process (`kill_on_drop`).
pub(super) async fn recover(shim: &Path, req: &RecoverRequest) -> Result<RecoverReply, ShimError> {
    let body = serde_json::to_vec(req).map_err(|e| ShimError::BadRecover(format!("encode request: {e}")))?;
    let mut child = tokio::process::Command::new(shim)
        .arg("--recover")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ShimError::Spawn {
            path: shim.to_path_buf(),
            source,
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(&body)
            .await
            .map_err(|e| ShimError::BadRecover(format!("write request: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| ShimError::BadRecover(format!("wait: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    match line {
        Some(line) if out.status.success() => {
            serde_json::from_str(line).map_err(|e| ShimError::BadRecover(format!("malformed reply {line:?}: {e}")))
        }
        _ => Err(ShimError::BadRecover(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
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

/// `fut`, or `ShimError::Timeout` after `after`.
pub(super) async fn bounded<T>(
    op: &'static str,
    after: Duration,
    fut: impl Future<Output = Result<T, ShimError>>,
) -> Result<T, ShimError> {
    match tokio::time::timeout(after, fut).await {
        Ok(r) => r,
        Err(_) => Err(ShimError::Timeout { op, after }),
    }
}

/// One connection to a shim's RPC socket. Unbounded: callers wrap calls
/// in [`bounded`].
#[derive(Debug)]
pub(super) struct Conn {
    stream: UnixStream,
}

impl Conn {
    pub(super) async fn connect(socket: &Path) -> Result<Self, ShimError> {
        let stream = UnixStream::connect(socket).await.map_err(|source| ShimError::Connect {
            path: socket.to_path_buf(),
            source,
        })?;
        Ok(Conn { stream })
    }

    /// Send one request and read its reply; `Response::Error` becomes
    /// `ShimError::Refused`.
    pub(super) async fn call(&mut self, req: &Request) -> Result<Response, ShimError> {
        self.send(req).await?;
        match self.recv().await? {
            Response::Error { message, code } => Err(ShimError::Refused { code, message }),
            r => Ok(r),
        }
    }

    /// Send a request without reading the reply (a pending `Wait`).
    pub(super) async fn send(&mut self, req: &Request) -> Result<(), ShimError> {
        Ok(write_frame(&mut self.stream, req).await?)
    }

    /// Read the next reply.
    pub(super) async fn recv(&mut self) -> Result<Response, ShimError> {
        match read_frame::<_, Response>(&mut self.stream).await? {
            None => Err(ShimError::Closed),
            Some(r) => Ok(r),
        }
    }

    /// The socket, for a stream-opening request once it is answered.
    pub(super) fn into_stream(self) -> UnixStream {
        self.stream
    }
}

/// Connect, send one request, read its reply.
pub(super) async fn call_once(socket: &Path, req: &Request) -> Result<Response, ShimError> {
    Conn::connect(socket).await?.call(req).await
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
