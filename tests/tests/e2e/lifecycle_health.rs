//! End-to-end: healthchecks (issue 14). Probes run inside the container
//! through the shim: passing, failing, timing out (the probe is killed by
//! its pid), within a start period; `State.Health`, `ps` "(healthy)",
//! `health=` filters and `health_status` events, with the pier and docker
//! CLIs; and health goes on being checked while pierd is down.

use std::time::Duration;

use pier_testkit::{wait_for, Daemon};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

fn health(d: &Daemon, name: &str) -> Value {
    d.inspect(name)["State"]["Health"].clone()
}

fn status(d: &Daemon, name: &str) -> String {
    health(d, name)["Status"].as_str().unwrap_or("").to_string()
}

fn health_events(d: &Daemon, id: &str) -> Vec<(String, i64)> {
    let text = std::fs::read_to_string(d.data_root.join("events.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["Actor"]["ID"] == id)
        .filter_map(|e| {
            let action = e["Action"].as_str()?.to_string();
            action
                .starts_with("health_status: ")
                .then(|| (action, e["timeNano"].as_i64().unwrap_or(0)))
        })
        .collect()
}

fn ps(d: &Daemon, cli: &str, filter: &str) -> String {
    let o = d
        .cli_cmd(cli, &["ps", "--filter", filter, "--format", "{{.Names}} {{.Status}}"])
        .output()
        .expect("ps");
    assert!(o.status.success(), "{cli} ps: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn passing_and_failing_probes_set_the_status() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.pier_ok(&[
        "run",
        "-d",
        "--name",
        "good",
        "--health-cmd",
        "echo fine",
        "--health-interval",
        "200ms",
        "busybox",
        "sleep",
        "300",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "bad",
        "--health-cmd",
        "echo nope; exit 1",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "300",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "true",
        "--health-interval",
        "1h",
        "busybox",
        "sleep",
        "300",
    ]);
    d.pier_ok(&["run", "-d", "--name", "plain", "busybox", "sleep", "300"]);

    // Before its first probe a container is starting.
    assert_eq!(status(&d, "slow"), "starting");
    assert_eq!(health(&d, "plain"), Value::Null);
    wait_for("good to be healthy", WAIT, || status(&d, "good") == "healthy");
    wait_for("bad to be unhealthy", WAIT, || status(&d, "bad") == "unhealthy");
    let good = health(&d, "good");
    assert_eq!(good["FailingStreak"], 0);
    let log = good["Log"].as_array().expect("log");
    assert!(!log.is_empty() && log.len() <= 5, "{good}");
    assert_eq!(log[0]["ExitCode"], 0);
    assert_eq!(log[0]["Output"], "fine\n");
    assert!(log[0]["Start"].as_str().is_some_and(|s| s.ends_with('Z')), "{good}");
    let bad = health(&d, "bad");
    assert!(bad["FailingStreak"].as_i64().is_some_and(|n| n >= 2), "{bad}");
    assert_eq!(bad["Log"][0]["ExitCode"], 1);
    assert_eq!(bad["Log"][0]["Output"], "nope\n");
    // The log keeps the last five results.
    wait_for("five results", WAIT, || {
        health(&d, "good")["Log"].as_array().is_some_and(|l| l.len() == 5)
    });
    assert_eq!(health(&d, "good")["Log"].as_array().map(Vec::len), Some(5));

    for cli in ["pier", "docker"] {
        let out = ps(&d, cli, "health=healthy");
        assert!(
            out.starts_with("good Up ") && out.trim_end().ends_with("(healthy)"),
            "{cli}: {out}"
        );
        assert_eq!(out.lines().count(), 1, "{cli}: {out}");
        let out = ps(&d, cli, "health=unhealthy");
        assert!(
            out.starts_with("bad Up ") && out.trim_end().ends_with("(unhealthy)"),
            "{cli}: {out}"
        );
        let out = ps(&d, cli, "health=starting");
        assert!(out.trim_end().ends_with("(health: starting)"), "{cli}: {out}");
        assert!(out.starts_with("slow "), "{cli}: {out}");
        let out = ps(&d, cli, "health=none");
        assert!(out.starts_with("plain Up ") && out.lines().count() == 1, "{cli}: {out}");
    }
    let o = d.docker(&["ps", "--filter", "health=sick"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Unrecognised filter value for health: sick"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Events, with the times the shim saw the changes.
    let id = d.inspect("good")["Id"].as_str().expect("id").to_string();
    wait_for("a health_status event", WAIT, || !health_events(&d, &id).is_empty());
    assert_eq!(health_events(&d, &id)[0].0, "health_status: healthy");
    let bad_id = d.inspect("bad")["Id"].as_str().expect("id").to_string();
    wait_for("an unhealthy event", WAIT, || {
        health_events(&d, &bad_id)
            .iter()
            .any(|(a, _)| a == "health_status: unhealthy")
    });

    // A stopped container's health is unhealthy (the monitor stopped); a
    // start makes it starting again, its log kept.
    d.pier_ok(&["stop", "-t", "0", "good"]);
    assert_eq!(status(&d, "good"), "unhealthy");
    d.pier_ok(&["start", "good"]);
    let h = health(&d, "good");
    assert!(h["Status"] == "starting" || h["Status"] == "healthy", "{h}");
    wait_for("good healthy again", WAIT, || status(&d, "good") == "healthy");
    // NONE (`--no-healthcheck`) disables checks; inspect shows it.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "off",
        "--no-healthcheck",
        "busybox",
        "sleep",
        "300",
    ]);
    let off = d.inspect("off");
    assert_eq!(
        off["Config"]["Healthcheck"]["Test"],
        serde_json::json!(["NONE"]),
        "{off}"
    );
    assert_eq!(off["State"]["Health"], Value::Null);
    assert_eq!(
        d.inspect("bad")["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "echo nope; exit 1"], "Interval": 200_000_000, "Retries": 2})
    );
    d.pier_ok(&["rm", "-f", "good", "bad", "slow", "plain", "off"]);
}

#[test]
fn a_probe_past_its_timeout_is_killed() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.pier_ok(&[
        "run",
        "-d",
        "--name",
        "hang",
        "--health-cmd",
        "sleep 4242",
        "--health-timeout",
        "300ms",
        "--health-interval",
        "200ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "300",
    ]);
    wait_for("hang to be unhealthy", WAIT, || status(&d, "hang") == "unhealthy");
    let h = health(&d, "hang");
    assert_eq!(h["Log"][0]["ExitCode"], -1, "{h}");
    assert_eq!(h["Log"][0]["Output"], "Health check exceeded timeout (300ms)", "{h}");
    // Each timed-out probe was killed by its pid: none piles up.
    let probes = || {
        d.pier_ok(&["top", "hang"])
            .lines()
            .filter(|l| l.contains("sleep 4242"))
            .count()
    };
    wait_for("three timed-out probes", WAIT, || {
        health(&d, "hang")["Log"].as_array().is_some_and(|l| l.len() >= 3)
    });
    assert!(probes() <= 1, "{}", d.pier_ok(&["top", "hang"]));
    d.pier_ok(&["rm", "-f", "hang"]);
}

#[test]
fn failures_within_the_start_period_do_not_count() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "boot",
        "--health-cmd",
        "test -e /tmp/ready",
        "--health-start-period",
        "60s",
        "--health-start-interval",
        "200ms",
        "--health-interval",
        "1h",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "300",
    ]);
    wait_for("three failed probes", WAIT, || {
        health(&d, "boot")["Log"].as_array().is_some_and(|l| l.len() >= 3)
    });
    let h = health(&d, "boot");
    assert_eq!(h["Status"], "starting", "{h}");
    assert_eq!(h["FailingStreak"], 0, "{h}");
    assert_eq!(h["Log"][0]["ExitCode"], 1, "{h}");
    d.docker_ok(&["exec", "boot", "touch", "/tmp/ready"]);
    wait_for("boot to be healthy", WAIT, || status(&d, "boot") == "healthy");
    d.pier_ok(&["rm", "-f", "boot"]);
}

