//! End-to-end: create-time limits (issue 13). Each limit is read back from
//! the container's cgroup files (found through /proc/<init>/cgroup) or from
//! inside the container; bad values get dockerd's 400 at create and leave
//! nothing behind; `--cgroup-parent` and daemon.json `cgroup-parent` place
//! the cgroup.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pier_testkit::{wait_until, Daemon};
use serde_json::{json, Value};

/// The cgroup directory of `pid` for a v1 `controller` (or the unified
/// tree on a cgroup v2 host).
fn cgroup_dir(pid: i64, controller: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("read /proc/<pid>/cgroup");
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if ctrls.split(',').any(|c| c == controller) {
            return PathBuf::from(format!("/sys/fs/cgroup/{ctrls}{path}"));
        }
    }
    panic!("no {controller} cgroup for pid {pid}: {text}")
}

fn cgroup_file(pid: i64, controller: &str, file: &str) -> String {
    let path = cgroup_dir(pid, controller).join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

fn init_pid(d: &Daemon, id: &str) -> i64 {
    d.inspect(id)["State"]["Pid"].as_i64().expect("State.Pid")
}

/// Removes the cgroup directories a test's parent made in every hierarchy
/// (runc never removes a parent), also when the test fails.
struct ParentGuard(String);

impl Drop for ParentGuard {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") else {
            return;
        };
        for e in entries.flatten() {
            let dir = e.path().join(self.0.trim_start_matches('/'));
            // Children first: the container's own cgroup is gone once it is
            // removed; a leftover empty one goes too.
            if let Ok(children) = std::fs::read_dir(&dir) {
                for c in children.flatten().filter(|c| c.path().is_dir()) {
                    let _ = std::fs::remove_dir(c.path());
                }
            }
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

#[test]
fn limits_reach_the_cgroup_files_and_inspect() {
    let d = Daemon::start();
    d.import_busybox("box");
    let out = d.pier(&[
        "run",
        "-d",
        "--name",
        "lim",
        "-m",
        "64m",
        "--memory-swap",
        "128m",
        "--memory-reservation",
        "32m",
        "--memory-swappiness",
        "10",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--pids-limit",
        "50",
        "--cpuset-cpus",
        "0",
        "--blkio-weight",
        "300",
        "--ulimit",
        "nproc=100:200",
        "--ulimit",
        "nofile=512:1024",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--sysctl",
        "kernel.shm_rmid_forced=1",
        "box",
        "sleep",
        "1000",
    ]);
    assert!(out.status.success(), "run: {}", String::from_utf8_lossy(&out.stderr));
    let id = crate::stdout(&out);
    let pid = init_pid(&d, &id);
    assert!(
        cgroup_dir(pid, "memory").ends_with(format!("pier/{id}")),
        "cgroupsPath is /pier/<id>: {}",
        cgroup_dir(pid, "memory").display()
    );
    for (ctrl, file, want) in [
        ("memory", "memory.limit_in_bytes", "67108864"),
        ("memory", "memory.memsw.limit_in_bytes", "134217728"),
        ("memory", "memory.soft_limit_in_bytes", "33554432"),
        ("memory", "memory.swappiness", "10"),
        ("cpu", "cpu.cfs_quota_us", "50000"),
        ("cpu", "cpu.cfs_period_us", "100000"),
        ("cpu", "cpu.shares", "512"),
        ("pids", "pids.max", "50"),
        ("cpuset", "cpuset.cpus", "0"),
    ] {
        assert_eq!(cgroup_file(pid, ctrl, file), want, "{ctrl}/{file}");
    }
    let limits = d.pier_ok(&["exec", &id, "cat", "/proc/self/limits"]);
    let row = |name: &str| {
        limits
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    assert!(row("Max processes").contains("100 200"), "{limits}");
    assert!(row("Max open files").contains("512 1024"), "{limits}");
    assert_eq!(
        d.pier_ok(&[
            "exec",
            &id,
            "cat",
            "/proc/sys/net/ipv4/ip_forward",
            "/proc/sys/kernel/shm_rmid_forced"
        ])
        .split_whitespace()
        .collect::<Vec<_>>(),
        ["1", "1"]
    );
    assert_eq!(
        d.pier_ok(&["exec", &id, "sh", "-c", "grep Cpus_allowed_list /proc/self/status"])
            .split_whitespace()
            .last(),
        Some("0"),
        "--cpuset-cpus pins"
    );
    let hc = &d.inspect(&id)["HostConfig"];
    assert_eq!(hc["Memory"], 67108864);
    assert_eq!(hc["MemorySwap"], 134217728);
    assert_eq!(hc["MemoryReservation"], 33554432);
    assert_eq!(hc["MemorySwappiness"], 10);
    assert_eq!(hc["NanoCpus"], 500000000);
    assert_eq!(hc["CpuShares"], 512);
    assert_eq!(hc["PidsLimit"], 50);
    assert_eq!(hc["CpusetCpus"], "0");
    assert_eq!(hc["OomKillDisable"], false);
    assert_eq!(hc["CgroupParent"], "");
    // docker's CLI sends ulimits in its map's order: compare as a set.
    let mut ulimits = hc["Ulimits"].as_array().cloned().unwrap_or_default();
    ulimits.sort_by_key(|u| u["Name"].as_str().unwrap_or_default().to_string());
    assert_eq!(
        ulimits,
        [
            json!({"Name": "nofile", "Hard": 1024, "Soft": 512}),
            json!({"Name": "nproc", "Hard": 200, "Soft": 100})
        ]
    );
    assert_eq!(
        hc["Sysctls"],
        json!({"kernel.shm_rmid_forced": "1", "net.ipv4.ip_forward": "1"})
    );
    // This kernel has no blkio.weight (bfq only): dockerd's warning, the
    // weight discarded.
    if !std::path::Path::new("/sys/fs/cgroup/blkio/blkio.weight").exists() {
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(
                "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
            ),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(hc["BlkioWeight"], 0);
    }
    let dir = cgroup_dir(pid, "memory");
    d.pier_ok(&["rm", "-f", &id]);
    assert!(!dir.exists(), "rm removes the cgroup {}", dir.display());
}

#[test]
fn defaults_without_limits_are_dockers() {
    let d = Daemon::start();
    d.import_busybox("box");
    let id = d.run("plain", "box", &["sleep", "1000"]);
    let pid = init_pid(&d, &id);
    assert_eq!(cgroup_file(pid, "pids", "pids.max"), "max");
    assert_eq!(cgroup_file(pid, "cpu", "cpu.cfs_quota_us"), "-1");
    let hc = &d.inspect(&id)["HostConfig"];
    assert_eq!(hc["Memory"], 0);
    assert_eq!(hc["MemorySwap"], 0);
    assert_eq!(hc["CpuShares"], 0);
    assert_eq!(hc["PidsLimit"], Value::Null);
    assert_eq!(hc["MemorySwappiness"], Value::Null);
    // Only -m: swap defaults to twice the memory, as dockerd.
    let out = d.docker_ok(&["run", "-d", "-m", "32m", "box", "sleep", "1000"]);
    let id = out.trim().to_string();
    let pid = init_pid(&d, &id);
    assert_eq!(cgroup_file(pid, "memory", "memory.limit_in_bytes"), "33554432");
    assert_eq!(cgroup_file(pid, "memory", "memory.memsw.limit_in_bytes"), "67108864");
    assert_eq!(
        d.docker_ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}",
            &id
        ])
        .trim(),
        "33554432 67108864"
    );
}

