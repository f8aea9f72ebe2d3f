//! `docker load` (`ImageStore::load_archive`): docker save archives and OCI
//! layouts, their `manifest.json` / `index.json`, configs, member links and
//! layers, loaded into a store in a scratch tree. Nothing is written outside
//! the tree, and what loaded reads back from disk the same.
//!
//! Input: first byte 0: the rest is a raw archive; else a list of members
//! (`pier_fuzz::members`), as `layer_unpack`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pier_fuzz::{members, tar_of, Bytes, Scratch};
use pier_image::ImageStore;

fn scratch() -> &'static Scratch {
    static S: OnceLock<Scratch> = OnceLock::new();
    S.get_or_init(|| Scratch::new("load"))
}

fuzz_target!(|input: &[u8]| {
    let s = scratch();
    let mut b = Bytes::new(input);
    let archive = match b.u8() {
        0 => b.rest().to_vec(),
        _ => tar_of(&members(&mut b), &s.outside),
    };
    s.reset();
    let root = s.tree.join("image");
    let store = ImageStore::open(&root).expect("open store");
    let loaded = store.load_archive(&archive[..]);
    s.assert_confined();
    let Ok(loaded) = loaded else {
        return;
    };
    let ids = |st: &ImageStore| {
        let mut v: Vec<(String, Vec<String>)> = st
            .list()
            .expect("list")
            .into_iter()
            .map(|i| (i.id, i.repo_tags))
            .collect();
        v.sort();
        v
    };
    let before = ids(&store);
    for l in &loaded {
        let image = store.resolve(&l.id).expect("a loaded image resolves");
        for dir in store.layer_dirs(&image) {
            assert!(dir.starts_with(&root), "layer outside the store: {}", dir.display());
            assert!(dir.is_dir(), "layer dir missing: {}", dir.display());
        }
    }
    drop(store);
    let again = ImageStore::open(&root).expect("reopen store");
    assert_eq!(ids(&again), before, "the store reads back other images");
});
