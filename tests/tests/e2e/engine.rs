//! End-to-end: the engine core (issue 2) with real runc containers.

use std::time::{Duration, Instant};

use pier_testkit::process::alive;
use pier_testkit::rootfs::tar_file as busybox_tar;
use pier_testkit::{wait_until, Daemon};

use crate::stdout;

fn inspect(d: &Daemon, id: &str) -> serde_json::Value {
    let (st, v) = d.http_json("GET", &format!("/containers/{id}/json"), None);
    assert_eq!(st, 200, "inspect {id}: {v}");
    v
}

fn shim_pid(d: &Daemon, id: &str) -> i32 {
    let needle = format!("{}/shim.json", id);
    let pids: Vec<i32> = d
        .our_processes()
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&needle))
                .unwrap_or(false)
        })
        .collect();
    assert_eq!(pids.len(), 1, "expected one shim for {id}, found {pids:?}");
    pids[0]
}

#[test]
fn shim_is_daemonized_with_null_stdio() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d.pier_ok(&["run", "-d", "busybox", "sleep", "1000"]).trim().to_string();
    assert_eq!(id.len(), 64, "run -d prints the full id: {id:?}");
    let pid = shim_pid(&d, &id);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("shim stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .expect("stat fields")
        .split_whitespace()
        .collect();
    assert_eq!(fields[1], "1", "the shim's parent is PID 1");
    assert_eq!(fields[3], pid.to_string(), "the shim leads its own session");
    for fd in 0..3 {
        let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).expect("readlink shim fd");
        assert_eq!(target.to_str(), Some("/dev/null"), "shim fd {fd}");
    }
    d.pier_ok(&["rm", "-f", &id]);
}

#[test]
fn cat_without_stdin_exits_at_once() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d.pier_ok(&["run", "-d", "busybox", "cat"]).trim().to_string();
    let t = Instant::now();
    let code = d.pier_ok(&["wait", &id]);
    assert_eq!(code.trim(), "0");
    assert!(t.elapsed() < Duration::from_secs(10));
    let v = inspect(&d, &id);
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["ExitCode"], 0);
}

#[test]
fn logs_hold_exactly_what_was_written() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let script = "echo out1; echo err1 >&2; printf 'out2 <&>\\n'; echo err2 >&2; printf tail";
    let id = d
        .pier_ok(&["run", "-d", "busybox", "sh", "-c", script])
        .trim()
        .to_string();
    assert_eq!(d.pier_ok(&["wait", &id]).trim(), "0");
    let out = d.pier(&["logs", &id]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out1\nout2 <&>\ntail");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err1\nerr2\n");
    // The json-file on disk is docker's format.
    let log = std::fs::read_to_string(d.data_root.join(format!("containers/{id}/{id}-json.log"))).expect("read log");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 5);
    // stdout and stderr are separate pipes: order within each stream is kept.
    let of = |stream: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l["stream"] == stream)
            .map(|l| l["log"].as_str().expect("log").to_string())
            .collect()
    };
    assert_eq!(of("stdout"), ["out1\n", "out2 <&>\n", "tail"]);
    assert_eq!(of("stderr"), ["err1\n", "err2\n"]);
    assert!(log.contains(r"out2 \u003c\u0026\u003e\n"), "go-style escaping: {log}");
    assert!(lines[0]["time"].as_str().expect("time").ends_with('Z'));
    // tail and timestamps
    assert_eq!(d.pier_ok(&["logs", "--tail", "1", &id]), "tail");
    let ts = d.pier_ok(&["logs", "-t", &id]);
    assert!(ts.lines().next().expect("a line").ends_with(" out1"), "{ts}");
}

#[test]
fn log_survives_daemon_kill9_without_loss() {
    let mut d = Daemon::start();
    d.import_busybox("busybox");
    let script = "i=0; while [ $i -lt 400 ]; do echo $i; i=$((i+1)); usleep 10000; done";
    let id = d
        .pier_ok(&["run", "-d", "busybox", "sh", "-c", script])
        .trim()
        .to_string();
    assert!(
        wait_until(Duration::from_secs(10), || d.log_lines(&id) >= 50),
        "the container is writing"
    );
    d.kill9();
    let at_kill = d.log_lines(&id);
    assert!(
        wait_until(Duration::from_secs(10), || d.log_lines(&id) >= at_kill + 50),
        "the container kept writing while pierd was down"
    );
    d.start_again();
    assert_eq!(d.pier_ok(&["wait", &id]).trim(), "0");
    let logs = d.pier_ok(&["logs", &id]);
    let nums: Vec<u32> = logs.lines().map(|l| l.parse().expect("number line")).collect();
    assert_eq!(nums, (0..400).collect::<Vec<_>>(), "every number once, in order");
}

