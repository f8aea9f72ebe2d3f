//! remotecommand over a WebSocket (`v5.channel.k8s.io`,
//! `v4.channel.k8s.io`, `channel.k8s.io`; binary messages, one channel
//! byte first): the kubelet's readiness message (empty, on the lowest
//! channel the server writes), stdin on channel 0 (v5: `[255, 0]` ends
//! it), resize on channel 4, output on 1 and 2, the status on 3.

use std::future::Future;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use pier_k8s_stream::channel;
use pier_k8s_stream::remotecommand::StreamType;
use tokio::sync::mpsc;

use super::session::{Out, Wire};
use super::Streams;

/// Subprotocols offered, in the server's order of preference.
pub(crate) const PROTOCOLS: [&str; 3] = [channel::V5, channel::V4, channel::V1];
/// After the server closed: how long the client has to answer.
const LINGER: Duration = Duration::from_secs(5);

fn channel_of(kind: StreamType) -> u8 {
    match kind {
        StreamType::Stdin => channel::STDIN,
        StreamType::Stdout => channel::STDOUT,
        StreamType::Stderr => channel::STDERR,
        StreamType::Error => channel::ERROR,
        StreamType::Resize => channel::RESIZE,
    }
}

/// The negotiated protocol as a static name.
pub(crate) fn protocol_of(socket: &WebSocket) -> &'static str {
    let chosen = socket.protocol().and_then(|p| p.to_str().ok()).unwrap_or("");
    PROTOCOLS.iter().find(|p| **p == chosen).copied().unwrap_or(channel::V1)
}

pub(crate) async fn remotecommand<F, Fut>(socket: WebSocket, streams: Streams, run: F)
where
    F: FnOnce(Wire) -> Fut,
    Fut: Future<Output = ()>,
{
    let protocol = protocol_of(&socket);
    let v5 = protocol == channel::V5;
    let (mut sink, mut messages) = socket.split();
    let ready = if streams.stdout {
        channel::STDOUT
    } else if streams.stderr {
        channel::STDERR
    } else {
        channel::ERROR
    };
    if sink.send(Message::Binary(Bytes::from(vec![ready]))).await.is_err() {
        return;
    }
    let (stdin_tx, stdin_rx) = mpsc::channel::<Vec<u8>>(64);
    let (resize_tx, resize_rx) = mpsc::channel::<Vec<u8>>(16);
    let (out_tx, mut out_rx) = mpsc::channel::<Out>(64);
    let wire = Wire {
        stdin: streams.stdin.then_some(stdin_rx),
        resize: Some(resize_rx),
        out: out_tx,
        protocol,
    };
    let reader = async move {
        let mut stdin_tx = Some(stdin_tx);
        while let Some(Ok(msg)) = messages.next().await {
            let bytes = match msg {
                Message::Binary(b) => b,
                Message::Close(_) => break,
                _ => continue,
            };
            match channel::decode(&bytes, v5) {
                Some(channel::Message::Data {
                    channel: channel::STDIN,
                    payload,
                }) => {
                    if let Some(tx) = &stdin_tx {
                        if !payload.is_empty() && tx.send(payload.to_vec()).await.is_err() {
                            stdin_tx = None;
                        }
                    }
                }
                Some(channel::Message::Data {
                    channel: channel::RESIZE,
                    payload,
                }) => {
                    let _ = resize_tx.send(payload.to_vec()).await;
                }
                Some(channel::Message::Close {
                    channel: channel::STDIN,
                }) => stdin_tx = None,
                _ => {}
            }
        }
    };
    let writer = async move {
        while let Some(o) = out_rx.recv().await {
            let Out::Data(kind, bytes) = o else { continue };
            for chunk in bytes.chunks(32 * 1024) {
                let msg = Message::Binary(Bytes::from(channel::encode(channel_of(kind), chunk)));
                if sink.send(msg).await.is_err() {
                    return;
                }
            }
        }
        let close = CloseFrame {
            code: 1000,
            reason: "".into(),
        };
        let _ = sink.send(Message::Close(Some(close))).await;
    };
    let reading = tokio::spawn(reader);
    tokio::join!(run(wire), writer);
    // The client answers our close; don't wait for it forever.
    let abort = reading.abort_handle();
    if tokio::time::timeout(LINGER, reading).await.is_err() {
        abort.abort();
    }
}
