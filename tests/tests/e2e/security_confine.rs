//! End-to-end: no host path is resolved on a container's behalf (issue 12,
//! item 2). A container swaps files and directories for symlinks to host
//! paths in a tight loop (`renameat2(RENAME_EXCHANGE)` from a tiny static C
//! program built here) while `cp` out, `export`, `commit` and `cp` in run
//! twenty times each: no host byte may reach an archive or an image, no
//! host file may be removed. A container's `/etc/passwd` that is a symlink
//! to the host's file, a FIFO or `/dev/zero` never answers for the host and
//! never stalls pierd. `PUT /archive` writes `.wh.` names as plain files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pier_client::http::Headers;
use pier_client::RequestBody;
use pier_testkit::Daemon;

/// How many archives each race takes.
const ROUNDS: usize = 20;
/// Uploads are quick: more of them.
const CP_IN_ROUNDS: usize = 200;

/// Build the racer: it exchanges each pair of paths it is given, forever;
/// a `+PATH` argument keeps a directory at `PATH` (made again whenever it
/// is gone or replaced by a file). The first exchange must work (else the
/// race tests nothing).
fn racer(dir: &Path) -> Vec<u8> {
    let src = dir.join("racer.c");
    let bin = dir.join("racer");
    std::fs::write(
        &src,
        r#"#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
static int swap(const char *a, const char *b) {
    return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
}
int main(int argc, char **argv) {
    const char *pairs[64];
    const char *dirs[16];
    int np = 0, nd = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '+' && nd < 16) dirs[nd++] = argv[i] + 1;
        else if (np < 64) pairs[np++] = argv[i];
    }
    for (int i = 0; i + 1 < np; i += 2)
        if (swap(pairs[i], pairs[i + 1]) != 0) { perror(pairs[i]); return 1; }
    for (;;) {
        for (int i = 0; i + 1 < np; i += 2)
            swap(pairs[i], pairs[i + 1]);
        for (int i = 0; i < nd; i++) {
            unlink(dirs[i]);
            mkdir(dirs[i], 0755);
        }
    }
}
"#,
    )
    .expect("write racer.c");
    let out = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("gcc is needed to build the racer (apt-get install gcc libc6-dev)");
    assert!(
        out.status.success(),
        "build racer: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(&bin).expect("read racer")
}

/// Host paths the container points its symlinks at.
struct Host {
    /// Unique content of every host marker file.
    marker: Vec<u8>,
    file: PathBuf,
    dir: PathBuf,
    /// For `cp` in: holds `d/marker`, which must survive.
    victim: PathBuf,
}

impl Host {
    fn new(d: &Daemon) -> Host {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|t| t.as_nanos())
            .unwrap_or(0);
        let marker = format!("pier-host-bytes-{}-{nanos:x}", std::process::id()).into_bytes();
        let base = d.root.join("host");
        let dir = base.join("dir");
        let victim = base.join("victim");
        std::fs::create_dir_all(&dir).expect("host dir");
        std::fs::create_dir_all(victim.join("d")).expect("victim dir");
        let file = base.join("marker");
        std::fs::write(&file, &marker).expect("marker");
        std::fs::write(dir.join("marker"), &marker).expect("dir marker");
        std::fs::write(victim.join("d/marker"), &marker).expect("victim marker");
        Host {
            marker,
            file,
            dir,
            victim,
        }
    }

    fn leaked(&self, bytes: &[u8]) -> bool {
        bytes.windows(self.marker.len()).any(|w| w == self.marker.as_slice())
    }

    fn assert_intact(&self) {
        for p in [&self.file, &self.dir.join("marker"), &self.victim.join("d/marker")] {
            assert_eq!(
                std::fs::read(p).unwrap_or_else(|e| panic!("host file {} gone: {e}", p.display())),
                self.marker,
                "{}",
                p.display()
            );
        }
    }
}

struct TarBuilder(tar::Builder<Vec<u8>>);

impl TarBuilder {
    fn new() -> Self {
        TarBuilder(tar::Builder::new(Vec::new()))
    }
    fn entry(&mut self, path: &str, kind: tar::EntryType, mode: u32, body: &[u8]) -> &mut Self {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(body.len() as u64);
        h.set_mtime(1_700_000_000);
        self.0.append_data(&mut h, path, body).expect("tar entry");
        self
    }
    fn dir(&mut self, path: &str) -> &mut Self {
        self.entry(path, tar::EntryType::Directory, 0o755, b"")
    }
    fn file(&mut self, path: &str, body: &[u8]) -> &mut Self {
        self.entry(path, tar::EntryType::Regular, 0o644, body)
    }
    fn symlink(&mut self, path: &str, target: &Path) -> &mut Self {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        self.0.append_link(&mut h, path, target).expect("tar symlink");
        self
    }
    fn bytes(&mut self) -> Vec<u8> {
        std::mem::replace(&mut self.0, tar::Builder::new(Vec::new()))
            .into_inner()
            .expect("tar")
    }
}

