//! End-to-end: the data root is private (issue 12, item 3). Another host
//! user (uid 65534) cannot list container directories, read records,
//! bundles or volume data, nor execute a setuid binary a container placed
//! in its upper directory; inside the container that binary still runs
//! setuid. Shim sockets are 0600 and a connection from another user is
//! refused even when the file's mode would let it in (`SO_PEERCRED`).
//!
//! The test's temp dir is opened to 0755 first, so only Pier's own modes
//! stand in the way. Commands run as the other user go through
//! `setpriv … /bin/sh -c`: setpriv keeps its capabilities until its own
//! `execve`, so a binary it executes directly is looked up with root's
//! rights (measured here: a file in a 0700 directory runs).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use pier_testkit::{wait_until, Daemon};

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("stat {}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn open_up(p: &Path) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod the test's temp dir");
}

/// `script` run by `/bin/sh` as uid/gid 65534 without supplementary groups
/// or capabilities, stdin from `stdin` when given.
fn as_nobody(script: &str, stdin: Option<&Path>) -> Output {
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        "--",
        "/bin/sh",
        "-c",
        script,
    ]);
    match stdin {
        Some(p) => c.stdin(std::fs::File::open(p).expect("open stdin file")),
        None => c.stdin(Stdio::null()),
    };
    c.output().expect("run setpriv (util-linux)")
}

fn text(o: &Output) -> String {
    format!(
        "status {}, stdout {:?}, stderr {:?}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Compile the C program `src` with the host's `cc` (the one Rust links
/// with) into `dir/name`.
fn cc(dir: &Path, name: &str, src: &str, extra: &[&str]) -> PathBuf {
    std::fs::create_dir_all(dir).expect("mkdir");
    open_up(dir);
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).expect("write C source");
    let out = dir.join(name);
    let o = Command::new("cc")
        .args(extra)
        .arg("-O2")
        .arg("-o")
        .arg(&out)
        .arg(&c)
        .output()
        .expect("run cc: the C compiler Rust links with is needed");
    assert!(o.status.success(), "cc {name}: {}", text(&o));
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    out
}

/// Prints the effective uid (static: it runs in the busybox container).
const EUID_C: &str = r#"
#include <stdio.h>
#include <unistd.h>
int main(void) { printf("euid=%d\n", (int)geteuid()); return 0; }
"#;

/// Connects to the unix socket argv[1], sends stdin, and reports what came
/// back within 5 s: `data N`, `eof` (closed: refused) or `timeout`.
const SOCKET_CLIENT_C: &str = r#"
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc != 2) return 2;
    signal(SIGPIPE, SIG_IGN);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); return 3; }
    char buf[4096];
    ssize_t n = read(0, buf, sizeof buf);
    if (n > 0) (void)!write(s, buf, (size_t)n);
    struct pollfd p = { s, POLLIN, 0 };
    if (poll(&p, 1, 5000) <= 0) { puts("timeout"); return 0; }
    n = read(s, buf, sizeof buf);
    if (n <= 0) puts("eof"); else printf("data %zd\n", n);
    return 0;
}
"#;

