//! Hostile archives: each is refused with an error naming the entry, and
//! nothing is written outside the layer or left behind in the store.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use pier_image::ImageError;

use crate::support::{exists_nofollow, gzip, require_root, Archive, Entry, TestStore};

/// Imports `archive`, expects `UnsafeEntry` naming `entry`, and checks the
/// store is empty afterwards.
fn refused(t: &TestStore, archive: &[u8], entry: &str) -> String {
    match t.store.import(archive, None, &[]) {
        Err(e @ ImageError::UnsafeEntry { .. }) => {
            let ImageError::UnsafeEntry { entry: got, .. } = &e else {
                unreachable!()
            };
            assert_eq!(got, entry, "{e}");
            t.assert_empty();
            e.to_string()
        }
        other => panic!("expected UnsafeEntry for {entry}, got {other:?}"),
    }
}

fn invalid(t: &TestStore, body: &[u8]) -> String {
    match t.store.import(body, None, &[]) {
        Err(e @ ImageError::InvalidArchive { .. }) => {
            t.assert_empty();
            e.to_string()
        }
        other => panic!("expected InvalidArchive, got {other:?}"),
    }
}

#[test]
fn dot_dot_escape_is_refused() {
    let t = TestStore::new();
    let outside = t.tmp.path().join("escaped");
    let a = Archive::new()
        .file("ok", b"fine")
        .file("../../escaped", b"pwned")
        .finish();
    let msg = refused(&t, &a, "../../escaped");
    assert!(msg.contains(".."), "{msg}");
    assert!(!outside.exists());
    let a = Archive::new().file("a/../../../escaped", b"pwned").finish();
    refused(&t, &a, "a/../../../escaped");
    assert!(!outside.exists());
}

#[test]
fn writing_through_a_planted_symlink_is_refused() {
    let t = TestStore::new();
    let outside = t.tmp.path().join("outside");
    std::fs::create_dir(&outside).expect("mkdir");
    let target = outside.to_str().expect("utf8");
    // Absolute symlink to a directory outside, then a file beneath it.
    let a = Archive::new().symlink("evil", target).file("evil/pwned", b"x").finish();
    let msg = refused(&t, &a, "evil/pwned");
    assert!(msg.contains("symlink"), "{msg}");
    // Relative symlink climbing out, then a directory beneath it.
    let a = Archive::new()
        .dir("d/")
        .symlink("d/up", "../../../../../../../..")
        .dir("d/up/tmp/pier-evil/")
        .finish();
    refused(&t, &a, "d/up/tmp/pier-evil/");
    // A symlink deeper in the path.
    let a = Archive::new()
        .dir("a/")
        .symlink("a/b", target)
        .file("a/b/c/d", b"x")
        .finish();
    refused(&t, &a, "a/b/c/d");
    assert_eq!(std::fs::read_dir(&outside).expect("read").count(), 0);
    assert!(!std::path::Path::new("/tmp/pier-evil").exists());
}

#[test]
fn odd_names_are_refused() {
    let t = TestStore::new();
    let a = Archive::new().symlink("./", "/etc").finish();
    refused(&t, &a, "./");
    let a = Archive::new().file("/", b"x").finish();
    refused(&t, &a, "/");
    let a = Archive::new().file("f", b"x").file("f/g", b"x").finish();
    refused(&t, &a, "f/g");
    let long = format!("{}/f", "d".repeat(300));
    let a = Archive::new()
        .pax(&[("path", long.as_bytes())])
        .file("short", b"x")
        .finish();
    refused(&t, &a, &long);
}

#[test]
fn hardlinks_out_of_the_layer_are_refused() {
    let t = TestStore::new();
    let before = std::fs::metadata("/etc/passwd").expect("passwd").nlink();
    for target in ["/etc/passwd", "../../../../../../etc/passwd", "etc/passwd"] {
        let a = Archive::new().hardlink("passwd", target).finish();
        refused(&t, &a, "passwd");
    }
    // Through a symlink planted by an earlier entry.
    let a = Archive::new()
        .symlink("etc", "/etc")
        .hardlink("passwd", "etc/passwd")
        .finish();
    refused(&t, &a, "passwd");
    // To a directory.
    let a = Archive::new().dir("d/").hardlink("h", "d").finish();
    refused(&t, &a, "h");
    assert_eq!(std::fs::metadata("/etc/passwd").expect("passwd").nlink(), before);
}

#[test]
fn not_a_tar_truncated_and_empty_bodies_are_invalid() {
    let t = TestStore::new();
    let msg = invalid(&t, b"this is definitely not a tar archive, just some text");
    assert!(msg.starts_with("invalid archive"), "{msg}");
    invalid(&t, &gzip(b"gzip of something that is not a tar"));
    invalid(&t, &[0x1f, 0x8b, 0x08, 0x00, 0x01]);
    let msg = invalid(&t, b"");
    assert!(msg.contains("empty"), "{msg}");
    let full = Archive::new()
        .file("big", &vec![7u8; 100_000])
        .file("after", b"x")
        .finish();
    let msg = invalid(&t, &full[..50_000]);
    assert!(msg.contains("truncated"), "{msg}");
    invalid(&t, &full[..700]);
    let gz = gzip(&full);
    invalid(&t, &gz[..gz.len() / 2]);
    invalid(&t, &[0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0]);
    let msg = invalid(&t, b"\xfd7zXZ\x00rest");
    assert!(msg.contains("compression"), "{msg}");
}

