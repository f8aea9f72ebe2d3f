//! Port-forward over SPDY/3.1 (`portforward.k8s.io`): the client opens a
//! data and an error stream per forwarded connection, paired by their
//! `requestID` header; each pair becomes one TCP connection to
//! `127.0.0.1:<port>` inside the pod's network namespace, relayed both
//! ways. A failure is written as text on the error stream, as the kubelet
//! does.

use std::collections::HashMap;
use std::sync::Arc;

use pier_k8s_stream::portforward as pf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::dial::dial_in_netns;
use super::spdy_conn::{self, FrameSink, Incoming};
use crate::daemon::Daemon;

/// Serve a port-forward connection for the sandbox `sandbox_id`.
pub(crate) async fn spdy<IO>(io: IO, daemon: Arc<Daemon>, sandbox_id: String)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (sink, mut incoming) = spdy_conn::start(io);
    // Per request id: (data, error).
    let mut pending: HashMap<String, (Option<Incoming>, Option<Incoming>)> = HashMap::new();
    while let Some(s) = incoming.recv().await {
        let is_data = match s.headers.get(pf::HEADER_STREAM_TYPE) {
            Some(pf::STREAM_DATA) => true,
            Some(pf::STREAM_ERROR) => false,
            other => {
                tracing::debug!(stream = s.id, kind = ?other, "port-forward: unexpected stream type");
                sink.reset(s.id).await;
                continue;
            }
        };
        let request_id = match s.headers.get(pf::HEADER_REQUEST_ID).filter(|r| !r.is_empty()) {
            Some(r) => r.to_string(),
            None => pf::legacy_request_id(s.id, is_data),
        };
        let slot = pending.entry(request_id.clone()).or_default();
        if is_data {
            slot.0 = Some(s);
        } else {
            slot.1 = Some(s);
        }
        if matches!(pending.get(&request_id), Some((Some(_), Some(_)))) {
            if let Some((Some(data), Some(error))) = pending.remove(&request_id) {
                tokio::spawn(forward(sink.clone(), daemon.clone(), sandbox_id.clone(), data, error));
            }
        }
    }
    sink.finish().await;
}

/// The pid whose network namespace is the sandbox's.
fn sandbox_pid(daemon: &Daemon, sandbox_id: &str) -> Result<i32, String> {
    let c =
        crate::cri::sandbox::find(daemon, sandbox_id).ok_or_else(|| format!("pod sandbox {sandbox_id} not found"))?;
    let rec = c.record();
    if !rec.state.is_running() || rec.state.pid <= 0 {
        return Err(format!("pod sandbox {sandbox_id} is not running"));
    }
    Ok(rec.state.pid)
}

async fn forward(sink: FrameSink, daemon: Arc<Daemon>, sandbox_id: String, mut data: Incoming, error: Incoming) {
    let port = data
        .headers
        .get(pf::HEADER_PORT)
        .or(error.headers.get(pf::HEADER_PORT))
        .unwrap_or("");
    let port = match pf::parse_port(port) {
        Ok(p) => p,
        Err(e) => {
            fail(&sink, &data, &error, &e).await;
            return;
        }
    };
    let conn = match sandbox_pid(&daemon, &sandbox_id) {
        Ok(pid) => dial_in_netns(pid, port).await.map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    let tcp = match conn {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("error forwarding port {port} to pod {sandbox_id}: {e}");
            fail(&sink, &data, &error, &msg).await;
            return;
        }
    };
    let (mut tr, mut tw) = tcp.into_split();
    let up = async {
        while let Some(bytes) = data.data.recv().await {
            if tw.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = tw.shutdown().await;
    };
    let down = async {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match tr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if !sink.data(data.id, &buf[..n]).await {
                        break;
                    }
                }
            }
        }
        sink.close(data.id).await;
    };
    tokio::join!(up, down);
    sink.close(error.id).await;
}

async fn fail(sink: &FrameSink, data: &Incoming, error: &Incoming, message: &str) {
    tracing::debug!(error = message, "port-forward");
    sink.data(error.id, message.as_bytes()).await;
    sink.close(error.id).await;
    sink.close(data.id).await;
}

/// Port-forward over a WebSocket (`v4.channel.k8s.io`, as the kubelet):
/// port i has data channel 2i and error channel 2i+1, each opened by a
/// message with the port (two bytes, little-endian); one connection per
/// port, dialed at once.
pub(crate) async fn websocket(
    socket: axum::extract::ws::WebSocket,
    daemon: Arc<Daemon>,
    sandbox_id: String,
    ports: Vec<u16>,
) {
    use axum::extract::ws::Message;
    use futures_util::{SinkExt, StreamExt};
    use tokio::sync::mpsc;

    let (mut sink, mut messages) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(64);
    let writer = tokio::spawn(async move {
        while let Some(m) = out_rx.recv().await {
            if sink.send(Message::Binary(m.into())).await.is_err() {
                return;
            }
        }
        let _ = sink.send(Message::Close(None)).await;
    });
    let mut inputs = Vec::new();
    let mut tasks = Vec::new();
    for (i, port) in ports.into_iter().enumerate() {
        let (data_ch, error_ch) = ((2 * i) as u8, (2 * i + 1) as u8);
        for ch in [data_ch, error_ch] {
            let _ = out_tx
                .send(pier_k8s_stream::channel::encode(ch, &pf::port_prefix(port)))
                .await;
        }
        let (in_tx, mut in_rx) = mpsc::channel::<Vec<u8>>(64);
        inputs.push(in_tx);
        let out = out_tx.clone();
        let (daemon, sandbox_id) = (daemon.clone(), sandbox_id.clone());
        tasks.push(tokio::spawn(async move {
            let conn = match sandbox_pid(&daemon, &sandbox_id) {
                Ok(pid) => dial_in_netns(pid, port).await.map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            let tcp = match conn {
                Ok(s) => s,
                Err(e) => {
                    let msg = format!("error forwarding port {port} to pod {sandbox_id}: {e}");
                    let _ = out
                        .send(pier_k8s_stream::channel::encode(error_ch, msg.as_bytes()))
                        .await;
                    return;
                }
            };
            let (mut tr, mut tw) = tcp.into_split();
            let up = async {
                while let Some(bytes) = in_rx.recv().await {
                    if tw.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                let _ = tw.shutdown().await;
            };
            let down = async {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match tr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let msg = pier_k8s_stream::channel::encode(data_ch, &buf[..n]);
                            if out.send(msg).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            };
            // The pod's side ending ends the port (the client's input may
            // never end: a WebSocket cannot half-close).
            tokio::select! {
                () = down => {}
                () = async {
                    up.await;
                    std::future::pending::<()>().await
                } => {}
            }
        }));
    }
    drop(out_tx);
    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = messages.next().await {
            let bytes = match msg {
                Message::Binary(b) => b,
                Message::Close(_) => break,
                _ => continue,
            };
            if let Some(pier_k8s_stream::channel::Message::Data { channel, payload }) =
                pier_k8s_stream::channel::decode(&bytes, false)
            {
                let input = (channel % 2 == 0)
                    .then(|| inputs.get(usize::from(channel / 2)))
                    .flatten();
                if let Some(tx) = input {
                    let _ = tx.send(payload.to_vec()).await;
                }
            }
        }
    });
    for t in tasks {
        let _ = t.await;
    }
    let _ = writer.await;
    reader.abort();
}
