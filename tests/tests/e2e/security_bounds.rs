//! End-to-end: bounded resources (issue 12, item 4). 2,000 idle `logs
//! --follow` streams plus 300 connections that never send a request head
//! do not slow `create`/`start`/`rm` for anyone (each answers within a
//! second), and pierd does not hold a thread per follower. Before, every
//! follower held a blocking thread and ~520 of them stalled the daemon.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use pier_testkit::Daemon;

const FOLLOWERS: usize = 2_000;
const IDLE: usize = 300;
/// Containers the followers are spread over (one inotify watch each).
const FOLLOWED: usize = 4;

/// Raise this process's soft `RLIMIT_NOFILE` to what the test needs,
/// within the hard limit.
fn raise_nofile(want: u64) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    assert!(
        hard >= want,
        "the hard RLIMIT_NOFILE ({hard}) is below the {want} descriptors this test needs"
    );
    if soft < want {
        setrlimit(Resource::RLIMIT_NOFILE, want, hard).expect("raise RLIMIT_NOFILE");
    }
}

/// A `GET /containers/{id}/logs?follow=1` whose response head has come:
/// the daemon is following for it.
fn follow(d: &Daemon, id: &str) -> UnixStream {
    let mut s = UnixStream::connect(&d.sock).expect("connect to the API socket");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    write!(
        s,
        "GET /v1.50/containers/{id}/logs?follow=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: pier\r\n\r\n"
    )
    .expect("send the logs request");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut status = String::new();
    r.read_line(&mut status).expect("read the status line");
    assert!(status.starts_with("HTTP/1.1 200"), "logs: {status}");
    loop {
        let mut line = String::new();
        r.read_line(&mut line).expect("read a header");
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    s
}

/// One request from a thread of its own, so a daemon that stalls fails
/// the test with a message instead of hanging it.
fn bounded_request(d: &Daemon, method: &str, path: &str, body: Option<serde_json::Value>) -> (u16, String, Duration) {
    let client = pier_client::Client::new(&d.host()).expect("a client");
    // Negotiate the version before the clock starts.
    client
        .send(
            "GET",
            "/_ping",
            pier_client::RequestBody::Empty,
            &pier_client::http::Headers::new(),
        )
        .and_then(|r| r.bytes())
        .expect("ping");
    let (method_s, path_s) = (method.to_string(), path.to_string());
    let (tx, rx) = std::sync::mpsc::channel();
    let t = Instant::now();
    std::thread::spawn(move || {
        let body = match body {
            Some(v) => pier_client::RequestBody::Json(v.to_string().into_bytes()),
            None => pier_client::RequestBody::Empty,
        };
        let r = client
            .send(&method_s, &path_s, body, &pier_client::http::Headers::new())
            .and_then(|resp| {
                let status = resp.status();
                resp.bytes().map(|b| (status, String::from_utf8_lossy(&b).into_owned()))
            });
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok((status, body))) => (status, body, t.elapsed()),
        Ok(Err(e)) => panic!("{method} {path}: {e}"),
        Err(_) => panic!("{method} {path}: no answer within 10s: the daemon stalls"),
    }
}

/// Create, start and force-remove a container, each call answering within
/// a second; returns the slowest.
fn lifecycle_within_a_second(d: &Daemon, round: usize) -> Duration {
    let mut slowest = Duration::ZERO;
    let mut check = |what: &str, (status, body, took): (u16, String, Duration), want: u16| {
        assert_eq!(status, want, "{what}: {body}");
        assert!(took < Duration::from_secs(1), "{what} took {took:?} (round {round})");
        slowest = slowest.max(took);
        body
    };
    let create = bounded_request(
        d,
        "POST",
        "/containers/create",
        Some(serde_json::json!({"Image": "box", "Cmd": ["sleep", "60"]})),
    );
    let body = check("create", create, 201);
    let v: serde_json::Value = serde_json::from_str(&body).expect("create answers JSON");
    let id = v["Id"].as_str().expect("Id").to_string();
    check(
        "start",
        bounded_request(d, "POST", &format!("/containers/{id}/start"), None),
        204,
    );
    check(
        "rm -f",
        bounded_request(d, "DELETE", &format!("/containers/{id}?force=1"), None),
        204,
    );
    slowest
}

fn threads(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read pierd's status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("Threads: in /proc/PID/status")
}

#[test]
fn idle_followers_and_headerless_connections_do_not_slow_the_lifecycle() {
    raise_nofile((FOLLOWERS + IDLE + 1_000) as u64);
    let d = Daemon::start();
    d.import_busybox("box");
    let followed: Vec<String> = (0..FOLLOWED)
        .map(|i| d.run(&format!("followed{i}"), "box", &["sh", "-c", "echo ready; sleep 3600"]))
        .collect();
    let baseline = lifecycle_within_a_second(&d, 0);

    let t = Instant::now();
    let mut streams: Vec<UnixStream> = (0..FOLLOWERS).map(|i| follow(&d, &followed[i % FOLLOWED])).collect();
    let set_up = t.elapsed();
    let idle: Vec<UnixStream> = (0..IDLE)
        .map(|_| UnixStream::connect(&d.sock).expect("connect an idle client"))
        .collect();

    let mut slowest = Duration::ZERO;
    for round in 1..=3 {
        slowest = slowest.max(lifecycle_within_a_second(&d, round));
    }
    // Not a thread per follower (the blocking pool alone caps at 512).
    let pierd_threads = threads(d.pid());
    assert!(
        pierd_threads < 100,
        "pierd runs {pierd_threads} threads with {FOLLOWERS} idle followers"
    );
    eprintln!(
        "{FOLLOWERS} followers set up in {set_up:?}; {IDLE} idle connections; pierd threads {pierd_threads}; \
         slowest create/start/rm {slowest:?} (before any follower: {baseline:?})"
    );

    // The followers are live: a line written now reaches one of them.
    let target = &followed[0];
    let r = d.request_json(
        "POST",
        &format!("/containers/{target}/exec"),
        &serde_json::json!({"Cmd": ["sh", "-c", "echo woken > /proc/1/fd/1"]}),
    );
    assert_eq!(r.status, 201, "exec create: {}", r.text());
    let exec_id = r.json()["Id"].as_str().expect("Id").to_string();
    let r = d.request_json(
        "POST",
        &format!("/exec/{exec_id}/start"),
        &serde_json::json!({"Detach": true}),
    );
    assert_eq!(r.status, 200, "exec start: {}", r.text());
    let s = &mut streams[0];
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let t = Instant::now();
    while !String::from_utf8_lossy(&got).contains("woken") && t.elapsed() < Duration::from_secs(10) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    assert!(
        String::from_utf8_lossy(&got).contains("woken"),
        "the follower saw {:?}",
        String::from_utf8_lossy(&got)
    );

    drop(idle);
    drop(streams);
    for id in &followed {
        let r = d.request("DELETE", &format!("/containers/{id}?force=1"), None);
        assert_eq!(r.status, 204, "rm: {}", r.text());
    }
}
