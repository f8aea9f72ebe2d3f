//! Volume endpoints.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Extension;
use axum::Json;
use pier_api::version::ApiVersion;
use pier_api::volume::{Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse};

use super::error::{ApiResult, DockerJson, Params};
use super::AppState;
use crate::daemon::volume_filters;

pub async fn create(
    State(d): State<AppState>,
    DockerJson(req): DockerJson<VolumeCreateRequest>,
) -> ApiResult<(StatusCode, Json<Volume>)> {
    Ok((StatusCode::CREATED, Json(d.volume_create(req).await?)))
}

pub async fn list(State(d): State<AppState>, params: Params) -> ApiResult<Json<VolumeListResponse>> {
    let filters = volume_filters(params.get("filters").unwrap_or(""))?;
    Ok(Json(VolumeListResponse {
        volumes: d.volume_list(filters).await?,
        warnings: Vec::new(),
    }))
}

pub async fn inspect(State(d): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<Volume>> {
    Ok(Json(d.volume_inspect(name).await?))
}

pub async fn remove(State(d): State<AppState>, Path(name): Path<String>, params: Params) -> ApiResult<StatusCode> {
    d.volume_remove(name, params.flag("force")).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// API 1.42 made prune take only anonymous volumes; for older clients
/// dockerd adds `all=true` to the filters, and so does this.
const PRUNE_ANONYMOUS_SINCE: ApiVersion = ApiVersion { major: 1, minor: 42 };

pub async fn prune(
    State(d): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    params: Params,
) -> ApiResult<Json<VolumePruneResponse>> {
    let mut filters = volume_filters(params.get("filters").unwrap_or(""))?;
    if version < PRUNE_ANONYMOUS_SINCE {
        filters.add("all", "true");
    }
    let (deleted, reclaimed) = d.volume_prune(filters).await?;
    Ok(Json(VolumePruneResponse {
        volumes_deleted: deleted,
        space_reclaimed: reclaimed,
    }))
}
