//! Root-only: drives the real `pier-shim` binary with runc and a busybox
//! bundle. Fails (never skips) when root, runc or busybox is missing.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

#[path = "shim/streams.rs"]
mod streams;

use pier_shim_proto::{frame, ExitRecord, LogSettings, Ready, Request, Response, ShimConfig, Status};
use pier_testkit::process::{alive, ppid};
use pier_testkit::wait_for;

const RUNC: &str = "/usr/sbin/runc";

/// How a fixture's container is set up.
struct Opts {
    open_stdin: bool,
    stdin_once: bool,
    tty: bool,
    log_driver: &'static str,
    memory_limit: Option<i64>,
    runtime: &'static str,
    /// `ShimConfig::run_on_start`: `runtime run --detach` at `Start`.
    run_on_start: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            open_stdin: false,
            stdin_once: false,
            tty: false,
            log_driver: "json-file",
            memory_limit: None,
            runtime: RUNC,
            run_on_start: false,
        }
    }
}

/// One container's temp world; kills what it started on drop.
struct Fixture {
    dir: tempfile::TempDir,
    id: String,
    cfg: ShimConfig,
    shim_pid: Option<i32>,
    init_pid: Option<i32>,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl Fixture {
    fn new(args: &[&str]) -> Fixture {
        Fixture::with(args, Opts::default())
    }

    fn with(args: &[&str], opts: Opts) -> Fixture {
        pier_testkit::require::root_and_runc();
        // Short paths: a unix socket path must fit in 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("ps")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let id = format!(
            "piershimtest{}x{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let bundle = dir.path().join("b");
        let cdir = dir.path().join("c");
        write_bundle(&bundle, args, &opts);
        std::fs::create_dir_all(&cdir).expect("mkdir c");
        let cfg = ShimConfig {
            id: id.clone(),
            bundle: bundle.clone(),
            runtime: opts.runtime.into(),
            runtime_root: dir.path().join("r"),
            socket: bundle.join("shim.sock"),
            exit_path: cdir.join("exit.json"),
            shim_log: cdir.join("shim.log"),
            log: LogSettings {
                driver: opts.log_driver.into(),
                path: cdir.join(format!("{id}-json.log")),
                max_size: None,
                max_file: 1,
                compress: false,
                attrs: Vec::new(),
            },
            open_stdin: opts.open_stdin,
            stdin_once: opts.stdin_once,
            tty: opts.tty,
            health: None,
            run_on_start: opts.run_on_start,
        };
        std::fs::write(
            bundle.join("shim.json"),
            serde_json::to_vec(&cfg).expect("encode shim.json"),
        )
        .expect("write shim.json");
        Fixture {
            dir,
            id,
            cfg,
            shim_pid: None,
            init_pid: None,
        }
    }

    /// Start the shim and read its ready line.
    fn spawn(&mut self) -> Ready {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pier-shim"))
            .arg(self.cfg.bundle.join("shim.json"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn pier-shim");
        let mut out = String::new();
        child
            .stdout
            .take()
            .expect("ready pipe")
            .read_to_string(&mut out)
            .expect("read ready pipe");
        let status = child.wait().expect("wait shim parent");
        assert!(status.success(), "shim's first process exited {status}");
        let ready: Ready = serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("bad ready line {out:?}: {e}; shim log: {}", self.shim_log()));
        match ready {
            Ready::Created { pid, shim_pid } => {
                self.shim_pid = Some(shim_pid);
                self.init_pid = Some(pid);
            }
            Ready::Listening { shim_pid } => self.shim_pid = Some(shim_pid),
            Ready::Failed { .. } => {}
        }
        ready
    }

    fn connect(&self) -> UnixStream {
        let s = UnixStream::connect(&self.cfg.socket).expect("connect shim socket");
        s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        s
    }

    fn shim_log(&self) -> String {
        std::fs::read_to_string(&self.cfg.shim_log).unwrap_or_default()
    }

    fn log_lines(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(&self.cfg.log.path).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).expect("json-file line"))
            .collect()
    }

