//! End-to-end: usage (issue 13): `GET /containers/{id}/stats` read from the
//! container's cgroup, `pier stats`, `GET /system/df` and `pier system df`,
//! and the docker CLI's `stats --no-stream` and `system df` against them.

use std::time::Duration;

use pier_testkit::{wait_until, Daemon};

const BUSY: &[&str] = &["sh", "-c", "while :; do :; done"];

fn json_of(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("json {text:?}: {e}"))
}

#[test]
fn stats_stream_two_samples_with_growing_cpu() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d.run("busy", "busybox", BUSY);
    let mut samples = d.client().container_stats("busy", true).expect("stats stream");
    let first = samples.next().expect("first sample").expect("decode");
    let second = samples.next().expect("second sample").expect("decode");
    drop(samples);

    assert_eq!(first.id, id);
    assert_eq!(first.name, "/busy");
    assert_eq!(
        first.preread,
        pier_api::stats::ZERO_TIME,
        "the first sample has no previous one"
    );
    assert_eq!(first.precpu_stats.cpu_usage.total_usage, 0);
    let (c1, c2) = (
        first.cpu_stats.cpu_usage.total_usage,
        second.cpu_stats.cpu_usage.total_usage,
    );
    assert!(c1 > 0 && c2 > c1, "cpu usage grows: {c1} then {c2}");
    assert_eq!(second.precpu_stats, first.cpu_stats, "precpu is the previous sample");
    assert_eq!(second.preread, first.read);
    let t1 = pier_time::parse_rfc3339(&first.read).expect("read time");
    let t2 = pier_time::parse_rfc3339(&second.read).expect("read time");
    let gap = Duration::from_nanos(u64::try_from(t2 - t1).expect("ordered"));
    assert!(
        gap >= Duration::from_millis(900) && gap < Duration::from_secs(3),
        "one sample per second: {gap:?}"
    );
    // The loop keeps a core busy: well above nothing between the samples
    // (generous: the tests share two cores with each other).
    let sys = second.cpu_stats.system_cpu_usage - first.cpu_stats.system_cpu_usage;
    let pct = (c2 - c1) as f64 / sys as f64 * f64::from(second.cpu_stats.online_cpus) * 100.0;
    assert!(pct > 5.0, "busy loop at {pct:.1}% of a core");
    assert!(second.cpu_stats.online_cpus > 0);
    assert!(second.memory_stats.usage > 0 && second.memory_stats.limit > 0);
    assert_eq!(second.pids_stats.current, 1, "sh alone");
    assert!(second.blkio_stats.io_service_bytes_recursive.is_some());
    let v1 = !std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    if v1 {
        assert!(second
            .memory_stats
            .stats
            .as_ref()
            .is_some_and(|s| s.contains_key("total_inactive_file")));
        assert_eq!(
            second.cpu_stats.cpu_usage.percpu_usage.as_ref().map(Vec::len),
            Some(second.cpu_stats.online_cpus as usize)
        );
    }
    d.pier_ok(&["rm", "-f", &id]);
}

#[test]
fn stats_once_one_shot_stopped_and_bad_requests() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d.run("sleeper", "busybox", &["sleep", "1000"]);

    // stream=false waits for a second sample to fill precpu_stats.
    let r = d.request("GET", "/containers/sleeper/stats?stream=false", None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let v = json_of(&r.text());
    assert_ne!(v["preread"], pier_api::stats::ZERO_TIME, "{v}");
    assert!(v["precpu_stats"]["system_cpu_usage"].as_u64().unwrap_or(0) > 0, "{v}");
    assert_eq!(v["pids_stats"]["current"], 1);

    // one-shot: a single sample, no previous one.
    let v = json_of(
        &d.request("GET", "/containers/sleeper/stats?stream=0&one-shot=1", None)
            .text(),
    );
    assert_eq!(v["preread"], pier_api::stats::ZERO_TIME, "{v}");
    assert!(
        v["cpu_stats"]["cpu_usage"]["total_usage"].as_u64().unwrap_or(0) > 0,
        "{v}"
    );

    let r = d.request("GET", "/containers/sleeper/stats?stream=1&one-shot=1", None);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["message"], "cannot have stream=true and one-shot=true");
    let r = d.request("GET", "/containers/nope/stats?stream=0", None);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "No such container: nope");

    // A paused container is still sampled (its cgroup is frozen, not gone).
    d.pier_ok(&["pause", "sleeper"]);
    let v = json_of(
        &d.request("GET", "/containers/sleeper/stats?stream=0&one-shot=1", None)
            .text(),
    );
    assert_eq!(v["pids_stats"]["current"], 1, "{v}");
    d.pier_ok(&["unpause", "sleeper"]);

    // A stopped container: docker's empty sample, id and name only.
    d.pier_ok(&["stop", "-t", "0", &id]);
    let v = json_of(&d.request("GET", "/containers/sleeper/stats?stream=0", None).text());
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["name"], "/sleeper");
    assert_eq!(v["read"], pier_api::stats::ZERO_TIME);
    assert_eq!(v["memory_stats"], serde_json::json!({}));
    assert_eq!(v["blkio_stats"]["io_service_bytes_recursive"], serde_json::Value::Null);
    d.pier_ok(&["rm", "-f", &id]);
}

