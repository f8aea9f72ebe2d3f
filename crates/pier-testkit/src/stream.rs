//! Output streams as tests read them.

#[cfg(feature = "daemon")]
use std::io::Read;
#[cfg(feature = "daemon")]
use std::time::Duration;

use pier_api::stdcopy::{Decoder, StreamType};

/// Split a whole stdcopy stream into (stdout, stderr). Panics on a frame of
/// an unknown stream or a truncated last frame: tests want exact streams.
pub fn demux(raw: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut d = Decoder::new();
    d.push(raw);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while let Some((stream, payload)) = d.next_frame().expect("a valid stdcopy frame") {
        match stream {
            StreamType::Stdout => out.extend_from_slice(&payload),
            StreamType::Stderr => err.extend_from_slice(&payload),
            other => panic!("unexpected {other:?} frame: {:?}", String::from_utf8_lossy(&payload)),
        }
    }
    assert_eq!(d.pending(), 0, "a truncated frame at the end of the stream");
    (out, err)
}

/// [`demux`] as text.
pub fn demux_text(raw: &[u8]) -> (String, String) {
    let (out, err) = demux(raw);
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

/// Read a hijacked connection to EOF, bytes that came with the head
/// first; a read that waits longer than `timeout` fails the test.
#[cfg(feature = "daemon")]
pub fn read_all(mut h: pier_client::Hijacked, timeout: Duration) -> Vec<u8> {
    h.try_clone_stream()
        .and_then(|s| s.set_read_timeout(Some(timeout)))
        .expect("set a read timeout on the hijacked stream");
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match h.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read hijacked stream after {} bytes: {e}", out.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pier_api::stdcopy::encode_into;

    #[test]
    fn splits_streams() {
        let mut raw = Vec::new();
        encode_into(&mut raw, StreamType::Stdout, b"a");
        encode_into(&mut raw, StreamType::Stderr, b"b");
        encode_into(&mut raw, StreamType::Stdout, b"c");
        assert_eq!(demux(&raw), (b"ac".to_vec(), b"b".to_vec()));
        assert_eq!(demux_text(&[]), (String::new(), String::new()));
    }

    #[test]
    #[should_panic(expected = "truncated")]
    fn truncated_frame_fails() {
        let mut raw = Vec::new();
        encode_into(&mut raw, StreamType::Stdout, b"abc");
        raw.pop();
        demux(&raw);
    }
}
