//! Reading a log: where to start (tail, since), then a forward stream of
//! entries across rotated and compressed files.

use std::collections::VecDeque;
use std::path::Path;

use crate::cursor::{self, Cursor, Source};
use crate::follow::Follower;
use crate::search::{self, Tail};
use crate::{LogError, Stream};

/// What to read. Times are unix nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    pub stdout: bool,
    pub stderr: bool,
    /// Only entries with `time >= since`.
    pub since: Option<i64>,
    /// Only entries with `time <= until`; reading stops at the first later one.
    pub until: Option<i64>,
    /// Only the last N lines (of the selected streams, up to `until`); a line
    /// split into partial records counts once. `None`: all.
    pub tail: Option<usize>,
}

impl Default for ReadOptions {
    /// Both streams, everything.
    fn default() -> Self {
        ReadOptions {
            stdout: true,
            stderr: true,
            since: None,
            until: None,
            tail: None,
        }
    }
}

/// One record, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub stream: Stream,
    /// Unix nanoseconds.
    pub time: i64,
    /// The bytes as written, including the trailing `\n` when the record has
    /// one (invalid UTF-8 was stored as U+FFFD).
    pub line: Vec<u8>,
    /// A piece of a longer line (no trailing newline); the following
    /// partial records of the same stream continue it.
    pub partial: bool,
    /// The record's raw `attrs` JSON object (empty: none); see
    /// [`details_into`](crate::details_into).
    pub attrs: Vec<u8>,
}

/// A [`LogEntry`] borrowed from the reader's buffer (no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    pub stream: Stream,
    pub time: i64,
    pub line: &'a [u8],
    pub partial: bool,
    pub attrs: &'a [u8],
}

impl EntryRef<'_> {
    pub fn to_entry(&self) -> LogEntry {
        LogEntry {
            stream: self.stream,
            time: self.time,
            line: self.line.to_vec(),
            partial: self.partial,
            attrs: self.attrs.to_vec(),
        }
    }
}

/// Entries of a log in order, oldest first, as of when [`read`] was called;
/// an iterator of owned entries, or [`next_ref`](LogReader::next_ref)
/// without allocation. Turn it into a [`Follower`] to keep reading.
#[derive(Debug)]
pub struct LogReader {
    cursor: Cursor,
}

impl LogReader {
    /// The next entry, borrowed; `Ok(None)` at the end.
    pub fn next_ref(&mut self) -> Result<Option<EntryRef<'_>>, LogError> {
        self.cursor.next(false)
    }

    /// The next entries, about `max_bytes` of them (at least one unless at
    /// the end): one call per channel message instead of one per line.
    /// Empty at the end.
    pub fn next_batch(&mut self, max_bytes: usize) -> Result<Vec<LogEntry>, LogError> {
        self.cursor.collect(false, max_bytes)
    }

    /// Offset in the live file (`<path>`) just past the last complete line
    /// read so far: where [`Follower::from_offset`] continues.
    pub fn offset(&self) -> u64 {
        self.cursor.live_offset()
    }

    /// Whether `until` has passed (nothing more will come, even following).
    pub fn is_done(&self) -> bool {
        self.cursor.is_done()
    }

    /// Continues following from where this reader stopped (across
    /// rotations, without loss or duplicates).
    pub fn into_follower(self) -> Follower {
        Follower::from_cursor(self.cursor)
    }
}

impl Iterator for LogReader {
    type Item = Result<LogEntry, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_ref().map(|e| e.map(|e| e.to_entry())).transpose()
    }
}

/// One file to read, with the byte range that matters.
struct Planned {
    src: Source,
    start: u64,
    end: u64,
}

