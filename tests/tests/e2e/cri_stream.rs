//! End-to-end: the CRI streaming server (issue 17): `Exec`, `Attach` and
//! `PortForward` URLs, driven by clients written here over the framing of
//! `pier-k8s-stream`: SPDY/3.1 with remotecommand v4 (what kubectl and
//! client-go speak to a kubelet) and port-forward, and a WebSocket with
//! `v5.channel.k8s.io`. Exec and attach target containers made through the
//! Docker API of the same daemon (any running Pier container is a CRI
//! container for streaming); port-forward needs a pod sandbox.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pier_cri_api::tonic::Code;
use pier_cri_api::v1 as cri;
use pier_k8s_stream::remotecommand::{self, Status};
use pier_k8s_stream::spdy::{Decoder, Encoder, Frame, Headers};
use pier_k8s_stream::{channel, portforward as pf};
use pier_testkit::{wait_until, Daemon};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::cri_images::{registry_with_images, socket_dir, Cri};

const DEADLINE: Duration = Duration::from_secs(30);

/// `host:port` and path of a streaming URL.
fn split_url(url: &str) -> (String, String) {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not an http URL: {url}"));
    let slash = rest.find('/').expect("path");
    (rest[..slash].to_string(), rest[slash..].to_string())
}

/// A plain HTTP request's status code and body.
async fn http_status(url: &str, extra_headers: &str) -> (u16, String) {
    let (host, path) = split_url(url);
    let mut s = TcpStream::connect(&host).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra_headers}\r\n");
    s.write_all(req.as_bytes()).await.expect("request");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    (code, text)
}

/// The client side of a SPDY/3.1 connection, read and written in turns.
struct Spdy {
    io: TcpStream,
    enc: Encoder,
    dec: Decoder,
    buf: Vec<u8>,
    next_id: u32,
    data: HashMap<u32, Vec<u8>>,
    fin: HashSet<u32>,
    replied: HashSet<u32>,
    eof: bool,
}

impl Spdy {
    /// Upgrade `url`'s connection, offering `protocols`; the chosen one.
    async fn upgrade(url: &str, protocols: &[&str]) -> Result<(Spdy, String), (u16, String)> {
        let (host, path) = split_url(url);
        let mut io = TcpStream::connect(&host).await.expect("connect");
        let mut req = format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n");
        for p in protocols {
            req.push_str(&format!("X-Stream-Protocol-Version: {p}\r\n"));
        }
        req.push_str("Content-Length: 0\r\n\r\n");
        io.write_all(req.as_bytes()).await.expect("request");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match io.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => break,
            }
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let code: u16 = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        if code != 101 {
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0usize);
            let mut body = vec![0u8; len];
            let _ = tokio::time::timeout(DEADLINE, io.read_exact(&mut body)).await;
            return Err((code, format!("{head}{}", String::from_utf8_lossy(&body))));
        }
        let chosen = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(remotecommand::HEADER_PROTOCOL_VERSION)
                    .then(|| v.trim().to_string())
            })
            .unwrap_or_default();
        let spdy = Spdy {
            io,
            enc: Encoder::new(),
            dec: Decoder::new(),
            buf: Vec::new(),
            next_id: 1,
            data: HashMap::new(),
            fin: HashSet::new(),
            replied: HashSet::new(),
            eof: false,
        };
        Ok((spdy, chosen))
    }

    async fn write(&mut self, frame: Frame) {
        let mut out = Vec::new();
        self.enc.encode(&frame, &mut out).expect("encode");
        self.io.write_all(&out).await.expect("write frame");
    }

    /// Open a stream with `headers`; its id.
    async fn open(&mut self, headers: &[(&str, &str)]) -> u32 {
        let id = self.next_id;
        self.next_id += 2;
        let mut h = Headers::new();
        for (k, v) in headers {
            h.push(k, v);
        }
        self.write(Frame::SynStream {
            stream_id: id,
            associated_to: 0,
            priority: 0,
            fin: false,
            unidirectional: false,
            headers: h,
        })
        .await;
        id
    }

    async fn send(&mut self, id: u32, bytes: &[u8], fin: bool) {
        self.write(Frame::Data {
            stream_id: id,
            fin,
            data: bytes.to_vec(),
        })
        .await;
    }

    /// Read frames until `done` holds (or the connection ends).
    async fn read_until(&mut self, done: impl Fn(&Spdy) -> bool) {
        let reading = async {
            let mut chunk = vec![0u8; 64 * 1024];
            while !done(self) && !self.eof {
                if let Some((frame, used)) = self.dec.decode(&self.buf).expect("decode") {
                    self.buf.drain(..used);
                    match frame {
                        Frame::Data { stream_id, fin, data } => {
                            self.data.entry(stream_id).or_default().extend_from_slice(&data);
                            if fin {
                                self.fin.insert(stream_id);
                            }
                        }
                        Frame::SynReply { stream_id, .. } => {
                            self.replied.insert(stream_id);
                        }
                        Frame::RstStream { stream_id, .. } => {
                            self.fin.insert(stream_id);
                        }
                        _ => {}
                    }
                    continue;
                }
                match self.io.read(&mut chunk).await {
                    Ok(0) | Err(_) => self.eof = true,
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                }
            }
        };
        if tokio::time::timeout(DEADLINE, reading).await.is_err() {
            let seen: Vec<(u32, String, bool)> = self
                .data
                .keys()
                .map(|id| (*id, self.text(*id), self.fin.contains(id)))
                .collect();
            panic!("stream deadline; streams so far (id, data, fin): {seen:?}");
        }
    }

    fn text(&self, id: u32) -> String {
        String::from_utf8_lossy(self.data.get(&id).map(Vec::as_slice).unwrap_or(&[])).into_owned()
    }

    /// The v4 error stream's status as a client reads it.
    fn exit(&self, error_stream: u32) -> Result<i32, String> {
        let raw = self.data.get(&error_stream).cloned().unwrap_or_default();
        let status: Status = serde_json::from_slice(&raw)
            .unwrap_or_else(|e| panic!("status JSON {:?}: {e}", String::from_utf8_lossy(&raw)));
        status.exit()
    }
}

