//! End-to-end: exec (issue 5) with the pier CLI, the docker CLI and tmux.

use std::process::Stdio;
use std::time::{Duration, Instant};

use pier_testkit::stream::read_all;
use pier_testkit::{wait_until, Daemon};

use crate::output_with_stdin;
use crate::tmux::Tmux;

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A daemon with busybox and one running container named `c`.
fn running() -> (Daemon, String) {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d
        .pier_ok(&[
            "run",
            "-d",
            "--name",
            "box",
            "-e",
            "FROM_RUN=1",
            "busybox",
            "sleep",
            "1000",
        ])
        .trim()
        .to_string();
    (d, id)
}

fn both(d: &Daemon, args: &[&str]) -> Vec<(&'static str, std::process::Output)> {
    vec![("docker", d.docker(args)), ("pier", d.pier(args))]
}

#[test]
fn output_and_exit_code() {
    let (d, _) = running();
    for (cli, o) in both(&d, &["exec", "box", "sh", "-c", "echo out; echo err >&2; exit 5"]) {
        assert_eq!(o.status.code(), Some(5), "{cli}: {o:?}");
        assert_eq!(out(&o), "out\n", "{cli}");
        assert_eq!(err(&o), "err\n", "{cli}");
    }
    // Short-lived processes lose nothing either.
    for i in 0..10 {
        for (cli, o) in both(&d, &["exec", "box", "echo", &format!("n{i}")]) {
            assert_eq!(out(&o), format!("n{i}\n"), "{cli} run {i}");
        }
    }
}

#[test]
fn stdin_from_a_file() {
    let (d, _) = running();
    let payload: String = (0..50000).map(|i| format!("row {i}\n")).collect();
    for cli in ["docker", "pier"] {
        let args = ["exec", "-i", "box", "cat"];
        let o = output_with_stdin(d.cli_cmd(cli, &args), payload.as_bytes());
        assert_eq!(o.status.code(), Some(0), "{cli}: {}", err(&o));
        assert!(
            out(&o) == payload,
            "{cli}: got {} of {} bytes",
            o.stdout.len(),
            payload.len()
        );
    }
}

#[test]
fn exec_it_in_a_terminal() {
    let (d, _) = running();
    let line = format!(
        "env DOCKER_HOST={} DOCKER_CONFIG={} docker exec -it box sh; echo EXEC-EXIT=$?",
        d.host(),
        d.root.join("docker-config").display()
    );
    let t = Tmux::start(&line);
    t.wait_for("/ #", 20);
    t.type_text("tty; stty size; echo v=$((3*3))");
    t.keys(&["Enter"]);
    let s = t.wait_for("v=9", 10);
    assert!(s.contains("/dev/pts/"), "{s}");
    assert!(s.contains("30 120"), "initial size:\n{s}");
    t.type_text("exit 9");
    t.keys(&["Enter"]);
    t.wait_for("EXEC-EXIT=9", 10);
}

#[test]
fn detached_user_workdir_env() {
    let (d, _) = running();
    for (cli, o) in both(
        &d,
        &["exec", "-d", "box", "sh", "-c", "sleep 0.2; echo x > /tmp/detached"],
    ) {
        assert!(o.status.success(), "{cli}: {}", err(&o));
        assert_eq!(out(&o), "", "{cli} -d prints nothing");
    }
    assert!(wait_until(Duration::from_secs(10), || out(&d.pier(&[
        "exec",
        "box",
        "cat",
        "/tmp/detached"
    ])) == "x\n"));

    let env_file = d.root.join("env.list");
    std::fs::write(&env_file, "# comment\nFROM_FILE=2\n").expect("env file");
    let env_arg = format!("--env-file={}", env_file.display());
    let args = [
        "exec",
        "-u",
        "alice",
        "-w",
        "/tmp",
        "-e",
        "FOO=bar",
        &env_arg,
        "box",
        "sh",
        "-c",
        "id; pwd; echo $FOO $FROM_FILE $FROM_RUN $HOSTNAME; echo $PATH",
    ];
    for (cli, o) in both(&d, &args) {
        assert!(o.status.success(), "{cli}: {}", err(&o));
        let text = out(&o);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0], "uid=1000(alice) gid=1000(alice) groups=50(staff),1000(alice)",
            "{cli}"
        );
        assert_eq!(lines[1], "/tmp", "{cli}");
        assert!(lines[2].starts_with("bar 2 1 "), "{cli}: {}", lines[2]);
        assert!(lines[3].contains("/usr/bin"), "{cli}: {}", lines[3]);
    }
    for (cli, o) in both(&d, &["exec", "-u", "nobody:staff", "box", "id"]) {
        assert_eq!(out(&o), "uid=65534(nobody) gid=50(staff) groups=50(staff)\n", "{cli}");
    }
    for (cli, o) in both(&d, &["exec", "-u", "1234:5678", "box", "id"]) {
        assert_eq!(out(&o), "uid=1234 gid=5678 groups=5678\n", "{cli}");
    }
}

