//! The daemon <-> shim protocol (`pier_shim_proto`): length-prefixed JSON
//! frames read incrementally (the shim's event loop) and blocking (pierd's
//! side), requests and responses, and the JSON documents the shim writes
//! (`Ready` line, `exit.json`, `shim.json`).
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use pier_shim_proto::frame::{self, read_frame};
use pier_shim_proto::{ExitRecord, FrameDecoder, FrameError, Ready, Request, Response, ShimConfig, StateInfo};
use serde::de::DeserializeOwned;
use serde::Serialize;

fuzz_target!(|input: &[u8]| {
    let Some((&step, data)) = input.split_first() else {
        return;
    };
    check::<Request>(data, step);
    check::<Response>(data, step);
    doc::<Ready>(data);
    doc::<ExitRecord>(data);
    doc::<ShimConfig>(data);
    doc::<StateInfo>(data);
});

/// Incremental and blocking reads agree, and what decodes re-encodes to a
/// frame that decodes to the same message.
fn check<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(data: &[u8], step: u8) {
    let step = usize::from(step) + 1;
    let mut d = FrameDecoder::new();
    let mut incremental = Vec::new();
    'outer: for chunk in data.chunks(step) {
        d.push(chunk);
        loop {
            match d.next::<T>() {
                Ok(Some(m)) => incremental.push(m),
                Ok(None) => break,
                Err(_) => break 'outer,
            }
        }
    }
    let mut r = Cursor::new(data);
    let mut blocking = Vec::new();
    while let Ok(Some(m)) = read_frame::<T>(&mut r) {
        blocking.push(m);
    }
    assert_eq!(incremental, blocking, "incremental and blocking reads disagree");
    for m in &incremental {
        let wire = match frame::encode(m) {
            Ok(w) => w,
            Err(FrameError::TooLarge(_)) => continue,
            Err(e) => panic!("re-encode: {e}"),
        };
        let back = read_frame::<T>(&mut Cursor::new(&wire)).expect("reads back");
        assert_eq!(back.as_ref(), Some(m), "message changed through a frame");
    }
}

fn doc<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<T>(data) {
        let json = serde_json::to_vec(&v).expect("serializes");
        let back: T = serde_json::from_slice(&json).expect("reads back");
        assert_eq!(back, v);
    }
}
