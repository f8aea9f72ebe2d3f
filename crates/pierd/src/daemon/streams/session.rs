//! One attach or exec session: pumps a shim stream (see
//! `pier_shim_proto`, "Stdio streams") to a Docker client connection and
//! the client's stdin back, watching for the detach keys.
//!
//! Output: the shim's `Stdout`/`Stderr` frames have stdcopy's layout, so a
//! multiplexed client gets them as they are; a TTY or raw-stream client
//! gets the payloads. `Notice` becomes a systemerr frame (or plain text).
//! `End` carries the exit code: it is handed to `on_end` before the client
//! connection is closed, so a client that inspects right after sees it.

use pier_api::stdcopy::HEADER_LEN;
use pier_shim_proto::{StreamEnd, StreamKind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
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

/// The output side of a session, shim bytes to client bytes, in place.
///
/// The shim's `Stdout`, `Stderr` and `Notice` frames have stdcopy's layout
/// (`Notice` is stdcopy's systemerr, 3), so for a multiplexed client the
/// bytes pass through untouched and a read of the shim is written to the
/// client as it is: no copy, one write per read, even for a frame split
/// across reads. A TTY or raw-stream client gets the payloads (headers cut
/// out in place). `End` is taken out of the stream.
#[derive(Debug, Clone)]
pub struct Relay {
    /// Frames pass through as they are.
    framed: bool,
    /// Payload bytes of the current frame not yet seen.
    left: usize,
    /// The current frame is dropped (an unknown kind).
    discard: bool,
}

/// What [`Relay::step`] made of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `buf[..out]` goes to the client.
    pub out: usize,
    /// Bytes taken from the front of the input; the rest (a partial header
    /// or `End` frame) waits for more.
    pub consumed: usize,
    /// The `End` frame's payload (`buf[end]`), after which the stream is over.
    pub end: Option<std::ops::Range<usize>>,
}

/// The largest `End` payload waited for (it is a small JSON object).
const END_MAX: usize = 64 * 1024;

impl Relay {
    pub fn new(opts: &SessionOptions) -> Relay {
        Relay {
            framed: opts.multiplexed && !opts.tty,
            left: 0,
            discard: false,
        }
    }

    /// Turn `buf[..filled]` into client bytes at the front of `buf`.
    /// `Err` on an `End` frame too large to be one.
    pub fn step(&mut self, buf: &mut [u8], filled: usize) -> Result<Step, usize> {
        let (mut r, mut w) = (0, 0);
        loop {
            if self.left > 0 {
                let take = self.left.min(filled - r);
                if !self.discard {
                    if w != r {
                        buf.copy_within(r..r + take, w);
                    }
                    w += take;
                }
                r += take;
                self.left -= take;
                if self.left > 0 {
                    break;
                }
            }
            if filled - r < HEADER_LEN {
                break;
            }
            let header = &buf[r..r + HEADER_LEN];
            let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
            let kind = StreamKind::from_byte(header[0]);
            if kind == Some(StreamKind::End) {
                if len > END_MAX {
                    return Err(len);
                }
                if filled - r < HEADER_LEN + len {
                    break;
                }
                let start = r + HEADER_LEN;
                return Ok(Step {
                    out: w,
                    consumed: start + len,
                    end: Some(start..start + len),
                });
            }
            if kind.is_none() {
                tracing::warn!(kind = header[0], "unknown shim stream frame");
            }
            self.discard = kind.is_none();
            if self.framed && !self.discard {
                if w != r {
                    buf.copy_within(r..r + HEADER_LEN, w);
                }
                w += HEADER_LEN;
            }
            r += HEADER_LEN;
            self.left = len;
            if len == 0 {
                self.discard = false;
            }
        }
        Ok(Step {
            out: w,
            consumed: r,
            end: None,
        })
    }
}

