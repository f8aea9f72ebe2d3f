//! End-to-end: live operations on a running container (issue 13): pause
//! and unpause through the runtime's freezer, the paused state everywhere
//! (inspect, ps, filters, exec refused, stop/kill/rm -f thaw, restore),
//! commit pausing as docker does, and top.

use std::path::PathBuf;
use std::time::Duration;

use pier_testkit::{wait_until, Daemon};

fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A container printing a line every 50 ms that exits 0 on SIGTERM.
const TICKER: &str = "trap 'exit 0' TERM; while true; do echo tick; sleep 0.05; done";

fn ticker(d: &Daemon, name: &str) -> String {
    d.pier_ok(&["run", "-d", "--name", name, "busybox", "sh", "-c", TICKER])
        .trim()
        .to_string()
}

/// The container's freezer cgroup directory, from its init's
/// `/proc/<pid>/cgroup`.
fn freezer_dir(d: &Daemon, id: &str) -> PathBuf {
    cgroup_dir(d, id, "freezer")
}

/// The container's cgroup directory in the v1 hierarchy of `ctrl`.
fn cgroup_dir(d: &Daemon, id: &str, ctrl: &str) -> PathBuf {
    let pid = d.inspect(id)["State"]["Pid"].as_i64().expect("pid");
    let table = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup table");
    let path = table
        .lines()
        .find_map(|l| {
            let mut parts = l.splitn(3, ':');
            parts.next()?;
            let ctrls = parts.next()?;
            ctrls.split(',').any(|c| c == ctrl).then(|| parts.next())?
        })
        .expect("controller line");
    PathBuf::from("/sys/fs/cgroup")
        .join(ctrl)
        .join(path.trim_start_matches('/'))
}

fn freezer_state(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("freezer.state"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn pause_freezes_and_unpause_resumes() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = ticker(&d, "tk");
    assert!(wait_until(Duration::from_secs(10), || d.log_lines(&id) > 2));
    let freezer = freezer_dir(&d, &id);
    assert_eq!(d.pier_ok(&["pause", "tk"]).trim(), "tk");
    assert_eq!(freezer_state(&freezer), "FROZEN");
    let st = &d.inspect(&id)["State"];
    assert_eq!(st["Status"], "paused", "{st}");
    assert_eq!(
        (st["Paused"].as_bool(), st["Running"].as_bool()),
        (Some(true), Some(true))
    );
    // Frozen: no line is written over half a second (an observation
    // window, not a wait for a state).
    let before = d.log_lines(&id);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(d.log_lines(&id), before, "the counter moved while paused");
    let ps = d.pier_ok(&["ps"]);
    assert!(ps.contains("(Paused)"), "{ps}");
    let filtered = d.pier_ok(&["ps", "-q", "--filter", "status=paused"]);
    assert_eq!(filtered.trim(), &id[..12]);
    assert!(d.pier_ok(&["ps", "-q", "--filter", "status=running"]).trim().is_empty());
    let info = d.request("GET", "/info", None).json();
    assert_eq!(
        (info["ContainersPaused"].as_i64(), info["ContainersRunning"].as_i64()),
        (Some(1), Some(0))
    );

    // What docker refuses on a paused container, in its words.
    let r = d.request_json("POST", "/containers/tk/exec", &serde_json::json!({"Cmd": ["true"]}));
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        "Container tk is paused, unpause the container before exec"
    );
    let o = d.pier(&["exec", "tk", "true"]);
    assert!(!o.status.success());
    assert!(
        err(&o).contains("is paused, unpause the container before exec"),
        "{}",
        err(&o)
    );
    let r = d.request("POST", "/containers/tk/pause", None);
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["message"], format!("container {id} is already paused"));
    let r = d.request("DELETE", "/containers/tk", None);
    assert_eq!(r.status, 409);
    assert!(
        r.text().contains("container is paused and must be unpaused first"),
        "{}",
        r.text()
    );

    // The paused state survives a daemon restart.
    let mut d = d;
    d.stop();
    d.start_again();
    assert_eq!(d.inspect(&id)["State"]["Status"], "paused");

    assert_eq!(d.pier_ok(&["unpause", "tk"]).trim(), "tk");
    assert_eq!(freezer_state(&freezer), "THAWED");
    assert!(wait_until(Duration::from_secs(10), || d.log_lines(&id) > before + 2));
    let st = &d.inspect(&id)["State"];
    assert_eq!(
        (st["Status"].as_str(), st["Paused"].as_bool()),
        (Some("running"), Some(false))
    );
    let r = d.request("POST", "/containers/tk/unpause", None);
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["message"], format!("Container {id} is not paused"));

    // stop thaws: the stop signal is delivered (the trap exits 0), no
    // SIGKILL needed.
    d.pier_ok(&["pause", "tk"]);
    d.pier_ok(&["stop", "-t", "30", "tk"]);
    let st = &d.inspect(&id)["State"];
    assert_eq!(
        (st["ExitCode"].as_i64(), st["Paused"].as_bool()),
        (Some(0), Some(false)),
        "{st}"
    );
    assert_eq!(st["Status"], "exited");
    let r = d.request("POST", "/containers/tk/pause", None);
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["message"], format!("container {id} is not running"));

    // restart of a paused container: stopped (thawed), started, not paused.
    d.pier_ok(&["start", "tk"]);
    d.pier_ok(&["pause", "tk"]);
    d.pier_ok(&["restart", "-t", "30", "tk"]);
    let st = &d.inspect(&id)["State"];
    assert_eq!(
        (st["Status"].as_str(), st["Paused"].as_bool()),
        (Some("running"), Some(false)),
        "{st}"
    );
    d.pier_ok(&["stop", "-t", "30", "tk"]);

    // kill and rm -f of a paused container.
    let k = ticker(&d, "kk");
    d.pier_ok(&["pause", "kk"]);
    d.pier_ok(&["kill", "kk"]);
    assert_eq!(d.pier_ok(&["wait", "kk"]).trim(), "137");
    let f = ticker(&d, "ff");
    let freezer = freezer_dir(&d, &f);
    d.pier_ok(&["pause", "ff"]);
    d.pier_ok(&["rm", "-f", "ff"]);
    assert!(!freezer.exists(), "cgroup {} left behind", freezer.display());
    let left: Vec<String> = d.pier_ok(&["ps", "-aq"]).lines().map(str::to_string).collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(!left.contains(&f[..12].to_string()));
    d.pier_ok(&["rm", &k, &id]);
}

