//! End-to-end: attach (issue 4) with the pier CLI, the docker CLI, tmux
//! terminals and raw hijacked connections.

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use pier_testkit::process::{self, Signal};
use pier_testkit::stream::{demux, read_all};
use pier_testkit::{bins, wait_until, Daemon};

use crate::output_with_stdin;
use crate::tmux::Tmux;

/// Untrimmed stdout.
fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn docker_line(d: &Daemon, args: &str) -> String {
    format!(
        "env DOCKER_HOST={} DOCKER_CONFIG={} docker {args}",
        d.host(),
        d.root.join("docker-config").display()
    )
}

fn pier_line(d: &Daemon, args: &str) -> String {
    format!("{} -H {} {args}", bins().pier.display(), d.host())
}

fn state(d: &Daemon, name: &str) -> serde_json::Value {
    let (st, v) = d.http_json("GET", &format!("/containers/{name}/json"), None);
    assert_eq!(st, 200, "inspect {name}: {v}");
    v["State"].clone()
}

#[test]
fn foreground_run_output_and_exit_code() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let script = "echo out; echo err >&2; exit 3";
    for cli in ["docker", "pier"] {
        let args = ["run", "--rm", "busybox", "sh", "-c", script];
        let out = if cli == "docker" {
            d.docker(&args)
        } else {
            d.pier(&args)
        };
        assert_eq!(out.status.code(), Some(3), "{cli}: {out:?}");
        assert_eq!(stdout(&out), "out\n", "{cli} stdout");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n", "{cli} stderr");
    }
}

#[test]
fn piped_stdin_with_run_i() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let payload: String = (0..20000).map(|i| format!("line {i}\n")).collect();
    for cli in ["docker", "pier"] {
        let args = ["run", "-i", "--rm", "busybox", "cat"];
        let out = output_with_stdin(d.cli_cmd(cli, &args), payload.as_bytes());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{cli}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout(&out) == payload,
            "{cli}: cat returned {} bytes",
            out.stdout.len()
        );
    }
}

#[test]
fn docker_run_it_detach_and_reattach() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let t = Tmux::start(&format!(
        "{}; echo RUN-EXIT=$?",
        docker_line(&d, "run -it --name t1 busybox sh")
    ));
    t.wait_for("/ #", 20);
    t.type_text("echo hello $((6*7))");
    t.keys(&["Enter"]);
    t.wait_for("hello 42", 10);
    t.keys(&["C-p", "C-q"]);
    t.wait_for("RUN-EXIT=0", 10);
    assert_eq!(
        state(&d, "t1")["Running"],
        true,
        "detaching leaves the container running"
    );

    let t2 = Tmux::start(&format!("{}; echo ATTACH-EXIT=$?", docker_line(&d, "attach t1")));
    // docker attach prints nothing on connecting; it makes the terminal raw.
    t2.wait_raw(20);
    t2.type_text("echo again $((2+3))");
    t2.keys(&["Enter"]);
    t2.wait_for("again 5", 10);
    t2.resize(100, 20);
    assert!(
        wait_until(Duration::from_secs(10), || d
            .pier_ok(&[
                "exec",
                "t1",
                "sh",
                "-c",
                "stty size -F /dev/pts/0 || stty -F /dev/console size"
            ])
            .contains("20 100")),
        "the resize reached the container's terminal"
    );
    t2.type_text("stty size; exit 7");
    t2.keys(&["Enter"]);
    let screen = t2.wait_for("ATTACH-EXIT=7", 10);
    assert!(screen.contains("20 100"), "resize reached the terminal:\n{screen}");
    assert!(wait_until(Duration::from_secs(10), || state(&d, "t1")["Status"] == "exited"));
    assert_eq!(state(&d, "t1")["ExitCode"], 7);
}

