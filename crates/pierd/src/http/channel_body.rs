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

/// The body that streams what a [`ChannelWriter`] on the other end sends.
pub(super) fn channel_body(rx: mpsc::Receiver<Chunk>) -> Body {
    let s = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    Body::from_stream(s)
}
