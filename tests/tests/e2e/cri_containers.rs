//! End-to-end: CRI containers (issue 17) in a pod through the gRPC API:
//! lifecycle and status, list filters, the security context, logs at
//! `<log_directory>/<log_path>` in the CRI format with ReopenContainerLog,
//! ExecSync (its timeout kills the process), stats, resource updates and
//! a pierd restart with running pods. Images come from a local registry
//! through the registry host map (`registry_with_images`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use pier_cri_api::tonic::Code;
use pier_cri_api::v1 as cri;
use pier_testkit::{wait_until, Daemon};
use serde_json::json;

use super::cri_images::{registry_with_images, socket_dir, Cri};
use super::images::Registry;

/// A daemon with the CRI on, a registry holding cribox (user 1000) and the
/// pause image, and a pod log directory.
struct Node {
    c: Cri,
    d: Daemon,
    logs: tempfile::TempDir,
    _socket_dir: tempfile::TempDir,
    _registry: Registry,
    _work: tempfile::TempDir,
}

type CallResult<T> = Result<T, (Code, String)>;

impl Node {
    fn boot() -> Node {
        let work = tempfile::tempdir().expect("work dir");
        let registry = registry_with_images(work.path());
        let endpoint = format!("http://{}", registry.host());
        let dir = socket_dir();
        let socket = dir.path().join("cri.sock");
        let config = json!({"cri": {
            "socket": format!("unix://{}", socket.display()),
            "registry-hosts": {"docker.io": endpoint, "registry.k8s.io": endpoint},
        }});
        let d = Daemon::builder().config(&config.to_string()).start();
        let mut c = Cri::connect(&socket, &d);
        let images = &mut c.images;
        c.rt.block_on(images.pull_image(cri::PullImageRequest {
            image: Some(cri::ImageSpec {
                image: "cribox".into(),
                ..Default::default()
            }),
            ..Default::default()
        }))
        .unwrap_or_else(|e| panic!("pull cribox: {e}\n{}", d.daemon_log()));
        let logs = tempfile::tempdir().expect("pod log dir");
        Node {
            c,
            d,
            logs,
            _socket_dir: dir,
            _registry: registry,
            _work: work,
        }
    }

    fn err<T>(r: Result<pier_cri_api::tonic::Response<T>, pier_cri_api::tonic::Status>) -> CallResult<T> {
        r.map(|r| r.into_inner())
            .map_err(|e| (e.code(), e.message().to_string()))
    }

    fn pod_config(&self, name: &str) -> cri::PodSandboxConfig {
        cri::PodSandboxConfig {
            metadata: Some(cri::PodSandboxMetadata {
                name: name.into(),
                uid: format!("uid-{name}"),
                namespace: "default".into(),
                attempt: 0,
            }),
            hostname: format!("{name}-host"),
            log_directory: self.logs.path().join(name).display().to_string(),
            ..Default::default()
        }
    }

    fn run_pod(&mut self, name: &str) -> String {
        let config = self.pod_config(name);
        let rt = &self.c.runtime;
        let r = self
            .c
            .rt
            .block_on(rt.clone().run_pod_sandbox(cri::RunPodSandboxRequest {
                config: Some(config),
                runtime_handler: String::new(),
            }));
        Self::err(r)
            .unwrap_or_else(|e| panic!("RunPodSandbox: {e:?}\n{}", self.d.daemon_log()))
            .pod_sandbox_id
    }

    fn create(&mut self, pod: &str, pod_name: &str, config: cri::ContainerConfig) -> CallResult<String> {
        let sandbox_config = self.pod_config(pod_name);
        let rt = &self.c.runtime;
        let r = self
            .c
            .rt
            .block_on(rt.clone().create_container(cri::CreateContainerRequest {
                pod_sandbox_id: pod.to_string(),
                config: Some(config),
                sandbox_config: Some(sandbox_config),
            }));
        Self::err(r).map(|r| r.container_id)
    }

    fn start(&mut self, id: &str) -> CallResult<()> {
        let rt = &self.c.runtime;
        let r = self
            .c
            .rt
            .block_on(rt.clone().start_container(cri::StartContainerRequest {
                container_id: id.to_string(),
            }));
        Self::err(r).map(drop)
    }

    /// Create and start; panics with the daemon's log on failure.
    fn run(&mut self, pod: &str, pod_name: &str, config: cri::ContainerConfig) -> String {
        let id = self
            .create(pod, pod_name, config)
            .unwrap_or_else(|e| panic!("CreateContainer: {e:?}\n{}", self.d.daemon_log()));
        self.start(&id)
            .unwrap_or_else(|e| panic!("StartContainer: {e:?}\n{}", self.d.daemon_log()));
        id
    }

    fn stop(&mut self, id: &str, timeout: i64) -> CallResult<()> {
        let rt = &self.c.runtime;
        let r = self.c.rt.block_on(rt.clone().stop_container(cri::StopContainerRequest {
            container_id: id.to_string(),
            timeout,
        }));
        Self::err(r).map(drop)
    }

