//! `POST /containers/{id}/attach` (hijacked) and `POST /containers/{id}/resize`.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::Extension;
use pier_api::version::{stream_format, ApiVersion};
use tokio::io::AsyncWriteExt;

use super::error::{ApiError, ApiResult, Params};
use super::hijack::{self, ClientConn};
use super::AppState;
use crate::daemon::streams::session::{self, SessionOptions};
use crate::daemon::{wait_for_shim, AttachParams, LogsOptions};

pub async fn attach(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Extension(version): Extension<ApiVersion>,
    params: Params,
    mut req: Request,
) -> ApiResult<axum::response::Response> {
    let p = AttachParams {
        stdin: params.flag("stdin"),
        stdout: params.flag("stdout"),
        stderr: params.flag("stderr"),
        logs: params.flag("logs"),
        detach_keys: params.get("detachKeys").map(str::to_string),
    };
    if !params.flag("stream") {
        return logs_only(d, &id, version, p, &mut req);
    }
    let target = d.attach(&id, p).await?;
    let format = stream_format(target.tty, version);
    let opts = SessionOptions {
        tty: target.tty,
        multiplexed: format.multiplexed,
        stdin: target.stdin,
        detach_keys: target.detach_keys,
    };
    let source = target.source;
    let d = d.clone();
    Ok(hijack::respond(
        &mut req,
        format.content_type,
        move |mut conn: ClientConn| async move {
            let Some((shim, early)) = wait_for_shim(&mut conn, source).await else {
                return;
            };
            let end = session::pump(conn, shim, early, opts, |_| {}).await;
            tracing::debug!(?end, "attach session ended");
            if end == session::SessionEnd::Detached {
                if let Ok(c) = d.lookup(&id) {
                    d.container_event(&c.record(), "detach", &[]);
                }
            }
        },
    ))
}

/// `stream=0`: the log (with `logs=1`) and nothing else.
fn logs_only(
    d: AppState,
    id: &str,
    version: ApiVersion,
    p: AttachParams,
    req: &mut Request,
) -> ApiResult<axum::response::Response> {
    let c = d.lookup(id)?;
    let tty = c.record().spec.process.stdio.tty;
    let content_type = stream_format(tty, version).content_type;
    let logs = if p.logs && (p.stdout || p.stderr) {
        Some(d.logs(
            id,
            LogsOptions {
                stdout: p.stdout,
                stderr: p.stderr,
                follow: false,
                tail: None,
                since: None,
                until: None,
                timestamps: false,
                details: false,
            },
        )?)
    } else {
        None
    };
    Ok(hijack::respond(
        req,
        content_type,
        move |mut conn: ClientConn| async move {
            if let Some(mut logs) = logs {
                // The reader encodes for the container (frames unless TTY),
                // which is what every API version gets.
                while let Some(Ok(bytes)) = logs.rx.recv().await {
                    if conn.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
            }
            let _ = conn.shutdown().await;
        },
    ))
}

/// `h` and `w` as docker reads them (both required, unsigned).
pub fn size_params(params: &Params) -> ApiResult<(u16, u16)> {
    let get = |k: &str| -> ApiResult<u16> {
        let v = params.get(k).unwrap_or("");
        v.parse::<u16>()
            .map_err(|_| ApiError::bad_request(format!("strconv.Atoi: parsing {v:?}: invalid syntax")))
    };
    Ok((get("h")?, get("w")?))
}

pub async fn resize(State(d): State<AppState>, Path(id): Path<String>, params: Params) -> ApiResult<StatusCode> {
    let (h, w) = size_params(&params)?;
    d.resize(&id, h, w).await?;
    Ok(StatusCode::OK)
}
