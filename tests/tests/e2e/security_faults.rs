//! End-to-end: faults leave nothing behind (issue 12, item 7). A shim killed
//! with SIGKILL leaves its container to the runtime: pierd shows the
//! runtime's real state with a `State.Error`, and stop / `rm -f` end the
//! container's processes, cgroup and mounts through the runtime. A stopped
//! (SIGSTOP) shim does not stall a daemon restart. A create on a full data
//! root fails with the cause and leaves no directory, volume or mount.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pier_testkit::process::{alive, signal, Signal};
use pier_testkit::{wait_for, wait_until, Daemon};

/// The pid of container `id`'s shim (its command line names its shim.json).
fn shim_pid(d: &Daemon, id: &str) -> i32 {
    let needle = format!("{id}/shim.json");
    let pids: Vec<i32> = d
        .our_processes()
        .into_iter()
        .filter(|p| pier_testkit::process::cmdline(*p).is_some_and(|c| c.contains(&needle)))
        .collect();
    assert_eq!(pids.len(), 1, "expected one shim for {id}, found {pids:?}");
    pids[0]
}

fn state(d: &Daemon, id: &str) -> serde_json::Value {
    d.inspect(id)["State"].clone()
}

fn error_of(d: &Daemon, id: &str) -> String {
    state(d, id)["Error"].as_str().unwrap_or_default().to_string()
}

/// The pids-controller cgroup directory of `pid` (cgroup v1), or its
/// unified one (v2).
fn cgroup_dir(pid: i32) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("read /proc/<pid>/cgroup");
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if ctrls.split(',').any(|c| c == "pids") {
            return Path::new("/sys/fs/cgroup/pids").join(path.trim_start_matches('/'));
        }
    }
    let path = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a pids or unified cgroup line");
    Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'))
}

/// Whether the runtime still knows container `id`.
fn runtime_knows(d: &Daemon, id: &str) -> bool {
    Command::new("runc")
        .arg("--root")
        .arg(d.exec_root.join("runc"))
        .args(["state", id])
        .output()
        .expect("run runc state")
        .status
        .success()
}

fn mounts_of(d: &Daemon, id: &str) -> Vec<String> {
    d.our_mounts().into_iter().filter(|m| m.contains(id)).collect()
}

/// The container's processes, cgroup, mounts and runtime state are gone
/// (the rootfs is unmounted just after the exit is published: waited for).
fn assert_nothing_left(d: &Daemon, id: &str, pid: i32, cgroup: &Path) {
    let gone = wait_until(Duration::from_secs(5), || {
        !alive(pid) && !cgroup.exists() && mounts_of(d, id).is_empty() && !runtime_knows(d, id)
    });
    assert!(
        gone,
        "left of {id}: process {pid} alive {}, cgroup {} exists {}, mounts {:?}, known to the runtime {}",
        alive(pid),
        cgroup.display(),
        cgroup.exists(),
        mounts_of(d, id),
        runtime_knows(d, id)
    );
}

#[test]
fn a_killed_shim_leaves_the_container_to_the_runtime_and_nothing_behind() {
    let mut d = Daemon::start();
    d.import_busybox("busybox");
    let a = d.run("lost-a", "busybox", &["sleep", "1000"]);
    let b = d.run("lost-b", "busybox", &["sleep", "1000"]);
    let pid = |id: &str| state(&d, id)["Pid"].as_i64().expect("Pid") as i32;
    let (pa, pb) = (pid(&a), pid(&b));
    let (cga, cgb) = (cgroup_dir(pa), cgroup_dir(pb));
    assert!(cga.is_dir() && cgb.is_dir(), "{} {}", cga.display(), cgb.display());
    for id in [&a, &b] {
        signal(shim_pid(&d, id), Signal::SIGKILL);
    }

    // Shown as the runtime sees it: running, same pid, with the reason.
    wait_for("State.Error of a lost shim", Duration::from_secs(10), || {
        error_of(&d, &a).contains("shim lost")
    });
    let st = state(&d, &a);
    assert_eq!(
        (st["Status"].as_str(), st["Running"].as_bool()),
        (Some("running"), Some(true)),
        "{st}"
    );
    assert_eq!(st["Pid"], pa, "{st}");
    assert!(alive(pa));

    // A restarted daemon finds the same.
    d.stop();
    d.start_again();
    wait_for("State.Error after restart", Duration::from_secs(10), || {
        error_of(&d, &b).contains("shim lost")
    });
    let st = state(&d, &b);
    assert_eq!(
        (st["Running"].as_bool(), &st["Pid"]),
        (Some(true), &serde_json::json!(pb)),
        "{st}"
    );
    let list = d.request("GET", "/containers/json", None).json();
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");

    // stop ends it through the runtime: exited, nothing left; then rm.
    let t = Instant::now();
    let r = d.request("POST", &format!("/containers/{a}/stop?t=1"), None);
    assert_eq!(r.status, 204, "stop: {}", r.text());
    assert!(t.elapsed() < Duration::from_secs(10), "stop took {:?}", t.elapsed());
    let st = state(&d, &a);
    assert_eq!(st["Running"], false, "{st}");
    assert!(st["Error"].as_str().is_some_and(|e| e.contains("shim lost")), "{st}");
    assert_nothing_left(&d, &a, pa, &cga);
    let r = d.request("DELETE", &format!("/containers/{a}"), None);
    assert_eq!(r.status, 204, "rm: {}", r.text());

    // rm -f ends it through the runtime and drops the record only then.
    let r = d.request("DELETE", &format!("/containers/{b}?force=1"), None);
    assert_eq!(r.status, 204, "rm -f: {}", r.text());
    assert_nothing_left(&d, &b, pb, &cgb);
    assert!(!d.data_root.join("containers").join(&b).exists());
    assert_eq!(d.request("GET", &format!("/containers/{b}/json"), None).status, 404);
}

