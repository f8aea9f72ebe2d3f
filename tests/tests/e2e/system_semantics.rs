//! End-to-end: docker's exact semantics where clients notice them (issue
//! 14): `rmi -f` of an image containers use, `load` of a body that is not
//! an image archive, behaviour by the request's API version (volume
//! prune), the swarm and plugin endpoints of an engine outside a swarm,
//! and every field of `GET /info`.

use std::process::{Output, Stdio};
use std::time::Duration;

use pier_testkit::{wait_for, Daemon};

use crate::stdout;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_string()
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..12]
}

#[test]
fn rmi_force_untags_an_image_containers_use_and_never_deletes_it() {
    let d = Daemon::start();
    let image = d.import_busybox("bb:1");
    let c = stdout(&d.docker(&["create", "--name", "user", "bb:1", "echo", "still here"]));
    assert_eq!(c.len(), 64, "create: {c}");

    // Without -f: docker's 409, by name and by id.
    let out = d.docker(&["rmi", "bb:1"]);
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out),
        format!(
            "Error response from daemon: conflict: unable to remove repository reference \"bb:1\" (must force) - container {} is using its referenced image {}",
            short(&c),
            short(&image)
        )
    );
    let out = d.docker(&["rmi", short(&image)]);
    assert_eq!(
        stderr(&out),
        format!(
            "Error response from daemon: conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
            short(&image),
            short(&c)
        )
    );

    // -f untags; the image stays (dangling) and the container starts.
    let out = d.docker_ok(&["rmi", "-f", "bb:1"]);
    assert_eq!(out.trim(), "Untagged: bb:1");
    let (st, v) = d.http_json("GET", &format!("/images/{image}/json"), None);
    assert_eq!(st, 200, "the image record stays: {v}");
    assert_eq!(v["RepoTags"], serde_json::json!([]));
    assert_eq!(d.docker_ok(&["start", "-a", "user"]).trim(), "still here");
    // ps shows the image id once the name is gone, as dockerd does.
    let shown = d.docker_ok(&["ps", "-a", "--filter", "name=user", "--format", "{{.Image}}"]);
    assert_eq!(shown.trim(), short(&image));

    // By id with -f while it is stopped: nothing left to untag, still kept.
    let (st, v) = d.http_json("DELETE", &format!("/images/{image}?force=1"), None);
    assert_eq!((st, v), (200, serde_json::json!([])));
    assert_eq!(d.docker_ok(&["start", "-a", "user"]).trim(), "still here");

    // A running user refuses a delete by id, even forced.
    let r = stdout(&d.docker(&["run", "-d", &image, "sleep", "1000"]));
    let out = d.docker(&["rmi", "-f", &image]);
    assert_eq!(
        stderr(&out),
        format!(
            "Error response from daemon: conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
            short(&image),
            short(&r)
        )
    );
    d.docker_ok(&["rm", "-f", &r, "user"]);

    // Unused now: prune deletes it and its layer.
    let pruned = d.docker_ok(&["image", "prune", "-f"]);
    assert!(pruned.contains(&format!("deleted: {image}")), "{pruned}");
    let (st, _) = d.http("GET", &format!("/images/{image}/json"), None);
    assert_eq!(st, 404);
}

#[test]
fn load_of_a_body_that_is_no_image_archive_fails_in_dockers_words() {
    let d = Daemon::start();
    let mut noise = vec![0u8; 4096];
    for (i, b) in noise.iter_mut().enumerate() {
        *b = (i * 31 + 7) as u8;
    }
    let mut no_manifest = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_cksum();
    no_manifest
        .append_data(&mut h, "hello.txt", &b"hi\n"[..])
        .expect("append");
    let no_manifest = no_manifest.into_inner().expect("tar");
    let cases: [(&str, &[u8], &str); 4] = [
        ("empty", b"", "invalid archive: does not contain a manifest.json"),
        ("noise", &noise, "archive/tar: invalid tar header"),
        ("short", b"hello", "unexpected EOF"),
        (
            "no-manifest",
            &no_manifest,
            "invalid archive: does not contain a manifest.json",
        ),
    ];
    for (name, body, want) in cases {
        // The API: a 200 JSON stream ending in docker's error message.
        let r = d.request("POST", "/images/load?quiet=1", Some(body));
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"), "{name}");
        let last: serde_json::Value = serde_json::from_str(r.text().trim()).expect("one JSON message");
        assert_eq!(last["error"], want, "{name}");
        assert_eq!(last["errorDetail"]["message"], want, "{name}");
        // Both CLIs print the message alone and exit 1.
        let path = d.root.join(format!("{name}.tar"));
        std::fs::write(&path, body).expect("write body");
        for cli in ["docker", "pier"] {
            let out = d
                .cli_cmd(cli, &["load", "-i", path.to_str().expect("utf-8")])
                .output()
                .expect("run cli");
            assert_eq!(out.status.code(), Some(1), "{cli} load {name}");
            assert_eq!(stderr(&out), want, "{cli} load {name}");
        }
    }
    assert!(d.docker_ok(&["images", "-q"]).trim().is_empty());
}

