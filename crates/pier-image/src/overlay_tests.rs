//! Two layers stacked by a real overlayfs mount: whiteouts and opaque
//! directories written by the unpacker behave as the OCI spec says.
//! Needs root; fails loudly without it.

use std::path::{Path, PathBuf};
use std::process::Command;

use oci_spec::image::{ImageConfiguration, RootFs};

use crate::store::{ImageRecord, ImageStore};

/// Unmounts on drop, also when an assertion fails.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        if name.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
        } else {
            h.set_mode(0o644);
        }
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, *data).expect("append");
    }
    b.into_inner().expect("finish")
}

fn exists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

#[test]
fn whiteouts_and_opaque_dirs_work_under_overlayfs() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test mounts overlayfs and needs root"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = ImageStore::open(&tmp.path().join("image")).expect("open");
    let lower = tar(&[
        ("a/", b""),
        ("a/x", b"x"),
        ("a/y", b"y"),
        ("o/", b""),
        ("o/old", b"old"),
        ("keep", b"keep"),
    ]);
    let upper = tar(&[
        ("a/.wh.x", b""),
        ("o/", b""),
        ("o/.wh..wh..opq", b""),
        ("o/new", b"new"),
    ]);
    let lower = store.stage_layer(&lower[..]).expect("stage lower");
    let upper = store.stage_layer(&upper[..]).expect("stage upper");
    let mut config = ImageConfiguration::default();
    let mut rootfs = RootFs::default();
    rootfs.set_diff_ids(vec![lower.layer.diff_id.clone(), upper.layer.diff_id.clone()]);
    config.set_rootfs(rootfs);
    let bytes = config.to_string().expect("serialize");
    let image = store
        .commit_image(vec![lower, upper], bytes.as_bytes(), &[], ImageRecord::default())
        .expect("commit");
    let dirs = store.layer_dirs(&image);
    assert_eq!(dirs.len(), 2);
    assert!(dirs[0].join("o/new").exists(), "top-most layer first");

    let merged = tmp.path().join("merged");
    std::fs::create_dir(&merged).expect("mkdir");
    let lowerdir: Vec<&str> = dirs.iter().map(|d| d.to_str().expect("utf8")).collect();
    let status = Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o"])
        .arg(format!("ro,lowerdir={}", lowerdir.join(":")))
        .arg(&merged)
        .status()
        .expect("run mount");
    assert!(status.success(), "mount overlay");
    let _guard = Mounted(merged.clone());
    assert!(!exists(&merged.join("a/x")), "whiteout hides a/x");
    assert!(exists(&merged.join("a/y")));
    assert!(!exists(&merged.join("o/old")), "opaque dir hides o/old");
    assert_eq!(std::fs::read(merged.join("o/new")).expect("new"), b"new");
    assert_eq!(std::fs::read(merged.join("keep")).expect("keep"), b"keep");
}
