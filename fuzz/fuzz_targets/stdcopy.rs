//! Docker's multiplexed stream framing (`pier_api::stdcopy`): the decoder
//! pierd and the client use, fed in arbitrary pieces, and the client's
//! demultiplexing reader (`pier_client::OutputStream`) over the same bytes.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use pier_api::stdcopy::{self, Decoder, StreamType};
use pier_client::OutputStream;

/// A reader handing out the input in pieces of the given sizes.
struct Pieces<'a> {
    data: &'a [u8],
    sizes: &'a [u8],
    i: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = self.sizes.get(self.i % self.sizes.len().max(1)).copied().unwrap_or(255);
        self.i += 1;
        let n = (usize::from(want) + 1).min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fuzz_target!(|input: &[u8]| {
    // First byte: how many of the next bytes are piece sizes.
    let Some((&k, rest)) = input.split_first() else {
        return;
    };
    let (sizes, data) = rest.split_at(usize::from(k % 16).min(rest.len()));

    // Whole input at once vs. in pieces: the same frames, and re-encoding
    // them gives back the bytes they were read from.
    let whole = decode(&[data]);
    let mut pieces = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < data.len() {
        let n = (usize::from(sizes.get(i % sizes.len().max(1)).copied().unwrap_or(7)) + 1).min(data.len() - at);
        pieces.push(&data[at..at + n]);
        at += n;
        i += 1;
    }
    let split = decode(&pieces);
    assert_eq!(whole.0, split.0, "framing depends on how the bytes arrived");
    assert_eq!(whole.1, split.1);
    let mut wire = Vec::new();
    let mut seen = Vec::new();
    for (s, p) in &whole.0 {
        // Header bytes 1-3 are padding, ignored (as docker's stdcopy does).
        let mut h = data[wire.len()..wire.len() + stdcopy::HEADER_LEN].to_vec();
        h[1..4].fill(0);
        seen.extend_from_slice(&h);
        seen.extend_from_slice(&data[wire.len() + stdcopy::HEADER_LEN..wire.len() + stdcopy::HEADER_LEN + p.len()]);
        wire.extend_from_slice(&stdcopy::header(*s, p.len() as u32));
        wire.extend_from_slice(p);
    }
    assert_eq!(seen, wire, "frames are not the bytes they came from");

    // The client's reader: the same frames, then the same error or the end.
    let mut out = OutputStream::new(Pieces { data, sizes, i: 0 }, true, "/fuzz".into());
    let mut got = Vec::new();
    let failed = loop {
        match out.next_chunk() {
            Ok(Some(f)) => got.push(f),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert_eq!(got, whole.0, "the client demultiplexed other frames");
    assert_eq!(failed, whole.1, "the client disagrees about a bad frame");

    // The reader `pier logs` and attach use: pieces borrowed from its
    // buffer, byte for byte the frames' payloads in order (plus what arrived
    // of a frame cut short by the end); `buffered()` never counts bytes
    // that take another read (`logs -f` flushes on 0).
    let mut out = OutputStream::new(Pieces { data, sizes, i: 0 }, true, "/fuzz".into());
    let mut by_piece: Vec<(StreamType, u8)> = Vec::new();
    let failed = loop {
        let ready = out.buffered();
        let before = out.get_ref().i;
        match out.next_piece() {
            Ok(Some((s, p))) => {
                assert!(!p.is_empty(), "an empty piece");
                by_piece.extend(p.iter().map(|&b| (s, b)));
            }
            Ok(None) => break false,
            Err(_) => break true,
        }
        if ready > 0 {
            assert_eq!(out.get_ref().i, before, "buffered {ready} bytes, yet read");
        }
    };
    let by_frame: Vec<(StreamType, u8)> = whole.0.iter().flat_map(|(s, p)| p.iter().map(|&b| (*s, b))).collect();
    assert_eq!(failed, whole.1, "pieces disagree about a bad frame");
    if failed {
        assert_eq!(by_piece, by_frame, "pieces are not the frames");
    } else {
        assert!(by_piece.starts_with(&by_frame), "pieces are not the frames");
    }

    // Encoding any payload decodes back to it.
    let mut enc = Vec::new();
    stdcopy::encode_into(&mut enc, StreamType::Stderr, data);
    let mut d = Decoder::new();
    d.push(&enc);
    let mut back = Vec::new();
    while let Ok(Some((s, p))) = d.next_frame() {
        assert_eq!(s, StreamType::Stderr);
        back.extend_from_slice(&p);
    }
    assert_eq!(back, data);
    assert_eq!(d.pending(), 0);
});

/// Frames decoded from `pieces` pushed in order, and whether an error
/// stopped the decoding.
fn decode(pieces: &[&[u8]]) -> (Vec<(StreamType, Vec<u8>)>, bool) {
    let mut d = Decoder::new();
    let mut frames = Vec::new();
    for p in pieces {
        d.push(p);
        loop {
            match d.next_frame() {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(_) => return (frames, true),
            }
        }
    }
    (frames, false)
}