    /// The log's (stream, text) pairs, sorted (the two pipes race).
    fn stream_lines(&self) -> Vec<(String, String)> {
        let mut got: Vec<(String, String)> = self
            .log_lines()
            .iter()
            .map(|l| {
                (
                    l["stream"].as_str().expect("stream").to_owned(),
                    l["log"].as_str().expect("log").to_owned(),
                )
            })
            .collect();
        got.sort();
        got
    }

    fn runc_knows(&self) -> bool {
        Command::new(RUNC)
            .arg("--root")
            .arg(&self.cfg.runtime_root)
            .args(["state", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run runc state")
            .success()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for pid in [self.init_pid, self.shim_pid].into_iter().flatten() {
            if alive(pid) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
        let _ = Command::new(RUNC)
            .arg("--root")
            .arg(&self.cfg.runtime_root)
            .args(["delete", "--force", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = &self.dir;
    }
}

fn write_bundle(bundle: &Path, args: &[&str], opts: &Opts) {
    pier_testkit::rootfs::write_dir(&bundle.join("rootfs"));
    let mut config = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": opts.tty,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin"],
            "cwd": "/",
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "shimtest",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=1024k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}
        ],
        "linux": {
            "namespaces": [
                {"type": "pid"}, {"type": "mount"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "network"}
            ]
        }
    });
    if let Some(limit) = opts.memory_limit {
        config["linux"]["resources"] = serde_json::json!({"memory": {"limit": limit}});
    }
    std::fs::write(
        bundle.join("config.json"),
        serde_json::to_vec_pretty(&config).expect("encode config"),
    )
    .expect("write config.json");
}

fn call(s: &mut UnixStream, req: &Request) -> Response {
    frame::write_frame(s, req).expect("send request");
    frame::read_frame(s)
        .expect("read response")
        .expect("response before eof")
}

fn created(fx: &mut Fixture) -> (i32, i32) {
    match fx.spawn() {
        Ready::Created { pid, shim_pid } => (pid, shim_pid),
        other => panic!("create: {other:?}; log: {}", fx.shim_log()),
    }
}

/// A `run_on_start` shim: listening, nothing created.
fn listening(fx: &mut Fixture) -> i32 {
    match fx.spawn() {
        Ready::Listening { shim_pid } => shim_pid,
        other => panic!("listen: {other:?}; log: {}", fx.shim_log()),
    }
}

/// `Start` of a `run_on_start` shim: init's pid.
fn run_started(fx: &mut Fixture, c: &mut UnixStream) -> i32 {
    match call(c, &Request::Start) {
        Response::Started { pid } => {
            fx.init_pid = Some(pid);
            pid
        }
        other => panic!("start: {other:?}; log: {}", fx.shim_log()),
    }
}

fn run_opts() -> Opts {
    Opts {
        run_on_start: true,
        ..Opts::default()
    }
}

#[test]
fn run_on_start_creates_nothing_until_start_and_records_a_quick_exit() {
    let mut fx = Fixture::with(&["sh", "-c", "echo bye; echo err >&2; exit 3"], run_opts());
    let shim = listening(&mut fx);
    assert!(!fx.runc_knows(), "nothing is created before start");
    let mut c = fx.connect();
    match call(&mut c, &Request::State) {
        Response::State(st) => assert_eq!((st.status, st.pid), (Status::Created, 0)),
        other => panic!("state: {other:?}"),
    }
    // The exit monitor is armed before the start, as pierd does.
    let mut w = fx.connect();
    frame::write_frame(&mut w, &Request::Wait).expect("send wait");
    let pid = run_started(&mut fx, &mut c);
    assert!(pid > 0);
    let answer: Response = frame::read_frame(&mut w).expect("read wait").expect("wait answered");
    match answer {
        Response::Exited(r) => {
            assert_eq!((r.exit_code, r.signal), (3, None));
            assert!(r.started_at.is_some());
        }
        other => panic!("wait: {other:?}"),
    }
    drop((c, w));
    wait_for("shim exit", Duration::from_secs(10), || !alive(shim));
    assert!(!fx.runc_knows());
    assert_eq!(
        fx.stream_lines(),
        vec![
            ("stderr".to_owned(), "err\n".to_owned()),
            ("stdout".to_owned(), "bye\n".to_owned())
        ]
    );
}