#[test]
fn pier_run_it_restores_the_terminal_each_way() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let dir = d.root.join("tty");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let before = dir.join("before");
    let after = dir.join("after");
    let run = |how: &str, args: &str| {
        let _ = std::fs::remove_file(&after);
        let t = Tmux::start(&format!(
            "stty -g > {b}; {p}; echo PIER-EXIT=$?; stty -g > {a}; echo SAVED",
            b = before.display(),
            a = after.display(),
            p = pier_line(&d, args)
        ));
        (t, how.to_string())
    };
    let check = |how: &str| {
        let b = std::fs::read_to_string(&before).expect("before");
        let a = std::fs::read_to_string(&after).expect("after");
        assert_eq!(a, b, "terminal settings restored after {how}");
    };

    // Normal exit.
    let (t, how) = run("exit", "run -it --rm busybox sh");
    t.wait_for("/ #", 20);
    t.type_text("exit 4");
    t.keys(&["Enter"]);
    t.wait_for("PIER-EXIT=4", 10);
    t.wait_for("SAVED", 5);
    check(&how);

    // Detach keys.
    let (t, how) = run("detach", "run -it --name det busybox sh");
    t.wait_for("/ #", 20);
    t.keys(&["C-p", "C-q"]);
    t.wait_for("PIER-EXIT=0", 10);
    t.wait_for("SAVED", 5);
    check(&how);
    assert_eq!(state(&d, "det")["Running"], true);

    // A signal to the CLI.
    let (t, how) = run("signal", "run -it --name sig busybox sh");
    t.wait_for("/ #", 20);
    let pid = process::processes_mentioning("--name\u{0}sig\u{0}")
        .into_iter()
        .find(|p| {
            std::fs::read_link(format!("/proc/{p}/exe"))
                .map(|e| e == bins().pier)
                .unwrap_or(false)
        })
        .expect("pier run process");
    process::signal(pid, Signal::SIGTERM);
    t.wait_for("PIER-EXIT=", 10);
    t.wait_for("SAVED", 5);
    check(&how);
    d.pier_ok(&["rm", "-f", "det", "sig"]);
}

#[test]
fn docker_attach_non_tty_and_stopped() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d
        .docker_ok(&[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "sleep 1; for i in 1 2 3; do echo tick $i; done; echo oops >&2; exit 5",
        ])
        .trim()
        .to_string();
    let out = d.docker(&["attach", &id]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_eq!(stdout(&out), "tick 1\ntick 2\ntick 3\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    for cli in ["docker", "pier"] {
        let out = if cli == "docker" {
            d.docker(&["attach", &id])
        } else {
            d.pier(&["attach", &id])
        };
        assert!(!out.status.success(), "{cli} attach to a stopped container");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("You cannot attach to a stopped container, start it first"),
            "{cli}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn docker_start_ai() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.docker_ok(&[
        "create",
        "-i",
        "--name",
        "s1",
        "busybox",
        "sh",
        "-c",
        "read l; echo got $l; exit 2",
    ]);
    for cli in ["docker", "pier"] {
        let args = ["start", "-ai", "s1"];
        let mut cmd = if cli == "docker" {
            d.docker_cmd(&args)
        } else {
            d.pier_cmd(&args)
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child.stdin.take().expect("stdin").write_all(b"hello\n").expect("write");
        let out = child.wait_with_output().expect("wait");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{cli}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout(&out), "got hello\n", "{cli}");
    }
    // A terminal, in tmux.
    d.docker_ok(&["create", "-it", "--name", "s2", "busybox", "sh"]);
    let t = Tmux::start(&format!("{}; echo START-EXIT=$?", docker_line(&d, "start -ai s2")));
    t.wait_for("/ #", 20);
    t.type_text("echo tty-$((40+2)); exit 3");
    t.keys(&["Enter"]);
    t.wait_for("tty-42", 10);
    t.wait_for("START-EXIT=3", 10);
}

