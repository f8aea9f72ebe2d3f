//! A pierd started in-process on its own temp data root, exec root and
//! socket, plus a tiny blocking HTTP/1.1 client. Dropping the harness stops
//! the daemon, kills what it started by pid and unmounts what it mounted.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pierd::DaemonConfig;

pub fn require_root_and_runc() -> PathBuf {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the pierd integration tests need root (they mount overlayfs and run runc)"
    );
    pierd::config::resolve_runtime("runc", std::env::var("PATH").ok().as_deref())
        .expect("the pierd integration tests need runc in PATH")
}

/// `target/<profile>/pier-shim`, next to the `deps/` holding this test.
pub fn shim_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary under target/<profile>/deps");
    let shim = profile_dir.join("pier-shim");
    assert!(
        shim.is_file(),
        "pier-shim not found at {}: run `cargo build -p pier-shim` first",
        shim.display()
    );
    shim
}

pub struct Harness {
    pub root: tempfile::TempDir,
    pub socket: PathBuf,
    cfg: DaemonConfig,
    running: Option<Running>,
    /// Run the `pierd` binary instead of `pierd::run` in-process.
    binary: bool,
    child: Option<std::process::Child>,
}

struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<anyhow::Result<()>>,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_mode(false)
    }

    /// A harness running the built `pierd` binary (so it can be SIGKILLed).
    pub fn binary() -> Self {
        Self::with_mode(true)
    }

    fn with_mode(binary: bool) -> Self {
        let runtime = require_root_and_runc();
        let shim = shim_path();
        let root = tempfile::Builder::new()
            .prefix("pd")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let cfg = DaemonConfig::new(root.path().join("d"), root.path().join("e"), runtime, shim);
        let socket = root.path().join("s.sock");
        let mut h = Harness {
            root,
            socket,
            cfg,
            running: None,
            binary,
            child: None,
        };
        h.start();
        h
    }

    pub fn data_root(&self) -> &Path {
        &self.cfg.data_root
    }

    pub fn exec_root(&self) -> &Path {
        &self.cfg.exec_root
    }

    /// Run `pierd::run` on its own runtime in a thread.
    pub fn start(&mut self) {
        assert!(self.running.is_none() && self.child.is_none(), "daemon already running");
        let _ = std::fs::remove_file(&self.socket);
        if self.binary {
            let child = std::process::Command::new(env!("CARGO_BIN_EXE_pierd"))
                .arg("--data-root")
                .arg(&self.cfg.data_root)
                .arg("--exec-root")
                .arg(&self.cfg.exec_root)
                .arg("-H")
                .arg(format!("unix://{}", self.socket.display()))
                .arg("--runtime")
                .arg(&self.cfg.runtime)
                .arg("--shim")
                .arg(&self.cfg.shim)
                .arg("--config-file")
                .arg("/dev/null")
                .stdin(std::process::Stdio::null())
                .spawn()
                .expect("spawn pierd binary");
            self.child = Some(child);
            self.wait_ping();
            return;
        }
        let cfg = self.cfg.clone();
        let socket = self.socket.clone();
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let listener = tokio::net::UnixListener::bind(&socket)?;
                let _ = ready_tx.send(());
                pierd::run(cfg, listener, async move {
                    let _ = rx.await;
                })
                .await
            })
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("daemon thread bound its socket");
        self.running = Some(Running { stop, thread });
        self.wait_ping();
    }

    /// Wait until the daemon answers (restore runs before serving).
    fn wait_ping(&self) {
        for _ in 0..100 {
            if let Ok(r) = self.try_request("GET", "/_ping", None) {
                if r.status == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("pierd did not answer /_ping");
    }

    /// SIGKILL the daemon binary; containers and shims keep running.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("kill9 needs Harness::binary");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Graceful stop; containers keep running.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let status = child.wait()?;
            anyhow::ensure!(status.success(), "pierd exited with {status}");
            return Ok(());
        }
        let Some(r) = self.running.take() else {
            return Ok(());
        };
        let _ = r.stop.send(());
        r.thread.join().expect("daemon thread panicked")
    }

    pub fn try_request(&self, method: &str, path: &str, body: Option<&[u8]>) -> std::io::Result<Response> {
        let mut s = UnixStream::connect(&self.socket)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        send_request(&mut s, method, path, body)?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        Ok(parse_response(&raw))
    }

    pub fn req(&self, method: &str, path: &str, body: Option<&[u8]>) -> Response {
        self.try_request(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn json(&self, method: &str, path: &str, body: serde_json::Value) -> Response {
        self.req(method, path, Some(body.to_string().as_bytes()))
    }

    /// Import the busybox image as `tag`.
    pub fn import_busybox(&self, tag: &str) -> String {
        let tar = busybox_tar();
        let (repo, t) = tag.split_once(':').unwrap_or((tag, "latest"));
        let r = self.req(
            "POST",
            &format!("/images/create?fromSrc=-&repo={repo}&tag={t}"),
            Some(&tar),
        );
        assert_eq!(r.status, 200, "import: {}", r.text());
        let line: serde_json::Value =
            serde_json::from_str(r.text().lines().next().expect("status line")).expect("json");
        line["status"].as_str().expect("status").to_string()
    }

    /// Create (and optionally start) a container; returns its id.
    pub fn create(&self, name: &str, image: &str, cmd: &[&str]) -> String {
        let q = if name.is_empty() {
            String::new()
        } else {
            format!("?name={name}")
        };
        let r = self.json(
            "POST",
            &format!("/containers/create{q}"),
            serde_json::json!({ "Image": image, "Cmd": cmd }),
        );
        assert_eq!(r.status, 201, "create: {}", r.text());
        r.json()["Id"].as_str().expect("Id").to_string()
    }

    pub fn run(&self, name: &str, image: &str, cmd: &[&str]) -> String {
        let id = self.create(name, image, cmd);
        let r = self.req("POST", &format!("/containers/{id}/start"), None);
        assert_eq!(r.status, 204, "start: {}", r.text());
        id
    }

    pub fn inspect(&self, id: &str) -> serde_json::Value {
        let r = self.req("GET", &format!("/containers/{id}/json"), None);
        assert_eq!(r.status, 200, "inspect: {}", r.text());
        r.json()
    }

    /// Poll until the container is no longer running.
    pub fn wait_exited(&self, id: &str) -> serde_json::Value {
        for _ in 0..200 {
            let i = self.inspect(id);
            if i["State"]["Running"] == false {
                return i;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("container {id} did not exit");
    }

    fn cleanup(&mut self) {
        let _ = self.stop();
        let containers = self.cfg.containers_dir();
        if let Ok(entries) = std::fs::read_dir(&containers) {
            for e in entries.flatten() {
                let rec: Option<serde_json::Value> = std::fs::read(e.path().join("container.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok());
                if let Some(rec) = rec {
                    for key in ["pid", "shim_pid"] {
                        let pid = rec["state"][key]
                            .as_i64()
                            .and_then(|p| i32::try_from(p).ok())
                            .unwrap_or(0);
                        if pid > 0 {
                            let _ = nix::sys::signal::kill(
                                nix::unistd::Pid::from_raw(pid),
                                nix::sys::signal::Signal::SIGKILL,
                            );
                        }
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
        for m in mounts_under(self.root.path()) {
            let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Mount points below `root`, deepest first.
pub fn mounts_under(root: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = root.to_string_lossy().to_string();
    let mut v: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| mp.starts_with(&prefix))
        .map(PathBuf::from)
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    v
}

pub fn send_request(s: &mut UnixStream, method: &str, path: &str, body: Option<&[u8]>) -> std::io::Result<()> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: pier\r\nConnection: close\r\n");
    if let Some(b) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    if let Some(b) = body {
        s.write_all(b)?;
    }
    s.flush()
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }
}

/// Split head and body; de-chunk a chunked body.
pub fn parse_response(raw: &[u8]) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response { status, headers, body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&b[..nl])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = nl + 2;
        out.extend_from_slice(&b[start..start + size]);
        b = &b[start + size + 2..];
    }
    out
}

/// Split a stdcopy stream into (stdout, stderr).
pub fn demux(mut b: &[u8]) -> (String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while b.len() >= 8 {
        let len = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
        let payload = &b[8..8 + len];
        match b[0] {
            1 => out.extend_from_slice(payload),
            2 => err.extend_from_slice(payload),
            other => panic!("unexpected stream {other}"),
        }
        b = &b[8 + len..];
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

/// A rootfs tar: /bin/busybox, applet symlinks, /etc/passwd and /etc/group.
pub fn busybox_tar() -> Vec<u8> {
    let busybox = std::fs::read("/bin/busybox").expect("the tests need busybox-static at /bin/busybox");
    let mut b = tar::Builder::new(Vec::new());
    let dir = |b: &mut tar::Builder<Vec<u8>>, path: &str| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, path, std::io::empty()).expect("dir");
    };
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root"] {
        dir(&mut b, d);
    }
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(busybox.len() as u64);
    b.append_data(&mut h, "bin/busybox", busybox.as_slice())
        .expect("busybox");
    for applet in [
        "sh", "echo", "sleep", "cat", "ls", "env", "id", "true", "false", "hostname", "seq",
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox").expect("link");
    }
    for (path, text) in [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(text.len() as u64);
        b.append_data(&mut h, path, text.as_bytes()).expect("file");
    }
    b.into_inner().expect("tar")
}
