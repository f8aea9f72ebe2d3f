//! Import, resolve, list, tag and remove with docker's semantics; reopening;
//! concurrent imports.

use std::path::Path;
use std::sync::Arc;

use pier_image::{ImageError, Removed};

use crate::support::{busybox_rootfs, gzip, r, require_root, Archive, TestStore};

#[test]
fn imports_busybox_and_runs_the_unpacked_binary() {
    require_root();
    let t = TestStore::new();
    let changes = [
        "CMD [\"sh\"]".to_string(),
        "ENV PATH=/bin".to_string(),
        "WORKDIR /tmp".to_string(),
        "LABEL a=b".to_string(),
    ];
    let image = t
        .store
        .import(&busybox_rootfs()[..], Some(&r("busybox")), &changes)
        .expect("import");
    assert!(image.id.starts_with("sha256:") && image.id.len() == 71);
    assert_eq!(image.repo_tags, ["busybox:latest"]);
    assert_eq!(image.config.cmd, Some(vec!["sh".to_string()]));
    assert_eq!(image.config.env, ["PATH=/bin"]);
    assert_eq!(image.config.working_dir, "/tmp");
    assert_eq!(image.config.labels["a"], "b");
    assert_eq!(image.os, "linux");
    assert!(!image.architecture.is_empty());
    assert_eq!(image.comment, "Imported from -");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    assert!((image.created - now).abs() < 60, "{}", image.created);
    assert!(image.created_rfc3339.ends_with('Z'));
    let busybox_len = std::fs::metadata("/bin/busybox").expect("busybox").len();
    assert!(image.size > busybox_len);
    assert_eq!(image.diff_ids.len(), 1);

    let dirs = t.store.layer_dirs(&image);
    assert_eq!(dirs.len(), 1);
    assert!(dirs[0].starts_with(t.root()));
    let sh = std::fs::read_link(dirs[0].join("bin/sh")).expect("symlink");
    assert_eq!(sh, Path::new("busybox"));
    let out = std::process::Command::new(dirs[0].join("bin/busybox"))
        .args(["echo", "hi"])
        .output()
        .expect("run unpacked busybox");
    assert_eq!(out.stdout, b"hi\n");

    // The config blob is content addressed by the id.
    let hex = &image.id[7..];
    let blob = std::fs::read(t.root().join("blobs/sha256").join(hex)).expect("blob");
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&blob))
    };
    assert_eq!(digest, hex);
    // The diff id is the sha256 of the uncompressed tar.
    let diff = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(busybox_rootfs()))
    };
    assert_eq!(image.diff_ids[0], format!("sha256:{diff}"));
    assert_eq!(t.names("tmp"), Vec::<String>::new());
}

#[test]
fn gzip_import_has_the_same_diff_id_and_shares_the_layer() {
    let t = TestStore::new();
    let tar = Archive::new().dir("etc/").file("etc/hostname", b"x\n").finish();
    let a = t.store.import(&tar[..], Some(&r("a")), &[]).expect("plain");
    let b = t.store.import(&gzip(&tar)[..], Some(&r("b")), &[]).expect("gzip");
    assert_eq!(a.diff_ids, b.diff_ids);
    let zst = zstd::stream::encode_all(&tar[..], 3).expect("zstd");
    let z = t.store.import(&zst[..], None, &[]).expect("zstd");
    assert_eq!(z.diff_ids, a.diff_ids);
    t.store.remove(&z.id, false).expect("remove zstd image");
    assert_ne!(a.id, b.id);
    assert_eq!(t.names("layers").len(), 1);
    assert_eq!(t.store.layer_dirs(&a), t.store.layer_dirs(&b));
    // Removing one keeps the shared layer; removing the other deletes it.
    let removed = t.store.remove("a", false).expect("remove a");
    assert_eq!(
        removed,
        [Removed::Untagged("a:latest".into()), Removed::Deleted(a.id.clone())]
    );
    assert!(t.store.layer_dirs(&b)[0].exists());
    let removed = t.store.remove("b:latest", false).expect("remove b");
    assert_eq!(
        removed,
        [
            Removed::Untagged("b:latest".into()),
            Removed::Deleted(b.id.clone()),
            Removed::Deleted(b.diff_ids[0].clone()),
        ]
    );
    assert_eq!(t.names("layers"), Vec::<String>::new());
    assert_eq!(t.names("images"), Vec::<String>::new());
    assert_eq!(t.names("blobs/sha256"), Vec::<String>::new());
    assert_eq!(t.names("tmp"), Vec::<String>::new());
}

