//! Image endpoints.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use futures_util::TryStreamExt;
use pier_api::image::{ImageDeleteItem, ImageInspect, ImagePruneResponse, ImageSummary};
use pier_api::progress::{ProgressDetail, ProgressMessage};
use pier_image::{ImageError, PullEvent, Reference, Removed};
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::channel_body::{channel_body, ChannelWriter};
use super::convert;
use super::error::{ApiError, ApiResult, Params};
use super::AppState;
use crate::daemon::{image_prune_all, import_reference, Daemon, ImageFilters};
use crate::error::Error;

/// `POST /images/create`: pull (`fromImage=`) or import the body
/// (`fromSrc=-&repo=&tag=&changes=`).
pub async fn create(State(d): State<AppState>, params: Params, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    if let Some(from) = params.get("fromImage").filter(|s| !s.is_empty()) {
        let from = from.to_string();
        return pull(d, &params, &headers, &from).await;
    }
    match params.get("fromSrc") {
        Some("-") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "importing from {other:?} is not supported: send the archive in the body with fromSrc=-"
            )));
        }
        None => return Err(ApiError::bad_request("fromSrc or fromImage is required")),
    }
    let reference = import_reference(params.get("repo").unwrap_or(""), params.get("tag").unwrap_or(""))?;
    let changes = params.all("changes");
    let stream = body
        .into_data_stream()
        .map_err(|e| std::io::Error::other(e.to_string()));
    let reader = SyncIoBridge::new(StreamReader::new(stream));
    let image = Daemon::blocking("import image", move || {
        d.import_image(reader, reference.as_ref(), &changes)
    })
    .await?;
    let line = format!("{}\n", json_line(&ProgressMessage::status(image.id)));
    Ok(([(header::CONTENT_TYPE, "application/json")], line).into_response())
}

pub async fn list(State(d): State<AppState>, params: Params) -> ApiResult<Json<Vec<ImageSummary>>> {
    let filters = ImageFilters::parse(params.get("filters").unwrap_or(""))?;
    let images = d.list_images().await?;
    Ok(Json(
        images
            .iter()
            .filter_map(|i| filters.apply(i))
            .map(|i| convert::image_summary(&i, d.image_users(&i.id).len() as i64))
            .collect(),
    ))
}

/// `GET /images/{name}/json` and `GET /images/{name}/get` (names may
/// contain `/`).
pub async fn inspect(State(d): State<AppState>, Path(rest): Path<String>) -> ApiResult<Response> {
    if let Some(name) = rest.strip_suffix("/get") {
        return save(d, vec![name.to_string()]).await;
    }
    let Some(name) = rest.strip_suffix("/json") else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "page not found"));
    };
    let image = d.resolve_image(name).await?;
    let inspect: ImageInspect = convert::image_inspect(&image);
    Ok(Json(inspect).into_response())
}

pub async fn remove(
    State(d): State<AppState>,
    Path(name): Path<String>,
    params: Params,
) -> ApiResult<Json<Vec<ImageDeleteItem>>> {
    let removed = d.remove_image(&name, params.flag("force")).await?;
    Ok(Json(removed.into_iter().map(delete_item).collect()))
}

fn delete_item(r: Removed) -> ImageDeleteItem {
    match r {
        Removed::Untagged(t) => ImageDeleteItem {
            untagged: Some(t),
            deleted: None,
        },
        Removed::Deleted(id) => ImageDeleteItem {
            untagged: None,
            deleted: Some(id),
        },
    }
}

/// `fromImage` + `tag` as docker's CLI sends them (`tag` may be a digest).
fn pull_reference(from: &str, tag: &str) -> Result<Reference, ImageError> {
    if tag.is_empty() {
        Reference::parse(from)
    } else if tag.contains(':') {
        Reference::parse(&format!("{from}@{tag}"))
    } else {
        Reference::from_repo_tag(from, tag)
    }
}

/// A progress message as JSON text (it always serializes).
fn json_line(m: &ProgressMessage) -> String {
    serde_json::to_string(m).unwrap_or_default()
}

