//! One attach or exec session: pumps a shim stream (see
//! `pier_shim_proto`, "Stdio streams") to a Docker client connection and
//! the client's stdin back, watching for the detach keys.
//!
//! Output: the shim's `Stdout`/`Stderr` frames have stdcopy's layout, so a
//! multiplexed client gets them as they are; a TTY or raw-stream client
//! gets the payloads. `Notice` becomes a systemerr frame (or plain text).
//! `End` carries the exit code: it is handed to `on_end` before the client
//! connection is closed, so a client that inspects right after sees it.

use pier_api::stdcopy::{self, StreamType};
use pier_shim_proto::{StreamEnd, StreamKind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::daemon::streams::detach_keys::{Scan, Scanner};

/// How a session talks to its client.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Output is a terminal's raw stream.
    pub tty: bool,
    /// The client reads stdcopy frames (non-TTY, API >= 1.42).
    pub multiplexed: bool,
    /// The client's input is the process's stdin.
    pub stdin: bool,
    /// Empty: never detach.
    pub detach_keys: Vec<u8>,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The shim sent `End` with this exit code.
    Ended(Option<i32>),
    /// The client typed the detach keys.
    Detached,
    /// The client went away.
    ClientGone,
    /// The shim closed the stream without `End`.
    ShimGone,
}

/// Client input that arrived before the shim stream existed.
#[derive(Debug, Default)]
pub struct EarlyInput {
    pub bytes: Vec<u8>,
    pub eof: bool,
}

/// Bytes to write to the client for one shim frame.
pub fn client_bytes(kind: StreamKind, payload: &[u8], opts: &SessionOptions) -> Vec<u8> {
    let framed = opts.multiplexed && !opts.tty;
    let stream = match kind {
        StreamKind::Stdout => StreamType::Stdout,
        StreamKind::Stderr => StreamType::Stderr,
        StreamKind::Notice => StreamType::SystemErr,
        StreamKind::End => return Vec::new(),
    };
    if framed {
        let mut out = Vec::with_capacity(payload.len() + stdcopy::HEADER_LEN);
        stdcopy::encode_into(&mut out, stream, payload);
        out
    } else {
        payload.to_vec()
    }
}

