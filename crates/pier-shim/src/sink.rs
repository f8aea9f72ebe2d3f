//! Where the container's output goes. The loop writes through [`LogSink`]
//! so the log driver stays replaceable.

use std::io;

/// Which of the container's output pipes bytes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A destination for the container's stdout/stderr bytes.
pub trait LogSink {
    /// Record `bytes` read from `stream` at `now` (unix nanoseconds).
    fn write(&mut self, stream: Stream, bytes: &[u8], now: i64) -> io::Result<()>;
    /// Push buffered records to the file.
    fn flush(&mut self) -> io::Result<()>;
    /// The streams ended: write any unterminated last line as it is.
    fn finish(&mut self, now: i64) -> io::Result<()>;
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

/// Stand-in json-file writer until `pier_log::JsonFileWriter` builds:
/// one record per line, the unterminated rest held until the next call.
pub struct JsonLines {
    file: std::fs::File,
    pending: [Vec<u8>; 2],
}

impl JsonLines {
    pub fn open(path: &std::path::Path) -> io::Result<Self> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(JsonLines {
            file,
            pending: [Vec::new(), Vec::new()],
        })
    }

    fn record(&mut self, stream: Stream, line: &[u8], now: i64) -> io::Result<()> {
        use std::io::Write;
        let rec = serde_json::json!({
            "log": String::from_utf8_lossy(line),
            "stream": match stream { Stream::Stdout => "stdout", Stream::Stderr => "stderr" },
            "time": format!("{}.{:09}", now / 1_000_000_000, now % 1_000_000_000) + "Z",
        });
        let mut out = serde_json::to_vec(&rec).map_err(io::Error::other)?;
        out.push(b'\n');
        self.file.write_all(&out)
    }
}

impl LogSink for JsonLines {
    fn write(&mut self, stream: Stream, bytes: &[u8], now: i64) -> io::Result<()> {
        let idx = stream as usize;
        self.pending[idx].extend_from_slice(bytes);
        let buf = std::mem::take(&mut self.pending[idx]);
        let mut rest = &buf[..];
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            self.record(stream, &rest[..=nl], now)?;
            rest = &rest[nl + 1..];
        }
        self.pending[idx] = rest.to_vec();
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, now: i64) -> io::Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let rest = std::mem::take(&mut self.pending[stream as usize]);
            if !rest.is_empty() {
                self.record(stream, &rest, now)?;
            }
        }
        Ok(())
    }
}
