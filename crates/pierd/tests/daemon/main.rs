//! pierd end to end: a real daemon (in-process, or the binary where it
//! must be SIGKILLed), real shims, real runc, through `pier_testkit`.
//! Needs root, runc, /bin/busybox and `cargo build -p pier-shim`; fails
//! loudly without them.

use std::time::{Duration, Instant};

use pier_client::{Client, WaitCondition};
use pier_testkit::process::mounts_under;
use pier_testkit::stream::demux_text as demux;
use pier_testkit::{rootfs, wait_until, Daemon};
use serde_json::json;

#[test]
fn ping_version_and_prefixes() {
    let h = Daemon::in_process();
    let r = h.request("GET", "/_ping", None);
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    assert_eq!(r.header("Api-Version"), Some("1.50"));
    assert_eq!(r.header("Ostype"), Some("linux"));
    assert_eq!(h.request("HEAD", "/_ping", None).status, 200);
    assert_eq!(h.request("GET", "/v1.41/_ping", None).status, 200);

    let v = h.request("GET", "/v1.44/version", None);
    assert_eq!(v.status, 200);
    let v = v.json();
    assert_eq!(v["ApiVersion"], "1.50");
    assert_eq!(v["MinAPIVersion"], "1.24");
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Components"][0]["Name"], "Engine");

    let old = h.request("GET", "/v1.12/version", None);
    assert_eq!(old.status, 400);
    assert!(old.json()["message"].as_str().expect("message").contains("too old"));
    assert_eq!(h.request("GET", "/v1.99/version", None).status, 400);
    assert_eq!(h.request("GET", "/info", None).status, 200);
    let missing = h.request("GET", "/nope", None);
    assert_eq!(missing.status, 404);
    missing.json();
    assert_eq!(h.request("GET", "/v1.41/containers/json", None).json(), json!([]));
}