fn volume_names(d: &Daemon) -> Vec<String> {
    let mut names: Vec<String> = d
        .docker_ok(&["volume", "ls", "-q"])
        .lines()
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

fn create_volumes(d: &Daemon) {
    d.docker_ok(&["volume", "create", "named"]);
    d.docker_ok(&["volume", "create", "--label", "com.docker.volume.anonymous=", "anon"]);
    d.docker_ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "withopts",
    ]);
}

#[test]
fn volume_prune_follows_the_requests_api_version() {
    let d = Daemon::start();
    create_volumes(&d);
    // Current API (the docker CLI at 1.50): anonymous volumes only.
    let out = d.docker_ok(&["volume", "prune", "-f"]);
    assert!(out.contains("anon"), "{out}");
    assert_eq!(volume_names(&d), ["named", "withopts"]);
    // --all: every unused local volume without driver options.
    d.docker_ok(&["volume", "create", "--label", "com.docker.volume.anonymous=", "anon"]);
    d.docker_ok(&["volume", "prune", "-f", "--all"]);
    assert_eq!(volume_names(&d), ["withopts"]);

    // Below API 1.42 every unused volume goes, as dockerd adds all=true.
    create_volumes(&d);
    let r = d.request("POST", "/v1.41/volumes/prune", None);
    assert_eq!(r.status, 200, "{}", r.text());
    let mut deleted: Vec<String> = serde_json::from_value(r.json()["VolumesDeleted"].clone()).expect("names");
    deleted.sort();
    assert_eq!(deleted, ["anon", "named"]);
    // A client at 1.41 through the docker CLI too.
    create_volumes(&d);
    let out = d
        .docker_cmd(&["volume", "prune", "-f"])
        .env("DOCKER_API_VERSION", "1.41")
        .output()
        .expect("docker");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(volume_names(&d), ["withopts"]);
    // A volume in use is never pruned.
    d.import_busybox("busybox");
    d.docker_ok(&["volume", "create", "named"]);
    d.docker_ok(&["create", "--name", "holder", "-v", "named:/data", "busybox", "true"]);
    let r = d.request("POST", "/v1.41/volumes/prune", None);
    assert_eq!(r.status, 200);
    assert_eq!(volume_names(&d), ["named", "withopts"]);

    // dockerd's filter rules: `all` holds one value.
    let both = "/v1.41/volumes/prune?filters=%7B%22all%22%3A%5B%22false%22%5D%7D";
    let (st, v) = d.http_json("POST", both, None);
    assert_eq!(st, 400);
    assert_eq!(
        v["message"],
        "invalid filter 'all=[false true]': only one value is expected"
    );
    let bad = "/volumes/prune?filters=%7B%22all%22%3A%5B%22yes%22%5D%7D";
    let (st, v) = d.http_json("POST", bad, None);
    assert_eq!(st, 400);
    assert_eq!(
        v["message"],
        "invalid filter 'all': strconv.ParseBool: parsing \"yes\": invalid syntax"
    );
    d.docker_ok(&["rm", "holder"]);
}

const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

