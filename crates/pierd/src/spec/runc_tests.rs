//! The generated spec really runs: a busybox-static rootfs in a temp dir,
//! `runc --root <tmp> run`, and checks of what the container reports about
//! itself. Needs root, runc and /bin/busybox; fails loudly without them.

use std::fs;
use std::io::Read;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Proc, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{getrlimit, Resource};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::*;

const BUSYBOX: &str = "/bin/busybox";
const APPLETS: &[&str] = &[
    "sh", "id", "cat", "grep", "hostname", "env", "sort", "echo", "touch", "wc", "unshare", "mkdir",
];
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
const GROUP: &str = "root:x:0:\nwheel:x:10:root\naudio:x:29:app\napp:x:1000:\n";

fn require_root_and_runc() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test runs containers with runc and must run as root"
    );
    let runc = Proc::new("runc").arg("--version").output();
    assert!(
        runc.map(|o| o.status.success()).unwrap_or(false),
        "runc is not installed or does not run (apt-get install runc)"
    );
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} is missing (apt-get install busybox-static)"
    );
}

/// Kills runc by pid if it still runs, then deletes the container from the
/// runtime's state dir (and with it its cgroup), also when a check failed.
struct RuncGuard {
    state_root: PathBuf,
    id: String,
    child: Option<Child>,
}

impl Drop for RuncGuard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            if let Ok(None) = child.try_wait() {
                if let Ok(pid) = i32::try_from(child.id()) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
                let _ = child.wait();
            }
        }
        let _ = Proc::new("runc")
            .arg("--root")
            .arg(&self.state_root)
            .args(["delete", "--force", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn write_rootfs(rootfs: &Path) {
    for dir in ["bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/app"] {
        fs::create_dir_all(rootfs.join(dir)).unwrap_or_else(|e| panic!("mkdir {dir}: {e}"));
    }
    fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap_or_else(|e| panic!("copy busybox: {e}"));
    for applet in APPLETS {
        symlink("busybox", rootfs.join("bin").join(applet)).unwrap_or_else(|e| panic!("symlink {applet}: {e}"));
    }
    fs::write(rootfs.join("etc/passwd"), PASSWD).unwrap_or_else(|e| panic!("passwd: {e}"));
    fs::write(rootfs.join("etc/group"), GROUP).unwrap_or_else(|e| panic!("group: {e}"));
}

/// What the container printed, and how runc exited.
struct Outcome {
    stdout: String,
    stderr: String,
    success: bool,
}

/// Builds a bundle for `input` (its rootfs and /etc files are filled in
/// here), runs it to completion with runc and returns its output.
fn run(name: &str, mut input: SpecInput) -> Outcome {
    require_root_and_runc();
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let bundle = tmp.path().join("bundle");
    let rootfs = bundle.join("rootfs");
    let state_root = tmp.path().join("state");
    write_rootfs(&rootfs);
    fs::create_dir_all(&state_root).unwrap_or_else(|e| panic!("mkdir state: {e}"));

    let id = format!("pier-spec-{}-{name}", std::process::id());
    let files = EtcFiles {
        hostname: tmp.path().join("hostname"),
        hosts: tmp.path().join("hosts"),
        resolv_conf: tmp.path().join("resolv.conf"),
    };
    fs::write(&files.hostname, hostname_file(&input.hostname)).unwrap_or_else(|e| panic!("{e}"));
    fs::write(&files.hosts, hosts_file(&input.hostname, None, &[])).unwrap_or_else(|e| panic!("{e}"));
    let host_resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    fs::write(&files.resolv_conf, resolv_conf(&host_resolv)).unwrap_or_else(|e| panic!("{e}"));

    input.id = id.clone();
    input.rootfs = rootfs;
    input.etc_files = Some(files);
    input.cgroups_path = Some(format!("/{id}"));
    let spec = build(&input).unwrap_or_else(|e| panic!("build spec: {e}"));
    let json = serde_json::to_vec_pretty(&spec).unwrap_or_else(|e| panic!("serialize: {e}"));
    fs::write(bundle.join("config.json"), json).unwrap_or_else(|e| panic!("write config: {e}"));

    let mut guard = RuncGuard {
        state_root: state_root.clone(),
        id: id.clone(),
        child: None,
    };
    let child = Proc::new("runc")
        .arg("--root")
        .arg(&state_root)
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn runc: {e}"));
    let child = guard.child.insert(child);

    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => panic!("runc run {id} did not finish within 30s"),
            Err(e) => panic!("wait for runc: {e}"),
        }
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(out) = child.stdout.as_mut() {
        let _ = out.read_to_string(&mut stdout);
    }
    if let Some(err) = child.stderr.as_mut() {
        let _ = err.read_to_string(&mut stderr);
    }
    Outcome {
        stdout,
        stderr,
        success: status.success(),
    }
}

fn host_nofile_hard() -> u64 {
    getrlimit(Resource::RLIMIT_NOFILE)
        .map(|(_, hard)| hard)
        .unwrap_or_else(|e| panic!("getrlimit: {e}"))
}

fn input(script: &str) -> SpecInput {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap_or_else(|e| panic!("getrlimit: {e}"));
    let mut input = SpecInput::new(
        "placeholder",
        PathBuf::new(),
        vec!["/bin/sh".to_string(), "-c".to_string(), script.to_string()],
        HostLimits {
            nofile: Rlimit { soft, hard },
            cap_bounding: own_cap_bounding(),
            kernel: host_kernel(),
            arch: seccomp::native_arch(),
            x32: pier_sys::process::kernel_runs_x32(),
        },
    );
    input.user = resolve_user("", PASSWD, GROUP).unwrap_or_else(|e| panic!("{e}"));
    input.hostname = "spectest".to_string();
    input.env = process_env(&[], &input.hostname, false);
    input
}

fn host_kernel() -> seccomp::KernelVersion {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    seccomp::KernelVersion::from_release(&release).unwrap_or_else(|| panic!("kernel release {release:?}"))
}

fn own_cap_bounding() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    parse_cap_mask(&status, "CapBnd").unwrap_or_else(|| panic!("no CapBnd in /proc/self/status"))
}

