//! Attach and exec streams, spoken directly (frames of `pier-shim-proto`).

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use pier_shim_proto::{
    frame, AttachRequest, ErrorCode, ExecInfo, ExecRequest, Request, Response, StreamEnd, StreamKind,
};

use pier_testkit::process::alive;
use pier_testkit::{wait_for, wait_until};

use super::{call, created, Fixture, Opts};

/// Everything a stream carried.
#[derive(Debug, Default)]
struct Got {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    notices: Vec<String>,
    end: Option<StreamEnd>,
}

/// Read frames until `End` (or EOF).
fn read_stream(s: &mut UnixStream) -> Got {
    let mut got = Got::default();
    loop {
        let mut header = [0u8; 8];
        match s.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return got,
            Err(e) => panic!("read frame header: {e}"),
        }
        assert_eq!(&header[1..4], &[0, 0, 0], "frame header {header:?}");
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).expect("read frame body");
        match StreamKind::from_byte(header[0]).expect("known frame kind") {
            StreamKind::Stdout => got.stdout.extend_from_slice(&body),
            StreamKind::Stderr => got.stderr.extend_from_slice(&body),
            StreamKind::Notice => got.notices.push(String::from_utf8_lossy(&body).into_owned()),
            StreamKind::End => {
                got.end = Some(serde_json::from_slice(&body).expect("stream end json"));
                let mut rest = Vec::new();
                match s.read_to_end(&mut rest) {
                    Ok(_) => assert!(rest.is_empty(), "bytes after End: {}", rest.len()),
                    // Input the shim never read when it closed (it ended first).
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                    Err(e) => panic!("read after end: {e}"),
                }
                return got;
            }
        }
    }
}

fn attach_req(stdin: bool, logs: bool) -> AttachRequest {
    AttachRequest {
        stdin,
        stdout: true,
        stderr: true,
        logs,
    }
}

fn attach(fx: &Fixture, req: AttachRequest) -> UnixStream {
    let mut s = fx.connect();
    s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    assert_eq!(call(&mut s, &Request::Attach(req)), Response::Ok);
    s
}

fn exit_code(got: &Got) -> Option<i32> {
    got.end.as_ref().and_then(|e| e.exit_code)
}

fn start(fx: &Fixture) {
    let mut c = fx.connect();
    assert_eq!(call(&mut c, &Request::Start), Response::Ok);
}

/// Write an OCI process file for an exec and return the request.
fn exec_req(fx: &Fixture, n: u32, args: &[&str], tty: bool, stdin: bool) -> ExecRequest {
    exec_req_sized(fx, n, args, tty, stdin, None)
}

/// As pierd does: the initial size goes into the process (the runtime sizes
/// the terminal before the process runs) and into the request.
fn exec_req_sized(
    fx: &Fixture,
    n: u32,
    args: &[&str],
    tty: bool,
    stdin: bool,
    console_size: Option<(u16, u16)>,
) -> ExecRequest {
    let process = fx.cfg.bundle.join(format!("exec-{n}.json"));
    let mut body = serde_json::json!({
        "terminal": tty,
        "user": {"uid": 0, "gid": 0},
        "args": args,
        "env": ["PATH=/bin"],
        "cwd": "/",
        "noNewPrivileges": true
    });
    if let Some((h, w)) = console_size {
        body["consoleSize"] = serde_json::json!({"height": h, "width": w});
    }
    std::fs::write(&process, serde_json::to_vec(&body).expect("encode process")).expect("write process");
    ExecRequest {
        exec_id: format!("e{n}"),
        process,
        tty,
        stdin,
        stdout: true,
        stderr: true,
        detach: false,
        console_size,
    }
}

/// Send an exec; its stream on success.
fn exec(fx: &Fixture, req: ExecRequest) -> Result<(UnixStream, i32), String> {
    exec_coded(fx, req).map_err(|(_, message)| message)
}

