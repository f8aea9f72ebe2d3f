//! Integration tests of the image store: real imports into temp dirs.

use std::io::Write;
use std::path::Path;

use pier_image::{ImageError, ImageStore, Reference, Removed};

/// A rootfs tar holding busybox-static and a few links, built with the tar crate.
fn busybox_rootfs() -> Vec<u8> {
    let busybox = std::fs::read("/bin/busybox").expect("/bin/busybox (busybox-static) is required");
    let mut b = tar::Builder::new(Vec::new());
    for dir in ["bin", "etc", "tmp"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(if dir == "tmp" { 0o1777 } else { 0o755 });
        h.set_mtime(1_600_000_000);
        h.set_size(0);
        b.append_data(&mut h, format!("./{dir}/"), &[][..]).expect("dir");
    }
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(busybox.len() as u64);
    h.set_mtime(1_600_000_000);
    b.append_data(&mut h, "bin/busybox", &busybox[..]).expect("busybox");
    for applet in ["sh", "echo", "cat"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox").expect("link");
    }
    let passwd = b"root:x:0:0:root:/root:/bin/sh\n";
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(passwd.len() as u64);
    b.append_data(&mut h, "etc/passwd", &passwd[..]).expect("passwd");
    b.into_inner().expect("finish")
}

fn store(dir: &Path) -> ImageStore {
    ImageStore::open(&dir.join("image")).expect("open store")
}

fn r(s: &str) -> Reference {
    Reference::parse(s).expect("reference")
}

#[test]
fn imports_busybox_and_resolves_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = store(tmp.path());
    let image = store
        .import(
            &busybox_rootfs()[..],
            Some(&r("busybox")),
            &["CMD [\"sh\"]".to_string()],
        )
        .expect("import");
    assert!(image.id.starts_with("sha256:"));
    assert_eq!(image.repo_tags, ["busybox:latest"]);
    assert_eq!(image.config.cmd, Some(vec!["sh".to_string()]));
    assert_eq!(image.os, "linux");
    assert_eq!(image.diff_ids.len(), 1);
    let dirs = store.layer_dirs(&image);
    assert_eq!(dirs.len(), 1);
    let sh = std::fs::read_link(dirs[0].join("bin/sh")).expect("symlink");
    assert_eq!(sh, Path::new("busybox"));
    let out = std::process::Command::new(dirs[0].join("bin/busybox"))
        .args(["echo", "hi"])
        .output()
        .expect("run unpacked busybox");
    assert_eq!(out.stdout, b"hi\n");
    assert_eq!(store.resolve("busybox").expect("by tag").id, image.id);
    assert_eq!(store.resolve(&image.id[7..10]).expect("by prefix").id, image.id);
    assert!(matches!(store.resolve("nope"), Err(ImageError::NotFound { .. })));
    let removed = store.remove("busybox", false).expect("remove");
    assert_eq!(removed[0], Removed::Untagged("busybox:latest".into()));
    assert_eq!(removed[1], Removed::Deleted(image.id.clone()));
    assert!(!dirs[0].exists());
}

#[test]
fn gzip_import_has_the_same_diff_id() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = store(tmp.path());
    let tar = busybox_rootfs();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let a = store.import(&tar[..], None, &[]).expect("plain");
    let b = store.import(&gz[..], None, &[]).expect("gzip");
    assert_eq!(a.diff_ids, b.diff_ids);
    assert_ne!(a.id, b.id);
}