/// The value of a `/proc/self/status` line such as `CapEff:\t...`.
fn status_field<'a>(out: &'a str, field: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .map(str::trim)
}

/// Docker's default set as a capability mask, the value `docker run`
/// shows in CapEff.
const DOCKER_DEFAULT_CAPS: &str = "00000000a80425fb";

#[test]
fn default_spec_runs_with_dockers_identity_caps_and_limits() {
    let script = "id; grep Cap /proc/self/status; hostname; cat /etc/hostname; \
                  echo nofile=$(ulimit -n); env | sort; \
                  echo interrupts=$(cat /proc/interrupts | wc -c); \
                  touch /proc/sys/kernel/hostname 2>/dev/null || echo procsys-ro; \
                  touch /sys/kernel 2>/dev/null || echo sys-ro; \
                  echo port_start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)";
    let out = run("default", input(script));
    assert!(out.success, "runc failed: {}\n{}", out.stderr, out.stdout);
    let o = &out.stdout;
    assert!(
        o.lines()
            .any(|l| l == "uid=0(root) gid=0(root) groups=0(root),10(wheel)"),
        "{o}"
    );
    for field in ["CapPrm", "CapEff", "CapBnd"] {
        assert_eq!(status_field(o, field), Some(DOCKER_DEFAULT_CAPS), "{field} in {o}");
    }
    assert_eq!(status_field(o, "CapInh"), Some("0000000000000000"), "{o}");
    assert_eq!(status_field(o, "CapAmb"), Some("0000000000000000"), "{o}");
    assert_eq!(o.lines().filter(|l| *l == "spectest").count(), 2, "{o}");
    let nofile = NOFILE_TARGET.min(host_nofile_hard());
    assert!(o.lines().any(|l| l == format!("nofile={nofile}")), "{o}");
    assert!(o.lines().any(|l| l == format!("PATH={DEFAULT_PATH}")), "{o}");
    assert!(o.lines().any(|l| l == "HOSTNAME=spectest"), "{o}");
    assert!(o.lines().any(|l| l == "HOME=/root"), "{o}");
    // Masked with /dev/null: present on the host, empty inside.
    assert!(
        o.lines().any(|l| l == "interrupts=0"),
        "/proc/interrupts must be masked: {o}"
    );
    assert!(o.lines().any(|l| l == "procsys-ro"), "{o}");
    assert!(o.lines().any(|l| l == "sys-ro"), "{o}");
    assert!(o.lines().any(|l| l == "port_start=0"), "{o}");
}

