//! Layer and archive unpacking (`pier_image::extract_archive`, the code
//! behind pulls, loads, imports and `PUT /archive`) into a scratch tree:
//! whatever the archive holds, nothing outside the tree appears, vanishes
//! or changes (a sentinel dir beside it, and the dirs above, are checked
//! after every run).
//!
//! Input: first byte 0 → the rest is the archive as is (tar, gzip or
//! zstd); otherwise the rest is a list of members (`pier_fuzz::members`)
//! built into a tar, where `@OUT@` in link targets and PAX records names
//! the sentinel directory.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pier_fuzz::{members, tar_of, Bytes, Scratch};

fn scratch() -> &'static Scratch {
    static S: OnceLock<Scratch> = OnceLock::new();
    S.get_or_init(|| Scratch::new("unpack"))
}

fuzz_target!(|input: &[u8]| {
    let s = scratch();
    let mut b = Bytes::new(input);
    let archive = match b.u8() {
        0 => b.rest().to_vec(),
        _ => tar_of(&members(&mut b), &s.outside),
    };
    s.reset();
    let _ = pier_image::extract_archive(&archive[..], &s.tree);
    s.assert_confined();
});
