//! End-to-end: docker's exact lifecycle semantics (issue 14): kill waits
//! for the exit, container prune, `rm --link`, log options as asked,
//! `diff` without Pier's mount points, commit's `Parent`, an exec's own
//! detach keys. With the pier CLI, the docker CLI and raw API calls.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use pier_testkit::{bins, wait_until, Daemon};
use serde_json::{json, Value};

use crate::tmux::Tmux;
use crate::{output_with_stdin, stdout};

fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn inspect(d: &Daemon, name: &str) -> Value {
    let (st, v) = d.http_json("GET", &format!("/containers/{name}/json"), None);
    assert_eq!(st, 200, "inspect {name}: {v}");
    v
}

fn exists(d: &Daemon, name: &str) -> bool {
    d.http_json("GET", &format!("/containers/{name}/json"), None).0 == 200
}

#[test]
fn kill_with_sigkill_returns_after_the_exit() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    for cli in ["pier", "docker"] {
        let name = format!("k-{cli}");
        d.pier_ok(&["run", "-d", "--name", &name, "busybox", "sleep", "1000"]);
        let o = d.cli_cmd(cli, &["kill", &name]).output().expect("kill");
        assert!(o.status.success(), "{cli} kill: {}", err(&o));
        // No wait: the exit is recorded when kill returns.
        let st = &inspect(&d, &name)["State"];
        assert_eq!(st["Status"], "exited", "{cli}: {st}");
        assert_eq!(st["Running"], false, "{cli}");
        assert_eq!(st["ExitCode"], 137, "{cli}");
        let o = d.cli_cmd(cli, &["rm", &name]).output().expect("rm");
        assert!(o.status.success(), "{cli} rm right after kill: {}", err(&o));
        assert!(!exists(&d, &name), "{cli}: removed");
    }
    // `-s KILL` is SIGKILL too; through the API without a signal as well.
    d.pier_ok(&["run", "-d", "--name", "k2", "busybox", "sleep", "1000"]);
    d.pier_ok(&["kill", "-s", "KILL", "k2"]);
    assert_eq!(inspect(&d, "k2")["State"]["ExitCode"], 137);
    d.pier_ok(&["start", "k2"]);
    let (st, _) = d.http("POST", "/containers/k2/kill", None);
    assert_eq!(st, 204);
    assert_eq!(inspect(&d, "k2")["State"]["Status"], "exited");

    // Other signals return at once: the container handles this one and
    // keeps running.
    d.pier_ok(&[
        "run",
        "-d",
        "--name",
        "usr",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-usr1' USR1; while true; do sleep 0.1; done",
    ]);
    for cli in ["pier", "docker"] {
        let o = d.cli_cmd(cli, &["kill", "-s", "USR1", "usr"]).output().expect("kill");
        assert!(o.status.success(), "{cli}: {}", err(&o));
        assert_eq!(inspect(&d, "usr")["State"]["Running"], true, "{cli}");
    }
    assert!(
        wait_until(Duration::from_secs(10), || d
            .pier_ok(&["logs", "usr"])
            .contains("got-usr1")),
        "the trap ran"
    );
    // Not running: 409, docker's words.
    let (st, v) = d.http_json("POST", "/containers/k2/kill", None);
    assert_eq!(st, 409, "{v}");
    assert!(v["message"].as_str().unwrap_or("").contains("is not running"), "{v}");
    d.pier_ok(&["rm", "-f", "usr", "k2"]);
}

