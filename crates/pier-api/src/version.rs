//! API version negotiation.
//!
//! Pier advertises [`API_VERSION`] and accepts requests from
//! [`MIN_API_VERSION`] up. Paths may carry a `/v1.NN` prefix; a request
//! without one is treated as [`API_VERSION`].

use std::fmt;

/// Highest API version Pier implements.
pub const API_VERSION: ApiVersion = ApiVersion { major: 1, minor: 50 };
/// Lowest API version Pier accepts.
pub const MIN_API_VERSION: ApiVersion = ApiVersion { major: 1, minor: 24 };

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
    fn bounds() {
        assert!(ApiVersion::parse("1.23").expect("parse").check_supported().is_err());
        assert!(ApiVersion::parse("1.51").expect("parse").check_supported().is_err());
        assert!(ApiVersion::parse("1.41").expect("parse").check_supported().is_ok());
        assert!(ApiVersion { major: 1, minor: 9 } < ApiVersion { major: 1, minor: 10 });
    }
}