#[test]
fn run_on_start_with_a_terminal() {
    let mut fx = Fixture::with(
        &["sh", "-c", "echo on-tty; exec sleep 1000"],
        Opts {
            tty: true,
            ..run_opts()
        },
    );
    let shim = listening(&mut fx);
    let mut c = fx.connect();
    let pid = run_started(&mut fx, &mut c);
    assert!(alive(pid));
    assert!(!fx.cfg.bundle.join("console.sock").exists(), "console socket removed");
    wait_for("tty output logged", Duration::from_secs(10), || {
        fx.log_lines().iter().any(|l| l["log"] == "on-tty\r\n")
    });
    match call(
        &mut c,
        &Request::Resize {
            exec_id: None,
            height: 30,
            width: 100,
        },
    ) {
        Response::Ok => {}
        other => panic!("resize: {other:?}"),
    }
    assert_eq!(call(&mut c, &Request::Kill { signal: 9, all: false }), Response::Ok);
    match call(&mut c, &Request::Wait) {
        Response::Exited(r) => assert_eq!(r.exit_code, 137),
        other => panic!("wait: {other:?}"),
    }
    drop(c);
    wait_for("shim exit", Duration::from_secs(10), || !alive(shim));
}

#[test]
fn run_on_start_failure_answers_start() {
    let mut fx = Fixture::with(&["true"], run_opts());
    std::fs::remove_dir_all(fx.cfg.bundle.join("rootfs")).expect("remove rootfs");
    let shim = listening(&mut fx);
    let mut c = fx.connect();
    match call(&mut c, &Request::Start) {
        Response::Error { message, .. } => assert!(message.starts_with("runc run failed"), "{message}"),
        other => panic!("start must fail without a rootfs: {other:?}"),
    }
    drop(c);
    wait_for("shim exit", Duration::from_secs(10), || !alive(shim));
    assert!(!fx.runc_knows());
}

#[test]
fn run_on_start_killed_before_start_records_the_signal() {
    let mut fx = Fixture::with(&["sleep", "1000"], run_opts());
    let shim = listening(&mut fx);
    let mut c = fx.connect();
    assert_eq!(call(&mut c, &Request::Kill { signal: 9, all: true }), Response::Ok);
    match call(&mut c, &Request::Wait) {
        Response::Exited(r) => assert_eq!((r.exit_code, r.signal), (137, Some(9))),
        other => panic!("wait: {other:?}"),
    }
    drop(c);
    wait_for("shim exit", Duration::from_secs(10), || !alive(shim));
    let rec: ExitRecord = serde_json::from_slice(&std::fs::read(&fx.cfg.exit_path).expect("exit.json")).expect("parse");
    assert_eq!(rec.exit_code, 137);
    assert!(!fx.runc_knows());
}

