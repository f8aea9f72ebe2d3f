//! Snapshot tests of generated specs, plus the rules that are easier to
//! state on a whole spec than on a helper.

use std::path::PathBuf;

use oci_spec::runtime::Spec;
use serde_json::Value;

use super::*;

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
const GROUP: &str = "root:x:0:\nwheel:x:10:root\naudio:x:29:app\nvideo:x:44:app\napp:x:1000:\n";

fn input() -> SpecInput {
    let dir = PathBuf::from(format!("/var/lib/pier/containers/{ID}"));
    let mut input = SpecInput::new(
        ID,
        dir.join("fs/merged"),
        vec!["sh".to_string()],
        HostLimits {
            nofile: Rlimit {
                soft: 1024,
                hard: 4_194_304,
            },
            // This machine's root: every capability but CAP_SYS_RESOURCE.
            cap_bounding: 0x1fffeffffff,
            kernel: seccomp::KernelVersion { kernel: 6, major: 1 },
            arch: "amd64",
            x32: true,
        },
    );
    input.etc_files = Some(EtcFiles {
        hostname: dir.join("hostname"),
        hosts: dir.join("hosts"),
        resolv_conf: dir.join("resolv.conf"),
    });
    input.cgroups_path = Some(format!("/pier/{ID}"));
    input
        .annotations
        .insert("com.example.team".to_string(), "infra".to_string());
    input
}

/// The spec as JSON with sorted capability lists: capability sets are
/// hash sets, so their order changes between runs. (Hash maps are sorted by
/// insta's `sort_maps`.) The seccomp section has its own snapshot
/// (`default_seccomp`); whole specs show its default action and rule count.
fn canonical(spec: &Spec) -> Value {
    let mut v = serde_json::to_value(spec).unwrap_or(Value::Null);
    if let Some(sets) = v.pointer_mut("/process/capabilities").and_then(Value::as_object_mut) {
        for list in sets.values_mut().filter_map(Value::as_array_mut) {
            list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
    if let Some(seccomp) = v.pointer_mut("/linux/seccomp") {
        let rules = seccomp["syscalls"].as_array().map_or(0, Vec::len);
        *seccomp = serde_json::json!({
            "defaultAction": seccomp["defaultAction"].clone(),
            "syscalls": format!("{rules} rules"),
        });
    }
    v
}

macro_rules! assert_spec_snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ sort_maps => true }, {
            insta::assert_json_snapshot!($name, $value);
        })
    };
}

fn snapshot_of(input: &SpecInput) -> Value {
    match build(input) {
        Ok(spec) => canonical(&spec),
        Err(e) => panic!("build failed: {e}"),
    }
}

#[test]
fn default_container() {
    assert_spec_snapshot!("default_container", snapshot_of(&input()));
}

#[test]
fn privileged_container() {
    let mut input = input();
    input.privileged = true;
    assert_spec_snapshot!("privileged_container", snapshot_of(&input));
}

#[test]
fn user_with_groups() {
    let mut input = input();
    input.user = resolve_user("app", PASSWD, GROUP).unwrap_or_else(|e| panic!("{e}"));
    input.cwd = "/home/app".to_string();
    let config_env = merge_env(&["PATH=/opt/bin:/usr/bin:/bin".to_string()], &["MODE=prod".to_string()]);
    input.env = process_env(&config_env, &input.hostname, false);
    assert_spec_snapshot!("user_with_groups", snapshot_of(&input));
}

#[test]
fn tty_container() {
    let mut input = input();
    input.tty = true;
    input.console_size = Some(ConsoleSize { height: 40, width: 120 });
    input.env = process_env(&[], &input.hostname, true);
    input.args = resolve_command(&[], &["sh".to_string()], None, &[]).unwrap_or_default();
    assert_spec_snapshot!("tty_container", snapshot_of(&input));
}

fn spec_of(input: &SpecInput) -> Spec {
    build(input).unwrap_or_else(|e| panic!("build failed: {e}"))
}