    fn remove(&mut self, id: &str) -> CallResult<()> {
        let rt = &self.c.runtime;
        let r = self
            .c
            .rt
            .block_on(rt.clone().remove_container(cri::RemoveContainerRequest {
                container_id: id.to_string(),
            }));
        Self::err(r).map(drop)
    }

    fn status(&mut self, id: &str) -> CallResult<cri::ContainerStatus> {
        let rt = &self.c.runtime;
        let r = self
            .c
            .rt
            .block_on(rt.clone().container_status(cri::ContainerStatusRequest {
                container_id: id.to_string(),
                verbose: false,
            }));
        Self::err(r).map(|r| r.status.expect("status"))
    }

    fn list(&mut self, filter: cri::ContainerFilter) -> Vec<String> {
        let rt = &self.c.runtime;
        let r = self.c.rt.block_on(
            rt.clone()
                .list_containers(cri::ListContainersRequest { filter: Some(filter) }),
        );
        let mut ids: Vec<String> = Self::err(r)
            .expect("ListContainers")
            .containers
            .into_iter()
            .map(|c| c.id)
            .collect();
        ids.sort();
        ids
    }

    fn exec(&mut self, id: &str, cmd: &[&str], timeout: i64) -> CallResult<cri::ExecSyncResponse> {
        let rt = &self.c.runtime;
        let r = self.c.rt.block_on(rt.clone().exec_sync(cri::ExecSyncRequest {
            container_id: id.to_string(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            timeout,
        }));
        Self::err(r)
    }

    /// stdout of a command that must succeed.
    fn exec_ok(&mut self, id: &str, cmd: &[&str]) -> String {
        let r = self
            .exec(id, cmd, 10)
            .unwrap_or_else(|e| panic!("ExecSync {cmd:?}: {e:?}\n{}", self.d.daemon_log()));
        assert_eq!(
            r.exit_code,
            0,
            "{cmd:?}: {}{}",
            String::from_utf8_lossy(&r.stdout),
            String::from_utf8_lossy(&r.stderr)
        );
        String::from_utf8_lossy(&r.stdout).into_owned()
    }

    fn wait_state(&mut self, id: &str, state: cri::ContainerState) -> cri::ContainerStatus {
        let mut last = None;
        let ok = wait_until(Duration::from_secs(20), || {
            let s = self.status(id).expect("ContainerStatus");
            let done = s.state == state as i32;
            last = Some(s);
            done
        });
        let last = last.expect("a status");
        assert!(ok, "{id} never reached {state:?}: {last:?}\n{}", self.d.daemon_log());
        last
    }

    fn log_dir(&self, pod_name: &str) -> PathBuf {
        self.logs.path().join(pod_name)
    }
}

fn container(name: &str, command: &[&str]) -> cri::ContainerConfig {
    cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata {
            name: name.into(),
            attempt: 0,
        }),
        image: Some(cri::ImageSpec {
            image: "cribox".into(),
            ..Default::default()
        }),
        command: command.iter().map(|s| s.to_string()).collect(),
        log_path: format!("{name}/0.log"),
        labels: [("app".to_string(), name.to_string())].into(),
        annotations: [("note".to_string(), format!("{name}-note"))].into(),
        ..Default::default()
    }
}

fn with_security(
    mut c: cri::ContainerConfig,
    f: impl FnOnce(&mut cri::LinuxContainerSecurityContext),
) -> cri::ContainerConfig {
    let mut sc = cri::LinuxContainerSecurityContext::default();
    f(&mut sc);
    c.linux = Some(cri::LinuxContainerConfig {
        security_context: Some(sc),
        resources: None,
    });
    c
}

/// Unmounts (lazily, last first) what a test mounted, also on failure.
struct Unmount(Vec<PathBuf>);

impl Drop for Unmount {
    fn drop(&mut self) {
        for p in self.0.iter().rev() {
            let _ = std::process::Command::new("umount").arg("-l").arg(p).status();
        }
    }
}

fn mount(args: &[&str]) {
    let out = std::process::Command::new("mount")
        .args(args)
        .output()
        .expect("run mount");
    assert!(
        out.status.success(),
        "mount {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const SLEEPER: &[&str] = &["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"];

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `Seccomp:`, `NoNewPrivs:`, `CapEff:` … of /proc/self/status.
fn status_field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key).map(str::trim))
        .unwrap_or_else(|| panic!("no {key} in {status}"))
}

