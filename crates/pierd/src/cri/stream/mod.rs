//! The CRI streaming server: `Exec`, `Attach` and `PortForward` answer a
//! URL (`http://<cri.stream-address>:<port>/exec/<token>`) of this HTTP
//! server, which pierd runs beside the CRI socket. A token is random,
//! single-use and expires after a minute (`cache`); it carries the request
//! as validated by the RPC. A client upgrades the URL's connection to
//! SPDY/3.1 (`spdy_conn`, `spdy`, `portforward`) or a WebSocket (`ws`),
//! the Kubernetes streaming protocols of `pier_k8s_stream`, and the
//! session (`session`) goes through the shims as the Docker API's exec and
//! attach do.

mod cache;
mod dial;
mod portforward;
mod session;
mod spdy;
mod spdy_conn;
mod ws;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use pier_cri_api::tonic::Status;
use pier_cri_api::v1 as cri;
use pier_k8s_stream::{portforward as pf, remotecommand};

use crate::daemon::Daemon;

/// An exec as asked for by `RuntimeService.Exec`.
#[derive(Debug, Clone)]
pub(crate) struct ExecRequest {
    pub container_id: String,
    pub cmd: Vec<String>,
    pub tty: bool,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// An attach as asked for by `RuntimeService.Attach`.
#[derive(Debug, Clone)]
pub(crate) struct AttachRequest {
    pub container_id: String,
    pub tty: bool,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// What a token stands for.
#[derive(Debug, Clone)]
pub(crate) enum StreamRequest {
    Exec(ExecRequest),
    Attach(AttachRequest),
    /// The sandbox's full id and the request's ports (SPDY clients name
    /// the port of each stream; a WebSocket gets the ports given here, else
    /// those of its `port` query parameters).
    PortForward {
        sandbox_id: String,
        ports: Vec<u16>,
    },
}

impl StreamRequest {
    fn path(&self) -> &'static str {
        match self {
            StreamRequest::Exec(_) => "exec",
            StreamRequest::Attach(_) => "attach",
            StreamRequest::PortForward { .. } => "portforward",
        }
    }
}

/// Which standard streams a remotecommand session has.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Streams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

/// A refused stream request: its gRPC status, boxed (tonic's is large).
pub(crate) type Refused = Box<Status>;

fn refuse(s: Status) -> Refused {
    Box::new(s)
}

/// The kubelet's checks of a stream request's stdio.
fn check_stdio(tty: bool, stdin: bool, stdout: bool, stderr: bool) -> Result<(), Refused> {
    if tty && stderr {
        return Err(refuse(Status::invalid_argument("tty and stderr cannot both be true")));
    }
    if !stdin && !stdout && !stderr {
        return Err(refuse(Status::invalid_argument(
            "one of stdin, stdout, or stderr must be set",
        )));
    }
    Ok(())
}

/// The running streaming server.
pub struct StreamServer {
    daemon: Arc<Daemon>,
    cache: Mutex<cache::TokenCache<StreamRequest>>,
    /// `http://ADDR:PORT`.
    base: String,
}

impl StreamServer {
    /// Keep `req` under a new token; its URL.
    pub(crate) fn url(&self, req: StreamRequest) -> Result<String, Refused> {
        let path = req.path();
        let token = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cache::new_token(), req, Instant::now())
            .map_err(|e| refuse(Status::resource_exhausted(e)))?;
        Ok(format!("{}/{path}/{token}", self.base))
    }

    /// `RuntimeService.Exec`: validate, keep, answer the URL.
    pub(crate) fn exec(&self, r: cri::ExecRequest) -> Result<String, Refused> {
        check_stdio(r.tty, r.stdin, r.stdout, r.stderr)?;
        if r.cmd.is_empty() {
            return Err(refuse(Status::invalid_argument("missing required cmd")));
        }
        let container_id = self.running_container(&r.container_id)?;
        self.url(StreamRequest::Exec(ExecRequest {
            container_id,
            cmd: r.cmd,
            tty: r.tty,
            stdin: r.stdin,
            stdout: r.stdout,
            stderr: r.stderr,
        }))
    }

    /// `RuntimeService.Attach`.
    pub(crate) fn attach(&self, r: cri::AttachRequest) -> Result<String, Refused> {
        check_stdio(r.tty, r.stdin, r.stdout, r.stderr)?;
        let container_id = self.running_container(&r.container_id)?;
        self.url(StreamRequest::Attach(AttachRequest {
            container_id,
            tty: r.tty,
            stdin: r.stdin,
            stdout: r.stdout,
            stderr: r.stderr,
        }))
    }