/// Full ids of `names`.
fn ids(d: &Daemon, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| inspect(d, n)["Id"].as_str().expect("id").to_string())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn container_prune_removes_stopped_containers_as_dockerd() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.pier_ok(&["run", "--name", "keep", "--label", "keep=1", "busybox", "true"]);
    // A writable layer with 200 KiB in it: the space reclaimed counts it.
    d.pier_ok(&[
        "run",
        "--name",
        "big",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/blob",
        "bs=1024",
        "count=200",
    ]);
    d.pier_ok(&["create", "--name", "fresh", "busybox", "true"]);
    d.pier_ok(&["run", "-d", "--name", "up", "busybox", "sleep", "1000"]);
    let gone = sorted(ids(&d, &["big", "fresh"]));

    // Filters dockerd refuses.
    let (st, v) = d.http_json(
        "POST",
        "/containers/prune?filters=%7B%22name%22%3A%5B%22x%22%5D%7D",
        None,
    );
    assert_eq!((st, v["message"].as_str()), (400, Some("invalid filter 'name'")), "{v}");
    let (st, v) = d.http_json(
        "POST",
        "/containers/prune?filters=%7B%22until%22%3A%5B%22soon%22%5D%7D",
        None,
    );
    assert_eq!(st, 400, "{v}");

    // label! keeps what carries the label; running containers stay.
    let (st, v) = d.http_json(
        "POST",
        "/containers/prune?filters=%7B%22label%21%22%3A%5B%22keep%3D1%22%5D%7D",
        None,
    );
    assert_eq!(st, 200, "{v}");
    let deleted: Vec<String> = serde_json::from_value(v["ContainersDeleted"].clone()).expect("ids");
    assert_eq!(sorted(deleted), gone, "{v}");
    assert!(v["SpaceReclaimed"].as_u64().expect("size") >= 200 * 1024, "{v}");
    assert!(exists(&d, "keep") && exists(&d, "up"));
    assert!(!exists(&d, "big") && !exists(&d, "fresh"));
    // Nothing to prune: dockerd's null.
    let (_, v) = d.http_json(
        "POST",
        "/containers/prune?filters=%7B%22label%22%3A%5B%22none%22%5D%7D",
        None,
    );
    assert_eq!(v, json!({"ContainersDeleted": null, "SpaceReclaimed": 0}));

    // The prompt: anything but y (even `yes`) leaves everything in place.
    for cli in ["pier", "docker"] {
        for answer in [&b"n\n"[..], b"yes\n"] {
            let o = output_with_stdin(d.cli_cmd(cli, &["container", "prune"]), answer);
            assert_eq!(o.status.code(), Some(0), "{cli}");
            assert_eq!(
                String::from_utf8_lossy(&o.stdout),
                "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ",
                "{cli}"
            );
            assert!(exists(&d, "keep"), "{cli}");
        }
    }

    // until: containers created after the time stay (pier and docker CLIs).
    for cli in ["pier", "docker"] {
        d.pier_ok(&["create", "--name", "old", "busybox", "true"]);
        let old = ids(&d, &["old"]);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock");
        let until = format!("until={}.{:09}", t.as_secs(), t.subsec_nanos());
        d.pier_ok(&["create", "--name", "new", "busybox", "true"]);
        let o = d
            .cli_cmd(
                cli,
                &[
                    "container",
                    "prune",
                    "-f",
                    "--filter",
                    &until,
                    "--filter",
                    "label!=keep",
                ],
            )
            .output()
            .expect("prune");
        assert!(o.status.success(), "{cli}: {}", err(&o));
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(
            text,
            format!("Deleted Containers:\n{}\n\nTotal reclaimed space: 0B\n", old[0]),
            "{cli}"
        );
        assert!(exists(&d, "new") && exists(&d, "keep"), "{cli}");
        d.pier_ok(&["rm", "new"]);
    }
    let o = d.pier(&["container", "prune", "-f", "--filter", "label=nothing"]);
    assert_eq!(stdout(&o), "Total reclaimed space: 0B");
    // Each prune is an event, with the space it reclaimed. `--until` is
    // whole seconds: one past now covers this second.
    let until = (pier_time::now_unix() + 1).to_string();
    let o = d.pier(&[
        "events",
        "--since",
        "0",
        "--until",
        &until,
        "--filter",
        "event=prune",
        "--format",
        "{{json .}}",
    ]);
    let lines: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("event json"))
        .collect();
    assert_eq!(lines.len(), 5, "one per prune: {lines:?}");
    assert_eq!(lines[0]["Type"], "container");
    assert_eq!(lines[0]["Action"], "prune");
    assert!(
        lines[0]["Actor"]["Attributes"]["reclaimed"]
            .as_str()
            .expect("reclaimed")
            .parse::<u64>()
            .expect("number")
            >= 200 * 1024,
        "{lines:?}"
    );
    d.pier_ok(&["rm", "-f", "up"]);
}

#[test]
fn rm_link_answers_dockerds_errors() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.pier_ok(&["create", "--name", "web", "busybox", "true"]);
    // A container's own name is no link it can lose.
    let (st, v) = d.http_json("DELETE", "/containers/web?link=1", None);
    assert_eq!(st, 500, "{v}");
    assert_eq!(
        v["message"],
        "Conflict, cannot remove the default link name of the container"
    );
    assert!(exists(&d, "web"), "the container stays");
    // A link that does not exist is no container either.
    let (st, v) = d.http_json("DELETE", "/containers/web/db?link=1", None);
    assert_eq!(
        (st, v["message"].as_str()),
        (404, Some("No such container: web/db")),
        "{v}"
    );
    let (st, _) = d.http_json("DELETE", "/containers/nope?link=1", None);
    assert_eq!(st, 404);
    for cli in ["pier", "docker"] {
        let o = d.cli_cmd(cli, &["rm", "--link", "/web/db"]).output().expect("rm");
        assert_eq!(o.status.code(), Some(1), "{cli}");
        assert!(
            err(&o).contains("Error response from daemon: No such container: web/db"),
            "{cli}: {}",
            err(&o)
        );
        let o = d.cli_cmd(cli, &["rm", "--link", "web"]).output().expect("rm");
        assert_eq!(o.status.code(), Some(1), "{cli}");
        assert!(
            err(&o).contains("Conflict, cannot remove the default link name of the container"),
            "{cli}: {}",
            err(&o)
        );
    }
    assert!(exists(&d, "web"));
}

