//! `GET /containers/{id}/attach/ws`: attach over a websocket. Output goes
//! out raw (never stdcopy-framed), as binary messages for API >= 1.42 and
//! text messages before (as dockerd); client messages are stdin.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use pier_api::version::{ApiVersion, MULTIPLEXED_SINCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::error::{ApiResult, Params};
use super::AppState;
use crate::daemon::streams::session::{self, SessionOptions};
use crate::daemon::{wait_for_shim, AttachParams};

pub async fn attach_ws(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Extension(version): Extension<ApiVersion>,
    params: Params,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    let p = AttachParams {
        stdin: params.flag("stdin"),
        stdout: params.flag("stdout"),
        stderr: params.flag("stderr"),
        logs: params.flag("logs"),
        detach_keys: params.get("detachKeys").map(str::to_string),
    };
    let target = d.attach(&id, p).await?;
    let binary = version >= MULTIPLEXED_SINCE;
    let opts = SessionOptions {
        tty: target.tty,
        multiplexed: false,
        stdin: target.stdin,
        detach_keys: target.detach_keys,
    };
    let source = target.source;
    Ok(ws.on_upgrade(move |socket| async move {
        let (mut ours, theirs) = tokio::io::duplex(256 * 1024);
        let session = async move {
            if let Some((shim, early)) = wait_for_shim(&mut ours, source).await {
                let end = session::pump(ours, shim, early, opts, |_| {}).await;
                tracing::debug!(?end, "websocket attach session ended");
            }
        };
        tokio::join!(session, bridge(socket, theirs, binary));
    }))
}

/// Copy between the websocket and the session's end of a pipe until the
/// session's output ends (then close the websocket).
async fn bridge(socket: WebSocket, io: DuplexStream, binary: bool) {
    let (mut sink, mut messages) = socket.split();
    let (mut r, mut w) = tokio::io::split(io);
    let to_client = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let msg = if binary {
                Message::Binary(Bytes::copy_from_slice(&buf[..n]))
            } else {
                Message::Text(String::from_utf8_lossy(&buf[..n]).into_owned().into())
            };
            if sink.send(msg).await.is_err() {
                return;
            }
        }
        let _ = sink.send(Message::Close(None)).await;
    };
    let from_client = async move {
        while let Some(Ok(msg)) = messages.next().await {
            let r = match msg {
                Message::Binary(b) => w.write_all(&b).await,
                Message::Text(t) => w.write_all(t.as_bytes()).await,
                Message::Close(_) => break,
                _ => Ok(()),
            };
            if r.is_err() {
                break;
            }
        }
        let _ = w.shutdown().await;
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = to_client => {}
        () = from_client => {}
    }
}