#[test]
fn a_stats_stream_ends_when_its_container_is_removed() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d.run("gone", "busybox", &["sleep", "1000"]);
    let pid = d.inspect(&id)["State"]["Pid"].as_i64().expect("pid");
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    let memory = cgroups
        .lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string()))
        .map(|p| std::path::PathBuf::from(format!("/sys/fs/cgroup/memory{p}")));
    let mut samples = d.client().container_stats("gone", true).expect("stats stream");
    assert!(samples.next().is_some_and(|s| s.is_ok()));
    assert!(
        samples.next().is_some_and(|s| s.is_ok()),
        "files kept open for the second sample"
    );
    d.pier_ok(&["rm", "-f", &id]);
    // The files the stream holds open do not keep the cgroup alive.
    if let Some(dir) = memory {
        assert!(!dir.exists(), "{} removed while a stream is open", dir.display());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rest = samples.by_ref().count();
        let _ = tx.send(rest);
    });
    let rest = rx.recv_timeout(Duration::from_secs(10)).expect("the stream ended");
    assert!(rest <= 3, "a few samples at most after rm: {rest}");
}

#[test]
fn pier_stats_table_and_format() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let busy = d.run("busy", "busybox", BUSY);
    let idle = d.create("idle", "busybox", &["true"]);

    let out = d.pier_ok(&["stats", "--no-stream", "busy"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O"),
        "{out}"
    );
    assert!(lines[0].ends_with("PIDS"), "{out}");
    assert!(lines[1].starts_with(&format!("{}   busy ", &busy[..12])), "{out}");
    assert!(lines[1].ends_with(" 1"), "one pid: {out}");
    assert!(!out.contains('\x1b'), "no escapes when not streaming: {out:?}");

    let out = d.pier_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}} {{.CPUPerc}}",
        "busy",
    ]);
    let (name_pids, cpu) = out.trim().rsplit_once(' ').expect("three fields");
    assert_eq!(name_pids, "busy 1");
    let cpu: f64 = cpu.trim_end_matches('%').parse().expect("cpu percent");
    assert!(cpu > 20.0, "busy loop: {cpu}%");

    // Without names: running containers; -a adds the others.
    let out = d.pier_ok(&["stats", "--no-stream", "--format", "{{.Name}}"]);
    assert_eq!(out, "busy\n");
    let mut all: Vec<String> = d
        .pier_ok(&["stats", "--no-stream", "-a", "--format", "{{.Name}}"])
        .lines()
        .map(str::to_string)
        .collect();
    all.sort();
    assert_eq!(all, ["busy", "idle"]);

    let out = d.pier(&["stats", "--no-stream", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "Error response from daemon: No such container: nope"
    );
    d.pier_ok(&["rm", "-f", &busy, &idle]);
}

