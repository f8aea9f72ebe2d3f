//! The Kubernetes CRI (`runtime.v1`) server: gRPC (tonic) on its own unix
//! socket, off unless `cri.socket` / `--cri-socket` is configured. It is a
//! second front door beside `http/` onto the same `Daemon`: images come from
//! the same store, and (later) pods' containers are Pier containers marked
//! by labels. `mapping` holds the pure CRI <-> Pier mapping; `runtime` and
//! `images` are the two services.

mod authority;
pub mod container;
pub mod container_config;
mod exec_sync;
mod images;
pub mod mapping;
mod runtime;
mod sandbox;
mod stats;
mod stream;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use pier_cri_api::tonic::{transport::Server, Status};
use pier_cri_api::v1 as cri;
use pier_cri_api::v1::image_service_server::ImageServiceServer;
use pier_cri_api::v1::runtime_service_server::RuntimeServiceServer;

use crate::daemon::Daemon;
use crate::error::Error;

pub use runtime::{KUBELET_API_VERSION, RUNTIME_NAME};

/// The running CRI server.
pub struct CriServer {
    task: tokio::task::JoinHandle<()>,
    socket: std::path::PathBuf,
    /// The streaming server (exec, attach, port-forward URLs).
    streams: tokio::task::JoinHandle<()>,
}

impl CriServer {
    /// After the daemon's shutdown signal: let in-flight calls finish (at
    /// most 5 s), then remove the socket.
    pub async fn stop(self) {
        let abort = self.task.abort_handle();
        if tokio::time::timeout(std::time::Duration::from_secs(5), self.task)
            .await
            .is_err()
        {
            abort.abort();
        }
        let _ = std::fs::remove_file(&self.socket);
        let abort = self.streams.abort_handle();
        if tokio::time::timeout(std::time::Duration::from_secs(5), self.streams)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

/// Bind `socket` (a stale socket file is replaced; mode 0660, root's) and
/// serve the CRI on it until the daemon shuts down.
pub fn spawn(daemon: Arc<Daemon>, socket: &Path) -> anyhow::Result<CriServer> {
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    match std::fs::remove_file(socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("remove stale socket {}", socket.display())),
    }
    let listener =
        tokio::net::UnixListener::bind(socket).with_context(|| format!("bind CRI socket {}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod {}", socket.display()))?;
    tracing::info!(socket = %socket.display(), "serving the CRI");
    let incoming = futures_util::stream::unfold(listener, |l| async move {
        let next = l.accept().await.map(|(stream, _)| authority::proxied(stream));
        Some((next, l))
    });
    let mut stop = daemon.shutdown_signal();
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let (stream, streams) = stream::spawn(daemon.clone())?;
    let server = Server::builder()
        .add_service(RuntimeServiceServer::new(runtime::Runtime {
            daemon: daemon.clone(),
            stream,
        }))
        .add_service(ImageServiceServer::new(images::Images { daemon }));
    let task = tokio::spawn(async move {
        if let Err(e) = server.serve_with_incoming_shutdown(incoming, shutdown).await {
            tracing::error!(error = %e, "CRI server failed");
        }
    });
    Ok(CriServer {
        task,
        socket: socket.to_path_buf(),
        streams,
    })
}

/// A daemon error as a gRPC status.
pub(crate) fn status_of(e: Error) -> Status {
    let message = e.to_string();
    match e {
        Error::NoSuchContainer(_) | Error::NoSuchImage(_) | Error::NoSuchVolume(_) | Error::NoSuchExec(_) => {
            Status::not_found(message)
        }
        Error::InvalidParameter(_) => Status::invalid_argument(message),
        Error::Conflict(_) | Error::NameInUse { .. } | Error::RemoveRunning(_) | Error::NotRunning(_) => {
            Status::failed_precondition(message)
        }
        Error::NotImplemented(_) => Status::unimplemented(message),
        Error::Image { source, .. } => image_status(&source, message),
        _ => Status::unknown(message),
    }
}

fn image_status(e: &pier_image::ImageError, message: String) -> Status {
    use pier_image::ImageError as E;
    match e {
        E::NotFound { .. } | E::ManifestUnknown { .. } => Status::not_found(message),
        E::InvalidReference { .. } => Status::invalid_argument(message),
        _ => Status::unknown(message),
    }
}

/// Bytes and inodes used under `root` (not following symlinks, not
/// crossing into other file systems' mounts), as CRI's `FilesystemUsage`.
pub(crate) fn fs_usage(root: &Path) -> cri::FilesystemUsage {
    use std::os::unix::fs::MetadataExt;
    let (mut bytes, mut inodes) = (0u64, 0u64);
    let dev = std::fs::symlink_metadata(root).map(|m| m.dev()).ok();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            inodes += 1;
            bytes += meta.blocks() * 512;
            if meta.is_dir() && Some(meta.dev()) == dev {
                stack.push(entry.path());
            }
        }
    }
    cri::FilesystemUsage {
        timestamp: pier_time::now_nanos(),
        fs_id: Some(cri::FilesystemIdentifier {
            mountpoint: root.display().to_string(),
        }),
        used_bytes: Some(cri::UInt64Value { value: bytes }),
        inodes_used: Some(cri::UInt64Value { value: inodes }),
    }
}