#[test]
fn cri_container_lifecycle_status_and_list() {
    let mut n = Node::boot();
    let pod = n.run_pod("web");
    // Created: not running yet.
    let sleeper = n.create(&pod, "web", container("sleeper", SLEEPER)).expect("create");
    let s = n.status(&sleeper).expect("status");
    assert_eq!(s.state, cri::ContainerState::ContainerCreated as i32);
    assert_eq!(s.started_at, 0);
    assert_eq!(s.metadata.as_ref().map(|m| m.name.as_str()), Some("sleeper"));
    assert!(s.created_at > 1_700_000_000_000_000_000);
    n.start(&sleeper).expect("start");
    let s = n.wait_state(&sleeper, cri::ContainerState::ContainerRunning);
    assert!(s.started_at >= s.created_at, "{s:?}");
    assert_eq!(s.finished_at, 0);
    assert_eq!(s.labels["app"], "sleeper");
    assert_eq!(s.annotations["note"], "sleeper-note");
    assert_eq!(
        s.image.as_ref().map(|i| i.image.as_str()),
        Some("docker.io/library/cribox:latest")
    );
    assert!(
        s.image_ref.starts_with("docker.io/library/cribox@sha256:"),
        "{}",
        s.image_ref
    );
    assert_eq!(s.log_path, n.log_dir("web").join("sleeper/0.log").display().to_string());
    // Pier's own labels stay apart from the CRI's.
    assert!(s.labels.keys().all(|k| !k.starts_with("io.pier")), "{:?}", s.labels);
    // By a unique prefix too; starting again is refused.
    assert_eq!(n.status(&sleeper[..12]).expect("by prefix").id, sleeper);
    assert!(n.start(&sleeper).is_err());

    // It shares the pod's UTS (hostname), IPC and network namespaces,
    // and its PID namespace (the default, POD): the infra process is there.
    assert_eq!(n.exec_ok(&sleeper, &["hostname"]).trim(), "web-host");
    let sb_pid = n.d.inspect(&pod)["State"]["Pid"].as_i64().expect("sandbox pid");
    let c_pid = n.d.inspect(&sleeper)["State"]["Pid"].as_i64().expect("container pid");
    for ns in ["net", "ipc", "uts", "pid"] {
        let link = |pid: i64| std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).expect("ns link");
        assert_eq!(link(sb_pid), link(c_pid), "{ns} namespace is the pod's");
    }
    let ps = n.exec_ok(&sleeper, &["ps", "-o", "args"]);
    assert!(ps.contains("trap 'exit 0' TERM") && ps.lines().count() >= 3, "{ps}");

    // A container that ends well, one that fails.
    let ok = n.run(
        &pod,
        "web",
        container("ok", &["/bin/sh", "-c", "echo out; echo err >&2"]),
    );
    let s = n.wait_state(&ok, cri::ContainerState::ContainerExited);
    assert_eq!((s.exit_code, s.reason.as_str()), (0, "Completed"), "{s:?}");
    assert!(s.finished_at >= s.started_at && s.started_at > 0, "{s:?}");
    let bad = n.run(&pod, "web", container("bad", &["/bin/sh", "-c", "exit 3"]));
    let s = n.wait_state(&bad, cri::ContainerState::ContainerExited);
    assert_eq!((s.exit_code, s.reason.as_str()), (3, "Error"), "{s:?}");
    // Its output is in the CRI format at <log_directory>/<log_path>.
    let log = read_log(&n.log_dir("web").join("ok/0.log"));
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    for (line, (stream, text)) in lines.iter().zip([("stdout", "out"), ("stderr", "err")]) {
        let parts: Vec<&str> = line.splitn(4, ' ').collect();
        assert!(parts[0].contains('T') && parts[0].ends_with('Z'), "{line}");
        assert_eq!(&parts[1..], [stream, "F", text], "{line}");
    }
    // The Docker API reads the same file.
    let out = n.d.docker(&["logs", &ok]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");

    // List filters.
    let mut all = vec![sleeper.clone(), ok.clone(), bad.clone()];
    all.sort();
    assert_eq!(n.list(Default::default()), all);
    let running = cri::ContainerFilter {
        state: Some(cri::ContainerStateValue {
            state: cri::ContainerState::ContainerRunning as i32,
        }),
        ..Default::default()
    };
    assert_eq!(n.list(running), vec![sleeper.clone()]);
    let by_label = cri::ContainerFilter {
        label_selector: [("app".to_string(), "ok".to_string())].into(),
        ..Default::default()
    };
    assert_eq!(n.list(by_label), vec![ok.clone()]);
    let by_id = cri::ContainerFilter {
        id: bad[..10].to_string(),
        ..Default::default()
    };
    assert_eq!(n.list(by_id), vec![bad.clone()]);
    let other_pod = n.run_pod("db");
    let db = n.run(&other_pod, "db", container("db", SLEEPER));
    let by_pod = cri::ContainerFilter {
        pod_sandbox_id: other_pod.clone(),
        ..Default::default()
    };
    assert_eq!(n.list(by_pod), vec![db.clone()]);

    // Stop: the stop signal (its trap exits 0), then SIGKILL past the
    // timeout (a process ignoring TERM).
    n.stop(&sleeper, 10).expect("stop");
    let s = n.status(&sleeper).expect("status");
    assert_eq!((s.state, s.exit_code), (cri::ContainerState::ContainerExited as i32, 0));
    n.stop(&sleeper, 10).expect("stopping again is fine");
    let stubborn = n.run(
        &pod,
        "web",
        container(
            "stubborn",
            &["/bin/sh", "-c", "trap '' TERM; while :; do sleep 1; done"],
        ),
    );
    n.wait_state(&stubborn, cri::ContainerState::ContainerRunning);
    let t0 = std::time::Instant::now();
    n.stop(&stubborn, 1).expect("stop with timeout");
    let s = n.status(&stubborn).expect("status");
    assert_eq!((s.exit_code, s.reason.as_str()), (137, "Error"), "{s:?}");
    assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());

    // Unknown ids and bad input.
    let nope = "0".repeat(64);
    assert_eq!(n.status(&nope).expect_err("unknown").0, Code::NotFound);
    assert_eq!(n.start(&nope).expect_err("unknown").0, Code::NotFound);
    assert_eq!(n.stop(&nope, 1).expect_err("unknown").0, Code::NotFound);
    assert_eq!(n.exec(&nope, &["true"], 1).expect_err("unknown").0, Code::NotFound);
    n.remove(&nope).expect("removing what is not there is fine");
    assert_eq!(
        n.create(&nope, "web", container("x", SLEEPER))
            .expect_err("no such pod")
            .0,
        Code::NotFound
    );
    let mut no_name = container("x", SLEEPER);
    no_name.metadata = None;
    assert_eq!(
        n.create(&pod, "web", no_name).expect_err("no name").0,
        Code::InvalidArgument
    );
    let mut bad_mount = container("x", SLEEPER);
    bad_mount.mounts = vec![cri::Mount {
        container_path: "relative".into(),
        host_path: "/tmp".into(),
        ..Default::default()
    }];
    assert_eq!(
        n.create(&pod, "web", bad_mount).expect_err("bad mount").0,
        Code::InvalidArgument
    );
    // A Docker container is not a CRI container.
    assert_eq!(n.status(&pod).expect_err("a sandbox").0, Code::NotFound);

    // Remove one; StopPodSandbox stops the rest, RemovePodSandbox removes them.
    n.remove(&ok).expect("remove");
    assert_eq!(n.status(&ok).expect_err("removed").0, Code::NotFound);
    let rt = n.c.runtime.clone();
    n.c.rt
        .block_on(rt.clone().stop_pod_sandbox(cri::StopPodSandboxRequest {
            pod_sandbox_id: other_pod.clone(),
        }))
        .expect("StopPodSandbox");
    let s = n.status(&db).expect("status");
    assert_eq!(s.state, cri::ContainerState::ContainerExited as i32);
    for p in [&pod, &other_pod] {
        n.c.rt
            .block_on(rt.clone().remove_pod_sandbox(cri::RemovePodSandboxRequest {
                pod_sandbox_id: p.to_string(),
            }))
            .unwrap_or_else(|e| panic!("RemovePodSandbox: {e}\n{}", n.d.daemon_log()));
    }
    assert!(n.list(Default::default()).is_empty());
    // The log files are the kubelet's: they stay.
    assert!(n.log_dir("web").join("ok/0.log").exists());
}