#[test]
fn daemon_hygiene_output_and_kill() {
    let mut fx = Fixture::new(&["sh", "-c", "echo to-out; echo to-err >&2; exec sleep 1000"]);
    let (init, shim) = created(&mut fx);
    assert!(init > 0 && shim > 0);
    assert_eq!(ppid(shim), 1, "shim must be reparented to init");
    for fd in 0..3 {
        let target = std::fs::read_link(format!("/proc/{shim}/fd/{fd}")).expect("readlink fd");
        assert_eq!(target, PathBuf::from("/dev/null"), "shim fd {fd}");
    }
    // Every other fd is one the shim made itself: nothing inherited. Two
    // pipes (the container's stdout/stderr), one socket (the listener).
    let (mut pipes, mut sockets) = (0, 0);
    for entry in std::fs::read_dir(format!("/proc/{shim}/fd")).expect("list fds") {
        let target = std::fs::read_link(entry.expect("fd entry").path()).expect("readlink");
        let t = target.to_string_lossy();
        assert!(
            t == "/dev/null"
                || t.starts_with("pipe:")
                || t.starts_with("socket:")
                || t.starts_with("anon_inode:")
                // The OOM notification's registration (cgroup v1).
                || t.ends_with("/memory.oom_control")
                || target.starts_with(fx.dir.path()),
            "unexpected fd in the shim: {t}"
        );
        pipes += usize::from(t.starts_with("pipe:"));
        sockets += usize::from(t.starts_with("socket:"));
    }
    assert_eq!((pipes, sockets), (2, 1), "shim's pipes and sockets");
    let sid = std::fs::read_to_string(format!("/proc/{shim}/stat")).expect("stat");
    let fields: Vec<&str> = sid.rsplit_once(')').expect("stat").1.split_whitespace().collect();
    assert_eq!(fields[3], shim.to_string(), "shim leads its session");

    let mut c = fx.connect();
    match call(&mut c, &Request::State) {
        Response::State(st) => assert_eq!((st.status, st.pid), (Status::Created, init)),
        other => panic!("state: {other:?}"),
    }
    assert_eq!(call(&mut c, &Request::Start), Response::Ok);
    match call(&mut c, &Request::State) {
        Response::State(st) => {
            assert_eq!(st.status, Status::Running);
            assert!(st.started_at.is_some());
        }
        other => panic!("state: {other:?}"),
    }
    wait_for("two log lines", Duration::from_secs(10), || fx.log_lines().len() >= 2);
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).expect("init status");
    assert!(
        status.lines().any(|l| l == "SigBlk:\t0000000000000000"),
        "the container's process must not inherit the shim's blocked signals: {status}"
    );

    let lines = fx.log_lines();
    assert_eq!(
        fx.stream_lines(),
        vec![
            ("stderr".to_owned(), "to-err\n".to_owned()),
            ("stdout".to_owned(), "to-out\n".to_owned())
        ]
    );
    assert!(lines[0]["time"].as_str().is_some_and(|t| t.ends_with('Z')));

    assert_eq!(call(&mut c, &Request::Kill { signal: 9, all: false }), Response::Ok);
    let record = match call(&mut c, &Request::Wait) {
        Response::Exited(r) => r,
        other => panic!("wait: {other:?}"),
    };
    assert_eq!((record.exit_code, record.signal), (137, Some(9)));
    let on_disk: ExitRecord =
        serde_json::from_slice(&std::fs::read(&fx.cfg.exit_path).expect("exit.json written")).expect("parse exit.json");
    assert_eq!(on_disk, record);
    assert!(!fx.runc_knows(), "runc state must be gone after wait");
    drop(c);
    wait_for("shim exit", Duration::from_secs(10), || !alive(shim));
    assert!(!fx.cfg.socket.exists(), "socket removed");
}

