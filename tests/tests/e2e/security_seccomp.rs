//! End-to-end: docker's confinement by default (issue 12, item 1): the
//! default seccomp profile on every container and exec, `--security-opt`
//! seccomp/no-new-privileges/apparmor/label as dockerd handles them, and the
//! cgroup namespace, with the docker and pier CLIs and raw API calls.

use pier_testkit::Daemon;
use serde_json::json;

use crate::stdout;

/// A profile in docker's format that denies mkdir and allows the rest.
const DENY_MKDIR: &str = r#"{
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
    ]
}"#;

/// Prints the seccomp mode and no-new-privileges flag, whether a user
/// namespace can be made, and whether mkdir works.
const PROBE: &str = "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; \
                     unshare -U -r true 2>/dev/null && echo userns=ok || echo userns=denied; \
                     mkdir /tmp/probe-dir 2>/dev/null && echo mkdir=ok || echo mkdir=denied";

fn daemon() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d
}

/// `Field:\tvalue` of the probe's output.
fn field<'a>(out: &'a str, name: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .map(str::trim)
}

fn has_line(out: &str, line: &str) -> bool {
    out.lines().any(|l| l == line)
}

/// `run --rm <opts> busybox sh -c PROBE` with a CLI; its stdout.
fn probe(d: &Daemon, cli: &str, opts: &[&str]) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(opts);
    args.extend_from_slice(&["busybox", "sh", "-c", PROBE]);
    let o = d.cli_cmd(cli, &args).output().expect("run the CLI");
    assert!(
        o.status.success(),
        "{cli} {args:?}: {}\n--- pierd log ---\n{}",
        String::from_utf8_lossy(&o.stderr),
        d.daemon_log()
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn default_containers_run_under_dockers_seccomp_profile() {
    let d = daemon();
    for cli in ["docker", "pier"] {
        let o = probe(&d, cli, &[]);
        assert_eq!(field(&o, "Seccomp"), Some("2"), "{cli}: {o}");
        assert_eq!(field(&o, "NoNewPrivs"), Some("0"), "{cli}: {o}");
        assert!(has_line(&o, "userns=denied"), "{cli}: unshare -U must fail: {o}");
        assert!(has_line(&o, "mkdir=ok"), "{cli}: {o}");
    }
    // The error is EPERM, as under docker.
    let o = d.docker(&["run", "--rm", "busybox", "unshare", "-U", "-r", "true"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Operation not permitted"),
        "{o:?}"
    );
    let info = d.docker_ok(&["info", "--format", "{{json .SecurityOptions}}"]);
    assert!(info.contains("name=seccomp,profile=builtin"), "{info}");
    let text = d.docker_ok(&["info"]);
    assert!(text.contains("  seccomp\n   Profile: builtin\n"), "{text}");
}

#[test]
fn unconfined_and_privileged_run_without_a_filter() {
    let d = daemon();
    for cli in ["docker", "pier"] {
        for opts in [&["--security-opt", "seccomp=unconfined"][..], &["--privileged"]] {
            let o = probe(&d, cli, opts);
            assert_eq!(field(&o, "Seccomp"), Some("0"), "{cli} {opts:?}: {o}");
            assert!(has_line(&o, "userns=ok"), "{cli} {opts:?}: {o}");
        }
    }
    // A privileged container keeps a profile it names (dockerd's rule).
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("deny-mkdir.json");
    std::fs::write(&file, DENY_MKDIR).expect("write profile");
    let opt = format!("seccomp={}", file.display());
    let o = probe(&d, "docker", &["--privileged", "--security-opt", &opt]);
    assert_eq!(field(&o, "Seccomp"), Some("2"), "{o}");
    assert!(has_line(&o, "mkdir=denied"), "{o}");
    // dockerd turns SELinux labeling off for privileged containers, also on
    // hosts without SELinux: inspect shows it.
    let id = stdout(
        &d.docker_cmd(&["create", "--privileged", "busybox", "true"])
            .output()
            .expect("create"),
    );
    assert_eq!(d.inspect(&id)["HostConfig"]["SecurityOpt"], json!(["label=disable"]));
}

#[test]
fn a_custom_profile_file_is_sent_and_applied() {
    let d = daemon();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("deny-mkdir.json");
    std::fs::write(&file, DENY_MKDIR).expect("write profile");
    let opt = format!("seccomp={}", file.display());
    let mut sent_by = Vec::new();
    for cli in ["docker", "pier"] {
        let o = probe(&d, cli, &["--security-opt", &opt]);
        assert_eq!(field(&o, "Seccomp"), Some("2"), "{cli}: {o}");
        assert!(has_line(&o, "mkdir=denied"), "{cli}: {o}");
        // Not docker's default profile: user namespaces are allowed.
        assert!(has_line(&o, "userns=ok"), "{cli}: {o}");
        // The CLI sent the file's content; inspect echoes it.
        let id = stdout(
            &d.cli_cmd(cli, &["create", "--security-opt", &opt, "busybox", "true"])
                .output()
                .expect("create"),
        );
        let sent = d.inspect(&id)["HostConfig"]["SecurityOpt"].clone();
        let sent = sent[0].as_str().unwrap_or_default().to_string();
        let body = sent.strip_prefix("seccomp=").unwrap_or_else(|| panic!("{cli}: {sent}"));
        let expected: serde_json::Value = serde_json::from_str(DENY_MKDIR).expect("profile");
        let got: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{cli}: {e}: {body}"));
        assert_eq!(got, expected, "{cli}");
        assert!(!body.contains('\n'), "{cli}: sent compacted: {body}");
        sent_by.push(sent);
    }
    assert_eq!(sent_by[0], sent_by[1], "pier sends the bytes docker sends");
}

#[test]
fn exec_runs_under_the_containers_profile() {
    let d = daemon();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("deny-mkdir.json");
    std::fs::write(&file, DENY_MKDIR).expect("write profile");
    let opt = format!("seccomp={}", file.display());
    d.docker_ok(&["run", "-d", "--name", "default", "busybox", "sleep", "1000"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "custom",
        "--security-opt",
        &opt,
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "sleep",
        "1000",
    ]);
    for cli in ["docker", "pier"] {
        for privileged in [false, true] {
            let mut args = vec!["exec"];
            if privileged {
                args.push("--privileged");
            }
            let run = |name: &str| {
                let mut a = args.clone();
                a.extend_from_slice(&[name, "sh", "-c", PROBE]);
                let o = d.cli_cmd(cli, &a).output().expect("exec");
                assert!(o.status.success(), "{cli} {a:?}: {o:?}");
                String::from_utf8_lossy(&o.stdout).into_owned()
            };
            let o = run("default");
            assert_eq!(field(&o, "Seccomp"), Some("2"), "{cli} {args:?}: {o}");
            assert!(has_line(&o, "userns=denied"), "{cli} {args:?}: {o}");
            let o = run("custom");
            assert_eq!(field(&o, "Seccomp"), Some("2"), "{cli} {args:?}: {o}");
            assert_eq!(field(&o, "NoNewPrivs"), Some("1"), "{cli} {args:?}: {o}");
            assert!(has_line(&o, "mkdir=denied"), "{cli} {args:?}: {o}");
        }
    }
    d.docker_ok(&["rm", "-f", "default", "custom"]);
}

#[test]
fn no_new_privileges_in_every_spelling() {
    let d = daemon();
    for (cli, opt) in [
        ("docker", "no-new-privileges"),
        ("pier", "no-new-privileges"),
        ("docker", "no-new-privileges=true"),
        ("pier", "no-new-privileges:true"),
    ] {
        let o = probe(&d, cli, &["--security-opt", opt]);
        assert_eq!(field(&o, "NoNewPrivs"), Some("1"), "{cli} {opt}: {o}");
        assert_eq!(field(&o, "Seccomp"), Some("2"), "{cli} {opt}: {o}");
    }
    let o = probe(&d, "docker", &["--security-opt", "no-new-privileges=false"]);
    assert_eq!(field(&o, "NoNewPrivs"), Some("0"), "{o}");
    // SELinux label options are accepted and have no effect here.
    let o = probe(
        &d,
        "docker",
        &["--security-opt", "label=disable", "--security-opt", "label=level:s0:c1"],
    );
    assert_eq!(field(&o, "Seccomp"), Some("2"), "{o}");
}

fn create_status(d: &Daemon, opts: &[&str]) -> (u16, String) {
    let r = d.request_json(
        "POST",
        "/containers/create",
        &json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"SecurityOpt": opts}}),
    );
    let message = r.json()["message"].as_str().unwrap_or_default().to_string();
    (r.status, message)
}