#[test]
fn cri_container_security_context() {
    let mut n = Node::boot();
    let pod = n.run_pod("sec");

    // The image's user (1000 = alice) with her groups from /etc/group (staff
    // 50), plus supplemental groups.
    let c = n.run(
        &pod,
        "sec",
        with_security(container("img-user", SLEEPER), |s| s.supplemental_groups = vec![4242]),
    );
    let id = n.exec_ok(&c, &["id"]);
    assert!(id.starts_with("uid=1000(alice) gid=1000(alice)"), "{id}");
    assert!(id.contains("50(staff)") && id.contains("4242"), "{id}");
    // Defaults: no seccomp filter (Kubernetes' unconfined), privileges may rise.
    let status = n.exec_ok(&c, &["cat", "/proc/self/status"]);
    assert_eq!(status_field(&status, "Seccomp:"), "0");
    assert_eq!(status_field(&status, "NoNewPrivs:"), "0");

    // run_as_user / run_as_group, run_as_username.
    let c = n.run(
        &pod,
        "sec",
        with_security(container("uid", SLEEPER), |s| {
            s.run_as_user = Some(cri::Int64Value { value: 0 });
            s.run_as_group = Some(cri::Int64Value { value: 50 });
        }),
    );
    assert_eq!(n.exec_ok(&c, &["id", "-u"]).trim(), "0");
    assert_eq!(n.exec_ok(&c, &["id", "-g"]).trim(), "50");
    let c = n.run(
        &pod,
        "sec",
        with_security(container("username", SLEEPER), |s| s.run_as_username = "nobody".into()),
    );
    assert_eq!(n.exec_ok(&c, &["id", "-u"]).trim(), "65534");

    // Capabilities: drop ALL, add one back; no_new_privs; RuntimeDefault
    // seccomp (docker's profile); read-only rootfs.
    let c = n.run(
        &pod,
        "sec",
        with_security(container("caps", SLEEPER), |s| {
            s.run_as_user = Some(cri::Int64Value { value: 0 });
            s.capabilities = Some(cri::Capability {
                drop_capabilities: vec!["ALL".into()],
                add_capabilities: vec!["CAP_CHOWN".into()],
                ..Default::default()
            });
            s.no_new_privs = true;
            s.readonly_rootfs = true;
            s.seccomp = Some(cri::SecurityProfile {
                profile_type: cri::security_profile::ProfileType::RuntimeDefault as i32,
                localhost_ref: String::new(),
            });
            s.masked_paths = vec!["/proc/cpuinfo".into()];
            s.readonly_paths = vec!["/proc/sys".into()];
        }),
    );
    let status = n.exec_ok(&c, &["cat", "/proc/self/status"]);
    assert_eq!(status_field(&status, "CapEff:"), "0000000000000001", "CAP_CHOWN only");
    assert_eq!(status_field(&status, "NoNewPrivs:"), "1");
    assert_eq!(status_field(&status, "Seccomp:"), "2");
    let touch = n.exec(&c, &["touch", "/newfile"], 10).expect("exec");
    assert_ne!(touch.exit_code, 0, "the rootfs is read-only");
    assert_eq!(n.exec_ok(&c, &["cat", "/proc/cpuinfo"]), "", "masked as given");
    // Only what was given is masked (docker's defaults are not added).
    assert!(!n.exec_ok(&c, &["cat", "/proc/meminfo"]).is_empty());

    // Privileged: every capability.
    let c = n.run(
        &pod,
        "sec",
        with_security(container("priv", SLEEPER), |s| {
            s.privileged = true;
            s.run_as_user = Some(cri::Int64Value { value: 0 });
        }),
    );
    let status = n.exec_ok(&c, &["cat", "/proc/self/status"]);
    let caps = u64::from_str_radix(status_field(&status, "CapEff:"), 16).expect("hex");
    assert!(caps.count_ones() > 30, "{caps:x}");
    assert_eq!(status_field(&status, "Seccomp:"), "0");

    // A Localhost profile (docker's format) denying mkdir.
    let work = tempfile::tempdir().expect("dir");
    let profile = work.path().join("no-mkdir.json");
    std::fs::write(
        &profile,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]})
        .to_string(),
    )
    .expect("write profile");
    let c = n.run(
        &pod,
        "sec",
        with_security(container("localhost", SLEEPER), |s| {
            s.run_as_user = Some(cri::Int64Value { value: 0 });
            s.seccomp = Some(cri::SecurityProfile {
                profile_type: cri::security_profile::ProfileType::Localhost as i32,
                localhost_ref: profile.display().to_string(),
            });
        }),
    );
    let mkdir = n.exec(&c, &["mkdir", "/tmp/x"], 10).expect("exec");
    assert_ne!(mkdir.exit_code, 0, "mkdir is denied");
    assert_eq!(n.exec_ok(&c, &["touch", "/tmp/y"]), "");
    // Anything else is refused.
    let refused = |n: &mut Node, name: &str, f: &dyn Fn(&mut cri::LinuxContainerSecurityContext)| {
        let r = n.create(&pod, "sec", with_security(container(name, SLEEPER), |s| f(s)));
        assert_eq!(r.expect_err(name).0, Code::InvalidArgument, "{name}");
    };
    refused(&mut n, "bad-type", &|s| {
        s.seccomp = Some(cri::SecurityProfile {
            profile_type: 7,
            localhost_ref: String::new(),
        })
    });
    refused(&mut n, "no-file", &|s| {
        s.seccomp = Some(cri::SecurityProfile {
            profile_type: cri::security_profile::ProfileType::Localhost as i32,
            localhost_ref: "/nonexistent/profile.json".into(),
        })
    });
    refused(&mut n, "bad-cap", &|s| {
        s.capabilities = Some(cri::Capability {
            add_capabilities: vec!["NOT_A_CAP".into()],
            ..Default::default()
        })
    });
    refused(&mut n, "group-only", &|s| {
        s.run_as_group = Some(cri::Int64Value { value: 1 })
    });

    // Mounts with their propagation, devices, env, working dir. The host
    // directory is a shared mount, so host-to-container propagation shows.
    let host_dir = tempfile::tempdir().expect("host dir");
    std::fs::write(host_dir.path().join("hello"), "from the host").expect("write");
    std::fs::create_dir(host_dir.path().join("sub")).expect("mkdir sub");
    let mut guard = Unmount(Vec::new());
    mount(&[
        "--bind",
        &host_dir.path().display().to_string(),
        &host_dir.path().display().to_string(),
    ]);
    guard.0.push(host_dir.path().to_path_buf());
    mount(&["--make-shared", &host_dir.path().display().to_string()]);
    let mut cfg = with_security(container("mounts", SLEEPER), |s| {
        s.run_as_user = Some(cri::Int64Value { value: 0 })
    });
    cfg.mounts = vec![
        cri::Mount {
            container_path: "/ro".into(),
            host_path: host_dir.path().display().to_string(),
            readonly: true,
            propagation: cri::MountPropagation::PropagationPrivate as i32,
            ..Default::default()
        },
        cri::Mount {
            container_path: "/slave".into(),
            host_path: host_dir.path().display().to_string(),
            readonly: false,
            propagation: cri::MountPropagation::PropagationHostToContainer as i32,
            ..Default::default()
        },
    ];
    cfg.devices = vec![cri::Device {
        container_path: "/dev/mynull".into(),
        host_path: "/dev/null".into(),
        permissions: "rw".into(),
    }];
    cfg.envs = vec![cri::KeyValue {
        key: "GREETING".into(),
        value: "hi there".into(),
    }];
    cfg.working_dir = "/ro".into();
    let c = n.run(&pod, "sec", cfg);
    assert_eq!(n.exec_ok(&c, &["cat", "hello"]), "from the host");
    assert_eq!(n.exec_ok(&c, &["pwd"]).trim(), "/ro");
    assert_ne!(n.exec(&c, &["touch", "/ro/x"], 10).expect("exec").exit_code, 0);
    n.exec_ok(&c, &["touch", "/slave/x"]);
    assert!(host_dir.path().join("x").exists());
    let mountinfo = n.exec_ok(&c, &["cat", "/proc/self/mountinfo"]);
    let line = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/slave"))
        .unwrap_or_else(|| panic!("/slave not mounted: {mountinfo}"));
    assert!(line.contains("master:"), "rslave: {line}");
    // A mount made on the host later reaches /slave, not the private /ro.
    let sub = host_dir.path().join("sub");
    mount(&["-t", "tmpfs", "tmpfs", &sub.display().to_string()]);
    guard.0.push(sub.clone());
    std::fs::write(sub.join("later"), "later").expect("write into the tmpfs");
    assert_eq!(n.exec_ok(&c, &["cat", "/slave/sub/later"]), "later");
    assert_ne!(n.exec(&c, &["cat", "/ro/sub/later"], 10).expect("exec").exit_code, 0);
    n.exec_ok(&c, &["sh", "-c", "echo x > /dev/mynull"]);
    assert_eq!(n.exec_ok(&c, &["sh", "-c", "echo $GREETING"]).trim(), "hi there");
    let s = n.status(&c).expect("status");
    assert_eq!(s.mounts.len(), 2);
    assert_eq!(s.mounts[1].container_path, "/slave");
    assert_eq!(
        s.mounts[1].propagation,
        cri::MountPropagation::PropagationHostToContainer as i32
    );

    // command replaces ENTRYPOINT (and the image's CMD); args replace CMD.
    let c = n.run(&pod, "sec", container("cmd", &["/bin/echo", "from-command"]));
    n.wait_state(&c, cri::ContainerState::ContainerExited);
    let mut args_only = container("args", &[]);
    args_only.args = vec!["/bin/echo".into(), "from-args".into()];
    let a = n.run(&pod, "sec", args_only);
    n.wait_state(&a, cri::ContainerState::ContainerExited);
    assert!(read_log(&n.log_dir("sec").join("cmd/0.log")).ends_with(" stdout F from-command\n"));
    assert!(read_log(&n.log_dir("sec").join("args/0.log")).ends_with(" stdout F from-args\n"));
}