#[test]
fn docker_cli_pauses_and_tops() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d
        .docker_ok(&["run", "-d", "--name", "dk", "busybox", "sleep", "1000"])
        .trim()
        .to_string();
    d.docker_ok(&["pause", "dk"]);
    let ps = d.docker_ok(&["ps", "--format", "{{.Status}}"]);
    assert!(ps.trim().ends_with("(Paused)"), "{ps}");
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "dk"])
            .trim(),
        "paused true"
    );
    let o = d.docker(&["exec", "dk", "true"]);
    assert!(!o.status.success());
    assert!(
        err(&o).contains("Container dk is paused, unpause the container before exec"),
        "{}",
        err(&o)
    );
    // top works on a paused container too.
    let top = d.docker_ok(&["top", "dk"]);
    assert!(top.starts_with("UID"), "{top}");
    assert!(top.contains("sleep 1000"), "{top}");
    d.docker_ok(&["unpause", "dk"]);
    let top = d.docker_ok(&["top", "dk", "-o", "pid,comm"]);
    let lines: Vec<&str> = top.lines().collect();
    assert_eq!(lines.len(), 2, "{top}");
    assert!(lines[0].starts_with("PID") && lines[1].ends_with("sleep"), "{top}");
    let pid = d.inspect(&id)["State"]["Pid"].as_i64().expect("pid");
    assert_eq!(lines[1].split_whitespace().next(), Some(pid.to_string().as_str()));
    d.docker_ok(&["rm", "-f", "dk"]);
}

