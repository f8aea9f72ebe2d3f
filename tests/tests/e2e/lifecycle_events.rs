//! End-to-end: the events stream (issue 14): an event for each action,
//! `--since` after a pierd restart (with the real time of an exit that
//! happened while pierd was down), filters, live streaming with `pier
//! events` and the docker CLI (`docker events`, and `docker stats` without
//! names, which follows `/events` to pick up new containers).

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pier_testkit::{wait_until, Daemon};

/// Unix seconds with nanoseconds, as the CLIs send `--since`.
fn now_arg() -> String {
    let n = pier_time::now_nanos();
    format!("{}.{:09}", n / 1_000_000_000, n % 1_000_000_000)
}

/// `pier events --since <since> --until <now> --format '{{json .}}'`.
fn history(d: &Daemon, since: &str, filters: &[&str]) -> Vec<serde_json::Value> {
    let until = now_arg();
    let mut args = vec!["events", "--since", since, "--until", &until, "--format", "{{json .}}"];
    for f in filters {
        args.extend(["--filter", f]);
    }
    d.pier_ok(&args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("event line {l:?}: {e}")))
        .collect()
}

fn actions(evs: &[serde_json::Value]) -> Vec<String> {
    evs.iter()
        .map(|e| {
            format!(
                "{} {}",
                e["Type"].as_str().unwrap_or("?"),
                e["Action"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

/// A child whose stdout lines are collected by a thread; killed by pid
/// on drop.
struct Follower {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Follower {
    fn spawn(mut cmd: std::process::Command) -> Follower {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn follower");
        let out = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                sink.lock().expect("lines").push(l);
            }
        });
        Follower { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    fn wait_for(&self, what: &str, pred: impl Fn(&[String]) -> bool) {
        assert!(
            wait_until(Duration::from_secs(20), || pred(&self.lines())),
            "{what}: {:?}",
            self.lines()
        );
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_event_for_each_action() {
    let d = Daemon::start();
    let since = now_arg();
    d.import_busybox("busybox");
    d.pier_ok(&["volume", "create", "evvol"]);
    let id = d
        .pier_ok(&[
            "run",
            "-d",
            "-t",
            "--name",
            "ev",
            "--label",
            "tier=web",
            "-v",
            "evvol:/data",
            "busybox",
            "sleep",
            "1000",
        ])
        .trim()
        .to_string();
    d.pier_ok(&["exec", "ev", "true"]);
    d.pier_ok(&["exec", "-d", "ev", "sh", "-c", "exit 3"]);
    d.pier_ok(&["pause", "ev"]);
    d.pier_ok(&["unpause", "ev"]);
    d.pier_ok(&["top", "ev"]);
    d.pier_ok(&["update", "--cpu-shares", "512", "ev"]);
    let r = d.request("POST", &format!("/containers/{id}/resize?h=10&w=20"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("f");
    std::fs::write(&file, "x").expect("write");
    d.pier_ok(&["cp", &file.display().to_string(), "ev:/tmp/f"]);
    d.pier_ok(&["cp", "ev:/tmp/f", &dir.path().join("g").display().to_string()]);
    d.pier_ok(&["export", "-o", &dir.path().join("ev.tar").display().to_string(), "ev"]);
    d.pier_ok(&["commit", "ev", "evimg:1"]);
    d.pier_ok(&["tag", "evimg:1", "evimg:2"]);
    d.pier_ok(&[
        "save",
        "-o",
        &dir.path().join("img.tar").display().to_string(),
        "evimg:2",
    ]);
    d.pier_ok(&["rmi", "evimg:2"]);
    d.pier_ok(&["rmi", "evimg:1"]);
    d.pier_ok(&["load", "-i", &dir.path().join("img.tar").display().to_string()]);
    d.pier_ok(&["rename", "ev", "ev2"]);
    d.pier_ok(&["restart", "-t", "0", "ev2"]);
    d.pier_ok(&["stop", "-t", "0", "ev2"]);
    d.pier_ok(&["start", "ev2"]);
    d.pier_ok(&["kill", "ev2"]);
    d.wait_exited(&id, Duration::from_secs(10));
    d.pier_ok(&["rm", "ev2"]);
    d.pier_ok(&["volume", "rm", "evvol"]);
    // A detached exec's exec_die comes when pierd learns of its end (it
    // asks the shim, less and less often).
    assert!(
        wait_until(Duration::from_secs(15), || {
            history(&d, &since, &["event=exec_die"])
                .iter()
                .any(|e| e["Actor"]["Attributes"]["exitCode"] == "3")
        }),
        "no exec_die with exit code 3: {:?}",
        actions(&history(&d, &since, &[]))
    );
    let evs = history(&d, &since, &[]);
    let got = actions(&evs);
    let want = [
        "image tag",
        "image import",
        "volume create",
        "container create",
        "volume mount",
        "container start",
        "container exec_create: true ",
        "container exec_start: true ",
        "container exec_die",
        "container exec_create: sh -c exit 3",
        "container exec_start: sh -c exit 3",
        "container pause",
        "container unpause",
        "container top",
        "container update",
        "container resize",
        "container extract-to-dir",
        "container archive-path",
        "container export",
        "container commit",
        "image tag",
        "image save",
        "image untag",
        "image delete",
        "image load",
        "container rename",
        "container kill",
        "container die",
        "volume unmount",
        "container stop",
        "container restart",
        "container destroy",
        "volume destroy",
    ];
    for w in want {
        assert!(got.iter().any(|g| g == w), "no {w:?} in {got:#?}");
    }
    // Attributes as dockerd gives them.
    let find = |action: &str| {
        evs.iter()
            .find(|e| e["Action"] == action && e["Type"] == "container")
            .unwrap_or_else(|| panic!("no {action}"))
    };
    let create = find("create");
    assert_eq!(create["Actor"]["ID"], id.as_str());
    assert_eq!(create["Actor"]["Attributes"]["name"], "ev");
    assert_eq!(create["Actor"]["Attributes"]["image"], "busybox");
    assert_eq!(create["Actor"]["Attributes"]["tier"], "web");
    assert_eq!(
        (create["status"].as_str(), create["from"].as_str()),
        (Some("create"), Some("busybox"))
    );
    assert_eq!(find("kill")["Actor"]["Attributes"]["signal"], "15");
    let dies: Vec<_> = evs.iter().filter(|e| e["Action"] == "die").collect();
    assert_eq!(dies.last().expect("die")["Actor"]["Attributes"]["exitCode"], "137");
    assert!(
        evs.iter()
            .any(|e| e["Action"] == "kill" && e["Actor"]["Attributes"]["signal"] == "9"),
        "{got:#?}"
    );
    assert_eq!(find("rename")["Actor"]["Attributes"]["oldName"], "/ev");
    assert_eq!(find("resize")["Actor"]["Attributes"]["height"], "10");
    let mount = evs.iter().find(|e| e["Action"] == "mount").expect("mount");
    assert_eq!(mount["Actor"]["ID"], "evvol");
    assert_eq!(mount["Actor"]["Attributes"]["container"], id.as_str());
    assert_eq!(mount["Actor"]["Attributes"]["destination"], "/data");
    let exec_dies: Vec<_> = evs.iter().filter(|e| e["Action"] == "exec_die").collect();
    assert!(
        exec_dies.iter().any(|e| e["Actor"]["Attributes"]["exitCode"] == "0"),
        "{exec_dies:?}"
    );
}

#[test]
fn since_after_a_restart_with_exits_while_down() {
    let mut d = Daemon::start();
    let since = now_arg();
    d.import_busybox("busybox");
    let kept = d.run("kept", "busybox", &["sleep", "1000"]);
    // Exits once pierd is down: it waits for a file pierd's absence lets
    // the test create.
    let late = d.run(
        "late",
        "busybox",
        &["sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 7"],
    );
    // A follower does not hold pierd's shutdown up: its stream ends.
    let mut follower = d
        .pier_cmd(&["events"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pier events");
    assert!(wait_until(Duration::from_secs(10), || {
        d.request("GET", "/info", None).json()["NEventsListener"] == 1
    }));
    d.stop();
    let ended = wait_until(Duration::from_secs(10), || follower.try_wait().ok().flatten().is_some());
    if !ended {
        let _ = follower.kill();
    }
    let _ = follower.wait();
    assert!(ended, "pier events still runs after pierd stopped");
    let merged = d.data_root.join("containers").join(&late).join("fs/merged/tmp/go");
    std::fs::write(&merged, "").expect("write go file");
    assert!(
        wait_until(Duration::from_secs(10), || d.exit_record(&late).exists()),
        "the container did not exit while pierd was down"
    );
    d.start_again();
    let st = d.wait_exited(&late, Duration::from_secs(10))["State"].clone();
    assert_eq!(st["ExitCode"], 7);
    let evs = history(&d, &since, &["type=container"]);
    let got = actions(&evs);
    for w in ["container create", "container start", "container die"] {
        assert!(got.iter().any(|g| g == w), "no {w:?} in {got:#?}");
    }
    let die = evs
        .iter()
        .find(|e| e["Action"] == "die" && e["Actor"]["ID"] == late.as_str())
        .expect("die of late");
    assert_eq!(die["Actor"]["Attributes"]["exitCode"], "7");
    let finished = pier_time::parse_rfc3339(st["FinishedAt"].as_str().expect("FinishedAt")).expect("time");
    assert_eq!(die["timeNano"].as_i64(), Some(finished), "{die}");
    // Relative `--since` (the CLI turns `1h` into a timestamp) reads the
    // journal written before the restart too.
    let until = now_arg();
    let hour = d.pier_ok(&[
        "events",
        "--since",
        "1h",
        "--until",
        &until,
        "--filter",
        "container=kept",
    ]);
    assert!(
        hour.contains(&format!("container create {kept} (image=busybox, name=kept)")),
        "{hour}"
    );
    d.pier_ok(&["rm", "-f", &kept, &late]);
}

#[test]
fn filters_and_live_streams() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // Both follow from `since`: whenever they subscribe, they miss nothing.
    let since = now_arg();
    let pier = Follower::spawn(d.pier_cmd(&[
        "events",
        "--since",
        &since,
        "--filter",
        "type=container",
        "--filter",
        "event=start",
        "--format",
        "{{.Actor.Attributes.name}} {{.status}}",
    ]));
    let docker = Follower::spawn(d.docker_cmd(&["events", "--since", &since, "--filter", "container=one"]));
    let one = d.run("one", "busybox", &["sleep", "1000"]);
    let _two = d.run("two", "busybox", &["sleep", "1000"]);
    pier.wait_for("pier events saw both starts", |l| {
        l.contains(&"one start".to_string()) && l.contains(&"two start".to_string())
    });
    d.pier_ok(&["kill", "one"]);
    docker.wait_for("docker events saw one die", |l| {
        l.iter()
            .any(|x| x.contains(&format!("container die {one} (execDuration=")) && x.contains(" exitCode=137,"))
    });
    let seen = docker.lines();
    assert!(seen.iter().all(|l| !l.contains("name=two")), "{seen:?}");
    assert!(
        seen.iter()
            .any(|l| l.contains(&format!("container start {one} (image=busybox, name=one)"))),
        "{seen:?}"
    );
    // Only start events reached the filtered pier stream.
    assert!(pier.lines().iter().all(|l| l.ends_with(" start")), "{:?}", pier.lines());
    let listeners = || d.request("GET", "/info", None).json()["NEventsListener"].as_i64();
    assert_eq!(listeners(), Some(2));
    // A client that leaves is no listener any more, even with no event to
    // write to it.
    drop(pier);
    drop(docker);
    assert!(
        wait_until(Duration::from_secs(10), || listeners() == Some(0)),
        "listeners left: {:?}",
        listeners()
    );
    // A past --until ends the stream (docker CLI too).
    let until = now_arg();
    let out = d.docker_ok(&["events", "--since", "0", "--until", &until, "--filter", "event=kill"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("container kill") && out.contains("signal=9"), "{out}");
    d.pier_ok(&["rm", "-f", "one", "two"]);
}

/// `docker stats` without names follows `/events` to add containers that
/// start after it began.
#[test]
fn docker_stats_follows_new_containers() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.run("first", "busybox", &["sleep", "1000"]);
    let stats = Follower::spawn(d.docker_cmd(&["stats", "--format", "{{.Name}}"]));
    stats.wait_for("stats shows first", |l| l.iter().any(|x| x.contains("first")));
    d.run("second", "busybox", &["sleep", "1000"]);
    stats.wait_for("stats picked up second", |l| l.iter().any(|x| x.contains("second")));
    drop(stats);
    d.pier_ok(&["rm", "-f", "first", "second"]);
}

/// A detached exec's `exec_die` is recorded when it exits (the shim
/// answers a parked `ExecWait`), not when pierd next asks: a 2 s exec dies
/// well before 3.1 s, when asking at 0.1, 0.3, 0.7, 1.5 and 3.1 s would
/// have seen it.
#[test]
fn a_detached_execs_die_comes_when_it_exits() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d.pier_ok(&["run", "-d", "busybox", "sleep", "300"]).trim().to_string();
    let since = now_arg();
    d.pier_ok(&["exec", "-d", &id, "sh", "-c", "sleep 2; exit 4"]);
    assert!(
        wait_until(Duration::from_secs(15), || !history(&d, &since, &["event=exec_die"])
            .is_empty()),
        "no exec_die"
    );
    let evs = history(&d, &since, &[]);
    let at = |action: &str| {
        evs.iter()
            .find(|e| e["Action"].as_str().is_some_and(|a| a.starts_with(action)))
            .and_then(|e| e["timeNano"].as_i64())
            .unwrap_or_else(|| panic!("no {action} in {:?}", actions(&evs)))
    };
    let die = evs.iter().find(|e| e["Action"] == "exec_die").expect("exec_die");
    assert_eq!(die["Actor"]["Attributes"]["exitCode"], "4");
    let took = Duration::from_nanos(u64::try_from(at("exec_die") - at("exec_start")).expect("die after start"));
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(2800),
        "exec_die {took:?} after exec_start"
    );
    d.pier_ok(&["rm", "-f", &id]);
}

/// SIGHUP reloads daemon.json as dockerd does: `labels`, `debug` and
/// `insecure-registries` change at once and a `daemon reload` event is
/// journaled with dockerd's attributes; a file that does not parse
/// changes nothing and records no event.
#[test]
fn sighup_reloads_the_config_and_records_a_daemon_reload() {
    let d = Daemon::builder().config(r#"{"labels": ["tier=a"]}"#).start();
    let since = now_arg();
    let config = d.root.join("daemon.json");
    let reloads = || history(&d, &since, &["type=daemon", "event=reload"]);
    let hup = || pier_testkit::process::signal(d.pid() as i32, nix::sys::signal::Signal::SIGHUP);

    std::fs::write(
        &config,
        r#"{"labels": ["tier=b"], "debug": true, "insecure-registries": ["127.0.0.1:5999"]}"#,
    )
    .expect("write daemon.json");
    hup();
    assert!(
        wait_until(Duration::from_secs(10), || reloads().len() == 1),
        "no reload event"
    );
    let e = &reloads()[0];
    assert_eq!(e["Type"], "daemon");
    assert_eq!(e["scope"], "local");
    let a = &e["Actor"]["Attributes"];
    assert_eq!(a["labels"], r#"["tier=b"]"#, "{e}");
    assert_eq!(a["debug"], "true", "{e}");
    assert_eq!(a["insecure-registries"], r#"["127.0.0.1:5999"]"#, "{e}");
    assert_eq!(a["live-restore"], "false", "{e}");
    assert!(!e["Actor"]["ID"].as_str().unwrap_or("").is_empty(), "{e}");
    // debug: the log level is debug from now on.
    d.pier_ok(&["ps"]);
    assert!(
        wait_until(Duration::from_secs(5), || d.daemon_log().contains("DEBUG")),
        "no debug lines after the reload"
    );

    // A broken file: logged, nothing changes, no event.
    std::fs::write(&config, "{ not json").expect("write daemon.json");
    hup();
    assert!(
        wait_until(Duration::from_secs(10), || d
            .daemon_log()
            .contains("Error reloading configuration")),
        "the bad file was not reported"
    );
    assert_eq!(reloads().len(), 1);

    // docker's CLI sees the events too.
    let until = now_arg();
    let out = d.docker_ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=daemon",
    ]);
    assert!(out.contains("daemon reload"), "{out}");
}