/// A read of the shim stream: large enough for the shim's largest frames
/// (128 KiB reads) to pass in one write.
const RELAY_BUF: usize = 256 * 1024;

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
    let (mut sr, mut sw) = shim.into_split();
    let mut relay = Relay::new(&opts);
    let output = async move {
        let mut buf = vec![0u8; RELAY_BUF];
        let mut filled = 0;
        loop {
            match sr.read(&mut buf[filled..]).await {
                Ok(0) | Err(_) => return SessionEnd::ShimGone,
                Ok(n) => filled += n,
            }
            let step = match relay.step(&mut buf, filled) {
                Ok(step) => step,
                Err(len) => {
                    tracing::warn!(len, "oversized end frame from shim");
                    return SessionEnd::ShimGone;
                }
            };
            if step.out > 0 && (cw.write_all(&buf[..step.out]).await.is_err() || cw.flush().await.is_err()) {
                return SessionEnd::ClientGone;
            }
            if let Some(end) = step.end {
                let code = serde_json::from_slice::<StreamEnd>(&buf[end])
                    .ok()
                    .and_then(|e| e.exit_code);
                on_end(code);
                let _ = cw.flush().await;
                let _ = cw.shutdown().await;
                return SessionEnd::Ended(code);
            }
            buf.copy_within(step.consumed..filled, 0);
            filled -= step.consumed;
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

    /// Feed `wire` to a relay in reads cut at `cuts`; what the client
    /// gets and the end's payload.
    fn relay_all(wire: &[u8], cuts: &[usize], o: &SessionOptions) -> (Vec<u8>, Option<Vec<u8>>) {
        let mut relay = Relay::new(o);
        let mut buf = vec![0u8; RELAY_BUF];
        let (mut filled, mut from, mut got) = (0, 0, Vec::new());
        for &cut in cuts.iter().chain(std::iter::once(&wire.len())) {
            let part = &wire[from..cut.max(from)];
            from = cut.max(from);
            buf[filled..filled + part.len()].copy_from_slice(part);
            filled += part.len();
            let step = relay.step(&mut buf, filled).expect("step");
            got.extend_from_slice(&buf[..step.out]);
            if let Some(end) = step.end {
                return (got, Some(buf[end].to_vec()));
            }
            buf.copy_within(step.consumed..filled, 0);
            filled -= step.consumed;
        }
        (got, None)
    }

    #[test]
    fn relays_frames_for_each_client_kind() {
        let mut wire = frame(1, b"out");
        wire.extend(frame(2, b"err"));
        wire.extend(frame(3, b"notice"));
        wire.extend(frame(1, b""));
        wire.extend(frame(9, b"unknown"));
        wire.extend(frame(2, b"!"));
        wire.extend(frame(4, br#"{"exit_code":3}"#));
        wire.extend(frame(1, b"after the end"));
        let mut framed = frame(1, b"out");
        framed.extend(frame(2, b"err"));
        framed.extend(frame(3, b"notice"));
        framed.extend(frame(1, b""));
        framed.extend(frame(2, b"!"));
        for cut in 0..=wire.len() {
            for (o, want) in [
                (opts(false, true), framed.as_slice()),
                (opts(false, false), b"outerrnotice!".as_slice()),
                (opts(true, true), b"outerrnotice!".as_slice()),
            ] {
                let (got, end) = relay_all(&wire, &[cut, cut + 5], &o);
                assert_eq!(got, want, "cut at {cut}");
                assert_eq!(end.as_deref(), Some(br#"{"exit_code":3}"#.as_slice()));
            }
        }
        // Without an end the stream just stops.
        assert_eq!(
            relay_all(&frame(1, b"x"), &[3], &opts(false, false)),
            (b"x".to_vec(), None)
        );
    }

    #[test]
    fn refuses_an_oversized_end() {
        let mut buf = [4, 0, 0, 0, 0xff, 0, 0, 0];
        assert!(Relay::new(&opts(false, true)).step(&mut buf, 8).is_err());
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