/// A daemon with the CRI on (and a registry for the pause image when
/// `registry` is given), busybox imported for Docker API containers.
fn daemon(registry: Option<&str>) -> (Daemon, Cri, tempfile::TempDir) {
    let dir = socket_dir();
    let socket = dir.path().join("cri.sock");
    let mut cri = json!({"socket": format!("unix://{}", socket.display())});
    if let Some(host) = registry {
        cri["registry-hosts"] = json!({"registry.k8s.io": format!("http://{host}")});
    }
    let d = Daemon::builder().config(&json!({ "cri": cri }).to_string()).start();
    d.import_busybox("busybox");
    let c = Cri::connect(&socket, &d);
    (d, c, dir)
}

fn exec_url(c: &mut Cri, req: cri::ExecRequest) -> Result<String, (Code, String)> {
    let runtime = &mut c.runtime;
    c.rt.block_on(runtime.exec(req))
        .map(|r| r.into_inner().url)
        .map_err(|e| (e.code(), e.message().to_string()))
}

fn exec_req(id: &str, cmd: &[&str], stdin: bool, tty: bool) -> cri::ExecRequest {
    cri::ExecRequest {
        container_id: id.to_string(),
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        tty,
        stdin,
        stdout: true,
        stderr: !tty,
    }
}