fn put_archive(d: &Daemon, id: &str, path: &str, tar: &[u8]) -> (u16, String) {
    let body = RequestBody::Stream {
        content_type: "application/x-tar",
        reader: &mut &tar[..],
    };
    match d.client().send(
        "PUT",
        &format!("/containers/{id}/archive?path={path}"),
        body,
        &Headers::new(),
    ) {
        Ok(r) => {
            let status = r.status();
            let text = r.bytes().unwrap_or_default();
            (status, String::from_utf8_lossy(&text).into_owned())
        }
        Err(e) => (0, e.to_string()),
    }
}

/// A running container whose `/x` the racer keeps swapping: `f` (a file)
/// with `f.l` (a symlink to the host marker), `d` (a directory) with `d.l`
/// (a symlink to a host directory), `a` (holding `a/d/`, which the racer
/// keeps a directory) with `a.l` (a symlink to the victim directory).
fn racing_container(d: &Daemon, host: &Host) -> String {
    d.import_busybox("busybox");
    let racer = racer(&d.root);
    let id = d.create(
        "",
        "busybox",
        &[
            "/racer", "/x/f", "/x/f.l", "/x/d", "/x/d.l", "/x/a", "/x/a.l", "+/x/a/d",
        ],
    );
    let mut t = TarBuilder::new();
    t.entry("racer", tar::EntryType::Regular, 0o755, &racer)
        .dir("x")
        .file("x/f", b"inside-file")
        .symlink("x/f.l", &host.file)
        .dir("x/d")
        .file("x/d/g", b"inside-dir-file")
        .symlink("x/d.l", &host.dir)
        .dir("x/a")
        .dir("x/a/d")
        .file("x/a/d/keep", b"inside")
        .symlink("x/a.l", &host.victim);
    let (st, text) = put_archive(d, &id, "/", &t.bytes());
    assert_eq!(st, 200, "put racer: {text}");
    let r = d.request("POST", &format!("/containers/{id}/start"), None);
    assert_eq!(r.status, 204, "start racer: {}", r.text());
    assert_racing(d, &id);
    id
}

/// The racer is still running (a failed first exchange exits it).
fn assert_racing(d: &Daemon, id: &str) {
    let st = &d.inspect(id)["State"];
    assert_eq!(st["Running"], true, "racer stopped: {st} {}", d.daemon_log());
}

fn stop(d: &Daemon, id: &str) {
    let r = d.request("DELETE", &format!("/containers/{id}?force=1"), None);
    assert_eq!(r.status, 204, "rm -f: {}", r.text());
}

#[test]
fn cp_out_and_export_never_read_host_files_while_racing() {
    let d = Daemon::start();
    let host = Host::new(&d);
    let id = racing_container(&d, &host);
    let started = Instant::now();
    let mut entries_seen = 0;
    for _ in 0..ROUNDS {
        let r = d.request("GET", &format!("/containers/{id}/archive?path=/x"), None);
        assert_eq!(r.status, 200, "cp out: {}", r.text());
        assert!(!host.leaked(&r.body), "host bytes in a cp archive");
        entries_seen += tar::Archive::new(&r.body[..]).entries().expect("tar").count();
        let r = d.request("GET", &format!("/containers/{id}/export"), None);
        assert_eq!(r.status, 200, "export: {}", r.text());
        assert!(!host.leaked(&r.body), "host bytes in an export");
    }
    assert!(entries_seen >= ROUNDS * 5, "archives hold the tree: {entries_seen}");
    assert_racing(&d, &id);
    host.assert_intact();
    stop(&d, &id);
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
}

/// Every regular file under `dir` (symlinks not followed).
fn scan(dir: &Path, host: &Host) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(md) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if md.is_dir() {
            scan(&p, host);
        } else if md.is_file() {
            let bytes = std::fs::read(&p).unwrap_or_default();
            assert!(!host.leaked(&bytes), "host bytes in {}", p.display());
        }
    }
}