#[test]
fn cri_exec_sync_output_and_timeout() {
    let mut n = Node::boot();
    let pod = n.run_pod("ex");
    let c = n.run(&pod, "ex", container("ex", SLEEPER));
    let r = n
        .exec(&c, &["/bin/sh", "-c", "echo o; echo e >&2; exit 3"], 10)
        .expect("ExecSync");
    assert_eq!(
        (r.stdout.as_slice(), r.stderr.as_slice(), r.exit_code),
        (&b"o\n"[..], &b"e\n"[..], 3)
    );
    // No timeout (0) waits.
    assert_eq!(n.exec(&c, &["true"], 0).expect("no timeout").exit_code, 0);
    // Not found: docker's exit code.
    assert_eq!(n.exec(&c, &["/nonexistent"], 5).expect("exec").exit_code, 127);

    // Past the timeout the command and its children are killed.
    let t0 = std::time::Instant::now();
    let err = n
        .exec(&c, &["/bin/sh", "-c", "sleep 3171 & sleep 3172; echo never"], 1)
        .expect_err("timeout");
    assert_eq!(err.0, Code::DeadlineExceeded, "{err:?}");
    assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());
    assert!(
        wait_until(Duration::from_secs(5), || {
            pier_testkit::process::processes_mentioning("sleep 317").is_empty()
        }),
        "the timed-out exec left {:?}",
        pier_testkit::process::processes_mentioning("sleep 317")
    );
    let ps = n.exec_ok(&c, &["ps", "-o", "args"]);
    assert!(!ps.contains("317"), "{ps}");
    // The container runs on.
    assert_eq!(
        n.status(&c).expect("status").state,
        cri::ContainerState::ContainerRunning as i32
    );
    // Not running: refused.
    n.stop(&c, 5).expect("stop");
    assert_eq!(
        n.exec(&c, &["true"], 1).expect_err("stopped").0,
        Code::FailedPrecondition
    );
}