#[test]
fn cri_exec_over_spdy_separates_streams_and_returns_the_exit_code() {
    let (d, mut c, _dir) = daemon(None);
    let id = d.run("", "busybox", &["sleep", "1000"]);

    // Output on two streams, the exit code on the error stream.
    let url = exec_url(
        &mut c,
        exec_req(&id, &["sh", "-c", "echo out; echo err >&2; exit 3"], false, false),
    )
    .expect("Exec");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(url.contains("/exec/"), "{url}");
    c.rt.block_on(async {
        let (mut s, chosen) = Spdy::upgrade(&url, &[remotecommand::V4, remotecommand::V3])
            .await
            .unwrap_or_else(|e| panic!("upgrade: {e:?}"));
        assert_eq!(chosen, remotecommand::V4);
        let error = s.open(&[("streamType", "error")]).await;
        let stdout = s.open(&[("streamType", "stdout")]).await;
        let stderr = s.open(&[("streamType", "stderr")]).await;
        s.read_until(|s| [error, stdout, stderr].iter().all(|i| s.fin.contains(i)))
            .await;
        assert!([error, stdout, stderr].iter().all(|i| s.replied.contains(i)));
        assert_eq!(s.text(stdout), "out\n");
        assert_eq!(s.text(stderr), "err\n");
        assert_eq!(s.exit(error), Ok(3), "{}", s.text(error));
        assert!(s.text(error).contains("NonZeroExitCode"), "{}", s.text(error));
    });

    // The token was used: the same URL is refused, as is an unknown one.
    let (code, _) = c.rt.block_on(http_status(&url, ""));
    assert_eq!(code, 404);
    let unknown = format!("{}/exec/nope", url.rsplit_once("/exec/").expect("url").0);
    assert_eq!(c.rt.block_on(http_status(&unknown, "")).0, 404);

    // stdin (closed by the client: `cat` ends) and a zero exit.
    let url = exec_url(&mut c, exec_req(&id, &["cat"], true, false)).expect("Exec cat");
    c.rt.block_on(async {
        let (mut s, _) = Spdy::upgrade(&url, &[remotecommand::V4]).await.expect("upgrade");
        let error = s.open(&[("streamType", "error")]).await;
        let stdin = s.open(&[("streamType", "stdin")]).await;
        let stdout = s.open(&[("streamType", "stdout")]).await;
        let stderr = s.open(&[("streamType", "stderr")]).await;
        s.send(stdin, b"hello ", false).await;
        s.send(stdin, b"stdin\n", true).await;
        s.read_until(|s| s.fin.contains(&error)).await;
        assert_eq!(s.text(stdout), "hello stdin\n");
        assert_eq!(s.text(stderr), "");
        assert_eq!(s.exit(error), Ok(0));
    });

    // A failing start is an error status, not a hang.
    let url = exec_url(&mut c, exec_req(&id, &["/no/such/binary"], false, false)).expect("Exec");
    c.rt.block_on(async {
        let (mut s, _) = Spdy::upgrade(&url, &[remotecommand::V4]).await.expect("upgrade");
        let error = s.open(&[("streamType", "error")]).await;
        let stdout = s.open(&[("streamType", "stdout")]).await;
        let stderr = s.open(&[("streamType", "stderr")]).await;
        let _ = (stdout, stderr);
        s.read_until(|s| s.fin.contains(&error)).await;
        let got = s.exit(error);
        assert!(matches!(&got, Err(m) if m.contains("no/such/binary")), "{got:?}");
    });
}

