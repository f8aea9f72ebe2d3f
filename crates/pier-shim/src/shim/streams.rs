//! Stdio streams: attach, the fan-out of the container's output to live
//! streams, replay from the log for streams that fell behind, and client
//! input routed to a stdin. See `crate::feed` for the catch-up rules.

use std::os::fd::AsFd;

use pier_log::Stream;
use pier_shim_proto::{AttachRequest, Response, StreamEnd, StreamKind};

use super::clients::Clients;
use super::output::Output;
use super::Shim;
use crate::conn::{Conn, Input};
use crate::feed::{self, Feed, Replay, Source, StdioStream, OUT_LIMIT, REFILL_BELOW};
use crate::sink::LogSink;

/// Socket send buffer of a stream: room for bursts before its queue grows.
const SEND_BUFFER: usize = 4 * 1024 * 1024;

impl Clients {
    /// Before `n` bytes of `stream` are logged: live container streams
    /// that cannot queue them switch to the log (or to skipping).
    pub(super) fn fall_behind(&mut self, output: &Output, stream: Stream, n: usize) {
        for conn in self.conns.values_mut() {
            let queued = conn.queued();
            let Some(st) = conn.stdio.as_mut() else { continue };
            if st.source != Source::Container || !st.is_live() || !st.wants(stream) {
                continue;
            }
            if !feed::overflows(queued, n, OUT_LIMIT) {
                continue;
            }
            st.feed = behind(output.sink.as_ref(), output.totals);
            tracing::debug!(queued, "attach stream fell behind");
        }
    }

    /// `bytes` of `stream` to every live container stream that wants them.
    pub(super) fn fan_out(&mut self, stream: Stream, bytes: &[u8]) {
        let kind = feed::kind(stream);
        for conn in self.conns.values_mut() {
            let live = conn
                .stdio
                .as_ref()
                .is_some_and(|st| st.source == Source::Container && st.is_live() && st.wants(stream));
            if live {
                conn.send_frame(kind, bytes);
            }
        }
    }

    /// Streams that are replaying, skipping or have an end to send.
    fn unsettled(&self) -> Vec<usize> {
        self.conns
            .iter()
            .filter(|(_, c)| c.stdio.as_ref().is_some_and(|st| !st.is_live() || st.end.is_some()))
            .map(|(&id, _)| id)
            .collect()
    }

    /// Move one stream along: refill from the log, rejoin live output,
    /// send its end.
    pub(super) fn progress(&mut self, id: usize, output: &Output) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        conn.flush();
        progress(conn, output.sink.as_ref(), output.totals);
    }

    /// Every container stream ends with `exit_code`, after what it still
    /// has to read.
    fn end_container_streams(&mut self, exit_code: i32) {
        for conn in self.conns.values_mut() {
            if let Some(st) = conn.stdio.as_mut().filter(|st| st.source == Source::Container) {
                st.end = Some(StreamEnd {
                    exit_code: Some(exit_code),
                });
            }
        }
    }

    /// Streams of `source` paused on a full stdin, resumed.
    fn unpause(&mut self, source: Source) -> Vec<usize> {
        self.conns
            .iter_mut()
            .filter_map(|(&id, c)| {
                let st = c.stdio.as_mut()?;
                (st.source == source && st.input_paused).then(|| {
                    st.input_paused = false;
                    id
                })
            })
            .collect()
    }
}