#[test]
fn lifecycle_logs_wait_stop_kill_rm() {
    let h = Daemon::in_process();
    let image_id = h.import_busybox("bb:latest");
    assert!(image_id.starts_with("sha256:"));
    let images = h.request("GET", "/images/json", None).json();
    assert_eq!(images[0]["RepoTags"][0], "bb:latest");
    assert_eq!(h.request("GET", "/images/bb/json", None).status, 200);

    // wait is sent before start and must get its headers at once.
    let id = h.create("one", "bb", &["sh", "-c", "echo out; echo err >&2; exit 3"]);
    let (tx, rx) = std::sync::mpsc::channel();
    let host = h.host();
    let waiter = id.clone();
    std::thread::spawn(move || {
        let c = Client::new(&host).expect("client");
        let _ = tx.send(c.container_wait_begin(&waiter, WaitCondition::NextExit));
    });
    let pending = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("wait headers arrive before the container starts")
        .expect("wait accepted");
    assert_eq!(h.request("POST", &format!("/containers/{id}/start"), None).status, 204);
    let waited = pending.result().expect("wait result");
    assert_eq!(waited.status_code, 3);
    assert!(waited.error.is_none());

    let logs = h.request("GET", &format!("/containers/{id}/logs?stdout=1&stderr=1"), None);
    assert_eq!(logs.status, 200);
    assert_eq!(
        logs.header("Content-Type"),
        Some("application/vnd.docker.multiplexed-stream")
    );
    assert_eq!(demux(&logs.body), ("out\n".to_string(), "err\n".to_string()));
    let only_err = h.request("GET", "/containers/one/logs?stderr=1", None);
    assert_eq!(demux(&only_err.body), (String::new(), "err\n".to_string()));
    let old = h.request("GET", &format!("/v1.41/containers/{id}/logs?stdout=1"), None);
    assert_eq!(old.header("Content-Type"), Some("application/vnd.docker.raw-stream"));
    assert_eq!(h.request("GET", &format!("/containers/{id}/logs"), None).status, 400);

    let i = h.inspect(&id[..8]);
    assert_eq!(i["Name"], "/one");
    assert_eq!(i["State"]["Status"], "exited");
    assert_eq!(i["State"]["ExitCode"], 3);
    assert_ne!(i["State"]["FinishedAt"], "0001-01-01T00:00:00Z");
    assert!(i["LogPath"].as_str().expect("LogPath").ends_with("-json.log"));
    assert_eq!(h.inspect("one")["Id"], id.as_str());

    // A long-running one: 304s, signals, stop, kill, rm.
    let sleeper = h.run("two", "bb", &["sleep", "1000"]);
    assert_eq!(
        h.request("POST", &format!("/containers/{sleeper}/start"), None).status,
        304
    );
    assert_eq!(h.inspect("two")["State"]["Running"], true);
    let ps = h.request("GET", "/containers/json", None).json();
    assert_eq!(ps.as_array().expect("list").len(), 1);
    assert_eq!(ps[0]["Names"][0], "/two");
    assert!(ps[0]["Status"].as_str().expect("status").starts_with("Up"));
    let bad = h.request("POST", "/containers/two/kill?signal=SIGNOPE", None);
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["message"], "Invalid signal: SIGNOPE");
    let busy = h.request("DELETE", "/containers/two", None);
    assert_eq!(busy.status, 409);
    assert!(busy.json()["message"]
        .as_str()
        .expect("m")
        .contains("container is running"));
    assert_eq!(h.request("POST", "/containers/two/kill?signal=USR1", None).status, 204);
    // sleep as PID 1 ignores SIGTERM: stop escalates to SIGKILL after t.
    let t0 = Instant::now();
    assert_eq!(h.request("POST", "/containers/two/stop?t=1", None).status, 204);
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "stop waited {:?}",
        t0.elapsed()
    );
    assert_eq!(h.inspect("two")["State"]["ExitCode"], 137);
    assert_eq!(h.request("POST", "/containers/two/stop", None).status, 304);
    let nr = h.request("POST", "/containers/two/kill", None);
    assert_eq!(nr.status, 409);
    assert!(nr.json()["message"].as_str().expect("m").contains("is not running"));

    // restart, rename, conflicts.
    assert_eq!(h.request("POST", "/containers/two/restart?t=0", None).status, 204);
    assert_eq!(h.inspect("two")["State"]["Running"], true);
    assert_eq!(h.request("POST", "/containers/two/rename?name=one", None).status, 409);
    assert_eq!(h.request("POST", "/containers/two/rename?name=three", None).status, 204);
    assert_eq!(h.inspect("three")["Name"], "/three");

    // Image in use.
    let rmi = h.request("DELETE", "/images/bb:latest", None);
    assert_eq!(rmi.status, 409, "{}", rmi.text());

    // rm -f of a running container leaves no trace.
    let shim_pid = h.inspect("three")["State"]["Pid"].as_i64().expect("pid");
    assert_eq!(h.request("DELETE", "/containers/three?force=1", None).status, 204);
    assert_eq!(h.request("GET", "/containers/three/json", None).status, 404);
    assert!(!h.data_root.join("containers").join(&sleeper).exists());
    assert!(!h.exec_root.join(&sleeper).exists());
    assert!(!std::path::Path::new(&format!("/proc/{shim_pid}")).exists());
    assert_eq!(h.request("DELETE", &format!("/containers/{id}"), None).status, 204);
    assert!(
        mounts_under(&h.root).is_empty(),
        "mounts left: {:?}",
        mounts_under(&h.root)
    );
    let rmi = h.request("DELETE", "/images/bb:latest", None);
    assert_eq!(rmi.status, 200, "{}", rmi.text());
}