/// Send an exec; its stream on success, the error's code and message else.
fn exec_coded(fx: &Fixture, req: ExecRequest) -> Result<(UnixStream, i32), (ErrorCode, String)> {
    let mut s = fx.connect();
    match call(&mut s, &Request::Exec(req)) {
        Response::ExecStarted { pid } => Ok((s, pid)),
        Response::Error { message, code } => Err((code, message)),
        other => panic!("exec: {other:?}"),
    }
}

fn exec_state(fx: &Fixture, id: &str) -> ExecInfo {
    let mut c = fx.connect();
    match call(&mut c, &Request::ExecState { exec_id: id.to_owned() }) {
        Response::ExecState(info) => info,
        other => panic!("exec state: {other:?}"),
    }
}

fn running(args: &[&str]) -> Fixture {
    let mut fx = Fixture::new(args);
    created(&mut fx);
    start(&fx);
    fx
}

fn kill_and_wait(fx: &Fixture) {
    let mut c = fx.connect();
    assert_eq!(call(&mut c, &Request::Kill { signal: 9, all: false }), Response::Ok);
    assert!(matches!(call(&mut c, &Request::Wait), Response::Exited(_)));
}

#[test]
fn three_attachers_see_identical_live_output() {
    let mut fx = Fixture::new(&["sh", "-c", "seq 1 200000; echo err >&2; exit 7"]);
    created(&mut fx);
    let mut streams: Vec<UnixStream> = (0..3).map(|_| attach(&fx, attach_req(false, false))).collect();
    start(&fx);
    let got: Vec<Got> = streams.iter_mut().map(read_stream).collect();
    let expected: Vec<u8> = (1..=200000).flat_map(|i| format!("{i}\n").into_bytes()).collect();
    for g in &got {
        assert_eq!(g.stdout.len(), expected.len());
        assert!(g.stdout == expected, "attach output differs from seq's");
        assert_eq!(g.stderr, b"err\n");
        assert_eq!(exit_code(g), Some(7));
        assert!(g.notices.is_empty(), "{:?}", g.notices);
    }
}

#[test]
fn logs_replay_has_no_gap_or_duplicate_at_the_seam() {
    // Lines keep coming while the client attaches; the last one has no
    // newline (it sits in the writer's pending line until exit).
    let fx = running(&["sh", "-c", "seq 1 300000; sleep 0.3; seq 300001 400000; printf tail"]);
    wait_for("the first lines in the log", Duration::from_secs(10), || {
        std::fs::metadata(&fx.cfg.log.path).is_ok_and(|m| m.len() > 0)
    });
    let mut s = attach(&fx, attach_req(false, true));
    let got = read_stream(&mut s);
    let mut expected: Vec<u8> = (1..=400000).flat_map(|i| format!("{i}\n").into_bytes()).collect();
    expected.extend_from_slice(b"tail");
    assert_eq!(got.stdout.len(), expected.len(), "byte count");
    assert!(got.stdout == expected, "replay + live must be the exact output");
    assert_eq!(exit_code(&got), Some(0));
}

#[test]
fn stdin_reaches_the_container_and_stdin_once_closes_it() {
    let mut fx = Fixture::with(
        &["sh", "-c", "cat; echo cat-done"],
        Opts {
            open_stdin: true,
            stdin_once: true,
            ..Opts::default()
        },
    );
    created(&mut fx);
    let mut s = attach(&fx, attach_req(true, false));
    // A second client writes too: bytes interleave in arrival order.
    let mut other = attach(&fx, attach_req(true, false));
    start(&fx);
    s.write_all(b"hello ").expect("write stdin");
    // Arrival order between two clients is made by time alone: the first
    // write has nothing observable until the line is complete.
    std::thread::sleep(Duration::from_millis(100));
    other.write_all(b"from two\n").expect("write stdin");
    wait_for("the whole line logged", Duration::from_secs(10), || {
        std::fs::read_to_string(&fx.cfg.log.path).is_ok_and(|l| l.contains("hello from two"))
    });
    s.shutdown(Shutdown::Write).expect("half-close");
    let got = read_stream(&mut s);
    assert_eq!(String::from_utf8_lossy(&got.stdout), "hello from two\ncat-done\n");
    assert_eq!(exit_code(&got), Some(0));
    let got2 = read_stream(&mut other);
    assert_eq!(got2.stdout, got.stdout);
}

