//! `GET /containers/{id}/logs`: stdcopy frames (or raw bytes with a TTY).

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use pier_api::stdcopy::{self, StreamType};
use pier_api::version::ApiVersion;
use pier_log::Stream;

use super::error::{ApiError, ApiResult, Params};
use super::AppState;
use crate::clock;
use crate::daemon::{LogChunk, LogsOptions};

fn time_param(params: &Params, key: &str) -> ApiResult<Option<i64>> {
    let raw = params.get(key).unwrap_or("");
    clock::parse_unix_timestamp(raw)
        .or_else(|| pier_log::parse_timestamp(raw).map(Some))
        .ok_or_else(|| ApiError::bad_request(format!("invalid value for \"{key}\": {raw:?}")))
}

fn tail_param(params: &Params) -> ApiResult<Option<usize>> {
    match params.get("tail").unwrap_or("all") {
        "" | "all" => Ok(None),
        n => n
            .parse::<i64>()
            .map(|n| usize::try_from(n).ok())
            .map_err(|_| ApiError::bad_request(format!("invalid value for \"tail\": {n:?}"))),
    }
}

fn frame(chunk: LogChunk, tty: bool, timestamps: bool) -> Vec<u8> {
    let mut payload = Vec::with_capacity(chunk.line.len() + 32);
    if timestamps {
        payload.extend_from_slice(pier_log::format_timestamp(chunk.time).as_bytes());
        payload.push(b' ');
    }
    payload.extend_from_slice(&chunk.line);
    if tty {
        return payload;
    }
    let stream = match chunk.stream {
        Stream::Stdout => StreamType::Stdout,
        Stream::Stderr => StreamType::Stderr,
    };
    let mut out = Vec::with_capacity(payload.len() + stdcopy::HEADER_LEN);
    stdcopy::encode_into(&mut out, stream, &payload);
    out
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
        tail: tail_param(&params)?,
        since: time_param(&params, "since")?,
        until: time_param(&params, "until")?,
    };
    let timestamps = params.flag("timestamps");
    let stream = d.logs(&id, opts)?;
    let tty = stream.tty;
    let content_type = if !tty && version >= (ApiVersion { major: 1, minor: 42 }) {
        "application/vnd.docker.multiplexed-stream"
    } else {
        "application/vnd.docker.raw-stream"
    };
    let body = futures_util::stream::unfold(stream.rx, move |mut rx| async move {
        let item = rx.recv().await?;
        let bytes = match item {
            Ok(chunk) => frame(chunk, tty, timestamps),
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
    fn frames() {
        let c = LogChunk {
            stream: Stream::Stderr,
            time: 0,
            line: b"hi\n".to_vec(),
        };
        assert_eq!(
            frame(c.clone(), false, false),
            [2, 0, 0, 0, 0, 0, 0, 3, b'h', b'i', b'\n']
        );
        assert_eq!(frame(c.clone(), true, false), b"hi\n");
        let ts = frame(c, true, true);
        assert!(
            ts.starts_with(b"1970-01-01T00:00:00.000000000Z hi"),
            "{:?}",
            String::from_utf8_lossy(&ts)
        );
    }
}