#[test]
fn bad_inputs_leave_no_state() {
    let h = Daemon::in_process();
    h.import_busybox("bb:latest");
    let cases: Vec<(String, Vec<u8>)> = vec![
        ("/containers/create".into(), b"".to_vec()),
        ("/containers/create".into(), b"{\"Image\":\"bb\",\"Cmd\":[".to_vec()),
        ("/containers/create".into(), br#"{"Image":5}"#.to_vec()),
        ("/containers/create".into(), br#"{"Image":"bb","Env":"x"}"#.to_vec()),
        (
            "/containers/create?name=..%2Fx".into(),
            br#"{"Image":"bb","Cmd":["true"]}"#.to_vec(),
        ),
        (
            "/containers/create?name=a/b".into(),
            br#"{"Image":"bb","Cmd":["true"]}"#.to_vec(),
        ),
        (
            format!("/containers/create?name={}", "a".repeat(1 << 20)),
            br#"{"Image":"bb","Cmd":["true"]}"#.to_vec(),
        ),
    ];
    for (path, body) in &cases {
        let r = h.try_request("POST", path, Some(body));
        if let Ok(r) = r {
            assert!(
                (400..500).contains(&r.status),
                "{} -> {} {}",
                &path[..path.len().min(60)],
                r.status,
                r.text()
            );
            if r.status != 431 && r.status != 414 {
                r.json();
            }
        }
    }
    let missing = h.request_json("POST", "/containers/create", &json!({"Image": "nope", "Cmd": ["true"]}));
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["message"], "No such image: nope");

    let not_tar = h.request("POST", "/images/create?fromSrc=-&repo=junk", Some(b"this is not a tar archive at all, not even close......................................................................................................................................................................................................................................................................................................................................................................................................................................................................................"));
    assert!(
        (400..500).contains(&not_tar.status),
        "{} {}",
        not_tar.status,
        not_tar.text()
    );
    not_tar.json();

    assert_eq!(h.request("GET", "/containers/json?all=1", None).json(), json!([]));
    let left: Vec<_> = std::fs::read_dir(h.data_root.join("containers"))
        .expect("containers dir")
        .collect();
    assert!(left.is_empty(), "state left: {left:?}");
    assert_eq!(
        h.request("GET", "/images/json", None)
            .json()
            .as_array()
            .expect("list")
            .len(),
        1
    );

    // A container name reserved concurrently goes to exactly one create.
    let results: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    h.request_json(
                        "POST",
                        "/containers/create?name=dup",
                        &json!({"Image": "bb", "Cmd": ["true"]}),
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|t| t.join().expect("join")).collect()
    });
    assert_eq!(results.iter().filter(|s| **s == 201).count(), 1, "{results:?}");
    assert_eq!(results.iter().filter(|s| **s == 409).count(), 5, "{results:?}");

    let r = h.request(
        "GET",
        "/containers/json?all=1&filters=%7B%22name%22%3A%7B%22dup%22%3Atrue%7D%7D",
        None,
    );
    assert_eq!(r.json().as_array().expect("list").len(), 1);
    let r = h.request(
        "GET",
        "/containers/json?all=1&filters=%7B%22status%22%3A%5B%22running%22%5D%7D",
        None,
    );
    assert_eq!(r.json(), json!([]));
    assert_eq!(h.request("GET", "/containers/json?filters=%7B", None).status, 400);
    let bad_sig = h.request_json(
        "POST",
        "/containers/create",
        &json!({"Image": "bb", "Cmd": ["true"], "StopSignal": "SIGWHAT"}),
    );
    assert_eq!(bad_sig.status, 400);
}

#[test]
fn daemon_restart_finds_running_and_exited() {
    let mut h = Daemon::in_process();
    h.import_busybox("bb:latest");
    let runner = h.run("runner", "bb", &["sleep", "1000"]);
    let quitter = h.run("quitter", "bb", &["sh", "-c", "sleep 2; echo bye; exit 7"]);
    let second = {
        let dir = h.data_root.to_path_buf();
        pierd::DataRootLock::acquire(&dir).expect_err("a second pierd on the same data root")
    };
    assert!(second.to_string().contains("already running"), "{second}");

    h.stop();
    assert!(
        wait_until(Duration::from_secs(10), || h.exit_record(&quitter).exists()),
        "the shim recorded the exit while pierd was down"
    );
    h.start_again();

    let r = h.inspect(&runner);
    assert_eq!(r["State"]["Status"], "running", "{r}");
    let q = h.wait_exited(&quitter, Duration::from_secs(10));
    assert_eq!(q["State"]["Status"], "exited");
    assert_eq!(q["State"]["ExitCode"], 7);
    assert_ne!(q["State"]["FinishedAt"], "0001-01-01T00:00:00Z");
    let logs = h.request("GET", &format!("/containers/{quitter}/logs?stdout=1"), None);
    assert_eq!(demux(&logs.body).0, "bye\n");
    // The reconnected monitor still sees exits.
    let t0 = Instant::now();
    assert_eq!(
        h.request("POST", &format!("/containers/{runner}/stop?t=1"), None)
            .status,
        204
    );
    assert!(t0.elapsed() < Duration::from_secs(20));
    assert_eq!(h.inspect(&runner)["State"]["ExitCode"], 137);
    for id in [&runner, &quitter] {
        assert_eq!(h.request("DELETE", &format!("/containers/{id}"), None).status, 204);
    }
    assert!(mounts_under(&h.root).is_empty());
}

