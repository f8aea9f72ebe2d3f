//! The Docker Engine API over HTTP/1.1 (axum on hyper). The only module
//! that knows HTTP: it parses requests, calls `Daemon` methods and renders
//! `pier_api` types. Every path is served bare and under `/v1.NN/`.

mod archive;
mod attach;
mod attach_ws;
mod channel_body;
mod containers;
mod convert;
mod disk_usage;
pub mod error;
mod events;
mod exec;
mod hijack;
mod images;
mod logs;
mod networks;
mod server;
mod stats;
#[cfg(test)]
mod surface_tests;
mod swarm;
mod system;
mod volumes;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use pier_api::version::{split_version_prefix, API_VERSION};

use crate::daemon::Daemon;
use error::ApiError;

/// Shared handler state.
pub type AppState = Arc<Daemon>;

/// The API routes (without the version rewrite).
pub fn router(daemon: Arc<Daemon>) -> Router {
    Router::new()
        .route("/_ping", get(system::ping))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/containers/create", post(containers::create))
        .route("/containers/json", get(containers::list))
        .route("/containers/prune", post(containers::prune))
        .route("/containers/{id}/json", get(containers::inspect))
        .route("/containers/{id}/start", post(containers::start))
        .route("/containers/{id}/stop", post(containers::stop))
        .route("/containers/{id}/kill", post(containers::kill))
        .route("/containers/{id}/restart", post(containers::restart))
        .route("/containers/{id}/rename", post(containers::rename))
        .route("/containers/{id}/pause", post(containers::pause))
        .route("/containers/{id}/unpause", post(containers::unpause))
        .route("/containers/{id}/top", get(containers::top))
        .route("/containers/{id}/update", post(containers::update))
        .route("/containers/{id}/wait", post(containers::wait))
        .route("/containers/{id}/logs", get(logs::logs))
        .route("/containers/{id}/attach", post(attach::attach))
        .route("/containers/{id}/attach/ws", get(attach_ws::attach_ws))
        .route("/containers/{id}/resize", post(attach::resize))
        .route("/containers/{id}/stats", get(stats::stats))
        .route("/system/df", get(disk_usage::df))
        .route("/events", get(events::events))
        .route("/containers/{id}/exec", post(exec::create))
        .route("/exec/{id}/start", post(exec::start))
        .route("/exec/{id}/resize", post(exec::resize))
        .route("/exec/{id}/json", get(exec::inspect))
        .route("/containers/{id}", delete(containers::remove))
        .route("/containers/{parent}/{alias}", delete(containers::remove_nested))
        .route("/images/create", post(images::create))
        .route("/images/json", get(images::list))
        .route("/images/load", post(images::load))
        .route("/images/prune", post(images::prune))
        .route("/images/get", get(images::save_many))
        .route(
            "/images/{*name}",
            get(images::inspect).post(images::post_action).delete(images::remove),
        )
        .route(
            "/containers/{id}/archive",
            get(archive::get).head(archive::head).put(archive::put),
        )
        .route("/containers/{id}/export", get(archive::export))
        .route("/containers/{id}/changes", get(archive::changes))
        .route("/commit", post(archive::commit))
        .route("/networks", get(networks::list))
        .route("/networks/create", post(networks::create))
        .route("/networks/prune", post(networks::prune))
        .route("/networks/{id}", get(networks::inspect).delete(networks::remove))
        .route("/networks/{id}/connect", post(networks::connect))
        .route("/networks/{id}/disconnect", post(networks::disconnect))
        .route("/volumes", get(volumes::list))
        .route("/volumes/create", post(volumes::create))
        .route("/volumes/prune", post(volumes::prune))
        .route("/volumes/{name}", get(volumes::inspect).delete(volumes::remove))
        .merge(swarm::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(daemon)
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "page not found")
}

/// Strip a `/v1.NN` prefix before routing, refuse versions out of bounds,
/// record the version for handlers, and stamp docker's headers.
pub async fn version_prefix(mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let version = match split_version_prefix(&path) {
        Ok((Some(v), rest)) => {
            if let Err(e) = v.check_supported() {
                return stamp(ApiError::bad_request(e.to_string()).into_response());
            }
            let pq = match req.uri().query() {
                Some(q) => format!("{rest}?{q}"),
                None => rest.to_string(),
            };
            match pq.parse::<Uri>() {
                Ok(uri) => *req.uri_mut() = uri,
                Err(e) => return stamp(ApiError::bad_request(e.to_string()).into_response()),
            }
            v
        }
        Ok((None, _)) => API_VERSION,
        Err(e) => return stamp(ApiError::bad_request(e.to_string()).into_response()),
    };
    req.extensions_mut().insert(version);
    let method = req.method().clone();
    let resp = next.run(req).await;
    tracing::debug!(%method, %path, status = resp.status().as_u16(), "request");
    stamp(resp)
}

fn stamp(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(api_version_str()));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert("Server", HeaderValue::from_static("Pier"));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    resp
}

fn api_version_str() -> &'static str {
    // Keep in step with pier_api::version::API_VERSION (checked in a test).
    "1.50"
}

/// Serve the API on `listener` until `shutdown` resolves, then drain;
/// bounded by the daemon's `ApiLimits` (connection cap from the soft
/// `RLIMIT_NOFILE` unless configured).
pub async fn serve(
    listener: tokio::net::UnixListener,
    daemon: Arc<Daemon>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use tower_layer::Layer;
    let api = daemon.cfg.api;
    let max_connections = api.max_connections.unwrap_or_else(|| {
        let (soft, _) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap_or((1024, 1024));
        crate::config::connection_cap(soft)
    });
    tracing::debug!(max_connections, header_read_timeout = ?api.header_read_timeout, "API limits");
    let app = axum::middleware::from_fn(version_prefix).layer(router(daemon));
    let limits = server::Limits {
        max_connections,
        header_read_timeout: api.header_read_timeout,
    };
    server::serve(listener, app, limits, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_version_matches_contract() {
        assert_eq!(api_version_str(), API_VERSION.to_string());
    }
}
