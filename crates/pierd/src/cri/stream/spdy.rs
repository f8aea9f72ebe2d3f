//! remotecommand over SPDY/3.1: collect the streams the client opens
//! (named by `streamType`) until the protocol's expected count is there
//! (at most 30 s, the kubelet's stream creation timeout), then run the
//! session with them.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use pier_k8s_stream::remotecommand::{self, StreamType};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use super::session::{Out, Wire};
use super::spdy_conn;
use super::Streams;

const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Serve one exec or attach on an upgraded connection.
pub(crate) async fn remotecommand<IO, F, Fut>(io: IO, protocol: &'static str, streams: Streams, run: F)
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
    F: FnOnce(Wire) -> Fut,
    Fut: Future<Output = ()>,
{
    let (sink, mut incoming) = spdy_conn::start(io);
    let expected =
        remotecommand::expected_streams(protocol, streams.stdin, streams.stdout, streams.stderr, streams.tty);
    let mut ids: HashMap<StreamType, u32> = HashMap::new();
    let (mut stdin, mut resize) = (None, None);
    let collect = async {
        while ids.len() < expected {
            let Some(s) = incoming.recv().await else { return false };
            let kind = s
                .headers
                .get(remotecommand::HEADER_STREAM_TYPE)
                .and_then(StreamType::parse);
            let Some(kind) = kind else {
                tracing::debug!(stream = s.id, "unexpected stream type");
                continue;
            };
            match kind {
                StreamType::Stdin => stdin = Some(s.data),
                StreamType::Resize => resize = Some(s.data),
                _ => {}
            }
            ids.insert(kind, s.id);
        }
        true
    };
    let collected = tokio::time::timeout(STREAM_CREATION_TIMEOUT, collect).await;
    if !matches!(collected, Ok(true)) {
        tracing::debug!("timed out waiting for the client to create streams");
        sink.finish().await;
        return;
    }
    // v1 clients expect stdin closed right away (as the kubelet does).
    if protocol == remotecommand::V1 {
        stdin = None;
    }
    let (out_tx, mut out_rx) = mpsc::channel::<Out>(64);
    let wire = Wire {
        stdin,
        resize,
        out: out_tx,
        protocol,
    };
    let writer = async {
        while let Some(o) = out_rx.recv().await {
            match o {
                Out::Data(kind, bytes) => {
                    if let Some(&id) = ids.get(&kind) {
                        if !sink.data(id, &bytes).await {
                            break;
                        }
                    }
                }
                Out::Close(kind) => {
                    if let Some(&id) = ids.get(&kind) {
                        sink.close(id).await;
                    }
                }
            }
        }
        sink.finish().await;
    };
    tokio::join!(run(wire), writer);
}