fn seccomp_of(input: &SpecInput) -> Option<oci_spec::runtime::LinuxSeccomp> {
    spec_of(input).linux().as_ref().and_then(|l| l.seccomp().clone())
}

#[test]
fn default_seccomp() {
    // docker's default profile for docker's 14 capabilities on amd64.
    let section = seccomp_of(&input()).unwrap_or_else(|| panic!("no seccomp section"));
    assert_spec_snapshot!("default_seccomp", section);
}

#[test]
fn seccomp_follows_privileged_and_the_requested_profile() {
    let rules = |input: &SpecInput| seccomp_of(input).map(|s| s.syscalls().as_ref().map_or(0, Vec::len));
    let mut i = input();
    assert_eq!(rules(&i), Some(13));
    i.cap_add = vec!["SYS_ADMIN".to_string()];
    assert_eq!(rules(&i), Some(12), "CAP_SYS_ADMIN: its rule in, the clone guards out");
    i.cap_add.clear();
    i.seccomp = Seccomp::Unconfined;
    assert_eq!(rules(&i), None);
    i.privileged = true;
    i.seccomp = Seccomp::Default;
    assert_eq!(rules(&i), None, "privileged runs unconfined by default");
    i.seccomp = Seccomp::Builtin;
    // Every capability: every cap rule of the amd64 profile, no clone guards.
    assert!(rules(&i).is_some_and(|n| n > 13), "{:?}", rules(&i));
    let custom = seccomp::Profile::parse(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    i.seccomp = Seccomp::Custom(custom);
    let s = seccomp_of(&i).unwrap_or_else(|| panic!("custom profile applies when privileged"));
    assert_eq!(s.default_action(), oci_spec::runtime::LinuxSeccompAction::ScmpActAllow);
    assert_eq!(s.architectures(), &None);
}

#[test]
fn no_new_privileges_apparmor_cgroupns_and_writable_cgroups() {
    let mut i = input();
    let spec = spec_of(&i);
    let p = spec.process().clone().unwrap_or_default();
    assert_eq!(p.no_new_privileges(), Some(false));
    assert_eq!(p.apparmor_profile(), &None);
    let ns = |spec: &Spec| -> Vec<String> {
        spec.linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default()
            .iter()
            .map(|n| n.typ().to_string())
            .collect()
    };
    assert!(!ns(&spec).iter().any(|n| n == "cgroup"), "{:?}", ns(&spec));
    let cgroup_opts = |spec: &Spec| {
        spec.mounts()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .find(|m| m.destination() == &PathBuf::from("/sys/fs/cgroup"))
            .and_then(|m| m.options().clone())
            .unwrap_or_default()
    };
    assert!(cgroup_opts(&spec).contains(&"ro".to_string()));

    i.no_new_privileges = true;
    i.apparmor_profile = Some("docker-default".to_string());
    i.cgroupns_private = true;
    i.writable_cgroups = Some(true);
    let spec = spec_of(&i);
    let p = spec.process().clone().unwrap_or_default();
    assert_eq!(p.no_new_privileges(), Some(true));
    assert_eq!(p.apparmor_profile().as_deref(), Some("docker-default"));
    assert!(ns(&spec).iter().any(|n| n == "cgroup"), "{:?}", ns(&spec));
    assert!(!cgroup_opts(&spec).contains(&"ro".to_string()));

    // An exec inherits no-new-privileges and the AppArmor profile (runc
    // applies the container's seccomp filter to every exec by itself).
    let exec = ExecInput {
        args: vec!["id".to_string()],
        env: Vec::new(),
        cwd: None,
        user: None,
        tty: false,
        console_size: None,
        privileged: true,
        cap_bounding: ALL_CAPS_MASK,
    };
    let p = exec_process(&spec, &exec).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.no_new_privileges(), Some(true));
    assert_eq!(p.apparmor_profile().as_deref(), Some("docker-default"));

    // Privileged: writable unless writable-cgroups=false.
    let mut i = input();
    i.privileged = true;
    assert!(!cgroup_opts(&spec_of(&i)).contains(&"ro".to_string()));
    i.writable_cgroups = Some(false);
    assert!(cgroup_opts(&spec_of(&i)).contains(&"ro".to_string()));
}

