//! End-to-end: storage (issue 8): bind mounts, volumes, tmpfs, read-only
//! root, cp, export, diff, commit, with the pier and docker CLIs.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use pier_client::http::Headers;
use pier_client::RequestBody;
use pier_testkit::rootfs::tar_file as busybox_tar;
use pier_testkit::{wait_until, Daemon};

use crate::stdout;

fn inspect(d: &Daemon, id: &str) -> serde_json::Value {
    let (st, v) = d.http_json("GET", &format!("/containers/{id}/json"), None);
    assert_eq!(st, 200, "inspect {id}: {v}");
    v
}

/// Import busybox plus `extra` files (path, content) and symlinks
/// (path, target) as `tag`, with Dockerfile `changes`.
fn import_image(d: &Daemon, tag: &str, files: &[(&str, &str)], links: &[(&str, &str)], changes: &[&str]) {
    let base = busybox_tar(&d.root.join("img"));
    let out_path = d.root.join(format!("{}.tar", tag.replace([':', '/'], "_")));
    {
        let mut b = tar::Builder::new(std::fs::File::create(&out_path).expect("create tar"));
        let mut a = tar::Archive::new(std::fs::File::open(&base).expect("open busybox tar"));
        for e in a.entries().expect("entries") {
            let mut e = e.expect("entry");
            let mut h = e.header().clone();
            let path = e.path().expect("path").into_owned();
            b.append_data(&mut h, &path, &mut e).expect("copy entry");
        }
        for (p, content) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(content.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(1_700_000_000);
            b.append_data(&mut h, p.trim_start_matches('/'), content.as_bytes())
                .expect("add file");
        }
        for (p, target) in links {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(&mut h, p.trim_start_matches('/'), target)
                .expect("add link");
        }
        b.finish().expect("finish tar");
    }
    // Through the API: `pier import` does not send --change yet.
    let mut q = format!("/images/create?fromSrc=-&repo={tag}");
    for c in changes {
        q.push_str("&changes=");
        q.push_str(&c.replace(' ', "%20").replace('/', "%2F"));
    }
    let body = std::fs::read(&out_path).expect("read tar");
    let (st, out) = d.http("POST", &q, Some(&body));
    assert_eq!(st, 200, "import: {}", String::from_utf8_lossy(&out));
}

