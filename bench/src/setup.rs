//! Starting the engines under comparison on private directories: dockerd
//! (with the containerd it spawns), podman (no daemon) and pierd. Each
//! returns a ready [`CliEngine`] with the busybox image imported, or the
//! reason it cannot run here.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

use crate::cli::{CliEngine, Guard};
use crate::mem;
use crate::proc::{self, Adopted, Daemon, Stdout};

/// The image name every engine imports the rootfs as.
pub const IMAGE: &str = "pierbench:latest";

fn first_existing(paths: &[&str]) -> Option<PathBuf> {
    paths.iter().map(PathBuf::from).find(|p| p.exists())
}

fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(2)..].join(" / ");
    tail.chars().take(300).collect()
}

/// Polls `probe` on `engine` until it works, failing early if the daemon dies.
fn wait_ready(engine: &mut CliEngine, probe: &[&str], log: &Path, timeout: Duration) -> Result<()> {
    let ok = proc::wait_until(timeout, || {
        let alive = engine
            .guard
            .as_mut()
            .and_then(|g| g.daemons.first_mut())
            .is_none_or(Daemon::alive);
        if !alive {
            return true;
        }
        engine.verb(probe, Stdout::Null, Duration::from_secs(10)).is_ok()
    });
    let alive = engine
        .guard
        .as_mut()
        .and_then(|g| g.daemons.first_mut())
        .is_none_or(Daemon::alive);
    if !alive {
        bail!("daemon exited: {}", log_tail(log));
    }
    if !ok {
        bail!("daemon not ready after {}s: {}", timeout.as_secs(), log_tail(log));
    }
    Ok(())
}

/// dockerd + containerd on `<work>/docker`, no iptables, no bridge.
pub fn docker(work: &Path, tar: &Path) -> Result<CliEngine> {
    let dockerd = first_existing(&["/usr/sbin/dockerd", "/usr/bin/dockerd"])
        .ok_or_else(|| anyhow!("dockerd not installed (apt-get install docker.io)"))?;
    // Debian's client matches its daemon; any docker CLI would do.
    let client = first_existing(&["/usr/bin/docker", "/usr/local/bin/docker"])
        .ok_or_else(|| anyhow!("docker CLI not installed"))?;
    let root = work.join("docker");
    for d in ["data", "exec", "cli"] {
        fs::create_dir_all(root.join(d)).with_context(|| format!("create docker/{d}"))?;
    }
    let config = root.join("daemon.json");
    fs::write(&config, "{}\n").context("write docker daemon.json")?;
    let sock = root.join("docker.sock");
    let host = format!("unix://{}", sock.display());
    let log = root.join("dockerd.log");
    let mut c = Command::new(&dockerd);
    c.arg("--config-file")
        .arg(&config)
        .arg("--data-root")
        .arg(root.join("data"))
        .arg("--exec-root")
        .arg(root.join("exec"))
        .arg("--pidfile")
        .arg(root.join("docker.pid"))
        .args(["-H", &host])
        .args(["--iptables=false", "--ip-masq=false", "--bridge=none"])
        .args(["--log-level", "warn"]);
    let daemon = Daemon::spawn("dockerd", &mut c, &log)?;
    let dockerd_pid = daemon.pid() as i32;
    let guard = Guard {
        root: root.clone(),
        daemons: vec![daemon],
        adopted: Vec::new(),
        extra_files: Vec::new(),
        runtime_roots: Vec::new(),
    };
    let mut e = CliEngine::new("docker", client, vec!["-H".into(), host.into()], guard);
    e.env.push(("DOCKER_CONFIG".into(), root.join("cli").into()));
    wait_ready(&mut e, &["version"], &log, Duration::from_secs(60))?;
    // dockerd spawned its own containerd: stop it by pid if dockerd does not.
    for pid in mem::children_of(dockerd_pid) {
        let comm = mem::comm_of(pid).unwrap_or_default();
        if comm.starts_with("containerd") {
            e.daemon_pids.push((comm.clone(), pid));
            if let (Some(a), Some(g)) = (Adopted::new(&comm, pid), e.guard.as_mut()) {
                g.adopted.push(a);
            }
        }
    }
    e.daemon_pids.insert(0, ("dockerd".into(), dockerd_pid));
    e.run_opts = vec!["--network".into(), "none".into()];
    e.import(tar, IMAGE).context("import image into docker")?;
    Ok(e)
}

