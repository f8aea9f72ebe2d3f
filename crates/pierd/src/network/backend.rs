//! The seam between pierd's networking and the program that plumbs it:
//! netavark today, a native netlink backend possibly later. A backend
//! renders an attachment into its own input, which pierd persists before
//! the setup and hands back unchanged for the teardown (so a teardown
//! after an upgrade or a crash replays exactly what was set up).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Attachment, NetworkRecord};

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("run {binary}: {source}")]
    Spawn { binary: PathBuf, source: std::io::Error },
    #[error("netavark {verb}: {message}")]
    Failed { verb: String, message: String },
    #[error("encode the network backend's input: {0}")]
    Input(String),
}

/// What a setup made that pierd shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetupStatus {
    /// MAC address per (network name, interface).
    pub macs: BTreeMap<(String, String), String>,
    /// DNS servers the backend runs for the container (aardvark-dns).
    pub dns_servers: Vec<String>,
}

pub trait NetworkBackend: Send + Sync + std::fmt::Debug {
    /// Recorded with each attachment.
    fn name(&self) -> &'static str;
    /// The backend's input for `a`, persisted before [`setup`] and replayed
    /// by [`teardown`].
    ///
    /// [`setup`]: NetworkBackend::setup
    /// [`teardown`]: NetworkBackend::teardown
    fn render(&self, a: &Attachment, networks: &[&NetworkRecord]) -> Result<serde_json::Value, BackendError>;
    /// Plumb the network namespace at `netns`. On error the caller tears
    /// down with the same input (a failed setup can leave state behind).
    fn setup(&self, netns: &Path, input: &serde_json::Value) -> Result<SetupStatus, BackendError>;
    fn teardown(&self, netns: &Path, input: &serde_json::Value) -> Result<(), BackendError>;
}