fn run_out(d: &Daemon, args: &[&str]) -> (i32, String, String) {
    let mut full = vec!["run", "--rm"];
    full.extend_from_slice(args);
    let o = d.pier(&full);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A host directory removed on drop.
struct HostDir(PathBuf);

impl HostDir {
    fn new(d: &Daemon, name: &str) -> HostDir {
        let p = d.root.join("host").join(name);
        std::fs::create_dir_all(&p).expect("host dir");
        HostDir(p)
    }
    fn s(&self) -> &str {
        self.0.to_str().expect("utf-8")
    }
}

#[test]
fn bind_mounts_rw_ro_and_propagation() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let h = HostDir::new(&d, "bind");
    std::fs::write(h.0.join("in"), "from host\n").expect("write");

    let (code, out, err) = run_out(
        &d,
        &[
            "-v",
            &format!("{}:/data", h.s()),
            "busybox",
            "sh",
            "-c",
            "cat /data/in && echo hi > /data/out",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "from host\n"), "{err}");
    assert_eq!(std::fs::read_to_string(h.0.join("out")).expect("out"), "hi\n");

    let (code, _, _) = run_out(
        &d,
        &[
            "-v",
            &format!("{}:/data:ro", h.s()),
            "busybox",
            "sh",
            "-c",
            "echo x > /data/out",
        ],
    );
    assert_ne!(code, 0, "a write to a read-only bind fails");
    let (code, _, _) = run_out(
        &d,
        &[
            "--mount",
            &format!("type=bind,source={},target=/data,readonly", h.s()),
            "busybox",
            "touch",
            "/data/y",
        ],
    );
    assert_ne!(code, 0, "--mount readonly too");
    assert!(!h.0.join("y").exists());

    // Propagation reaches the spec; inspect reports it as docker does.
    let id = d
        .pier_ok(&[
            "run",
            "-d",
            "-v",
            &format!("{}:/p:rslave", h.s()),
            "--mount",
            &format!("type=bind,src={},dst=/q,bind-propagation=shared", h.s()),
            "busybox",
            "sleep",
            "100",
        ])
        .trim()
        .to_string();
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.exec_root.join(&id).join("config.json")).expect("config.json"))
            .expect("spec json");
    let mounts = spec["mounts"].as_array().expect("mounts");
    let opts = |dest: &str| -> Vec<String> {
        mounts
            .iter()
            .find(|m| m["destination"] == dest)
            .and_then(|m| m["options"].as_array())
            .map(|a| a.iter().filter_map(|o| o.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    assert!(opts("/p").contains(&"rslave".to_string()), "{:?}", opts("/p"));
    assert!(opts("/q").contains(&"shared".to_string()), "{:?}", opts("/q"));
    assert_eq!(spec["linux"]["rootfsPropagation"], "shared");
    let info = inspect(&d, &id);
    let m = info["Mounts"].as_array().expect("Mounts");
    let p = m.iter().find(|m| m["Destination"] == "/p").expect("/p");
    assert_eq!(p["Type"], "bind");
    assert_eq!(p["Source"], h.s());
    assert_eq!(p["Propagation"], "rslave");
    assert_eq!(p["RW"], true);
    assert_eq!(info["HostConfig"]["Binds"][0], format!("{}:/p:rslave", h.s()));
    d.pier_ok(&["rm", "-f", &id]);

    // -v creates a missing source; --mount refuses it with docker's words.
    let missing = d.root.join("host/missing");
    let (code, _, err) = run_out(&d, &["-v", &format!("{}:/m", missing.display()), "busybox", "true"]);
    assert_eq!(code, 0, "{err}");
    assert!(missing.is_dir());
    let o = d.pier(&[
        "create",
        "--mount",
        "type=bind,source=/nonexistent-x,target=/x",
        "busybox",
        "true",
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("invalid mount config for type \"bind\": bind source path does not exist: /nonexistent-x"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn named_volume_keeps_data_and_copies_image_content() {
    let d = Daemon::start();
    import_image(&d, "seeded", &[("/seed/hello", "seeded content\n")], &[], &[]);
    let (code, out, err) = run_out(
        &d,
        &[
            "-v",
            "vol1:/seed",
            "seeded",
            "sh",
            "-c",
            "cat /seed/hello; echo more > /seed/new",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "seeded content\n"), "{err}");
    let (code, out, err) = run_out(
        &d,
        &["-v", "vol1:/other", "seeded", "cat", "/other/new", "/other/hello"],
    );
    assert_eq!((code, out.as_str()), (0, "more\nseeded content\n"), "{err}");
    // nocopy: an empty new volume stays empty.
    let (code, out, _) = run_out(
        &d,
        &[
            "--mount",
            "type=volume,src=vol2,dst=/seed,volume-nocopy",
            "seeded",
            "ls",
            "-A",
            "/seed",
        ],
    );
    assert_eq!((code, out.as_str()), (0, ""));

    let ls = d.pier_ok(&["volume", "ls"]);
    assert!(ls.starts_with("DRIVER"), "{ls}");
    assert!(ls.contains("vol1") && ls.contains("vol2"), "{ls}");
    let v: serde_json::Value = serde_json::from_str(&d.pier_ok(&["volume", "inspect", "vol1"])).expect("json");
    assert_eq!(v[0]["Name"], "vol1");
    assert_eq!(v[0]["Driver"], "local");
    let mp = PathBuf::from(v[0]["Mountpoint"].as_str().expect("mountpoint"));
    assert_eq!(mp, d.data_root.join("volumes/vol1/_data"));
    assert_eq!(std::fs::read_to_string(mp.join("new")).expect("new"), "more\n");

    // In use: 409; free again after the container goes.
    let id = d
        .pier_ok(&["create", "-v", "vol1:/x", "seeded", "true"])
        .trim()
        .to_string();
    let (st, body) = d.http_json("DELETE", "/volumes/vol1", None);
    assert_eq!(st, 409, "{body}");
    let info = inspect(&d, &id);
    let m = &info["Mounts"][0];
    assert_eq!(
        (m["Type"].as_str(), m["Name"].as_str(), m["Mode"].as_str()),
        (Some("volume"), Some("vol1"), Some("z"))
    );
    assert_eq!(m["Driver"], "local");
    let (st, body) = d.http_json("GET", "/volumes?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D", None);
    assert_eq!(st, 200);
    let names: Vec<&str> = body["Volumes"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|v| v["Name"].as_str())
        .collect();
    assert_eq!(names, ["vol2"], "dangling volumes");
    d.pier_ok(&["rm", &id]);
    assert_eq!(d.pier_ok(&["volume", "rm", "vol1"]).trim(), "vol1");
    let (st, _) = d.http_json("GET", "/volumes/vol1", None);
    assert_eq!(st, 404);
    let (st, v) = d.http_json("POST", "/volumes/create", Some(br#"{"Name":"lbl","Labels":{"a":"b"}}"#));
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["Labels"]["a"], "b");
    let o = d.pier_ok(&["volume", "ls", "-q", "-f", "label=a=b"]);
    assert_eq!(o.trim(), "lbl");
}

#[test]
fn anonymous_volumes_go_with_rm_v_and_prune() {
    let d = Daemon::start();
    import_image(&d, "withvol", &[("/data/x", "x")], &[], &["VOLUME /data"]);
    let id = d
        .pier_ok(&["create", "-v", "/anon", "withvol", "true"])
        .trim()
        .to_string();
    let info = inspect(&d, &id);
    let mounts = info["Mounts"].as_array().expect("mounts");
    assert_eq!(mounts.len(), 2, "{mounts:?}");
    for m in mounts {
        assert_eq!(m["Type"], "volume");
        assert_eq!(m["Name"].as_str().map(str::len), Some(64));
    }
    let (code, out, _) = run_out(&d, &["withvol", "cat", "/data/x"]);
    assert_eq!((code, out.as_str()), (0, "x"), "image volume gets the image content");
    let before = d.pier_ok(&["volume", "ls", "-q"]);
    assert_eq!(before.lines().count(), 2, "--rm removed its anonymous volume: {before}");
    d.pier_ok(&["rm", "-v", &id]);
    assert_eq!(d.pier_ok(&["volume", "ls", "-q"]).trim(), "");
    // A create that fails (name taken) leaves no anonymous volume behind.
    let first = d
        .pier_ok(&["create", "--name", "taken", "withvol", "true"])
        .trim()
        .to_string();
    assert!(!d
        .pier(&["create", "--name", "taken", "-v", "/x", "withvol", "true"])
        .status
        .success());
    assert_eq!(
        d.pier_ok(&["volume", "ls", "-q"]).lines().count(),
        1,
        "only the first container's"
    );
    d.pier_ok(&["rm", "-v", &first]);

    d.pier_ok(&["volume", "create", "named"]);
    d.pier_ok(&["create", "-v", "/anon2", "withvol", "true"]);
    let keep = d
        .pier_ok(&["create", "-v", "/anon3", "withvol", "true"])
        .trim()
        .to_string();
    d.pier_ok(&["rm", &keep]);
    // Prune: anonymous only by default, and not those in use.
    let out = d.pier_ok(&["volume", "prune", "-f"]);
    assert!(out.contains("Deleted Volumes:"), "{out}");
    let left = d.pier_ok(&["volume", "ls", "-q"]);
    assert!(left.contains("named"), "{left}");
    assert_eq!(left.lines().count(), 3, "named + the in-use container's two: {left}");
    d.pier_ok(&["volume", "prune", "-f", "--all"]);
    assert!(!d.pier_ok(&["volume", "ls", "-q"]).contains("named"));
}

#[test]
fn tmpfs_sizes_and_read_only_root() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let (code, out, err) = run_out(
        &d,
        &[
            "--read-only", "--tmpfs", "/run:size=1m", "--mount", "type=tmpfs,dst=/t2,tmpfs-size=2m",
            "-v", "rwvol:/v", "busybox", "sh", "-c",
            "grep -E ' /(run|t2) ' /proc/mounts; touch /run/ok /t2/ok /v/ok && echo writable; touch /nope 2>/dev/null || echo ro-root",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let run_line = out
        .lines()
        .find(|l| l.contains(" /run "))
        .expect("/run in /proc/mounts");
    assert!(
        run_line.starts_with("tmpfs /run tmpfs") && run_line.contains("size=1024k"),
        "{run_line}"
    );
    let t2 = out.lines().find(|l| l.contains(" /t2 ")).expect("/t2 in /proc/mounts");
    assert!(t2.contains("size=2048k"), "{t2}");
    assert!(out.contains("writable\n"), "{out}");
    assert!(out.contains("ro-root\n"), "{out}");
    let (code, out, _) = run_out(&d, &["--tmpfs", "/run:size=1m", "busybox", "df", "-k", "/run"]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("1024")),
        "{out}"
    );
}

fn make_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    std::fs::write(dir.join("sub/exec"), "#!/bin/sh\necho run\n").expect("write");
    std::fs::set_permissions(dir.join("sub/exec"), std::fs::Permissions::from_mode(0o751)).expect("chmod");
    std::fs::write(dir.join("secret"), "s").expect("write");
    std::fs::set_permissions(dir.join("secret"), std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::os::unix::fs::symlink("sub/exec", dir.join("link")).expect("symlink");
}

fn assert_same_tree(a: &Path, b: &Path) {
    for rel in ["sub", "sub/exec", "secret", "link"] {
        let ma = std::fs::symlink_metadata(a.join(rel)).expect("stat a");
        let mb = std::fs::symlink_metadata(b.join(rel)).unwrap_or_else(|e| panic!("{}: {e}", b.join(rel).display()));
        assert_eq!(ma.mode(), mb.mode(), "mode of {rel}");
        if ma.is_file() {
            assert_eq!(
                std::fs::read(a.join(rel)).ok(),
                std::fs::read(b.join(rel)).ok(),
                "content of {rel}"
            );
        }
    }
    assert_eq!(std::fs::read_link(b.join("link")).expect("link"), Path::new("sub/exec"));
}

#[test]
fn cp_round_trips_running_and_stopped() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let src = HostDir::new(&d, "tree");
    make_tree(&src.0);
    let id = d.pier_ok(&["run", "-d", "busybox", "sleep", "100"]).trim().to_string();
    d.pier_ok(&["cp", src.s(), &format!("{id}:/copied")]);
    let o = d.pier_ok(&["exec", &id, "sh", "-c", "ls -l /copied/sub/exec; /copied/link"]);
    assert!(o.contains("-rwxr-x--x") && o.contains("run"), "{o}");
    let back = d.root.join("host/back");
    d.pier_ok(&["cp", &format!("{id}:/copied"), back.to_str().expect("utf-8")]);
    assert_same_tree(&src.0, &back);

    // Into an existing directory; stat of a missing path is a 404.
    d.pier_ok(&[
        "cp",
        src.0.join("secret").to_str().expect("utf-8"),
        &format!("{id}:/tmp/"),
    ]);
    assert_eq!(d.pier_ok(&["exec", &id, "cat", "/tmp/secret"]), "s");
    let (st, _) = d.http("HEAD", &format!("/containers/{id}/archive?path=/nope"), None);
    assert_eq!(st, 404);

    // A stopped container: its overlay is mounted for the copy and unmounted after.
    d.pier_ok(&["stop", "-t", "0", &id]);
    d.pier_ok(&[
        "cp",
        src.0.join("secret").to_str().expect("utf-8"),
        &format!("{id}:/etc/added"),
    ]);
    let back2 = d.root.join("host/back2");
    d.pier_ok(&["cp", &format!("{id}:/copied"), back2.to_str().expect("utf-8")]);
    assert_same_tree(&src.0, &back2);
    assert!(
        !d.our_mounts().iter().any(|m| m.contains(&id)),
        "overlay left mounted: {:?}",
        d.our_mounts()
    );
    // `-` streams a tar.
    let o = d.pier(&["cp", &format!("{id}:/etc/added"), "-"]);
    assert!(o.status.success());
    let mut a = tar::Archive::new(&o.stdout[..]);
    let names: Vec<String> = a
        .entries()
        .expect("entries")
        .map(|e| e.expect("entry").path().expect("path").display().to_string())
        .collect();
    assert_eq!(names, ["added"]);
    d.pier_ok(&["start", &id]);
    assert_eq!(d.pier_ok(&["exec", &id, "cat", "/etc/added"]), "s");
    d.pier_ok(&["rm", "-f", &id]);
}

fn hostile_tar(entries: &[(&str, Option<&str>)]) -> Vec<u8> {
    // Raw headers: the tar crate refuses to write `..` itself.
    let mut out = Vec::new();
    for (name, link) in entries {
        let mut h = tar::Header::new_old();
        {
            let raw = h.as_old_mut();
            raw.name[..name.len()].copy_from_slice(name.as_bytes());
        }
        h.set_mode(0o644);
        h.set_mtime(0);
        match link {
            Some(t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
                h.set_cksum();
                out.extend_from_slice(h.as_bytes());
            }
            None => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(5);
                h.set_cksum();
                out.extend_from_slice(h.as_bytes());
                let mut block = [0u8; 512];
                block[..5].copy_from_slice(b"pwned");
                out.extend_from_slice(&block);
            }
        }
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// The status of `PUT /containers/{id}/archive` with `tar` as the body; 0
/// when no answer came.
fn put_archive(d: &Daemon, id: &str, path: &str, tar: &[u8]) -> u16 {
    let body = RequestBody::Stream {
        content_type: "application/x-tar",
        reader: &mut &tar[..],
    };
    d.client()
        .send(
            "PUT",
            &format!("/containers/{id}/archive?path={path}"),
            body,
            &Headers::new(),
        )
        .map_or(0, |r| r.status())
}

#[test]
fn hostile_tar_and_hostile_image_symlinks_stay_inside() {
    let d = Daemon::start();
    let outside = HostDir::new(&d, "outside");
    let target = outside.s().to_string();
    import_image(
        &d,
        "evil",
        &[],
        &[("/evil", &target), ("/up", "../../../../../../..")],
        &[],
    );
    let id = d.pier_ok(&["run", "-d", "evil", "sleep", "100"]).trim().to_string();

    let st = put_archive(
        &d,
        &id,
        "/tmp",
        &hostile_tar(&[("../../../../../../../../tmp/pier-escape-1", None)]),
    );
    assert_eq!(st, 400, "a .. entry is refused");
    let st = put_archive(
        &d,
        &id,
        "/tmp",
        &hostile_tar(&[("l", Some(target.as_str())), ("l/pwned", None)]),
    );
    assert_eq!(st, 400, "writing through a planted symlink is refused");
    // The image's absolute symlink resolves inside the container.
    d.pier_ok(&["exec", &id, "mkdir", "-p", &target]);
    let st = put_archive(&d, &id, "/evil", &hostile_tar(&[("inside", None)]));
    assert_eq!(st, 200);
    let st = put_archive(&d, &id, "/up", &hostile_tar(&[("top", None)]));
    assert_eq!(st, 200);
    assert!(!Path::new("/tmp/pier-escape-1").exists());
    assert!(
        std::fs::read_dir(&outside.0).expect("outside").next().is_none(),
        "nothing lands outside"
    );
    assert_eq!(
        d.pier_ok(&["exec", &id, "cat", &format!("{target}/inside"), "/top"]),
        "pwnedpwned"
    );
    d.pier_ok(&["rm", "-f", &id]);

    // Mount targets through the image's symlinks stay in the rootfs.
    let h = HostDir::new(&d, "src");
    std::fs::write(h.0.join("f"), "f").expect("write");
    let (code, out, err) = run_out(
        &d,
        &[
            "-v",
            &format!("{}:/evil/sub", h.s()),
            "--tmpfs",
            "/up/tmpfs-here",
            "evil",
            "sh",
            "-c",
            "cat /evil/sub/f; grep -c tmpfs-here /proc/mounts",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "f1\n"), "{err}");
    assert!(
        std::fs::read_dir(&outside.0).expect("outside").next().is_none(),
        "no mount target on the host"
    );
    assert!(!Path::new("/tmpfs-here").exists());
}

#[test]
fn diff_commit_export() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d
        .pier_ok(&[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "echo committed > /etc/made; rm /etc/group; sleep 100",
        ])
        .trim()
        .to_string();
    assert!(wait_until(Duration::from_secs(10), || d
        .pier_ok(&["diff", &id])
        .contains("/etc/made")));
    let diff = d.pier_ok(&["diff", &id]);
    for want in ["C /etc\n", "A /etc/made\n", "D /etc/group\n"] {
        assert!(diff.contains(want), "{want:?} in {diff}");
    }
    let img = d
        .pier_ok(&["commit", "-c", "ENV COMMITTED=1", "-m", "msg", &id, "committed:v1"])
        .trim()
        .to_string();
    assert!(img.starts_with("sha256:"), "{img}");
    let (code, out, err) = run_out(
        &d,
        &[
            "committed:v1",
            "sh",
            "-c",
            "cat /etc/made; test -e /etc/group || echo gone; echo $COMMITTED",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "committed\ngone\n1\n"), "{err}");
    let (st, v) = d.http_json("GET", "/images/committed:v1/json", None);
    assert_eq!(st, 200);
    let layers = v.get("RootFS").or_else(|| v.get("RootFs")).expect("RootFS");
    assert_eq!(layers["Layers"].as_array().map(Vec::len), Some(2), "{v}");

    let file = d.root.join("export.tar");
    d.pier_ok(&["export", "-o", file.to_str().expect("utf-8"), &id]);
    let mut a = tar::Archive::new(std::fs::File::open(&file).expect("open export"));
    let names: Vec<String> = a
        .entries()
        .expect("entries")
        .map(|e| e.expect("entry").path().expect("path").display().to_string())
        .collect();
    assert!(
        names.iter().any(|n| n == "bin/busybox"),
        "{:?}",
        &names[..names.len().min(10)]
    );
    assert!(names.iter().any(|n| n == "etc/made"));
    assert!(!names.iter().any(|n| n == "etc/group"));
    d.pier_ok(&["rm", "-f", &id]);
}

#[test]
fn docker_cli_storage() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let h = HostDir::new(&d, "docker");
    std::fs::write(h.0.join("in"), "host file\n").expect("write");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/h:ro", h.s()),
        "-v",
        "dvol:/v",
        "busybox",
        "sh",
        "-c",
        "cat /h/in; echo kept > /v/k",
    ]);
    assert_eq!(out, "host file\n");
    assert_eq!(
        d.docker_ok(&["run", "--rm", "-v", "dvol:/v", "busybox", "cat", "/v/k"]),
        "kept\n"
    );
    assert_eq!(
        d.docker_ok(&["volume", "create", "--label", "x=y", "dv2"]).trim(),
        "dv2"
    );
    let ls = d.docker_ok(&["volume", "ls", "--format", "{{.Name}}"]);
    assert!(ls.contains("dvol") && ls.contains("dv2"), "{ls}");
    let ins = d.docker_ok(&["volume", "inspect", "-f", "{{.Driver}} {{.Labels.x}}", "dv2"]);
    assert_eq!(ins.trim(), "local y");
    assert_eq!(d.docker_ok(&["volume", "rm", "dv2"]).trim(), "dv2");

    let id = d
        .docker_ok(&["run", "-d", "busybox", "sh", "-c", "echo a > /made; sleep 100"])
        .trim()
        .to_string();
    let src = HostDir::new(&d, "dtree");
    make_tree(&src.0);
    d.docker_ok(&["cp", src.s(), &format!("{id}:/dtree")]);
    let back = d.root.join("host/dback");
    d.docker_ok(&["cp", &format!("{id}:/dtree"), back.to_str().expect("utf-8")]);
    assert_same_tree(&src.0, &back);
    assert!(wait_until(Duration::from_secs(10), || d
        .docker_ok(&["diff", &id])
        .contains("A /made")));
    let img = d.docker_ok(&["commit", &id, "dcommit:1"]);
    assert!(img.trim().starts_with("sha256:"), "{img}");
    assert_eq!(d.docker_ok(&["run", "--rm", "dcommit:1", "cat", "/made"]), "a\n");
    let o = d
        .docker_cmd(&["export", &id])
        .stdout(Stdio::piped())
        .output()
        .expect("docker export");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut a = tar::Archive::new(&o.stdout[..]);
    assert!(a
        .entries()
        .expect("entries")
        .any(|e| e.expect("entry").path().expect("path").display().to_string() == "made"));
    d.docker_ok(&["rm", "-f", &id]);
    let _ = stdout(&d.docker(&["volume", "rm", "dvol"]));
}

#[test]
fn local_driver_options_mount_on_use() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.pier_ok(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m",
        "tv",
    ]);
    let v: serde_json::Value = serde_json::from_str(&d.pier_ok(&["volume", "inspect", "tv"])).expect("json");
    assert_eq!(v[0]["Options"]["type"], "tmpfs");
    let id = d
        .pier_ok(&["run", "-d", "-v", "tv:/t", "busybox", "sleep", "100"])
        .trim()
        .to_string();
    let out = d.pier_ok(&["exec", &id, "df", "-k", "/t"]);
    assert!(
        out.lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("1024")),
        "{out}"
    );
    let mp = d.data_root.join("volumes/tv/_data");
    assert!(
        d.our_mounts().iter().any(|m| Path::new(m) == mp),
        "{:?}",
        d.our_mounts()
    );
    d.pier_ok(&["rm", "-f", &id]);
    assert!(
        !d.our_mounts().iter().any(|m| Path::new(m) == mp),
        "unmounted once unused"
    );
    let o = d.pier(&["volume", "create", "-o", "bogus=1", "bad"]);
    assert!(!o.status.success());
}
