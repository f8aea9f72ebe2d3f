//! Hijacked connections: `Upgrade: tcp` gets `101` and the raw connection
//! (through `hyper::upgrade::on`); without the header the same stream is
//! the body of a `200` (output only), as dockerd answers such clients.
//!
//! The `101` head is written and flushed by hyper before the upgrade
//! resolves, so no stream byte shares a read with it (docker-py's race).

use std::future::Future;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// A client connection once hijacked.
pub trait ClientIo: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> ClientIo for T {}

pub type ClientConn = Box<dyn ClientIo>;

fn wants_upgrade(h: &HeaderMap) -> bool {
    h.get(header::UPGRADE).is_some()
}

/// Answer the request and run `session` on the client's connection.
pub fn respond<F, Fut>(req: &mut Request, content_type: &'static str, session: F) -> Response
where
    F: FnOnce(ClientConn) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if wants_upgrade(req.headers()) {
        let on = hyper::upgrade::on(req);
        tokio::spawn(async move {
            match on.await {
                Ok(upgraded) => session(Box::new(TokioIo::new(upgraded))).await,
                Err(e) => tracing::warn!(error = %e, "upgrade attach connection"),
            }
        });
        return (
            StatusCode::SWITCHING_PROTOCOLS,
            [
                (header::CONNECTION, "Upgrade"),
                (header::UPGRADE, "tcp"),
                (header::CONTENT_TYPE, content_type),
            ],
        )
            .into_response();
    }
    // No upgrade: the session writes into a pipe whose other end is the
    // body; its input never yields (there is no way to send stdin).
    let (ours, body_end) = tokio::io::duplex(256 * 1024);
    tokio::spawn(session(Box::new(ours)));
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(body_end));
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}