#[test]
fn swarm_and_plugin_endpoints_answer_as_an_engine_outside_a_swarm() {
    let d = Daemon::start();
    for (method, path) in [
        ("GET", "/swarm"),
        ("GET", "/v1.41/swarm/unlockkey"),
        ("POST", "/swarm/update"),
        ("POST", "/swarm/unlock"),
        ("GET", "/nodes"),
        ("GET", "/nodes/self"),
        ("DELETE", "/nodes/x"),
        ("POST", "/nodes/x/update"),
        ("GET", "/services"),
        ("POST", "/services/create"),
        ("GET", "/services/web"),
        ("DELETE", "/services/web"),
        ("POST", "/services/web/update"),
        ("GET", "/services/web/logs"),
        ("GET", "/tasks"),
        ("GET", "/tasks/t1"),
        ("GET", "/tasks/t1/logs"),
        ("GET", "/secrets"),
        ("POST", "/secrets/create"),
        ("GET", "/secrets/s"),
        ("DELETE", "/secrets/s"),
        ("POST", "/secrets/s/update"),
        ("GET", "/configs"),
        ("POST", "/configs/create"),
        ("GET", "/configs/c"),
        ("DELETE", "/configs/c"),
        ("POST", "/configs/c/update"),
    ] {
        let (st, v) = d.http_json(method, path, None);
        assert_eq!(
            (st, v["message"].as_str()),
            (503, Some(NOT_A_MANAGER)),
            "{method} {path}"
        );
    }
    let (st, v) = d.http_json("POST", "/swarm/leave", None);
    assert_eq!(
        (st, v["message"].as_str()),
        (503, Some("This node is not part of a swarm"))
    );
    let (st, v) = d.http_json("GET", "/plugins", None);
    assert_eq!((st, v), (200, serde_json::json!([])));
    for (method, path) in [
        ("GET", "/plugins/vieux/sshfs:latest/json"),
        ("DELETE", "/plugins/vieux/sshfs:latest"),
        ("POST", "/plugins/vieux/sshfs:latest/enable"),
        ("POST", "/plugins/vieux/sshfs:latest/disable"),
        ("POST", "/plugins/vieux/sshfs:latest/set"),
    ] {
        let (st, v) = d.http_json(method, path, None);
        assert_eq!(
            (st, v["message"].as_str()),
            (404, Some("plugin \"vieux/sshfs:latest\" not found")),
            "{method} {path}"
        );
    }
    let r = d.request("GET", "/_ping", None);
    assert_eq!(r.header("swarm"), Some("inactive"));

    // The docker CLI prints what it prints against a docker outside a swarm.
    for args in [["node", "ls"], ["service", "ls"], ["secret", "ls"], ["config", "ls"]] {
        let out = d.docker(&args);
        assert_eq!(out.status.code(), Some(1), "docker {args:?}");
        assert_eq!(
            stderr(&out),
            format!("Error response from daemon: {NOT_A_MANAGER}"),
            "{args:?}"
        );
    }
    let out = d.docker(&["swarm", "leave"]);
    assert_eq!(
        stderr(&out),
        "Error response from daemon: This node is not part of a swarm"
    );
    let out = d.docker_ok(&["plugin", "ls"]);
    assert_eq!(out.trim_end(), "ID        NAME      DESCRIPTION   ENABLED");
}

/// The fields of docker 28's `system.Info` that are always present.
const INFO_FIELDS: &[&str] = &[
    "ID",
    "Containers",
    "ContainersRunning",
    "ContainersPaused",
    "ContainersStopped",
    "Images",
    "Driver",
    "DriverStatus",
    "Plugins",
    "MemoryLimit",
    "SwapLimit",
    "CpuCfsPeriod",
    "CpuCfsQuota",
    "CPUShares",
    "CPUSet",
    "PidsLimit",
    "IPv4Forwarding",
    "Debug",
    "NFd",
    "OomKillDisable",
    "NGoroutines",
    "SystemTime",
    "LoggingDriver",
    "CgroupDriver",
    "CgroupVersion",
    "NEventsListener",
    "KernelVersion",
    "OperatingSystem",
    "OSVersion",
    "OSType",
    "Architecture",
    "IndexServerAddress",
    "RegistryConfig",
    "NCPU",
    "MemTotal",
    "GenericResources",
    "DockerRootDir",
    "HttpProxy",
    "HttpsProxy",
    "NoProxy",
    "Name",
    "Labels",
    "ExperimentalBuild",
    "ServerVersion",
    "Runtimes",
    "DefaultRuntime",
    "Swarm",
    "LiveRestoreEnabled",
    "Isolation",
    "InitBinary",
    "ContainerdCommit",
    "RuncCommit",
    "InitCommit",
    "SecurityOptions",
    "CDISpecDirs",
    "Warnings",
];

