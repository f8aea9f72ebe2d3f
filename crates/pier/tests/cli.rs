//! The `pier` binary against a fake daemon on a unix socket: requests it
//! sends, what it prints, its exit codes. No real pierd needed.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;

use pier_api::stdcopy::{encode_into, StreamType};

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn read_chunked(r: &mut impl BufRead) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return out;
        }
        let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
        if n == 0 {
            let mut end = String::new();
            let _ = r.read_line(&mut end);
            return out;
        }
        let mut buf = vec![0; n + 2];
        if r.read_exact(&mut buf).is_err() {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn read_req(r: &mut BufReader<UnixStream>) -> Option<Req> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut it = line.split_whitespace();
    let method = it.next()?.to_string();
    let target = it.next()?.to_string();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    // Strip the /v1.NN prefix.
    let path = match path.strip_prefix("/v1.") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]).to_string(),
        None => path.to_string(),
    };
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).ok()?;
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':')?;
        headers.push((n.to_lowercase(), v.trim().to_string()));
    }
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let body = if get("transfer-encoding").is_some() {
        read_chunked(r)
    } else {
        let n: usize = get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut b = vec![0; n];
        r.read_exact(&mut b).ok()?;
        b
    };
    Some(Req {
        method,
        path,
        query: query.to_string(),
        headers,
        body,
    })
}