#[test]
fn top_lists_only_the_containers_processes() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d
        .pier_ok(&[
            "run",
            "-d",
            "--name",
            "tp",
            "busybox",
            "sh",
            "-c",
            "sleep 1001 & sleep 1002",
        ])
        .trim()
        .to_string();
    let mut top = String::new();
    assert!(wait_until(Duration::from_secs(10), || {
        top = d.pier_ok(&["top", "tp"]);
        top.contains("sleep 1001") && top.contains("sleep 1002")
    }));
    // The two sleeps (sh exec'd the last one): nothing from the host.
    assert_eq!(top.lines().count(), 3, "{top}");
    let header = top.lines().next().unwrap_or("");
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    let aux = d.pier_ok(&["top", "tp", "aux"]);
    assert!(aux.starts_with("USER"), "{aux}");
    assert_eq!(aux.lines().count(), 3, "{aux}");
    // ps's own complaint, as a 500.
    let r = d.request("GET", "/containers/tp/top?ps_args=--nosuchopt", None);
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["message"], "ps: error: unknown gnu long option");
    let r = d.request("GET", "/containers/tp/top?ps_args=-o%20user=PID", None);
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["message"], "specifying \"user=PID\" is not allowed");
    d.pier_ok(&["kill", "tp"]);
    d.pier_ok(&["wait", "tp"]);
    let r = d.request("GET", "/containers/tp/top", None);
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["message"], format!("container {id} is not running"));
    let o = d.pier(&["top", "nosuch"]);
    assert!(err(&o).contains("No such container: nosuch"), "{}", err(&o));
}

#[test]
fn commit_pauses_a_running_container_and_thaws_it() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = ticker(&d, "cm");
    assert!(wait_until(Duration::from_secs(10), || d.log_lines(&id) > 2));
    let img = d.pier_ok(&["commit", "cm", "snap:1"]).trim().to_string();
    assert!(img.starts_with("sha256:"), "{img}");
    assert!(d.daemon_log().contains("container paused"), "commit did not pause");
    let st = &d.inspect(&id)["State"];
    assert_eq!(
        (st["Status"].as_str(), st["Paused"].as_bool()),
        (Some("running"), Some(false))
    );
    let lines = d.log_lines(&id);
    assert!(wait_until(Duration::from_secs(10), || d.log_lines(&id) > lines + 2));
    // A paused container stays paused; --pause=false commits without one.
    d.pier_ok(&["pause", "cm"]);
    d.pier_ok(&["commit", "cm", "snap:2"]);
    assert_eq!(d.inspect(&id)["State"]["Status"], "paused");
    d.pier_ok(&["unpause", "cm"]);
    let r = d.request_json(
        "POST",
        "/commit?container=cm&repo=snap&tag=3&pause=0",
        &serde_json::json!({}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(d.inspect(&id)["State"]["Status"], "running");
    d.pier_ok(&["rm", "-f", "cm"]);
}

fn cg(dir: &std::path::Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {}/{file}: {e}", dir.display()))
        .trim()
        .to_string()
}

const MIB: i64 = 1024 * 1024;

#[test]
fn update_changes_a_running_containers_limits() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d
        .pier_ok(&["run", "-d", "--name", "up", "-m", "64m", "busybox", "sleep", "1000"])
        .trim()
        .to_string();
    let mem = cgroup_dir(&d, &id, "memory");
    assert_eq!(cg(&mem, "memory.limit_in_bytes"), (64 * MIB).to_string());
    assert_eq!(
        d.pier_ok(&[
            "update",
            "-m",
            "128m",
            "--memory-swap",
            "256m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "20",
            "up"
        ])
        .trim(),
        "up"
    );
    assert_eq!(cg(&mem, "memory.limit_in_bytes"), (128 * MIB).to_string());
    assert_eq!(cg(&mem, "memory.memsw.limit_in_bytes"), (256 * MIB).to_string());
    let cpu = cgroup_dir(&d, &id, "cpu");
    assert_eq!(
        (cg(&cpu, "cpu.cfs_period_us"), cg(&cpu, "cpu.cfs_quota_us")),
        ("100000".into(), "50000".into())
    );
    let pids = cgroup_dir(&d, &id, "pids");
    assert_eq!(cg(&pids, "pids.max"), "20");
    let hc = &d.inspect(&id)["HostConfig"];
    assert_eq!(
        (hc["Memory"].as_i64(), hc["MemorySwap"].as_i64()),
        (Some(128 * MIB), Some(256 * MIB))
    );
    assert_eq!(
        (hc["NanoCpus"].as_i64(), hc["PidsLimit"].as_i64()),
        (Some(500_000_000), Some(20))
    );

    // Refused before anything is written, with docker's words.
    let refuse = |body: serde_json::Value, status: u16, message: &str| {
        let r = d.request_json("POST", "/containers/up/update", &body);
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert_eq!(r.json()["message"], message, "{body}");
    };
    refuse(
        serde_json::json!({"Memory": MIB}),
        400,
        "Minimum memory limit allowed is 6MB",
    );
    refuse(
        serde_json::json!({"MemorySwap": 32 * MIB}),
        400,
        "Minimum memoryswap limit should be larger than memory limit, see usage",
    );
    refuse(
        serde_json::json!({"Memory": 512 * MIB}),
        409,
        &format!("Cannot update container {id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"),
    );
    refuse(
        serde_json::json!({"CpuQuota": 20000}),
        409,
        &format!("Cannot update container {id}: Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"),
    );
    refuse(
        serde_json::json!({"RestartPolicy": {"Name": "sometimes"}}),
        400,
        "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
    );
    assert_eq!(cg(&mem, "memory.limit_in_bytes"), (128 * MIB).to_string());
    assert_eq!(cg(&mem, "memory.memsw.limit_in_bytes"), (256 * MIB).to_string());
    let o = d.pier(&["update", "up"]);
    assert!(err(&o).contains("you must provide one or more flags"), "{}", err(&o));

    // A paused container is updated and stays paused.
    d.pier_ok(&["pause", "up"]);
    d.pier_ok(&["update", "--pids-limit", "30", "--restart", "on-failure:2", "up"]);
    assert_eq!(cg(&pids, "pids.max"), "30");
    assert_eq!(freezer_state(&freezer_dir(&d, &id)), "FROZEN");
    d.pier_ok(&["unpause", "up"]);
    let hc = &d.inspect(&id)["HostConfig"];
    assert_eq!(
        hc["RestartPolicy"],
        serde_json::json!({"Name": "on-failure", "MaximumRetryCount": 2})
    );

    // Stored: the next start applies the updated limits; a stopped
    // container's update waits for it.
    d.pier_ok(&["stop", "-t", "0", "up"]);
    d.pier_ok(&["update", "--pids-limit", "-1", "--cpu-shares", "512", "up"]);
    d.pier_ok(&["start", "up"]);
    let mem = cgroup_dir(&d, &id, "memory");
    assert_eq!(cg(&mem, "memory.limit_in_bytes"), (128 * MIB).to_string());
    assert_eq!(cg(&cgroup_dir(&d, &id, "pids"), "pids.max"), "max");
    assert_eq!(cg(&cgroup_dir(&d, &id, "cpu"), "cpu.shares"), "512");
    assert!(d.inspect(&id)["HostConfig"]["PidsLimit"].is_null());
    d.pier_ok(&["rm", "-f", "up"]);
}