/// podman with its own root, runroot and tmpdir, runc, cgroupfs, k8s-file logs.
pub fn podman(work: &Path, tar: &Path) -> Result<CliEngine> {
    let podman =
        first_existing(&["/usr/bin/podman"]).ok_or_else(|| anyhow!("podman not installed (apt-get install podman)"))?;
    let root = work.join("podman");
    for d in ["storage", "run", "tmp"] {
        fs::create_dir_all(root.join(d)).with_context(|| format!("create podman/{d}"))?;
    }
    // podman keeps its lock table in /dev/shm; remove it if we create it.
    let shm_lock = PathBuf::from("/dev/shm/libpod_lock");
    let extra_files = if shm_lock.exists() { Vec::new() } else { vec![shm_lock] };
    let global: Vec<OsString> = vec![
        "--root".into(),
        root.join("storage").into(),
        "--runroot".into(),
        root.join("run").into(),
        "--tmpdir".into(),
        root.join("tmp").into(),
        "--storage-driver".into(),
        "overlay".into(),
        "--cgroup-manager".into(),
        "cgroupfs".into(),
        "--events-backend".into(),
        "file".into(),
        "--runtime".into(),
        "runc".into(),
        "--log-level".into(),
        "error".into(),
    ];
    let guard = Guard {
        root: root.clone(),
        daemons: Vec::new(),
        adopted: Vec::new(),
        extra_files,
        runtime_roots: Vec::new(),
    };
    let mut e = CliEngine::new("podman", podman, global, guard);
    e.env
        .push(("CONTAINERS_CONF".into(), root.join("containers.conf").into()));
    fs::write(root.join("containers.conf"), "").context("write podman containers.conf")?;
    // podman raises RLIMIT_NOFILE/NPROC past this machine's hard limits by
    // default, which root without CAP_SYS_RESOURCE cannot do: pin them low.
    e.run_opts = [
        "--network",
        "none",
        "--log-driver",
        "k8s-file",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=4096:4096",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // podman's `rm -f` stops with SIGTERM and a 10 s grace; docker kills.
    e.rm_opts = vec!["-t".into(), "0".into()];
    e.import(tar, &format!("localhost/{IMAGE}"))
        .context("import image into podman")?;
    Ok(e)
}

/// pierd (release build) on `<work>/<name>`, optionally on crun.
pub fn pier(work: &Path, tar: &Path, bin_dir: &Path, name: &str, runtime: Option<&str>) -> Result<CliEngine> {
    for b in ["pierd", "pier", "pier-shim"] {
        if !bin_dir.join(b).exists() {
            bail!("not built yet: {} missing", bin_dir.join(b).display());
        }
    }
    let root = work.join(name);
    for d in ["data", "exec", "bin"] {
        fs::create_dir_all(root.join(d)).with_context(|| format!("create {name}/{d}"))?;
    }
    // Snapshot the binaries: target/release is shared with builds that may
    // replace them halfway through a run.
    let src_dir = bin_dir;
    let bin_dir = root.join("bin");
    for b in ["pierd", "pier", "pier-shim"] {
        fs::copy(src_dir.join(b), bin_dir.join(b)).with_context(|| format!("copy {}", src_dir.join(b).display()))?;
    }
    let bin_dir = bin_dir.as_path();
    let sock = root.join("pier.sock");
    let host = format!("unix://{}", sock.display());
    let log = root.join("pierd.log");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut full_path = OsString::from(bin_dir.as_os_str());
    full_path.push(":");
    full_path.push(path);
    let mut c = Command::new(bin_dir.join("pierd"));
    c.arg("--data-root")
        .arg(root.join("data"))
        .arg("--exec-root")
        .arg(root.join("exec"))
        .args(["-H", &host])
        .env("PATH", &full_path);
    if let Some(rt) = runtime {
        c.args(["--runtime", rt]);
    }
    let daemon = Daemon::spawn("pierd", &mut c, &log)?;
    let pierd_pid = daemon.pid() as i32;
    let guard = Guard {
        root: root.clone(),
        daemons: vec![daemon],
        adopted: Vec::new(),
        extra_files: Vec::new(),
        runtime_roots: Vec::new(),
    };
    let mut e = CliEngine::new(name, bin_dir.join("pier"), vec!["-H".into(), host.into()], guard);
    if let Some(g) = e.guard.as_mut() {
        // Pier's layout: `<exec-root>/runc` is the runtime's --root.
        let rt = runtime.unwrap_or("runc");
        for dir in ["runc", rt] {
            g.runtime_roots.push((rt.to_string(), root.join("exec").join(dir)));
        }
        g.runtime_roots.dedup();
    }
    e.daemon_pids.push(("pierd".into(), pierd_pid));
    // As docker and podman here: no network, so every engine starts the
    // same kind of container (bridge networking is its own scenario).
    e.run_opts = vec!["--network".into(), "none".into()];
    e.log_run_opts = vec!["--log-opt".into(), "max-size=-1".into()];
    let data = root.join("data");
    e.log_path_fallback = Some(Box::new(move |id: &str| {
        data.join("containers").join(id).join(format!("{id}-json.log"))
    }));
    wait_ready(&mut e, &["version"], &log, Duration::from_secs(30))
        .map_err(|err| anyhow!("not built yet: pierd: {err:#}"))?;
    e.import(tar, IMAGE)
        .map_err(|err| anyhow!("not built yet: pier import: {err:#}"))?;
    Ok(e)
}