#[test]
fn follow_logs_until_exit_and_auto_remove() {
    let h = Daemon::in_process();
    h.import_busybox("bb:latest");
    let r = h.request_json(
        "POST",
        "/containers/create?name=counter",
        &json!({"Image": "bb", "Cmd": ["sh", "-c", "for i in 1 2 3 4 5; do echo $i; sleep 0.2; done"],
               "HostConfig": {"AutoRemove": true}}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["Id"].as_str().expect("id").to_string();
    let removed = h
        .client()
        .container_wait_begin(&id, WaitCondition::Removed)
        .expect("wait for removal");
    assert_eq!(h.request("POST", &format!("/containers/{id}/start"), None).status, 204);
    let logs = h.request(
        "GET",
        &format!("/containers/{id}/logs?stdout=1&follow=1&timestamps=1"),
        None,
    );
    let (out, _) = demux(&logs.body);
    let nums: Vec<&str> = out.lines().map(|l| l.split(' ').nth(1).unwrap_or("")).collect();
    assert_eq!(nums, ["1", "2", "3", "4", "5"], "{out}");
    assert_eq!(removed.result().expect("wait result").status_code, 0);
    assert_eq!(h.request("GET", &format!("/containers/{id}/json"), None).status, 404);
    assert!(!h.data_root.join("containers").join(&id).exists());

    // A restart of an AutoRemove container does not remove it.
    let r = h.request_json(
        "POST",
        "/containers/create?name=keeper",
        &json!({"Image": "bb", "Cmd": ["sleep", "1000"], "HostConfig": {"AutoRemove": true}}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(h.request("POST", "/containers/keeper/start", None).status, 204);
    assert_eq!(h.request("POST", "/containers/keeper/restart?t=0", None).status, 204);
    // A negative check, so time is the point: nothing removes the
    // restarted container in the next half second.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(h.inspect("keeper")["State"]["Running"], true);
    assert_eq!(h.request("POST", "/containers/keeper/kill", None).status, 204);
    assert!(
        wait_until(Duration::from_secs(10), || h
            .request("GET", "/containers/keeper/json", None)
            .status
            == 404),
        "the killed AutoRemove container is removed"
    );
    assert!(mounts_under(&h.root).is_empty());
}

#[test]
fn sigkill_of_pierd_loses_no_log_line() {
    let mut h = Daemon::start();
    h.import_busybox("bb:latest");
    let id = h.run(
        "counter",
        "bb",
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 300 ]; do echo $i; i=$((i+1)); sleep 0.01; done",
        ],
    );
    assert!(
        wait_until(Duration::from_secs(10), || h.log_lines(&id) >= 50),
        "the container is writing"
    );
    h.kill9();
    let at_kill = h.log_lines(&id);
    assert!(
        wait_until(Duration::from_secs(10), || h.log_lines(&id) >= at_kill + 50),
        "the container kept writing while pierd was down"
    );
    h.start_again();
    let i = h.wait_exited(&id, Duration::from_secs(20));
    assert_eq!(i["State"]["ExitCode"], 0, "{i}");
    let logs = h.request("GET", &format!("/containers/{id}/logs?stdout=1"), None);
    let (out, _) = demux(&logs.body);
    let want: Vec<String> = (0..300).map(|n| n.to_string()).collect();
    let got: Vec<String> = out.lines().map(str::to_string).collect();
    assert_eq!(got, want);
    assert_eq!(h.request("DELETE", &format!("/containers/{id}"), None).status, 204);
    h.stop();
}

#[test]
fn ten_containers_in_parallel() {
    let h = Daemon::in_process();
    h.import_busybox("bb:latest");
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|n| {
                let h = &h;
                s.spawn(move || h.run(&format!("p{n}"), "bb", &["sleep", "1000"]))
            })
            .collect();
        handles.into_iter().map(|t| t.join().expect("join")).collect()
    });
    let ps = h.request("GET", "/containers/json", None).json();
    assert_eq!(ps.as_array().expect("list").len(), 10);
    std::thread::scope(|s| {
        for id in &ids {
            let h = &h;
            s.spawn(move || {
                let r = h.request("DELETE", &format!("/containers/{id}?force=1"), None);
                assert_eq!(r.status, 204, "{}", r.text());
            });
        }
    });
    assert_eq!(h.request("GET", "/containers/json?all=1", None).json(), json!([]));
    assert!(mounts_under(&h.root).is_empty());
}