#[test]
fn nofile_never_exceeds_the_hard_limit() {
    let mut input = input();
    input.host.nofile = Rlimit {
        soft: 1024,
        hard: 20_000,
    };
    let spec = spec_of(&input);
    let rlimits = spec
        .process()
        .as_ref()
        .and_then(|p| p.rlimits().clone())
        .unwrap_or_default();
    assert_eq!(rlimits.len(), 1);
    assert_eq!((rlimits[0].soft(), rlimits[0].hard()), (20_000, 20_000));
}

#[test]
fn readonly_rootfs_marks_root_and_etc_binds() {
    let mut input = input();
    input.readonly_rootfs = true;
    let spec = spec_of(&input);
    assert_eq!(spec.root().as_ref().and_then(|r| r.readonly()), Some(true));
    let hosts = spec
        .mounts()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .find(|m| m.destination() == &PathBuf::from("/etc/hosts"));
    assert_eq!(
        hosts.and_then(|m| m.options().clone()),
        Some(vec!["rbind".to_string(), "ro".into(), "rprivate".into()])
    );
}

#[test]
fn user_mount_replaces_etc_file_bind() {
    let mut input = input();
    input.mounts.push(ExtraMount::Bind(BindMount {
        source: PathBuf::from("/srv/hosts"),
        destination: "/etc/hosts".to_string(),
        readonly: true,
        propagation: Propagation::RPrivate,
        non_recursive: false,
    }));
    let spec = spec_of(&input);
    let hosts: Vec<_> = spec
        .mounts()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.destination() == &PathBuf::from("/etc/hosts"))
        .collect();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].source(), &Some(PathBuf::from("/srv/hosts")));
}

#[test]
fn unknown_capability_fails_the_build() {
    let mut input = input();
    input.cap_add = vec!["NOPE".to_string()];
    assert!(matches!(build(&input), Err(SpecError::UnknownCapability { .. })));
}

#[test]
fn exec_process_copies_init_and_overrides() {
    let spec = spec_of(&input());
    let exec = ExecInput {
        args: vec!["id".to_string()],
        env: replace_or_append_env(&process_env(&[], "0123456789ab", true), &["EXTRA=1".to_string()]),
        cwd: None,
        user: Some(resolve_user("app", PASSWD, GROUP).unwrap_or_else(|e| panic!("{e}"))),
        tty: true,
        console_size: Some(ConsoleSize { height: 24, width: 80 }),
        privileged: false,
        cap_bounding: ALL_CAPS_MASK,
    };
    let p = exec_process(&spec, &exec).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.args().as_deref(), Some(&["id".to_string()][..]));
    assert_eq!(p.cwd(), &PathBuf::from("/"));
    assert_eq!(p.user().uid(), 1000);
    assert_eq!(p.user().additional_gids().as_deref(), Some(&[1000, 29, 44][..]));
    assert_eq!(p.terminal(), Some(true));
    assert_eq!(p.console_size().map(|b| (b.height(), b.width())), Some((24, 80)));
    let init_rlimits = spec.process().as_ref().and_then(|i| i.rlimits().clone());
    assert_eq!(p.rlimits(), &init_rlimits);
    let caps = p.capabilities().clone().unwrap_or_default();
    assert_eq!(caps.bounding().as_ref().map(|b| b.len()), Some(14));
    assert!(caps.effective().is_none());

    let root_privileged = ExecInput {
        user: None,
        privileged: true,
        ..exec
    };
    let p = exec_process(&spec, &root_privileged).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.user().uid(), 0);
    let caps = p.capabilities().clone().unwrap_or_default();
    assert_eq!(caps.effective().as_ref().map(|b| b.len()), Some(ALL_CAPABILITIES.len()));
}
