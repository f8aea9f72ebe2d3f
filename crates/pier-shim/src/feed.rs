//! What feeds one stdio stream, and the arithmetic of falling behind and
//! catching up. Pure: the loop owns the sockets and the log.
//!
//! A stream is *live* while its queue (bytes the client has not read yet)
//! stays under [`OUT_LIMIT`]: each chunk read from the container goes to it
//! as it comes. A chunk that would push it past the limit switches it to
//! *replay*, before that chunk is logged: it then reads the log file from
//! the writer's current end, so it misses nothing. Positions are counted
//! per output stream (stdout, stderr) in bytes read by this shim; the log
//! holds each stream's bytes in order, minus the unterminated last line
//! the writer keeps pending. So the replay starts `pending` bytes before
//! the client's position in each stream ([`Replay::skip`]), and once it has
//! read the log to the writer's end the client takes the rest from the
//! writer's pending lines ([`rejoin_start`]) and is live again.
//!
//! Caveats: json-file stores invalid UTF-8 as U+FFFD, so replayed bytes of
//! non-UTF-8 output are the log's version of them (and the skip count can
//! be off by the replacement's size); more than `max_file` rotations while
//! a client lags lose what was rotated away. With the `none` driver there
//! is nothing to replay: the stream *skips* until its queue is empty and is
//! then told how many bytes it lost ([`lost_notice`]).

use pier_log::{Follower, Stream};
use pier_shim_proto::{StreamEnd, StreamKind};

/// Bytes queued per stream before it falls back to the log.
pub const OUT_LIMIT: usize = 2 * 1024 * 1024;

/// A replaying stream reads more of the log when its queue is below this.
pub const REFILL_BELOW: usize = OUT_LIMIT / 2;

/// Where a stream's output comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The container's init (attach).
    Container,
    /// An exec, by the shim's sequence number.
    Exec(usize),
}

/// How output reaches a stream now.
pub enum Feed {
    Live,
    Replay(Box<Replay>),
    /// The `none` driver: output since `since` (totals per stream) is lost.
    Skip {
        since: [u64; 2],
    },
}

/// Reading the log for a stream that fell behind (or asked for `logs`).
pub struct Replay {
    pub follower: Follower,
    /// Bytes per stream at the start of the replay the client already has.
    pub skip: [u64; 2],
    /// The client's position per stream when the replay started (0 for a
    /// `logs` attach: it needs everything).
    pub want: [u64; 2],
}

/// A connection's stdio stream.
pub struct StdioStream {
    pub source: Source,
    pub stdout: bool,
    pub stderr: bool,
    /// Input from the client goes to the process's stdin.
    pub stdin: bool,
    pub feed: Feed,
    /// The last frame, to send once everything before it is queued.
    pub end: Option<StreamEnd>,
    /// The `End` frame is queued: nothing more follows.
    pub ended: bool,
    /// The client's input reached EOF.
    pub input_eof: bool,
    /// Input is not read while the process's stdin is full.
    pub input_paused: bool,
}

impl StdioStream {
    pub fn new(source: Source, stdout: bool, stderr: bool, stdin: bool) -> Self {
        StdioStream {
            source,
            stdout,
            stderr,
            stdin,
            feed: Feed::Live,
            end: None,
            ended: false,
            input_eof: false,
            input_paused: false,
        }
    }

    pub fn wants(&self, stream: Stream) -> bool {
        match stream {
            Stream::Stdout => self.stdout,
            Stream::Stderr => self.stderr,
        }
    }

    pub fn is_live(&self) -> bool {
        matches!(self.feed, Feed::Live)
    }
}

/// The frame kind of a stream's output.
pub fn kind(stream: Stream) -> StreamKind {
    match stream {
        Stream::Stdout => StreamKind::Stdout,
        Stream::Stderr => StreamKind::Stderr,
    }
}

/// Whether a frame of `payload` bytes would push a queue of `queued` bytes
/// past `limit`.
pub fn overflows(queued: usize, payload: usize, limit: usize) -> bool {
    queued + 8 + payload > limit
}

/// Drop what is left to skip from the front of `line`.
pub fn skip_prefix<'a>(skip: &mut u64, line: &'a [u8]) -> &'a [u8] {
    let n = (*skip).min(line.len() as u64) as usize;
    *skip -= n as u64;
    &line[n..]
}

/// Where in the writer's pending line a caught-up client continues: the
/// pending bytes start at stream position `logged`; the client has up to
/// `want`.
pub fn rejoin_start(want: u64, logged: u64, pending: usize) -> usize {
    (want.saturating_sub(logged)).min(pending as u64) as usize
}

/// The notice for a client that lost `bytes` under the `none` driver.
pub fn lost_notice(bytes: u64) -> String {
    format!("pier: this client fell behind and lost {bytes} bytes of output (the container's log driver is none)\n")
}

/// Bytes lost since `since` of the wanted streams.
pub fn lost_since(since: [u64; 2], totals: [u64; 2], stdout: bool, stderr: bool) -> u64 {
    let mut lost = 0;
    if stdout {
        lost += totals[0].saturating_sub(since[0]);
    }
    if stderr {
        lost += totals[1].saturating_sub(since[1]);
    }
    lost
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_counts_the_header() {
        assert!(!overflows(0, 100, 108));
        assert!(overflows(1, 100, 108));
    }

    #[test]
    fn skip_spans_lines() {
        let mut skip = 5;
        assert_eq!(skip_prefix(&mut skip, b"abc\n"), b"");
        assert_eq!(skip, 1);
        assert_eq!(skip_prefix(&mut skip, b"def\n"), b"ef\n");
        assert_eq!(skip, 0);
        assert_eq!(skip_prefix(&mut skip, b"x"), b"x");
    }

    #[test]
    fn rejoin_takes_only_what_the_client_lacks() {
        // Client had 10 bytes; the log holds 8; 4 are pending: it needs 2.
        assert_eq!(rejoin_start(10, 8, 4), 2);
        // Client is behind the log's end (a logs replay): all pending.
        assert_eq!(rejoin_start(0, 8, 4), 0);
        assert_eq!(rejoin_start(100, 8, 4), 4);
    }

    #[test]
    fn lost_bytes_of_wanted_streams() {
        assert_eq!(lost_since([1, 2], [11, 22], true, false), 10);
        assert_eq!(lost_since([1, 2], [11, 22], true, true), 30);
        assert!(lost_notice(7).contains("7 bytes"));
    }
}