    /// `RuntimeService.PortForward`.
    pub(crate) fn port_forward(&self, r: cri::PortForwardRequest) -> Result<String, Refused> {
        if r.pod_sandbox_id.is_empty() {
            return Err(refuse(Status::invalid_argument("missing required pod_sandbox_id")));
        }
        if let Some(p) = r.port.iter().find(|p| !(1..=65535).contains(*p)) {
            return Err(refuse(Status::invalid_argument(format!("invalid port {p}"))));
        }
        let c = super::sandbox::find(&self.daemon, &r.pod_sandbox_id)
            .ok_or_else(|| refuse(super::sandbox::not_found(&r.pod_sandbox_id)))?;
        if !c.record().state.is_running() {
            return Err(refuse(Status::failed_precondition(format!(
                "pod sandbox {} is not ready",
                r.pod_sandbox_id
            ))));
        }
        self.url(StreamRequest::PortForward {
            sandbox_id: c.id.clone(),
            ports: r.port.iter().filter_map(|p| u16::try_from(*p).ok()).collect(),
        })
    }

    /// The full id of the running container `id` (an id or unique prefix).
    fn running_container(&self, id: &str) -> Result<String, Refused> {
        if id.is_empty() {
            return Err(refuse(Status::invalid_argument("missing required container_id")));
        }
        let not_found = || refuse(Status::not_found(format!("container {id:?} not found")));
        let c = self.daemon.lookup(id).map_err(|_| not_found())?;
        if !c.id.starts_with(id) {
            return Err(not_found());
        }
        let rec = c.record();
        if !rec.state.is_running() || rec.state.paused {
            return Err(refuse(Status::failed_precondition(format!(
                "container {} is not running",
                c.id
            ))));
        }
        Ok(c.id.clone())
    }

    fn consume(&self, token: &str) -> Option<StreamRequest> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .consume(token, Instant::now())
    }
}

/// Bind the streaming server on `cri.stream-address`/`stream-port` and
/// serve it until the daemon shuts down.
pub fn spawn(daemon: Arc<Daemon>) -> anyhow::Result<(Arc<StreamServer>, tokio::task::JoinHandle<()>)> {
    let addr = std::net::SocketAddr::new(daemon.cfg.cri.stream_address, daemon.cfg.cri.stream_port);
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("bind the CRI streaming server on {addr}"))?;
    listener.set_nonblocking(true).context("streaming server socket")?;
    let listener = tokio::net::TcpListener::from_std(listener).context("streaming server socket")?;
    let local = listener.local_addr().context("streaming server address")?;
    tracing::info!(address = %local, "serving CRI streams");
    let server = Arc::new(StreamServer {
        daemon: daemon.clone(),
        cache: Mutex::new(cache::TokenCache::default()),
        base: format!("http://{local}"),
    });
    let app = axum::Router::new()
        .route("/{kind}/{token}", axum::routing::any(serve))
        .with_state(server.clone());
    let mut stop = daemon.shutdown_signal();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
            tracing::error!(error = %e, "CRI streaming server failed");
        }
    });
    Ok((server, task))
}

/// `port=P&port=Q,R` (the kubelet's `NewV4Options`).
fn query_ports(query: &str) -> Result<Vec<u16>, String> {
    let mut ports = Vec::new();
    for pair in query.split('&') {
        let Some(value) = pair.strip_prefix("port=") else {
            continue;
        };
        for p in value.split("%2C").flat_map(|v| v.split(',')) {
            ports.push(pf::parse_port(p)?);
        }
    }
    Ok(ports)
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{text}\n"),
    )
        .into_response()
}

fn is_websocket(h: &HeaderMap) -> bool {
    h.get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn is_spdy(h: &HeaderMap) -> bool {
    h.get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case(remotecommand::SPDY_31))
}

