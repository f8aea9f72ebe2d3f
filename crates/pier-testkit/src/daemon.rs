//! One guard for a private `pierd`: its own temp dir holding the data root,
//! the exec root, the socket and `daemon.json`, in one of two modes:
//!
//! - [`Mode::InProcess`]: `pierd::run` on its own tokio runtime in a thread
//!   of the test, stopped through its shutdown future;
//! - [`Mode::Binary`]: the built `pierd` (from this target dir, or
//!   `$PIER_BIN_DIR`), so a test can SIGKILL it and start it again.
//!
//! Requests go through `pier_client`, the project's own client. Dropping the
//! guard stops the daemon, SIGKILLs the shims and runtimes started under its
//! temp dir (found by pid), force-deletes leftover runtime containers and
//! unmounts everything mounted under the temp dir, also when the test panics.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use nix::sys::signal::Signal;
use pier_api::version::ApiVersion;
use pier_client::http::Headers;
use pier_client::{Client, Hijacked, Query, RequestBody};

use crate::{process, require, rootfs, wait_until};

/// Where the binaries under test live.
pub struct Bins {
    pub pierd: PathBuf,
    pub pier: PathBuf,
    pub shim: PathBuf,
}

/// The binaries under test: `$PIER_BIN_DIR`, else the target dir this test
/// binary was built into (`target/<profile>/deps/..`).
pub fn bins() -> &'static Bins {
    static BINS: OnceLock<Bins> = OnceLock::new();
    BINS.get_or_init(|| {
        let dir = match std::env::var_os("PIER_BIN_DIR") {
            Some(d) => PathBuf::from(d),
            None => {
                let exe = std::env::current_exe().expect("current exe");
                exe.parent()
                    .and_then(Path::parent)
                    .expect("test binary under target/<profile>/deps")
                    .to_path_buf()
            }
        };
        Bins {
            pierd: dir.join("pierd"),
            pier: dir.join("pier"),
            shim: dir.join("pier-shim"),
        }
    })
}

/// `path`, failing the test with how to build it when it is missing.
fn built(path: &Path) -> &Path {
    assert!(
        path.is_file(),
        "{} is missing: build the binaries first (`cargo build --workspace --bins`) or set PIER_BIN_DIR",
        path.display()
    );
    path
}

/// How the daemon runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `pierd::run` in a thread of the test process.
    InProcess,
    /// The `pierd` binary as a child process.
    Binary,
}

/// Options of a [`Daemon`] before it starts.
pub struct DaemonBuilder {
    mode: Mode,
    config: String,
    args: Vec<String>,
}

impl DaemonBuilder {
    /// Run the `pierd` binary (the default).
    pub fn binary(mut self) -> Self {
        self.mode = Mode::Binary;
        self
    }

    /// Run `pierd::run` in-process.
    pub fn in_process(mut self) -> Self {
        self.mode = Mode::InProcess;
        self
    }

    /// The text of `daemon.json` (dockerd's keys).
    pub fn config(mut self, json: &str) -> Self {
        self.config = json.to_string();
        self
    }

    /// Extra `pierd` flags (binary mode only).
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args = args.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Set up the directories and `daemon.json` without starting: prepare
    /// what the daemon needs (say, mount a small data root), then
    /// [`Daemon::start_again`].
    pub fn build(self) -> Daemon {
        let runtime = require::root_and_runc();
        assert!(
            self.mode == Mode::Binary || self.args.is_empty(),
            "pierd flags need Mode::Binary; in-process, use daemon.json"
        );
        // Short paths: a unix socket path must fit in 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("pk")
            .tempdir_in("/tmp")
            .expect("create the daemon's temp dir");
        let root = dir.path().to_path_buf();
        let config = with_pod_network_default(&with_networking_default(&self.config), &root);
        std::fs::write(root.join("daemon.json"), config).expect("write daemon.json");
        let sock = root.join("s.sock");
        let client = Client::new(&format!("unix://{}", sock.display())).expect("a client for the socket");
        Daemon {
            data_root: root.join("d"),
            exec_root: root.join("x"),
            sock,
            root,
            mode: self.mode,
            args: self.args,
            runtime,
            child: None,
            in_process: None,
            client,
            _dir: dir,
        }
    }

    /// Set up and start; returns once the daemon answers `/_ping`.
    pub fn start(self) -> Daemon {
        let mut d = self.build();
        d.start_again();
        d
    }
}