#[test]
fn non_root_user_gets_groups_home_and_bounding_caps_only() {
    let mut input = input("id; grep Cap /proc/self/status; env | grep HOME");
    input.user = resolve_user("app", PASSWD, GROUP).unwrap_or_else(|e| panic!("{e}"));
    let out = run("user", input);
    assert!(out.success, "runc failed: {}\n{}", out.stderr, out.stdout);
    let o = &out.stdout;
    assert!(
        o.lines()
            .any(|l| l == "uid=1000(app) gid=1000(app) groups=29(audio),1000(app)"),
        "{o}"
    );
    assert_eq!(status_field(o, "CapEff"), Some("0000000000000000"), "{o}");
    assert_eq!(status_field(o, "CapBnd"), Some(DOCKER_DEFAULT_CAPS), "{o}");
    assert!(o.lines().any(|l| l == "HOME=/home/app"), "{o}");
}

#[test]
fn privileged_spec_runs_with_every_capability_and_writable_sys() {
    // Every capability the test process holds itself (root here lacks
    // CAP_SYS_RESOURCE), limited to the ones the kernel knows.
    let last_cap: u32 = fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("read /proc/sys/kernel/cap_last_cap"));
    let all = format!("{:016x}", own_cap_bounding() & ((1u64 << (last_cap + 1)) - 1));
    let mut input = input("grep CapEff /proc/self/status; grep ' /sys ' /proc/self/mounts");
    input.privileged = true;
    let out = run("privileged", input);
    assert!(out.success, "runc failed: {}\n{}", out.stderr, out.stdout);
    let o = &out.stdout;
    assert_eq!(status_field(o, "CapEff"), Some(all.as_str()), "{o}");
    assert!(
        o.lines().any(|l| l.starts_with("sysfs /sys sysfs rw,")),
        "/sys must be writable when privileged: {o}"
    );
}

#[test]
fn default_seccomp_profile_filters_and_blocks_user_namespaces() {
    let script = "grep -E 'Seccomp|NoNewPrivs' /proc/self/status; \
                  unshare -U -r true 2>&1; echo unshare=$?; \
                  mkdir /tmp/d && echo mkdir=ok";
    let out = run("seccomp", input(script));
    assert!(out.success, "runc failed: {}\n{}", out.stderr, out.stdout);
    let o = &out.stdout;
    assert_eq!(status_field(o, "Seccomp"), Some("2"), "{o}");
    assert_eq!(status_field(o, "NoNewPrivs"), Some("0"), "{o}");
    assert!(
        o.contains("Operation not permitted"),
        "unshare must fail with EPERM: {o}"
    );
    assert!(o.lines().any(|l| l == "unshare=1"), "{o}");
    assert!(o.lines().any(|l| l == "mkdir=ok"), "{o}");
}

#[test]
fn custom_profile_unconfined_and_no_new_privileges() {
    let script = "grep -E 'Seccomp|NoNewPrivs' /proc/self/status; \
                  mkdir /tmp/d 2>&1 || echo mkdir=denied; \
                  unshare -U -r true && echo unshare=ok";
    let mut custom = input(script);
    custom.seccomp = Seccomp::Custom(
        seccomp::Profile::parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}")),
    );
    custom.no_new_privileges = true;
    let out = run("seccomp-custom", custom);
    assert!(out.success, "runc failed: {}\n{}", out.stderr, out.stdout);
    let o = &out.stdout;
    assert_eq!(status_field(o, "Seccomp"), Some("2"), "{o}");
    assert_eq!(status_field(o, "NoNewPrivs"), Some("1"), "{o}");
    assert!(o.lines().any(|l| l == "mkdir=denied"), "{o}");

    let mut unconfined = input(script);
    unconfined.seccomp = Seccomp::Unconfined;
    let out = run("seccomp-unconfined", unconfined);
    assert!(out.success, "runc failed: {}\n{}", out.stderr, out.stdout);
    let o = &out.stdout;
    assert_eq!(status_field(o, "Seccomp"), Some("0"), "{o}");
    assert!(!o.lines().any(|l| l == "mkdir=denied"), "{o}");
}

#[test]
fn private_cgroup_namespace_roots_the_containers_cgroups() {
    let script = "grep -E '^[0-9]+:(pids|memory):' /proc/self/cgroup";
    let out = run("cgroupns-host", input(script));
    assert!(out.success, "runc failed: {}\n{}", out.stderr, out.stdout);
    assert!(
        out.stdout.lines().all(|l| l.contains("/pier-spec-")),
        "host cgroupns shows the host path: {}",
        out.stdout
    );
    let mut private = input(script);
    private.cgroupns_private = true;
    let out = run("cgroupns-private", private);
    assert!(out.success, "runc failed: {}\n{}", out.stderr, out.stdout);
    assert!(
        !out.stdout.is_empty() && out.stdout.lines().all(|l| l.ends_with(":/")),
        "private cgroupns shows its own root: {}",
        out.stdout
    );
}
