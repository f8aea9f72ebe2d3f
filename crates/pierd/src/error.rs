//! The daemon's error kinds. Messages use docker's wording because clients
//! (the docker CLI among them) show them as they are; `http::error` maps each
//! kind to a status code in one place.

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
    #[error("Could not find the file {path} in container {container}")]
    PathNotFound { path: String, container: String },
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse { name: String, id: String },
    #[error("{0}")]
    InvalidParameter(String),
    #[error("Container {0} is not running")]
    NotRunning(String),
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
    /// A real internal fault; the text says what failed, with what.
    #[error("{0}")]
    System(String),
}

impl Error {
    /// An internal fault with a short "verb noun" context.
    pub fn system(context: impl std::fmt::Display, err: impl std::fmt::Display) -> Self {
        Error::System(format!("{context}: {err}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
