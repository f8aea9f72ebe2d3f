//! Random archives built from hostile pieces (`..`, absolute names,
//! symlinks to outside, hardlinks to outside): whatever the unpacker
//! decides, nothing outside the layer changes, and a refused archive
//! leaves the store empty.

use std::path::Path;

use pier_image::ImageError;
use proptest::prelude::*;

use crate::support::{require_root, Archive, TestStore};

#[derive(Debug, Clone)]
enum Op {
    Dir(String),
    File(String),
    Symlink(String, usize),
    Hardlink(String, String),
}

fn name() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop::collection::vec(prop::sample::select(vec!["a", "l", "..", ".", "x"]), 1..4),
    )
        .prop_map(|(abs, parts)| format!("{}{}", if abs { "/" } else { "" }, parts.join("/")))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        name().prop_map(Op::Dir),
        name().prop_map(Op::File),
        (name(), 0..4usize).prop_map(|(n, t)| Op::Symlink(n, t)),
        (name(), prop_oneof![name(), Just("<sentinel>".to_string())]).prop_map(|(n, t)| Op::Hardlink(n, t)),
    ]
}

fn build(ops: &[Op], outside: &Path) -> Vec<u8> {
    let outside_abs = outside.to_str().expect("utf8").to_string();
    let sentinel = format!("{outside_abs}/sentinel");
    // From <layer>/diff/<entry>, four levels up is the test's temp dir.
    let symlink_targets = [
        outside_abs.clone(),
        "../../../../outside".to_string(),
        "a".to_string(),
        ".".to_string(),
    ];
    let mut a = Archive::new();
    for op in ops {
        a = match op {
            Op::Dir(n) => a.dir(&format!("{n}/")),
            Op::File(n) => a.file(n, b"payload"),
            Op::Symlink(n, t) => a.symlink(n, &symlink_targets[*t]),
            Op::Hardlink(n, t) if t == "<sentinel>" => a.hardlink(n, &sentinel),
            Op::Hardlink(n, t) => a.hardlink(n, t),
        };
    }
    a.finish()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn nothing_escapes_the_layer(ops in prop::collection::vec(op(), 1..8)) {
        require_root();
        let t = TestStore::new();
        let outside = t.tmp.path().join("outside");
        std::fs::create_dir(&outside).expect("mkdir");
        std::fs::write(outside.join("sentinel"), b"sentinel").expect("write");
        let archive = build(&ops, &outside);
        match t.store.import(&archive[..], None, &[]) {
            Ok(image) => {
                t.store.remove(&image.id, true).expect("remove");
                t.assert_empty();
            }
            Err(ImageError::UnsafeEntry { .. }) => t.assert_empty(),
            Err(e) => panic!("unexpected error {e}"),
        }
        prop_assert_eq!(listing(&outside), ["sentinel"]);
        prop_assert_eq!(std::fs::read(outside.join("sentinel")).expect("read"), b"sentinel");
        let nlink = std::os::unix::fs::MetadataExt::nlink(
            &std::fs::metadata(outside.join("sentinel")).expect("stat"),
        );
        prop_assert_eq!(nlink, 1);
        prop_assert_eq!(listing(t.tmp.path()), ["image", "outside"]);
        for p in ["/a", "/l", "/x", "/outside"] {
            prop_assert!(!Path::new(p).exists(), "{} appeared", p);
        }
    }
}
