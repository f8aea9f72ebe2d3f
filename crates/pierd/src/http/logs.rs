//! `GET /containers/{id}/logs`: stdcopy frames (or raw bytes with a TTY).

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use pier_api::stdcopy::{self, StreamType};
use pier_api::version::{stream_format, ApiVersion};

use super::error::{ApiError, ApiResult, Params};
use super::AppState;
use crate::daemon::LogsOptions;

pub(super) fn time_param(params: &Params, key: &str) -> ApiResult<Option<i64>> {
    let raw = params.get(key).unwrap_or("");
    if raw.is_empty() {
        return Ok(None);
    }
    // `0` means "not set", as in dockerd.
    pier_time::parse_unix_seconds(raw)
        .map(|n| (n != 0).then_some(n))
        .or_else(|| pier_time::parse_rfc3339(raw).map(Some))
        .ok_or_else(|| ApiError::bad_request(format!("invalid value for \"{key}\": {raw:?}")))
}

/// `tail`: a number of lines, or everything for `all`, a negative number
/// or anything unparsable (as dockerd).
fn tail_param(params: &Params) -> Option<usize> {
    params
        .get("tail")
        .and_then(|n| n.trim().parse::<i64>().ok())
        .and_then(|n| usize::try_from(n).ok())
}

pub async fn logs(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Extension(version): Extension<ApiVersion>,
    params: Params,
) -> ApiResult<Response> {
    let opts = LogsOptions {
        stdout: params.flag("stdout"),
        stderr: params.flag("stderr"),
        follow: params.flag("follow"),
        tail: tail_param(&params),
        since: time_param(&params, "since")?,
        until: time_param(&params, "until")?,
        timestamps: params.flag("timestamps"),
        details: params.flag("details"),
    };
    let stream = d.logs(&id, opts)?;
    let tty = stream.tty;
    let content_type = stream_format(tty, version).content_type;
    let body = futures_util::stream::unfold(stream.rx, move |mut rx| async move {
        let item = rx.recv().await?;
        let bytes = match item {
            Ok(chunk) => chunk,
            Err(message) => {
                tracing::warn!(error = %message, "read container log");
                if tty {
                    Vec::new()
                } else {
                    let mut out = Vec::new();
                    stdcopy::encode_into(&mut out, StreamType::SystemErr, message.as_bytes());
                    out
                }
            }
        };
        Some((Ok::<_, Infallible>(bytes), rx))
    });
    Ok(([(header::CONTENT_TYPE, content_type)], Body::from_stream(body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_as_dockerd() {
        let p = |v: &str| Params(vec![("tail".into(), v.into())]);
        assert_eq!(tail_param(&p("3")), Some(3));
        assert_eq!(tail_param(&p("0")), Some(0));
        assert_eq!(tail_param(&p("all")), None);
        assert_eq!(tail_param(&p("-1")), None);
        assert_eq!(tail_param(&p("x")), None);
        assert_eq!(tail_param(&Params(Vec::new())), None);
    }
}