#[test]
fn cat_without_stdin_exits_at_once() {
    let mut fx = Fixture::new(&["cat"]);
    let (_, shim) = created(&mut fx);
    let mut c = fx.connect();
    let t = Instant::now();
    assert_eq!(call(&mut c, &Request::Start), Response::Ok);
    match call(&mut c, &Request::Wait) {
        Response::Exited(r) => assert_eq!(r.exit_code, 0),
        other => panic!("wait: {other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(5), "cat must see EOF at once");
    drop(c);
    wait_for("shim exit", Duration::from_secs(10), || !alive(shim));
}

#[test]
fn exits_alone_when_nobody_listens() {
    let mut fx = Fixture::new(&["sh", "-c", "echo bye; exit 3"]);
    let (_, shim) = created(&mut fx);
    let mut c = fx.connect();
    assert_eq!(call(&mut c, &Request::Start), Response::Ok);
    drop(c);
    wait_for("shim exit", Duration::from_secs(10), || !alive(shim));
    let rec: ExitRecord = serde_json::from_slice(&std::fs::read(&fx.cfg.exit_path).expect("exit.json")).expect("parse");
    assert_eq!((rec.exit_code, rec.signal), (3, None));
    assert!(rec.started_at.is_some() && rec.finished_at > 0);
    assert!(!fx.runc_knows());
    let lines = fx.log_lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["log"], "bye\n");
}

#[test]
fn open_stdin_keeps_cat_running() {
    let mut fx = Fixture::with(
        &["cat"],
        Opts {
            open_stdin: true,
            ..Opts::default()
        },
    );
    let (_, _) = created(&mut fx);
    let mut c = fx.connect();
    assert_eq!(call(&mut c, &Request::Start), Response::Ok);
    // A negative check, so time is the point: cat, its stdin held open,
    // is still running a moment later.
    std::thread::sleep(Duration::from_millis(300));
    match call(&mut c, &Request::State) {
        Response::State(st) => assert_eq!(st.status, Status::Running),
        other => panic!("state: {other:?}"),
    }
    assert_eq!(call(&mut c, &Request::Kill { signal: 9, all: false }), Response::Ok);
    // (SIGTERM would not do: cat is pid 1 of its namespace and has no
    // handler, so the kernel ignores it.)
    match call(&mut c, &Request::Wait) {
        Response::Exited(r) => assert_eq!(r.exit_code, 137),
        other => panic!("wait: {other:?}"),
    }
}

#[test]
fn create_failure_is_reported() {
    let mut fx = Fixture::new(&["true"]);
    std::fs::remove_dir_all(fx.cfg.bundle.join("rootfs")).expect("remove rootfs");
    match fx.spawn() {
        Ready::Failed { message, .. } => assert!(message.starts_with("runc create failed"), "{message}"),
        other => panic!("create must fail without a rootfs: {other:?}"),
    }
}

#[test]
fn bad_config_is_reported() {
    let fx = Fixture::new(&["true"]);
    let path = fx.dir.path().join("bad.json");
    std::fs::write(&path, b"{").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_pier-shim"))
        .arg(&path)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("run shim");
    assert!(!out.status.success());
    let line = BufReader::new(&out.stdout[..])
        .lines()
        .next()
        .expect("a ready line")
        .expect("utf8");
    assert!(matches!(
        serde_json::from_str::<Ready>(&line).expect("ready json"),
        Ready::Failed { .. }
    ));
}

#[test]
fn oom_kill_is_recorded() {
    let mut fx = Fixture::with(
        &[
            "sh",
            "-c",
            "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived",
        ],
        Opts {
            memory_limit: Some(16 << 20),
            ..Opts::default()
        },
    );
    let _ = created(&mut fx);
    let mut c = fx.connect();
    assert_eq!(call(&mut c, &Request::Start), Response::Ok);
    match call(&mut c, &Request::Wait) {
        Response::Exited(r) => assert!(r.oom_killed, "expected an oom kill: {r:?}, log: {:?}", fx.log_lines()),
        other => panic!("wait: {other:?}"),
    }
}

#[test]
fn drains_output_with_no_client_attached() {
    // Far more than a pipe buffer holds, written while nobody is connected.
    let mut fx = Fixture::new(
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 5000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done; printf tail",
        ],
    );
    let (_, shim) = created(&mut fx);
    let mut c = fx.connect();
    assert_eq!(call(&mut c, &Request::Start), Response::Ok);
    drop(c);
    wait_for("shim exit", Duration::from_secs(30), || !alive(shim));
    let lines = fx.log_lines();
    assert_eq!(lines.len(), 5001);
    for (i, l) in lines.iter().take(5000).enumerate() {
        let want = format!("line-{i}-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
        assert_eq!(l["log"].as_str(), Some(want.as_str()));
    }
    assert_eq!(lines[5000]["log"], "tail", "unterminated last line kept");
}

#[test]
fn shutdown_and_a_second_connection() {
    let mut fx = Fixture::new(&["sleep", "1000"]);
    let (_, shim) = created(&mut fx);
    let mut control = fx.connect();
    assert_eq!(call(&mut control, &Request::Start), Response::Ok);
    let mut waiter = fx.connect();
    frame::write_frame(&mut waiter, &Request::Wait).expect("send wait");
    assert_eq!(call(&mut control, &Request::Shutdown), Response::Ok);
    assert!(alive(shim), "shutdown waits for the container");
    assert_eq!(
        call(&mut control, &Request::Kill { signal: 9, all: false }),
        Response::Ok
    );
    match frame::read_frame::<Response>(&mut waiter).expect("read wait") {
        Some(Response::Exited(r)) => assert_eq!(r.exit_code, 137),
        other => panic!("wait: {other:?}"),
    }
    // Both connections stay open; after Shutdown the shim leaves anyway.
    wait_for("shim exit", Duration::from_secs(10), || !alive(shim));
    drop((control, waiter));
}

#[test]
fn crun_on_a_hybrid_host_says_why() {
    const CRUN: &str = "/usr/bin/crun";
    assert!(Path::new(CRUN).exists(), "crun is missing at {CRUN}");
    let mut fx = Fixture::with(
        &["true"],
        Opts {
            runtime: CRUN,
            ..Opts::default()
        },
    );
    let hybrid = Path::new("/sys/fs/cgroup/unified").is_dir();
    match fx.spawn() {
        Ready::Failed { message, .. } if hybrid => {
            assert!(message.contains("hybrid") && message.contains("use runc"), "{message}");
        }
        Ready::Created { .. } if !hybrid => {}
        other => panic!("hybrid={hybrid}: {other:?}"),
    }
}

#[test]
fn a_successor_shim_keeps_its_socket() {
    // A restart: the old shim is still up (its client has not hung up) when
    // pierd starts a new shim for the same container and socket path.
    let mut fx = Fixture::new(&["sleep", "1000"]);
    let (_, old_shim) = created(&mut fx);
    let mut old = fx.connect();
    assert_eq!(call(&mut old, &Request::Start), Response::Ok);
    let kill = Request::Kill { signal: 9, all: false };
    assert_eq!(call(&mut old, &kill), Response::Ok);
    assert!(matches!(call(&mut old, &Request::Wait), Response::Exited(_)));
    std::fs::remove_file(&fx.cfg.exit_path).expect("remove exit.json");

    let (_, new_shim) = created(&mut fx);
    assert_ne!(old_shim, new_shim);
    drop(old);
    wait_for("old shim exit", Duration::from_secs(10), || !alive(old_shim));
    let mut new = fx.connect();
    match call(&mut new, &Request::State) {
        Response::State(st) => assert_eq!(st.status, Status::Created),
        other => panic!("state: {other:?}"),
    }
    assert_eq!(call(&mut new, &kill), Response::Ok);
    assert!(matches!(call(&mut new, &Request::Wait), Response::Exited(_)));
}

#[test]
fn tty_output_is_logged_as_stdout() {
    let mut fx = Fixture::with(
        &["sh", "-c", "echo on-tty; echo err-on-tty >&2"],
        Opts {
            tty: true,
            ..Opts::default()
        },
    );
    let (_, shim) = created(&mut fx);
    assert!(!fx.cfg.bundle.join("console.sock").exists(), "console socket removed");
    let mut c = fx.connect();
    assert_eq!(call(&mut c, &Request::Start), Response::Ok);
    match call(&mut c, &Request::Wait) {
        Response::Exited(r) => assert_eq!(r.exit_code, 0),
        other => panic!("wait: {other:?}"),
    }
    drop(c);
    wait_for("shim exit", Duration::from_secs(10), || !alive(shim));
    let got: Vec<(String, String)> = fx
        .log_lines()
        .iter()
        .map(|l| {
            (
                l["stream"].as_str().unwrap_or("").to_owned(),
                l["log"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("stdout".to_owned(), "on-tty\r\n".to_owned()),
            ("stdout".to_owned(), "err-on-tty\r\n".to_owned())
        ]
    );
}
