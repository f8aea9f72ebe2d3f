//! Exec and attach sessions, whatever the transport (SPDY streams or
//! WebSocket channels, see [`Wire`]): they go through the shims exactly as
//! the Docker API's do (`Daemon::exec_create` / `exec_begin` /
//! `exec_launch`, `Daemon::attach`), and pump the shim's stream (stdcopy
//! layout frames, `End` with the exit code) to the client's streams: the
//! client's stdin to the shim (its end is stdin's end), resize messages to
//! the shim's terminal, and at the end the status on the error stream.

use std::sync::Arc;

use pier_k8s_stream::remotecommand::{ResizeDecoder, Status, StreamType};
use pier_shim_proto::{StreamEnd, StreamKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::{AttachRequest, ExecRequest};
use crate::daemon::{AttachParams, Daemon, Exec, ExecConfig, ShimSource};
use crate::error::Error;

/// What a session writes, in order; the transport maps a stream type to
/// its stream or channel (and drops what the client did not ask for).
#[derive(Debug)]
pub(crate) enum Out {
    Data(StreamType, Vec<u8>),
    /// Our side of that stream is done.
    Close(StreamType),
}

/// A session's view of its client. Dropping `out` ends the connection.
pub(crate) struct Wire {
    /// The client's stdin; the channel closes when the client closes it.
    pub stdin: Option<mpsc::Receiver<Vec<u8>>>,
    /// Resize messages (JSON `TerminalSize` values, split anywhere).
    pub resize: Option<mpsc::Receiver<Vec<u8>>>,
    pub out: mpsc::Sender<Out>,
    /// The negotiated protocol: how the status is written.
    pub protocol: &'static str,
}

/// Whose terminal a resize changes.
enum Terminal {
    Exec(Arc<Exec>),
    Container(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pumped {
    Ended(Option<i32>),
    ClientGone,
    ShimGone,
}

/// Run `req` as an exec (the Docker API's `POST /containers/{id}/exec` and
/// start) and report its exit code.
pub(crate) async fn exec(daemon: Arc<Daemon>, req: ExecRequest, wire: Wire) {
    let Wire {
        stdin,
        resize,
        out,
        protocol,
    } = wire;
    let config = ExecConfig {
        cmd: req.cmd.clone(),
        tty: req.tty,
        attach_stdin: req.stdin,
        attach_stdout: req.stdout,
        attach_stderr: req.stderr,
        ..Default::default()
    };
    let started = async {
        let id = daemon.exec_create(&req.container_id, config)?;
        let e = daemon.exec_get(&id).ok_or(Error::NoSuchExec(id))?;
        daemon.exec_begin(&e)?;
        match daemon.exec_launch(&e, false, None).await? {
            Ok(Some(shim)) => Ok((e, shim)),
            Ok(None) => Err(Error::Plain("the exec has no stream".into())),
            Err(f) => Err(Error::from(f)),
        }
    }
    .await;
    let (e, shim) = match started {
        Ok(x) => x,
        Err(err) => {
            finish(&out, protocol, &Status::internal_error(&err.to_string())).await;
            return;
        }
    };
    let terminal = Terminal::Exec(e.clone());
    let end = pump(&daemon, shim, stdin, resize, &out, req.tty, terminal).await;
    let code = match end {
        Pumped::Ended(code) => {
            e.finish(code);
            code
        }
        Pumped::ClientGone | Pumped::ShimGone => daemon.exec_refresh(&e).await.exit_code,
    };
    daemon.exec_died(&e);
    tracing::debug!(exec = %e.id, ?end, "CRI exec session ended");
    if end == Pumped::ClientGone {
        return;
    }
    let status = match code {
        Some(0) => Status::success(),
        Some(n) => Status::exit_code(
            n,
            &format!("error executing command [{}], exit code {n}", req.cmd.join(" ")),
        ),
        None => Status::internal_error("the exec ended without an exit code"),
    };
    finish(&out, protocol, &status).await;
}

/// Attach to the container's process (the Docker API's attach stream).
pub(crate) async fn attach(daemon: Arc<Daemon>, req: AttachRequest, wire: Wire) {
    let Wire {
        stdin,
        resize,
        out,
        protocol,
    } = wire;
    let params = AttachParams {
        stdin: req.stdin,
        stdout: req.stdout,
        stderr: req.stderr,
        logs: false,
        detach_keys: None,
    };
    let target = match daemon.attach(&req.container_id, params).await {
        Ok(t) => t,
        Err(err) => {
            finish(&out, protocol, &Status::internal_error(&err.to_string())).await;
            return;
        }
    };
    let ShimSource::Now(shim) = target.source else {
        let err = format!("container {} is not running", req.container_id);
        finish(&out, protocol, &Status::internal_error(&err)).await;
        return;
    };
    let stdin = stdin.filter(|_| target.stdin);
    let terminal = Terminal::Container(req.container_id.clone());
    let end = pump(&daemon, shim, stdin, resize, &out, target.tty, terminal).await;
    tracing::debug!(id = %req.container_id, ?end, "CRI attach session ended");
    if end != Pumped::ClientGone {
        finish(&out, protocol, &Status::success()).await;
    }
}

/// Close the output streams, then write the status and close the error
/// stream (a client reads the status once its output ended).
async fn finish(out: &mpsc::Sender<Out>, protocol: &str, status: &Status) {
    let _ = out.send(Out::Close(StreamType::Stdout)).await;
    let _ = out.send(Out::Close(StreamType::Stderr)).await;
    let bytes = status.encode_for(protocol);
    if !bytes.is_empty() {
        let _ = out.send(Out::Data(StreamType::Error, bytes)).await;
    }
    let _ = out.send(Out::Close(StreamType::Error)).await;
}

async fn pump(
    daemon: &Arc<Daemon>,
    shim: UnixStream,
    stdin: Option<mpsc::Receiver<Vec<u8>>>,
    resize: Option<mpsc::Receiver<Vec<u8>>>,
    out: &mpsc::Sender<Out>,
    tty: bool,
    terminal: Terminal,
) -> Pumped {
    let (sr, mut sw) = shim.into_split();
    let mut sr = BufReader::with_capacity(256 * 1024, sr);
    let output = async {
        let mut header = [0u8; 8];
        let mut payload = Vec::new();
        loop {
            if sr.read_exact(&mut header).await.is_err() {
                return Pumped::ShimGone;
            }
            let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
            payload.resize(len, 0);
            if sr.read_exact(&mut payload).await.is_err() {
                return Pumped::ShimGone;
            }
            let stream = match StreamKind::from_byte(header[0]) {
                Some(StreamKind::Stdout) => StreamType::Stdout,
                Some(StreamKind::Stderr) if tty => StreamType::Stdout,
                Some(StreamKind::Stderr) => StreamType::Stderr,
                Some(StreamKind::End) => {
                    let code = serde_json::from_slice::<StreamEnd>(&payload)
                        .ok()
                        .and_then(|e| e.exit_code);
                    return Pumped::Ended(code);
                }
                Some(StreamKind::Notice) | None => {
                    tracing::debug!(kind = header[0], "shim notice in a CRI session");
                    continue;
                }
            };
            if out.send(Out::Data(stream, payload.clone())).await.is_err() {
                return Pumped::ClientGone;
            }
        }
    };
    let input = async {
        if let Some(mut rx) = stdin {
            while let Some(bytes) = rx.recv().await {
                if sw.write_all(&bytes).await.is_err() {
                    break;
                }
            }
            // The client closed its stdin: so does the process's.
            let _ = sw.shutdown().await;
        }
        std::future::pending::<Pumped>().await
    };
    let resizing = async {
        if let Some(mut rx) = resize {
            let mut decoder = ResizeDecoder::default();
            while let Some(bytes) = rx.recv().await {
                let sizes = match decoder.feed(&bytes) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::debug!(error = %e, "bad resize message");
                        break;
                    }
                };
                for s in sizes {
                    let r = match &terminal {
                        Terminal::Exec(e) => daemon.exec_resize(e, s.height, s.width).await,
                        Terminal::Container(id) => daemon.resize(id, s.height, s.width).await,
                    };
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "resize in a CRI session");
                    }
                }
            }
        }
        std::future::pending::<Pumped>().await
    };
    tokio::select! {
        end = output => end,
        end = input => end,
        end = resizing => end,
    }
}