#[test]
fn docker_cli_updates() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d
        .docker_ok(&["run", "-d", "--name", "dku", "busybox", "sleep", "1000"])
        .trim()
        .to_string();
    let out = d.docker_ok(&[
        "update",
        "--memory",
        "200m",
        "--memory-swap",
        "400m",
        "--cpu-shares",
        "256",
        "dku",
    ]);
    assert_eq!(out.trim(), "dku");
    assert_eq!(
        d.docker_ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}}",
            "dku"
        ])
        .trim(),
        format!("{} {} 256", 200 * MIB, 400 * MIB)
    );
    assert_eq!(
        cg(&cgroup_dir(&d, &id, "memory"), "memory.limit_in_bytes"),
        (200 * MIB).to_string()
    );
    // This host has no blkio.weight: docker's warning, the weight discarded.
    let o = d.docker(&["update", "--blkio-weight", "300", "dku"]);
    assert!(o.status.success(), "{}", err(&o));
    let both = format!("{}{}", String::from_utf8_lossy(&o.stdout), err(&o));
    assert!(both.contains("Weight discarded"), "{both}");
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.HostConfig.BlkioWeight}}", "dku"])
            .trim(),
        "0"
    );
    let o = d.docker(&["update", "--memory", "1m", "dku"]);
    assert!(!o.status.success());
    assert!(err(&o).contains("Minimum memory limit allowed is 6MB"), "{}", err(&o));
    d.docker_ok(&["rm", "-f", "dku"]);
}