#[test]
fn commit_and_diff_never_read_host_files_while_racing() {
    let d = Daemon::start();
    let host = Host::new(&d);
    let id = racing_container(&d, &host);
    let started = Instant::now();
    for i in 0..ROUNDS {
        let r = d.request("POST", &format!("/commit?container={id}&repo=raced&tag=r{i}"), None);
        assert_eq!(r.status, 201, "commit: {}", r.text());
        let r = d.request("GET", &format!("/containers/{id}/changes"), None);
        assert_eq!(r.status, 200, "diff: {}", r.text());
    }
    assert_racing(&d, &id);
    // Layers as stored (archive and unpacked tree) and images as saved.
    scan(&d.data_root.join("image"), &host);
    let r = d.request("GET", "/images/get?names=raced:r0", None);
    assert_eq!(r.status, 200, "save");
    assert!(!host.leaked(&r.body), "host bytes in a saved image");
    host.assert_intact();
    stop(&d, &id);
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
}

#[test]
fn cp_in_never_removes_host_files_while_racing() {
    let d = Daemon::start();
    let host = Host::new(&d);
    let id = racing_container(&d, &host);
    let started = Instant::now();
    // Each upload replaces the directory `a/d` by a file (so the directory
    // is removed), many times over; the racer makes `a/d` a directory again
    // and swaps `a` for a symlink to the victim directory (which holds a
    // `d/`) meanwhile.
    let mut t = TarBuilder::new();
    for _ in 0..50 {
        t.file("a/d", b"now a file");
    }
    t.file("f", b"replaced").file("d", b"replaced");
    let tar = t.bytes();
    let mut ok = 0;
    let mut codes = std::collections::BTreeMap::new();
    for _ in 0..CP_IN_ROUNDS {
        // Refused or failed half-way is fine (the racer changes the tree
        // under the upload); what matters is the host.
        let (st, text) = put_archive(&d, &id, "/x", &tar);
        assert!(st != 0, "cp in: no answer: {text}");
        *codes.entry(text.chars().take(60).collect::<String>()).or_insert(0) += 1;
        if st == 200 {
            ok += 1;
        }
        host.assert_intact();
    }
    assert_racing(&d, &id);
    assert!(
        std::fs::read_dir(&host.victim).expect("victim").count() == 1,
        "nothing added to the host directory"
    );
    stop(&d, &id);
    eprintln!("{ok} of {CP_IN_ROUNDS} uploads went through while racing: {codes:?}");
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
}

/// Import busybox with `/etc/passwd` (and `/etc/group`) replaced.
fn import_with_passwd(d: &Daemon, tag: &str, add: impl FnOnce(&mut tar::Builder<Vec<u8>>)) {
    let mut b = tar::Builder::new(Vec::new());
    let mut a = tar::Archive::new(pier_testkit::rootfs::tar_bytes());
    for e in a.entries().expect("entries") {
        let mut e = e.expect("entry");
        let path = e.path().expect("path").into_owned();
        let p = path.to_string_lossy();
        let p = p.trim_start_matches("./").trim_start_matches('/');
        if p == "etc/passwd" || p == "etc/group" {
            continue;
        }
        let mut h = e.header().clone();
        b.append_data(&mut h, &path, &mut e).expect("copy entry");
    }
    add(&mut b);
    let body = b.into_inner().expect("tar");
    let (st, out) = d.http("POST", &format!("/images/create?fromSrc=-&repo={tag}"), Some(&body));
    assert_eq!(st, 200, "import: {}", String::from_utf8_lossy(&out));
}

fn special(b: &mut tar::Builder<Vec<u8>>, path: &str, kind: tar::EntryType, major: u32, minor: u32) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(0);
    h.set_device_major(major).expect("major");
    h.set_device_minor(minor).expect("minor");
    b.append_data(&mut h, path, std::io::empty()).expect("special");
}

fn link(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_mode(0o777);
    h.set_size(0);
    b.append_link(&mut h, path, target).expect("symlink");
}

/// A user of the host's /etc/passwd that busybox does not have.
fn host_only_user() -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("host passwd");
    let busybox = [
        "root", "daemon", "bin", "sys", "sync", "mail", "www-data", "operator", "nobody",
    ];
    passwd
        .lines()
        .filter_map(|l| l.split(':').next())
        .rfind(|n| !n.is_empty() && !busybox.contains(n))
        .unwrap_or("_apt")
        .to_string()
}

/// `exec -u NAME` fails at once with docker's message and pierd answers.
fn assert_unknown_user_fast(d: &Daemon, id: &str, user: &str, what: &str) {
    let want = format!("unable to find user {user}: no matching entries in passwd file");
    let t = Instant::now();
    let o = d.pier(&["exec", "-u", user, id, "true"]);
    // As docker: exit 126, the runtime's words on the output.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.status.code() == Some(126) && said.contains(&want),
        "{what}: exec -u: {:?} {said}",
        o.status
    );
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "{what}: exec took {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    let r = d.request("GET", "/containers/json?all=1", None);
    assert_eq!(r.status, 200);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "{what}: ps took {:?}",
        t.elapsed()
    );
}