/// Opens the log at `path` (the live file; rotated files beside it are
/// included) and positions the reader per `opts`: `tail` reads backwards in
/// blocks from the end, `since` and `until` are found by binary search. A
/// missing log reads as empty.
pub fn read(path: &Path, opts: &ReadOptions) -> Result<LogReader, LogError> {
    let Some((live, rotated)) = cursor::open_consistent(path)? else {
        return Ok(LogReader {
            cursor: Cursor::new(path.to_path_buf(), opts.clone(), VecDeque::new(), None),
        });
    };
    let read_err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| LogError::Read { path: p, source }
    };
    let live_len = live.file.metadata().map_err(read_err(path))?.len();
    // Newest first: the live file, then `.1`, `.2`, ...
    let mut planned: Vec<Planned> = Vec::new();
    for r in rotated {
        if let (Some(since), Some(last)) = (opts.since, r.last_time) {
            if last < since {
                break;
            }
        }
        // Gzip files are decompressed only if `tail` needs them.
        let src = cursor::source_of(r)?;
        let end = match &src {
            Source::Plain { end, .. } => *end,
            Source::Memory { data, .. } => data.len() as u64,
            Source::Gz { .. } => u64::MAX,
        };
        planned.push(Planned { src, start: 0, end });
    }
    let mut live_start = 0;
    let mut live_end = live_len;
    // `since` and `until` bounds by binary search; files entirely before
    // `since` are dropped (with every older one).
    if let (Some(until), Some(_)) = (opts.until, opts.tail) {
        live_end =
            search::first_at_or_after(&live.file, 0, live_len, until.saturating_add(1)).map_err(read_err(path))?;
    }
    if let Some(since) = opts.since {
        live_start = search::first_at_or_after(&live.file, 0, live_end, since).map_err(read_err(path))?;
        let mut cut = planned.len();
        for (i, p) in planned.iter_mut().enumerate() {
            p.start = bound(&p.src, p.start, p.end, since).map_err(read_err(path))?;
            if p.start >= p.end && !matches!(p.src, Source::Gz { .. }) {
                cut = i;
                break;
            }
        }
        planned.truncate(cut);
    }
    if let Some(n) = opts.tail {
        let select = |s: Stream| match s {
            Stream::Stdout => opts.stdout,
            Stream::Stderr => opts.stderr,
        };
        if n == 0 {
            live_start = search::end_of_complete(&live.file, live_start, live_len).map_err(read_err(path))?;
            planned.clear();
        } else {
            let mut left = n;
            match search::tail_start(&live.file, live_start, live_end, left, select).map_err(read_err(path))? {
                Tail::Found(off) => {
                    live_start = off;
                    planned.clear();
                }
                Tail::Short(k) => {
                    left -= k;
                    let mut cut = planned.len();
                    for (i, p) in planned.iter_mut().enumerate() {
                        if let Source::Gz { .. } = p.src {
                            let gz = std::mem::replace(
                                &mut p.src,
                                Source::Memory {
                                    data: Vec::new(),
                                    pos: 0,
                                },
                            );
                            p.src = cursor::into_memory(gz);
                            p.end = match &p.src {
                                Source::Memory { data, .. } => data.len() as u64,
                                _ => 0,
                            };
                            if let Some(since) = opts.since {
                                p.start = bound(&p.src, 0, p.end, since).map_err(read_err(path))?;
                            }
                        }
                        if let Some(until) = opts.until {
                            p.end = bound(&p.src, p.start, p.end, until.saturating_add(1)).map_err(read_err(path))?;
                        }
                        let found = match &p.src {
                            Source::Plain { file, .. } => search::tail_start(file, p.start, p.end, left, select),
                            Source::Memory { data, .. } => {
                                search::tail_start(data.as_slice(), p.start, p.end, left, select)
                            }
                            Source::Gz { .. } => Ok(Tail::Short(0)),
                        }
                        .map_err(read_err(path))?;
                        match found {
                            Tail::Found(off) => {
                                p.start = off;
                                cut = i + 1;
                                break;
                            }
                            Tail::Short(k) => left -= k,
                        }
                    }
                    planned.truncate(cut);
                }
            }
        }
    }
    let mut queue = VecDeque::new();
    for p in planned.into_iter().rev() {
        queue.push_back(match p.src {
            Source::Plain { file, path, .. } => Source::Plain {
                file,
                path,
                pos: p.start,
                end: p.end,
            },
            Source::Memory { data, .. } => {
                let mut data = data;
                data.truncate(p.end as usize);
                Source::Memory {
                    data,
                    pos: p.start as usize,
                }
            }
            gz @ Source::Gz { .. } => gz,
        });
    }
    let mut live = live;
    live.pos = live_start;
    Ok(LogReader {
        cursor: Cursor::new(path.to_path_buf(), opts.clone(), queue, Some(live)),
    })
}

/// `first_at_or_after` on a random-access source; a streamed gzip source is
/// filtered while reading instead.
fn bound(src: &Source, start: u64, end: u64, t: i64) -> std::io::Result<u64> {
    match src {
        Source::Plain { file, .. } => search::first_at_or_after(file, start, end, t),
        Source::Memory { data, .. } => search::first_at_or_after(data.as_slice(), start, end, t),
        Source::Gz { .. } => Ok(start),
    }
}
