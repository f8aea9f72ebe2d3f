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
