//! The server side of one SPDY/3.1 connection (after `101 Switching
//! Protocols`), over `pier_k8s_stream::spdy`'s framing: a reader task
//! decodes frames in order (one header decompressor), answers every
//! SYN_STREAM with a SYN_REPLY and PING with PING, and hands each new
//! stream to the caller with a channel of its data (closed at the client's
//! FIN or RST_STREAM); a writer task encodes frames in the order they are
//! queued (one header compressor). The server never opens streams.

use std::collections::HashMap;
use std::time::Duration;

use pier_k8s_stream::spdy::{self, Decoder, Encoder, Frame, Headers};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Largest frame a client may send (stdin chunks are far smaller).
const MAX_FRAME: usize = 1 << 20;
/// After the server finished: how long the client has to close.
const LINGER: Duration = Duration::from_secs(5);

/// A stream the client opened.
pub(crate) struct Incoming {
    pub id: u32,
    pub headers: Headers,
    /// The client's data; closed at its FIN (or reset).
    pub data: mpsc::Receiver<Vec<u8>>,
}

enum Cmd {
    Frame(Frame),
    /// GOAWAY, then close our side.
    Finish,
}

/// Queue frames to the client.
#[derive(Clone)]
pub(crate) struct FrameSink {
    tx: mpsc::Sender<Cmd>,
}

impl FrameSink {
    /// Send `data` on `stream` (in chunks); `false` once the connection is
    /// gone.
    pub async fn data(&self, stream: u32, data: &[u8]) -> bool {
        for f in spdy::data_frames(stream, data) {
            if self.tx.send(Cmd::Frame(f)).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Our side of `stream` is done (DATA with FIN).
    pub async fn close(&self, stream: u32) {
        let fin = Frame::Data {
            stream_id: stream,
            fin: true,
            data: Vec::new(),
        };
        let _ = self.tx.send(Cmd::Frame(fin)).await;
    }

    /// Refuse `stream`.
    pub async fn reset(&self, stream: u32) {
        let rst = Frame::RstStream {
            stream_id: stream,
            status: spdy::RST_REFUSED_STREAM,
        };
        let _ = self.tx.send(Cmd::Frame(rst)).await;
    }

    /// The session is over: GOAWAY and close once everything queued is
    /// written.
    pub async fn finish(&self) {
        let _ = self.tx.send(Cmd::Finish).await;
    }
}

/// Run the connection: returns the sink for frames and the streams the
/// client opens (the channel ends when the client goes).
pub(crate) fn start<IO>(io: IO) -> (FrameSink, mpsc::Receiver<Incoming>)
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, wr) = tokio::io::split(io);
    let (cmd_tx, cmd_rx) = mpsc::channel::<Cmd>(256);
    let (streams_tx, streams_rx) = mpsc::channel::<Incoming>(64);
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(write_loop(wr, cmd_rx, done_tx));
    let sink = FrameSink { tx: cmd_tx };
    let replies = sink.clone();
    tokio::spawn(async move {
        let reading = read_loop(&mut rd, &replies, streams_tx);
        tokio::select! {
            r = reading => if let Err(e) = r {
                tracing::debug!(error = %e, "spdy connection ended");
            },
            // Our side finished: the client has a while to hang up.
            () = async {
                let _ = done_rx.wait_for(|d| *d).await;
                tokio::time::sleep(LINGER).await;
            } => {}
        }
    });
    (sink, streams_rx)
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::Receiver<Cmd>,
    done: tokio::sync::watch::Sender<bool>,
) {
    let mut enc = Encoder::new();
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut last_stream = 0;
    while let Some(cmd) = rx.recv().await {
        let mut finish = false;
        let mut next = Some(cmd);
        // Batch what is queued into one write.
        while let Some(cmd) = next.take() {
            match cmd {
                Cmd::Frame(f) => {
                    if let Frame::SynReply { stream_id, .. } = &f {
                        last_stream = last_stream.max(*stream_id);
                    }
                    if let Err(e) = enc.encode(&f, &mut buf) {
                        tracing::warn!(error = %e, "encode spdy frame");
                    }
                }
                Cmd::Finish => {
                    let goaway = Frame::GoAway {
                        last_good_stream_id: last_stream,
                        status: 0,
                    };
                    let _ = enc.encode(&goaway, &mut buf);
                    finish = true;
                }
            }
            if !finish && buf.len() < 256 * 1024 {
                next = rx.try_recv().ok();
            }
        }
        if wr.write_all(&buf).await.is_err() || wr.flush().await.is_err() {
            break;
        }
        buf.clear();
        if finish {
            break;
        }
    }
    let _ = wr.shutdown().await;
    let _ = done.send(true);
}

async fn read_loop<R: AsyncRead + Unpin>(
    rd: &mut R,
    replies: &FrameSink,
    streams: mpsc::Sender<Incoming>,
) -> Result<(), String> {
    let mut dec = Decoder::new().with_max_frame(MAX_FRAME);
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut open: HashMap<u32, mpsc::Sender<Vec<u8>>> = HashMap::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        // Every whole frame in the buffer, then read more.
        let mut at = 0;
        while let Some((frame, used)) = dec.decode(&buf[at..]).map_err(|e| e.to_string())? {
            at += used;
            match frame {
                Frame::SynStream {
                    stream_id,
                    fin,
                    headers,
                    ..
                } => {
                    let (tx, rx) = mpsc::channel(64);
                    if !fin {
                        open.insert(stream_id, tx);
                    }
                    let reply = Frame::SynReply {
                        stream_id,
                        fin: false,
                        headers: Headers::new(),
                    };
                    let _ = replies.tx.send(Cmd::Frame(reply)).await;
                    let incoming = Incoming {
                        id: stream_id,
                        headers,
                        data: rx,
                    };
                    if streams.send(incoming).await.is_err() {
                        // Nobody takes streams any more.
                        replies.reset(stream_id).await;
                    }
                }
                Frame::Data { stream_id, fin, data } => {
                    if let Some(tx) = open.get(&stream_id) {
                        // A stream nobody reads drops its data.
                        if !data.is_empty() && tx.send(data).await.is_err() {
                            open.remove(&stream_id);
                        }
                    }
                    if fin {
                        open.remove(&stream_id);
                    }
                }
                Frame::Headers { stream_id, fin, .. } => {
                    if fin {
                        open.remove(&stream_id);
                    }
                }
                Frame::RstStream { stream_id, .. } => {
                    open.remove(&stream_id);
                }
                Frame::Ping(id) => {
                    let _ = replies.tx.send(Cmd::Frame(Frame::Ping(id))).await;
                }
                Frame::GoAway { .. } => return Ok(()),
                Frame::SynReply { .. } | Frame::Settings(_) | Frame::WindowUpdate { .. } | Frame::Unknown(_) => {}
            }
        }
        buf.drain(..at);
        let n = rd.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