#[test]
fn log_options_in_inspect_are_what_was_asked() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    for cli in ["pier", "docker"] {
        let plain = format!("plain-{cli}");
        let o = d
            .cli_cmd(cli, &["create", "--name", &plain, "busybox", "true"])
            .output()
            .expect("create");
        assert!(o.status.success(), "{cli}: {}", err(&o));
        assert_eq!(
            inspect(&d, &plain)["HostConfig"]["LogConfig"],
            json!({"Type": "json-file", "Config": {}}),
            "{cli}"
        );
        let files = format!("files-{cli}");
        let o = d
            .cli_cmd(
                cli,
                &[
                    "create",
                    "--name",
                    &files,
                    "--log-opt",
                    "max-file=100",
                    "busybox",
                    "true",
                ],
            )
            .output()
            .expect("create");
        assert!(o.status.success(), "{cli}: {}", err(&o));
        assert_eq!(
            inspect(&d, &files)["HostConfig"]["LogConfig"]["Config"],
            json!({"max-file": "100"}),
            "{cli}"
        );
    }
    // The defaults still apply: max-size alone rotates into at most 5 files.
    d.pier_ok(&[
        "run",
        "--name",
        "rot",
        "--log-opt",
        "max-size=1k",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done",
    ]);
    assert_eq!(
        inspect(&d, "rot")["HostConfig"]["LogConfig"]["Config"],
        json!({"max-size": "1k"})
    );
    let log = d.log_file(inspect(&d, "rot")["Id"].as_str().expect("id"));
    let rotated = |n: u32| std::path::PathBuf::from(format!("{}.{n}", log.display()));
    assert!(rotated(4).exists(), "rotated up to max-file 5 (the default)");
    assert!(!rotated(5).exists(), "never more than 5 files");
}