#[test]
fn stdin_is_ignored_without_open_stdin() {
    let mut fx = Fixture::new(&["sh", "-c", "cat; echo done"]);
    created(&mut fx);
    let mut s = attach(&fx, attach_req(true, false));
    start(&fx);
    // cat reads /dev/null and the container may be gone (its streams
    // closed, so the write fails with EPIPE) before these arrive: either
    // way the bytes must not reach it.
    let _ = s.write_all(b"ignored\n");
    let _ = s.shutdown(Shutdown::Write);
    let got = read_stream(&mut s);
    assert_eq!(got.stdout, b"done\n");
}

// `seq -w`: 8 bytes a line, 24 MB: far beyond the 2 MiB a stream may lag
// before it replays from the log.
const BIG_LINES: u32 = 3_000_000;

/// Bytes `seq -w 1 BIG_LINES` writes.
fn big_bytes() -> u64 {
    u64::from(BIG_LINES) * (BIG_LINES.to_string().len() as u64 + 1)
}

fn big_fixture(driver: &'static str) -> Fixture {
    let last = BIG_LINES.to_string();
    let mut fx = Fixture::with(
        &["seq", "-w", "1", &last],
        Opts {
            log_driver: driver,
            ..Opts::default()
        },
    );
    created(&mut fx);
    fx
}

/// Start and time until the container has exited (the exit record).
fn run_timed(fx: &Fixture) -> Duration {
    let mut c = fx.connect();
    c.set_read_timeout(Some(Duration::from_secs(300))).expect("timeout");
    let t = Instant::now();
    assert_eq!(call(&mut c, &Request::Start), Response::Ok);
    wait_for("exit record", Duration::from_secs(300), || fx.cfg.exit_path.exists());
    t.elapsed()
}

fn check_seq(out: &[u8]) {
    let width = BIG_LINES.to_string().len();
    assert_eq!(out.len() as u64, big_bytes(), "every byte arrives");
    for (i, line) in out.chunks(width + 1).enumerate() {
        let want = format!("{:0width$}\n", i + 1);
        assert!(line == want.as_bytes(), "line {i}: {:?}", String::from_utf8_lossy(line));
    }
}

#[test]
fn a_stalled_attacher_does_not_slow_the_container_and_loses_nothing() {
    let alone = big_fixture("json-file");
    let t_alone = run_timed(&alone);
    drop(alone);

    let fx = big_fixture("json-file");
    let mut s = attach(&fx, attach_req(false, false));
    let t_stalled = run_timed(&fx);
    eprintln!("container alone {t_alone:?}, with a stalled attacher {t_stalled:?}");
    assert!(
        t_stalled.as_secs_f64() < t_alone.as_secs_f64() * 1.5 + 1.0,
        "stalled client slowed the container: {t_stalled:?} vs {t_alone:?}"
    );
    let shim_rss = rss_kib(fx.shim_pid.expect("shim pid"));
    assert!(shim_rss < 16 * 1024, "shim RSS {shim_rss} KiB while a client lags");
    let got = read_stream(&mut s);
    assert!(got.notices.is_empty(), "{:?}", got.notices);
    check_seq(&got.stdout);
    assert_eq!(exit_code(&got), Some(0));
}