#[test]
fn hostile_passwd_never_answers_for_the_host_nor_stalls_pierd() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let user = host_only_user();
    // A running container replaces its own /etc/passwd (the runtime read
    // the real one at start; it would read these too, inside the
    // container, so only pierd's lookup is exercised here).
    let variants = [
        ("symlink to the host's passwd", "ln -s /etc/passwd /etc/passwd"),
        (
            "relative symlink out of the root",
            "ln -s ../../../../../../etc/passwd /etc/passwd",
        ),
        ("FIFO", "mkfifo /etc/passwd"),
        ("symlink to /dev/zero", "ln -s /dev/zero /etc/passwd"),
        ("device node", "mknod /etc/passwd c 1 5"),
    ];
    for (what, make) in variants {
        let script =
            format!("rm /etc/passwd /etc/group && {make} && cp -a /etc/passwd /etc/group && touch /ready; sleep 100");
        let id = d.run("", "busybox", &["sh", "-c", &script]);
        pier_testkit::wait_for(&format!("{what}: container ready"), Duration::from_secs(10), || {
            d.request("HEAD", &format!("/containers/{id}/archive?path=/ready"), None)
                .status
                == 200
        });
        assert_unknown_user_fast(&d, &id, &user, what);
        stop(&d, &id);
    }

    // start of a container created with -u NAME from an image whose
    // /etc/passwd is hostile: refused by pierd before the runtime runs.
    let want = format!("unable to find user {user}: no matching entries in passwd file");
    import_with_passwd(&d, "pw-host-link", |b| {
        link(b, "etc/passwd", "/etc/passwd");
        link(b, "etc/group", "/etc/group");
    });
    import_with_passwd(&d, "pw-fifo", |b| {
        special(b, "etc/passwd", tar::EntryType::Fifo, 0, 0);
        special(b, "etc/group", tar::EntryType::Fifo, 0, 0);
    });
    import_with_passwd(&d, "pw-dev-zero", |b| {
        link(b, "etc/passwd", "/dev/zero");
        special(b, "etc/group", tar::EntryType::Char, 1, 5);
    });
    for image in ["pw-host-link", "pw-fifo", "pw-dev-zero"] {
        let r = d.request_json(
            "POST",
            "/containers/create",
            &serde_json::json!({ "Image": image, "Cmd": ["true"], "User": user }),
        );
        assert_eq!(r.status, 201, "create: {}", r.text());
        let id = r.json()["Id"].as_str().expect("Id").to_string();
        let t = Instant::now();
        let r = d.request("POST", &format!("/containers/{id}/start"), None);
        assert!(
            r.status == 400 && r.text().contains(&want),
            "{image}: start: {} {}",
            r.status,
            r.text()
        );
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{image}: start took {:?}",
            t.elapsed()
        );
        let t = Instant::now();
        let r = d.request("GET", "/containers/json?all=1", None);
        assert_eq!(r.status, 200);
        assert!(t.elapsed() < Duration::from_secs(1), "ps took {:?}", t.elapsed());
        stop(&d, &id);
    }
}

#[test]
fn put_archive_writes_whiteout_names_as_files() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d.run("", "busybox", &["sleep", "100"]);
    d.pier_ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "echo keep > /tmp/foo; mkdir /tmp/dir; echo keep > /tmp/dir/x",
    ]);
    let mut t = TarBuilder::new();
    t.file(".wh.foo", b"literal")
        .file("dir/.wh..wh..opq", b"")
        .file(".wh..wh.plnk", b"meta");
    let tar = t.bytes();
    let (st, text) = put_archive(&d, &id, "/tmp", &tar);
    assert_eq!(st, 200, "{text}");
    let o = d.pier_ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "cat /tmp/foo /tmp/.wh.foo /tmp/dir/x /tmp/.wh..wh.plnk; ls -a /tmp/dir",
    ]);
    assert!(o.starts_with("keep\nliteralkeep\nmeta"), "{o}");
    assert!(o.contains(".wh..wh..opq"), "{o}");
    // A stopped container: written into its rootfs the same way.
    let r = d.request("POST", &format!("/containers/{id}/stop?t=0"), None);
    assert_eq!(r.status, 204, "stop: {}", r.text());
    let (st, text) = put_archive(&d, &id, "/etc", &tar);
    assert_eq!(st, 200, "{text}");
    let r = d.request("GET", &format!("/containers/{id}/archive?path=/etc/.wh.foo"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body.windows(7).any(|w| w == b"literal"));
    let r = d.request("GET", &format!("/containers/{id}/archive?path=/etc/passwd"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    stop(&d, &id);
}
