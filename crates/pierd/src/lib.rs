//! `pierd`, the Pier daemon: serves the Docker Engine API on a unix socket,
//! keeps the container table and the on-disk records, builds OCI bundles and
//! spawns one `pier-shim` per container.
//!
//! Layout: `http/` is the only module that knows HTTP; `model/` is Pier's
//! own container model (the spec built and validated at create, pure);
//! `daemon/` holds the container table and every operation, in parts
//! (lifecycle, streams, storage, images); `spec/` builds the OCI spec (pure);
//! `shim` speaks the shim protocol (one bounded handle per container, behind
//! a seam with in-process fakes); `rootfs` mounts overlayfs; `record`
//! writes `container.json` atomically and upgrades older versions; `lock` guards the data root;
//! `network` keeps networks, allocations and attachments (netavark plumbs them).
//!
//! It must not run the OCI runtime itself (the shim does), hold a lock across
//! `.await`, or kill containers when it stops: shims outlive the daemon and a
//! restarted daemon rebuilds its state from disk and shim sockets.

pub mod cgroup;
pub mod config;
pub mod cri;
pub mod daemon;
pub mod error;
mod http;
pub mod lock;
pub mod model;
pub mod names;
pub mod network;
pub mod private;
pub mod record;
pub mod rootfs;
pub mod shim;
pub mod spec;
pub mod sysinfo;
pub mod volumes;

use std::future::Future;

use anyhow::Context;

pub use config::DaemonConfig;
pub use lock::DataRootLock;

/// Run the daemon on `listener` until `shutdown` resolves: lock the data
/// root, restore containers, serve, then drain in-flight requests. Containers
/// and shims keep running after it returns.
pub async fn run(
    config: DaemonConfig,
    listener: tokio::net::UnixListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    private::prepare_process();
    let lock = DataRootLock::acquire(&config.data_root)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let daemon = daemon::Daemon::new(config, stop_rx).context("start daemon")?;
    daemon.restore().await.context("restore containers")?;
    let cri_server = match daemon.cfg.cri.socket.clone() {
        Some(socket) => Some(cri::spawn(daemon.clone(), &socket).context("start the CRI server")?),
        None => None,
    };
    tracing::info!(data_root = %daemon.cfg.data_root.display(), "pierd ready");
    if let Some(path) = daemon.cfg.config_file.clone() {
        spawn_reloader(daemon.clone(), path);
    }
    let graceful = async move {
        shutdown.await;
        tracing::info!("shutting down");
        // End long-lived streams (follow, wait) so the drain finishes.
        let _ = stop_tx.send(true);
    };
    let served = http::serve(listener, daemon.clone(), graceful).await;
    if let Some(server) = cri_server {
        server.stop().await;
    }
    daemon.stop_monitors();
    drop(lock);
    served.context("serve API")
}

/// Reload `path` on every SIGHUP (dockerd's live reload).
fn spawn_reloader(daemon: std::sync::Arc<daemon::Daemon>, path: std::path::PathBuf) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "no SIGHUP reload");
            return;
        }
    };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let (d, p) = (daemon.clone(), path.clone());
            let _ = tokio::task::spawn_blocking(move || d.reload_from(&p)).await;
        }
    });
}
