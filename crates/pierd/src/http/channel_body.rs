//! Response bodies produced by blocking code (tar writers running under
//! `spawn_blocking`): a `Write` that sends chunks over a bounded channel, and
//! the streaming body that drains it. A full channel blocks the writer, so a
//! slow client slows the producer instead of growing memory.

use axum::body::Body;
use bytes::Bytes;
use tokio::sync::mpsc;

/// One body chunk, or the error that ends the body.
pub(super) type Chunk = std::io::Result<Bytes>;

/// Sends what is written as body chunks; fails once the client is gone.
pub(super) struct ChannelWriter {
    pub(super) tx: mpsc::Sender<Chunk>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A writer that always holds back its last `keep` bytes until
/// [`TailHold::finish`]: a tar stream's end (1024 zero bytes) reaches the
/// client only when the caller says so (after a frozen container is
/// thawed, so a client that stops at the tar's end never races the thaw).
pub(super) struct TailHold<W: std::io::Write> {
    inner: W,
    tail: Vec<u8>,
    keep: usize,
}

impl<W: std::io::Write> TailHold<W> {
    pub(super) fn new(inner: W, keep: usize) -> Self {
        TailHold {
            inner,
            tail: Vec::with_capacity(keep * 2),
            keep,
        }
    }

    /// Send what was held back.
    pub(super) fn finish(mut self) -> std::io::Result<W> {
        self.inner.write_all(&self.tail)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: std::io::Write> std::io::Write for TailHold<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let total = self.tail.len() + buf.len();
        if total <= self.keep {
            self.tail.extend_from_slice(buf);
            return Ok(buf.len());
        }
        // Send everything but the last `keep` bytes of tail + buf.
        let send = total - self.keep;
        let from_tail = send.min(self.tail.len());
        self.inner.write_all(&self.tail[..from_tail])?;
        self.tail.drain(..from_tail);
        let from_buf = send - from_tail;
        self.inner.write_all(&buf[..from_buf])?;
        self.tail.extend_from_slice(&buf[from_buf..]);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The body that streams what a [`ChannelWriter`] on the other end sends.
pub(super) fn channel_body(rx: mpsc::Receiver<Chunk>) -> Body {
    let s = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    Body::from_stream(s)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::TailHold;

    #[test]
    fn the_tail_waits_for_finish() {
        let mut t = TailHold::new(Vec::new(), 4);
        t.write_all(b"ab").expect("write");
        t.write_all(b"cdefg").expect("write");
        t.flush().expect("flush");
        assert_eq!(t.inner, b"abc");
        t.write_all(&[b'h'; 10]).expect("write");
        assert_eq!(t.inner.len(), 3 + 10);
        assert_eq!(t.tail, b"hhhh");
        let all = t.finish().expect("finish");
        assert_eq!(all, b"abcdefghhhhhhhhhh");
        let t = TailHold::new(Vec::new(), 1024);
        assert!(t.finish().expect("empty").is_empty());
    }
}
