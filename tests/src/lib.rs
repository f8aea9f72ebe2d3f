//! Harness for Pier's end-to-end tests: each test starts its own `pierd`
//! (release or debug binaries from this workspace's target dir) with its own
//! data root, exec root and socket in a short temp dir, and drives it with the
//! `pier` CLI, the real `docker` CLI and raw HTTP.
//!
//! Everything a test starts is stopped by pid and everything mounted under
//! its temp dir is unmounted when the [`Daemon`] guard drops, also when the
//! test panics. These tests need root and runc: they fail loudly, never skip.

pub mod hijack;
pub mod tmux;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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
                exe.parent().and_then(Path::parent).expect("target dir").to_path_buf()
            }
        };
        let b = Bins {
            pierd: dir.join("pierd"),
            pier: dir.join("pier"),
            shim: dir.join("pier-shim"),
        };
        for p in [&b.pierd, &b.pier, &b.shim] {
            assert!(
                p.exists(),
                "{} is missing: build the binaries first (`cargo build --workspace --bins`) or set PIER_BIN_DIR",
                p.display()
            );
        }
        b
    })
}

/// Panics (fails the test) unless we are root with runc installed.
pub fn require_root_and_runc() {
    // SAFETY-free: geteuid via /proc instead of libc to keep tests safe code.
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).expect("Uid line");
    let euid = uid_line.split_whitespace().nth(2).expect("euid");
    assert_eq!(euid, "0", "the end-to-end tests need root (they run real containers)");
    let runc = Command::new("runc").arg("--version").output();
    assert!(
        matches!(runc, Ok(ref o) if o.status.success()),
        "the end-to-end tests need runc on PATH (apt-get install runc)"
    );
}

/// A running `pierd` with private directories.
pub struct Daemon {
    pub root: PathBuf,
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub sock: PathBuf,
    child: Option<Child>,
    extra_args: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// Start a daemon with default options.
    pub fn start() -> Daemon {
        Self::start_with(&[])
    }

    /// Start a daemon with extra `pierd` flags.
    pub fn start_with(extra: &[&str]) -> Daemon {
        require_root_and_runc();
        let dir = tempfile::Builder::new()
            .prefix("pe")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let root = dir.path().to_path_buf();
        let mut d = Daemon {
            data_root: root.join("d"),
            exec_root: root.join("x"),
            sock: root.join("s.sock"),
            root,
            child: None,
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
            _dir: dir,
        };
        d.spawn();
        d
    }

    /// A daemon set up (its directories, `daemon.json` holding `config`)
    /// but not started: prepare what it needs (mount a small data root),
    /// then [`Daemon::start_again`].
    pub fn unstarted(config: &str, extra: &[&str]) -> Daemon {
        require_root_and_runc();
        let dir = tempfile::Builder::new()
            .prefix("pe")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let root = dir.path().to_path_buf();
        std::fs::write(root.join("daemon.json"), config).expect("write daemon.json");
        Daemon {
            data_root: root.join("d"),
            exec_root: root.join("x"),
            sock: root.join("s.sock"),
            root,
            child: None,
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
            _dir: dir,
        }
    }

