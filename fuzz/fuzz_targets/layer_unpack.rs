//! Layer unpacking (pulls, loads, imports: whiteouts become overlayfs
//! deletions) and archive extraction (`PUT /archive`, `docker cp`:
//! whiteout names are literal files) into a scratch tree:
//! whatever the archive holds, nothing outside the tree appears, vanishes
//! or changes (a sentinel dir beside it, and the dirs above, are checked
//! after every run).
//!
//! Input: a mode byte, then the archive. Mode bit 0 clear: the rest is the
//! archive as is (tar, gzip or zstd); set: the rest is a list of members
//! (`pier_fuzz::members`) built into a tar, where `@OUT@` in link targets
//! and PAX records names the sentinel directory. Bit 1: unpack as a layer
//! instead of extracting.
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
    let mode = b.u8();
    let archive = match mode & 1 {
        0 => b.rest().to_vec(),
        _ => tar_of(&members(&mut b), &s.outside),
    };
    s.reset();
    if mode & 2 == 0 {
        let _ = pier_image::extract_archive(&archive[..], &s.tree);
    } else {
        let _ = pier_image::fuzz_unpack_layer(&archive[..], &s.tree);
    }
    s.assert_confined();
});