/// Run the session until it ends. The shim connection is dropped on
/// return, which the shim takes as a detach if the stream had not ended.
pub async fn pump<C>(
    client: C,
    shim: UnixStream,
    early: EarlyInput,
    opts: SessionOptions,
    on_end: impl FnOnce(Option<i32>) + Send,
) -> SessionEnd
where
    C: AsyncRead + AsyncWrite + Send + Unpin,
{
    let (mut cr, mut cw) = tokio::io::split(client);
    let (sr, mut sw) = shim.into_split();
    let mut sr = BufReader::with_capacity(256 * 1024, sr);
    let output_opts = opts.clone();
    let output = async move {
        let mut header = [0u8; 8];
        let mut payload = Vec::new();
        let mut out = Vec::new();
        loop {
            if sr.read_exact(&mut header).await.is_err() {
                return SessionEnd::ShimGone;
            }
            let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
            payload.resize(len, 0);
            if sr.read_exact(&mut payload).await.is_err() {
                return SessionEnd::ShimGone;
            }
            let Some(kind) = StreamKind::from_byte(header[0]) else {
                tracing::warn!(kind = header[0], "unknown shim stream frame");
                continue;
            };
            if kind == StreamKind::End {
                let code = serde_json::from_slice::<StreamEnd>(&payload)
                    .ok()
                    .and_then(|e| e.exit_code);
                on_end(code);
                let _ = cw.flush().await;
                let _ = cw.shutdown().await;
                return SessionEnd::Ended(code);
            }
            let written = if output_opts.tty || (!output_opts.multiplexed && kind != StreamKind::Notice) {
                cw.write_all(&payload).await
            } else if kind != StreamKind::Notice {
                // Same layout as stdcopy: pass the frame through.
                out.clear();
                out.extend_from_slice(&header);
                out.extend_from_slice(&payload);
                cw.write_all(&out).await
            } else {
                cw.write_all(&client_bytes(kind, &payload, &output_opts)).await
            };
            if written.is_err() || cw.flush().await.is_err() {
                return SessionEnd::ClientGone;
            }
        }
    };
    let input = async move {
        let mut scanner = Scanner::new(opts.detach_keys.clone());
        let mut forward = |bytes: &[u8]| scanner.feed(bytes);
        let mut eof = early.eof;
        if !early.bytes.is_empty() {
            match forward(&early.bytes) {
                Scan::Forward(b) => {
                    if opts.stdin && sw.write_all(&b).await.is_err() {
                        return SessionEnd::ShimGone;
                    }
                }
                Scan::Detach(b) => {
                    if opts.stdin {
                        let _ = sw.write_all(&b).await;
                    }
                    return SessionEnd::Detached;
                }
            }
        }
        let mut buf = vec![0u8; 64 * 1024];
        while !eof {
            let n = match cr.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(_) => return SessionEnd::ClientGone,
            };
            match forward(&buf[..n]) {
                Scan::Forward(b) => {
                    if opts.stdin && !b.is_empty() && sw.write_all(&b).await.is_err() {
                        // The shim stopped taking input; output may go on.
                        eof = true;
                    }
                }
                Scan::Detach(b) => {
                    if opts.stdin && !b.is_empty() {
                        let _ = sw.write_all(&b).await;
                    }
                    return SessionEnd::Detached;
                }
            }
        }
        // The client's half-close is stdin's EOF; output keeps flowing.
        // Not with a terminal (as dockerd): a client that leaves without
        // the detach keys reaching us (the docker CLI matches them itself
        // and just closes) must not take the shell's input away.
        if opts.stdin && !opts.tty {
            let _ = sw.shutdown().await;
        }
        std::future::pending::<SessionEnd>().await
    };
    tokio::select! {
        end = output => end,
        end = input => end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(tty: bool, multiplexed: bool) -> SessionOptions {
        SessionOptions {
            tty,
            multiplexed,
            stdin: true,
            detach_keys: crate::daemon::streams::detach_keys::DEFAULT.to_vec(),
        }
    }

    #[test]
    fn frames_for_clients() {
        assert_eq!(
            client_bytes(StreamKind::Stderr, b"hi", &opts(false, true)),
            [2, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']
        );
        assert_eq!(client_bytes(StreamKind::Stderr, b"hi", &opts(true, true)), b"hi");
        assert_eq!(client_bytes(StreamKind::Stdout, b"hi", &opts(false, false)), b"hi");
        assert_eq!(client_bytes(StreamKind::Notice, b"x", &opts(false, true))[0], 3);
        assert!(client_bytes(StreamKind::End, b"{}", &opts(false, true)).is_empty());
    }

    fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![kind, 0, 0, 0];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[tokio::test]
    async fn pumps_until_end_and_records_code_first() {
        let (shim_side, daemon_side) = UnixStream::pair().expect("pair");
        let (client, mut peer) = tokio::io::duplex(1 << 16);
        let (code_tx, code_rx) = std::sync::mpsc::channel();
        let task = tokio::spawn(pump(
            client,
            daemon_side,
            EarlyInput {
                bytes: b"early ".to_vec(),
                eof: false,
            },
            opts(false, true),
            move |c| {
                let _ = code_tx.send(c);
            },
        ));
        let (mut sr, mut sw) = shim_side.into_split();
        peer.write_all(b"input").await.expect("write");
        peer.shutdown().await.expect("half-close");
        let mut stdin = Vec::new();
        sr.read_to_end(&mut stdin).await.expect("stdin to EOF");
        assert_eq!(stdin, b"early input");
        sw.write_all(&frame(1, b"out")).await.expect("frame");
        sw.write_all(&frame(4, br#"{"exit_code":3}"#)).await.expect("end");
        let mut got = Vec::new();
        peer.read_to_end(&mut got).await.expect("read");
        assert_eq!(got, frame(1, b"out"));
        assert_eq!(code_rx.recv().expect("code"), Some(3));
        assert_eq!(task.await.expect("join"), SessionEnd::Ended(Some(3)));
    }

    #[tokio::test]
    async fn detach_keys_end_the_session() {
        let (_shim_side, daemon_side) = UnixStream::pair().expect("pair");
        let (client, mut peer) = tokio::io::duplex(1 << 16);
        let task = tokio::spawn(pump(
            client,
            daemon_side,
            EarlyInput::default(),
            opts(true, false),
            |_| {},
        ));
        peer.write_all(b"ls\x10\x11").await.expect("write");
        assert_eq!(task.await.expect("join"), SessionEnd::Detached);
    }
}
