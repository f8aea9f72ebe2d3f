//! End-to-end: Pier's own container model (issue 11): honest create and
//! records written by the previous release.

use std::process::Stdio;
use std::time::Duration;

use pier_testkit::{wait_until, Daemon};
use serde_json::{json, Value};

fn inspect(d: &Daemon, id: &str) -> Value {
    let (st, v) = d.http_json("GET", &format!("/containers/{id}/json"), None);
    assert_eq!(st, 200, "inspect {id}: {v}");
    v
}

/// Rewrite a container's record the way the previous pierd (record
/// version 1, before 2026-12) wrote it: the request's Config/HostConfig as
/// wire objects with nulls, resolved path/args, no `version`.
fn downgrade_to_v1(d: &Daemon, id: &str) {
    let path = d.data_root.join("containers").join(id).join("container.json");
    let v2: Value = serde_json::from_slice(&std::fs::read(&path).expect("read record")).expect("record json");
    assert_eq!(v2["version"], 2, "the new pierd writes version 2");
    let spec = &v2["spec"];
    let process = &spec["process"];
    let stdio = &process["stdio"];
    let mut cmd = vec![process["path"].clone()];
    cmd.extend(process["args"].as_array().cloned().unwrap_or_default());
    let v1 = json!({
        "id": v2["id"], "name": v2["name"], "created": v2["created"],
        "image": v2["image"], "image_id": v2["image_id"],
        "path": process["path"], "args": process["args"],
        "config": {
            "Hostname": spec["hostname"], "Domainname": null, "User": null,
            "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
            "ExposedPorts": null, "Tty": stdio["tty"], "OpenStdin": stdio["open_stdin"],
            "StdinOnce": false, "Env": process["env"], "Cmd": cmd, "Image": v2["image"],
            "Volumes": null, "WorkingDir": null, "Entrypoint": null, "NetworkDisabled": null,
            "Labels": spec["labels"], "StopSignal": null, "StopTimeout": null
        },
        "host_config": {
            "Binds": ["data:/data"],
            "LogConfig": {"Type": spec["log"]["driver"], "Config": spec["log"]["options"]},
            "NetworkMode": null, "RestartPolicy": null, "AutoRemove": false, "VolumesFrom": null,
            "ConsoleSize": null, "CapAdd": null, "CapDrop": null, "Dns": null, "DnsOptions": null,
            "DnsSearch": null, "ExtraHosts": null, "Privileged": false, "ReadonlyRootfs": false,
            "Init": null, "Tmpfs": null, "Mounts": null, "ShmSize": null, "Memory": null,
            "NanoCpus": null, "PidsLimit": null, "Runtime": null
        },
        "state": v2["state"],
        "restart_count": v2["restart_count"]
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&v1).expect("encode")).expect("write v1 record");
}

