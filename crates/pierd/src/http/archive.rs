//! Files in and out of containers: `archive` (HEAD/GET/PUT), `export`,
//! `changes`, and `POST /commit`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use bytes::Bytes;
use futures_util::TryStreamExt;
use pier_api::volume::{CommitResponse, ContainerChange, PathStat, PATH_STAT_HEADER};
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::channel_body::{channel_body, ChannelWriter, TailHold};
use super::error::{ApiError, ApiResult, Params};
use super::AppState;
use crate::daemon::{CommitOptions, Daemon};
use crate::error::Error;

fn stat_header(st: &PathStat) -> ApiResult<HeaderValue> {
    let json = serde_json::to_vec(st).map_err(|e| Error::system("encode path stat", e))?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(json);
    HeaderValue::from_str(&b64).map_err(|e| Error::system("encode path stat", e).into())
}

fn path_param(params: &Params) -> ApiResult<String> {
    match params.get("path") {
        Some(p) if !p.is_empty() => Ok(p.to_string()),
        _ => Err(ApiError::bad_request("path is required")),
    }
}

pub async fn head(State(d): State<AppState>, Path(id): Path<String>, params: Params) -> ApiResult<Response> {
    let path = path_param(&params)?;
    let st = Daemon::blocking("stat path", move || d.archive_stat(&id, &path)).await?;
    let mut resp = StatusCode::OK.into_response();
    resp.headers_mut().insert(PATH_STAT_HEADER, stat_header(&st)?);
    Ok(resp)
}

fn tar_stream(rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>) -> Body {
    channel_body(rx)
}

pub async fn get(State(d): State<AppState>, Path(id): Path<String>, params: Params) -> ApiResult<Response> {
    let path = path_param(&params)?;
    let (stat_tx, stat_rx) = tokio::sync::oneshot::channel::<PathStat>();
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(16);
    let frozen = d.freeze_for_copy(&id).await?;
    let rt = tokio::runtime::Handle::current();
    let done = Daemon::blocking_task("archive path", move || {
        // The tar's end (two zero blocks) is held back until the container
        // is thawed: a client stops reading there, and must find it thawed.
        let held = TailHold::new(ChannelWriter { tx: tx.clone() }, 1024);
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, held);
        let mut r = d.archive_read(&id, &path, |st| drop(stat_tx.send(st)), &mut out);
        rt.block_on(frozen.thaw());
        if r.is_ok() {
            let end = out.into_inner().map_err(|e| e.into_error()).and_then(TailHold::finish);
            if let Err(e) = end {
                r = Err(Error::system("archive path", e));
            }
        }
        if let Err(e) = &r {
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
        r
    });
    match stat_rx.await {
        Ok(st) => {
            let mut resp = ([(header::CONTENT_TYPE, "application/x-tar")], tar_stream(rx)).into_response();
            resp.headers_mut().insert(PATH_STAT_HEADER, stat_header(&st)?);
            Ok(resp)
        }
        // No stat: the operation failed before the first byte.
        Err(_) => match done.await {
            Err(e) => Err(e.into()),
            Ok(()) => Err(Error::system("archive path", "no stat").into()),
        },
    }
}

pub async fn put(
    State(d): State<AppState>,
    Path(id): Path<String>,
    params: Params,
    body: Body,
) -> ApiResult<StatusCode> {
    let path = path_param(&params)?;
    let stream = body
        .into_data_stream()
        .map_err(|e| std::io::Error::other(e.to_string()));
    let reader = SyncIoBridge::new(StreamReader::new(stream));
    let frozen = d.freeze_for_copy(&id).await?;
    let r = Daemon::blocking("extract archive", move || d.archive_write(&id, &path, reader)).await;
    frozen.thaw().await;
    r?;
    Ok(StatusCode::OK)
}

pub async fn export(State(d): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    d.lookup(&id)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(16);
    drop(Daemon::blocking_task("export container", move || {
        let out = std::io::BufWriter::with_capacity(256 * 1024, ChannelWriter { tx: tx.clone() });
        if let Err(e) = d.export(&id, out) {
            tracing::warn!(error = %e, "export failed");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
        Ok(())
    }));
    Ok(([(header::CONTENT_TYPE, "application/x-tar")], tar_stream(rx)).into_response())
}

pub async fn changes(State(d): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Vec<ContainerChange>>> {
    let changes = Daemon::blocking("container changes", move || d.container_changes(&id)).await?;
    Ok(Json(changes))
}

pub async fn commit(State(d): State<AppState>, params: Params) -> ApiResult<(StatusCode, Json<CommitResponse>)> {
    let container = params
        .get("container")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("container is required"))?
        .to_string();
    let opts = CommitOptions {
        repo: params.get("repo").unwrap_or("").to_string(),
        tag: params.get("tag").unwrap_or("").to_string(),
        comment: params.get("comment").unwrap_or("").to_string(),
        author: params.get("author").unwrap_or("").to_string(),
        changes: params.all("changes"),
        // dockerd: absent means true (API >= 1.13).
        pause: params.get("pause").is_none_or(|_| params.flag("pause")),
    };
    let id = d.commit(&container, opts).await?;
    Ok((StatusCode::CREATED, Json(CommitResponse { id })))
}
