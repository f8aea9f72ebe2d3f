//! The daemon's one error type. Messages use docker's wording because
//! clients (the docker CLI among them) show them as they are;
//! `http::error::status_of` maps each variant to a status code in one place.
//! Internal faults carry their source error, never a flattened string.

use pier_image::ImageError;

use crate::record::RecordError;
use crate::shim::{ProcessFailure, ShimError};
use crate::volumes::VolumeError;

/// A boxed source error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong serving a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("multiple containers found with provided prefix: {0}")]
    AmbiguousContainer(String),
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("get {0}: no such volume")]
    NoSuchVolume(String),
    #[error("No such exec instance: {0}")]
    NoSuchExec(String),
    #[error("Could not find the file {path} in container {container}")]
    PathNotFound { path: String, container: String },
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse { name: String, id: String },
    #[error("{0}")]
    InvalidParameter(String),
    #[error("Container {0} is not running")]
    NotRunning(String),
    /// Unpause of a container that is not paused (dockerd: a 500).
    #[error("Container {0} is not paused")]
    NotPaused(String),
    /// The runtime refused an update (dockerd: a 500).
    #[error("Cannot update container {id}: {message}")]
    UpdateFailed { id: String, message: String },
    /// `top`'s arguments or `ps`'s output refused (dockerd: a 500).
    #[error("{0}")]
    PsArgs(String),
    /// An error dockerd returns without a class (so a 500), in its words:
    /// `rm --link` of a name that is no link, a kill with no exit event,
    /// bad exec detach keys.
    #[error("{0}")]
    Plain(String),
    #[error(
        "cannot remove container \"/{0}\": container is running: stop the container before removing or force remove"
    )]
    RemoveRunning(String),
    #[error("{0}")]
    Conflict(String),
    /// Nothing to do (already started, already stopped): HTTP 304.
    #[error("not modified")]
    NotModified,
    #[error("{0}")]
    NotImplemented(String),
    /// The container's process could not be started: the runtime's words,
    /// and how it failed (from the shim's error code).
    #[error("{message}")]
    StartFailed { failure: ProcessFailure, message: String },
    /// An exec's process could not be started (the exec records
    /// `failure.exit_code()`).
    #[error("{message}")]
    ExecFailed { failure: ProcessFailure, message: String },
    /// A call to a container's shim failed.
    #[error("{context}: {source}")]
    Shim {
        context: String,
        #[source]
        source: ShimError,
    },
    /// An image store or registry operation failed; `context` may be empty
    /// (the image error's own words are docker's).
    #[error("{}{source}", if context.is_empty() { String::new() } else { format!("{context}: ") })]
    Image {
        context: String,
        #[source]
        source: ImageError,
    },
    /// A network operation failed (docker's words; status by kind).
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
    /// Writing or reading a record file failed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// A volume store operation failed.
    #[error(transparent)]
    Volume(#[from] VolumeError),
    /// A real internal fault: what failed ("verb noun"), with its cause.
    #[error("{context}: {source}")]
    System {
        context: String,
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// An internal fault with a short "verb noun" context; `err` is any
    /// error (or a message).
    pub fn system(context: impl std::fmt::Display, err: impl Into<BoxError>) -> Self {
        Error::System {
            context: context.to_string(),
            source: err.into(),
        }
    }

    /// A failed shim call with a short "verb noun" context.
    pub fn shim(context: impl std::fmt::Display, source: ShimError) -> Self {
        Error::Shim {
            context: context.to_string(),
            source,
        }
    }

    /// An image error shown in its own words.
    pub fn image(source: ImageError) -> Self {
        Error::Image {
            context: String::new(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
