//! The client against a tiny HTTP server on a UnixListener (std threads).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use pier_api::container::ContainerCreateRequest;
use pier_api::stdcopy::{encode_into, StreamType};
use pier_client::body::Body;
use pier_client::http::Framing;
use pier_client::{AttachOptions, Client, Error, ListOptions, LogsOptions, WaitCondition};

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Serves each connection with `handler(request, stream)`; the handler
/// writes the whole response. Requests are reported on the returned channel.
struct Server {
    _dir: tempfile::TempDir,
    host: String,
    seen: mpsc::Receiver<Seen>,
}

fn read_request(r: &mut BufReader<UnixStream>) -> Option<Seen> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).ok()?;
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':')?;
        headers.push((n.to_string(), v.trim().to_string()));
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _): &&(String, String)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let framing = if get("Transfer-Encoding").is_some() {
        Framing::Chunked
    } else {
        Framing::Length(get("Content-Length").and_then(|v| v.parse().ok()).unwrap_or(0))
    };
    let mut body = Vec::new();
    Body::new(&mut *r, framing).read_to_end(&mut body).ok()?;
    Some(Seen {
        method,
        target,
        headers,
        body,
    })
}

fn serve<F>(handler: F) -> Server
where
    F: Fn(&Seen, &mut UnixStream) + Send + Sync + 'static,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("pier.sock");
    let listener = UnixListener::bind(&sock).expect("bind");
    let (tx, rx) = mpsc::channel();
    let handler = std::sync::Arc::new(handler);
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let tx = tx.clone();
            let handler = handler.clone();
            thread::spawn(move || {
                let mut w = conn.try_clone().expect("clone");
                let mut r = BufReader::new(conn);
                if let Some(req) = read_request(&mut r) {
                    let _ = tx.send(req.clone());
                    handler(&req, &mut w);
                }
            });
        }
    });
    Server {
        _dir: dir,
        host: format!("unix://{}", sock.display()),
        seen: rx,
    }
}

fn respond(w: &mut UnixStream, status: &str, headers: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nApi-Version: 1.45\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = w.write_all(head.as_bytes());
    let _ = w.write_all(body);
}

fn route(req: &Seen, w: &mut UnixStream) {
    let path = req.target.split('?').next().unwrap_or("");
    match (req.method.as_str(), path) {
        ("HEAD", "/_ping") => respond(w, "200 OK", "OSType: linux\r\n", b""),
        ("POST", "/v1.45/containers/create") => respond(
            w,
            "201 Created",
            "Content-Type: application/json\r\n",
            br#"{"Id":"abc123","Warnings":[]}"#,
        ),
        ("POST", "/v1.45/containers/abc123/start") => respond(w, "204 No Content", "", b""),
        ("POST", "/v1.45/containers/abc123/stop") => respond(w, "304 Not Modified", "", b""),
        ("POST", "/v1.45/containers/abc123/wait") => {
            // Headers first, body later, chunked: as dockerd does.
            let _ = w.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            );
            thread::sleep(Duration::from_millis(50));
            let body = br#"{"StatusCode":3}"#;
            let _ = write!(w, "{:x}\r\n", body.len());
            let _ = w.write_all(body);
            let _ = w.write_all(b"\r\n0\r\n\r\n");
        }
        ("GET", "/v1.45/containers/json") => respond(
            w,
            "200 OK",
            "",
            br#"[{"Id":"abc123","Names":["/web"],"Image":"busybox","Command":"sleep 10","Created":1,"State":"running","Status":"Up 1 second"}]"#,
        ),
        ("GET", "/v1.45/containers/abc123/json") => {
            respond(w, "200 OK", "", br#"{"Id":"abc123","Config":{"Tty":false}}"#)
        }
        ("GET", "/v1.45/containers/abc123/logs") => {
            let _ = w.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
            );
            for (i, s) in [StreamType::Stdout, StreamType::Stderr].into_iter().enumerate() {
                let mut frame = Vec::new();
                encode_into(&mut frame, s, format!("line {i}\n").as_bytes());
                // Split a frame across chunks to exercise reassembly.
                for part in frame.chunks(5) {
                    let _ = write!(w, "{:x}\r\n", part.len());
                    let _ = w.write_all(part);
                    let _ = w.write_all(b"\r\n");
                    let _ = w.flush();
                }
                thread::sleep(Duration::from_millis(10));
            }
            let _ = w.write_all(b"0\r\n\r\n");
        }
        ("POST", "/v1.45/images/create") => {
            let status = format!("{{\"status\":\"sha256:{}\"}}\n", req.body.len());
            respond(w, "200 OK", "", status.as_bytes())
        }
        ("POST", "/v1.45/containers/abc123/attach") => {
            let mut out = b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".to_vec();
            // First frame in the same write as the head.
            encode_into(&mut out, StreamType::Stdout, b"hello\n");
            let _ = w.write_all(&out);
            // Echo what the client sends until it half-closes.
            let mut input = Vec::new();
            let _ = w.try_clone().expect("clone").read_to_end(&mut input);
            let mut frame = Vec::new();
            encode_into(&mut frame, StreamType::Stderr, &input);
            let _ = w.write_all(&frame);
        }
        _ => respond(
            w,
            "404 Not Found",
            "Content-Type: application/json\r\n",
            format!("{{\"message\":\"No such container: {path}\"}}").as_bytes(),
        ),
    }
}

