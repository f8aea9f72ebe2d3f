//! End-to-end: isolation and process options (issue 13), observed from
//! inside containers: `--device`, `--device-cgroup-rule`, `--privileged`
//! devices, `--cap-drop ALL`, `--group-add`, `--pid`/`--ipc`/`--uts` host
//! and `container:<id>`, `--init` (tini) reaping an orphan, `--runtime`
//! per container; inspect shows each as docker does, and bad values are
//! docker's 400 at create with nothing left behind.

use std::time::Duration;

use pier_testkit::{wait_until, Daemon};
use serde_json::{json, Value};

fn out(d: &Daemon, cli: &str, args: &[&str]) -> String {
    let o = d.cli_cmd(cli, args).output().expect("run cli");
    assert!(
        o.status.success(),
        "{cli} {args:?} failed ({}): {}\n--- pierd log ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr),
        d.daemon_log()
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Remove every container of `d`.
fn remove_all(d: &Daemon) {
    let ids = d.pier_ok(&["ps", "-aq"]);
    for id in ids.split_whitespace() {
        d.pier_ok(&["rm", "-f", id]);
    }
}

fn host_config(d: &Daemon, id: &str) -> Value {
    d.inspect(id)["HostConfig"].clone()
}

#[test]
fn devices_caps_and_groups_are_seen_inside() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    for cli in ["pier", "docker"] {
        // A host device under another name, read-only by its cgroup rule.
        let got = out(
            &d,
            cli,
            &[
                "run",
                "--rm",
                "--device",
                "/dev/zero:/dev/myzero:r",
                "busybox",
                "sh",
                "-c",
                "head -c 5 /dev/myzero | wc -c",
            ],
        );
        assert_eq!(got, "5", "{cli}");
        // Without the device: not there.
        let got = out(
            &d,
            cli,
            &[
                "run",
                "--rm",
                "busybox",
                "sh",
                "-c",
                "test -e /dev/myzero || echo absent",
            ],
        );
        assert_eq!(got, "absent");
        // A cgroup rule lets the container make and use a node.
        let got = out(
            &d,
            cli,
            &[
                "run",
                "--rm",
                "--device-cgroup-rule",
                "c 1:9 rwm",
                "busybox",
                "sh",
                "-c",
                "mknod /tmp/ur c 1 9 && head -c 3 /tmp/ur | wc -c",
            ],
        );
        assert_eq!(got, "3", "{cli}");
        // No capabilities at all.
        let got = out(
            &d,
            cli,
            &[
                "run",
                "--rm",
                "--cap-drop",
                "ALL",
                "busybox",
                "grep",
                "CapEff",
                "/proc/self/status",
            ],
        );
        assert_eq!(got, "CapEff:\t0000000000000000", "{cli}");
        let got = out(
            &d,
            cli,
            &[
                "run",
                "--rm",
                "--cap-add",
                "net_admin",
                "busybox",
                "grep",
                "CapEff",
                "/proc/self/status",
            ],
        );
        assert_eq!(got, "CapEff:\t00000000a80435fb", "{cli}: docker's 14 and NET_ADMIN");
        // Extra groups: a name from the container's /etc/group and a number.
        let got = out(
            &d,
            cli,
            &[
                "run",
                "--rm",
                "--group-add",
                "staff",
                "--group-add",
                "4242",
                "busybox",
                "id",
                "-G",
            ],
        );
        assert_eq!(got, "0 50 4242", "{cli}");
    }

    // --privileged: the host's device nodes, every capability, nothing masked.
    let block = std::fs::read_dir("/sys/block")
        .expect("/sys/block")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| std::path::Path::new("/dev").join(n).exists())
        .expect("a block device in /dev");
    let script =
        format!("test -b /dev/{block} && echo dev; grep CapEff /proc/self/status; head -c 1 /proc/timer_list | wc -c");
    let got = out(
        &d,
        "pier",
        &["run", "--rm", "--privileged", "busybox", "sh", "-c", &script],
    );
    assert!(got.starts_with("dev\nCapEff:\t000001ff"), "{got}");
    assert!(got.ends_with("\n1"), "/proc/timer_list is not masked: {got}");
    let got = out(
        &d,
        "pier",
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            &format!("test -e /dev/{block} || echo none"),
        ],
    );
    assert_eq!(got, "none");

    // Inspect shows them as docker does.
    let id = out(
        &d,
        "docker",
        &[
            "create",
            "--device",
            "/dev/zero:/dev/myzero:r",
            "--device",
            "/dev/null",
            "--device-cgroup-rule",
            "c 1:9 rwm",
            "--group-add",
            "staff",
            "busybox",
            "true",
        ],
    );
    let hc = host_config(&d, &id);
    assert_eq!(
        hc["Devices"],
        json!([
            {"PathOnHost": "/dev/zero", "PathInContainer": "/dev/myzero", "CgroupPermissions": "r"},
            {"PathOnHost": "/dev/null", "PathInContainer": "/dev/null", "CgroupPermissions": "rwm"}
        ])
    );
    assert_eq!(hc["DeviceCgroupRules"], json!(["c 1:9 rwm"]));
    assert_eq!(hc["GroupAdd"], json!(["staff"]));
    let fmt = out(
        &d,
        "docker",
        &[
            "inspect",
            "--format",
            "{{.HostConfig.Runtime}} {{.HostConfig.IpcMode}} {{.HostConfig.CgroupnsMode}}",
            &id,
        ],
    );
    assert_eq!(fmt, "runc private host");
    d.pier_ok(&["rm", &id]);
}