/// `diff`'s lines, from a CLI.
fn diff(d: &Daemon, cli: &str, name: &str) -> String {
    let o = d.cli_cmd(cli, &["diff", name]).output().expect("diff");
    assert!(o.status.success(), "{cli} diff: {}", err(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn diff_shows_only_what_the_container_changed() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let host_dir = tempfile::tempdir().expect("tmp");
    let host_file = host_dir.path().join("conf");
    std::fs::write(&host_file, "x").expect("host file");
    let bind_dir = format!("{}:/mnt/deep/bound", host_dir.path().display());
    let bind_file = format!("{}:/opt/conf/app.conf", host_file.display());
    d.pier_ok(&["run", "--name", "tt", "busybox", "touch", "/test"]);
    d.pier_ok(&[
        "run",
        "--name",
        "mounts",
        "-v",
        "/data",
        "-v",
        "named:/srv/named",
        "-v",
        &bind_dir,
        "-v",
        &bind_file,
        "--tmpfs",
        "/run/scratch",
        "--mount",
        "type=tmpfs,destination=/var/cache/t",
        "busybox",
        "touch",
        "/test",
    ]);
    for cli in ["pier", "docker"] {
        assert_eq!(diff(&d, cli, "tt"), "A /test\n", "{cli}");
        assert_eq!(diff(&d, cli, "mounts"), "A /test\n", "{cli}");
    }
    // A second start makes nothing new; still only the container's change.
    d.pier_ok(&["start", "-a", "mounts"]);
    assert_eq!(diff(&d, "pier", "mounts"), "A /test\n");
    // Directories the container changed still show, /etc among them.
    d.pier_ok(&[
        "run",
        "--name",
        "etc",
        "-v",
        "/data",
        "busybox",
        "sh",
        "-c",
        "echo x > /etc/extra; touch /data/in-volume; mkdir /data2",
    ]);
    for cli in ["pier", "docker"] {
        assert_eq!(diff(&d, cli, "etc"), "A /data2\nC /etc\nA /etc/extra\n", "{cli}");
    }
    // A created container has no changes at all.
    d.pier_ok(&["create", "--name", "new", "-v", "/data", "busybox", "true"]);
    assert_eq!(diff(&d, "pier", "new"), "");
}

#[test]
fn commit_sets_the_parent_image() {
    let d = Daemon::start();
    let busybox = d.import_busybox("busybox");
    d.pier_ok(&["run", "--name", "cc", "busybox", "touch", "/made"]);
    let image_id = inspect(&d, "cc")["Image"].as_str().expect("image").to_string();
    assert!(image_id.starts_with("sha256:"), "{image_id}");
    for cli in ["pier", "docker"] {
        let tag = format!("committed-{cli}");
        let o = d.cli_cmd(cli, &["commit", "cc", &tag]).output().expect("commit");
        assert!(o.status.success(), "{cli}: {}", err(&o));
        let o = d
            .cli_cmd(cli, &["image", "inspect", "-f", "{{.Parent}}", &tag])
            .output()
            .expect("inspect");
        assert_eq!(stdout(&o), image_id, "{cli}: {}", err(&o));
    }
    let (_, list) = d.http_json("GET", "/images/json", None);
    let committed = list
        .as_array()
        .expect("list")
        .iter()
        .find(|i| i["RepoTags"].to_string().contains("committed-pier"))
        .expect("committed image listed")
        .clone();
    assert_eq!(committed["ParentId"], image_id.as_str());
    // The layer holds the container's change only: the mount points Pier
    // made (/etc/hosts, /proc, …) stay out, as dockerd's init layer.
    let (_, v) = d.http_json("GET", "/images/committed-pier/json", None);
    let top = v["RootFS"]["Layers"]
        .as_array()
        .and_then(|l| l.last())
        .and_then(Value::as_str)
        .expect("top layer")
        .trim_start_matches("sha256:")
        .to_string();
    let diff_dir = d.data_root.join("image/layers").join(top).join("diff");
    let names: Vec<String> = std::fs::read_dir(&diff_dir)
        .expect("layer dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["made"], "{}", diff_dir.display());
    // An imported image has none.
    let (_, v) = d.http_json("GET", &format!("/images/{busybox}/json"), None);
    assert_eq!(v["Parent"], "");
}

/// True when the peer closed the connection within `secs`.
fn closed_within(s: &mut std::os::unix::net::UnixStream, secs: u64) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn an_execs_own_detach_keys_apply_to_its_attach() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.pier_ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    // dockerd refuses keys it cannot read, at create.
    let (st, v) = d.http_json(
        "POST",
        "/containers/box/exec",
        Some(br#"{"Cmd":["sh"],"DetachKeys":"ctrl-xx"}"#),
    );
    assert_eq!(st, 500, "{v}");
    assert_eq!(v["message"], "Invalid escape keys (ctrl-xx) provided");

    let (st, v) = d.http_json(
        "POST",
        "/containers/box/exec",
        Some(br#"{"Cmd":["sh"],"AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"Tty":true,"DetachKeys":"ctrl-x,x"}"#),
    );
    assert_eq!(st, 201, "{v}");
    let exec = v["Id"].as_str().expect("id").to_string();
    let (_, v) = d.http_json("GET", &format!("/exec/{exec}/json"), None);
    assert_eq!(v["DetachKeys"], "GHg=", "Go's []byte of ctrl-x,x");
    let mut h = d.hijack("POST", &format!("/exec/{exec}/start"), Some(br#"{"Tty":true}"#));
    let mut s = h.try_clone_stream().expect("clone stream");
    h.write_all(b"echo x\n\x10\x11").expect("write");
    assert!(!closed_within(&mut s, 1), "ctrl-p ctrl-q is not this exec's sequence");
    h.write_all(b"\x18x").expect("write");
    assert!(closed_within(&mut s, 10), "the exec's keys end its attach");
    let (_, v) = d.http_json("GET", &format!("/exec/{exec}/json"), None);
    assert_eq!(v["Running"], true, "detached, not ended: {v}");

    // The CLIs' --detach-keys, in a terminal.
    for (cli, line) in [
        (
            "pier",
            format!(
                "{} -H {} exec -it --detach-keys ctrl-x,x box sh",
                bins().pier.display(),
                d.host()
            ),
        ),
        (
            "docker",
            format!(
                "env DOCKER_HOST={} DOCKER_CONFIG={} docker exec -it --detach-keys ctrl-x,x box sh",
                d.host(),
                d.root.join("docker-config").display()
            ),
        ),
    ] {
        let t = Tmux::start(&format!("{line}; echo CLI-EXIT=$?"));
        t.wait_for("/ #", 20);
        t.keys(&["C-p", "C-q"]);
        t.type_text("echo still-$((1+1))");
        t.keys(&["Enter"]);
        t.wait_for("still-2", 10);
        t.keys(&["C-x", "x"]);
        // docker's CLI ends a detached exec with its streamer's error.
        t.wait_for("read escape sequence", 10);
        t.wait_for("CLI-EXIT=1", 10);
        assert_eq!(inspect(&d, "box")["State"]["Running"], true, "{cli}");
    }
    d.pier_ok(&["rm", "-f", "box"]);
}