#[test]
fn shares_namespaces_and_cgroup_with_pid1() {
    let (d, _) = running();
    let script = "for n in cgroup ipc mnt net pid uts user; do \
                  [ \"$(readlink /proc/self/ns/$n)\" = \"$(readlink /proc/1/ns/$n)\" ] || echo DIFF $n; done; \
                  cmp /proc/self/cgroup /proc/1/cgroup && echo SAME-CGROUP";
    for (cli, o) in both(&d, &["exec", "box", "sh", "-c", script]) {
        assert_eq!(out(&o), "SAME-CGROUP\n", "{cli}: {}", err(&o));
    }
    // And from the host: a detached exec's namespaces and cgroup are the
    // init's.
    let (st, v) = d.http_json("GET", "/containers/box/json", None);
    assert_eq!(st, 200);
    let init = v["State"]["Pid"].as_i64().expect("pid");
    let (st, v) = d.http_json("POST", "/containers/box/exec", Some(br#"{"Cmd":["sleep","30"]}"#));
    assert_eq!(st, 201, "{v}");
    let exec_id = v["Id"].as_str().expect("id").to_string();
    let (st, _) = d.http("POST", &format!("/exec/{exec_id}/start"), Some(br#"{"Detach":true}"#));
    assert_eq!(st, 200);
    let (_, v) = d.http_json("GET", &format!("/exec/{exec_id}/json"), None);
    assert_eq!(v["Running"], true, "{v}");
    let pid = v["Pid"].as_i64().expect("exec pid");
    assert!(pid > 0 && pid != init);
    for ns in ["cgroup", "ipc", "mnt", "net", "pid", "uts", "user"] {
        let a = std::fs::read_link(format!("/proc/{init}/ns/{ns}")).expect("init ns");
        let b = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).expect("exec ns");
        assert_eq!(a, b, "{ns} namespace");
    }
    let a = std::fs::read_to_string(format!("/proc/{init}/cgroup")).expect("init cgroup");
    let b = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("exec cgroup");
    assert_eq!(a, b, "cgroups");
    let a = std::fs::read_to_string(format!("/proc/{init}/status")).expect("init status");
    let b = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("exec status");
    let caps = |s: &str| {
        s.lines()
            .filter(|l| l.starts_with("Cap") || l.starts_with("NoNewPrivs") || l.starts_with("Seccomp:"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(caps(&a), caps(&b), "capabilities, no-new-privileges, seccomp");
}

#[test]
fn background_child_does_not_hold_the_exec() {
    let (d, _) = running();
    for cli in ["docker", "pier"] {
        let t = Instant::now();
        let o = if cli == "docker" {
            d.docker(&["exec", "box", "sh", "-c", "sleep 100 & echo started"])
        } else {
            d.pier(&["exec", "box", "sh", "-c", "sleep 100 & echo started"])
        };
        assert_eq!(o.status.code(), Some(0), "{cli}: {}", err(&o));
        assert_eq!(out(&o), "started\n", "{cli}");
        assert!(t.elapsed() < Duration::from_secs(5), "{cli} took {:?}", t.elapsed());
    }
}

#[test]
fn failures_and_codes() {
    let (d, id) = running();
    for (cli, o) in both(&d, &["exec", "box", "nope"]) {
        assert_eq!(o.status.code(), Some(127), "{cli}: {o:?}");
        let all = out(&o) + &err(&o);
        assert!(
            all.contains(
                "OCI runtime exec failed: exec failed: unable to start container process: exec: \"nope\": executable file not found in $PATH: unknown"
            ),
            "{cli}: {all}"
        );
    }
    for (cli, o) in both(&d, &["exec", "box", "/etc"]) {
        assert_eq!(o.status.code(), Some(126), "{cli}: {o:?}");
        assert!((out(&o) + &err(&o)).contains("permission denied"), "{cli}");
    }
    // API: create, inspect, ExecIDs.
    let (st, v) = d.http_json(
        "POST",
        "/containers/box/exec",
        Some(br#"{"Cmd":["sh","-c","exit 3"],"AttachStdout":true}"#),
    );
    assert_eq!(st, 201, "{v}");
    let exec_id = v["Id"].as_str().expect("exec id").to_string();
    let (_, v) = d.http_json("GET", &format!("/exec/{exec_id}/json"), None);
    assert_eq!(v["Running"], false);
    assert_eq!(v["ExitCode"], serde_json::Value::Null);
    assert_eq!(v["ContainerID"], id);
    assert_eq!(v["ProcessConfig"]["entrypoint"], "sh");
    let h = d.hijack(
        "POST",
        &format!("/exec/{exec_id}/start"),
        Some(br#"{"Detach":false,"Tty":false}"#),
    );
    assert_eq!(h.status, 101);
    let _ = read_all(h, Duration::from_secs(20));
    let (_, v) = d.http_json("GET", &format!("/exec/{exec_id}/json"), None);
    assert_eq!(v["ExitCode"], 3, "{v}");
    let (_, v) = d.http_json("GET", "/containers/box/json", None);
    assert!(
        v["ExecIDs"]
            .as_array()
            .expect("ExecIDs")
            .iter()
            .any(|e| e == &serde_json::json!(exec_id)),
        "{v}"
    );
    let (st, _) = d.http("POST", &format!("/exec/{exec_id}/start"), Some(b"{}"));
    assert_eq!(st, 409, "an exec runs once");
    let (st, _) = d.http("GET", "/exec/nope/json", None);
    assert_eq!(st, 404);

    // A stopped container.
    d.pier_ok(&["stop", "-t", "0", "box"]);
    let (st, v) = d.http_json("POST", "/containers/box/exec", Some(br#"{"Cmd":["true"]}"#));
    assert_eq!(st, 409);
    assert_eq!(v["message"], format!("container {id} is not running"));
    for (cli, o) in both(&d, &["exec", "box", "true"]) {
        assert!(!o.status.success(), "{cli}");
        assert!(err(&o).contains("is not running"), "{cli}: {}", err(&o));
    }
}

#[test]
fn execs_end_with_their_container() {
    let (d, _) = running();
    let mut child = d
        .pier_cmd(&["exec", "box", "sleep", "100"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let exec_running = || {
        let (_, v) = d.http_json("GET", "/containers/box/json", None);
        v["ExecIDs"].as_array().into_iter().flatten().any(|e| {
            let (_, x) = d.http_json("GET", &format!("/exec/{}/json", e.as_str().unwrap_or("")), None);
            x["Running"] == true
        })
    };
    assert!(wait_until(Duration::from_secs(10), exec_running), "the exec is running");
    let t = Instant::now();
    d.pier_ok(&["kill", "box"]);
    let mut status = None;
    assert!(
        wait_until(Duration::from_secs(15), || {
            status = child.try_wait().expect("try_wait");
            status.is_some()
        }),
        "exec client still waiting after its container died"
    );
    let status = status.expect("exit status");
    assert!(!status.success(), "{status}");
    assert!(t.elapsed() < Duration::from_secs(15));
}

/// Zombie processes whose pid namespace is the container's.
fn zombies_in(init: i64) -> Vec<String> {
    let ns = std::fs::read_link(format!("/proc/{init}/ns/pid")).expect("init pid ns");
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").expect("proc").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if std::fs::read_link(format!("/proc/{name}/ns/pid")).ok().as_ref() != Some(&ns) {
            continue;
        }
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{name}/stat")) {
            if stat
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
            {
                found.push(stat);
            }
        }
    }
    found
}

/// The exec'd processes are the shim's children and it reaps them. Their
/// orphans are the kernel's business: it hands them to the container's
/// PID 1 (a subreaper outside the pid namespace is never chosen), so with
/// an init that reaps (a shell here; docker's `--init`) nothing is left.
#[test]
fn exec_processes_and_their_orphans_are_reaped() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.pier_ok(&[
        "run",
        "-d",
        "--name",
        "box",
        "busybox",
        "sh",
        "-c",
        "while :; do sleep 0.2; done",
    ]);
    let (_, v) = d.http_json("GET", "/containers/box/json", None);
    let init = v["State"]["Pid"].as_i64().expect("pid");
    for _ in 0..3 {
        d.pier_ok(&["exec", "box", "sh", "-c", "sleep 0.3 & sleep 0.2 & true"]);
        d.pier_ok(&["exec", "-d", "box", "sh", "-c", "sleep 0.2 &"]);
        d.pier_ok(&["exec", "box", "true"]);
    }
    assert!(
        wait_until(Duration::from_secs(10), || zombies_in(init).is_empty()),
        "zombies left: {:?}",
        zombies_in(init)
    );
}