#[test]
fn health_is_checked_while_pierd_is_down() {
    let mut d = Daemon::start();
    d.import_busybox("busybox");
    // Healthy for seven probes, then failing.
    let id = d.pier_ok(&[
        "run",
        "-d",
        "--name",
        "tired",
        "--health-cmd",
        "echo x >> /tmp/n; test $(wc -l < /tmp/n) -lt 8",
        "--health-interval",
        "300ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "300",
    ]);
    let id = id.trim().to_string();
    wait_for("tired to be healthy", WAIT, || status(&d, "tired") == "healthy");
    d.kill9();
    // The shim goes on probing: its record turns unhealthy with pierd down.
    let record = d.data_root.join("containers").join(&id).join("health.json");
    wait_for("unhealthy in the shim's record", WAIT, || {
        std::fs::read(&record)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .is_some_and(|r| r["status"] == "unhealthy")
    });
    let down_until = pier_time_now();
    d.start_again();
    let h = health(&d, "tired");
    assert_eq!(h["Status"], "unhealthy", "{h}");
    assert!(h["FailingStreak"].as_i64().is_some_and(|n| n >= 1), "{h}");
    assert!(d.pier_ok(&["ps", "--filter", "name=tired"]).contains("(unhealthy)"));
    // The change made while pierd was down is journaled with its own time.
    wait_for("the unhealthy event", WAIT, || {
        health_events(&d, &id)
            .iter()
            .any(|(a, _)| a == "health_status: unhealthy")
    });
    let events = health_events(&d, &id);
    let (_, at) = events
        .iter()
        .find(|(a, _)| a == "health_status: unhealthy")
        .expect("unhealthy event");
    assert!(*at < down_until, "recorded at {at}, pierd back at {down_until}");
    assert_eq!(
        events.iter().filter(|(a, _)| a == "health_status: healthy").count(),
        1,
        "{events:?}"
    );
    // A second restart records nothing twice.
    d.stop();
    d.start_again();
    let again = health_events(&d, &id);
    assert_eq!(again.len(), events.len(), "{again:?}");

    // A container that turns unhealthy and exits while pierd is down: the
    // change is journaled at the next start, with its time.
    let late = d
        .pier_ok(&[
            "run",
            "-d",
            "--health-cmd",
            "test ! -e /tmp/bad",
            "--health-interval",
            "200ms",
            "--health-retries",
            "1",
            "busybox",
            "sh",
            "-c",
            "while test ! -e /tmp/done; do sleep 0.1; done",
        ])
        .trim()
        .to_string();
    wait_for("late to be healthy", WAIT, || status(&d, &late) == "healthy");
    d.kill9();
    let record = d.data_root.join("containers").join(&late).join("health.json");
    let shim_status = || {
        std::fs::read(&record)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .map_or(Value::Null, |r| r["status"].clone())
    };
    // Make it fail, then exit, through the runtime (pierd is down).
    let runc = pier_testkit::require::runc();
    let runtime_root = d.exec_root.join("runc");
    let exec = |cmd: &str| {
        std::process::Command::new(&runc)
            .arg("--root")
            .arg(&runtime_root)
            .args(["exec", &late, "sh", "-c", cmd])
            .status()
            .expect("runc exec")
    };
    assert!(exec("touch /tmp/bad").success());
    wait_for("late unhealthy in the shim's record", WAIT, || {
        shim_status() == "unhealthy"
    });
    assert!(exec("touch /tmp/done").success());
    wait_for("the shim to record the exit", WAIT, || {
        d.data_root.join("containers").join(&late).join("exit.json").exists()
    });
    d.start_again();
    wait_for("late's unhealthy event", WAIT, || {
        health_events(&d, &late)
            .iter()
            .any(|(a, _)| a == "health_status: unhealthy")
    });
    assert_eq!(status(&d, &late), "unhealthy");
    d.pier_ok(&["rm", "-f", "tired", &late]);
}