#[test]
fn a_fork_bomb_stops_at_the_pids_limit() {
    let d = Daemon::start();
    d.import_busybox("box");
    // The bomb runs in a child shell (a shell whose fork fails exits);
    // the init then execs, which needs no new pid.
    let id = d.pier_ok(&[
        "run",
        "-d",
        "--pids-limit",
        "20",
        "box",
        "sh",
        "-c",
        "sh -c 'for i in $(seq 1 60); do sleep 1000 & done'; exec sleep 1000",
    ]);
    let id = id.trim();
    let pid = init_pid(&d, id);
    let refused = || -> u64 {
        let events = cgroup_file(pid, "pids", "pids.events");
        events
            .strip_prefix("max ")
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    assert!(
        wait_until(Duration::from_secs(20), || refused() > 0),
        "the kernel refused no fork: {}",
        cgroup_file(pid, "pids", "pids.events")
    );
    let current: u64 = cgroup_file(pid, "pids", "pids.current").parse().expect("pids.current");
    assert!((10..=20).contains(&current), "pids.current {current}");
    assert_eq!(
        d.inspect(id)["State"]["Running"],
        true,
        "the container survives its bomb"
    );
}

#[test]
fn half_a_cpu_is_half_a_core() {
    let d = Daemon::start();
    d.import_busybox("box");
    let id = d.pier_ok(&["run", "-d", "--cpus", "0.5", "box", "sh", "-c", "while :; do :; done"]);
    let id = id.trim();
    let pid = init_pid(&d, id);
    let usage = || -> u64 {
        cgroup_file(pid, "cpuacct", "cpuacct.usage")
            .parse()
            .expect("cpuacct.usage")
    };
    // Past the first period, then a 2 s measurement window.
    assert!(wait_until(Duration::from_secs(10), || usage() > 100_000_000));
    let (u0, t0) = (usage(), Instant::now());
    std::thread::sleep(Duration::from_secs(2));
    let (u1, wall) = (usage(), t0.elapsed());
    let share = (u1 - u0) as f64 / wall.as_nanos() as f64;
    // Generous bounds: the host's two cores are shared with other work,
    // but unlimited the loop would take a whole core.
    assert!((0.15..=0.65).contains(&share), "--cpus 0.5 used {share:.3} of a core");
}

/// A create refused with `message` (HTTP 400), leaving no container.
fn refused(d: &Daemon, host_config: Value, message: &str) {
    let r = d.request_json(
        "POST",
        "/containers/create",
        &json!({"Image": "box", "Cmd": ["true"], "HostConfig": host_config}),
    );
    assert_eq!(r.status, 400, "{host_config}: {}", r.text());
    assert_eq!(r.json()["message"], message, "{host_config}");
    let (_, list) = d.http_json("GET", "/containers/json?all=1", None);
    assert_eq!(list, json!([]), "nothing left behind");
    let dirs = std::fs::read_dir(d.data_root.join("containers")).map_or(0, |r| r.count());
    assert_eq!(dirs, 0, "no container directory left behind");
}

#[test]
fn bad_values_get_dockers_400_at_create() {
    let d = Daemon::start();
    d.import_busybox("box");
    let nofile_hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit")
        .1;
    refused(
        &d,
        json!({"Memory": 67108864, "MemorySwap": 33554432}),
        "Minimum memoryswap limit should be larger than memory limit, see usage",
    );
    refused(&d, json!({"Memory": 1024}), "Minimum memory limit allowed is 6MB");
    refused(
        &d,
        json!({"NanoCpus": 500000000, "CpuQuota": 50000}),
        "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
    );
    refused(
        &d,
        json!({"Sysctls": {"vm.swappiness": "1"}}),
        "sysctl \"vm.swappiness\" is not in a separate kernel namespace",
    );
    refused(
        &d,
        json!({"CpusetCpus": "0-63"}),
        &format!(
            "Requested CPUs are not available - requested 0-63, available: {}",
            std::fs::read_to_string("/sys/fs/cgroup/cpuset/cpuset.cpus")
                .unwrap_or_default()
                .trim()
        ),
    );
    refused(
        &d,
        json!({"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]}),
        "invalid ulimit type: bogus",
    );
    // Root without CAP_SYS_RESOURCE (this host) cannot raise a hard limit.
    let caps = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = caps
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    if eff & (1 << 24) == 0 && nofile_hard != u64::MAX {
        let over = nofile_hard + 1;
        refused(
            &d,
            json!({"Ulimits": [{"Name": "nofile", "Soft": over, "Hard": over}]}),
            &format!(
                "invalid ulimit nofile: hard limit {over} is above the daemon's hard limit {nofile_hard}, which the runtime cannot raise"
            ),
        );
    }
    // The CLIs refuse what they can before sending anything.
    for cli in ["pier", "docker"] {
        let out = d
            .cli_cmd(cli, &["create", "--sysctl", "vm.swappiness=1", "box", "true"])
            .output()
            .expect("run cli");
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("sysctl 'vm.swappiness=1' is not allowed"),
            "{cli}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = d
            .cli_cmd(cli, &["create", "-m", "64m", "--memory-swap", "32m", "box", "true"])
            .output()
            .expect("run cli");
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("Minimum memoryswap limit should be larger than memory limit, see usage"),
            "{cli}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (_, list) = d.http_json("GET", "/containers/json?all=1", None);
    assert_eq!(list, json!([]));
}

#[test]
fn cgroup_parent_from_the_request_and_from_daemon_json() {
    let mine = format!("/pier-e2e-{}", std::process::id());
    let _guard = ParentGuard(mine.clone());
    let daemon_parent = format!("/pier-e2e-d{}", std::process::id());
    let _dguard = ParentGuard(daemon_parent.clone());
    let d = Daemon::builder()
        .config(&json!({"cgroup-parent": daemon_parent}).to_string())
        .start();
    d.import_busybox("box");
    let id = d.pier_ok(&["run", "-d", "--cgroup-parent", &mine, "box", "sleep", "1000"]);
    let id = id.trim().to_string();
    let pid = init_pid(&d, &id);
    assert!(
        cgroup_dir(pid, "pids").ends_with(format!("{}/{id}", mine.trim_start_matches('/'))),
        "{}",
        cgroup_dir(pid, "pids").display()
    );
    assert_eq!(d.inspect(&id)["HostConfig"]["CgroupParent"], mine.as_str());
    let other = d.run("", "box", &["sleep", "1000"]);
    let pid = init_pid(&d, &other);
    assert!(
        cgroup_dir(pid, "pids").ends_with(format!("{}/{other}", daemon_parent.trim_start_matches('/'))),
        "{}",
        cgroup_dir(pid, "pids").display()
    );
    assert_eq!(d.inspect(&other)["HostConfig"]["CgroupParent"], "");
    d.pier_ok(&["rm", "-f", &id, &other]);
}