fn reply(w: &mut UnixStream, status: &str, body: &[u8]) {
    let _ = write!(
        w,
        "HTTP/1.1 {status}\r\nApi-Version: 1.50\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = w.write_all(body);
}

fn not_found(w: &mut UnixStream, what: &str) {
    reply(
        w,
        "404 Not Found",
        format!("{{\"message\":\"No such container: {what}\"}}").as_bytes(),
    );
}

type Handler = dyn Fn(&Req, &mut UnixStream) + Send + Sync;

struct Daemon {
    dir: tempfile::TempDir,
    host: String,
    log: Arc<Mutex<Vec<Req>>>,
}

impl Daemon {
    fn start(handler: Arc<Handler>) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("pier.sock");
        let listener = UnixListener::bind(&sock).expect("bind");
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let handler = handler.clone();
                let log = log2.clone();
                thread::spawn(move || {
                    let mut w = conn.try_clone().expect("clone");
                    let mut r = BufReader::new(conn);
                    if let Some(req) = read_req(&mut r) {
                        log.lock().expect("lock").push(req.clone());
                        if req.method == "HEAD" && req.path == "/_ping" {
                            let _ = w.write_all(b"HTTP/1.1 200 OK\r\nApi-Version: 1.50\r\nContent-Length: 0\r\n\r\n");
                            return;
                        }
                        handler(&req, &mut w);
                    }
                });
            }
        });
        Daemon {
            host: format!("unix://{}", sock.display()),
            dir,
            log,
        }
    }

    fn pier(&self, args: &[&str]) -> Output {
        self.pier_stdin(args, &[])
    }

    fn pier_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pier"))
            .args(args)
            .env("PIER_HOST", &self.host)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pier");
        let mut si = child.stdin.take().expect("stdin");
        si.write_all(stdin).expect("write stdin");
        drop(si);
        child.wait_with_output().expect("wait pier")
    }

    fn requests(&self) -> Vec<Req> {
        self.log.lock().expect("lock").clone()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const ID: &str = "4f66ad9a0b2e3c1d4f66ad9a0b2e3c1d4f66ad9a0b2e3c1d4f66ad9a0b2e3c1d";

#[test]
fn ps_table_and_filters() {
    let d = Daemon::start(Arc::new(|req: &Req, w: &mut UnixStream| {
        assert_eq!(req.path, "/containers/json");
        let body = format!(
            r#"[{{"Id":"{ID}","Names":["/web"],"Image":"busybox","ImageID":"sha256:1","Command":"sleep 1000","Created":{},"Ports":[],"State":"running","Status":"Up 2 minutes"}}]"#,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_secs()
                - 130
        );
        reply(w, "200 OK", body.as_bytes());
    }));
    let out = d.pier(&["ps", "-a", "-f", "status=running"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout,
        "CONTAINER ID   IMAGE     COMMAND        CREATED         STATUS         PORTS     NAMES\n\
         4f66ad9a0b2e   busybox   \"sleep 1000\"   2 minutes ago   Up 2 minutes             web\n"
    );
    let req = d.requests().into_iter().find(|r| r.method == "GET").expect("list");
    assert_eq!(
        req.query,
        "all=1&filters=%7B%22status%22%3A%7B%22running%22%3Atrue%7D%7D"
    );
    let out = d.pier(&["ps", "-q", "--no-trunc"]);
    assert_eq!(text(&out.stdout), format!("{ID}\n"));
}

#[test]
fn stop_many_reports_each_failure() {
    let d = Daemon::start(Arc::new(|req: &Req, w: &mut UnixStream| match req.path.as_str() {
        "/containers/good/stop" => reply(w, "204 No Content", b""),
        _ => not_found(w, "bad"),
    }));
    let out = d.pier(&["stop", "-t", "2", "good", "bad"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "good\n");
    assert_eq!(
        text(&out.stderr),
        "Error response from daemon: No such container: bad\n"
    );
    assert!(d.requests().iter().any(|r| r.query == "t=2"));
}

#[test]
fn run_detached_sends_docker_shaped_create() {
    let d = Daemon::start(Arc::new(|req: &Req, w: &mut UnixStream| match req.path.as_str() {
        "/containers/create" => reply(w, "201 Created", format!(r#"{{"Id":"{ID}","Warnings":[]}}"#).as_bytes()),
        p if p.ends_with("/start") => reply(w, "204 No Content", b""),
        _ => not_found(w, &req.path),
    }));
    let out = d.pier(&[
        "run", "-d", "--name", "web", "-e", "A=1", "--rm", "busybox", "sh", "-c", "echo hi",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{ID}\n"));
    let reqs = d.requests();
    let create = reqs.iter().find(|r| r.path == "/containers/create").expect("create");
    assert_eq!(create.query, "name=web");
    let body: serde_json::Value = serde_json::from_slice(&create.body).expect("json");
    assert_eq!(body["Image"], "busybox");
    assert_eq!(body["Cmd"], serde_json::json!(["sh", "-c", "echo hi"]));
    assert_eq!(body["Env"], serde_json::json!(["A=1"]));
    assert_eq!(body["HostConfig"]["AutoRemove"], true);
    assert_eq!(body["AttachStdout"], false);
    assert!(reqs.iter().any(|r| r.path == format!("/containers/{ID}/start")));
}

#[test]
fn run_errors_exit_125_with_docker_wording() {
    let d = Daemon::start(Arc::new(|_req: &Req, w: &mut UnixStream| {
        reply(w, "404 Not Found", br#"{"message":"No such image: nope:latest"}"#)
    }));
    let out = d.pier(&["run", "-d", "nope"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        text(&out.stderr),
        "Unable to find image 'nope:latest' locally\n\
         pier: Error response from daemon: No such image: nope:latest\n\nRun 'pier run --help' for more information\n"
    );
}

/// docker's codes: a bad flag is 125, a wrong number of arguments or an
/// unknown verb is 1 (cobra's), each with docker's text on stderr.
#[test]
fn usage_errors_exit_like_docker() {
    let d = Daemon::start(Arc::new(|_req: &Req, w: &mut UnixStream| not_found(w, "x")));
    assert_eq!(d.pier(&["stop"]).status.code(), Some(1));
    assert_eq!(d.pier(&["frobnicate"]).status.code(), Some(1));
    let out = d.pier(&["run", "--foo", "x", "busybox"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        text(&out.stderr),
        "unknown flag: --foo\n\nUsage:  pier run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'pier run --help' for more information\n"
    );
    assert!(out.stdout.is_empty());
    let out = d.pier(&["run", "--memory", "32m", "busybox"]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "no daemon route: the create fails, not the flags"
    );
    assert!(!text(&out.stderr).contains("flag"), "{}", text(&out.stderr));
    let creates = |d: &Daemon| d.requests().iter().filter(|r| r.path == "/containers/create").count();
    let before = creates(&d);
    let out = d.pier(&["create", "-m", "x", "busybox"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out.stderr).starts_with("invalid argument \"x\" for \"-m, --memory\" flag: invalid size: 'x'\n"));
    assert_eq!(creates(&d), before, "nothing sent for bad flags");
}

/// The create response's warnings are printed as docker prints them.
#[test]
fn create_prints_warnings() {
    let d = Daemon::start(Arc::new(|req: &Req, w: &mut UnixStream| match req.path.as_str() {
        "/containers/create" => reply(
            w,
            "201 Created",
            format!(r#"{{"Id":"{ID}","Warnings":["Memory limit is recorded but not applied"]}}"#).as_bytes(),
        ),
        _ => not_found(w, &req.path),
    }));
    let out = d.pier(&["create", "-m", "32m", "busybox"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{ID}\n"));
    assert_eq!(text(&out.stderr), "WARNING: Memory limit is recorded but not applied\n");
    let reqs = d.requests();
    let create = reqs.iter().find(|r| r.path == "/containers/create").expect("create");
    let body: serde_json::Value = serde_json::from_slice(&create.body).expect("json");
    assert_eq!(body["HostConfig"]["Memory"], 33_554_432);
    assert_eq!(body["HostConfig"]["MemorySwappiness"], -1);
    assert_eq!(body["HostConfig"]["NetworkMode"], "default");
}

#[test]
fn connection_refused_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = format!("unix://{}/none.sock", dir.path().display());
    let out = Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(["-H", &host, "ps"])
        .output()
        .expect("run pier");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!("Cannot connect to the Pier daemon at {host}. Is the pier daemon running?\n")
    );
}

#[test]
fn logs_split_streams() {
    let d = Daemon::start(Arc::new(|req: &Req, w: &mut UnixStream| match req.path.as_str() {
        "/containers/c/json" => reply(w, "200 OK", br#"{"Id":"c","Config":{"Tty":false}}"#),
        "/containers/c/logs" => {
            let mut body = Vec::new();
            encode_into(&mut body, StreamType::Stdout, b"out 1\n");
            encode_into(&mut body, StreamType::Stderr, b"err 1\n");
            encode_into(&mut body, StreamType::Stdout, b"out 2\n");
            let _ = write!(w, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            let _ = w.write_all(&body);
        }
        _ => not_found(w, "c"),
    }));
    let out = d.pier(&["logs", "--tail", "3", "-t", "c"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out 1\nout 2\n");
    assert_eq!(text(&out.stderr), "err 1\n");
    let logs = d
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/logs"))
        .expect("logs");
    assert_eq!(logs.query, "stdout=1&stderr=1&timestamps=1&tail=3");
}

#[test]
fn inspect_prints_array_and_reports_missing() {
    let d = Daemon::start(Arc::new(|req: &Req, w: &mut UnixStream| match req.path.as_str() {
        "/containers/c/json" => reply(w, "200 OK", br#"{"Id":"c","State":{"Status":"exited","ExitCode":3}}"#),
        "/images/missing/json" => reply(w, "404 Not Found", br#"{"message":"No such image: missing"}"#),
        _ => not_found(w, "missing"),
    }));
    let out = d.pier(&["inspect", "c", "missing"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "[\n    {\n        \"Id\": \"c\",\n        \"State\": {\n            \"Status\": \"exited\",\n            \"ExitCode\": 3\n        }\n    }\n]\n"
    );
    assert_eq!(text(&out.stderr), "Error: No such object: missing\n");
    let out = d.pier(&["inspect", "-f", "{{.State.ExitCode}}", "c"]);
    assert_eq!(text(&out.stdout), "3\n");
}

#[test]
fn wait_prints_exit_codes() {
    let d = Daemon::start(Arc::new(|_req: &Req, w: &mut UnixStream| {
        reply(w, "200 OK", br#"{"StatusCode":7}"#)
    }));
    let out = d.pier(&["wait", "c"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "7\n");
}

#[test]
fn import_streams_stdin() {
    let d = Daemon::start(Arc::new(|req: &Req, w: &mut UnixStream| {
        let status = format!("{{\"status\":\"sha256:{}\"}}\r\n", req.body.len());
        reply(w, "200 OK", status.as_bytes());
    }));
    let data = vec![b'x'; 100_000];
    let out = d.pier_stdin(&["import", "-", "busybox:latest"], &data);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "sha256:100000\n");
    let req = d.requests().into_iter().find(|r| r.method == "POST").expect("import");
    assert_eq!(req.path, "/images/create");
    assert_eq!(req.query, "fromSrc=-&repo=busybox%3Alatest");
    assert!(req
        .headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v == "chunked"));
    assert_eq!(req.body.len(), 100_000);
    let _ = d.dir.path();
}

#[test]
fn images_table() {
    let d = Daemon::start(Arc::new(|_req: &Req, w: &mut UnixStream| {
        reply(
            w,
            "200 OK",
            br#"[{"Id":"sha256:af47096251092caf59498806ab8d58e8173ecf5a182f024ce9d635b5b4a55d66","RepoTags":["busybox:latest"],"Created":0,"Size":2150000}]"#,
        )
    }));
    let out = d.pier(&["images"]);
    assert_eq!(
        text(&out.stdout),
        "REPOSITORY   TAG       IMAGE ID       CREATED   SIZE\nbusybox      latest    af4709625109   N/A       2.15MB\n"
    );
}

#[test]
fn foreground_run_attaches_and_exits_with_status() {
    let d = Daemon::start(Arc::new(|req: &Req, w: &mut UnixStream| match req.path.as_str() {
        "/containers/create" => reply(w, "201 Created", br#"{"Id":"fg","Warnings":null}"#),
        "/containers/fg/attach" => {
            let _ = w.write_all(
                b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
            );
            // Echo stdin back on stdout until the client half-closes.
            let mut input = Vec::new();
            let _ = w.try_clone().expect("clone").read_to_end(&mut input);
            let mut out = Vec::new();
            encode_into(&mut out, StreamType::Stdout, &input);
            encode_into(&mut out, StreamType::Stderr, b"bye\n");
            let _ = w.write_all(&out);
        }
        "/containers/fg/wait" => {
            let _ =
                w.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
            thread::sleep(std::time::Duration::from_millis(100));
            let b = br#"{"StatusCode":3}"#;
            let _ = write!(w, "{:x}\r\n", b.len());
            let _ = w.write_all(b);
            let _ = w.write_all(b"\r\n0\r\n\r\n");
        }
        "/containers/fg/start" => reply(w, "204 No Content", b""),
        _ => not_found(w, &req.path),
    }));
    let out = d.pier_stdin(&["run", "-i", "--rm", "busybox", "cat"], b"hi\n");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hi\n");
    assert_eq!(text(&out.stderr), "bye\n");
    let reqs = d.requests();
    let order: Vec<&str> = reqs
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.path.as_str())
        .collect();
    let pos = |p: &str| order.iter().position(|x| *x == p).expect(p);
    assert!(pos("/containers/fg/attach") < pos("/containers/fg/start"));
    assert!(pos("/containers/fg/wait") < pos("/containers/fg/start"));
    let wait = reqs.iter().find(|r| r.path == "/containers/fg/wait").expect("wait");
    assert_eq!(wait.query, "condition=removed");
    let attach = reqs.iter().find(|r| r.path == "/containers/fg/attach").expect("attach");
    assert_eq!(attach.query, "stream=1&stdin=1&stdout=1&stderr=1");
}

fn echo_daemon() -> Daemon {
    Daemon::start(Arc::new(|req: &Req, w: &mut UnixStream| match req.path.as_str() {
        "/containers/create" => reply(w, "201 Created", br#"{"Id":"fg","Warnings":null}"#),
        "/containers/fg/json" => reply(
            w,
            "200 OK",
            br#"{"Id":"fg","State":{"Running":true},"Config":{"Tty":false,"OpenStdin":true}}"#,
        ),
        "/containers/fg/attach" => {
            let _ = w
                .write_all(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n\r\n");
            let mut input = Vec::new();
            let _ = w.try_clone().expect("clone").read_to_end(&mut input);
            let mut out = Vec::new();
            encode_into(&mut out, StreamType::Stdout, &input);
            let _ = w.write_all(&out);
        }
        "/containers/fg/wait" => {
            let _ =
                w.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
            if req.query == "condition=next-exit" {
                // A container that never exits: only a detach ends the run.
                thread::sleep(std::time::Duration::from_secs(30));
            }
            let b = br#"{"StatusCode":5}"#;
            let _ = write!(w, "{:x}\r\n", b.len());
            let _ = w.write_all(b);
            let _ = w.write_all(b"\r\n0\r\n\r\n");
        }
        "/containers/fg/start" => reply(w, "204 No Content", b""),
        _ => not_found(w, &req.path),
    }))
}

#[test]
fn detach_keys_end_a_foreground_run() {
    let d = echo_daemon();
    let started = std::time::Instant::now();
    let out = d.pier_stdin(&["run", "-i", "busybox", "cat"], b"typed\x10\x11");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn attach_exits_with_container_status() {
    let d = echo_daemon();
    let out = d.pier_stdin(&["attach", "fg"], b"hello\n");
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\n");
    let wait = d
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/wait"))
        .expect("wait");
    assert_eq!(wait.query, "condition=not-running");
}