/// SIGCONTs a stopped shim when the test ends, whatever happened.
struct Resume(i32);

impl Drop for Resume {
    fn drop(&mut self) {
        signal(self.0, Signal::SIGCONT);
    }
}

#[test]
fn a_stopped_shim_does_not_stall_a_restart() {
    let mut d = Daemon::start();
    d.import_busybox("busybox");
    let stuck = d.run("stuck", "busybox", &["sleep", "1000"]);
    let shim = shim_pid(&d, &stuck);
    signal(shim, Signal::SIGSTOP);
    let resume = Resume(shim);
    d.stop();

    let t = Instant::now();
    d.start_again();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(3), "pierd answered only after {took:?}");

    // Listed and inspected at once, as recorded; then said to be silent.
    let t = Instant::now();
    let list = d.request("GET", "/containers/json?all=1", None).json();
    assert!(list.to_string().contains(&stuck), "{list}");
    assert_eq!(state(&d, &stuck)["Running"], true);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "list/inspect took {:?}",
        t.elapsed()
    );
    let silent = wait_until(Duration::from_secs(10), || {
        error_of(&d, &stuck).contains("does not answer")
    });
    assert!(silent, "no State.Error for the silent shim; log:\n{}", d.daemon_log());

    // Other containers work meanwhile.
    let t = Instant::now();
    let other = d.run("other", "busybox", &["true"]);
    let st = d.wait_exited(&other, Duration::from_secs(10));
    assert_eq!(st["State"]["ExitCode"], 0);
    let r = d.request("DELETE", &format!("/containers/{other}"), None);
    assert_eq!(r.status, 204, "rm: {}", r.text());
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "other container took {:?}",
        t.elapsed()
    );

    // Resumed, the shim is heard again and the container removed cleanly.
    let pid = state(&d, &stuck)["Pid"].as_i64().expect("Pid") as i32;
    drop(resume);
    let r = d.request("DELETE", &format!("/containers/{stuck}?force=1"), None);
    assert_eq!(r.status, 204, "rm -f: {}", r.text());
    assert!(wait_until(Duration::from_secs(5), || !alive(pid)), "process {pid} left");
    assert!(wait_until(Duration::from_secs(5), || !alive(shim)), "shim {shim} left");
    assert_eq!(mounts_of(&d, &stuck), Vec::<String>::new());
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Write zeros to `path` until the file system is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).expect("create fill file");
    let chunk = vec![0u8; 1 << 20];
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("fill {}: {e}", path.display()),
        }
    }
    // Small writes take what partial pages are left.
    loop {
        match f.write(&[0u8; 512]) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

#[test]
fn a_full_data_root_fails_creates_cleanly() {
    let mut d = Daemon::builder().build();
    std::fs::create_dir_all(&d.data_root).expect("create data root");
    // Unmounted by the guard's drop (everything under its dir), also on failure.
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=48m", "tmpfs"])
        .arg(&d.data_root)
        .status()
        .expect("run mount");
    assert!(st.success(), "mount a tmpfs data root");
    d.start_again();
    d.import_busybox("busybox");
    let keep = d.run(
        "keep",
        "busybox",
        &["sh", "-c", "while true; do echo tick; sleep 0.1; done"],
    );
    let keep_pid = state(&d, &keep)["Pid"].as_i64().expect("Pid") as i32;
    let containers = d.data_root.join("containers");
    let volumes = d.data_root.join("volumes");
    let (dirs, vols, mounts) = (entries(&containers), entries(&volumes), d.our_mounts());
    let filler = d.data_root.join("fill");
    fill(&filler);

    for body in [
        serde_json::json!({"Image": "busybox", "Cmd": ["true"]}),
        serde_json::json!({"Image": "busybox", "Cmd": ["true"], "Volumes": {"/data": {}}}),
    ] {
        let r = d.request_json("POST", "/containers/create", &body);
        assert_eq!(r.status, 500, "create on a full data root: {}", r.text());
        let msg = r.json()["message"].as_str().unwrap_or_default().to_lowercase();
        assert!(msg.contains("no space left on device"), "{msg}");
        assert_eq!(entries(&containers), dirs, "container dirs after {body}");
        assert_eq!(entries(&volumes), vols, "volumes after {body}");
        assert_eq!(d.our_mounts(), mounts, "mounts after {body}");
    }
    // The running container runs on.
    assert_eq!(state(&d, &keep)["Running"], true);
    assert!(alive(keep_pid));

    // With room again, creates work.
    std::fs::remove_file(&filler).expect("remove fill file");
    let id = d.run("", "busybox", &["true"]);
    d.wait_exited(&id, Duration::from_secs(10));
    for c in [&id, &keep] {
        let r = d.request("DELETE", &format!("/containers/{c}?force=1"), None);
        assert_eq!(r.status, 204, "rm -f: {}", r.text());
    }
    assert_eq!(entries(&containers), Vec::<String>::new());
}