#[test]
fn resolves_by_tag_id_and_prefix_and_lists() {
    let t = TestStore::new();
    let one = Archive::new().file("one", b"1").finish();
    let two = Archive::new().file("two", b"2").finish();
    let a = t
        .store
        .import(&one[..], Some(&r("127.0.0.1:5000/x/y:1")), &[])
        .expect("a");
    let b = t.store.import(&two[..], None, &[]).expect("b");
    assert!(b.repo_tags.is_empty());
    for name in [
        "127.0.0.1:5000/x/y:1",
        a.id.as_str(),
        &a.id[7..],
        &a.id[..20],
        &a.id[7..19],
    ] {
        assert_eq!(t.store.resolve(name).expect(name).id, a.id, "{name}");
    }
    assert_eq!(
        t.store.resolve("127.0.0.1:5000/x/y:1").expect("a").repo_tags,
        ["127.0.0.1:5000/x/y:1"]
    );
    for missing in ["127.0.0.1:5000/x/y", "busybox", "zzz", "sha256:zz", ""] {
        match t.store.resolve(missing) {
            Err(e @ ImageError::NotFound { .. }) => {
                assert_eq!(e.to_string(), format!("No such image: {missing}"))
            }
            other => panic!("{missing}: {other:?}"),
        }
    }
    let list = t.store.list().expect("list");
    assert_eq!(list.len(), 2);
    assert!(list
        .iter()
        .any(|i| i.id == a.id && i.repo_tags == ["127.0.0.1:5000/x/y:1"]));
}

#[test]
fn remove_follows_docker_rules() {
    let t = TestStore::new();
    let tar = Archive::new().file("f", b"x").finish();
    let img = t.store.import(&tar[..], Some(&r("app:1")), &[]).expect("import");
    t.store.tag(&img.id, &r("app:2")).expect("tag");
    t.store.tag("app:1", &r("other")).expect("tag by name");
    assert_eq!(
        t.store.resolve("app:2").expect("app:2").repo_tags,
        ["app:1", "app:2", "other:latest"]
    );
    // By id with several tags: 409 unless forced.
    match t.store.remove(&img.id[7..19], false) {
        Err(ImageError::Conflict { message }) => assert_eq!(
            message,
            format!(
                "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                &img.id[7..19]
            )
        ),
        other => panic!("{other:?}"),
    }
    // By tag: untag only.
    assert_eq!(
        t.store.remove("app:2", false).expect("untag"),
        [Removed::Untagged("app:2".into())]
    );
    assert!(matches!(
        t.store.remove("app:2", false),
        Err(ImageError::NotFound { .. })
    ));
    // Forced by id: untag everything and delete.
    let removed = t.store.remove(&img.id, true).expect("force");
    assert_eq!(
        removed,
        [
            Removed::Untagged("app:1".into()),
            Removed::Untagged("other:latest".into()),
            Removed::Deleted(img.id.clone()),
            Removed::Deleted(img.diff_ids[0].clone()),
        ]
    );
    assert!(t.store.list().expect("list").is_empty());
    // A single tag by id needs no force.
    let img = t.store.import(&tar[..], Some(&r("solo")), &[]).expect("import");
    let removed = t.store.remove(&img.id, false).expect("by id");
    assert_eq!(removed[0], Removed::Untagged("solo:latest".into()));
    // Tags may not carry digests.
    let img = t.store.import(&tar[..], None, &[]).expect("import");
    let digest_ref = r(&format!("x@sha256:{}", "a".repeat(64)));
    assert!(matches!(
        t.store.tag(&img.id, &digest_ref),
        Err(ImageError::InvalidReference { .. })
    ));
}