#[test]
fn bad_isolation_values_are_dockers_400_at_create() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    for (host, status, message) in [
        (
            json!({"Devices": [{"PathOnHost": "/dev/nope-pier", "PathInContainer": "/dev/x", "CgroupPermissions": "rwm"}]}),
            400,
            "error gathering device information while adding custom device \"/dev/nope-pier\": no such file or directory",
        ),
        (
            json!({"Devices": [{"PathOnHost": "/dev/zero", "PathInContainer": "/dev/x", "CgroupPermissions": "rwq"}]}),
            400,
            "invalid device mode: rwq",
        ),
        (
            json!({"DeviceCgroupRules": ["c 1 rwm"]}),
            400,
            "invalid device cgroup rule format: 'c 1 rwm'",
        ),
        (json!({"CapAdd": ["FLY"]}), 400, "invalid CapAdd: unknown capability: \"CAP_FLY\""),
        (json!({"CapDrop": ["CAP_NOPE"]}), 400, "invalid CapDrop: unknown capability: \"CAP_NOPE\""),
        (json!({"PidMode": "private"}), 400, "invalid PID mode: private"),
        (json!({"IpcMode": "bogus"}), 400, "invalid IPC mode: bogus"),
        (json!({"PidMode": "container:nope"}), 404, "No such container: nope"),
        (json!({"Runtime": "kata"}), 400, "unknown or invalid runtime name: kata"),
    ] {
        let body = json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": host});
        let (st, v) = d.http_json("POST", "/containers/create", Some(body.to_string().as_bytes()));
        assert_eq!((st, v["message"].as_str()), (status, Some(message)), "{body}");
    }
    assert_eq!(d.pier_ok(&["ps", "-aq"]).trim(), "", "a refused create leaves nothing");
    // The CLIs check the syntax themselves, as docker's does.
    let o = d.docker(&["run", "--rm", "--cap-add", "FLY", "busybox", "true"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("invalid CapAdd: unknown capability: \"CAP_FLY\""),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A group the container does not have fails the start, as docker's.
    let o = d.pier(&["run", "--rm", "--group-add", "wheel", "busybox", "true"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unable to find group wheel: no matching entries in group file"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    remove_all(&d);
}

fn ns(d: &Daemon, cli: &str, args: &[&str], which: &str) -> String {
    let mut full: Vec<&str> = vec!["run", "--rm"];
    full.extend_from_slice(args);
    let path = format!("/proc/self/ns/{which}");
    full.extend_from_slice(&["busybox", "readlink", &path]);
    out(d, cli, &full)
}

fn host_ns(which: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{which}"))
        .expect("host namespace")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn namespaces_host_and_container_modes() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    for cli in ["pier", "docker"] {
        for (flag, which) in [("--pid", "pid"), ("--ipc", "ipc"), ("--uts", "uts")] {
            assert_eq!(ns(&d, cli, &[flag, "host"], which), host_ns(which), "{cli} {flag} host");
            assert_ne!(ns(&d, cli, &[], which), host_ns(which), "{cli} private {which}");
        }
    }
    // --pid host sees this test's own process; --uts host has the host's name.
    let me = std::process::id();
    let got = out(
        &d,
        "pier",
        &[
            "run",
            "--rm",
            "--pid",
            "host",
            "busybox",
            "sh",
            "-c",
            &format!("test -d /proc/{me} && echo seen"),
        ],
    );
    assert_eq!(got, "seen");
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_eq!(
        out(&d, "docker", &["run", "--rm", "--uts", "host", "busybox", "hostname"]),
        host_name.trim()
    );
    // --ipc none: no /dev/shm.
    assert_eq!(
        out(
            &d,
            "pier",
            &[
                "run",
                "--rm",
                "--ipc",
                "none",
                "busybox",
                "sh",
                "-c",
                "test -d /dev/shm || echo noshm"
            ]
        ),
        "noshm"
    );

    // container:<name>: the donor's namespaces, shown by id in inspect.
    let donor = out(
        &d,
        "pier",
        &[
            "run",
            "-d",
            "--name",
            "donor",
            "--ipc",
            "shareable",
            "busybox",
            "sleep",
            "300",
        ],
    );
    let donor_pid = d.inspect(&donor)["State"]["Pid"].as_i64().expect("pid");
    let donor_ns = |which: &str| {
        std::fs::read_link(format!("/proc/{donor_pid}/ns/{which}"))
            .expect("donor ns")
            .to_string_lossy()
            .into_owned()
    };
    for cli in ["pier", "docker"] {
        assert_eq!(
            ns(&d, cli, &["--pid", "container:donor"], "pid"),
            donor_ns("pid"),
            "{cli}"
        );
        assert_eq!(
            ns(&d, cli, &["--ipc", "container:donor"], "ipc"),
            donor_ns("ipc"),
            "{cli}"
        );
        let ps = out(
            &d,
            cli,
            &[
                "run",
                "--rm",
                "--pid",
                "container:donor",
                "busybox",
                "ps",
                "-o",
                "comm,args",
            ],
        );
        assert!(ps.contains("sleep 300"), "{cli}: {ps}");
    }
    // The donor's /dev/shm is shared too (a host-side tmpfs, as dockerd's).
    d.pier_ok(&["exec", "donor", "sh", "-c", "echo hi > /dev/shm/note"]);
    for cli in ["pier", "docker"] {
        let got = out(
            &d,
            cli,
            &[
                "run",
                "--rm",
                "--ipc",
                "container:donor",
                "busybox",
                "cat",
                "/dev/shm/note",
            ],
        );
        assert_eq!(got, "hi", "{cli}");
    }
    let shm = d.data_root.join("containers").join(&donor).join("shm");
    assert_eq!(
        pier_testkit::process::mounts_under(&shm).len(),
        1,
        "the donor's shm is mounted"
    );
    let id = out(
        &d,
        "pier",
        &[
            "create",
            "--pid",
            "container:donor",
            "--ipc",
            "container:donor",
            "busybox",
            "true",
        ],
    );
    let hc = host_config(&d, &id);
    assert_eq!(hc["PidMode"], format!("container:{donor}"));
    assert_eq!(hc["IpcMode"], format!("container:{donor}"));
    // A donor that is not shareable, or not running: docker's errors at start.
    let private = out(&d, "pier", &["run", "-d", "busybox", "sleep", "300"]);
    let o = d.pier(&[
        "run",
        "--rm",
        "--ipc",
        &format!("container:{private}"),
        "busybox",
        "true",
    ]);
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("non-shareable IPC (hint: use IpcMode:shareable for the donor container)"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    d.pier_ok(&["rm", "-f", "donor", &private]);
    assert!(
        pier_testkit::process::mounts_under(&shm).is_empty(),
        "the donor's shm is unmounted with it"
    );
    let o = d.pier(&["start", &id]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("No such container"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    remove_all(&d);
}

#[test]
fn init_reaps_orphans_and_runtime_is_per_container() {
    let runc = pier_testkit::require::runc();
    let config = json!({"runtimes": {"runc-alt": {"path": runc.display().to_string()}}}).to_string();
    let d = Daemon::builder().config(&config).start();
    d.import_busybox("busybox");
    // The orphan (`sleep 1`) is reparented to the container's pid 1: tini
    // reaps it when it exits; `sleep 300` as pid 1 never does.
    let script = "(sleep 1 &); exec sleep 300";
    let states = |id: &str| -> Vec<String> {
        d.pier_ok(&["exec", id, "ps", "-o", "stat,comm"])
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| !l.ends_with(" ps"))
            .collect()
    };
    let with_init = out(&d, "docker", &["run", "-d", "--init", "busybox", "sh", "-c", script]);
    let mut seen = Vec::new();
    assert!(
        wait_until(Duration::from_secs(10), || {
            seen = states(&with_init);
            seen.iter().any(|s| s.starts_with('Z')) || seen.iter().filter(|s| s.ends_with(" sleep")).count() == 1
        }),
        "{seen:?}"
    );
    assert!(
        !seen.iter().any(|s| s.starts_with('Z')),
        "tini reaps the orphan: {seen:?}"
    );
    let cmd = d.pier_ok(&["exec", &with_init, "cat", "/proc/1/cmdline"]);
    assert!(cmd.starts_with("/sbin/docker-init\0--\0sh"), "{cmd:?}");
    assert_eq!(host_config(&d, &with_init)["Init"], true);
    let without = out(&d, "pier", &["run", "-d", "busybox", "sh", "-c", script]);
    assert!(
        wait_until(Duration::from_secs(10), || {
            seen = states(&without);
            seen.iter().any(|s| s.starts_with('Z'))
        }),
        "without an init the orphan stays a zombie: {seen:?}"
    );
    // tini forwards stop's signal: the container stops at once.
    let t = std::time::Instant::now();
    d.pier_ok(&["stop", "-t", "20", &with_init]);
    assert!(t.elapsed() < Duration::from_secs(10), "stop took {:?}", t.elapsed());
    d.pier_ok(&["rm", "-f", &with_init, &without]);

    // --runtime: a runtime of daemon.json, shown by inspect.
    let id = out(
        &d,
        "pier",
        &["run", "-d", "--runtime", "runc-alt", "busybox", "sleep", "300"],
    );
    assert_eq!(host_config(&d, &id)["Runtime"], "runc-alt");
    assert_eq!(d.inspect(&id)["State"]["Running"], true);
    d.pier_ok(&["rm", "-f", &id]);
    let o = d.docker(&["run", "--rm", "--runtime", "nope", "busybox", "true"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown or invalid runtime name: nope"));
}