#[test]
fn bad_security_opts_are_refused_at_create() {
    let d = daemon();
    for (opt, message) in [
        ("unknown=x", "invalid --security-opt 2: \"unknown=x\""),
        ("bogus", "invalid --security-opt 1: \"bogus\""),
        (
            "no-new-privileges=maybe",
            "invalid --security-opt 2: \"no-new-privileges=maybe\"",
        ),
    ] {
        assert_eq!(create_status(&d, &[opt]), (400, message.to_string()), "{opt}");
    }
    let (status, message) = create_status(&d, &["seccomp={\"defaultAction\": 5}"]);
    assert_eq!(status, 400);
    assert!(message.starts_with("Decoding seccomp profile failed: "), "{message}");
    // The docker CLI refuses what it can itself, with its message.
    let o = d.docker(&["run", "--rm", "--security-opt", "bogus", "busybox", "true"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Invalid --security-opt: \"bogus\""),
        "{o:?}"
    );
    let o = d.pier(&["run", "--rm", "--security-opt", "bogus", "busybox", "true"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Invalid --security-opt: \"bogus\""),
        "{o:?}"
    );
    // AppArmor: refused clearly on a host without it, applied otherwise.
    let apparmor = std::path::Path::new("/sys/module/apparmor").exists();
    let (status, message) = create_status(&d, &["apparmor=docker-default"]);
    if apparmor {
        assert_eq!(status, 201, "{message}");
    } else {
        assert_eq!(
            (status, message.as_str()),
            (
                400,
                "AppArmor is not enabled on this host: cannot apply --security-opt \"apparmor=docker-default\""
            )
        );
        let o = d.docker(&[
            "run",
            "--rm",
            "--security-opt",
            "apparmor=docker-default",
            "busybox",
            "true",
        ]);
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("AppArmor is not enabled on this host"),
            "{o:?}"
        );
    }
    // Unconfined is what every process gets without AppArmor: accepted.
    assert_eq!(create_status(&d, &["apparmor=unconfined"]).0, 201);
}

#[test]
fn cgroup_namespace_follows_the_mode_inspect_shows() {
    let d = daemon();
    let cgroup_v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let script = "grep -E '^[0-9]+:(pids|memory|):' /proc/self/cgroup";
    for (mode, private) in [("", cgroup_v2), ("host", false), ("private", true)] {
        let mut args = vec!["run", "-d"];
        if !mode.is_empty() {
            args.extend_from_slice(&["--cgroupns", mode]);
        }
        args.extend_from_slice(&["busybox", "sleep", "1000"]);
        let id = stdout(&d.docker_cmd(&args).output().expect("run"));
        let shown = d.inspect(&id)["HostConfig"]["CgroupnsMode"].clone();
        assert_eq!(shown, json!(if private { "private" } else { "host" }), "{mode:?}");
        let out = d.docker_ok(&["exec", &id, "sh", "-c", script]);
        let rooted = !out.trim().is_empty() && out.lines().all(|l| l.ends_with(":/"));
        assert_eq!(rooted, private, "--cgroupns {mode:?}: {out}");
        d.docker_ok(&["rm", "-f", &id]);
    }
}