#[test]
fn retagging_moves_the_tag_and_the_old_image_stays_dangling() {
    let t = TestStore::new();
    let one = Archive::new().file("one", b"1").finish();
    let two = Archive::new().file("two", b"2").finish();
    let old = t.store.import(&one[..], Some(&r("app")), &[]).expect("old");
    let new = t.store.import(&two[..], Some(&r("app")), &[]).expect("new");
    assert_eq!(t.store.resolve("app").expect("app").id, new.id);
    assert!(t.store.resolve(&old.id).expect("old").repo_tags.is_empty());
    // A dangling image goes by id without force.
    let removed = t.store.remove(&old.id, false).expect("remove");
    assert_eq!(removed[0], Removed::Deleted(old.id.clone()));
}

#[test]
fn the_store_survives_a_reopen() {
    let t = TestStore::new();
    let tar = Archive::new().file("f", b"x").finish();
    let img = t
        .store
        .import(&tar[..], Some(&r("keep:me")), &["ENTRYPOINT [\"/f\"]".to_string()])
        .expect("import");
    // Leftovers of a crash: a temp dir and an unreferenced layer.
    std::fs::create_dir_all(t.root().join("tmp/import-crashed/diff")).expect("mkdir");
    std::fs::create_dir_all(t.root().join("layers").join("e".repeat(64))).expect("mkdir");
    let again = t.reopen();
    let back = again.resolve("keep:me").expect("resolve");
    assert_eq!(back, img);
    assert_eq!(t.names("tmp"), Vec::<String>::new());
    assert_eq!(t.names("layers"), [img.diff_ids[0][7..].to_string()]);
}

#[test]
fn bad_changes_and_references_fail_before_reading_the_body() {
    let t = TestStore::new();
    let tar = Archive::new().file("f", b"x").finish();
    assert!(matches!(
        t.store.import(&tar[..], None, &["RUN rm -rf /".to_string()]),
        Err(ImageError::InvalidChange { .. })
    ));
    t.assert_empty();
}

#[test]
fn concurrent_imports_of_one_layer_share_it() {
    let t = Arc::new(TestStore::new());
    let tar = Arc::new(busybox_rootfs());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (t, tar) = (Arc::clone(&t), Arc::clone(&tar));
            std::thread::spawn(move || {
                t.store
                    .import(&tar[..], Some(&r(&format!("img:{i}"))), &[])
                    .expect("import")
            })
        })
        .collect();
    let images: Vec<_> = handles.into_iter().map(|h| h.join().expect("join")).collect();
    assert!(images.windows(2).all(|w| w[0].diff_ids == w[1].diff_ids));
    assert_eq!(t.names("layers").len(), 1);
    assert_eq!(t.names("tmp"), Vec::<String>::new());
    assert_eq!(t.store.list().expect("list").len(), 4);
    let layer = &t.store.layer_dirs(&images[0])[0];
    assert!(layer.join("bin/busybox").exists());
    // Concurrent removes of all of them leave nothing.
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let t = Arc::clone(&t);
            std::thread::spawn(move || t.store.remove(&format!("img:{i}"), false).expect("rm"))
        })
        .collect();
    for h in handles {
        h.join().expect("join");
    }
    t.assert_empty();
}

#[test]
fn a_damaged_image_record_keeps_its_layers_and_its_tag() {
    let t = TestStore::new();
    let tar = Archive::new().file("f", b"x").finish();
    let img = t.store.import(&tar[..], Some(&r("keep:me")), &[]).expect("import");
    let other = Archive::new().file("g", b"y").finish();
    t.store.import(&other[..], Some(&r("other:one")), &[]).expect("import");
    let layer = img.diff_ids[0][7..].to_string();
    std::fs::write(t.root().join("images").join(format!("{}.json", &img.id[7..])), b"{tor").expect("damage");

    // The damaged image is skipped, not collected: its layer stays, the
    // other image still serves, and its tag survives a later save.
    let again = TestStore::reopen(&t);
    assert!(
        t.names("layers").contains(&layer),
        "layer kept: {:?}",
        t.names("layers")
    );
    assert!(again.resolve("keep:me").is_err());
    again.tag("other:one", &r("other:two")).expect("tag");
    let repos = std::fs::read_to_string(t.root().join("repositories.json")).expect("repositories");
    assert!(repos.contains("keep:me") && repos.contains(&img.id), "{repos}");
    assert!(repos.contains("other:two"), "{repos}");
}