#[test]
fn three_attached_clients_see_identical_output_from_the_start() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let body = br#"{"Image":"busybox","Cmd":["sh","-c","seq 1 30000; echo done >&2"]}"#;
    let (st, v) = d.http_json("POST", "/containers/create", Some(body));
    assert_eq!(st, 201, "{v}");
    let id = v["Id"].as_str().expect("id").to_string();
    // Attached before the start: nothing may be lost.
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let h = d.hijack(
                "POST",
                &format!("/v1.45/containers/{id}/attach?stream=1&stdout=1&stderr=1"),
                None,
            );
            assert_eq!(h.status, 101, "{:?}", h.headers);
            assert_eq!(
                h.headers.get("Content-Type"),
                Some("application/vnd.docker.multiplexed-stream")
            );
            h
        })
        .collect();
    let (st, _) = d.http("POST", &format!("/containers/{id}/start"), None);
    assert_eq!(st, 204);
    let outputs: Vec<Vec<u8>> = clients
        .into_iter()
        .map(|h| read_all(h, Duration::from_secs(30)))
        .collect();
    let expected: String = (1..=30000).map(|i| format!("{i}\n")).collect();
    let (out, err) = demux(&outputs[0]);
    assert!(out == expected.as_bytes(), "client 0 got {} stdout bytes", out.len());
    assert_eq!(err, b"done\n");
    assert_eq!(outputs[1], outputs[0], "client 1 differs");
    assert_eq!(outputs[2], outputs[0], "client 2 differs");
}

#[test]
fn logs_replay_then_live_without_gap_or_duplicate() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d
        .pier_ok(&[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "i=0; while [ $i -lt 3000 ]; do echo $i; i=$((i+1)); [ $((i % 50)) = 0 ] && usleep 20000; done",
        ])
        .trim()
        .to_string();
    // Attach once part of the output is in the log, so both the replay and
    // the live part are exercised.
    assert!(
        wait_until(Duration::from_secs(10), || d.log_lines(&id) >= 100),
        "the container started writing"
    );
    let h = d.hijack(
        "POST",
        &format!("/containers/{id}/attach?stream=1&logs=1&stdout=1&stderr=1"),
        None,
    );
    assert_eq!(h.status, 101, "{:?}", h.headers);
    let (out, _) = demux(&read_all(h, Duration::from_secs(60)));
    let text = String::from_utf8_lossy(&out);
    let nums: Vec<u32> = text.lines().map(|l| l.parse().expect("number")).collect();
    let expected: Vec<u32> = (0..3000).collect();
    if nums != expected {
        let first_bad = nums.iter().zip(&expected).position(|(a, b)| a != b);
        panic!(
            "replay seam broken: {} lines, first mismatch at {first_bad:?}",
            nums.len()
        );
    }
}

#[test]
fn api_details_upgrade_raw_and_resize() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d
        .pier_ok(&[
            "run",
            "-d",
            "-t",
            "busybox",
            "sh",
            "-c",
            "sleep 1; echo ready; sleep 100",
        ])
        .trim()
        .to_string();
    // TTY: raw stream.
    let h = d.hijack("POST", &format!("/containers/{id}/attach?stream=1&stdout=1"), None);
    assert_eq!(h.status, 101);
    assert_eq!(h.headers.get("Upgrade"), Some("tcp"), "{:?}", h.headers);
    assert_eq!(h.headers.get("Content-Type"), Some("application/vnd.docker.raw-stream"));
    // Resize and read it back from inside.
    let (st, _) = d.http("POST", &format!("/containers/{id}/resize?h=33&w=77"), None);
    assert_eq!(st, 200);
    let out = d.pier_ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "sleep 0.2; stty size -F /dev/pts/0 || stty -F /dev/console size",
    ]);
    assert!(out.contains("33 77"), "{out:?}");
    let (st, _) = d.http("POST", &format!("/containers/{id}/resize?h=x&w=1"), None);
    assert_eq!(st, 400);
    drop(h);
    // Old API versions get raw-stream even without a terminal.
    let id2 = d.pier_ok(&["run", "-d", "busybox", "sleep", "100"]).trim().to_string();
    let h = d.hijack(
        "POST",
        &format!("/v1.40/containers/{id2}/attach?stream=1&stdout=1"),
        None,
    );
    assert_eq!(h.headers.get("Content-Type"), Some("application/vnd.docker.raw-stream"));
    let t = Instant::now();
    d.pier_ok(&["rm", "-f", &id, &id2]);
    // The session ends when the container does.
    let rest = read_all(h, Duration::from_secs(20));
    assert!(rest.is_empty());
    assert!(t.elapsed() < Duration::from_secs(20));
    let mut s = std::os::unix::net::UnixStream::connect(&d.sock).expect("connect");
    s.write_all(b"POST /containers/nope/attach?stream=1 HTTP/1.1\r\nHost: x\r\nUpgrade: tcp\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n")
        .expect("send");
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 404"));
}

