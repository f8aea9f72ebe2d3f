//! End-to-end: OOM kills (issue 13). An allocation past `-m` is killed by
//! the kernel: exit 137 and `State.OOMKilled` true (pier CLI and docker
//! CLI). The shim hears of an OOM kill as it happens, so a non-init
//! process killed in a container that keeps running sets `OOMKilled` at
//! once and records an `oom` event; a start resets it.

use std::time::Duration;

use pier_testkit::{wait_until, Daemon};
use serde_json::Value;

fn oom_events(d: &Daemon, id: &str) -> usize {
    let text = std::fs::read_to_string(d.data_root.join("events.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["Action"] == "oom" && e["Actor"]["ID"] == id)
        .count()
}

#[test]
fn an_allocation_past_the_limit_is_oom_killed() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    for cli in ["pier", "docker"] {
        let o = d
            .cli_cmd(
                cli,
                &[
                    "run",
                    "--name",
                    &format!("oom-{cli}"),
                    "-m",
                    "32m",
                    "busybox",
                    "sh",
                    "-c",
                    "tail /dev/zero",
                ],
            )
            .output()
            .expect("run");
        assert_eq!(
            o.status.code(),
            Some(137),
            "{cli}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let got = d
            .cli_cmd(
                cli,
                &[
                    "inspect",
                    "--format",
                    "{{.State.OOMKilled}} {{.State.ExitCode}}",
                    &format!("oom-{cli}"),
                ],
            )
            .output()
            .expect("inspect");
        assert_eq!(String::from_utf8_lossy(&got.stdout).trim(), "true 137", "{cli}");
        let id = d.inspect(&format!("oom-{cli}"))["Id"].as_str().expect("id").to_string();
        assert!(oom_events(&d, &id) >= 1, "{cli}: an oom event is recorded");
    }
    // A container that stays within its limit is not OOM-killed.
    let id = d.create(
        "fine",
        "busybox",
        &["sh", "-c", "head -c 1000000 /dev/zero | tail -c 1 >/dev/null"],
    );
    d.pier_ok(&["start", "-a", &id]);
    assert_eq!(d.inspect(&id)["State"]["OOMKilled"], false);
    d.pier_ok(&["rm", "oom-pier", "oom-docker", "fine"]);
}

#[test]
fn a_non_init_oom_kill_is_reported_while_the_container_runs() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // The child is killed; the container's init lives on.
    let id = d.pier_ok(&[
        "run",
        "-d",
        "-m",
        "32m",
        "busybox",
        "sh",
        "-c",
        "sh -c 'tail /dev/zero'; echo child-died; exec sleep 300",
    ]);
    let id = id.trim();
    let mut state = Value::Null;
    assert!(
        wait_until(Duration::from_secs(20), || {
            state = d.inspect(id)["State"].clone();
            state["OOMKilled"] == true
        }),
        "OOMKilled not set while running: {state}\n{}",
        d.daemon_log()
    );
    assert_eq!(state["Running"], true, "{state}");
    assert!(wait_until(Duration::from_secs(10), || d
        .pier_ok(&["logs", id])
        .contains("child-died")));
    assert_eq!(oom_events(&d, id), 1, "one oom event");
    assert_eq!(
        d.docker_ok(&["inspect", "--format", "{{.State.OOMKilled}} {{.State.Running}}", id])
            .trim(),
        "true true"
    );
    // It stays set when the container is stopped, and a start resets it.
    d.pier_ok(&["kill", id]);
    let state = d.wait_exited(id, Duration::from_secs(10))["State"].clone();
    assert_eq!(
        (state["OOMKilled"].clone(), state["ExitCode"].clone()),
        (Value::Bool(true), 137.into())
    );
    d.pier_ok(&["start", id]);
    assert_eq!(d.inspect(id)["State"]["OOMKilled"], false, "reset on start");
    // A second OOM in the new run is heard again.
    assert!(
        wait_until(Duration::from_secs(20), || d.inspect(id)["State"]["OOMKilled"] == true),
        "second run's OOM"
    );
    assert_eq!(oom_events(&d, id), 2);
    d.pier_ok(&["rm", "-f", id]);
}

#[test]
fn oom_events_heard_after_a_daemon_restart() {
    let mut d = Daemon::start();
    d.import_busybox("busybox");
    // The child allocates only once a file appears, after the restart.
    let id = d.pier_ok(&[
        "run",
        "-d",
        "-m",
        "32m",
        "busybox",
        "sh",
        "-c",
        "while [ ! -e /tmp/go ]; do sleep 0.1; done; sh -c 'tail /dev/zero'; exec sleep 300",
    ]);
    let id = id.trim().to_string();
    d.stop();
    d.start_again();
    d.pier_ok(&["exec", &id, "touch", "/tmp/go"]);
    assert!(
        wait_until(Duration::from_secs(20), || d.inspect(&id)["State"]["OOMKilled"] == true),
        "{}",
        d.daemon_log()
    );
    assert_eq!(d.inspect(&id)["State"]["Running"], true);
    assert_eq!(oom_events(&d, &id), 1);
    d.pier_ok(&["rm", "-f", &id]);
}