#[test]
fn records_of_the_previous_release_are_upgraded_and_stay_usable() {
    let mut d = Daemon::start();
    d.import_busybox("busybox");
    let web = d
        .pier_ok(&[
            "run",
            "-d",
            "-i",
            "--name",
            "web",
            "-l",
            "app=web",
            "--log-opt",
            "max-size=1m",
            "--log-opt",
            "labels=app",
            "-v",
            "data:/data",
            "busybox",
            "sh",
            "-c",
            "echo hi; while read l; do echo got $l; done",
        ])
        .trim()
        .to_string();
    let done = d
        .pier_ok(&[
            "run",
            "-d",
            "--name",
            "done",
            "-v",
            "data:/data",
            "busybox",
            "sh",
            "-c",
            "echo bye; exit 3",
        ])
        .trim()
        .to_string();
    assert_eq!(d.pier_ok(&["wait", &done]).trim(), "3");
    d.stop();
    downgrade_to_v1(&d, &web);
    downgrade_to_v1(&d, &done);
    d.start_again();

    // Listed with their states, the record rewritten as version 2 once.
    let ps = d.pier_ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.lines().any(|l| l.starts_with("web Up")), "{ps}");
    assert!(ps.lines().any(|l| l.starts_with("done Exited (3)")), "{ps}");
    for id in [&web, &done] {
        let path = d.data_root.join("containers").join(id).join("container.json");
        let rec: Value = serde_json::from_slice(&std::fs::read(path).expect("record")).expect("json");
        assert_eq!(rec["version"], 2, "upgraded on start");
    }
    assert!(
        d.daemon_log().contains("container record upgraded"),
        "{}",
        d.daemon_log()
    );
    let info = inspect(&d, &web);
    assert_eq!(info["HostConfig"]["LogConfig"]["Config"]["max-size"], "1m");
    assert_eq!(info["Config"]["Labels"]["app"], "web");
    assert_eq!(info["Mounts"][0]["Name"], "data");

    // Attachable: stdin reaches the running container, output comes back.
    let mut attach = d
        .pier_cmd(&["attach", "web"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn attach");
    {
        use std::io::Write;
        let mut stdin = attach.stdin.take().expect("stdin");
        stdin.write_all(b"ping\n").expect("write stdin");
        assert!(
            wait_until(Duration::from_secs(20), || d
                .pier_ok(&["logs", "web"])
                .contains("got ping")),
            "attach stdin reached the container: {}",
            d.pier_ok(&["logs", "web"])
        );
    }
    let _ = attach.kill();
    let _ = attach.wait();
    let logs = d.pier_ok(&["logs", "--details", "web"]);
    assert!(logs.contains("app=web hi"), "log attributes kept: {logs:?}");

    // Stoppable, restartable, removable; the named volume outlives them.
    d.pier_ok(&["stop", "-t", "1", "web"]);
    d.pier_ok(&["start", "done"]);
    assert_eq!(d.pier_ok(&["wait", "done"]).trim(), "3");
    assert_eq!(d.pier_ok(&["logs", "done"]), "bye\nbye\n");
    d.pier_ok(&["rm", "-f", "web", "done"]);
    assert_eq!(d.pier_ok(&["ps", "-aq"]).trim(), "");
    assert!(d.pier_ok(&["volume", "ls", "-q"]).contains("data"));
    assert!(d.our_mounts().is_empty(), "mounts left: {:?}", d.our_mounts());
}

#[test]
fn create_warns_about_what_it_does_not_apply_and_refuses_what_docker_refuses() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let body = json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Cgroup": "other"}});
    let (st, v) = d.http_json("POST", "/containers/create", Some(body.to_string().as_bytes()));
    assert_eq!(st, 201, "{v}");
    let warnings = v["Warnings"].as_array().expect("warnings");
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains("HostConfig.Cgroup"))),
        "{v}"
    );
    // A link to no container is refused, as dockerd.
    let out = d.docker(&["create", "--link", "db:db", "busybox", "true"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("could not get container for db"), "{stderr}");

    // Refused at create, with docker's status and message; nothing is left.
    for (host, message) in [
        (json!({"Isolation": "hyperv"}), "invalid isolation 'hyperv' on linux"),
        (
            json!({"ExtraHosts": ["nocolon"]}),
            "bad format for add-host: \"nocolon\"",
        ),
        (
            json!({"Tmpfs": {"rel": ""}}),
            "invalid mount path: 'rel' mount path must be absolute",
        ),
        (
            json!({"LogConfig": {"Type": "syslog"}}),
            "logger: no log driver named 'syslog' is registered",
        ),
    ] {
        let before = d.pier_ok(&["ps", "-aq"]);
        let body = json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": host});
        let (st, v) = d.http_json("POST", "/containers/create", Some(body.to_string().as_bytes()));
        assert_eq!((st, v["message"].as_str()), (400, Some(message)), "{body}");
        assert_eq!(d.pier_ok(&["ps", "-aq"]), before, "a refused create leaves nothing");
    }
    let body = json!({"Image": "busybox", "Cmd": ["true"], "StopSignal": "SIGNOPE"});
    let (st, v) = d.http_json("POST", "/containers/create", Some(body.to_string().as_bytes()));
    assert_eq!((st, v["message"].as_str()), (400, Some("Invalid signal: SIGNOPE")));

    // Applied: DNS options, extra hosts, masked paths reach the container.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "corp.example",
        "--add-host",
        "db:192.0.2.7",
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf /etc/hosts",
    ]);
    assert!(out.contains("nameserver 192.0.2.53"), "{out}");
    assert!(out.contains("search corp.example"), "{out}");
    assert!(out.contains("192.0.2.7\tdb"), "{out}");
}

#[test]
fn only_host_config_annotations_reach_the_runtime_and_root_is_never_a_mount_target() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // An image label that names a runtime switch stays a label.
    d.docker_ok(&[
        "commit",
        "--change",
        "LABEL run.oci.hooks=evil",
        &d.create("src", "busybox", &["true"]),
        "labelled",
    ]);
    let body = json!({
        "Image": "labelled", "Cmd": ["sleep", "30"], "Labels": {"run.oci.keep_original_groups": "1"},
        "HostConfig": {"Annotations": {"org.example.ok": "yes"}}
    });
    let (st, v) = d.http_json("POST", "/containers/create?name=ann", Some(body.to_string().as_bytes()));
    assert_eq!(st, 201, "{v}");
    d.pier_ok(&["start", "ann"]);
    let id = d.inspect("ann")["Id"].as_str().expect("id").to_string();
    let config = std::fs::read_to_string(d.exec_root.join(&id).join("config.json")).expect("config.json");
    let oci: Value = serde_json::from_str(&config).expect("json");
    assert_eq!(oci["annotations"], json!({"org.example.ok": "yes"}), "{config}");
    d.pier_ok(&["rm", "-f", "ann", "src"]);

    // Nothing is mounted over the container's root: docker's message, 400.
    for (host, message) in [
        (json!({"Tmpfs": {"/": ""}}), "invalid specification: destination can't be '/'".to_string()),
        (
            json!({"Mounts": [{"Type": "tmpfs", "Target": "/"}]}),
            "invalid mount config for type \"tmpfs\": invalid specification: destination can't be '/'".to_string(),
        ),
        (
            json!({"Binds": ["/tmp:/"]}),
            "invalid volume specification: '/tmp:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'".to_string(),
        ),
    ] {
        let body = json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": host});
        let (st, v) = d.http_json("POST", "/containers/create", Some(body.to_string().as_bytes()));
        assert_eq!((st, v["message"].as_str()), (400, Some(message.as_str())), "{body}");
    }
    let out = d.docker(&["run", "--rm", "--tmpfs", "/", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("destination can't be '/'"));
    assert_eq!(d.pier_ok(&["ps", "-aq"]).trim(), "");
}