#[test]
fn cri_container_log_reopen_after_rotation() {
    let mut n = Node::boot();
    let pod = n.run_pod("lg");
    let c = n.run(
        &pod,
        "lg",
        container(
            "talker",
            &[
                "/bin/sh",
                "-c",
                "i=0; while :; do echo line$i; i=$((i+1)); sleep 0.1; done",
            ],
        ),
    );
    let path = n.log_dir("lg").join("talker/0.log");
    assert!(
        wait_until(Duration::from_secs(10), || read_log(&path).lines().count() >= 3),
        "{}",
        read_log(&path)
    );
    // kubelet's rotation: rename, then ReopenContainerLog.
    let rotated = path.with_extension("log.1");
    std::fs::rename(&path, &rotated).expect("rotate");
    let rt = n.c.runtime.clone();
    n.c.rt
        .block_on(rt.clone().reopen_container_log(cri::ReopenContainerLogRequest {
            container_id: c.clone(),
        }))
        .unwrap_or_else(|e| panic!("ReopenContainerLog: {e}\n{}", n.d.daemon_log()));
    assert!(
        wait_until(Duration::from_secs(10), || read_log(&path).lines().count() >= 3),
        "the new file fills"
    );
    // No line lost or doubled across the two files.
    let both = format!("{}{}", read_log(&rotated), read_log(&path));
    let numbers: Vec<u64> = both
        .lines()
        .filter_map(|l| l.rsplit(' ').next()?.strip_prefix("line")?.parse().ok())
        .collect();
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
    // Unknown: NOT_FOUND; stopped: refused.
    let r =
        n.c.rt
            .block_on(rt.clone().reopen_container_log(cri::ReopenContainerLogRequest {
                container_id: "f".repeat(64),
            }));
    assert_eq!(r.expect_err("unknown").code(), Code::NotFound);
    n.stop(&c, 1).expect("stop");
    let r =
        n.c.rt
            .block_on(rt.clone().reopen_container_log(cri::ReopenContainerLogRequest {
                container_id: c.clone(),
            }));
    assert!(r.is_err());
}