#[test]
fn cri_exec_with_a_terminal_and_resize() {
    let (d, mut c, _dir) = daemon(None);
    let id = d.run("", "busybox", &["sleep", "1000"]);
    let script = "read a; stty size; read b; stty size; exit 5";
    let url = exec_url(&mut c, exec_req(&id, &["sh", "-c", script], true, true)).expect("Exec");
    c.rt.block_on(async {
        let (mut s, _) = Spdy::upgrade(&url, &[remotecommand::V4]).await.expect("upgrade");
        let error = s.open(&[("streamType", "error")]).await;
        let stdin = s.open(&[("streamType", "stdin")]).await;
        let stdout = s.open(&[("streamType", "stdout")]).await;
        let resize = s.open(&[("streamType", "resize")]).await;
        s.send(resize, br#"{"Width":100,"Height":30}"#, false).await;
        s.send(stdin, b"1\n", false).await;
        let sizes = |s: &Spdy| -> Vec<String> {
            s.text(stdout)
                .lines()
                .map(|l| l.trim().to_string())
                .filter(|l| {
                    let w: Vec<&str> = l.split(' ').collect();
                    w.len() == 2 && w.iter().all(|x| x.parse::<u32>().is_ok())
                })
                .collect()
        };
        // The first answer only paces the test: under load busybox's stty
        // has been seen to fail once here ("stty: standard input"; to be
        // understood), the second answer is the one checked.
        s.read_until(|s| !sizes(s).is_empty() || s.text(stdout).contains("stty:"))
            .await;
        // One round trip later the resize has surely been applied.
        s.send(stdin, b"2\n", false).await;
        s.read_until(|s| s.fin.contains(&error)).await;
        assert_eq!(
            sizes(&s).last().map(String::as_str),
            Some("30 100"),
            "{}",
            s.text(stdout)
        );
        // A terminal: CRLF line ends, the input echoed.
        assert!(s.text(stdout).contains("\r\n"), "{:?}", s.text(stdout));
        assert_eq!(s.exit(error), Ok(5));
    });
}

#[test]
fn cri_exec_refusals() {
    let (d, mut c, _dir) = daemon(None);
    let running = d.run("", "busybox", &["sleep", "1000"]);
    let stopped = d.create("", "busybox", &["true"]);
    let code = |c: &mut Cri, r| exec_url(c, r).map_err(|e| e.0).expect_err("refused");
    assert_eq!(
        code(&mut c, exec_req("0000000000ff", &["true"], false, false)),
        Code::NotFound
    );
    assert_eq!(
        code(&mut c, exec_req(&stopped, &["true"], false, false)),
        Code::FailedPrecondition
    );
    let mut tty_stderr = exec_req(&running, &["true"], false, true);
    tty_stderr.stderr = true;
    assert_eq!(code(&mut c, tty_stderr), Code::InvalidArgument);
    let mut nothing = exec_req(&running, &["true"], false, false);
    nothing.stdout = false;
    nothing.stderr = false;
    assert_eq!(code(&mut c, nothing), Code::InvalidArgument);
    let runtime = &mut c.runtime;
    let err =
        c.rt.block_on(runtime.attach(cri::AttachRequest {
            container_id: stopped.clone(),
            stdin: false,
            tty: false,
            stdout: true,
            stderr: false,
        }))
        .expect_err("attach to a stopped container");
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err =
        c.rt.block_on(runtime.port_forward(cri::PortForwardRequest {
            pod_sandbox_id: running.clone(),
            port: vec![80],
        }))
        .expect_err("a Docker container is no sandbox");
    assert_eq!(err.code(), Code::NotFound);

    // A protocol the server does not speak: 403 with the ones it does.
    let url = exec_url(&mut c, exec_req(&running, &["true"], false, false)).expect("Exec");
    let err =
        c.rt.block_on(Spdy::upgrade(&url, &["v9.channel.k8s.io"]))
            .err()
            .expect("refused");
    assert_eq!(err.0, 403, "{}", err.1);
    assert!(err.1.contains("v4.channel.k8s.io"), "{}", err.1);
}

#[test]
fn cri_attach_over_spdy() {
    let (d, mut c, _dir) = daemon(None);
    let r = d.request_json(
        "POST",
        "/containers/create",
        &json!({"Image": "busybox", "Cmd": ["cat"], "OpenStdin": true}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["Id"].as_str().expect("Id").to_string();
    assert_eq!(d.request("POST", &format!("/containers/{id}/start"), None).status, 204);
    let runtime = &mut c.runtime;
    let url =
        c.rt.block_on(runtime.attach(cri::AttachRequest {
            container_id: id.clone(),
            stdin: true,
            tty: false,
            stdout: true,
            stderr: true,
        }))
        .expect("Attach")
        .into_inner()
        .url;
    assert!(url.contains("/attach/"), "{url}");
    c.rt.block_on(async {
        let (mut s, _) = Spdy::upgrade(&url, &[remotecommand::V4]).await.expect("upgrade");
        let error = s.open(&[("streamType", "error")]).await;
        let stdin = s.open(&[("streamType", "stdin")]).await;
        let stdout = s.open(&[("streamType", "stdout")]).await;
        let _stderr = s.open(&[("streamType", "stderr")]).await;
        s.send(stdin, b"through attach\n", false).await;
        s.read_until(|s| s.text(stdout).contains("through attach\n")).await;
        // The container ends: the session ends with success.
        d.docker_ok(&["kill", &id]);
        s.read_until(|s| s.fin.contains(&error)).await;
        assert_eq!(s.exit(error), Ok(0));
    });
}

#[test]
fn cri_exec_over_websocket_v5() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    use tokio_tungstenite::tungstenite::Message;

    let (d, mut c, _dir) = daemon(None);
    let id = d.run("", "busybox", &["sleep", "1000"]);
    let url = exec_url(
        &mut c,
        exec_req(&id, &["sh", "-c", "cat; echo err >&2; exit 2"], true, false),
    )
    .expect("Exec");
    c.rt.block_on(async {
        let (host, _) = split_url(&url);
        let tcp = TcpStream::connect(&host).await.expect("connect");
        let mut req = url
            .replacen("http://", "ws://", 1)
            .into_client_request()
            .expect("request");
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("v5.channel.k8s.io, v4.channel.k8s.io"),
        );
        let (mut ws, resp) = tokio_tungstenite::client_async(req, tcp).await.expect("websocket");
        assert_eq!(
            resp.headers()
                .get("Sec-WebSocket-Protocol")
                .and_then(|v| v.to_str().ok()),
            Some(channel::V5)
        );
        ws.send(Message::Binary(channel::encode(channel::STDIN, b"over ws\n").into()))
            .await
            .expect("stdin");
        ws.send(Message::Binary(vec![channel::CLOSE, channel::STDIN].into()))
            .await
            .expect("close stdin");
        let mut got: HashMap<u8, Vec<u8>> = HashMap::new();
        let reading = async {
            while let Some(Ok(msg)) = ws.next().await {
                match msg {
                    Message::Binary(b) => {
                        if let Some(channel::Message::Data { channel, payload }) = channel::decode(&b, true) {
                            got.entry(channel).or_default().extend_from_slice(payload);
                        }
                    }
                    Message::Close(_) => break,
                    _ => {}
                }
            }
        };
        tokio::time::timeout(DEADLINE, reading)
            .await
            .expect("websocket deadline");
        let text = |ch: u8| String::from_utf8_lossy(got.get(&ch).map(Vec::as_slice).unwrap_or(&[])).into_owned();
        assert_eq!(text(channel::STDOUT), "over ws\n");
        assert_eq!(text(channel::STDERR), "err\n");
        let status: Status = serde_json::from_str(&text(channel::ERROR)).expect("status");
        assert_eq!(status.exit(), Ok(2));
    });
}

/// A port-forward connection's error and data streams.
async fn pair(s: &mut Spdy, port: &str, request_id: &str) -> (u32, u32) {
    let e = s
        .open(&[("streamType", "error"), ("port", port), ("requestID", request_id)])
        .await;
    let d = s
        .open(&[("streamType", "data"), ("port", port), ("requestID", request_id)])
        .await;
    (e, d)
}

/// Whether something listens on TCP `port` in `container`'s namespace
/// (busybox's nc listens on `[::]`, dual-stack).
fn listening(d: &Daemon, container: &str, port: u16) -> bool {
    let tcp = d.docker_ok(&["exec", container, "cat", "/proc/net/tcp", "/proc/net/tcp6"]);
    let suffix = format!(":{port:04X}");
    tcp.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3 && f[1].ends_with(&suffix) && f[3] == "0A"
    })
}