/// One line of docker's progress stream.
fn progress_line(m: &ProgressMessage) -> Bytes {
    let mut line = json_line(m);
    line.push_str("\r\n");
    Bytes::from(line)
}

fn event_line(event: PullEvent) -> Bytes {
    progress_line(&match event {
        PullEvent::Status { id, status } => ProgressMessage {
            status: Some(status),
            progress_detail: Some(ProgressDetail::default()),
            id: Some(id),
            ..Default::default()
        },
        PullEvent::Downloading { id, current, total } => ProgressMessage {
            status: Some("Downloading".to_string()),
            progress_detail: Some(ProgressDetail {
                current: Some(current),
                total: Some(total),
            }),
            progress: Some(progress_bar(current, total)),
            id: Some(id),
            ..Default::default()
        },
    })
}

/// docker's text bar: `[=====>     ]  1.2MB/3.4MB`.
fn progress_bar(current: u64, total: u64) -> String {
    const WIDTH: u64 = 50;
    let size = |n: u64| {
        let n = n as f64;
        if n >= 1e9 {
            format!("{:.3}GB", n / 1e9)
        } else if n >= 1e6 {
            format!("{:.3}MB", n / 1e6)
        } else if n >= 1e3 {
            format!("{:.3}kB", n / 1e3)
        } else {
            format!("{n}B")
        }
    };
    if total == 0 {
        return size(current);
    }
    let filled = (current.min(total) * WIDTH / total) as usize;
    let mut bar = "=".repeat(filled);
    if filled < WIDTH as usize {
        bar.push('>');
    }
    format!("[{bar:<50}] {:>9}/{}", size(current), size(total))
}

/// `POST /images/create?fromImage=&tag=&platform=`: pull, streaming
/// docker's JSON progress messages.
async fn pull(d: AppState, params: &Params, headers: &HeaderMap, from: &str) -> ApiResult<Response> {
    let reference = pull_reference(from, params.get("tag").unwrap_or("")).map_err(Error::image)?;
    let platform = params.get("platform").filter(|p| !p.is_empty()).map(str::to_string);
    let auth = headers.get("X-Registry-Auth").and_then(|v| v.to_str().ok());
    let credentials = Daemon::registry_credentials(auth, reference.domain());
    let remote = d.resolve_remote(reference.clone(), platform, credentials).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
    let shown = reference.to_string();
    let label = reference.digest().or(reference.tag()).unwrap_or("latest").to_string();
    let first = progress_line(&ProgressMessage {
        id: Some(label),
        ..ProgressMessage::status(format!("Pulling from {}", reference.path()))
    });
    let _ = tx.send(first).await;
    drop(Daemon::blocking_task("pull image", move || {
        let send = |b: Bytes| {
            // A gone client does not stop the pull (docker finishes it too).
            let _ = tx.blocking_send(b);
        };
        let result = d.pull_remote(remote, &|e| send(event_line(e)));
        match result {
            Ok(pulled) => {
                d.image_event("pull", &shown, &shown);
                send(progress_line(&ProgressMessage::status(format!(
                    "Digest: {}",
                    pulled.digest
                ))));
                let status = if pulled.fresh {
                    format!("Status: Downloaded newer image for {shown}")
                } else {
                    format!("Status: Image is up to date for {shown}")
                };
                send(progress_line(&ProgressMessage::status(status)));
            }
            Err(e) => {
                tracing::warn!(error = %e, reference = %shown, "pull failed");
                let message = e.to_string();
                send(progress_line(&ProgressMessage::failure(message)));
            }
        }
        Ok(())
    }));
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx))
    });
    Ok(([(header::CONTENT_TYPE, "application/json")], Body::from_stream(body)).into_response())
}