/// `daemon.json` with `"bridge": "none"` unless the test configures the
/// default bridge: test daemons run side by side on one host, and their
/// default bridges (one subnet and device name for all) would collide.
/// Network tests name their own bridge, `bip` and pools.
fn with_networking_default(config: &str) -> String {
    if config.trim().is_empty() {
        return r#"{"bridge": "none"}"#.to_string();
    }
    match serde_json::from_str::<serde_json::Value>(config) {
        Ok(serde_json::Value::Object(mut m)) => {
            m.entry("bridge").or_insert_with(|| "none".into());
            serde_json::Value::Object(m).to_string()
        }
        // Not an object: the test wants pierd to see it as it is.
        _ => config.to_string(),
    }
}

/// A `cri` section without `cni-conf-dir` gets a conf dir of its own
/// (`<root>/cni`) holding a loopback-only network: the host's
/// /etc/cni/net.d (podman's bridge, say) would plumb test pods into a
/// network shared by every daemon, and leave its devices and rules on the
/// host. Pods then have `lo` and no IP. CNI tests write their own
/// conflist with a bridge of their own (`tests/e2e/cri_network.rs`).
fn with_pod_network_default(config: &str, root: &Path) -> String {
    let Ok(serde_json::Value::Object(mut m)) = serde_json::from_str::<serde_json::Value>(config) else {
        return config.to_string();
    };
    let Some(serde_json::Value::Object(cri)) = m.get_mut("cri") else {
        return config.to_string();
    };
    if cri.contains_key("cni-conf-dir") {
        return config.to_string();
    }
    let dir = root.join("cni");
    std::fs::create_dir_all(&dir).expect("create the CNI conf dir");
    let conflist = serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "pier-test-loopback",
        "plugins": [{"type": "loopback"}],
    });
    std::fs::write(dir.join("10-loopback.conflist"), conflist.to_string()).expect("write the loopback conflist");
    cri.insert("cni-conf-dir".into(), dir.display().to_string().into());
    serde_json::Value::Object(m).to_string()
}

/// `pierd::run` running on its own runtime in a thread.
struct InProcess {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<RunResult>,
}

/// How `pierd::run` ended (its error rendered with its causes).
type RunResult = Result<(), String>;

/// A running (or stopped) `pierd` on private directories.
pub struct Daemon {
    /// The temp dir holding everything below.
    pub root: PathBuf,
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub sock: PathBuf,
    mode: Mode,
    args: Vec<String>,
    runtime: PathBuf,
    child: Option<Child>,
    in_process: Option<InProcess>,
    client: Client,
    _dir: tempfile::TempDir,
}

/// A whole HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`null` when empty); fails the test when it is not.
    pub fn json(&self) -> serde_json::Value {
        if self.body.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}), status {}: {}", self.status, self.text()))
    }
}

impl Daemon {
    /// Options for a daemon: binary mode, empty `daemon.json`, no flags.
    pub fn builder() -> DaemonBuilder {
        DaemonBuilder {
            mode: Mode::Binary,
            config: "{}\n".to_string(),
            args: Vec::new(),
        }
    }

    /// The `pierd` binary with default options.
    pub fn start() -> Daemon {
        Self::builder().start()
    }

    /// `pierd::run` in-process with default options.
    pub fn in_process() -> Daemon {
        Self::builder().in_process().start()
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Start the daemon (again) on the same directories, re-reading
    /// `daemon.json`; returns once it answers `/_ping`.
    pub fn start_again(&mut self) {
        assert!(!self.is_running(), "pierd is still running");
        let _ = std::fs::remove_file(&self.sock);
        match self.mode {
            Mode::Binary => self.spawn_binary(),
            Mode::InProcess => self.spawn_in_process(),
        }
        self.wait_ready();
    }

    fn is_running(&self) -> bool {
        self.child.is_some() || self.in_process.is_some()
    }

    fn config_path(&self) -> PathBuf {
        self.root.join("daemon.json")
    }

    fn spawn_binary(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("pierd.log"))
            .expect("open pierd.log");
        let child = Command::new(built(&bins().pierd))
            .arg("--data-root")
            .arg(&self.data_root)
            .arg("--exec-root")
            .arg(&self.exec_root)
            .arg("-H")
            .arg(self.host())
            .arg("--config-file")
            .arg(self.config_path())
            .args(&self.args)
            .env("PIER_SHIM", built(&bins().shim))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup pierd.log"))
            .stderr(log)
            .spawn()
            .expect("spawn pierd");
        self.child = Some(child);
    }

