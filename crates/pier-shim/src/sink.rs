//! Where the container's output goes. The loop writes through [`LogSink`]
//! so the log driver stays replaceable.

use std::io;

pub use pier_log::Stream;

/// A destination for the container's stdout/stderr bytes.
pub trait LogSink {
    /// Record `bytes` read from `stream` at `now` (unix nanoseconds).
    fn write(&mut self, stream: Stream, bytes: &[u8], now: i64) -> io::Result<()>;
    /// Push buffered records to the file.
    fn flush(&mut self) -> io::Result<()>;
    /// The streams ended: write any unterminated last line as it is.
    fn finish(&mut self, now: i64) -> io::Result<()>;

    /// Where the next record starts in the live file, for a reader that
    /// continues from now; `None` when this driver keeps nothing to replay.
    fn position(&self) -> Option<u64> {
        None
    }

    /// Bytes of `stream` taken by `write` but not yet in any record.
    fn pending(&self, _stream: Stream) -> &[u8] {
        &[]
    }

    /// Whether background work (gzip of a rotated file) is waiting.
    fn has_background_work(&self) -> bool {
        false
    }

    /// Do one bounded slice of background work.
    fn do_background_work(&mut self) {}

    /// Open the log file again by its path (it was renamed away).
    fn reopen(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// A follower of the log from `offset` in the live file, or of its
    /// whole history with `None`. `None` when this driver keeps nothing.
    fn follow(&self, _from: Option<u64>) -> Option<Result<pier_log::Follower, pier_log::LogError>> {
        None
    }
}

/// The `none` driver: bytes are drained and dropped.
#[derive(Debug, Default)]
pub struct Discard;

impl LogSink for Discard {
    fn write(&mut self, _: Stream, _: &[u8], _: i64) -> io::Result<()> {
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, _: i64) -> io::Result<()> {
        Ok(())
    }
}

/// Docker's json-file driver, written by `pier_log`.
pub struct JsonFile(pier_log::JsonFileWriter);

impl JsonFile {
    pub fn open(settings: &pier_shim_proto::LogSettings) -> Result<Self, pier_log::LogError> {
        pier_log::JsonFileWriter::open(pier_log::WriterConfig {
            path: settings.path.clone(),
            max_size: settings.max_size,
            max_file: settings.max_file,
            compress: settings.compress,
        })
        .map(|mut w| {
            w.set_attrs(&settings.attrs);
            if settings.driver == "cri" {
                w.set_format(pier_log::LogFormat::Cri);
            }
            JsonFile(w)
        })
    }
}

fn io_err(e: pier_log::LogError) -> io::Error {
    io::Error::other(e)
}

impl LogSink for JsonFile {
    fn write(&mut self, stream: Stream, bytes: &[u8], now: i64) -> io::Result<()> {
        self.0.write(stream, bytes, now).map_err(io_err)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(io_err)
    }

    fn finish(&mut self, now: i64) -> io::Result<()> {
        let r = self.0.flush_partial(now).map_err(io_err);
        // A rotated file still being gzipped is finished before exit.
        self.0.finish_pending_work();
        r
    }

    fn position(&self) -> Option<u64> {
        Some(self.0.live_offset())
    }

    fn reopen(&mut self) -> io::Result<()> {
        self.0.reopen().map_err(io_err)
    }

    fn has_background_work(&self) -> bool {
        self.0.has_pending_work()
    }

    fn do_background_work(&mut self) {
        self.0.do_pending_work();
    }

    fn pending(&self, stream: Stream) -> &[u8] {
        self.0.pending(stream)
    }

    fn follow(&self, from: Option<u64>) -> Option<Result<pier_log::Follower, pier_log::LogError>> {
        let path = &self.0.config().path;
        let opts = pier_log::ReadOptions {
            stdout: true,
            stderr: true,
            since: None,
            until: None,
            tail: None,
        };
        Some(match from {
            Some(offset) => pier_log::Follower::from_offset(path, offset, &opts),
            None => pier_log::read(path, &opts).map(pier_log::LogReader::into_follower),
        })
    }
}