/// `POST /images/load?quiet=`: load a docker save or OCI layout archive.
/// As dockerd, the answer is always a 200 JSON stream: a body that is not
/// an image archive (or any other failure of the load) ends it with an
/// error message, which clients print and exit 1 on.
pub async fn load(State(d): State<AppState>, body: Body) -> ApiResult<Response> {
    let stream = body
        .into_data_stream()
        .map_err(|e| std::io::Error::other(e.to_string()));
    let reader = SyncIoBridge::new(StreamReader::new(stream));
    let result = Daemon::blocking("load images", move || d.load_images(reader)).await;
    let mut out = String::new();
    match result {
        Ok(loaded) => {
            for image in &loaded {
                for m in image.messages() {
                    out.push_str(&json_line(&ProgressMessage::stream(format!("{m}\n"))));
                    out.push_str("\r\n");
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "load failed");
            out.push_str(&json_line(&ProgressMessage::failure(e.to_string())));
            out.push_str("\r\n");
        }
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], out).into_response())
}

/// Streams the archive of `names` (all resolved first, so a missing one is
/// a 404 before any byte is sent).
async fn save(d: AppState, names: Vec<String>) -> ApiResult<Response> {
    if names.is_empty() {
        return Err(ApiError::bad_request("no images named"));
    }
    for n in &names {
        d.resolve_image(n).await?;
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(16);
    drop(Daemon::blocking_task("save images", move || {
        let out = std::io::BufWriter::with_capacity(256 * 1024, ChannelWriter { tx: tx.clone() });
        if let Err(e) = d.save_images(&names, out) {
            tracing::warn!(error = %e, "save failed");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
        Ok(())
    }));
    Ok(([(header::CONTENT_TYPE, "application/x-tar")], channel_body(rx)).into_response())
}

/// `GET /images/get?names=a&names=b`.
pub async fn save_many(State(d): State<AppState>, params: Params) -> ApiResult<Response> {
    let names = params.all("names");
    save(d, names).await
}

/// `POST /images/{name}/tag?repo=&tag=` (the only POST under a name).
pub async fn post_action(State(d): State<AppState>, Path(rest): Path<String>, params: Params) -> ApiResult<Response> {
    let Some(name) = rest.strip_suffix("/tag") else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "page not found"));
    };
    let repo = params.get("repo").unwrap_or("");
    if repo.is_empty() {
        return Err(ApiError::bad_request(
            "repository name must have at least one component",
        ));
    }
    let reference = import_reference(repo, params.get("tag").unwrap_or(""))?
        .ok_or_else(|| ApiError::bad_request("repository name must have at least one component"))?;
    d.tag_image(name, reference).await?;
    Ok(StatusCode::CREATED.into_response())
}

/// `POST /images/prune?filters={"dangling":["false"]}`.
pub async fn prune(State(d): State<AppState>, params: Params) -> ApiResult<Json<ImagePruneResponse>> {
    let all = image_prune_all(params.get("filters").unwrap_or(""))?;
    let (removed, reclaimed) = d.prune_images(all).await?;
    let deleted: Vec<ImageDeleteItem> = removed.into_iter().map(delete_item).collect();
    Ok(Json(ImagePruneResponse {
        images_deleted: (!deleted.is_empty()).then_some(deleted),
        space_reclaimed: reclaimed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_references() {
        let r = pull_reference("busybox", "1.36").expect("tag");
        assert_eq!(r.to_string(), "busybox:1.36");
        let digest = format!("sha256:{}", "a".repeat(64));
        let r = pull_reference("127.0.0.1:5000/x/y", &digest).expect("digest");
        assert_eq!(r.digest(), Some(digest.as_str()));
        assert_eq!(
            pull_reference("busybox", "").expect("plain").to_string(),
            "busybox:latest"
        );
    }

    #[test]
    fn bars() {
        assert_eq!(progress_bar(0, 0), "0B");
        let b = progress_bar(50, 100);
        assert!(b.starts_with("[=========================>"), "{b}");
        assert!(b.ends_with("50B/100B"), "{b}");
        assert!(progress_bar(100, 100).starts_with(&format!("[{}]", "=".repeat(50))));
    }
}