#[test]
fn exit_code_of_container_that_exited_while_daemon_was_down() {
    let mut d = Daemon::start();
    d.import_busybox("busybox");
    let id = d
        .pier_ok(&["run", "-d", "busybox", "sh", "-c", "sleep 1; exit 42"])
        .trim()
        .to_string();
    d.stop();
    assert!(
        wait_until(Duration::from_secs(10), || d.exit_record(&id).exists()),
        "the shim recorded the exit while pierd was down"
    );
    d.start_again();
    let v = inspect(&d, &id);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    assert_eq!(v["State"]["ExitCode"], 42);
    assert_ne!(v["State"]["FinishedAt"], "0001-01-01T00:00:00Z");
    assert_eq!(d.pier_ok(&["wait", &id]).trim(), "42");
    // A container that is still running across a restart is found running.
    let id2 = d.pier_ok(&["run", "-d", "busybox", "sleep", "1000"]).trim().to_string();
    d.kill9();
    d.start_again();
    let v = inspect(&d, &id2);
    assert_eq!(v["State"]["Status"], "running", "{v}");
    d.pier_ok(&["stop", "-t", "1", &id2]);
    let v = inspect(&d, &id2);
    assert_eq!(v["State"]["Status"], "exited");
}

#[test]
fn ten_containers_in_parallel() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let ids: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..10)
            .map(|i| {
                let d = &d;
                s.spawn(move || {
                    let name = format!("par{i}");
                    d.pier_ok(&[
                        "run",
                        "-d",
                        "--name",
                        &name,
                        "busybox",
                        "sh",
                        "-c",
                        &format!("echo hello {i}; sleep 1000"),
                    ])
                    .trim()
                    .to_string()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    let ps = d.pier_ok(&["ps", "-q", "--no-trunc"]);
    for id in &ids {
        assert!(ps.contains(id.as_str()), "{id} running: {ps}");
    }
    for (i, id) in ids.iter().enumerate() {
        assert!(wait_until(Duration::from_secs(10), || d.pier_ok(&["logs", id])
            == format!("hello {i}\n")));
    }
    let mut args = vec!["rm", "-f"];
    args.extend(ids.iter().map(String::as_str));
    d.pier_ok(&args);
    assert_eq!(d.pier_ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn stop_escalates_to_sigkill_after_timeout() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // sh as PID 1 ignores SIGTERM (no handler, init semantics): stop must kill.
    let id = d
        .pier_ok(&["run", "-d", "busybox", "sh", "-c", "trap '' TERM; sleep 1000"])
        .trim()
        .to_string();
    let t = Instant::now();
    d.pier_ok(&["stop", "-t", "2", &id]);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(1900),
        "stop waited the grace period ({took:?})"
    );
    assert!(took < Duration::from_secs(10), "stop escalated ({took:?})");
    let v = inspect(&d, &id);
    assert_eq!(v["State"]["ExitCode"], 137);
    // A container that honours SIGTERM stops at once with 143.
    let id = d
        .pier_ok(&[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "trap 'exit 143' TERM; while true; do sleep 0.1; done",
        ])
        .trim()
        .to_string();
    let t = Instant::now();
    d.pier_ok(&["stop", "-t", "10", &id]);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(inspect(&d, &id)["State"]["ExitCode"], 143);
    // Stopping a stopped container: docker answers 304, the CLI succeeds.
    let (st, _) = d.http("POST", &format!("/containers/{id}/stop"), None);
    assert_eq!(st, 304);
}

#[test]
fn rm_force_leaves_nothing_behind() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d.pier_ok(&["run", "-d", "busybox", "sleep", "1000"]).trim().to_string();
    let init_pid = inspect(&d, &id)["State"]["Pid"].as_i64().expect("pid") as i32;
    assert!(alive(init_pid));
    let shim = shim_pid(&d, &id);
    assert!(
        d.our_mounts().iter().any(|m| m.contains(&id)),
        "rootfs mounted while running"
    );
    d.pier_ok(&["rm", "-f", &id]);
    assert!(
        wait_until(Duration::from_secs(5), || !alive(init_pid)),
        "container process gone"
    );
    assert!(wait_until(Duration::from_secs(5), || !alive(shim)), "shim gone");
    assert!(
        d.our_mounts().iter().all(|m| !m.contains(&id)),
        "no mount left: {:?}",
        d.our_mounts()
    );
    assert!(
        !d.data_root.join("containers").join(&id).exists(),
        "container dir removed"
    );
    assert!(!d.exec_root.join(&id).exists(), "bundle removed");
    let (st, _) = d.http("GET", &format!("/containers/{id}/json"), None);
    assert_eq!(st, 404);
}

#[test]
fn lifecycle_kill_restart_rename_and_errors() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d
        .pier_ok(&[
            "create",
            "--name",
            "web",
            "-e",
            "FOO=bar",
            "-l",
            "tier=front",
            "busybox",
            "sleep",
            "1000",
        ])
        .trim()
        .to_string();
    assert_eq!(inspect(&d, "web")["State"]["Status"], "created");
    d.pier_ok(&["start", "web"]);
    let v = inspect(&d, &id[..8]);
    assert_eq!(v["State"]["Status"], "running");
    assert_eq!(v["Name"], "/web");
    assert!(v["Config"]["Env"]
        .as_array()
        .expect("env")
        .iter()
        .any(|e| e == "FOO=bar"));
    // name conflict
    let out = d.pier(&["create", "--name", "web", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is already in use"));
    // filters
    assert_eq!(d.pier_ok(&["ps", "-q", "-f", "label=tier=front"]).trim(), &id[..12]);
    assert_eq!(d.pier_ok(&["ps", "-q", "-f", "name=nomatch"]).trim(), "");
    // rm without force refuses a running container
    let out = d.pier(&["rm", "web"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("container is running"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    d.pier_ok(&["rename", "web", "web2"]);
    assert_eq!(inspect(&d, "web2")["Name"], "/web2");
    let pid1 = inspect(&d, &id)["State"]["Pid"].as_i64().expect("pid");
    d.pier_ok(&["restart", "-t", "1", "web2"]);
    let v = inspect(&d, &id);
    assert_eq!(v["State"]["Status"], "running");
    assert_ne!(v["State"]["Pid"].as_i64().expect("pid"), pid1);
    let out = d.pier(&["kill", "-s", "NOPE", "web2"]);
    assert!(!out.status.success());
    d.pier_ok(&["kill", "-s", "SIGKILL", "web2"]);
    assert_eq!(d.pier_ok(&["wait", "web2"]).trim(), "137");
    let out = d.pier(&["kill", "web2"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not running"));
    d.pier_ok(&["rm", "web2"]);
}

#[test]
fn bad_input_gets_4xx_and_leaves_no_state() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let count = |d: &Daemon| {
        std::fs::read_dir(d.data_root.join("containers"))
            .map(|r| r.count())
            .unwrap_or(0)
    };
    let before = count(&d);
    let cases: Vec<(&str, String, Vec<u8>, u16)> = vec![
        ("empty body", "/containers/create".into(), b"".to_vec(), 400),
        (
            "truncated json",
            "/containers/create".into(),
            br#"{"Image":"busy"#.to_vec(),
            400,
        ),
        (
            "wrong type",
            "/containers/create".into(),
            br#"{"Image":"busybox","Cmd":5}"#.to_vec(),
            400,
        ),
        (
            "huge name",
            format!("/containers/create?name={}", "a".repeat(1 << 20)),
            br#"{"Image":"busybox","Cmd":["true"]}"#.to_vec(),
            400,
        ),
        (
            "dotdot name",
            "/containers/create?name=..%2Fetc".into(),
            br#"{"Image":"busybox","Cmd":["true"]}"#.to_vec(),
            400,
        ),
        (
            "missing image",
            "/containers/create".into(),
            br#"{"Image":"nope:1","Cmd":["true"]}"#.to_vec(),
            404,
        ),
    ];
    for (what, path, body, want) in cases {
        let (st, v) = d.http("POST", &path, Some(&body));
        // A 1 MiB request line may be refused by the HTTP layer itself (414/431); any 4xx is fine there.
        if what == "huge name" {
            assert!((400..500).contains(&st), "{what}: {st}");
            let msg = String::from_utf8_lossy(&v);
            assert!(msg.len() < 4096, "{what}: the error does not echo the whole name back");
        } else {
            assert_eq!(st, want, "{what}: {}", String::from_utf8_lossy(&v));
            let msg: serde_json::Value =
                serde_json::from_slice(&v).unwrap_or_else(|_| panic!("{what}: JSON error body"));
            assert!(msg["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {msg}");
        }
    }
    assert_eq!(count(&d), before, "no container state left behind");
    let id = d.pier_ok(&["run", "-d", "busybox", "sleep", "1000"]).trim().to_string();
    let (st, _) = d.http("POST", &format!("/containers/{id}/kill?signal=SIGBOGUS"), None);
    assert_eq!(st, 400);
    let (st, _) = d.http("POST", "/containers/nosuch/start", None);
    assert_eq!(st, 404);
    // import of something that is not a tar
    let (st, v) = d.http(
        "POST",
        "/images/create?fromSrc=-&repo=junk",
        Some(b"this is not a tar archive at all"),
    );
    let text = String::from_utf8_lossy(&v);
    assert!(
        (400..500).contains(&st) || text.contains("error"),
        "not-a-tar import: {st} {text}"
    );
    let images = d.pier_ok(&["images"]);
    assert!(!images.contains("junk"), "{images}");
    d.pier_ok(&["rm", "-f", &id]);
}

#[test]
fn version_negotiation_and_prefixes() {
    let d = Daemon::start();
    let (st, v) = d.http_json("GET", "/v1.41/version", None);
    assert_eq!(st, 200);
    assert_eq!(v["ApiVersion"], "1.50");
    assert_eq!(v["MinAPIVersion"], "1.24");
    assert_eq!(v["Os"], "linux");
    let (st, _) = d.http("GET", "/v1.12/version", None);
    assert_eq!(st, 400);
    let (st, body) = d.http("GET", "/_ping", None);
    assert_eq!((st, body.as_slice()), (200, b"OK".as_slice()));
    let (st, _) = d.http_json("GET", "/v1.50/info", None);
    assert_eq!(st, 200);
    let out = d.pier_ok(&["version"]);
    assert!(out.contains("1.50"), "{out}");
}

#[test]
fn docker_cli_drives_pier() {
    let d = Daemon::start();
    let tar = busybox_tar(&d.root.join("img"));
    d.docker_ok(&["import", tar.to_str().expect("path"), "busybox:latest"]);
    let images = d.docker_ok(&["images"]);
    assert!(images.contains("busybox") && images.contains("latest"), "{images}");
    let v = d.docker_ok(&["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(v.trim(), "1.50");
    let id = d
        .docker_ok(&[
            "run",
            "-d",
            "--name",
            "dk",
            "busybox",
            "sh",
            "-c",
            "echo from-docker; sleep 1000",
        ])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    let ps = d.docker_ok(&["ps"]);
    assert!(ps.contains("dk") && ps.contains(&id[..12]), "{ps}");
    assert!(wait_until(Duration::from_secs(10), || d.docker_ok(&["logs", "dk"])
        == "from-docker\n"));
    let st = d.docker_ok(&["inspect", "--format", "{{.State.Status}}", "dk"]);
    assert_eq!(st.trim(), "running");
    d.docker_ok(&["kill", "dk"]);
    assert_eq!(d.docker_ok(&["wait", "dk"]).trim(), "137");
    d.docker_ok(&["rm", "dk"]);
    let id = d
        .docker_ok(&["run", "-d", "busybox", "sleep", "1000"])
        .trim()
        .to_string();
    d.docker_ok(&["stop", "-t", "1", &id]);
    assert_eq!(stdout(&d.docker(&["inspect", "-f", "{{.State.ExitCode}}", &id])), "137");
    d.docker_ok(&["rm", &id]);
    let out = d.docker(&["rm", "nosuch"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such container"));
    d.docker_ok(&["rmi", "busybox"]);
    assert!(!d.docker_ok(&["images"]).contains("busybox"));
}

#[test]
fn import_with_changes_sets_the_image_config() {
    let d = Daemon::start();
    let tar = busybox_tar(&d.root.join("img"));
    let tar = tar.to_str().expect("path");
    d.pier_ok(&[
        "import",
        "-c",
        "ENV GREETING=hello",
        "-c",
        r#"CMD ["sh", "-c", "echo $GREETING"]"#,
        tar,
        "greet:1",
    ]);
    let (st, v) = d.http_json("GET", "/images/greet:1/json", None);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["sh", "-c", "echo $GREETING"]));
    assert!(v["RootFS"]["Layers"].as_array().is_some_and(|l| l.len() == 1), "{v}");
    let id = d.pier_ok(&["run", "-d", "greet:1"]).trim().to_string();
    assert_eq!(d.pier_ok(&["wait", &id]).trim(), "0");
    assert_eq!(d.pier_ok(&["logs", &id]), "hello\n");
}