#[test]
fn negotiates_and_creates() {
    let s = serve(route);
    let c = Client::new(&s.host).expect("client");
    let req = ContainerCreateRequest::default();
    let id = c.container_create(Some("web 1"), &req).expect("create");
    assert_eq!(id.id, "abc123");
    let ping = s.seen.recv().expect("ping");
    assert_eq!((ping.method.as_str(), ping.target.as_str()), ("HEAD", "/_ping"));
    let create = s.seen.recv().expect("create");
    assert_eq!(create.target, "/v1.45/containers/create?name=web%201");
    assert_eq!(create.header("Content-Type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&create.body).expect("json body");
    assert!(body.is_object());
    assert_eq!(c.api_version().expect("version").to_string(), "1.45");
}

#[test]
fn lifecycle_calls() {
    let s = serve(route);
    let c = Client::new(&s.host).expect("client");
    c.container_start("abc123").expect("start");
    c.container_stop("abc123", Some(3), None).expect("stop 304 is ok");
    let w = c.container_wait("abc123", WaitCondition::NextExit).expect("wait");
    assert_eq!(w.status_code, 3);
    let list = c
        .container_list(&ListOptions {
            all: true,
            ..Default::default()
        })
        .expect("list");
    assert_eq!(list[0].names, vec!["/web".to_string()]);
    let targets: Vec<String> = s.seen.try_iter().map(|r| r.target).collect();
    assert!(targets.contains(&"/v1.45/containers/abc123/stop?t=3".to_string()));
    assert!(targets.contains(&"/v1.45/containers/abc123/wait?condition=next-exit".to_string()));
    assert!(targets.contains(&"/v1.45/containers/json?all=1".to_string()));
}

#[test]
fn daemon_errors_are_typed() {
    let s = serve(route);
    let c = Client::new(&s.host).expect("client");
    let err = c.container_start("nope").expect_err("404");
    assert_eq!(err.status(), Some(404));
    assert_eq!(
        err.to_string(),
        "Error response from daemon: No such container: /v1.45/containers/nope/start"
    );
}

#[test]
fn connection_refused_has_docker_wording() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = format!("unix://{}/missing.sock", dir.path().display());
    let c = Client::new(&host).expect("client");
    let err = c.ping().expect_err("no daemon");
    assert!(err.is_connect());
    assert_eq!(
        err.to_string(),
        format!("Cannot connect to the Pier daemon at {host}. Is the pier daemon running?")
    );
}

#[test]
fn logs_stream_demultiplexed() {
    let s = serve(route);
    let c = Client::new(&s.host).expect("client");
    let mut logs = c
        .container_logs(
            "abc123",
            &LogsOptions {
                follow: true,
                ..Default::default()
            },
        )
        .expect("logs");
    let mut got = Vec::new();
    while let Some(chunk) = logs.next_chunk().expect("chunk") {
        got.push(chunk);
    }
    assert_eq!(
        got,
        vec![
            (StreamType::Stdout, b"line 0\n".to_vec()),
            (StreamType::Stderr, b"line 1\n".to_vec())
        ]
    );
}

#[test]
fn import_streams_body_chunked() {
    let s = serve(route);
    let c = Client::new(&s.host).expect("client");
    let data = vec![7u8; 300_000];
    let mut statuses = Vec::new();
    c.image_import(&mut &data[..], "busybox", Some("latest"), &[], None, |m| {
        statuses.push(m.status.clone().unwrap_or_default())
    })
    .expect("import");
    assert_eq!(statuses, vec!["sha256:300000".to_string()]);
    let req = s.seen.try_iter().find(|r| r.method == "POST").expect("seen");
    assert_eq!(req.target, "/v1.45/images/create?fromSrc=-&repo=busybox&tag=latest");
    assert_eq!(req.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(req.body, data);
}

#[test]
fn hijack_keeps_bytes_after_head_and_half_closes() {
    let s = serve(route);
    let c = Client::new(&s.host).expect("client");
    let mut h = c
        .container_attach(
            "abc123",
            &AttachOptions {
                stdin: true,
                ..Default::default()
            },
        )
        .expect("attach");
    assert_eq!(h.status, 101);
    h.write_all(b"typed").expect("write");
    h.close_write().expect("half close");
    let mut out = h.into_output(false, "attach".into());
    let mut got = Vec::new();
    while let Some(chunk) = out.next_chunk().expect("chunk") {
        got.push(chunk);
    }
    assert_eq!(
        got,
        vec![
            (StreamType::Stdout, b"hello\n".to_vec()),
            (StreamType::Stderr, b"typed".to_vec())
        ]
    );
    let req = s.seen.try_iter().find(|r| r.method == "POST").expect("seen");
    assert_eq!(req.header("Upgrade"), Some("tcp"));
    assert_eq!(
        req.target,
        "/v1.45/containers/abc123/attach?stream=1&stdin=1&stdout=1&stderr=1"
    );
}

#[test]
fn missing_api_version_header_means_1_24() {
    let s = serve(|req, w| {
        let body: &[u8] = if req.method == "HEAD" { b"" } else { b"{}" };
        let _ = write!(w, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
        let _ = w.write_all(body);
    });
    let c = Client::new(&s.host).expect("client");
    assert_eq!(c.api_version().expect("version").to_string(), "1.24");
    c.info().expect("info");
    let targets: Vec<String> = s.seen.try_iter().map(|r| r.target).collect();
    assert_eq!(targets, vec!["/_ping".to_string(), "/v1.24/info".to_string()]);
    let _ = Error::InvalidHost(String::new());
}