    fn spawn_in_process(&mut self) {
        let path = self.config_path();
        let text = std::fs::read_to_string(&path).expect("read daemon.json");
        let file = pierd::config::parse_file(&path, &text).unwrap_or_else(|e| panic!("{e}"));
        let networking = pierd::config::NetworkingConfig::from_file(&file);
        let mut cfg = pierd::DaemonConfig::new(
            self.data_root.clone(),
            self.exec_root.clone(),
            self.runtime.clone(),
            built(&bins().shim).to_path_buf(),
        );
        if let Some(driver) = file.log_driver {
            cfg.log_driver = driver;
        }
        cfg.log_opts = file.log_opts.unwrap_or_default();
        cfg.detach_keys = file.detach_keys;
        cfg.live.insecure_registries = file.insecure_registries.unwrap_or_default();
        cfg.cgroup_parent = file.cgroup_parent.filter(|p| !p.is_empty());
        cfg.init = file.init.unwrap_or(false);
        cfg.networking = networking;
        cfg.init_path = file.init_path;
        cfg.cri = pierd::config::CriConfig::from_file(file.cri.as_ref(), None).unwrap_or_else(|e| panic!("{e}"));
        for (name, r) in file.runtimes.unwrap_or_default() {
            cfg.runtimes.insert(name, PathBuf::from(r.path));
        }

        let socket = self.sock.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || -> RunResult {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| format!("build runtime: {e}"))?;
            rt.block_on(async move {
                let listener = tokio::net::UnixListener::bind(&socket);
                let bound = listener.as_ref().map(|_| ()).map_err(|e| e.to_string());
                let _ = bound_tx.send(bound);
                let listener = listener.map_err(|e| format!("bind {}: {e}", socket.display()))?;
                let shutdown = async move {
                    let _ = stopped.await;
                };
                pierd::run(cfg, listener, shutdown).await.map_err(|e| format!("{e:#}"))
            })
        });
        match bound_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("bind the in-process daemon's socket: {e}"),
            Err(_) => panic!("the in-process daemon did not bind its socket in 10s"),
        }
        self.in_process = Some(InProcess { stop, thread });
    }

    fn wait_ready(&mut self) {
        let mut exited = None;
        let ready = wait_until(Duration::from_secs(20), || {
            if self.try_request("GET", "/_ping", None).is_ok_and(|r| r.status == 200) {
                return true;
            }
            exited = self.exited_early();
            exited.is_some()
        });
        if let Some(why) = exited {
            panic!("pierd exited during start-up ({why}); log:\n{}", self.daemon_log());
        }
        assert!(ready, "pierd did not answer /_ping in 20s; log:\n{}", self.daemon_log());
    }

    /// Why the daemon has already stopped, if it has.
    fn exited_early(&mut self) -> Option<String> {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return Some(st.to_string());
            }
        }
        if self.in_process.as_ref().is_some_and(|p| p.thread.is_finished()) {
            let p = self.in_process.take()?;
            return Some(match p.thread.join() {
                Ok(Ok(())) => "returned".to_string(),
                Ok(Err(e)) => e,
                Err(_) => "panicked".to_string(),
            });
        }
        None
    }

    /// The binary daemon's log so far (empty in-process), for failure messages.
    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.root.join("pierd.log")).unwrap_or_default()
    }

    /// pid of the running `pierd` binary.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a running pierd binary").id()
    }

    /// SIGKILL the `pierd` binary and reap it; containers and shims keep
    /// running.
    pub fn kill9(&mut self) {
        let mut child = self
            .child
            .take()
            .expect("kill9 needs a running pierd binary (Mode::Binary)");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Graceful stop (SIGTERM for the binary, the shutdown future
    /// in-process); containers keep running. Fails the test when the daemon
    /// does not stop within 15s or stops with an error.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::signal(child.id() as i32, Signal::SIGTERM);
            let mut status = None;
            wait_until(Duration::from_secs(15), || {
                status = child.try_wait().ok().flatten();
                status.is_some()
            });
            let Some(status) = status else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("pierd did not exit within 15s of SIGTERM; log:\n{}", self.daemon_log());
            };
            assert!(
                status.success(),
                "pierd exited with {status}; log:\n{}",
                self.daemon_log()
            );
        }
        if let Some(p) = self.in_process.take() {
            let _ = p.stop.send(());
            assert!(
                wait_until(Duration::from_secs(15), || p.thread.is_finished()),
                "the in-process pierd did not stop within 15s"
            );
            match p.thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("the in-process pierd failed: {e}"),
                Err(_) => panic!("the in-process pierd panicked"),
            }
        }
    }

    /// Stop without failing: for Drop.
    fn halt(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(p) = self.in_process.take() {
            let _ = p.stop.send(());
            // A daemon wedged in its drain is left behind rather than
            // hanging the test; its processes and mounts are cleaned below.
            if wait_until(Duration::from_secs(10), || p.thread.is_finished()) {
                let _ = p.thread.join();
            }
        }
    }

    /// `DOCKER_HOST`-style address of this daemon.
    pub fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// The project's client for this daemon (version negotiated on first
    /// use).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A `pier` CLI command pointed at this daemon, stdin closed.
    pub fn pier_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(built(&bins().pier));
        c.arg("-H").arg(self.host()).args(args).stdin(Stdio::null());
        c
    }

    /// Run the pier CLI against this daemon.
    pub fn pier(&self, args: &[&str]) -> Output {
        self.pier_cmd(args).output().expect("run pier")
    }

    /// Run pier and return stdout; fail the test with stderr when it fails.
    pub fn pier_ok(&self, args: &[&str]) -> String {
        let out = self.pier(args);
        assert!(
            out.status.success(),
            "pier {args:?} failed ({}): {}\n--- pierd log ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            self.daemon_log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The docker CLI pointed at this daemon (and at nothing else).
    pub fn docker_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.root.join("docker-config"))
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// Run the docker CLI and return its output.
    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_cmd(args)
            .output()
            .expect("run docker (the docker CLI is needed: scripts/deps.sh)")
    }

    /// Run docker and return stdout; fail the test when it fails.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed ({}): {}\n--- pierd log ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            self.daemon_log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The `docker` or `pier` CLI, by name, pointed at this daemon.
    pub fn cli_cmd(&self, cli: &str, args: &[&str]) -> Command {
        if cli == "docker" {
            self.docker_cmd(args)
        } else {
            self.pier_cmd(args)
        }
    }

    /// One request, `path` sent as given (with or without a `/v1.NN`
    /// prefix), `body` as JSON; any status is a reply.
    pub fn try_request(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Reply, pier_client::Error> {
        let body = match body {
            Some(b) => RequestBody::Json(b.to_vec()),
            None => RequestBody::Empty,
        };
        let resp = self.client.send(method, path, body, &Headers::new())?;
        let status = resp.status();
        let headers = resp.head.headers.clone();
        let body = resp.bytes()?;
        Ok(Reply { status, headers, body })
    }

    /// [`Daemon::try_request`], failing the test when no reply came.
    pub fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> Reply {
        self.try_request(method, path, body).unwrap_or_else(|e| {
            // The error names the path, which may be huge: show the start.
            let shown: String = e.to_string().chars().take(300).collect();
            panic!("{method}: {shown}")
        })
    }

    /// A request with a JSON value as the body.
    pub fn request_json(&self, method: &str, path: &str, body: &serde_json::Value) -> Reply {
        self.request(method, path, Some(body.to_string().as_bytes()))
    }

    /// Status and body of one request.
    pub fn http(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, Vec<u8>) {
        let r = self.request(method, path, body);
        (r.status, r.body)
    }

    /// Status and JSON body (`null` when empty) of one request.
    pub fn http_json(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, serde_json::Value) {
        let r = self.request(method, path, body);
        (r.status, r.json())
    }

    /// Hijack `method path` (`path` with its query, optionally with a
    /// `/v1.NN` prefix, which then is the client's version) through
    /// `pier_client`; fails the test on an error status.
    pub fn hijack(&self, method: &str, path: &str, body: Option<&[u8]>) -> Hijacked {
        let versioned = path.strip_prefix("/v").and_then(|rest| {
            let (v, tail) = rest.split_once('/')?;
            Some((ApiVersion::parse(v).ok()?, format!("/{tail}")))
        });
        let result = match versioned {
            Some((version, tail)) => Client::with_version(&self.host(), version)
                .and_then(|c| c.hijack(method, &tail, &Query::new(), body.map(<[u8]>::to_vec))),
            None => self
                .client
                .hijack(method, path, &Query::new(), body.map(<[u8]>::to_vec)),
        };
        result.unwrap_or_else(|e| panic!("hijack {method} {path}: {e}"))
    }

    /// Import the busybox rootfs as `tag` (`repo[:tag]`); returns the image
    /// id.
    pub fn import_busybox(&self, tag: &str) -> String {
        let (repo, tag) = match tag.rsplit_once(':') {
            Some((repo, t)) if !t.contains('/') => (repo, Some(t)),
            _ => (tag, None),
        };
        let mut id = None;
        let mut tar = rootfs::tar_bytes();
        self.client
            .image_import(&mut tar, repo, tag, &[], None, |m| {
                if let Some(s) = m.status.as_deref().filter(|s| s.starts_with("sha256:")) {
                    id = Some(s.to_string());
                }
            })
            .unwrap_or_else(|e| panic!("import busybox as {repo}: {e}\n{}", self.daemon_log()));
        id.expect("import reported the image id")
    }

    /// Create a container of `image` running `cmd` (named unless `name` is
    /// empty); returns its id.
    pub fn create(&self, name: &str, image: &str, cmd: &[&str]) -> String {
        let q = if name.is_empty() {
            String::new()
        } else {
            format!("?name={name}")
        };
        let r = self.request_json(
            "POST",
            &format!("/containers/create{q}"),
            &serde_json::json!({ "Image": image, "Cmd": cmd }),
        );
        assert_eq!(r.status, 201, "create: {}", r.text());
        r.json()["Id"].as_str().expect("Id").to_string()
    }

    /// Create and start; returns the id.
    pub fn run(&self, name: &str, image: &str, cmd: &[&str]) -> String {
        let id = self.create(name, image, cmd);
        let r = self.request("POST", &format!("/containers/{id}/start"), None);
        assert_eq!(r.status, 204, "start: {}", r.text());
        id
    }

    /// `GET /containers/{id}/json`, which must succeed.
    pub fn inspect(&self, id: &str) -> serde_json::Value {
        let r = self.request("GET", &format!("/containers/{id}/json"), None);
        assert_eq!(r.status, 200, "inspect {id}: {}", r.text());
        r.json()
    }

    /// Wait (up to `timeout`) until the container is no longer running;
    /// returns its inspect JSON.
    pub fn wait_exited(&self, id: &str, timeout: Duration) -> serde_json::Value {
        let mut last = serde_json::Value::Null;
        let exited = wait_until(timeout, || {
            last = self.inspect(id);
            last["State"]["Running"] == false
        });
        assert!(
            exited,
            "container {id} still running after {timeout:?}: {}",
            last["State"]
        );
        last
    }

    /// Where the container's `exit.json` is: it exists once the shim has
    /// recorded the exit, also while pierd is down.
    pub fn exit_record(&self, id: &str) -> PathBuf {
        self.data_root.join("containers").join(id).join("exit.json")
    }

    /// The container's json-file log.
    pub fn log_file(&self, id: &str) -> PathBuf {
        self.data_root
            .join("containers")
            .join(id)
            .join(format!("{id}-json.log"))
    }

    /// Lines the shim has logged for the container so far: the current
    /// json-file log plus the rotated uncompressed ones (`.1`, `.2`, …), so
    /// the count only grows while rotated files are kept. Works while pierd
    /// is down: the shim writes the log.
    pub fn log_lines(&self, id: &str) -> usize {
        let dir = self.data_root.join("containers").join(id);
        let current = format!("{id}-json.log");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return 0;
        };
        entries
            .flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name == current
                    || name
                        .strip_prefix(&current)
                        .and_then(|rest| rest.strip_prefix('.'))
                        .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
            })
            .filter_map(|e| std::fs::read(e.path()).ok())
            .map(|b| b.iter().filter(|c| **c == b'\n').count())
            .sum()
    }

    /// pids of the processes whose command line names this daemon's temp
    /// dir (shims, runtimes, CLIs), excluding this test.
    pub fn our_processes(&self) -> Vec<i32> {
        process::processes_mentioning(&self.root.to_string_lossy())
    }

    /// Mount points under this daemon's temp dir.
    pub fn our_mounts(&self) -> Vec<String> {
        process::mounts_under(&self.root)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.halt();
        process::clean_up_under(&self.root, &self.exec_root.join("runc"));
    }
}