#[test]
fn a_lagging_client_is_told_what_it_lost_without_a_log() {
    let fx = big_fixture("none");
    let mut s = attach(&fx, attach_req(false, false));
    run_timed(&fx);
    let got = read_stream(&mut s);
    assert_eq!(exit_code(&got), Some(0));
    assert!(!got.notices.is_empty(), "a notice of lost output");
    let lost: u64 = got
        .notices
        .iter()
        .filter_map(|n| n.split("lost ").nth(1)?.split(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(got.stdout.len() as u64 + lost, big_bytes(), "received + lost = written");
}

fn rss_kib(pid: i32) -> u64 {
    status_kib(pid, "VmRSS:")
}

fn status_kib(pid: i32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{key} in /proc/{pid}/status"))
}

#[test]
fn exec_output_exit_code_and_state() {
    let fx = running(&["sleep", "1000"]);
    let (mut s, pid) = exec(
        &fx,
        exec_req(&fx, 1, &["sh", "-c", "echo out; echo err >&2; exit 5"], false, false),
    )
    .expect("exec starts");
    assert!(pid > 0);
    let got = read_stream(&mut s);
    assert_eq!(
        (got.stdout.as_slice(), got.stderr.as_slice()),
        (&b"out\n"[..], &b"err\n"[..]),
        "shim log: {}",
        fx.shim_log()
    );
    assert_eq!(exit_code(&got), Some(5));
    assert_eq!(
        exec_state(&fx, "e1"),
        ExecInfo {
            running: false,
            pid,
            exit_code: Some(5)
        }
    );
    assert!(fx.log_lines().is_empty(), "exec output stays out of the container log");
    // Detached: reaped and recorded, output discarded.
    let mut d = exec_req(&fx, 2, &["sh", "-c", "echo gone; exit 3"], false, false);
    d.detach = true;
    let (_, _) = exec(&fx, d).expect("detached exec");
    wait_for("detached exec exit", Duration::from_secs(10), || {
        exec_state(&fx, "e2").exit_code == Some(3)
    });
    kill_and_wait(&fx);
}

#[test]
fn exec_with_stdin() {
    let fx = running(&["sleep", "1000"]);
    let (mut s, _) = exec(&fx, exec_req(&fx, 1, &["sh", "-c", "cat; echo eof"], false, true)).expect("exec");
    s.write_all(b"piped in\n").expect("write");
    s.shutdown(Shutdown::Write).expect("half-close");
    let got = read_stream(&mut s);
    assert_eq!(String::from_utf8_lossy(&got.stdout), "piped in\neof\n");
    assert_eq!(exit_code(&got), Some(0));
    kill_and_wait(&fx);
}

#[test]
fn exec_ends_when_the_process_exits_even_with_a_background_child() {
    let fx = running(&["sleep", "1000"]);
    let t = Instant::now();
    let (mut s, _) = exec(
        &fx,
        exec_req(&fx, 1, &["sh", "-c", "echo before; sleep 100 &"], false, false),
    )
    .expect("exec");
    let got = read_stream(&mut s);
    assert!(t.elapsed() < Duration::from_secs(3), "took {:?}", t.elapsed());
    assert_eq!(got.stdout, b"before\n");
    assert_eq!(exit_code(&got), Some(0));
    kill_and_wait(&fx);
}

#[test]
fn exec_of_a_missing_binary_fails_with_the_runtime_message() {
    let fx = running(&["sleep", "1000"]);
    let (code, err) = exec_coded(&fx, exec_req(&fx, 1, &["nope"], false, false)).expect_err("exec must fail");
    eprintln!("missing binary: {err}");
    assert_eq!(code, ErrorCode::NotFound, "{err}");
    assert!(
        err.contains("executable file not found") && err.contains("nope"),
        "message: {err}"
    );
    let mut c = fx.connect();
    assert!(matches!(
        call(&mut c, &Request::ExecState { exec_id: "e1".into() }),
        Response::Error { .. }
    ));
    let (code, err) = exec_coded(&fx, exec_req(&fx, 2, &["/proc"], false, false)).expect_err("not executable");
    eprintln!("not executable: {err}");
    assert_eq!(code, ErrorCode::PermissionDenied, "{err}");
    assert!(
        err.contains("permission denied") || err.contains("/proc"),
        "message: {err}"
    );
    kill_and_wait(&fx);
}

#[test]
fn many_execs_leave_no_zombies_and_die_with_init() {
    let fx = running(&["sleep", "1000"]);
    let shim = fx.shim_pid.expect("shim pid");
    let mut pids = Vec::new();
    let mut streams = Vec::new();
    for n in 0..8 {
        let (s, pid) = exec(
            &fx,
            exec_req(&fx, n, &["sh", "-c", "sleep 0.2 & echo hi"], false, false),
        )
        .expect("exec");
        pids.push(pid);
        streams.push(s);
    }
    for s in &mut streams {
        let got = read_stream(s);
        assert_eq!(got.stdout, b"hi\n");
        assert_eq!(exit_code(&got), Some(0));
    }
    wait_for("the execs reaped", Duration::from_secs(10), || {
        pids.iter()
            .all(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
            && zombie_children(shim).is_empty()
    });
    // A long exec ends with an exit code when the container's init dies.
    let (mut s, _) = exec(&fx, exec_req(&fx, 100, &["sleep", "100"], false, false)).expect("exec");
    kill_and_wait(&fx);
    let got = read_stream(&mut s);
    assert_eq!(exit_code(&got), Some(137));
    wait_for("shim exit", Duration::from_secs(10), || !alive(shim));
}

fn zombie_children(parent: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("list /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z") && fields.get(1) == Some(&parent.to_string().as_str()) {
            out.push(pid);
        }
    }
    out
}

fn tty_fixture(args: &[&str]) -> Fixture {
    let mut fx = Fixture::with(
        args,
        Opts {
            tty: true,
            open_stdin: true,
            ..Opts::default()
        },
    );
    created(&mut fx);
    fx
}

#[test]
fn tty_attach_with_input_and_resize() {
    let fx = tty_fixture(&["sh"]);
    let mut c = fx.connect();
    assert_eq!(
        call(
            &mut c,
            &Request::Resize {
                exec_id: None,
                height: 33,
                width: 101
            }
        ),
        Response::Ok
    );
    let mut s = attach(&fx, attach_req(true, false));
    start(&fx);
    s.write_all(b"stty size; exit 3\n").expect("type");
    let got = read_stream(&mut s);
    let text = String::from_utf8_lossy(&got.stdout);
    assert!(text.contains("33 101"), "terminal output: {text:?}");
    assert!(got.stderr.is_empty());
    assert_eq!(exit_code(&got), Some(3));
}

#[test]
fn exec_with_a_terminal() {
    let fx = tty_fixture(&["sleep", "1000"]);
    start(&fx);
    let req = exec_req_sized(
        &fx,
        1,
        &["sh", "-c", "stty size; echo tty-ok; exit 4"],
        true,
        false,
        Some((20, 70)),
    );
    let (mut s, _) = exec(&fx, req).expect("tty exec");
    let got = read_stream(&mut s);
    let text = String::from_utf8_lossy(&got.stdout);
    assert!(
        text.contains("20 70") && text.contains("tty-ok\r\n"),
        "terminal output: {text:?}"
    );
    assert_eq!(exit_code(&got), Some(4));
    // Interactive: input through the terminal.
    let (mut s, _) = exec(&fx, exec_req(&fx, 2, &["sh"], true, true)).expect("tty exec");
    s.write_all(b"echo typed-$((6*7)); exit\n").expect("type");
    let got = read_stream(&mut s);
    assert!(String::from_utf8_lossy(&got.stdout).contains("typed-42"));
    assert_eq!(exit_code(&got), Some(0));
    kill_and_wait(&fx);
}

#[test]
fn attaching_to_an_exited_container_is_refused() {
    let mut fx = Fixture::new(&["true"]);
    created(&mut fx);
    let mut c = fx.connect();
    assert_eq!(call(&mut c, &Request::Start), Response::Ok);
    assert!(matches!(call(&mut c, &Request::Wait), Response::Exited(_)));
    assert!(matches!(
        call(&mut c, &Request::Attach(attach_req(false, false))),
        Response::Error { .. }
    ));
    let _ = frame::encode(&Request::CloseStdin);
}

/// Prints the attach throughput (non-TTY, the log written too); the bench
/// measures it properly. Asserts only a floor a debug build meets.
#[test]
fn attach_throughput() {
    const BYTES: u64 = 500 * 1024 * 1024;
    // busybox's `yes | head` tops out near 230 MB/s here; `cat` of a file
    // splices at several GB/s, so the shim is what is measured.
    let mut fx = Fixture::new(&["cat", "/big"]);
    let mut line = vec![b'x'; 1023];
    line.push(b'\n');
    let big = line.repeat((BYTES / 1024) as usize);
    std::fs::write(fx.cfg.bundle.join("rootfs/big"), &big).expect("write /big");
    drop(big);
    created(&mut fx);
    if std::env::var_os("PIER_NO_ATTACH").is_some() {
        let t = run_timed(&fx);
        eprintln!("log only: {t:?}");
        return;
    }
    let mut s = attach(&fx, attach_req(false, false));
    let t = Instant::now();
    start(&fx);
    let mut total = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    let mut notices = 0;
    loop {
        let mut header = [0u8; 8];
        s.read_exact(&mut header).expect("header");
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let mut left = len;
        while left > 0 {
            let n = left.min(buf.len());
            s.read_exact(&mut buf[..n]).expect("body");
            left -= n;
        }
        match StreamKind::from_byte(header[0]) {
            Some(StreamKind::Stdout) => total += len as u64,
            Some(StreamKind::End) => break,
            Some(StreamKind::Notice) => notices += 1,
            _ => {}
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let rate = total as f64 / secs / 1e6;
    let log = fx.shim_log();
    eprintln!(
        "attach: {total} bytes in {secs:.2}s = {rate:.0} MB/s ({notices} notices, fell behind {} times)",
        log.matches("fell behind").count()
    );
    assert_eq!(total, BYTES);
    assert!(rate > 30.0, "attach throughput {rate:.0} MB/s");
}

fn pss_kib(pid: i32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).expect("smaps_rollup");
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("Pss")
}

/// Idle memory, before and after streams came and went. Budget for the
/// release build: 3 MiB RSS, of it 768 KiB anonymous (~500 measured) (the rest is the
/// binary and libc, shared between shims; one shim alone shows ~1.3 MiB
/// PSS, 640 KiB of it the shim's own text). A debug build gets 3x.
#[test]
fn memory_stays_lean_around_streams() {
    let fx = running(&["sh", "-c", "seq 1 100000; exec sleep 1000"]);
    let shim = fx.shim_pid.expect("shim pid");
    let init = fx.init_pid.expect("init pid");
    wait_for("seq done and sleep exec'd", Duration::from_secs(10), || {
        std::fs::read_to_string(format!("/proc/{init}/comm")).is_ok_and(|c| c.trim() == "sleep")
    });
    let idle = (rss_kib(shim), pss_kib(shim));
    let s = attach(&fx, attach_req(false, true));
    let (mut e, _) = exec(&fx, exec_req(&fx, 1, &["seq", "1", "100000"], false, false)).expect("exec");
    let got = read_stream(&mut e);
    assert_eq!(exit_code(&got), Some(0));
    drop(s.try_clone());
    s.shutdown(Shutdown::Both).expect("detach");
    drop(s);
    // The read buffer's pages are released after a second without output.
    let factor = if cfg!(debug_assertions) { 3 } else { 1 };
    wait_until(Duration::from_secs(5), || {
        rss_kib(shim) <= 3 * 1024 * factor && status_kib(shim, "RssAnon:") <= 768 * factor
    });
    let after = (rss_kib(shim), pss_kib(shim));
    eprintln!("shim idle: rss/pss {idle:?} KiB; after an attach and an exec: {after:?} KiB");
    if std::env::var_os("PIER_SMAPS").is_some() {
        let _ = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("awk '/^[0-9a-f]/{{name=$6}} /^Pss:/{{if($2>0) print $2, name}}' /proc/{shim}/smaps | sort -rn | head -12"))
            .status();
    }
    let anon = status_kib(shim, "RssAnon:");
    eprintln!("shim anonymous rss after streams: {anon} KiB");
    assert!(after.0 <= 3 * 1024 * factor, "rss {after:?}");
    assert!(anon <= 768 * factor, "anonymous rss {anon} KiB");
    kill_and_wait(&fx);
}
