//! End-to-end: restart policies (issue 14). `always`, `unless-stopped`,
//! `on-failure[:N]` and `no` with the pier and docker CLIs; docker's
//! back-off (100 ms doubling); `RestartCount`, `State.Restarting` and ps's
//! `Restarting (N) …`; a manual stop or kill ends restarts until the next
//! manual start; `rm` of a running or restarting container is refused with
//! docker's message; an exit while pierd is stopped is restarted when it
//! starts, its `die` event at the real time; after a simulated reboot
//! (pierd, shims and containers killed) pierd restarts what the policies
//! say.

use std::time::Duration;

use nix::sys::signal::Signal;
use pier_testkit::{process::signal, wait_until, Daemon};
use serde_json::Value;

use crate::stdout;

const LONG: Duration = Duration::from_secs(30);

fn events(d: &Daemon, id: &str, action: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(d.data_root.join("events.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["Action"] == action && e["Actor"]["ID"] == id)
        .collect()
}

fn restart_count(d: &Daemon, id: &str) -> i64 {
    d.inspect(id)["RestartCount"].as_i64().unwrap_or(-1)
}

fn run_d(d: &Daemon, cli: &str, args: &[&str]) -> String {
    let mut all = vec!["run", "-d"];
    all.extend_from_slice(args);
    let o = d.cli_cmd(cli, &all).output().expect("run");
    assert!(
        o.status.success(),
        "{cli} {all:?}: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        d.daemon_log()
    );
    stdout(&o)
}

#[test]
fn policies_restart_as_docker_does() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    for cli in ["pier", "docker"] {
        // on-failure:2 stops after two restarts, exited with its code.
        let id = run_d(&d, cli, &["--restart", "on-failure:2", "busybox", "sh", "-c", "exit 3"]);
        assert!(
            wait_until(LONG, || {
                let v = d.inspect(&id);
                v["RestartCount"] == 2 && v["State"]["Status"] == "exited" && events(&d, &id, "die").len() == 3
            }),
            "{cli}: on-failure:2 ends after 2 restarts: {}",
            d.inspect(&id)
        );
        let v = d.inspect(&id);
        assert_eq!(v["State"]["ExitCode"], 3);
        assert_eq!(v["State"]["Restarting"], false);
        assert_eq!(v["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
        assert_eq!(v["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 2);
        let dies = events(&d, &id, "die");
        assert_eq!(dies[0]["Actor"]["Attributes"]["exitCode"], "3", "{dies:?}");
        assert_eq!(events(&d, &id, "start").len(), 3, "one manual start, two by the policy");

        // on-failure does not restart a clean exit.
        let id = run_d(&d, cli, &["--restart", "on-failure", "busybox", "true"]);
        let v = d.wait_exited(&id, LONG);
        assert_eq!(v["RestartCount"], 0, "{cli}: {v}");
        assert_eq!(v["State"]["Status"], "exited");

        // always restarts a clean exit; the back-off grows until the
        // container is seen restarting, as inspect and ps show it (the
        // sixth back-off is 3.2 s: room for the checks below).
        let id = run_d(
            &d,
            cli,
            &[
                "--restart",
                "always",
                "--name",
                &format!("always-{cli}"),
                "busybox",
                "true",
            ],
        );
        assert!(
            wait_until(LONG, || {
                let v = d.inspect(&id);
                v["State"]["Restarting"] == true && v["RestartCount"].as_i64().unwrap_or(0) >= 6
            }),
            "{cli}: always keeps restarting: {}",
            d.inspect(&id)
        );
        let v = d.inspect(&id);
        assert_eq!(v["State"]["Status"], "restarting", "{v}");
        assert_eq!(
            v["State"]["Running"], true,
            "docker shows a restarting container as running"
        );
        let ps = d
            .cli_cmd(
                cli,
                &[
                    "ps",
                    "--filter",
                    &format!("name=always-{cli}"),
                    "--format",
                    "{{.Status}}",
                ],
            )
            .output()
            .expect("ps");
        let ps = stdout(&ps);
        assert!(
            ps.starts_with("Restarting (0) "),
            "{cli}: ps without -a lists it: {ps:?}"
        );
        assert!(ps.ends_with(" ago"), "{ps:?}");
        // rm without -f: docker's message.
        let o = d.cli_cmd(cli, &["rm", &id]).output().expect("rm");
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!(
                "cannot remove container \"/always-{cli}\": container is restarting: stop the container before removing or force remove"
            )),
            "{cli}: {err}"
        );
        let o = d.cli_cmd(cli, &["exec", &id, "true"]).output().expect("exec");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("is restarting, wait until the container is running"),
            "{cli}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        // `wait` treats a restarting container as running (dockerd).
        let mut waiter = d
            .cli_cmd(cli, &["wait", &id])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("wait");
        assert!(
            !wait_until(Duration::from_millis(500), || waiter
                .try_wait()
                .ok()
                .flatten()
                .is_some()),
            "{cli}: wait returned while the container restarts"
        );
        // A manual stop ends the restarts (the pending one too).
        let o = d.cli_cmd(cli, &["stop", &id]).output().expect("stop");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v = d.inspect(&id);
        assert_eq!(v["State"]["Status"], "exited", "{v}");
        assert_eq!(v["State"]["Restarting"], false);
        let waited = waiter.wait_with_output().expect("wait output");
        assert!(waited.status.success(), "{cli}: wait after stop");
        let count = restart_count(&d, &id);
        assert!(
            !wait_until(Duration::from_secs(4), || d.inspect(&id)["State"]["Status"] != "exited"),
            "{cli}: no restart after a manual stop"
        );
        assert_eq!(restart_count(&d, &id), count);
        // A manual start resets the count.
        let o = d.cli_cmd(cli, &["start", &id]).output().expect("start");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v = d.inspect(&id);
        assert!(
            v["RestartCount"].as_i64().unwrap_or(9) <= 1,
            "{cli}: reset at a manual start: {v}"
        );
        d.cli_cmd(cli, &["rm", "-f", &id]).output().expect("rm -f");

        // A running container with a policy: rm refused, kill ends it for
        // good (unless-stopped), rm then works.
        let id = run_d(
            &d,
            cli,
            &[
                "--restart",
                "unless-stopped",
                "--name",
                &format!("us-{cli}"),
                "busybox",
                "sleep",
                "1000",
            ],
        );
        let o = d.cli_cmd(cli, &["rm", &id]).output().expect("rm");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(&format!(
                "cannot remove container \"/us-{cli}\": container is running: stop the container before removing or force remove"
            )),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = d.cli_cmd(cli, &["kill", &id]).output().expect("kill");
        assert!(o.status.success());
        let v = d.wait_exited(&id, LONG);
        assert_eq!(v["State"]["ExitCode"], 137);
        assert!(!wait_until(Duration::from_secs(1), || d.inspect(&id)["State"]
            ["Status"]
            != "exited"));
        assert_eq!(restart_count(&d, &id), 0);
        let o = d.cli_cmd(cli, &["rm", &id]).output().expect("rm");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

#[test]
fn backoff_doubles_from_100_ms() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = run_d(&d, "pier", &["--restart", "always", "busybox", "true"]);
    assert!(
        wait_until(LONG, || events(&d, &id, "start").len() >= 6),
        "six starts: {}",
        d.inspect(&id)
    );
    d.pier_ok(&["rm", "-f", &id]);
    let dies = events(&d, &id, "die");
    let starts = events(&d, &id, "start");
    // The gap between each exit and the start after it: 100, 200, 400,
    // 800, 1600 ms (plus the start's own cost; generous bounds).
    for (i, want) in [100u64, 200, 400, 800, 1600].iter().enumerate() {
        let died = dies[i]["timeNano"].as_i64().expect("die time");
        let started = starts[i + 1]["timeNano"].as_i64().expect("start time");
        let gap = u64::try_from(started - died).expect("start after die") / 1_000_000;
        eprintln!("restart {i}: started {gap} ms after the exit (back-off {want} ms)");
        assert!(
            gap >= want * 9 / 10 && gap < want + 1500,
            "restart {i}: waited {gap} ms, want about {want} ms"
        );
    }
}

#[test]
fn update_changes_the_policy_of_a_running_container() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = run_d(&d, "docker", &["busybox", "sh", "-c", "sleep 1; exit 1"]);
    d.docker_ok(&["update", "--restart", "on-failure:1", &id]);
    assert!(
        wait_until(LONG, || {
            let v = d.inspect(&id);
            v["RestartCount"] == 1 && v["State"]["Status"] == "exited" && events(&d, &id, "die").len() == 2
        }),
        "the updated policy restarted it once: {}",
        d.inspect(&id)
    );
    assert_eq!(
        d.docker_ok(&["inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", &id])
            .trim(),
        "on-failure"
    );
}

#[test]
fn exit_while_pierd_is_stopped_restarts_at_its_start() {
    let mut d = Daemon::start();
    d.import_busybox("busybox");
    let always = run_d(
        &d,
        "pier",
        &["--restart", "always", "busybox", "sh", "-c", "sleep 3; exit 5"],
    );
    let plain = run_d(&d, "pier", &["busybox", "sh", "-c", "sleep 3; exit 5"]);
    let stopped = run_d(&d, "pier", &["--restart", "unless-stopped", "busybox", "sleep", "1000"]);
    d.pier_ok(&["stop", "-t", "1", &stopped]);
    d.stop();
    assert!(
        wait_until(LONG, || d.exit_record(&always).exists()
            && d.exit_record(&plain).exists()),
        "the shims recorded the exits while pierd was down"
    );
    let record: Value =
        serde_json::from_slice(&std::fs::read(d.exit_record(&always)).expect("exit.json")).expect("exit record");
    let finished = record["finished_at"].as_i64().expect("finished_at");
    let restarted_at = pier_time::now_nanos();
    d.start_again();
    assert!(
        wait_until(LONG, || restart_count(&d, &always) >= 1),
        "restarted at pierd's start: {}",
        d.inspect(&always)
    );
    let dies = events(&d, &always, "die");
    let die = dies
        .iter()
        .find(|e| e["timeNano"].as_i64() == Some(finished))
        .unwrap_or_else(|| panic!("a die event at the exit's real time {finished}: {dies:?}"));
    assert!(finished < restarted_at);
    assert_eq!(die["Actor"]["Attributes"]["exitCode"], "5");
    let v = d.inspect(&plain);
    assert_eq!(v["State"]["Status"], "exited");
    assert_eq!(v["State"]["ExitCode"], 5);
    assert_eq!(v["RestartCount"], 0);
    // Stopped by hand: not restarted by pierd's start.
    let v = d.inspect(&stopped);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    assert_eq!(v["RestartCount"], 0);
    d.pier_ok(&["rm", "-f", &always]);
}

#[test]
fn simulated_reboot_restarts_per_policy() {
    let mut d = Daemon::start();
    d.import_busybox("busybox");
    let mk = |policy: &str| run_d(&d, "pier", &["--restart", policy, "busybox", "sleep", "1000"]);
    let always = mk("always");
    let unless = mk("unless-stopped");
    let on_failure = mk("on-failure");
    let no = mk("no");
    let stopped = mk("unless-stopped");
    d.pier_ok(&["stop", "-t", "1", &stopped]);
    let inits: Vec<i32> = [&always, &unless, &on_failure, &no]
        .iter()
        .map(|id| d.inspect(id)["State"]["Pid"].as_i64().expect("pid") as i32)
        .collect();
    // The machine goes down: pierd, then every shim, then every container.
    d.kill9();
    for p in d.our_processes() {
        signal(p, Signal::SIGKILL);
    }
    for p in &inits {
        signal(*p, Signal::SIGKILL);
    }
    assert!(
        wait_until(LONG, || d.our_processes().is_empty()
            && inits.iter().all(|p| !pier_testkit::process::alive(*p))),
        "everything is down"
    );
    d.start_again();
    for id in [&always, &unless, &on_failure] {
        assert!(
            wait_until(LONG, || {
                let v = d.inspect(id);
                v["State"]["Status"] == "running" && v["RestartCount"] == 1
            }),
            "restarted after the reboot: {}",
            d.inspect(id)
        );
        assert_eq!(events(&d, id, "die")[0]["Actor"]["Attributes"]["exitCode"], "255");
    }
    let v = d.inspect(&no);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    assert_eq!(v["State"]["ExitCode"], 255);
    let v = d.inspect(&stopped);
    assert_eq!(v["State"]["Status"], "exited", "{v}");
    for id in [&always, &unless, &on_failure] {
        d.pier_ok(&["rm", "-f", id]);
    }
}

#[test]
fn live_restore_is_accepted() {
    let d = Daemon::builder().config("{\"live-restore\": true}\n").start();
    assert_eq!(d.request("GET", "/_ping", None).status, 200);
}

#[test]
fn pierd_stopped_during_a_backoff_restarts_at_its_start() {
    let mut d = Daemon::start();
    d.import_busybox("busybox");
    let id = run_d(&d, "pier", &["--restart", "always", "busybox", "true"]);
    // The sixth back-off is 3.2 s: pierd stops inside it.
    assert!(
        wait_until(LONG, || {
            let v = d.inspect(&id);
            v["State"]["Restarting"] == true && v["RestartCount"] == 6
        }),
        "restarting: {}",
        d.inspect(&id)
    );
    d.stop();
    d.start_again();
    assert!(
        wait_until(LONG, || restart_count(&d, &id) >= 7),
        "the pending restart ran at pierd's start: {}",
        d.inspect(&id)
    );
    d.pier_ok(&["rm", "-f", &id]);
}

/// `attach` to a restarting or paused container is refused with the
/// docker CLI's words, by both CLIs.
#[test]
fn attach_to_a_restarting_or_paused_container_is_refused() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let flapping = run_d(&d, "pier", &["--restart", "always", "busybox", "sh", "-c", "exit 1"]);
    // From the fifth exit on, the back-off (1.6 s and more) leaves time.
    assert!(
        wait_until(LONG, || restart_count(&d, &flapping) >= 4
            && d.inspect(&flapping)["State"]["Restarting"] == true),
        "never restarting: {}",
        d.inspect(&flapping)["State"]
    );
    let paused = run_d(&d, "pier", &["busybox", "sleep", "300"]);
    d.pier_ok(&["pause", &paused]);
    for cli in ["pier", "docker"] {
        let o = d.cli_cmd(cli, &["attach", &paused]).output().expect("attach");
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("You cannot attach to a paused container, unpause it first"),
            "{cli}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // Still restarting (the back-off is at least 1.6 s): refused likewise.
    if d.inspect(&flapping)["State"]["Restarting"] == true {
        for cli in ["pier", "docker"] {
            let o = d.cli_cmd(cli, &["attach", &flapping]).output().expect("attach");
            assert!(!o.status.success());
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains("You cannot attach to a restarting container, wait until it is running")
                    || err.contains("You cannot attach to a stopped container"),
                "{cli}: {err}"
            );
        }
    }
    d.pier_ok(&["rm", "-f", &flapping, &paused]);
}
