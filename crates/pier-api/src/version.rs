//! API version negotiation and the rules that depend on the version.
//!
//! Pier advertises [`API_VERSION`] and accepts requests from
//! [`MIN_API_VERSION`] up. Paths may carry a `/v1.NN` prefix; a request
//! without one is treated as [`API_VERSION`].
//!
//! Output streams (logs, attach, exec) are stdcopy-framed exactly when the
//! container or exec has no TTY, at every version. What changed in 1.42 is
//! the media type that says so: [`MULTIPLEXED_STREAM`] for framed streams
//! from 1.42 on, [`RAW_STREAM`] for everything before (and for TTY streams).
//! [`stream_format`] is the server's side of that rule, [`is_multiplexed`]
//! the client's.

use std::fmt;

/// Highest API version Pier implements.
pub const API_VERSION: ApiVersion = ApiVersion { major: 1, minor: 50 };
/// Lowest API version Pier accepts.
pub const MIN_API_VERSION: ApiVersion = ApiVersion { major: 1, minor: 24 };

/// The version from which framed streams carry [`MULTIPLEXED_STREAM`] and
/// attach websockets send binary messages.
pub const MULTIPLEXED_SINCE: ApiVersion = ApiVersion { major: 1, minor: 42 };

/// Media type of an unframed stream (TTY output, or any stream before 1.42).
pub const RAW_STREAM: &str = "application/vnd.docker.raw-stream";
/// Media type of a stdcopy-framed stream (no TTY, API >= 1.42).
pub const MULTIPLEXED_STREAM: &str = "application/vnd.docker.multiplexed-stream";

/// How the daemon sends one output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFormat {
    /// stdcopy frames (no TTY).
    pub multiplexed: bool,
    /// The `Content-Type` to announce.
    pub content_type: &'static str,
}

/// The daemon's rule: framed unless `tty`; the media type says so only
/// from [`MULTIPLEXED_SINCE`] on.
pub fn stream_format(tty: bool, version: ApiVersion) -> StreamFormat {
    StreamFormat {
        multiplexed: !tty,
        content_type: if !tty && version >= MULTIPLEXED_SINCE {
            MULTIPLEXED_STREAM
        } else {
            RAW_STREAM
        },
    }
}

/// The client's rule: whether a stream response is framed. The
/// `Content-Type` decides when it is [`MULTIPLEXED_STREAM`], or
/// [`RAW_STREAM`] from a daemon at `version` >= 1.42; otherwise the TTY
/// setting does (an older daemon says raw-stream for framed streams too).
pub fn is_multiplexed(content_type: Option<&str>, tty: bool, version: ApiVersion) -> bool {
    match content_type.map(|c| c.split(';').next().unwrap_or("").trim()) {
        Some(MULTIPLEXED_STREAM) => true,
        Some(RAW_STREAM) if version >= MULTIPLEXED_SINCE => false,
        _ => !tty,
    }
}

/// A `MAJOR.MINOR` Engine API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    pub major: u32,
    pub minor: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("invalid API version {0:?}")]
    Malformed(String),
    #[error("client version {0} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version")]
    TooOld(ApiVersion),
    #[error("client version {0} is too new. Maximum supported API version is {API_VERSION}")]
    TooNew(ApiVersion),
}

impl ApiVersion {
    /// Parse `1.41` (no leading `v`).
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        let bad = || VersionError::Malformed(s.to_string());
        let (a, b) = s.split_once('.').ok_or_else(bad)?;
        let major = a.parse().map_err(|_| bad())?;
        let minor = b.parse().map_err(|_| bad())?;
        Ok(ApiVersion { major, minor })
    }

    /// Check that a client's requested version is one Pier serves.
    pub fn check_supported(self) -> Result<Self, VersionError> {
        if self < MIN_API_VERSION {
            Err(VersionError::TooOld(self))
        } else if self > API_VERSION {
            Err(VersionError::TooNew(self))
        } else {
            Ok(self)
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Split a request path into its optional version prefix and the rest:
/// `/v1.41/containers/json` -> `(Some(1.41), "/containers/json")`.
pub fn split_version_prefix(path: &str) -> Result<(Option<ApiVersion>, &str), VersionError> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok((None, path));
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let candidate = &rest[..end];
    if !candidate.starts_with(|c: char| c.is_ascii_digit()) {
        return Ok((None, path));
    }
    let v = ApiVersion::parse(candidate)?;
    let tail = &rest[end..];
    Ok((Some(v), if tail.is_empty() { "/" } else { tail }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_prefix() {
        let (v, p) = split_version_prefix("/v1.41/containers/json").expect("split");
        assert_eq!(v, Some(ApiVersion { major: 1, minor: 41 }));
        assert_eq!(p, "/containers/json");
        assert_eq!(split_version_prefix("/_ping").expect("split"), (None, "/_ping"));
        assert_eq!(split_version_prefix("/volumes").expect("split"), (None, "/volumes"));
        assert!(split_version_prefix("/v1.x/ping").is_err());
    }

    #[test]
    fn stream_rules() {
        let v = |m| ApiVersion { major: 1, minor: m };
        assert_eq!(
            stream_format(false, v(42)),
            StreamFormat {
                multiplexed: true,
                content_type: MULTIPLEXED_STREAM
            }
        );
        assert_eq!(
            stream_format(false, v(41)),
            StreamFormat {
                multiplexed: true,
                content_type: RAW_STREAM
            }
        );
        assert_eq!(
            stream_format(true, v(50)),
            StreamFormat {
                multiplexed: false,
                content_type: RAW_STREAM
            }
        );
        for tty in [false, true] {
            for m in [24, 41, 42, 50] {
                let f = stream_format(tty, v(m));
                assert_eq!(
                    is_multiplexed(Some(f.content_type), tty, v(m)),
                    f.multiplexed,
                    "{tty} {m}"
                );
            }
        }
        assert!(is_multiplexed(
            Some("application/vnd.docker.multiplexed-stream; x=y"),
            true,
            v(50)
        ));
        assert!(is_multiplexed(None, false, v(50)));
    }

    #[test]
    fn bounds() {
        assert!(ApiVersion::parse("1.23").expect("parse").check_supported().is_err());
        assert!(ApiVersion::parse("1.51").expect("parse").check_supported().is_err());
        assert!(ApiVersion::parse("1.41").expect("parse").check_supported().is_ok());
        assert!(ApiVersion { major: 1, minor: 9 } < ApiVersion { major: 1, minor: 10 });
    }
}