/// True when the peer closed the connection within `secs`.
fn closed_within(s: &mut std::os::unix::net::UnixStream, secs: u64) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn daemon_detach_keys_from_config_and_request() {
    let mut d = Daemon::start();
    d.stop();
    std::fs::write(d.root.join("daemon.json"), r#"{"detach-keys":"ctrl-a,a"}"#).expect("config");
    d.start_again();
    d.import_busybox("busybox");
    let id = d.pier_ok(&["run", "-dit", "busybox", "sh"]).trim().to_string();
    let path = format!("/containers/{id}/attach?stream=1&stdin=1&stdout=1");

    let mut h = d.hijack("POST", &path, None);
    let mut s = h.try_clone_stream().expect("clone stream");
    h.write_all(b"echo x\n\x10\x11").expect("write");
    assert!(
        !closed_within(&mut s, 1),
        "ctrl-p ctrl-q is not the configured sequence"
    );
    h.write_all(b"\x01a").expect("write");
    assert!(closed_within(&mut s, 10), "the daemon's detach keys end the session");
    assert_eq!(state(&d, &id)["Running"], true);

    let mut h = d.hijack("POST", &format!("{path}&detachKeys=ctrl-x,x"), None);
    let mut s = h.try_clone_stream().expect("clone stream");
    h.write_all(b"\x18").expect("write");
    // Time is the point here: the two keys arrive in separate reads.
    std::thread::sleep(Duration::from_millis(100));
    h.write_all(b"x").expect("write");
    assert!(
        closed_within(&mut s, 10),
        "the request's detach keys (split across writes)"
    );
    assert_eq!(state(&d, &id)["Running"], true);
    d.pier_ok(&["rm", "-f", &id]);
}

/// A minimal websocket client: handshake, masked client frames, and
/// reading server frames (opcode, payload).
struct Ws {
    s: std::os::unix::net::UnixStream,
    buf: Vec<u8>,
}

impl Ws {
    fn connect(d: &Daemon, path: &str) -> Ws {
        let mut s = std::os::unix::net::UnixStream::connect(&d.sock).expect("connect");
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: pier\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        s.write_all(req.as_bytes()).expect("send");
        s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let end = loop {
            let n = s.read(&mut chunk).expect("read head");
            assert!(n > 0, "closed before the head");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "accept key: {head}");
        Ws {
            s,
            buf: buf[end..].to_vec(),
        }
    }

    fn send(&mut self, payload: &[u8]) {
        assert!(payload.len() < 126);
        let mask = [1u8, 2, 3, 4];
        let mut f = vec![0x82, 0x80 | payload.len() as u8];
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.s.write_all(&f).expect("send frame");
    }

    fn fill(&mut self, n: usize) {
        let mut chunk = [0u8; 4096];
        while self.buf.len() < n {
            let got = self.s.read(&mut chunk).expect("read frame");
            assert!(got > 0, "closed mid-frame");
            self.buf.extend_from_slice(&chunk[..got]);
        }
    }

    fn recv(&mut self) -> (u8, Vec<u8>) {
        self.fill(2);
        let opcode = self.buf[0] & 0x0f;
        let (len, off) = match self.buf[1] & 0x7f {
            126 => {
                self.fill(4);
                (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
            }
            127 => {
                self.fill(10);
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.buf[2..10]);
                (u64::from_be_bytes(b) as usize, 10)
            }
            n => (n as usize, 2),
        };
        self.fill(off + len);
        let payload = self.buf[off..off + len].to_vec();
        self.buf.drain(..off + len);
        (opcode, payload)
    }
}

#[test]
fn websocket_attach() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = d.pier_ok(&["run", "-di", "busybox", "cat"]).trim().to_string();
    for (version, opcode) in [("v1.45", 2u8), ("v1.41", 1)] {
        let mut ws = Ws::connect(
            &d,
            &format!("/{version}/containers/{id}/attach/ws?stream=1&stdin=1&stdout=1"),
        );
        ws.send(format!("hello {version}\n").as_bytes());
        let mut got = Vec::new();
        while !got.ends_with(b"\n") {
            let (op, payload) = ws.recv();
            assert_eq!(op, opcode, "{version}: message type");
            got.extend_from_slice(&payload);
        }
        assert_eq!(String::from_utf8_lossy(&got), format!("hello {version}\n"));
    }
    d.pier_ok(&["rm", "-f", &id]);
}