async fn serve(
    State(s): State<Arc<StreamServer>>,
    Path((kind, token)): Path<(String, String)>,
    req: Request,
) -> Response {
    let Some(request) = s.consume(&token).filter(|r| r.path() == kind) else {
        return plain(StatusCode::NOT_FOUND, "404 page not found");
    };
    let daemon = s.daemon.clone();
    if is_websocket(req.headers()) {
        return websocket(daemon, request, req).await;
    }
    if !is_spdy(req.headers()) {
        return plain(
            StatusCode::BAD_REQUEST,
            "unable to upgrade: missing upgrade headers in request",
        );
    }
    let server_protocols: &[&'static str] = match request {
        StreamRequest::PortForward { .. } => &[pf::PROTOCOL_V1],
        _ => remotecommand::SPDY_PROTOCOLS,
    };
    let offered: Vec<&str> = req
        .headers()
        .get_all(remotecommand::HEADER_PROTOCOL_VERSION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    // No offer: the oldest protocol, without negotiation (as the kubelet).
    let protocol = if offered.is_empty() {
        None
    } else {
        match remotecommand::negotiate(&offered, server_protocols) {
            Some(p) => Some(p),
            None => {
                let mut r = plain(
                    StatusCode::FORBIDDEN,
                    &format!(
                        "unable to upgrade: unable to negotiate protocol: client supports {offered:?}, server supports {server_protocols:?}"
                    ),
                );
                if let Ok(v) = HeaderValue::from_str(&server_protocols.join(", ")) {
                    r.headers_mut()
                        .insert(remotecommand::HEADER_ACCEPTED_PROTOCOL_VERSIONS, v);
                }
                return r;
            }
        }
    };
    let mut req = req;
    let on = hyper::upgrade::on(&mut req);
    let chosen = protocol.unwrap_or(match request {
        StreamRequest::PortForward { .. } => pf::PROTOCOL_V1,
        _ => remotecommand::V1,
    });
    tokio::spawn(async move {
        let io = match on.await {
            Ok(u) => TokioIo::new(u),
            Err(e) => {
                tracing::debug!(error = %e, "upgrade a CRI stream");
                return;
            }
        };
        match request {
            StreamRequest::Exec(r) => {
                let streams = Streams {
                    stdin: r.stdin,
                    stdout: r.stdout,
                    stderr: r.stderr,
                    tty: r.tty,
                };
                spdy::remotecommand(io, chosen, streams, |w| session::exec(daemon, r, w)).await
            }
            StreamRequest::Attach(r) => {
                let streams = Streams {
                    stdin: r.stdin,
                    stdout: r.stdout,
                    stderr: r.stderr,
                    tty: r.tty,
                };
                spdy::remotecommand(io, chosen, streams, |w| session::attach(daemon, r, w)).await
            }
            StreamRequest::PortForward { sandbox_id, .. } => portforward::spdy(io, daemon, sandbox_id).await,
        }
    });
    let mut r = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let h = r.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static(remotecommand::SPDY_31));
    if let Some(p) = protocol {
        h.insert(remotecommand::HEADER_PROTOCOL_VERSION, HeaderValue::from_static(p));
    }
    r
}

async fn websocket(daemon: Arc<Daemon>, request: StreamRequest, req: Request) -> Response {
    let (mut parts, _) = req.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    match request {
        StreamRequest::Exec(r) => {
            let streams = Streams {
                stdin: r.stdin,
                stdout: r.stdout,
                stderr: r.stderr,
                tty: r.tty,
            };
            upgrade
                .protocols(ws::PROTOCOLS)
                .on_upgrade(move |socket| ws::remotecommand(socket, streams, |w| session::exec(daemon, r, w)))
        }
        StreamRequest::Attach(r) => {
            let streams = Streams {
                stdin: r.stdin,
                stdout: r.stdout,
                stderr: r.stderr,
                tty: r.tty,
            };
            upgrade
                .protocols(ws::PROTOCOLS)
                .on_upgrade(move |socket| ws::remotecommand(socket, streams, |w| session::attach(daemon, r, w)))
        }
        StreamRequest::PortForward { sandbox_id, ports } => {
            let ports = if ports.is_empty() {
                query_ports(parts.uri.query().unwrap_or(""))
            } else {
                Ok(ports)
            };
            match ports {
                Ok(ports) if !ports.is_empty() => upgrade
                    .protocols([pf::WEBSOCKET_V4])
                    .on_upgrade(move |socket| portforward::websocket(socket, daemon, sandbox_id, ports)),
                Ok(_) => plain(StatusCode::BAD_REQUEST, "query parameter \"port\" is required"),
                Err(e) => plain(StatusCode::BAD_REQUEST, e.as_str()),
            }
        }
    }
}