#[test]
fn cri_port_forward_into_the_pod_network() {
    let work = tempfile::tempdir().expect("work dir");
    let registry = registry_with_images(work.path());
    let (d, mut c, _dir) = daemon(Some(&registry.host()));
    let runtime = &mut c.runtime;
    let config = cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: "fwd".into(),
            uid: "uid-fwd".into(),
            namespace: "default".into(),
            attempt: 0,
        }),
        ..Default::default()
    };
    let sandbox =
        c.rt.block_on(runtime.run_pod_sandbox(cri::RunPodSandboxRequest {
            config: Some(config),
            runtime_handler: String::new(),
        }))
        .unwrap_or_else(|e| panic!("RunPodSandbox: {e}\n{}", d.daemon_log()))
        .into_inner()
        .pod_sandbox_id;
    // Two listeners on the pod's loopback: one talks, one listens.
    d.docker_ok(&[
        "exec",
        "-u",
        "0",
        "-d",
        &sandbox,
        "sh",
        "-c",
        "echo hello-from-pod | nc -l -p 8080",
    ]);
    d.docker_ok(&[
        "exec",
        "-u",
        "0",
        "-d",
        &sandbox,
        "sh",
        "-c",
        "nc -l -p 8081 > /tmp/got",
    ]);
    assert!(
        wait_until(DEADLINE, || listening(&d, &sandbox, 8080)
            && listening(&d, &sandbox, 8081)),
        "nc listens"
    );
    let url =
        c.rt.block_on(runtime.port_forward(cri::PortForwardRequest {
            pod_sandbox_id: sandbox.clone(),
            port: vec![8080, 8081],
        }))
        .expect("PortForward")
        .into_inner()
        .url;
    assert!(url.contains("/portforward/"), "{url}");
    c.rt.block_on(async {
        let (mut s, chosen) = Spdy::upgrade(&url, &[pf::PROTOCOL_V1]).await.expect("upgrade");
        assert_eq!(chosen, pf::PROTOCOL_V1);
        let (_e0, d0) = pair(&mut s, "8080", "0").await;
        let (_e1, d1) = pair(&mut s, "8081", "1").await;
        // Nothing listens on 8082: its error stream says so.
        let (e2, _d2) = pair(&mut s, "8082", "2").await;
        s.send(d1, b"ping from the client\n", true).await;
        s.read_until(|s| s.text(d0).contains("hello-from-pod\n") && s.fin.contains(&e2))
            .await;
        assert_eq!(s.text(d0), "hello-from-pod\n");
        assert!(s.text(e2).contains("8082"), "{}", s.text(e2));
    });
    assert!(
        wait_until(DEADLINE, || d
            .docker_ok(&["exec", "-u", "0", &sandbox, "cat", "/tmp/got"])
            .contains("ping from the client")),
        "the pod got the client's bytes"
    );

    // The same over a WebSocket (`v4.channel.k8s.io`): data channel 0 and
    // error channel 1 for the request's one port, each opened by the port.
    d.docker_ok(&[
        "exec",
        "-u",
        "0",
        "-d",
        &sandbox,
        "sh",
        "-c",
        "echo hello-ws | nc -l -p 8090",
    ]);
    assert!(wait_until(DEADLINE, || listening(&d, &sandbox, 8090)), "nc listens");
    let runtime = &mut c.runtime;
    let url =
        c.rt.block_on(runtime.port_forward(cri::PortForwardRequest {
            pod_sandbox_id: sandbox.clone(),
            port: vec![8090],
        }))
        .expect("PortForward")
        .into_inner()
        .url;
    c.rt.block_on(async {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::http::HeaderValue;
        use tokio_tungstenite::tungstenite::Message;
        let (host, _) = split_url(&url);
        let tcp = TcpStream::connect(&host).await.expect("connect");
        let mut req = url
            .replacen("http://", "ws://", 1)
            .into_client_request()
            .expect("request");
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(pf::WEBSOCKET_V4));
        let (mut ws, _) = tokio_tungstenite::client_async(req, tcp).await.expect("websocket");
        let mut got: Vec<Vec<u8>> = Vec::new();
        let reading = async {
            while let Some(Ok(msg)) = ws.next().await {
                match msg {
                    Message::Binary(b) => got.push(b.to_vec()),
                    Message::Close(_) => break,
                    _ => {}
                }
            }
        };
        tokio::time::timeout(DEADLINE, reading)
            .await
            .expect("websocket deadline");
        let port = pf::port_prefix(8090);
        assert_eq!(
            got.first().map(Vec::as_slice),
            Some(&[0, port[0], port[1]][..]),
            "{got:?}"
        );
        assert_eq!(
            got.get(1).map(Vec::as_slice),
            Some(&[1, port[0], port[1]][..]),
            "{got:?}"
        );
        let data: Vec<u8> = got[2..]
            .iter()
            .filter(|m| m[0] == 0)
            .flat_map(|m| m[1..].to_vec())
            .collect();
        assert_eq!(
            String::from_utf8_lossy(&data),
            "hello-ws\n",
            "{:?}",
            got.iter()
                .map(|m| String::from_utf8_lossy(m).into_owned())
                .collect::<Vec<_>>()
        );
    });

    let runtime = &mut c.runtime;
    c.rt.block_on(runtime.remove_pod_sandbox(cri::RemovePodSandboxRequest {
        pod_sandbox_id: sandbox,
    }))
    .expect("RemovePodSandbox");
}