impl Shim {
    /// Answer an attach and turn its connection into a stream.
    pub(super) fn start_attach(&mut self, id: usize, req: &AttachRequest) {
        let stdin = req.stdin && self.cfg.open_stdin;
        let mut st = StdioStream::new(Source::Container, req.stdout, req.stderr, stdin);
        if req.logs {
            st.feed = match self.output.sink.follow(None) {
                Some(Ok(follower)) => Feed::Replay(Box::new(Replay {
                    follower,
                    skip: [0, 0],
                    want: [0, 0],
                })),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "read log for attach");
                    Feed::Live
                }
                None => Feed::Live,
            };
        }
        self.start_stream(id, st, &Response::Ok);
    }

    /// Send `reply`, then carry `st` on the connection; bytes that came
    /// behind the request are its first input.
    pub(super) fn start_stream(&mut self, id: usize, st: StdioStream, reply: &Response) {
        let Some(conn) = self.clients.conns.get_mut(&id) else {
            return;
        };
        conn.busy = false;
        conn.send(reply);
        if let Err(e) = pier_sys::fd::set_send_buffer(conn.stream.as_fd(), SEND_BUFFER) {
            tracing::debug!(error = %e, "grow stream send buffer");
        }
        let early = conn.take_buffered();
        let (source, stdin) = (st.source, st.stdin);
        conn.stdio = Some(st);
        if stdin && !early.is_empty() {
            self.route_input(id, source, &early);
        }
        self.clients.progress(id, &self.output);
        self.read_input(id);
        self.reap_conn(id);
    }

    /// Refill every stream that is replaying or skipping (new output may
    /// have reached the log).
    pub(super) fn progress_streams(&mut self) {
        for id in self.clients.unsettled() {
            self.clients.progress(id, &self.output);
            self.reap_conn(id);
        }
    }

    /// The container's init is gone and its output drained: end every
    /// attach stream after what it still has to read.
    pub(super) fn end_attach_streams(&mut self, exit_code: i32) {
        self.clients.end_container_streams(exit_code);
        self.progress_streams();
    }

    /// Read a stream's input while its stdin takes it.
    pub(super) fn read_input(&mut self, id: usize) {
        let mut buf = self.buf.take();
        while let Some(conn) = self.clients.conns.get_mut(&id) {
            let Some(st) = conn.stdio.as_ref() else { break };
            if st.input_eof || st.input_paused {
                break;
            }
            let (source, stdin) = (st.source, st.stdin);
            match conn.read_input(&mut buf) {
                Input::Data(n) => {
                    if stdin {
                        self.route_input(id, source, &buf[..n]);
                    }
                }
                Input::Eof => {
                    if let Some(st) = conn.stdio.as_mut() {
                        st.input_eof = true;
                    }
                    if stdin {
                        self.input_ended(source);
                    }
                    break;
                }
                Input::WouldBlock => break,
            }
        }
        self.buf.restore(buf);
    }

    /// Write a client's input to its stdin; pause the client if it is full.
    fn route_input(&mut self, id: usize, source: Source, bytes: &[u8]) {
        let registry = self.poll.registry();
        let target = match source {
            Source::Container => self.stdin.as_mut(),
            Source::Exec(seq) => self.execs.stdin_mut(seq),
        };
        let Some(target) = target else { return };
        target.push(bytes, registry);
        if target.is_full() {
            if let Some(st) = self.clients.conns.get_mut(&id).and_then(|c| c.stdio.as_mut()) {
                st.input_paused = true;
            }
        }
    }

    /// A client's input ended: stdin's EOF for an exec, and for the
    /// container with `stdin_once`.
    fn input_ended(&mut self, source: Source) {
        let registry = self.poll.registry();
        match source {
            Source::Container if self.cfg.stdin_once => {
                if let Some(stdin) = self.stdin.as_mut() {
                    stdin.close(registry);
                }
            }
            Source::Container => {}
            Source::Exec(seq) => {
                if let Some(stdin) = self.execs.stdin_mut(seq) {
                    stdin.close(registry);
                }
            }
        }
    }

    /// A stdin drained: resume the clients paused on it.
    pub(super) fn stdin_writable(&mut self, source: Source) {
        let registry = self.poll.registry();
        let full = match source {
            Source::Container => self.stdin.as_mut(),
            Source::Exec(seq) => self.execs.stdin_mut(seq),
        }
        .map(|s| {
            s.flush(registry);
            s.is_full()
        })
        .unwrap_or(false);
        if full {
            return;
        }
        for id in self.clients.unpause(source) {
            self.read_input(id);
            self.reap_conn(id);
        }
    }
}

/// The feed of a live stream that cannot keep up, switched before the
/// next chunk is logged.
fn behind(sink: &dyn LogSink, totals: [u64; 2]) -> Feed {
    let Some(offset) = sink.position() else {
        return Feed::Skip { since: totals };
    };
    match sink.follow(Some(offset)) {
        Some(Ok(follower)) => Feed::Replay(Box::new(Replay {
            follower,
            skip: [
                sink.pending(Stream::Stdout).len() as u64,
                sink.pending(Stream::Stderr).len() as u64,
            ],
            want: totals,
        })),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "open log for a lagging client");
            Feed::Skip { since: totals }
        }
        None => Feed::Skip { since: totals },
    }
}

