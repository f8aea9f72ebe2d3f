//! `GET /system/df`.

use axum::extract::State;
use axum::Extension;
use axum::Json;
use pier_api::system::DiskUsage;
use pier_api::version::ApiVersion;

use super::convert;
use super::error::{ApiError, ApiResult, Params};
use super::AppState;
use crate::daemon::DiskUsageOptions;

/// `type=` (API 1.42+): the kinds to count; all when absent.
fn options(params: &Params, version: ApiVersion) -> ApiResult<DiskUsageOptions> {
    let types = params.all("type");
    if version < (ApiVersion { major: 1, minor: 42 }) || types.is_empty() {
        return Ok(DiskUsageOptions::ALL);
    }
    let mut o = DiskUsageOptions {
        containers: false,
        images: false,
        volumes: false,
        build_cache: false,
    };
    for t in types {
        match t.as_str() {
            "container" => o.containers = true,
            "image" => o.images = true,
            "volume" => o.volumes = true,
            "build-cache" => o.build_cache = true,
            other => return Err(ApiError::bad_request(format!("unknown object type: {other}"))),
        }
    }
    Ok(o)
}

pub async fn df(
    State(d): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    params: Params,
) -> ApiResult<Json<DiskUsage>> {
    let du = d.disk_usage(options(&params, version)?).await?;
    let now = pier_time::now_nanos();
    let size = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Ok(Json(DiskUsage {
        layers_size: size(du.layers_size),
        images: du.images.map(|l| {
            l.iter()
                .map(|i| {
                    let mut s = convert::image_summary(&i.image, i.containers);
                    s.shared_size = size(i.shared_size);
                    s
                })
                .collect()
        }),
        containers: du.containers.map(|l| {
            l.iter()
                .map(|c| {
                    let mut s = convert::summary(&c.record, now, None);
                    s.size_rw = size(c.size_rw);
                    s.size_root_fs = size(c.size_root_fs);
                    s.mounts = c.mounts.iter().filter_map(|m| serde_json::to_value(m).ok()).collect();
                    s
                })
                .collect()
        }),
        volumes: du.volumes,
        build_cache: du.build_cache.then(Vec::new),
    }))
}
