//! The log readers (`pier_log`): json-file and CRI lines, torn and garbage
//! lines, escapes, attributes, read from a file with `tail`, `since`,
//! `until` and stream selection, and the one-line decoder they share.
//!
//! Input: one flags byte, the tail count, since/until offsets, then the
//! live file's bytes (a `0xff 0x00` pair splits off a rotated `.1` file).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pier_fuzz::{Bytes, Scratch};
use pier_log::{fuzz_decode_line, read, LogEntry, ReadOptions, Stream};

/// 2026-11-29T13:54:32.123456789Z, the seeds' first record.
const T0: i64 = 1_795_960_472_123_456_789;

fn scratch() -> &'static Scratch {
    static S: OnceLock<Scratch> = OnceLock::new();
    S.get_or_init(|| Scratch::new("log"))
}

fuzz_target!(|input: &[u8]| {
    let mut b = Bytes::new(input);
    let flags = b.u8();
    let tail = b.u8();
    let since = T0 + i64::from(b.u16() as i16) * 1_000_000;
    let until = T0 + i64::from(b.u16() as i16) * 1_000_000;
    let body = b.rest();
    let opts = ReadOptions {
        stdout: flags & 1 == 0,
        stderr: flags & 2 == 0,
        tail: (flags & 4 != 0).then_some(usize::from(tail)),
        since: (flags & 8 != 0).then_some(since),
        until: (flags & 16 != 0).then_some(until),
    };
    let (rotated, live) = match body.windows(2).position(|w| w == [0xff, 0]) {
        Some(at) => (Some(&body[..at]), &body[at + 2..]),
        None => (None, body),
    };

    let s = scratch();
    s.reset();
    let path = s.tree.join("c-json.log");
    std::fs::write(&path, live).expect("write log");
    if let Some(r) = rotated {
        std::fs::write(s.tree.join("c-json.log.1"), r).expect("write rotated log");
    }
    let Ok(mut reader) = read(&path, &opts) else {
        return;
    };
    let mut got = Vec::new();
    while let Ok(Some(e)) = reader.next_ref() {
        got.push(e.to_entry());
        if got.len() > 100_000 {
            break;
        }
    }

    // Every entry passes the filters asked for.
    for e in &got {
        assert!(opts.since.is_none_or(|t| e.time >= t), "entry before since");
        assert!(opts.until.is_none_or(|t| e.time <= t), "entry after until");
        assert!(
            match e.stream {
                Stream::Stdout => opts.stdout,
                Stream::Stderr => opts.stderr,
            },
            "unselected stream"
        );
    }
    if let Some(n) = opts.tail {
        assert!(got.iter().filter(|e| !e.partial).count() <= n, "more than tail lines");
    }

    // The reference: every complete line of the files, oldest first, decoded
    // one by one (an unterminated line at the end of a file is skipped).
    let mut all: Vec<LogEntry> = Vec::new();
    for data in rotated.into_iter().chain([live]) {
        let mut lines: Vec<&[u8]> = data.split(|&c| c == b'\n').collect();
        lines.pop();
        all.extend(lines.into_iter().filter_map(fuzz_decode_line));
    }
    let sorted = all.windows(2).all(|w| w[0].time <= w[1].time);
    let selected = |e: &&LogEntry| match e.stream {
        Stream::Stdout => opts.stdout,
        Stream::Stderr => opts.stderr,
    };
    // Without a search (or with sorted times, which the searches assume),
    // the reader returns exactly the matching lines.
    if opts.tail.is_none() && (sorted || opts.since.is_none()) {
        let want: Vec<&LogEntry> = all
            .iter()
            .take_while(|e| opts.until.is_none_or(|u| e.time <= u))
            .filter(|e| opts.since.is_none_or(|t| e.time >= t))
            .filter(selected)
            .collect();
        let got: Vec<&LogEntry> = got.iter().collect();
        assert_eq!(got, want, "reader and line decoder disagree");
    }
    // Tail of whole lines: the last n of them.
    if let (Some(n), None, None) = (opts.tail, opts.since, opts.until) {
        if sorted && all.iter().all(|e| !e.partial) {
            let want: Vec<&LogEntry> = all.iter().filter(selected).collect();
            let want = &want[want.len().saturating_sub(n)..];
            let got: Vec<&LogEntry> = got.iter().collect();
            assert_eq!(got, want, "tail disagrees with the last lines");
        }
    }
});