fn progress(conn: &mut Conn, sink: &dyn LogSink, totals: [u64; 2]) {
    let queued = conn.queued();
    let Some(st) = conn.stdio.as_mut() else { return };
    if st.ended {
        return;
    }
    let (stdout, stderr) = (st.stdout, st.stderr);
    match std::mem::replace(&mut st.feed, Feed::Live) {
        Feed::Live => {}
        Feed::Skip { since } if queued == 0 => {
            let lost = feed::lost_since(since, totals, stdout, stderr);
            if lost > 0 {
                conn.send_frame(StreamKind::Notice, feed::lost_notice(lost).as_bytes());
            }
        }
        Feed::Skip { since } => st.feed = Feed::Skip { since },
        Feed::Replay(r) if queued >= REFILL_BELOW => st.feed = Feed::Replay(r),
        Feed::Replay(mut r) => {
            if !replay(conn, &mut r, sink, totals, stdout, stderr) {
                if let Some(st) = conn.stdio.as_mut() {
                    st.feed = Feed::Replay(r);
                }
            }
        }
    }
    let Some(st) = conn.stdio.as_mut() else { return };
    if st.is_live() {
        if let Some(end) = st.end.take() {
            st.ended = true;
            let body = serde_json::to_vec(&end).unwrap_or_default();
            conn.send_frame(StreamKind::End, &body);
        }
    }
}

/// Replayed entries of one stream are sent in frames of up to this size.
const REPLAY_FRAME: usize = 128 * 1024;

/// Consecutive replayed bytes of one stream, sent as one frame.
struct Batch {
    stream: Stream,
    bytes: Vec<u8>,
}

impl Batch {
    fn add(&mut self, conn: &mut Conn, stream: Stream, bytes: &[u8]) {
        if stream != self.stream || self.bytes.len() + bytes.len() > REPLAY_FRAME {
            self.send(conn);
            self.stream = stream;
        }
        self.bytes.extend_from_slice(bytes);
    }

    fn send(&mut self, conn: &mut Conn) {
        if !self.bytes.is_empty() {
            conn.queue_frame(feed::kind(self.stream), &self.bytes);
            self.bytes.clear();
        }
    }
}

/// Queue log entries until the stream is full; true once it has caught up
/// with the writer (and taken the pending lines): live again.
fn replay(conn: &mut Conn, r: &mut Replay, sink: &dyn LogSink, totals: [u64; 2], stdout: bool, stderr: bool) -> bool {
    let mut batch = Batch {
        stream: Stream::Stdout,
        bytes: Vec::new(),
    };
    let done = replay_batched(conn, r, sink, totals, (stdout, stderr), &mut batch);
    batch.send(conn);
    conn.flush();
    done
}

fn replay_batched(
    conn: &mut Conn,
    r: &mut Replay,
    sink: &dyn LogSink,
    totals: [u64; 2],
    (stdout, stderr): (bool, bool),
    batch: &mut Batch,
) -> bool {
    while conn.queued() + batch.bytes.len() < OUT_LIMIT {
        match r.follower.next_ref() {
            Ok(Some(e)) => {
                let idx = e.stream as usize;
                let rest = feed::skip_prefix(&mut r.skip[idx], e.line);
                let wanted = match e.stream {
                    Stream::Stdout => stdout,
                    Stream::Stderr => stderr,
                };
                if wanted && !rest.is_empty() {
                    batch.add(conn, e.stream, rest);
                }
            }
            Ok(None) => {
                if Some(r.follower.offset()) != sink.position() {
                    return false;
                }
                batch.send(conn);
                for stream in [Stream::Stdout, Stream::Stderr] {
                    let wanted = match stream {
                        Stream::Stdout => stdout,
                        Stream::Stderr => stderr,
                    };
                    let pending = sink.pending(stream);
                    let logged = totals[stream as usize].saturating_sub(pending.len() as u64);
                    let start = feed::rejoin_start(r.want[stream as usize], logged, pending.len());
                    if wanted && start < pending.len() {
                        conn.send_frame(feed::kind(stream), &pending[start..]);
                    }
                }
                tracing::debug!("attach stream caught up");
                return true;
            }
            Err(e) => {
                tracing::warn!(error = %e, "replay log to a lagging client");
                batch.send(conn);
                conn.send_frame(
                    StreamKind::Notice,
                    format!("pier: reading the log for this client failed: {e}\n").as_bytes(),
                );
                return true;
            }
        }
    }
    false
}
