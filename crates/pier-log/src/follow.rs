//! Following a log as it grows (`logs -f`): continue from an offset, return
//! new complete entries when polled, cross rotations.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::path::Path;

use crate::cursor::{Cursor, Live};
use crate::files::FileId;
use crate::reader::{EntryRef, LogEntry, ReadOptions};
use crate::LogError;

/// Bytes of entries one [`Follower::poll`] returns at most.
const POLL_BUDGET: usize = 1024 * 1024;

/// Reads what is appended to a log after a point, polled by the caller
/// (when the file changes, or every 50-100 ms, from a blocking thread). An unterminated last line
/// (a write in progress) is left for a later poll. When the writer rotates
/// the log, the follower finishes the old file, reads any file rotated in
/// between, and continues with the new live file, without loss or
/// duplicates (unless more than `max_file` rotations happen between polls).
#[derive(Debug)]
pub struct Follower {
    cursor: Cursor,
}

impl Follower {
    pub(crate) fn from_cursor(cursor: Cursor) -> Follower {
        Follower { cursor }
    }

    /// Follows the live file at `path` from byte `offset` (a line start,
    /// such as [`LogReader::offset`](crate::LogReader::offset)); `since`,
    /// `until` and the stream selection of `opts` filter what comes,
    /// `tail` is ignored. A missing file is waited for.
    pub fn from_offset(path: &Path, offset: u64, opts: &ReadOptions) -> Result<Follower, LogError> {
        let live = match File::open(path) {
            Ok(file) => {
                let id = FileId::of(&file).map_err(|source| LogError::Open {
                    path: path.to_path_buf(),
                    source,
                })?;
                Some(Live { file, id, pos: offset })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(LogError::Open {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        Ok(Follower {
            cursor: Cursor::new(path.to_path_buf(), opts.clone(), VecDeque::new(), live),
        })
    }

    /// New complete entries since the last poll, oldest first; empty when
    /// there is nothing new yet. Returns about 1 MiB at most: when the
    /// result is not empty, poll again before waiting.
    pub fn poll(&mut self) -> Result<Vec<LogEntry>, LogError> {
        self.cursor.collect(true, POLL_BUDGET)
    }

    /// The next new entry, borrowed; `Ok(None)` when there is nothing new
    /// yet (poll again later) or `until` has passed.
    pub fn next_ref(&mut self) -> Result<Option<EntryRef<'_>>, LogError> {
        self.cursor.next(true)
    }

    /// Offset in the current live file just past the last line returned.
    pub fn offset(&self) -> u64 {
        self.cursor.live_offset()
    }

    /// Release the read buffers while idle (only bytes of an unfinished
    /// line are kept); the next poll allocates them again. A daemon with
    /// thousands of idle followers then holds kilobytes, not 256 KiB, each.
    pub fn trim(&mut self) {
        self.cursor.trim();
    }

    /// Whether `until` has passed: following can stop.
    pub fn is_done(&self) -> bool {
        self.cursor.is_done()
    }
}
