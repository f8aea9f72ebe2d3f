//! The one error type of the crate; each variant carries what failed.

use std::path::PathBuf;

/// Everything the image store can fail with.
///
/// Suggested HTTP mapping for pierd: `NotFound`, `ManifestUnknown` 404;
/// `InvalidReference`, `InvalidArchive`, `UnsafeEntry`, `InvalidChange`,
/// `InvalidManifest`, `InvalidPlatform`, `DigestMismatch` 400;
/// `Unauthorized` 403 (docker answers 404 for a denied pull); `Conflict` 409;
/// `NoMatchingPlatform` 404; `Registry` 502 (500 for docker); `Io`, `Corrupt` 500.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// No image matches the name, id or id prefix.
    #[error("No such image: {name}")]
    NotFound { name: String },
    /// The reference does not follow docker's grammar. `reason` is the full
    /// user-facing message, starting with "invalid reference format".
    #[error("{reason}")]
    InvalidReference { reference: String, reason: String },
    /// The body is not a (possibly compressed) tar archive, or it is truncated.
    #[error("invalid archive: {reason}")]
    InvalidArchive { reason: String },
    /// A `load` body that is not an image archive, in dockerd's words: Go's
    /// `archive/tar` errors for a stream that is not a tar, `invalid
    /// archive: does not contain a manifest.json` for a tar that holds no
    /// image.
    #[error("{message}")]
    NotAnImageArchive { message: String },
    /// The archive holds an entry that would escape its layer or that the
    /// store refuses to create.
    #[error("refusing archive entry {entry:?}: {reason}")]
    UnsafeEntry { entry: String, reason: String },
    /// A `--change` line that is not a supported Dockerfile instruction.
    #[error("invalid change {change:?}: {reason}")]
    InvalidChange { change: String, reason: String },
    /// The operation conflicts with the store's state (docker's 409 wording).
    #[error("{message}")]
    Conflict { message: String },
    /// The registry refused or failed a request.
    #[error("error from registry {registry}: {reason}")]
    Registry {
        registry: String,
        status: Option<u16>,
        reason: String,
    },
    /// The registry wants credentials we lack or refused the ones we sent.
    #[error("pull access denied for {registry}/{repository}, repository does not exist or may require 'docker login': {reason}")]
    Unauthorized {
        registry: String,
        repository: String,
        reason: String,
    },
    /// The registry has no manifest for the tag or digest.
    #[error("manifest for {reference} not found: manifest unknown")]
    ManifestUnknown { reference: String },
    /// A manifest, index or config that cannot be used.
    #[error("invalid manifest: {reason}")]
    InvalidManifest { reason: String },
    /// `--platform` that does not parse.
    #[error("invalid platform {platform:?}: expected os[/arch[/variant]]")]
    InvalidPlatform { platform: String },
    /// An index without a manifest for the wanted platform.
    #[error("no matching manifest for {platform} in the manifest list entries")]
    NoMatchingPlatform { platform: String },
    /// Content whose digest is not the one announced.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    /// The store's own files are not what it wrote.
    #[error("corrupt image store file {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ImageError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ImageError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid_archive(reason: impl Into<String>) -> Self {
        ImageError::InvalidArchive { reason: reason.into() }
    }

    pub(crate) fn unsafe_entry(entry: impl Into<String>, reason: impl Into<String>) -> Self {
        ImageError::UnsafeEntry {
            entry: entry.into(),
            reason: reason.into(),
        }
    }
}
