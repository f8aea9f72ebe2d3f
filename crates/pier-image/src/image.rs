//! The store's view of an image: plain Rust types, no OCI or API types.

use std::collections::BTreeMap;

/// An image in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// `sha256:<64 hex>`: the digest of the image config blob.
    pub id: String,
    /// Familiar references, sorted: `busybox:latest`, `127.0.0.1:5000/x/y:1`.
    pub repo_tags: Vec<String>,
    /// Familiar digest references (`busybox@sha256:...`); empty for imports.
    pub repo_digests: Vec<String>,
    /// Creation time, unix seconds.
    pub created: i64,
    /// Creation time as written in the config (RFC 3339), for inspect.
    pub created_rfc3339: String,
    /// Sum of the unpacked layer sizes in bytes.
    pub size: u64,
    /// GOARCH naming: `amd64`, `arm64`.
    pub architecture: String,
    /// GOOS naming: `linux`.
    pub os: String,
    pub author: String,
    pub comment: String,
    /// The runtime defaults `create`/`run` apply.
    pub config: ImageConfig,
    /// `sha256:<hex>` digests of the uncompressed layers, bottom-most first.
    pub diff_ids: Vec<String>,
    /// The image a commit was made from (`sha256:<hex>`), empty otherwise
    /// (docker's `Parent`; pulled and loaded images have none).
    pub parent: String,
}

/// The execution defaults of an image (the OCI config's `config` object).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// `KEY=value` entries, in order.
    pub env: Vec<String>,
    /// `None` when the image sets no Cmd (docker's `null`).
    pub cmd: Option<Vec<String>>,
    /// `None` when the image sets no Entrypoint (docker's `null`).
    pub entrypoint: Option<Vec<String>>,
    /// Empty when unset.
    pub working_dir: String,
    /// Empty when unset.
    pub user: String,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
    /// `80/tcp`, `53/udp`; sorted.
    pub exposed_ports: Vec<String>,
    /// Container paths; sorted.
    pub volumes: Vec<String>,
    /// Docker's `Healthcheck` (not in the OCI schema; read from the raw
    /// config).
    pub healthcheck: Option<Healthcheck>,
    /// Docker's `Shell` (`CMD-SHELL` probes and shell-form commands).
    pub shell: Option<Vec<String>>,
}

/// An image's `HEALTHCHECK`: docker's `Config.Healthcheck`, durations in
/// nanoseconds (0: inherit or default).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Healthcheck {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    #[serde(skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// One step of a remove, in the order docker reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    /// A reference was removed, in familiar form (`busybox:latest`).
    Untagged(String),
    /// An image (`sha256:<hex>` id) or a layer (`sha256:<diff id>`) was deleted.
    Deleted(String),
}
