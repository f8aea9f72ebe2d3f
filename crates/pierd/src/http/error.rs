//! Error responses: one function maps daemon error kinds to status codes;
//! every error body is docker's `{"message": "..."}`, extractor rejections
//! included.

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use pier_api::ErrorResponse;
use serde::de::DeserializeOwned;

use pier_image::ImageError;

use crate::error::Error;
use crate::shim::ProcessFailure;

/// An HTTP error: status plus docker's message.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

/// The one place error kinds become status codes.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::NoSuchContainer(_)
        | Error::AmbiguousContainer(_)
        | Error::NoSuchImage(_)
        | Error::NoSuchVolume(_)
        | Error::NoSuchExec(_)
        | Error::PathNotFound { .. } => StatusCode::NOT_FOUND,
        Error::NameInUse { .. } | Error::NotRunning(_) | Error::RemoveRunning(_) | Error::Conflict(_) => {
            StatusCode::CONFLICT
        }
        Error::InvalidParameter(_) => StatusCode::BAD_REQUEST,
        Error::NotModified => StatusCode::NOT_MODIFIED,
        Error::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
        // dockerd: a missing or unrunnable executable is the caller's
        // mistake (400, exit code 127/126); anything else the runtime's.
        Error::StartFailed { failure, .. } => match failure {
            ProcessFailure::NotFound | ProcessFailure::PermissionDenied => StatusCode::BAD_REQUEST,
            ProcessFailure::Other => StatusCode::INTERNAL_SERVER_ERROR,
        },
        Error::ExecFailed { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        Error::Image { source, .. } => image_status(source),
        Error::Network(n) => network_status(n),
        Error::Shim { .. }
        | Error::Record(_)
        | Error::Volume(_)
        | Error::System { .. }
        | Error::NotPaused(_)
        | Error::PsArgs(_)
        | Error::Plain(_)
        | Error::UpdateFailed { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Network failures as dockerd classifies them.
fn network_status(e: &crate::network::NetworkError) -> StatusCode {
    use crate::network::NetworkError as N;
    match e {
        N::NotFound(_) | N::Driver(_) => StatusCode::NOT_FOUND,
        N::Exists(_) => StatusCode::CONFLICT,
        N::PredefinedCreate(_) | N::PredefinedRemove(_) | N::InUse { .. } | N::OneInstance(_) => StatusCode::FORBIDDEN,
        N::Ambiguous(_) | N::Invalid(_) | N::Ipam(_) => StatusCode::BAD_REQUEST,
        N::Unavailable(_) | N::Ports { .. } | N::Backend(_) | N::Netns(_) | N::Io { .. } => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        N::Cni(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Image and registry failures: a missing manifest or platform and a denied
/// repository are 404, malformed input 400, a tag in use 409.
fn image_status(e: &ImageError) -> StatusCode {
    match e {
        ImageError::NotFound { .. }
        | ImageError::ManifestUnknown { .. }
        | ImageError::NoMatchingPlatform { .. }
        | ImageError::Unauthorized { .. } => StatusCode::NOT_FOUND,
        ImageError::InvalidReference { .. }
        | ImageError::InvalidArchive { .. }
        | ImageError::NotAnImageArchive { .. }
        | ImageError::UnsafeEntry { .. }
        | ImageError::InvalidChange { .. }
        | ImageError::InvalidManifest { .. }
        | ImageError::InvalidPlatform { .. }
        | ImageError::DigestMismatch { .. } => StatusCode::BAD_REQUEST,
        ImageError::Conflict { .. } => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = status_of(&e);
        if status.is_server_error() {
            tracing::error!(error = %e, "request failed");
        }
        ApiError::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::NOT_MODIFIED {
            return StatusCode::NOT_MODIFIED.into_response();
        }
        (self.status, Json(ErrorResponse { message: self.message })).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON body; any failure (empty, truncated, wrong types) is a 400 with
/// docker's JSON error body.
#[derive(Debug)]
pub struct DockerJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for DockerJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("invalid JSON: empty request body"));
        }
        serde_json::from_slice(&bytes)
            .map(DockerJson)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
    }
}

/// Query parameters as ordered pairs (docker repeats keys such as
/// `changes`); a malformed query is a 400 JSON error.
#[derive(Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Params(v))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Docker's boolean query values: `1`/`true`/`True` are true, anything
    /// else (and absence) false.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| {
            let v = v.trim();
            !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false") || v.eq_ignore_ascii_case("no"))
        })
    }

    /// An optional integer; a malformed one is a 400.
    pub fn int(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.get(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {v:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(status_of(&Error::NoSuchContainer("x".into())), StatusCode::NOT_FOUND);
        assert_eq!(
            status_of(&Error::NameInUse {
                name: "a".into(),
                id: "b".into()
            }),
            StatusCode::CONFLICT
        );
        assert_eq!(status_of(&Error::NotModified), StatusCode::NOT_MODIFIED);
        assert_eq!(status_of(&Error::system("x", "y")), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(status_of(&Error::NoSuchExec("x".into())), StatusCode::NOT_FOUND);
        let start = |failure| Error::StartFailed {
            failure,
            message: "m".into(),
        };
        assert_eq!(status_of(&start(ProcessFailure::NotFound)), StatusCode::BAD_REQUEST);
        assert_eq!(
            status_of(&start(ProcessFailure::PermissionDenied)),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_of(&start(ProcessFailure::Other)),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let manifest = Error::image(ImageError::ManifestUnknown { reference: "r".into() });
        assert_eq!(status_of(&manifest), StatusCode::NOT_FOUND);
        assert_eq!(
            status_of(&Error::image(ImageError::InvalidManifest { reason: "r".into() })),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn params() {
        let p = Params(vec![
            ("all".into(), "1".into()),
            ("x".into(), "false".into()),
            ("t".into(), "5".into()),
        ]);
        assert!(p.flag("all"));
        assert!(!p.flag("x"));
        assert_eq!(p.int("t").expect("int"), Some(5));
        assert!(Params(vec![("t".into(), "x".into())]).int("t").is_err());
    }
}