    fn spawn(&mut self) {
        let config = self.root.join("daemon.json");
        if !config.exists() {
            std::fs::write(&config, "{}\n").expect("write daemon.json");
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("pierd.log"))
            .expect("open pierd log");
        let child = Command::new(&bins().pierd)
            .arg("--data-root")
            .arg(&self.data_root)
            .arg("--exec-root")
            .arg(&self.exec_root)
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .arg("--config-file")
            .arg(&config)
            .args(&self.extra_args)
            .env("PIER_SHIM", &bins().shim)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn pierd");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok((200, _)) = self.try_http("GET", "/_ping", None) {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(st)) = child.try_wait() {
                    panic!("pierd exited during start-up ({st}); log:\n{}", self.daemon_log());
                }
            }
            assert!(
                Instant::now() < deadline,
                "pierd did not answer /_ping in 20s; log:\n{}",
                self.daemon_log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The daemon's own log so far (for failure messages).
    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.root.join("pierd.log")).unwrap_or_default()
    }

    /// pid of the running pierd.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("pierd running").id()
    }

    /// SIGKILL pierd and reap it (containers and shims keep running).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM pierd and wait for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(c.id() as i32, "TERM");
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
            panic!("pierd did not exit within 15s of SIGTERM");
        }
    }

    /// Start pierd again on the same directories.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "pierd is still running");
        self.spawn();
    }

    /// `DOCKER_HOST`-style address of this daemon.
    pub fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// Run the pier CLI against this daemon.
    pub fn pier(&self, args: &[&str]) -> Output {
        self.pier_cmd(args).output().expect("run pier")
    }

    /// A `pier` command ready to run (for stdin or custom handling).
    pub fn pier_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&bins().pier);
        c.arg("-H").arg(self.host()).args(args).stdin(Stdio::null());
        c
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

    /// The `docker` or `pier` CLI, by name, pointed at this daemon.
    pub fn cli_cmd(&self, cli: &str, args: &[&str]) -> Command {
        if cli == "docker" {
            self.docker_cmd(args)
        } else {
            self.pier_cmd(args)
        }
    }

    /// Run the docker CLI and return its output.
    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_cmd(args)
            .output()
            .expect("run docker (is the docker CLI on PATH?)")
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

    /// One HTTP/1.1 request on the API socket; returns status and body
    /// (chunked bodies decoded).
    pub fn http(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, Vec<u8>) {
        let shown: String = path.chars().take(120).collect();
        self.try_http(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {shown}: {e}"))
    }

    /// Like [`Daemon::http`], returning the body as JSON.
    pub fn http_json(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, serde_json::Value) {
        let (st, b) = self.http(method, path, body);
        let v = if b.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&b).unwrap_or_else(|e| {
                panic!(
                    "{method} {path}: body is not JSON ({e}): {}",
                    String::from_utf8_lossy(&b)
                )
            })
        };
        (st, v)
    }

    fn try_http(&self, method: &str, path: &str, body: Option<&[u8]>) -> std::io::Result<(u16, Vec<u8>)> {
        let mut s = UnixStream::connect(&self.sock)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: pier\r\nConnection: close\r\n");
        if let Some(b) = body {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        // A server may answer and close before reading a huge request; what
        // it answered is still the result.
        let sent = s
            .write_all(req.as_bytes())
            .and_then(|()| body.map_or(Ok(()), |b| s.write_all(b)));
        let mut raw = Vec::new();
        if let Err(e) = s.read_to_end(&mut raw) {
            if raw.is_empty() {
                return Err(sent.err().unwrap_or(e));
            }
        }
        parse_response(&raw)
            .ok_or_else(|| std::io::Error::other(format!("bad HTTP response: {:?}", String::from_utf8_lossy(&raw))))
    }

    /// Import a busybox-static image as `tag` and return nothing; the image
    /// holds busybox with every applet linked, /etc/passwd and /etc/group.
    pub fn import_busybox(&self, tag: &str) {
        let tar = busybox_tar(&self.root.join("img"));
        let out = self.pier(&["import", tar.to_str().expect("utf-8 path"), tag]);
        assert!(
            out.status.success(),
            "pier import failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.daemon_log()
        );
    }

    /// Ids of the processes whose command line mentions this daemon's
    /// directories (shims, runtimes), excluding pierd itself.
    pub fn our_processes(&self) -> Vec<i32> {
        processes_mentioning(&self.root.to_string_lossy())
    }

    /// Mount points under this daemon's directories.
    pub fn our_mounts(&self) -> Vec<String> {
        mounts_under(&self.root.to_string_lossy())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
        let root = self.root.to_string_lossy().into_owned();
        // Shims and runtime processes started for this daemon.
        for pid in processes_mentioning(&root) {
            signal(pid, "KILL");
        }
        // Containers still known to the runtime.
        let runtime_root = self.exec_root.join("runc");
        if runtime_root.exists() {
            if let Ok(out) = Command::new("runc")
                .arg("--root")
                .arg(&runtime_root)
                .args(["list", "-q"])
                .output()
            {
                for id in String::from_utf8_lossy(&out.stdout).lines() {
                    let _ = Command::new("runc")
                        .arg("--root")
                        .arg(&runtime_root)
                        .args(["delete", "-f", id])
                        .output();
                }
            }
        }
        for m in mounts_under(&root).into_iter().rev() {
            let _ = Command::new("umount").args(["-l", &m]).output();
        }
    }
}

/// Parse a raw HTTP/1.1 response into status and (de-chunked) body.
pub fn parse_response(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = &raw[split + 4..];
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if !chunked {
        return Some((status, body.to_vec()));
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_str = std::str::from_utf8(&rest[..eol]).ok()?;
        let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Some((status, out));
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// Send `sig` (a name without SIG) to `pid` via kill(1).
pub fn signal(pid: i32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .output();
}

/// True while `/proc/<pid>` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

/// pids whose command line contains `needle`.
pub fn processes_mentioning(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut pids = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            if String::from_utf8_lossy(&cmd).contains(needle) {
                pids.push(pid);
            }
        }
    }
    pids
}

/// Mount points (from /proc/self/mountinfo) under `prefix`, in mount order.
pub fn mounts_under(prefix: &str) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|m| m.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// Build a tar of a busybox-static root filesystem under `dir` (reused if
/// already there) and return its path.
pub fn busybox_tar(dir: &Path) -> PathBuf {
    let tar = dir.join("busybox.tar");
    if tar.exists() {
        return tar;
    }
    {
        let rootfs = dir.join("rootfs");
        for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "root", "home"] {
            std::fs::create_dir_all(rootfs.join(d)).expect("mkdir rootfs");
        }
        let busybox = Path::new("/bin/busybox");
        assert!(
            busybox.exists(),
            "/bin/busybox is missing: apt-get install busybox-static"
        );
        std::fs::copy(busybox, rootfs.join("bin/busybox")).expect("copy busybox");
        let list = Command::new(busybox).arg("--list").output().expect("busybox --list");
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" {
                let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
            }
        }
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\nalice:x:1000:1000:alice:/home:/bin/sh\n",
        )
        .expect("write passwd");
        std::fs::write(
            rootfs.join("etc/group"),
            "root:x:0:\nnogroup:x:65534:\nalice:x:1000:\nstaff:x:50:alice\n",
        )
        .expect("write group");
        let st = Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .expect("run tar");
        assert!(st.success(), "tar of busybox rootfs failed");
        let _ = std::fs::remove_dir_all(&rootfs);
    }
    tar
}

/// Poll `f` every 20 ms until it returns true or `secs` pass.
pub fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// stdout of an [`Output`] as a trimmed string.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Run `cmd` with `input` fed to its stdin from a thread (so a large input
/// cannot deadlock against unread output) and return its output.
pub fn output_with_stdin(mut cmd: Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("join").expect("write stdin");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked() {
        let raw = b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(parse_response(raw), Some((404, b"hello".to_vec())));
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw), Some((200, b"abcde".to_vec())));
        assert_eq!(parse_response(b"garbage"), None);
    }
}
