//! Image endpoints.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::TryStreamExt;
use pier_api::image::{ImageDeleteItem, ImageInspect, ImageSummary};
use pier_image::Removed;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::convert;
use super::error::{ApiError, ApiResult, Params};
use super::AppState;
use crate::daemon::import_reference;
use crate::error::Error;

/// `POST /images/create?fromSrc=-&repo=&tag=&changes=`: import the body.
pub async fn create(State(d): State<AppState>, params: Params, body: Body) -> ApiResult<Response> {
    if let Some(from) = params.get("fromImage").filter(|s| !s.is_empty()) {
        return Err(Error::NotImplemented(format!(
            "pull access denied for {from}: pulling images is not supported yet; use import"
        ))
        .into());
    }
    match params.get("fromSrc") {
        Some("-") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "importing from {other:?} is not supported: send the archive in the body with fromSrc=-"
            )))
        }
        None => return Err(ApiError::bad_request("fromSrc or fromImage is required")),
    }
    let reference = import_reference(params.get("repo").unwrap_or(""), params.get("tag").unwrap_or(""))?;
    let changes = params.all("changes");
    let stream = body
        .into_data_stream()
        .map_err(|e| std::io::Error::other(e.to_string()));
    let reader = SyncIoBridge::new(StreamReader::new(stream));
    let image = tokio::task::spawn_blocking(move || d.import_image(reader, reference.as_ref(), &changes))
        .await
        .map_err(|e| Error::system("import image", e))??;
    let line = format!("{}\n", serde_json::json!({ "status": image.id }));
    Ok(([(header::CONTENT_TYPE, "application/json")], line).into_response())
}

pub async fn list(State(d): State<AppState>) -> ApiResult<Json<Vec<ImageSummary>>> {
    let images = d.list_images().await?;
    Ok(Json(
        images
            .iter()
            .map(|i| convert::image_summary(i, d.image_users(&i.id).len() as i64))
            .collect(),
    ))
}

/// `GET /images/{name}/json` (names may contain `/`).
pub async fn inspect(State(d): State<AppState>, Path(rest): Path<String>) -> ApiResult<Json<ImageInspect>> {
    let Some(name) = rest.strip_suffix("/json") else {
        return Err(ApiError::new(axum::http::StatusCode::NOT_FOUND, "page not found"));
    };
    let image = d.resolve_image(name).await?;
    Ok(Json(convert::image_inspect(&image)))
}

pub async fn remove(
    State(d): State<AppState>,
    Path(name): Path<String>,
    params: Params,
) -> ApiResult<Json<Vec<ImageDeleteItem>>> {
    let removed = d.remove_image(&name, params.flag("force")).await?;
    Ok(Json(
        removed
            .into_iter()
            .map(|r| match r {
                Removed::Untagged(t) => ImageDeleteItem {
                    untagged: Some(t),
                    deleted: None,
                },
                Removed::Deleted(id) => ImageDeleteItem {
                    untagged: None,
                    deleted: Some(id),
                },
            })
            .collect(),
    ))
}