#[test]
fn cri_container_stats_and_update_resources() {
    let mut n = Node::boot();
    let pod = n.run_pod("st");
    let mut cfg = container("busy", &["/bin/sh", "-c", "while :; do :; done"]);
    cfg.linux = Some(cri::LinuxContainerConfig {
        resources: Some(cri::LinuxContainerResources {
            memory_limit_in_bytes: 128 << 20,
            cpu_shares: 512,
            ..Default::default()
        }),
        security_context: Some(cri::LinuxContainerSecurityContext {
            run_as_user: Some(cri::Int64Value { value: 0 }),
            ..Default::default()
        }),
    });
    let c = n.run(&pod, "st", cfg);
    n.exec_ok(&c, &["dd", "if=/dev/zero", "of=/tmp/big", "bs=1M", "count=2"]);
    let stats = |n: &mut Node| {
        let rt = n.c.runtime.clone();
        n.c.rt
            .block_on(rt.clone().container_stats(cri::ContainerStatsRequest {
                container_id: c.clone(),
            }))
            .unwrap_or_else(|e| panic!("ContainerStats: {e}\n{}", n.d.daemon_log()))
            .into_inner()
            .stats
            .expect("stats")
    };
    let mut cpu = 0;
    assert!(wait_until(Duration::from_secs(10), || {
        let s = stats(&mut n);
        cpu = s.cpu.and_then(|c| c.usage_core_nano_seconds).map_or(0, |u| u.value);
        cpu > 10_000_000
    }));
    let s = stats(&mut n);
    assert_eq!(s.attributes.as_ref().map(|a| a.id.as_str()), Some(c.as_str()));
    assert_eq!(s.attributes.as_ref().map(|a| a.labels["app"].as_str()), Some("busy"));
    let ws = s
        .memory
        .as_ref()
        .and_then(|m| m.working_set_bytes)
        .map_or(0, |w| w.value);
    assert!(ws > 0 && ws < 128 << 20, "{ws}");
    let layer = s.writable_layer.expect("writable layer");
    assert!(layer.used_bytes.map_or(0, |u| u.value) >= 2 << 20, "{layer:?}");
    // ListContainerStats with filters.
    let rt = n.c.runtime.clone();
    let list = |n: &mut Node, filter: cri::ContainerStatsFilter| {
        n.c.rt
            .block_on(
                rt.clone()
                    .list_container_stats(cri::ListContainerStatsRequest { filter: Some(filter) }),
            )
            .expect("ListContainerStats")
            .into_inner()
            .stats
            .into_iter()
            .filter_map(|s| s.attributes.map(|a| a.id))
            .collect::<Vec<_>>()
    };
    assert_eq!(list(&mut n, Default::default()), vec![c.clone()]);
    let by_pod = cri::ContainerStatsFilter {
        pod_sandbox_id: pod.clone(),
        ..Default::default()
    };
    assert_eq!(list(&mut n, by_pod), vec![c.clone()]);
    let by_label = cri::ContainerStatsFilter {
        label_selector: [("app".to_string(), "other".to_string())].into(),
        ..Default::default()
    };
    assert!(list(&mut n, by_label).is_empty());

    // The cgroup has the limits; UpdateContainerResources changes them live.
    let limit = |n: &mut Node| {
        n.exec_ok(&c, &["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"])
            .trim()
            .to_string()
    };
    assert_eq!(limit(&mut n), (128u64 << 20).to_string());
    n.c.rt
        .block_on(
            rt.clone()
                .update_container_resources(cri::UpdateContainerResourcesRequest {
                    container_id: c.clone(),
                    linux: Some(cri::LinuxContainerResources {
                        memory_limit_in_bytes: 96 << 20,
                        memory_swap_limit_in_bytes: 96 << 20,
                        cpu_quota: 50_000,
                        cpu_period: 100_000,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
        )
        .unwrap_or_else(|e| panic!("UpdateContainerResources: {e}\n{}", n.d.daemon_log()));
    assert_eq!(limit(&mut n), (96u64 << 20).to_string());
    assert_eq!(
        n.exec_ok(&c, &["cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"]).trim(),
        "50000"
    );
    let r = n
        .status(&c)
        .expect("status")
        .resources
        .and_then(|r| r.linux)
        .expect("resources");
    assert_eq!((r.memory_limit_in_bytes, r.cpu_quota), (96 << 20, 50_000));
    // Bad values: INVALID_ARGUMENT, nothing changed.
    let bad = n.c.rt.block_on(
        rt.clone()
            .update_container_resources(cri::UpdateContainerResourcesRequest {
                container_id: c.clone(),
                linux: Some(cri::LinuxContainerResources {
                    memory_limit_in_bytes: 1024,
                    ..Default::default()
                }),
                ..Default::default()
            }),
    );
    assert_eq!(bad.expect_err("too small").code(), Code::InvalidArgument);
    assert_eq!(limit(&mut n), (96u64 << 20).to_string());
}

#[test]
fn cri_pod_with_running_containers_survives_a_pierd_restart() {
    let mut n = Node::boot();
    let pod = n.run_pod("keep");
    let c = n.run(
        &pod,
        "keep",
        container("talker", &["/bin/sh", "-c", "while :; do echo tick; sleep 0.2; done"]),
    );
    let done = n.run(&pod, "keep", container("done", &["/bin/sh", "-c", "exit 4"]));
    n.wait_state(&done, cri::ContainerState::ContainerExited);
    let pid = n.d.inspect(&c)["State"]["Pid"].as_i64().expect("pid");
    let path = n.log_dir("keep").join("talker/0.log");
    assert!(wait_until(Duration::from_secs(10), || read_log(&path).contains("tick")));

    n.d.stop();
    n.d.start_again();
    let socket = n._socket_dir.path().join("cri.sock");
    n.c = Cri::connect(&socket, &n.d);

    let s = n.status(&c).expect("status after restart");
    assert_eq!(s.state, cri::ContainerState::ContainerRunning as i32);
    assert_eq!(n.d.inspect(&c)["State"]["Pid"].as_i64(), Some(pid), "the same process");
    assert_eq!(s.labels["app"], "talker");
    let s = n.status(&done).expect("status");
    assert_eq!((s.exit_code, s.reason.as_str()), (4, "Error"));
    let mut both = vec![c.clone(), done.clone()];
    both.sort();
    let in_pod = cri::ContainerFilter {
        pod_sandbox_id: pod.clone(),
        ..Default::default()
    };
    assert_eq!(n.list(in_pod), both);
    assert_eq!(n.exec_ok(&c, &["hostname"]).trim(), "keep-host");
    // The log goes on in the same file.
    let before = read_log(&path).lines().count();
    assert!(wait_until(Duration::from_secs(10), || read_log(&path).lines().count() > before + 2));
    let rt = n.c.runtime.clone();
    n.c.rt
        .block_on(rt.clone().remove_pod_sandbox(cri::RemovePodSandboxRequest {
            pod_sandbox_id: pod.clone(),
        }))
        .expect("RemovePodSandbox");
    assert!(n.list(Default::default()).is_empty());
}

#[test]
fn cri_container_oom_killed_reason() {
    let mut n = Node::boot();
    let pod = n.run_pod("oom");
    let mut cfg = container("hog", &["/bin/sh", "-c", "tail /dev/zero"]);
    cfg.linux = Some(cri::LinuxContainerConfig {
        resources: Some(cri::LinuxContainerResources {
            memory_limit_in_bytes: 32 << 20,
            memory_swap_limit_in_bytes: 32 << 20,
            ..Default::default()
        }),
        security_context: None,
    });
    let c = n.run(&pod, "oom", cfg);
    let s = n.wait_state(&c, cri::ContainerState::ContainerExited);
    assert_eq!((s.exit_code, s.reason.as_str()), (137, "OOMKilled"), "{s:?}");
}