#[test]
fn a_stalled_client_neither_slows_the_container_nor_loses_output() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let script = "yes abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqr \
                  | head -c 200000000; echo END";
    let timed_run = |stalled: bool| {
        // An unrotated log holds all 200 MB for the lagging client.
        let body = serde_json::json!({
            "Image": "busybox",
            "Cmd": ["sh", "-c", script],
            "HostConfig": {"LogConfig": {"Type": "json-file", "Config": {"max-size": "-1"}}},
        });
        let (st, v) = d.http_json("POST", "/containers/create", Some(body.to_string().as_bytes()));
        assert_eq!(st, 201, "{v}");
        let id = v["Id"].as_str().expect("id").to_string();
        let client = stalled.then(|| {
            let h = d.hijack(
                "POST",
                &format!("/v1.45/containers/{id}/attach?stream=1&stdout=1&stderr=1"),
                None,
            );
            assert_eq!(h.status, 101);
            h
        });
        let t = Instant::now();
        d.pier_ok(&["start", &id]);
        assert_eq!(d.pier_ok(&["wait", &id]).trim(), "0");
        (t.elapsed(), client)
    };
    let (alone, _) = timed_run(false);
    let (with_client, client) = timed_run(true);
    assert!(
        with_client < alone * 2 + Duration::from_secs(5),
        "a stalled client slowed the container: {with_client:?} vs {alone:?} alone"
    );
    // Resumed, the client gets every byte.
    let (mut pending, mut stream) = client.expect("client").into_parts();
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let (mut stdout_bytes, mut tail) = (0usize, Vec::new());
    let mut buf = vec![0u8; 1 << 20];
    loop {
        while pending.len() >= 8 {
            let len = u32::from_be_bytes([pending[4], pending[5], pending[6], pending[7]]) as usize;
            if pending.len() < 8 + len {
                break;
            }
            assert_eq!(pending[0], 1, "stdout frames only");
            stdout_bytes += len;
            tail.extend_from_slice(&pending[8..8 + len]);
            let keep = tail.len().saturating_sub(16);
            tail.drain(..keep);
            pending.drain(..8 + len);
        }
        let n = stream.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&buf[..n]);
    }
    assert!(pending.is_empty(), "a partial frame at the end");
    assert_eq!(stdout_bytes, 200_000_004, "every byte arrives");
    assert!(tail.ends_with(b"END\n"), "{:?}", String::from_utf8_lossy(&tail));
}

#[test]
fn custom_detach_keys_replace_the_default() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    for (cli, line) in [
        (
            "pier",
            pier_line(&d, "run -it --detach-keys ctrl-x,x --name cx1 busybox sh"),
        ),
        (
            "docker",
            docker_line(&d, "run -it --detach-keys ctrl-x,x --name cx2 busybox sh"),
        ),
    ] {
        let t = Tmux::start(&format!("{line}; echo CLI-EXIT=$?"));
        t.wait_for("/ #", 20);
        t.keys(&["C-p", "C-q"]);
        t.type_text("echo still-$((1+1))");
        t.keys(&["Enter"]);
        t.wait_for("still-2", 10);
        t.keys(&["C-x", "x"]);
        t.wait_for("CLI-EXIT=0", 10);
        let name = if cli == "pier" { "cx1" } else { "cx2" };
        assert_eq!(state(&d, name)["Running"], true, "{cli}");
    }
}