#[test]
fn info_has_every_docker_28_field_with_true_values() {
    let d = Daemon::builder()
        .config(r#"{"labels": ["env=test", "tier=db"]}"#)
        .start();
    d.import_busybox("busybox");
    d.docker_ok(&["create", "busybox", "true"]);
    let (st, v) = d.http_json("GET", "/info", None);
    assert_eq!(st, 200);
    for f in INFO_FIELDS {
        assert!(v.get(*f).is_some(), "/info lacks {f}: {v}");
    }
    assert_eq!(v["Containers"], 1);
    assert_eq!(v["ContainersStopped"], 1);
    assert_eq!(v["Images"], 1);
    assert_eq!(v["Swarm"]["LocalNodeState"], "inactive");
    assert_eq!(v["Swarm"]["ControlAvailable"], false);
    assert_eq!(v["LiveRestoreEnabled"], true);
    assert_eq!(v["Labels"], serde_json::json!(["env=test", "tier=db"]));
    assert_eq!(v["DockerRootDir"], d.data_root.display().to_string().as_str());
    assert_eq!(v["IndexServerAddress"], "https://index.docker.io/v1/");
    assert_eq!(v["OSType"], "linux");
    assert!(v["NFd"].as_i64().is_some_and(|n| n > 3), "{}", v["NFd"]);
    let threads = std::fs::read_to_string(format!("/proc/{}/status", d.pid()))
        .expect("status")
        .lines()
        .find_map(|l| {
            l.strip_prefix("Threads:")
                .map(|t| t.trim().parse::<i64>().expect("threads"))
        })
        .expect("Threads line");
    let reported = v["NGoroutines"].as_i64().expect("NGoroutines");
    assert!(
        reported > 0 && (reported - threads).abs() <= 8,
        "{reported} vs {threads}"
    );
    assert!(
        pier_time::parse_rfc3339(v["SystemTime"].as_str().expect("SystemTime")).is_some(),
        "{}",
        v["SystemTime"]
    );
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    assert_eq!(v["KernelVersion"], kernel.trim());
    let cgroup_v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    assert_eq!(v["CgroupVersion"], if cgroup_v2 { "2" } else { "1" });
    let memory = std::path::Path::new(if cgroup_v2 {
        "/sys/fs/cgroup/cgroup.controllers"
    } else {
        "/sys/fs/cgroup/memory"
    })
    .exists();
    assert_eq!(v["MemoryLimit"], memory);
    assert!(
        v["Runtimes"].get(v["DefaultRuntime"].as_str().expect("name")).is_some(),
        "{v}"
    );

    // NEventsListener counts the clients following /events.
    assert_eq!(v["NEventsListener"], 0);
    let mut events = d
        .docker_cmd(&["events"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker events");
    wait_for("one events listener", Duration::from_secs(10), || {
        d.http_json("GET", "/info", None).1["NEventsListener"] == 1
    });
    let _ = events.kill();
    let _ = events.wait();
    wait_for("no events listener", Duration::from_secs(10), || {
        d.http_json("GET", "/info", None).1["NEventsListener"] == 0
    });

    // `docker info` prints without complaint: its stderr holds exactly
    // the daemon's warnings.
    let out = d.docker(&["info"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let warnings: Vec<String> = serde_json::from_value(v["Warnings"].clone()).expect("warnings");
    assert_eq!(stderr(&out), warnings.join("\n").trim());
    let text = stdout(&out);
    for line in [
        " Swarm: inactive",
        " Live Restore Enabled: true",
        " Cgroup Driver: cgroupfs",
    ] {
        assert!(text.contains(line), "want {line:?} in\n{text}");
    }
    let json = d.docker_ok(&["info", "--format", "{{json .}}"]);
    let parsed: serde_json::Value = serde_json::from_str(json.trim()).expect("docker info json");
    assert_eq!(parsed["ServerVersion"], v["ServerVersion"]);
}