/// The real docker CLI against pierd.
#[test]
fn docker_cli_scenarios() {
    let h = Daemon::in_process();
    let docker = |args: &[&str]| -> (i32, String, String) {
        let out = h.docker(args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let tar = rootfs::tar_file(&h.root);
    let (rc, out, err) = docker(&["import", &tar.display().to_string(), "bb"]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.starts_with("sha256:"), "{out}");
    let (rc, out, _) = docker(&["images"]);
    assert_eq!(rc, 0);
    assert!(out.contains("bb") && out.contains("latest"), "{out}");
    let (rc, out, err) = docker(&["version"]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("Server: Pier"), "{out}");

    let (rc, out, err) = docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "bb",
        "sh",
        "-c",
        "echo hello; echo oops >&2; sleep 100",
    ]);
    assert_eq!(rc, 0, "{err}");
    let id = out.trim().to_string();
    assert_eq!(id.len(), 64, "{out}");
    let (_, out, _) = docker(&["ps"]);
    assert!(
        out.contains("CONTAINER ID") && out.contains("web") && out.contains("Up"),
        "{out}"
    );
    assert!(
        wait_until(Duration::from_secs(10), || docker(&["logs", "web"]).2 == "oops\n"),
        "both lines logged"
    );
    let (rc, out, err) = docker(&["logs", "web"]);
    assert_eq!((rc, out.as_str(), err.as_str()), (0, "hello\n", "oops\n"));
    let (rc, out, _) = docker(&["inspect", "-f", "{{.State.Status}} {{.Name}}", "web"]);
    assert_eq!((rc, out.trim()), (0, "running /web"));
    let (rc, _, err) = docker(&["stop", "-t", "1", "web"]);
    assert_eq!(rc, 0, "{err}");
    let (rc, out, _) = docker(&["wait", "web"]);
    assert_eq!((rc, out.trim()), (0, "137"));
    let (rc, _, err) = docker(&["rm", "web"]);
    assert_eq!(rc, 0, "{err}");
    let (rc, _, err) = docker(&["rm", "web"]);
    assert_ne!(rc, 0);
    assert!(err.contains("No such container"), "{err}");

    let (rc, out, err) = docker(&["run", "-d", "--name", "kk", "bb", "sleep", "100"]);
    assert_eq!(rc, 0, "{err}{out}");
    let (rc, _, err) = docker(&["kill", "kk"]);
    assert_eq!(rc, 0, "{err}");
    let (rc, out, _) = docker(&["wait", "kk"]);
    assert_eq!((rc, out.trim()), (0, "137"));
    let (rc, _, err) = docker(&["rm", "-f", "kk"]);
    assert_eq!(rc, 0, "{err}");
    let (rc, _, err) = docker(&["rmi", "bb"]);
    assert_eq!(rc, 0, "{err}");
    assert!(mounts_under(&h.root).is_empty());
    let _ = id;
}

/// SIGCONTs a stopped shim when the test ends, whatever happened.
struct Resume(nix::unistd::Pid);

impl Drop for Resume {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(self.0, nix::sys::signal::Signal::SIGCONT);
    }
}

#[test]
fn a_stopped_shim_blocks_neither_restore_nor_ps() {
    use nix::sys::signal::{kill, Signal};
    let mut h = Daemon::in_process();
    h.import_busybox("bb:latest");
    let stuck = h.run("stuck", "bb", &["sleep", "1000"]);
    let record = std::fs::read(h.data_root.join("containers").join(&stuck).join("container.json")).expect("record");
    let record: serde_json::Value = serde_json::from_slice(&record).expect("record json");
    let shim_pid = record["state"]["shim_pid"]
        .as_i64()
        .and_then(|p| i32::try_from(p).ok())
        .expect("shim pid");
    assert!(shim_pid > 0);
    let shim = nix::unistd::Pid::from_raw(shim_pid);
    kill(shim, Signal::SIGSTOP).expect("SIGSTOP the shim");
    let resume = Resume(shim);

    let t = Instant::now();
    let ps = h.request("GET", "/containers/json", None);
    assert_eq!(ps.status, 200);
    assert_eq!(ps.json().as_array().map(Vec::len), Some(1));
    assert_eq!(h.inspect(&stuck)["State"]["Running"], true);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "ps/inspect took {:?}",
        t.elapsed()
    );

    // Other containers are served while one shim is silent.
    let other = h.run("other", "bb", &["sleep", "1000"]);

    // Restore bounds its wait for a silent shim (one answer timeout).
    h.stop();
    let t = Instant::now();
    h.start_again();
    let restored = t.elapsed();
    eprintln!("restore with a stopped shim took {restored:?}");
    assert!(restored < Duration::from_secs(6), "restore took {restored:?}");
    let t = Instant::now();
    let ps = h.request("GET", "/containers/json", None);
    assert_eq!(ps.json().as_array().map(Vec::len), Some(2), "{}", ps.text());
    assert!(t.elapsed() < Duration::from_secs(1), "ps took {:?}", t.elapsed());
    assert_eq!(h.inspect(&stuck)["State"]["Running"], true);
    assert_eq!(h.inspect(&other)["State"]["Running"], true);

    // Once it runs again, the restored monitor sees its exit.
    drop(resume);
    assert_eq!(
        h.request("POST", &format!("/containers/{stuck}/kill"), None).status,
        204
    );
    assert_eq!(h.wait_exited(&stuck, Duration::from_secs(20))["State"]["ExitCode"], 137);
    for id in [&stuck, &other] {
        assert_eq!(
            h.request("DELETE", &format!("/containers/{id}?force=1"), None).status,
            204
        );
    }
}