#[test]
fn absolute_names_land_inside_the_layer() {
    require_root();
    let t = TestStore::new();
    let a = Archive::new()
        .dir("/etc/")
        .file("/etc/pier-test-absolute", b"inside")
        .symlink("/etc/link", "/etc/pier-test-absolute")
        .hardlink("/etc/hard", "/etc/pier-test-absolute")
        .finish();
    let image = t.store.import(&a[..], None, &[]).expect("import");
    let layer = &t.store.layer_dirs(&image)[0];
    assert_eq!(
        std::fs::read(layer.join("etc/pier-test-absolute")).expect("read"),
        b"inside"
    );
    assert_eq!(std::fs::metadata(layer.join("etc/hard")).expect("hard").nlink(), 2);
    assert!(!std::path::Path::new("/etc/pier-test-absolute").exists());
}

#[test]
fn later_entries_replace_symlinks_instead_of_following_them() {
    require_root();
    let t = TestStore::new();
    let victim = t.tmp.path().join("victim");
    std::fs::write(&victim, b"original").expect("write");
    let a = Archive::new()
        .symlink("f", victim.to_str().expect("utf8"))
        .file("f", b"replaced")
        .symlink("d", victim.to_str().expect("utf8"))
        .dir("d/")
        .file("d/x", b"in a real dir")
        .finish();
    let image = t.store.import(&a[..], None, &[]).expect("import");
    let layer = &t.store.layer_dirs(&image)[0];
    assert_eq!(std::fs::read(&victim).expect("victim"), b"original");
    assert_eq!(std::fs::read(layer.join("f")).expect("f"), b"replaced");
    assert!(std::fs::symlink_metadata(layer.join("d")).expect("d").is_dir());
}

#[test]
fn metadata_devices_and_whiteouts_are_preserved() {
    require_root();
    let t = TestStore::new();
    let a = Archive::new()
        .raw(Entry {
            name: b"bin/",
            kind: tar::EntryType::Directory,
            mode: 0o751,
            uid: 12,
            gid: 34,
            mtime: 1_500_000_000,
            ..Default::default()
        })
        .raw(Entry {
            name: b"bin/su",
            mode: 0o4755,
            uid: 0,
            gid: 0,
            mtime: 1_400_000_000,
            data: b"#!/bin/sh\n",
            ..Default::default()
        })
        .raw(Entry {
            name: b"home/user/file",
            mode: 0o640,
            uid: 1000,
            gid: 1001,
            data: b"x",
            ..Default::default()
        })
        .raw(Entry {
            name: b"dev/null",
            kind: tar::EntryType::Char,
            mode: 0o666,
            dev: (1, 3),
            ..Default::default()
        })
        .raw(Entry {
            name: b"fifo",
            kind: tar::EntryType::Fifo,
            mode: 0o600,
            ..Default::default()
        })
        .pax(&[("SCHILY.xattr.user.pier", b"yes")])
        .file("xattr-file", b"x")
        .file("gone/.wh.old", b"")
        .file("opaque/.wh..wh..opq", b"")
        .file(".wh..wh.plnk", b"")
        .finish();
    let image = t.store.import(&a[..], None, &[]).expect("import");
    let layer = &t.store.layer_dirs(&image)[0];
    let bin = std::fs::metadata(layer.join("bin")).expect("bin");
    assert_eq!(bin.mode() & 0o7777, 0o751);
    assert_eq!((bin.uid(), bin.gid()), (12, 34));
    assert_eq!(bin.mtime(), 1_500_000_000);
    let su = std::fs::metadata(layer.join("bin/su")).expect("su");
    assert_eq!(su.mode() & 0o7777, 0o4755);
    assert_eq!(su.mtime(), 1_400_000_000);
    let file = std::fs::metadata(layer.join("home/user/file")).expect("file");
    assert_eq!((file.uid(), file.gid(), file.mode() & 0o777), (1000, 1001, 0o640));
    let null = std::fs::metadata(layer.join("dev/null")).expect("null");
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), rustix::fs::makedev(1, 3));
    assert!(std::fs::metadata(layer.join("fifo"))
        .expect("fifo")
        .file_type()
        .is_fifo());
    let wh = std::fs::symlink_metadata(layer.join("gone/old")).expect("whiteout");
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert!(!exists_nofollow(&layer.join("gone/.wh.old")));
    assert!(!exists_nofollow(&layer.join(".wh..wh.plnk")));
    assert!(!exists_nofollow(&layer.join("opaque/.wh..wh..opq")));
    let opaque = xattr(&layer.join("opaque"), "trusted.overlay.opaque");
    assert_eq!(opaque.as_deref(), Some(&b"y"[..]));
    let user = xattr(&layer.join("xattr-file"), "user.pier");
    // tmpfs before 6.6 lacks user xattrs; the unpacker then skips them.
    if let Some(v) = user {
        assert_eq!(v, b"yes");
    }
}

#[test]
fn overlay_xattrs_from_the_archive_are_ignored() {
    require_root();
    let t = TestStore::new();
    let a = Archive::new()
        .pax(&[("SCHILY.xattr.trusted.overlay.redirect", b"/etc")])
        .file("f", b"x")
        .finish();
    let image = t.store.import(&a[..], None, &[]).expect("import");
    let layer = &t.store.layer_dirs(&image)[0];
    assert_eq!(xattr(&layer.join("f"), "trusted.overlay.redirect"), None);
}

fn xattr(path: &std::path::Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    match rustix::fs::lgetxattr(path, name, &mut buf) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}
