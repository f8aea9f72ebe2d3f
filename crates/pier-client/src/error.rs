//! The client's error type.

use std::io;
use std::path::PathBuf;

/// Everything a call through [`crate::Client`] can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `-H` was not `unix:///path` (or a bare absolute path).
    #[error("invalid host {0:?}: only unix:///path is supported")]
    InvalidHost(String),

    /// The socket could not be dialed: no daemon, or no permission.
    #[error("{}", connect_message(host, source))]
    Connect {
        host: String,
        socket: PathBuf,
        #[source]
        source: io::Error,
    },

    /// Reading or writing the connection failed after it was established.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },

    /// The daemon answered with an error status; `message` is the
    /// `{"message": ...}` body (or the raw body when it was not JSON).
    #[error("Error response from daemon: {message}")]
    Daemon { status: u16, message: String },

    /// The response was not HTTP/1.x as we understand it.
    #[error("bad response to {path}: {source}")]
    Http {
        path: String,
        #[source]
        source: crate::http::HttpError,
    },

    /// A JSON body did not decode into the expected type.
    #[error("decode {what} from {path}: {source}")]
    Json {
        what: &'static str,
        path: String,
        #[source]
        source: serde_json::Error,
    },

    /// A request body could not be encoded.
    #[error("encode request body for {path}: {source}")]
    Encode {
        path: String,
        #[source]
        source: serde_json::Error,
    },

    /// A multiplexed (stdcopy) stream carried a malformed frame.
    #[error("decode stream from {path}: {source}")]
    Frame {
        path: String,
        #[source]
        source: pier_api::stdcopy::FrameError,
    },

    /// A progress stream (`/images/create`) reported an error.
    #[error("{message}")]
    Progress { message: String },

    /// A hijack request was answered without upgrading the connection.
    #[error("{path}: daemon did not hijack the connection (status {status})")]
    NotHijacked { path: String, status: u16 },
}

impl Error {
    /// HTTP status of a daemon error, if this is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Daemon { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for a daemon 404 (`No such container`, `No such image`).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// True when the daemon could not be reached at all.
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Connect { .. })
    }
}

fn connect_message(host: &str, source: &io::Error) -> String {
    match source.kind() {
        io::ErrorKind::PermissionDenied => {
            format!("permission denied while trying to connect to the Pier daemon socket at {host}: {source}")
        }
        _ => format!("Cannot connect to the Pier daemon at {host}. Is the pier daemon running?"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_docker_wording() {
        let e = Error::Connect {
            host: "unix:///run/pier/pier.sock".into(),
            socket: "/run/pier/pier.sock".into(),
            source: io::Error::from(io::ErrorKind::ConnectionRefused),
        };
        assert_eq!(
            e.to_string(),
            "Cannot connect to the Pier daemon at unix:///run/pier/pier.sock. Is the pier daemon running?"
        );
        let e = Error::Daemon {
            status: 404,
            message: "No such container: x".into(),
        };
        assert_eq!(e.to_string(), "Error response from daemon: No such container: x");
        assert!(e.is_not_found());
    }
}