#[test]
fn system_df_sizes() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.pier_ok(&["volume", "create", "data"]);
    let writer = d
        .pier_ok(&[
            "run",
            "-d",
            "-v",
            "data:/data",
            "busybox",
            "sh",
            "-c",
            "dd if=/dev/zero of=/big bs=1k count=100 && dd if=/dev/zero of=/data/f bs=1k count=50",
        ])
        .trim()
        .to_string();
    d.wait_exited(&writer, Duration::from_secs(20));
    let (st, v) = d.http_json("GET", "/system/df", None);
    assert_eq!(st, 200, "{v}");
    let images = v["Images"].as_array().expect("images");
    assert_eq!(images.len(), 1, "{v}");
    let layers = v["LayersSize"].as_i64().expect("LayersSize");
    assert!(layers > 1_000_000, "busybox is more than 1 MB: {v}");
    assert_eq!(images[0]["Size"].as_i64(), Some(layers));
    assert_eq!(images[0]["SharedSize"], 0);
    assert_eq!(images[0]["Containers"], 1);
    let c = &v["Containers"][0];
    assert_eq!(c["Id"], writer.as_str());
    let rw = c["SizeRw"].as_i64().expect("SizeRw");
    assert!(rw >= 100_000, "the container wrote 100 kB: {c}");
    assert_eq!(c["SizeRootFs"].as_i64(), Some(rw + layers));
    let vol = &v["Volumes"][0];
    assert_eq!(vol["Name"], "data");
    assert_eq!(vol["UsageData"]["RefCount"], 1);
    assert!(vol["UsageData"]["Size"].as_i64().unwrap_or(0) >= 50_000, "{vol}");
    assert_eq!(v["BuildCache"], serde_json::json!([]));

    // `ps -s`: the same sizes through the container list.
    let (st, list) = d.http_json("GET", "/containers/json?all=1&size=1", None);
    assert_eq!(st, 200);
    assert_eq!(list[0]["SizeRw"].as_i64(), Some(rw), "{list}");
    assert_eq!(list[0]["SizeRootFs"].as_i64(), Some(rw + layers), "{list}");
    let (_, list) = d.http_json("GET", "/containers/json?all=1", None);
    assert!(list[0].get("SizeRw").is_none(), "no sizes unless asked: {list}");
    let out = d.docker_ok(&["ps", "-a", "-s", "--format", "{{.Size}}"]);
    assert!(out.trim().ends_with(')') && out.contains("(virtual "), "{out}");

    let (st, v) = d.http_json("GET", "/system/df?type=volume", None);
    assert_eq!(st, 200);
    assert_eq!(v["Images"], serde_json::Value::Null);
    assert_eq!(v["Volumes"].as_array().map(Vec::len), Some(1));
    let (st, v) = d.http_json("GET", "/system/df?type=bogus", None);
    assert_eq!(st, 400);
    assert_eq!(v["message"], "unknown object type: bogus");

    for cli in ["pier", "docker"] {
        let out =
            String::from_utf8_lossy(&d.cli_cmd(cli, &["system", "df"]).output().expect("run").stdout).into_owned();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 5, "{cli}: {out}");
        assert!(
            lines[0].starts_with("TYPE            TOTAL     ACTIVE    SIZE"),
            "{cli}: {out}"
        );
        assert!(lines[1].starts_with("Images          1         1 "), "{cli}: {out}");
        assert!(lines[2].starts_with("Containers      1         0 "), "{cli}: {out}");
        assert!(lines[3].starts_with("Local Volumes   1         1 "), "{cli}: {out}");
        assert!(lines[4].starts_with("Build Cache     0         0 "), "{cli}: {out}");
        let verbose = String::from_utf8_lossy(&d.cli_cmd(cli, &["system", "df", "-v"]).output().expect("run").stdout)
            .into_owned();
        assert!(
            verbose.starts_with("Images space usage:\n\nREPOSITORY"),
            "{cli}: {verbose}"
        );
        assert!(verbose.contains("\nContainers space usage:\n\n"), "{cli}: {verbose}");
        assert!(
            verbose.contains("\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\ndata          1 "),
            "{cli}: {verbose}"
        );
        assert!(verbose.contains("\nBuild cache usage: 0B\n"), "{cli}: {verbose}");
    }
    d.pier_ok(&["rm", "-f", &writer]);
}

#[test]
fn docker_cli_stats_no_stream() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d.run("busy", "busybox", BUSY);
    // Let the loop run so the CPU column is not 0.
    assert!(wait_until(Duration::from_secs(5), || {
        d.docker_ok(&["stats", "--no-stream", "--format", "{{.CPUPerc}}", "busy"])
            .trim()
            != "0.00%"
    }));
    let out = d.docker_ok(&["stats", "--no-stream", "busy"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT"),
        "{out}"
    );
    assert!(lines[1].starts_with(&format!("{}   busy ", &id[..12])), "{out}");
    assert!(lines[1].ends_with(" 1"), "{out}");
    let out = d.docker_ok(&["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}"]);
    assert_eq!(out.trim(), "busy 1");
    d.pier_ok(&["rm", "-f", &id]);
}

/// On a terminal the table is redrawn in place: one header on the screen
/// however many refreshes went by, with live numbers (pier and docker).
#[test]
fn stats_redraw_in_place_on_a_terminal() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d.run("busy", "busybox", BUSY);
    let lines = [
        format!("{} -H {} stats busy", pier_testkit::bins().pier.display(), d.host()),
        format!(
            "env DOCKER_HOST={} DOCKER_CONFIG={} docker stats busy",
            d.host(),
            d.root.join("docker-config").display()
        ),
    ];
    for line in lines {
        let t = crate::tmux::Tmux::start(&line);
        let busy_row = |screen: &str| {
            screen
                .lines()
                .find(|l| l.starts_with(&id[..12]))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|cpu| cpu.trim_end_matches('%').parse::<f64>().ok())
                .is_some_and(|cpu| cpu > 10.0)
        };
        assert!(
            wait_until(Duration::from_secs(15), || busy_row(&t.screen())),
            "{line}: no live row: {}",
            t.screen()
        );
        // Wait for further refreshes: the row changes with each sample.
        let row = |screen: &str| screen.lines().find(|l| l.starts_with(&id[..12])).map(str::to_string);
        for _ in 0..2 {
            let before = row(&t.screen());
            assert!(
                wait_until(Duration::from_secs(10), || row(&t.screen()) != before),
                "{line}: no refresh: {}",
                t.screen()
            );
        }
        let screen = t.screen();
        assert_eq!(
            screen.matches("CONTAINER ID").count(),
            1,
            "{line}: redrawn in place:\n{screen}"
        );
        assert_eq!(screen.lines().filter(|l| l.contains(" busy ")).count(), 1, "{screen}");
        t.keys(&["C-c"]);
    }
    d.pier_ok(&["rm", "-f", &id]);
}