fn pier_time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn shim_rss_kib(d: &Daemon, id: &str) -> i64 {
    let rec: Value = serde_json::from_slice(
        &std::fs::read(d.data_root.join("containers").join(id).join("container.json")).expect("record"),
    )
    .expect("parse record");
    let pid = rec["state"]["shim_pid"].as_i64().expect("shim pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("shim status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Benchmark note of issue 14: probing (here every 100 ms) must not raise
/// an idle shim's RSS by more than 256 KiB, and must not grow it over time.
#[test]
fn probes_do_not_grow_the_shims_memory() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let plain = d.pier_ok(&["run", "-d", "busybox", "sleep", "300"]).trim().to_string();
    let probed = d
        .pier_ok(&[
            "run",
            "-d",
            "--health-cmd",
            "echo ok",
            "--health-interval",
            "100ms",
            "busybox",
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    wait_for("ten probes", WAIT, || count_probes(&d, &probed) >= 10);
    let (base, after_10) = (shim_rss_kib(&d, &plain), shim_rss_kib(&d, &probed));
    wait_for("sixty probes", Duration::from_secs(60), || {
        count_probes(&d, &probed) >= 60
    });
    let after_60 = shim_rss_kib(&d, &probed);
    eprintln!("shim VmRSS: plain {base} KiB, healthchecked {after_10} KiB after 10 probes, {after_60} KiB after 60");
    assert!(after_10 - base <= 256, "plain {base} KiB, healthchecked {after_10} KiB");
    assert!(after_60 - after_10 <= 64, "grew from {after_10} to {after_60} KiB");
    d.pier_ok(&["rm", "-f", &plain, &probed]);
}

/// Probes run so far in this run, as the shim's record counts them.
fn count_probes(d: &Daemon, id: &str) -> u64 {
    std::fs::read(d.data_root.join("containers").join(id).join("health.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|r| r["probes"].as_u64())
        .unwrap_or(0)
}

/// CPU seconds (user + system) `pid` has used.
fn cpu_ticks(pid: i64) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 (1-based); `after` starts at field 3.
    field(11) + field(12)
}

/// Benchmark note of issue 14: 1 s healthchecks cost pierd and the shims
/// little CPU (probes themselves, `runtime exec` and the probe, excluded).
/// Measured over 20 containers and scaled to 100. The target is
/// 10 % of a core for release builds; this debug-build test (on a shared
/// machine) holds a looser 25 % so it catches regressions, not noise.
#[test]
fn one_second_healthchecks_cost_pierd_and_shims_little_cpu() {
    const N: usize = 20;
    let d = Daemon::start();
    d.import_busybox("busybox");
    let ids: Vec<String> = (0..N)
        .map(|_| {
            d.pier_ok(&[
                "run",
                "-d",
                "--health-cmd",
                "true",
                "--health-interval",
                "1s",
                "busybox",
                "sleep",
                "300",
            ])
            .trim()
            .to_string()
        })
        .collect();
    wait_for("every container healthy", Duration::from_secs(60), || {
        ids.iter().all(|id| count_probes(&d, id) >= 1)
    });
    let shim_pids: Vec<i64> = ids
        .iter()
        .map(|id| {
            let rec: Value = serde_json::from_slice(
                &std::fs::read(d.data_root.join("containers").join(id).join("container.json")).expect("record"),
            )
            .expect("parse record");
            rec["state"]["shim_pid"].as_i64().expect("shim pid")
        })
        .collect();
    let pierd = i64::from(d.pid());
    let total = || cpu_ticks(pierd) + shim_pids.iter().map(|&p| cpu_ticks(p)).sum::<u64>();
    let probes = || ids.iter().map(|id| count_probes(&d, id)).sum::<u64>();
    let (t0, p0, start) = (total(), probes(), std::time::Instant::now());
    let d0 = cpu_ticks(pierd);
    wait_for("ten seconds of probes", Duration::from_secs(60), || {
        ids.iter().all(|id| count_probes(&d, id) >= 11)
    });
    let (t1, p1, secs) = (total(), probes(), start.elapsed().as_secs_f64());
    let pierd_ticks = cpu_ticks(pierd) - d0;
    let hz = 100.0; // USER_HZ
    let share = (t1 - t0) as f64 / hz / secs;
    let scaled = share * 100.0 / N as f64;
    eprintln!(
        "{N} containers, {} probes in {secs:.1}s: pierd + shims used {:.3} of a core ({:.1} % scaled to 100 containers; pierd {pierd_ticks} ticks of {})",
        p1 - p0,
        share,
        scaled * 100.0,
        t1 - t0
    );
    assert!(scaled < 0.25, "{:.1} % of a core for 100 containers", scaled * 100.0);
    let mut rm = vec!["rm", "-f"];
    rm.extend(ids.iter().map(String::as_str));
    d.pier_ok(&rm);
}

/// An image's HEALTHCHECK (here written by `commit`, which keeps the
/// container's healthcheck as dockerd does) is probed in containers made
/// from it; `--no-healthcheck` turns it off; a request's flags override it.
#[test]
fn the_images_healthcheck_applies_and_no_healthcheck_disables_it() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.pier_ok(&[
        "run",
        "-d",
        "--name",
        "src",
        "--health-cmd",
        "echo from-image",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "300",
    ]);
    d.pier_ok(&["commit", "src", "checked:1"]);
    let img: Value = serde_json::from_str(&d.pier_ok(&["image", "inspect", "checked:1"])).expect("image inspect");
    let hc = &img[0]["Config"]["Healthcheck"];
    assert_eq!(hc["Test"], serde_json::json!(["CMD-SHELL", "echo from-image"]), "{hc}");
    assert_eq!(hc["Interval"], 200_000_000, "{hc}");
    assert_eq!(hc["Retries"], 2, "{hc}");

    d.pier_ok(&["run", "-d", "--name", "inherits", "checked:1", "sleep", "300"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "off",
        "--no-healthcheck",
        "checked:1",
        "sleep",
        "300",
    ]);
    d.pier_ok(&[
        "run",
        "-d",
        "--name",
        "overrides",
        "--health-cmd",
        "echo mine",
        "checked:1",
        "sleep",
        "300",
    ]);
    wait_for("the image's check to pass", WAIT, || {
        status(&d, "inherits") == "healthy"
    });
    assert_eq!(health(&d, "inherits")["Log"][0]["Output"], "from-image\n");
    assert_eq!(health(&d, "off"), Value::Null);
    assert_eq!(
        d.inspect("off")["Config"]["Healthcheck"]["Test"],
        serde_json::json!(["NONE"])
    );
    // The request's command, the image's interval (200 ms, not 30 s).
    wait_for("the request's check to pass", WAIT, || {
        status(&d, "overrides") == "healthy"
    });
    assert_eq!(health(&d, "overrides")["Log"][0]["Output"], "mine\n");
    d.pier_ok(&["rm", "-f", "src", "inherits", "off", "overrides"]);
}

/// A paused container's probes fail as dockerd's do (its exec is refused),
/// so it turns unhealthy; unpaused, it recovers.
#[test]
fn a_paused_container_turns_unhealthy_and_recovers() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.pier_ok(&[
        "run",
        "-d",
        "--name",
        "pz",
        "--health-cmd",
        "true",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "300",
    ]);
    wait_for("healthy", WAIT, || status(&d, "pz") == "healthy");
    let id = d.inspect("pz")["Id"].as_str().expect("id").to_string();
    d.pier_ok(&["pause", "pz"]);
    wait_for("unhealthy while paused", WAIT, || status(&d, "pz") == "unhealthy");
    let h = health(&d, "pz");
    let last = h["Log"].as_array().and_then(|l| l.last()).cloned().unwrap_or_default();
    assert_eq!(last["ExitCode"], -1, "{h}");
    assert_eq!(
        last["Output"],
        format!("Container {id} is paused, unpause the container before exec"),
        "{h}"
    );
    d.pier_ok(&["unpause", "pz"]);
    wait_for("healthy again", WAIT, || status(&d, "pz") == "healthy");
    d.pier_ok(&["rm", "-f", "pz"]);
}
