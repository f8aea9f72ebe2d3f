//! Exec endpoints: create, start (hijacked like attach, or detached),
//! resize, inspect.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use pier_api::container::IdResponse;
use pier_api::exec::{ExecCreateRequest, ExecInspect, ExecProcessConfig, ExecStartRequest};
use pier_api::stdcopy::{self, StreamType};
use pier_api::version::{stream_format, ApiVersion};
use tokio::io::AsyncWriteExt;

use super::attach::size_params;
use super::error::{ApiError, ApiResult, DockerJson, Params};
use super::hijack::{self, ClientConn};
use super::AppState;
use crate::daemon::streams::session::{self, EarlyInput, SessionEnd, SessionOptions};
use crate::daemon::{detach_keys, Daemon, Exec, ExecConfig};
use crate::error::Error;

fn size_of(cs: Option<[u32; 2]>) -> Option<(u16, u16)> {
    cs.map(|[h, w]| (h.min(u32::from(u16::MAX)) as u16, w.min(u32::from(u16::MAX)) as u16))
        .filter(|(h, w)| *h > 0 && *w > 0)
}

fn find(d: &Daemon, id: &str) -> ApiResult<Arc<Exec>> {
    Ok(d.exec_get(id).ok_or_else(|| Error::NoSuchExec(id.to_string()))?)
}

pub async fn create(
    State(d): State<AppState>,
    Path(id): Path<String>,
    DockerJson(r): DockerJson<ExecCreateRequest>,
) -> ApiResult<(StatusCode, Json<IdResponse>)> {
    let config = ExecConfig {
        cmd: r.cmd.unwrap_or_default(),
        env: r.env.unwrap_or_default(),
        working_dir: r.working_dir,
        user: r.user,
        privileged: r.privileged,
        tty: r.tty,
        attach_stdin: r.attach_stdin,
        attach_stdout: r.attach_stdout,
        attach_stderr: r.attach_stderr,
        detach_keys: r.detach_keys,
        console_size: size_of(r.console_size),
    };
    let exec_id = d.exec_create(&id, config)?;
    Ok((
        StatusCode::CREATED,
        Json(IdResponse {
            id: exec_id,
            warnings: None,
        }),
    ))
}

pub async fn start(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Extension(version): Extension<ApiVersion>,
    mut req: Request,
) -> ApiResult<Response> {
    let body = axum::body::to_bytes(std::mem::take(req.body_mut()), 1 << 20)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let e = find(&d, &id)?;
    let (start, tty) = if body.iter().all(u8::is_ascii_whitespace) {
        (ExecStartRequest::default(), e.config.tty)
    } else {
        let s: ExecStartRequest =
            serde_json::from_slice(&body).map_err(|err| ApiError::bad_request(format!("invalid JSON: {err}")))?;
        let tty = s.tty;
        (s, tty)
    };
    d.exec_begin(&e)?;
    let console_size = size_of(start.console_size);
    if start.detach {
        return match d.exec_launch(&e, true, console_size).await? {
            Ok(_) => Ok(StatusCode::OK.into_response()),
            Err(f) => Err(Error::from(f).into()),
        };
    }
    let format = stream_format(tty, version);
    let opts = SessionOptions {
        tty,
        multiplexed: format.multiplexed,
        stdin: e.config.attach_stdin,
        detach_keys: detach_keys::choose(e.config.detach_keys.as_deref(), d.cfg.detach_keys.as_deref()),
    };
    Ok(hijack::respond(
        &mut req,
        format.content_type,
        move |conn: ClientConn| run_attached(d, e, conn, opts, console_size),
    ))
}

/// Start the exec and pump its stream; a failure to start is written to
/// the client as text on stdout, as dockerd does, after its exit code is
/// recorded.
async fn run_attached(d: AppState, e: Arc<Exec>, mut conn: ClientConn, opts: SessionOptions, cs: Option<(u16, u16)>) {
    let failure = match d.exec_launch(&e, false, cs).await {
        Ok(Ok(Some(shim))) => {
            let exec = e.clone();
            let end = session::pump(conn, shim, EarlyInput::default(), opts, move |code| exec.finish(code)).await;
            if !matches!(end, SessionEnd::Ended(_)) {
                d.exec_refresh(&e).await;
            }
            d.exec_died(&e);
            tracing::debug!(exec = %e.id, ?end, "exec session ended");
            return;
        }
        Ok(Ok(None)) => return,
        Ok(Err(f)) => f.message,
        Err(err) => err.to_string(),
    };
    let text = format!("{failure}\r\n");
    let bytes = if opts.multiplexed {
        let mut out = Vec::new();
        stdcopy::encode_into(&mut out, StreamType::Stdout, text.as_bytes());
        out
    } else {
        text.into_bytes()
    };
    let _ = conn.write_all(&bytes).await;
    let _ = conn.shutdown().await;
}

/// dockerd keeps an exec's detach keys as bytes and its inspect encodes
/// them as JSON does a Go `[]byte`: base64 (`ctrl-p,ctrl-q` is `EBE=`), ""
/// when the exec named none.
fn inspect_detach_keys(keys: Option<&str>) -> String {
    use base64::Engine;
    match keys.filter(|k| !k.is_empty()).map(detach_keys::parse) {
        Some(Ok(bytes)) => base64::engine::general_purpose::STANDARD.encode(bytes),
        _ => String::new(),
    }
}

pub async fn resize(State(d): State<AppState>, Path(id): Path<String>, params: Params) -> ApiResult<StatusCode> {
    let (h, w) = size_params(&params)?;
    let e = find(&d, &id)?;
    d.exec_resize(&e, h, w).await?;
    Ok(StatusCode::OK)
}

pub async fn inspect(State(d): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<ExecInspect>> {
    let e = find(&d, &id)?;
    let s = d.exec_refresh(&e).await;
    let cfg = &e.config;
    Ok(Json(ExecInspect {
        id: e.id.clone(),
        running: s.running,
        exit_code: s.exit_code.map(i64::from),
        process_config: ExecProcessConfig {
            entrypoint: cfg.cmd.first().cloned().unwrap_or_default(),
            arguments: cfg.cmd.iter().skip(1).cloned().collect(),
            privileged: cfg.privileged,
            tty: cfg.tty,
            user: cfg.user.clone().unwrap_or_default(),
        },
        open_stdin: cfg.attach_stdin,
        open_stderr: cfg.attach_stderr,
        open_stdout: cfg.attach_stdout,
        can_remove: s.started && !s.running,
        container_id: e.container_id.clone(),
        detach_keys: inspect_detach_keys(cfg.detach_keys.as_deref()),
        pid: i64::from(s.pid),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_inspect_as_go_bytes() {
        assert_eq!(inspect_detach_keys(Some("ctrl-p,ctrl-q")), "EBE=");
        assert_eq!(inspect_detach_keys(Some("ctrl-x,x")), "GHg=");
        assert_eq!(inspect_detach_keys(Some("")), "");
        assert_eq!(inspect_detach_keys(None), "");
    }
}
