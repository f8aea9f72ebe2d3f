//! `build` and `render` without root: docker's merge, validation messages,
//! warnings, and the inspect JSON of requests as the docker CLI sends them.

use std::collections::BTreeMap;

use pier_api::container::ContainerCreateRequest;
use pier_image::ImageConfig;
use serde_json::{json, Value};

use super::*;

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn defaults(opts: &BTreeMap<String, String>) -> Defaults<'_> {
    Defaults {
        log_driver: "json-file",
        log_opts: opts,
        runtime: "runc",
        ncpu: 2,
        cgroup_v2: false,
        apparmor: false,
        bridge_default: false,
        host: HostSupport::unchecked(),
    }
}

fn image() -> ImageConfig {
    ImageConfig {
        env: vec!["PATH=/usr/bin:/bin".into()],
        cmd: Some(vec!["sh".into()]),
        labels: [("from".to_string(), "image".to_string())].into(),
        exposed_ports: vec!["80/tcp".into()],
        volumes: vec!["/data".into()],
        ..Default::default()
    }
}

/// What docker CLI 28 sends for `docker create busybox sleep 1`.
fn cli_request() -> Value {
    serde_json::from_str(include_str!("../../../pier-api/src/fixtures/docker-cli-create.json")).expect("fixture")
}

fn with(mut base: Value, host: Value) -> ContainerCreateRequest {
    if let (Some(hc), Value::Object(extra)) = (base["HostConfig"].as_object_mut(), host) {
        for (k, v) in extra {
            hc.insert(k, v);
        }
    }
    serde_json::from_value(base).expect("request")
}

fn build_json(req: &ContainerCreateRequest) -> Result<Built, CreateError> {
    let opts = BTreeMap::new();
    build(ID, req, &image(), &defaults(&opts))
}