#[test]
fn other_users_reach_no_container_record_volume_or_setuid_file() {
    let d = Daemon::start();
    open_up(&d.root);
    d.import_busybox("box");
    let euid = cc(&d.root.join("bin"), "euid", EUID_C, &["-static"]);

    let body = serde_json::json!({
        "Image": "box",
        "Cmd": ["sh", "-c", "echo top-secret > /data/secret; sleep 3600"],
        "Env": ["SECRET=hunter2"],
        "HostConfig": {"Binds": ["secvol:/data"]},
    });
    let r = d.request_json("POST", "/containers/create?name=sec", &body);
    assert_eq!(r.status, 201, "create: {}", r.text());
    let id = r.json()["Id"].as_str().expect("Id").to_string();
    let r = d.request("POST", &format!("/containers/{id}/start"), None);
    assert_eq!(r.status, 204, "start: {}", r.text());
    let volume_file = d.data_root.join("volumes/secvol/_data/secret");
    assert!(
        wait_until(Duration::from_secs(10), || volume_file.exists()),
        "the container wrote no volume data"
    );

    // A setuid-root binary placed by the container's root in its upper dir.
    d.pier_ok(&["cp", &euid.display().to_string(), "sec:/euid"]);
    d.pier_ok(&["exec", "sec", "chmod", "4755", "/euid"]);
    // Setuid works inside the container...
    assert_eq!(d.pier_ok(&["exec", "-u", "1000", "sec", "/euid"]).trim(), "euid=0");

    let cdir = d.data_root.join("containers").join(&id);
    let bundle = d.exec_root.join(&id);
    let upper = cdir.join("fs/upper/euid");
    let merged = cdir.join("fs/merged/euid");
    // The paths are right (as root).
    assert!(std::fs::read_to_string(cdir.join("container.json"))
        .expect("read container.json")
        .contains("hunter2"));
    assert_eq!(mode(&upper), 0o4755);
    assert_eq!(mode(&merged), 0o4755);

    for (p, want) in [
        (d.data_root.clone(), 0o700),
        (d.data_root.join("containers"), 0o700),
        (cdir.clone(), 0o700),
        (cdir.join("container.json"), 0o600),
        (d.data_root.join("image"), 0o700),
        (d.data_root.join("volumes"), 0o700),
        (d.data_root.join("volumes/secvol"), 0o700),
        (d.data_root.join("volumes/secvol/volume.json"), 0o600),
        (d.exec_root.clone(), 0o710),
        (d.exec_root.join("runc"), 0o700),
        (bundle.clone(), 0o700),
        (bundle.join("config.json"), 0o600),
        (bundle.join("shim.json"), 0o600),
        (bundle.join("shim.sock"), 0o600),
    ] {
        assert_eq!(mode(&p), want, "mode of {}", p.display());
    }
    // Container users still read what is bind-mounted from the container dir.
    assert_eq!(mode(&cdir.join("hosts")), 0o644);
    let hosts = d.pier_ok(&["exec", "-u", "1000", "sec", "cat", "/etc/hosts"]);
    assert!(hosts.contains("localhost"), "{hosts}");

    // Control: the other user gets as far as the test's own files.
    let o = as_nobody(
        &format!("ls {} && cat {}/daemon.json", d.root.display(), d.root.display()),
        None,
    );
    assert!(o.status.success(), "control: {}", text(&o));

    let refused = [
        format!("ls {}", d.data_root.display()),
        format!("ls {}/containers", d.data_root.display()),
        format!("ls {}", cdir.display()),
        format!("cat {}/container.json", cdir.display()),
        format!("cat {}/{id}-json.log", cdir.display()),
        format!("ls {}/fs/upper", cdir.display()),
        format!("cat {}", volume_file.display()),
        format!("ls {}/image", d.data_root.display()),
        format!("ls {}", d.exec_root.display()),
        format!("cat {}/config.json", bundle.display()),
        // ...and is out of reach from the host.
        format!("{}", upper.display()),
        format!("{}", merged.display()),
    ];
    for script in &refused {
        let o = as_nobody(script, None);
        assert!(!o.status.success(), "uid 65534 could run {script:?}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("Permission denied"),
            "{script:?}: {}",
            text(&o)
        );
    }

    let r = d.request("DELETE", &format!("/containers/{id}?force=1"), None);
    assert_eq!(r.status, 204, "rm: {}", r.text());
}

#[test]
fn shim_socket_refuses_other_users_whatever_its_mode() {
    let d = Daemon::start();
    open_up(&d.root);
    d.import_busybox("box");
    let id = d.run("shimsock", "box", &["sleep", "3600"]);
    let client = cc(&d.root.join("bin"), "sockclient", SOCKET_CLIENT_C, &[]);
    let frame = d.root.join("bin/state.frame");
    let bytes = pier_shim_proto::frame::encode(&pier_shim_proto::Request::State).expect("encode");
    std::fs::write(&frame, bytes).expect("write frame");
    std::fs::set_permissions(&frame, std::fs::Permissions::from_mode(0o644)).expect("chmod");

    let sock = d.exec_root.join(&id).join("shim.sock");
    assert_eq!(mode(&sock), 0o600);
    // Reachable by path and mode: only the peer check stands in the way.
    let open = d.root.join("open");
    std::fs::create_dir(&open).expect("mkdir");
    open_up(&open);
    let link = open.join("shim.sock");
    std::fs::hard_link(&sock, &link).expect("hard link the shim socket");
    std::fs::set_permissions(&link, std::fs::Permissions::from_mode(0o666)).expect("chmod");

    let o = as_nobody(&format!("{} {}", client.display(), link.display()), Some(&frame));
    assert!(o.status.success(), "client as uid 65534: {}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "eof", "{}", text(&o));

    // Root is answered on the same path, and the shim kept serving.
    let o = Command::new(&client)
        .arg(&link)
        .stdin(std::fs::File::open(&frame).expect("frame"))
        .output()
        .expect("run client");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("data "), "root: {}", text(&o));
    assert_eq!(d.inspect(&id)["State"]["Running"], true);
    let log = std::fs::read_to_string(d.data_root.join("containers").join(&id).join("shim.log")).unwrap_or_default();
    assert!(
        log.contains("refused a connection from another user"),
        "shim.log:\n{log}"
    );

    let r = d.request("DELETE", &format!("/containers/{id}?force=1"), None);
    assert_eq!(r.status, 204, "rm: {}", r.text());
}
