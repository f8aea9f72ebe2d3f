//! Container endpoints (logs live in `logs.rs`).

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pier_api::container::{
    ContainerCreateRequest, ContainerInspect, ContainerPruneResponse, ContainerSummary, HostConfig, IdResponse,
    TopResponse, UpdateResponse, WaitError, WaitResponse,
};

use super::convert;
use super::error::{ApiError, ApiResult, DockerJson, Params};
use super::AppState;
use crate::daemon::{CreateOptions, ListFilters, ListOptions, PruneFilters, WaitCondition};

pub async fn create(
    State(d): State<AppState>,
    params: Params,
    DockerJson(request): DockerJson<ContainerCreateRequest>,
) -> ApiResult<(StatusCode, Json<IdResponse>)> {
    let created = d
        .create(CreateOptions {
            name: params.get("name").map(str::to_string),
            request,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(IdResponse {
            id: created.id,
            warnings: Some(created.warnings),
        }),
    ))
}

pub async fn list(State(d): State<AppState>, params: Params) -> ApiResult<Json<Vec<ContainerSummary>>> {
    let limit = params.int("limit")?.and_then(|l| usize::try_from(l).ok());
    let filters = ListFilters::parse(params.get("filters").unwrap_or(""))?;
    let opts = ListOptions {
        all: params.flag("all"),
        limit,
        filters,
    };
    let now = pier_time::now_nanos();
    let mut list: Vec<ContainerSummary> = d
        .list(&opts)
        .iter()
        .map(|r| {
            let mut s = convert::summary(r, now, d.health_status(r));
            s.ports = super::networks::summary_ports(&d, r);
            s
        })
        .collect();
    let pairs = list.iter().map(|c| (c.image.clone(), c.image_id.clone())).collect();
    for (c, shown) in list.iter_mut().zip(d.shown_image_names(pairs).await?) {
        c.image = shown;
    }
    if params.flag("size") {
        let ids = list.iter().map(|c| c.id.clone()).collect();
        let sizes = d.container_sizes(ids).await?;
        for (c, (rw, root_fs)) in list.iter_mut().zip(sizes) {
            c.size_rw = i64::try_from(rw).unwrap_or(i64::MAX);
            c.size_root_fs = i64::try_from(root_fs).unwrap_or(i64::MAX);
        }
    }
    Ok(Json(list))
}

pub async fn inspect(State(d): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<ContainerInspect>> {
    let c = d.lookup(&id)?;
    let r = c.record();
    let mut info = convert::inspect(&c, &r);
    info.state.health = d.health(&c, &r);
    info.mounts = d.mount_points(&c);
    info.network_settings = super::networks::settings(&d, &r);
    if !r.spec.links.is_empty() {
        // dockerd's `/child:/parent/alias`, with the current names.
        let links = r
            .spec
            .links
            .iter()
            .map(|l| {
                let child = d
                    .lookup(&l.child)
                    .map(|c| c.record().name)
                    .unwrap_or_else(|_| l.child.clone());
                format!("/{child}:/{}/{}", r.name, l.alias)
            })
            .collect();
        info.host_config.links = Some(links);
    }
    let execs = d.exec_ids(&c.id);
    if !execs.is_empty() {
        info.exec_ids = Some(execs);
    }
    Ok(Json(info))
}

pub async fn start(State(d): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    d.start(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn stop(State(d): State<AppState>, Path(id): Path<String>, params: Params) -> ApiResult<StatusCode> {
    let t = params.int("t")?.or(params.int("timeout")?);
    d.stop(&id, t, params.get("signal")).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn kill(State(d): State<AppState>, Path(id): Path<String>, params: Params) -> ApiResult<StatusCode> {
    d.kill(&id, params.get("signal")).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn restart(State(d): State<AppState>, Path(id): Path<String>, params: Params) -> ApiResult<StatusCode> {
    let t = params.int("t")?.or(params.int("timeout")?);
    d.restart(&id, t).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn pause(State(d): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    d.pause(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn unpause(State(d): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    d.unpause(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn top(State(d): State<AppState>, Path(id): Path<String>, params: Params) -> ApiResult<Json<TopResponse>> {
    let top = d.top(&id, params.get("ps_args").unwrap_or("")).await?;
    Ok(Json(TopResponse {
        titles: top.titles,
        processes: top.processes,
    }))
}

pub async fn update(
    State(d): State<AppState>,
    Path(id): Path<String>,
    DockerJson(req): DockerJson<HostConfig>,
) -> ApiResult<Json<UpdateResponse>> {
    let warnings = d.update(&id, &req).await?;
    Ok(Json(UpdateResponse { warnings }))
}

pub async fn rename(State(d): State<AppState>, Path(id): Path<String>, params: Params) -> ApiResult<StatusCode> {
    d.rename(&id, params.get("name").unwrap_or("")).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /containers/{parent}/{alias}`: dockerd's route is
/// `/containers/{name:.*}`, so a link name (`parent/alias`) reaches `rm`.
pub async fn remove_nested(
    State(d): State<AppState>,
    Path((parent, alias)): Path<(String, String)>,
    params: Params,
) -> ApiResult<StatusCode> {
    remove(State(d), Path(format!("{parent}/{alias}")), params).await
}

pub async fn remove(State(d): State<AppState>, Path(id): Path<String>, params: Params) -> ApiResult<StatusCode> {
    if params.flag("link") {
        d.remove_link(&id).await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    d.remove(&id, params.flag("force"), params.flag("v")).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn prune(State(d): State<AppState>, params: Params) -> ApiResult<Json<ContainerPruneResponse>> {
    let filters = PruneFilters::parse(params.get("filters").unwrap_or(""), pier_time::now_unix())?;
    let pruned = d.container_prune(filters).await?;
    Ok(Json(ContainerPruneResponse {
        containers_deleted: (!pruned.deleted.is_empty()).then_some(pruned.deleted),
        space_reclaimed: pruned.reclaimed,
    }))
}

/// The 200 headers go out at once; the body follows when the condition
/// holds (the docker CLI sends wait before start and blocks on headers).
pub async fn wait(State(d): State<AppState>, Path(id): Path<String>, params: Params) -> ApiResult<Response> {
    let raw = params.get("condition").unwrap_or("");
    let cond =
        WaitCondition::parse(raw).ok_or_else(|| ApiError::bad_request(format!("invalid condition: \"{raw}\"")))?;
    let done = d.wait(&id, cond)?;
    let body = futures_util::stream::once(async move {
        let reply = match done.await {
            Some(o) => WaitResponse {
                status_code: o.status_code,
                error: o.error.map(|message| WaitError { message }),
            },
            None => WaitResponse {
                status_code: -1,
                error: Some(WaitError {
                    message: "daemon is shutting down".to_string(),
                }),
            },
        };
        let mut bytes = serde_json::to_vec(&reply).unwrap_or_default();
        bytes.push(b'\n');
        Ok::<_, Infallible>(bytes)
    });
    Ok(([(header::CONTENT_TYPE, "application/json")], Body::from_stream(body)).into_response())
}