fn refused(host: Value) -> String {
    match build_json(&with(cli_request(), host)) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn docker_cli_default_request_builds_without_warnings() {
    let built = build_json(&with(cli_request(), json!({}))).expect("build");
    assert!(built.warnings.is_empty(), "{:?}", built.warnings);
    let s = &built.spec;
    assert_eq!(s.process.path, "sleep");
    assert_eq!(s.process.args, ["1"]);
    assert_eq!(s.process.env, ["PATH=/usr/bin:/bin"]);
    assert_eq!(s.hostname, "0123456789ab");
    assert_eq!(s.labels.get("from").map(String::as_str), Some("image"));
    assert_eq!(s.storage.volumes, ["/data"]);
    assert_eq!(s.shm_size, 64 << 20);
    assert_eq!(s.network, NetworkMode::None);
    assert_eq!(s.restart, RestartPolicy::No);
    assert_eq!(s.log.driver, LogDriver::JsonFile);
    assert_eq!((s.log.max_size, s.log.max_file), (Some(20 << 20), 5));
}

#[test]
fn inspect_renders_what_dockerd_prints() {
    let built = build_json(&with(cli_request(), json!({}))).expect("build");
    let hc = serde_json::to_value(render::host_config(&built.spec)).expect("hc");
    // dockerd's create-time defaults for this request (docker 28, cgroup v1 host).
    assert_eq!(hc["IpcMode"], "private");
    assert_eq!(hc["CgroupnsMode"], "host");
    assert_eq!(hc["OomKillDisable"], false);
    assert_eq!(hc["MemorySwappiness"], Value::Null);
    assert_eq!(hc["PidsLimit"], Value::Null);
    assert_eq!(hc["ShmSize"], 67108864);
    assert_eq!(hc["Runtime"], "runc");
    assert_eq!(hc["RestartPolicy"], json!({"Name": "no", "MaximumRetryCount": 0}));
    assert_eq!(hc["ConsoleSize"], json!([0, 0]));
    // Echoed as the CLI sent them: empty lists stay lists, nil stays null.
    assert_eq!(hc["Dns"], json!([]));
    assert_eq!(hc["BlkioWeightDevice"], json!([]));
    assert_eq!(hc["Ulimits"], json!([]));
    assert_eq!(hc["Binds"], Value::Null);
    assert_eq!(hc["CapAdd"], Value::Null);
    assert_eq!(hc["PortBindings"], json!({}));
    // dockerd fills in its default masked and read-only paths at create.
    assert!(hc["MaskedPaths"]
        .as_array()
        .is_some_and(|a| a.contains(&json!("/proc/kcore"))));
    assert!(hc["ReadonlyPaths"]
        .as_array()
        .is_some_and(|a| a.contains(&json!("/proc/sys"))));
    // Every key dockerd prints, in Go's field order.
    let keys: Vec<&str> = hc.as_object().expect("object").keys().map(String::as_str).collect();
    let sent: Vec<String> = cli_request()["HostConfig"]
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    let mut expected: Vec<&str> = sent.iter().map(String::as_str).collect();
    // dockerd adds Runtime (omitempty in the request) after Sysctls' place.
    let at = expected.iter().position(|k| *k == "Isolation").expect("Isolation");
    expected.insert(at, "Runtime");
    let mut got_sorted = keys.clone();
    got_sorted.sort_unstable();
    let mut exp_sorted = expected.clone();
    exp_sorted.sort_unstable();
    assert_eq!(got_sorted, exp_sorted);
    let config = serde_json::to_value(render::config(&built.spec, "busybox")).expect("config");
    assert_eq!(config["Image"], "busybox");
    assert_eq!(config["Cmd"], json!(["sleep", "1"]));
    assert_eq!(config["Entrypoint"], Value::Null);
    assert_eq!(config["ExposedPorts"], json!({"80/tcp": {}}));
    assert_eq!(config["Volumes"], json!({"/data": {}}));
    assert_eq!(config["OnBuild"], Value::Null);
    insta::assert_json_snapshot!("inspect_cli_default", json!({"Config": config, "HostConfig": hc}));
}

#[test]
fn inspect_snapshots_of_typical_requests() {
    let cases = [
        (
            "limits",
            json!({"Memory": 33554432, "NanoCpus": 1500000000, "PidsLimit": 100}),
        ),
        (
            "etc_and_security",
            json!({"ExtraHosts": ["db:10.0.0.2"], "Dns": ["1.1.1.1"], "CapAdd": ["NET_ADMIN"],
                   "Privileged": false, "ReadonlyRootfs": true, "ShmSize": 1048576,
                   "Tmpfs": {"/run": "size=1m"}, "AutoRemove": true}),
        ),
        (
            "logging_and_restart",
            json!({"LogConfig": {"Type": "json-file", "Config": {"max-size": "1m", "compress": "true"}},
                   "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}}),
        ),
    ];
    for (name, host) in cases {
        let built = build_json(&with(cli_request(), host)).expect(name);
        let hc = serde_json::to_value(render::host_config(&built.spec)).expect("hc");
        insta::assert_json_snapshot!(
            format!("inspect_{name}"),
            json!({"HostConfig": hc, "Warnings": built.warnings})
        );
    }
}

#[test]
fn unapplied_fields_warn_and_are_recorded() {
    let built = build_json(&with(
        cli_request(),
        json!({"Memory": 33554432, "Cgroup": "other", "NetworkMode": "bridge",
               "RestartPolicy": {"Name": "always"}, "CpuPercent": 5}),
    ))
    .expect("build");
    let w = built.warnings.join("\n");
    assert!(
        w.contains("HostConfig.Cgroup is recorded but not applied by Pier"),
        "{w}"
    );
    assert!(!w.contains("HostConfig.NetworkMode"), "network modes are applied: {w}");
    assert!(
        !w.contains("HostConfig.RestartPolicy"),
        "restart policies are applied: {w}"
    );
    assert!(
        w.contains("linux does not support CPU percent. Percent discarded."),
        "{w}"
    );
    let hc = render::host_config(&built.spec);
    assert_eq!(hc.memory, 33554432);
    assert_eq!(hc.memory_swap, 67108864, "dockerd doubles Memory into MemorySwap");
    assert_eq!(hc.network_mode, "bridge");
    assert_eq!(hc.restart_policy.name, "always");
}

#[test]
fn refusals_use_dockers_messages() {
    let cases = [
        (json!({"Isolation": "hyperv"}), "invalid isolation 'hyperv' on linux"),
        (
            json!({"StorageOpt": {"size": "10G"}}),
            "--storage-opt is supported only for overlay over xfs with 'pquota' mount option",
        ),
        (
            json!({"LogConfig": {"Type": "syslog"}}),
            "logger: no log driver named 'syslog' is registered",
        ),
        (json!({"ExtraHosts": ["nocolon"]}), "bad format for add-host: \"nocolon\""),
        (
            json!({"ExtraHosts": ["h:notanip"]}),
            "invalid IP address in add-host: \"notanip\"",
        ),
        (
            json!({"Tmpfs": {"run": ""}}),
            "invalid mount path: 'run' mount path must be absolute",
        ),
        (json!({"Tmpfs": {"/": ""}}), "invalid specification: destination can't be '/'"),
        (json!({"Tmpfs": {"//": ""}}), "invalid specification: destination can't be '/'"),
        (json!({"Tmpfs": {"/..": ""}}), "invalid specification: destination can't be '/'"),
        (json!({"Memory": 1024}), "Minimum memory limit allowed is 6MB"),
        (
            json!({"Memory": 10485760, "MemorySwap": 8388608}),
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (
            json!({"MemorySwappiness": 101}),
            "Invalid value: 101, valid memory swappiness range is 0-100",
        ),
        (
            json!({"NanoCpus": 5000000000i64}),
            "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available",
        ),
        (
            json!({"CpuPeriod": 10}),
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ),
        (json!({"BlkioWeight": 5}), "Range of blkio weight is from 10 to 1000"),
        (
            json!({"OomScoreAdj": 1001}),
            "Invalid value 1001, range for oom score adj is [-1000, 1000]",
        ),
        (json!({"ShmSize": -1}), "SHM size can not be less than 0"),
        (json!({"IpcMode": "bogus"}), "invalid IPC mode: bogus"),
        (json!({"PidMode": "bogus"}), "invalid PID mode: bogus"),
        (json!({"UTSMode": "bogus"}), "invalid UTS mode: bogus"),
        (json!({"CgroupnsMode": "bogus"}), "invalid cgroup namespace mode: bogus"),
        (json!({"PidMode": "private"}), "invalid PID mode: private"),
        (json!({"PidMode": "container:"}), "invalid PID mode: container:"),
        (
            json!({"DeviceCgroupRules": ["c 1:3  rwm"]}),
            "invalid device cgroup rule format: 'c 1:3  rwm'",
        ),
        (
            json!({"DeviceCgroupRules": ["c 99999999999999999999:1 r"]}),
            "invalid major value in device cgroup rule format: 'c 99999999999999999999:1 r'",
        ),
        (
            json!({"Devices": [{"PathOnHost": "/dev/zero", "PathInContainer": "/dev/z", "CgroupPermissions": "rwx"}]}),
            "invalid device mode: rwx",
        ),
        (
            json!({"Devices": [{"PathOnHost": "/dev/zero", "PathInContainer": "z", "CgroupPermissions": "r"}]}),
            "z is not an absolute path",
        ),
        (json!({"GroupAdd": ["99999999999"]}), "uids and gids must be in range 0-2147483647"),
        (json!({"CapAdd": ["CAP_BOGUS"]}), "invalid CapAdd: unknown capability: \"CAP_BOGUS\""),
        (
            json!({"RestartPolicy": {"Name": "sometimes"}}),
            "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
        ),
        (
            json!({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}}),
            "invalid restart policy: maximum retry count can only be used with 'on-failure'",
        ),
        (
            json!({"AutoRemove": true, "RestartPolicy": {"Name": "always"}}),
            "can't create 'AutoRemove' container with restart policy",
        ),
        (
            json!({"IOMaximumIOps": 5}),
            "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps",
        ),
        (
            json!({"PortBindings": {"80x/tcp": [{"HostPort": "8080"}]}}),
            "invalid port specification: \"80x\"",
        ),
        (
            json!({"DeviceRequests": [{"Driver": "", "Count": -1, "Capabilities": [["gpu"]]}]}),
            "could not select device driver \"\" with capabilities: [[gpu]]",
        ),
        (
            json!({"Annotations": {"": "x"}}),
            "invalid Annotations: the empty string is not permitted as an annotation key",
        ),
    ];
    for (host, message) in cases {
        assert_eq!(refused(host.clone()), message, "for {host}");
    }
    let mut bad_config = cli_request();
    bad_config["StopSignal"] = json!("SIGBOGUS");
    let e = build_json(&serde_json::from_value(bad_config).expect("request")).expect_err("signal");
    assert_eq!(e.to_string(), "Invalid signal: SIGBOGUS");
    let mut bad_config = cli_request();
    bad_config["WorkingDir"] = json!("relative");
    let e = build_json(&serde_json::from_value(bad_config).expect("request")).expect_err("workdir");
    assert_eq!(
        e.to_string(),
        "the working directory 'relative' is invalid, it needs to be an absolute path"
    );
    let mut bad_config = cli_request();
    bad_config["Env"] = json!(["=x"]);
    let e = build_json(&serde_json::from_value(bad_config).expect("request")).expect_err("env");
    assert_eq!(e.to_string(), "invalid environment variable: =x");
}

#[test]
fn version_one_records_upgrade() {
    let v1: upgrade::V1Request = serde_json::from_str(include_str!("fixtures/container-v1.json")).expect("v1 fixture");
    let opts = BTreeMap::new();
    let (spec, notes) = upgrade::spec_from_v1(ID, &v1, &defaults(&opts)).expect("upgrade");
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(spec.process.path, "sh");
    assert_eq!(spec.process.args, ["-c", "echo hi; sleep 1000"]);
    assert_eq!(spec.log.options.get("max-size").map(String::as_str), Some("1m"));
    assert_eq!(spec.log.attribute_labels, ["app"]);
    assert!(spec.process.stdio.open_stdin);
    assert_eq!(spec.labels.get("app").map(String::as_str), Some("web"));
    let hc = render::host_config(&spec);
    assert_eq!(hc.binds, Some(vec!["data:/data".to_string()]));
}

fn security(opts: &[&str]) -> Result<Built, CreateError> {
    build_json(&with(cli_request(), json!({ "SecurityOpt": opts })))
}

#[test]
fn security_opts_become_typed_fields() {
    let sec = |opts: &[&str]| security(opts).map(|b| b.spec.security).expect("accepted");
    let s = sec(&[]);
    assert_eq!(
        (s.seccomp.clone(), s.no_new_privileges, s.writable_cgroups),
        (None, false, None)
    );
    assert!(sec(&["no-new-privileges"]).no_new_privileges);
    assert!(sec(&["no-new-privileges=true"]).no_new_privileges);
    assert!(
        sec(&["no-new-privileges:1"]).no_new_privileges,
        "the deprecated colon form"
    );
    assert!(!sec(&["no-new-privileges", "no-new-privileges=false"]).no_new_privileges);
    assert_eq!(sec(&["seccomp=unconfined"]).seccomp, Some(SeccompPolicy::Unconfined));
    assert_eq!(sec(&["seccomp:unconfined"]).seccomp, Some(SeccompPolicy::Unconfined));
    assert_eq!(sec(&["seccomp=builtin"]).seccomp, Some(SeccompPolicy::Builtin));
    assert_eq!(sec(&["seccomp="]).seccomp, None);
    let profile = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#;
    assert_eq!(
        sec(&[&format!("seccomp={profile}")]).seccomp,
        Some(SeccompPolicy::Custom {
            profile: profile.to_string()
        })
    );
    assert_eq!(sec(&["writable-cgroups"]).writable_cgroups, Some(true));
    assert_eq!(sec(&["writable-cgroups=false"]).writable_cgroups, Some(false));
    // SELinux label options are parsed and have no effect, as dockerd's
    // without SELinux; apparmor=unconfined is what every process gets here.
    let s = sec(&[
        "label=disable",
        "label:user:USER",
        "label=level:s0:c100,c200",
        "disable",
        "apparmor=unconfined",
    ]);
    assert_eq!(s, SecuritySpec::default());
    // Nothing is warned about any more.
    let built = security(&["no-new-privileges", "seccomp=unconfined"]).expect("accepted");
    assert!(built.warnings.is_empty(), "{:?}", built.warnings);
}

#[test]
fn bad_security_opts_are_refused_with_dockerds_messages() {
    let refused = |opts: &[&str]| security(opts).map(|_| ()).expect_err("refused").to_string();
    assert_eq!(refused(&["label"]), "invalid --security-opt 1: \"label\"");
    assert_eq!(refused(&["unknown"]), "invalid --security-opt 1: \"unknown\"");
    assert_eq!(
        refused(&["unknown=something"]),
        "invalid --security-opt 2: \"unknown=something\""
    );
    assert_eq!(
        refused(&["writable-cgroups=dang"]),
        "invalid --security-opt 2: \"writable-cgroups=dang\""
    );
    assert_eq!(
        refused(&["no-new-privileges=maybe"]),
        "invalid --security-opt 2: \"no-new-privileges=maybe\""
    );
    assert_eq!(
        refused(&["no-new-privileges="]),
        "invalid --security-opt 2: \"no-new-privileges=\""
    );
    assert!(refused(&["seccomp={not json"]).starts_with("Decoding seccomp profile failed: "));
    assert!(refused(&["seccomp=/etc/profile.json"]).starts_with("Decoding seccomp profile failed: "));
    assert_eq!(
        refused(&["apparmor=docker-default"]),
        "AppArmor is not enabled on this host: cannot apply --security-opt \"apparmor=docker-default\""
    );
}

#[test]
fn apparmor_profiles_are_kept_on_apparmor_hosts() {
    let opts = BTreeMap::new();
    let mut d = defaults(&opts);
    d.apparmor = true;
    let req = with(cli_request(), json!({"SecurityOpt": ["apparmor=docker-default"]}));
    let built = build(ID, &req, &image(), &d).expect("accepted");
    assert_eq!(built.spec.security.apparmor_profile.as_deref(), Some("docker-default"));
}

#[test]
fn inspect_echoes_security_opts_and_adds_label_disable_as_dockerd() {
    let opts_of = |host: Value| {
        let built = build_json(&with(cli_request(), host)).expect("build");
        serde_json::to_value(render::host_config(&built.spec)).expect("hc")["SecurityOpt"].clone()
    };
    let profile = r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#;
    let sent = json!(["no-new-privileges", format!("seccomp={profile}")]);
    assert_eq!(opts_of(json!({ "SecurityOpt": sent.clone() })), sent);
    assert_eq!(opts_of(json!({})), Value::Null);
    assert_eq!(opts_of(json!({"Privileged": true})), json!(["label=disable"]));
    assert_eq!(opts_of(json!({"PidMode": "host"})), json!(["label=disable"]));
    assert_eq!(
        opts_of(json!({"IpcMode": "host", "SecurityOpt": ["no-new-privileges"]})),
        json!(["no-new-privileges", "label=disable"])
    );
    assert_eq!(
        opts_of(json!({"Privileged": true, "SecurityOpt": ["label=disable"]})),
        json!(["label=disable"])
    );
}

#[test]
fn cgroupns_follows_dockers_default_for_the_host() {
    let opts = BTreeMap::new();
    let mode = |v2: bool, requested: &str| {
        let mut d = defaults(&opts);
        d.cgroup_v2 = v2;
        let built = build(
            ID,
            &with(cli_request(), json!({"CgroupnsMode": requested})),
            &image(),
            &d,
        )
        .expect("build");
        let hc = serde_json::to_value(render::host_config(&built.spec)).expect("hc");
        assert!(built.warnings.is_empty(), "{:?}", built.warnings);
        (
            built.spec.cgroupns,
            hc["CgroupnsMode"].as_str().unwrap_or_default().to_string(),
        )
    };
    assert_eq!(mode(false, ""), (CgroupnsMode::Host, "host".to_string()));
    assert_eq!(mode(true, ""), (CgroupnsMode::Private, "private".to_string()));
    assert_eq!(mode(false, "private"), (CgroupnsMode::Private, "private".to_string()));
    assert_eq!(mode(true, "host"), (CgroupnsMode::Host, "host".to_string()));
}

#[test]
fn isolation_is_typed_and_rendered_as_dockerd_prints_it() {
    let built = build_json(&with(cli_request(), json!({}))).expect("build");
    let hc = serde_json::to_value(render::host_config(&built.spec)).expect("hc");
    assert_eq!(
        (&hc["PidMode"], &hc["IpcMode"], &hc["UTSMode"]),
        (&json!(""), &json!("private"), &json!(""))
    );
    assert_eq!(hc["Devices"], json!([]));
    assert_eq!(hc["DeviceCgroupRules"], Value::Null);
    assert_eq!(hc["GroupAdd"], Value::Null);
    assert!(hc.get("Init").is_none() || hc["Init"] == Value::Null);

    let mut req = with(
        cli_request(),
        json!({
            "PidMode": "host", "IpcMode": "shareable", "UTSMode": "host", "Init": true,
            "Devices": [{"PathOnHost": "/dev/zero", "PathInContainer": "/dev/myzero", "CgroupPermissions": "r"}],
            "DeviceCgroupRules": ["c 1:3 rw", "a *:* m"], "GroupAdd": ["audio", "1234"], "Runtime": "other"
        }),
    );
    req.config.hostname = "named".into();
    assert_eq!(
        build_json(&req).expect_err("hostname").to_string(),
        "conflicting options: hostname and the UTS mode"
    );
    req.config.hostname = String::new();
    let built = build_json(&req).expect("build");
    assert!(built.warnings.is_empty(), "{:?}", built.warnings);
    let iso = &built.spec.isolation;
    assert_eq!(iso.pid, PidMode::Host);
    assert_eq!(iso.ipc, IpcMode::Shareable);
    assert_eq!(iso.uts, UtsMode::Host);
    assert_eq!(iso.init, Some(true));
    assert_eq!(built.spec.runtime, "other");
    let hc = serde_json::to_value(render::host_config(&built.spec)).expect("hc");
    assert_eq!(hc["PidMode"], "host");
    assert_eq!(hc["IpcMode"], "shareable");
    assert_eq!(hc["UTSMode"], "host");
    assert_eq!(hc["Init"], true);
    assert_eq!(hc["Runtime"], "other");
    assert_eq!(
        hc["Devices"],
        json!([{"PathOnHost": "/dev/zero", "PathInContainer": "/dev/myzero", "CgroupPermissions": "r"}])
    );
    assert_eq!(hc["DeviceCgroupRules"], json!(["c 1:3 rw", "a *:* m"]));
    assert_eq!(hc["GroupAdd"], json!(["audio", "1234"]));

    let built = build_json(&with(
        cli_request(),
        json!({"PidMode": "container:web", "IpcMode": "container:db"}),
    ))
    .expect("build");
    assert_eq!(built.spec.isolation.pid, PidMode::Container("web".into()));
    assert_eq!(built.spec.isolation.ipc, IpcMode::Container("db".into()));
}

#[test]
fn device_rules_parse_as_dockerd() {
    let r = DeviceRule::parse("c 1:* rw").expect("rule");
    assert_eq!(
        (r.kind, r.major, r.minor, r.access()),
        ('c', Some(1), None, "rw".to_string())
    );
    assert_eq!(DeviceRule::parse("a *:* mrw").expect("rule").access(), "rwm");
    for bad in [
        "",
        "c 1:1",
        "z 1:1 r",
        "c 11 rwm",
        "c a:a rwm",
        "c -1:1 rwm",
        "c 1:1 rwmx",
        " c 1:1 r",
    ] {
        assert!(DeviceRule::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn endpoint_settings_and_ports() {
    let mut base = cli_request();
    base["NetworkingConfig"] = json!({"EndpointsConfig": {"front": {
        "Aliases": ["www", "api"], "IPAMConfig": {"IPv4Address": "10.9.0.5"}, "MacAddress": ""}}});
    let built = build_json(&with(
        base.clone(),
        json!({"NetworkMode": "front", "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},
               "PublishAllPorts": true}),
    ))
    .expect("build");
    let s = &built.spec;
    assert_eq!(s.network, NetworkMode::Named("front".into()));
    assert_eq!(s.endpoint.aliases, ["www", "api"]);
    assert_eq!(s.endpoint.ipv4, Some("10.9.0.5".parse().expect("ip")));
    assert_eq!(s.endpoint.mac, None);
    // -P adds the image's exposed 80/tcp only when not bound already.
    assert_eq!(
        s.ports.bindings["80/tcp"],
        vec![("127.0.0.1".to_string(), "8080".to_string())]
    );
    assert!(!built
        .warnings
        .iter()
        .any(|w| w.contains("PortBindings") || w.contains("PublishAllPorts")));
    // The default bridge takes neither aliases nor addresses.
    let mut bridge = base.clone();
    bridge["NetworkingConfig"] = json!({"EndpointsConfig": {"bridge": {"Aliases": ["x"]}}});
    let err = build_json(&with(bridge, json!({"NetworkMode": "bridge"}))).expect_err("refused");
    assert!(
        err.to_string().contains("network-scoped alias is supported only"),
        "{err}"
    );
    let mut bad = base;
    bad["NetworkingConfig"] = json!({"EndpointsConfig": {"front": {"IPAMConfig": {"IPv4Address": "nope"}}}});
    assert!(build_json(&with(bad, json!({"NetworkMode": "front"}))).is_err());
}
