//! Swarm-mode and plugin endpoints, answered as a docker engine that is
//! not part of a swarm and has no plugins installed answers them, so that
//! clients see docker's errors (and `GET /plugins` an empty list), never a
//! 404 for a route docker has.
//!
//! dockerd (`daemon/cluster`): every manager endpoint (swarm inspect,
//! update, unlock, unlock key; nodes, services, tasks, secrets, configs)
//! fails with `errNoManager`, `POST /swarm/leave` with `errNoSwarm`, both
//! 503. Pier cannot create or join a swarm, nor install plugins: those
//! requests are 501 with a message saying so.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use super::error::{ApiError, ApiResult, Params};
use super::AppState;
use crate::daemon::lifecycle::list::invalid_filter;

/// dockerd's `errNoManager` for a node that never joined a swarm.
pub const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";
/// dockerd's `errNoSwarm`.
pub const NOT_IN_A_SWARM: &str = "This node is not part of a swarm";
/// What the `Swarm` header of `/_ping` and `Swarm.LocalNodeState` say.
pub const LOCAL_NODE_STATE: &str = "inactive";

async fn not_a_manager() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, NOT_A_MANAGER)
}

async fn not_in_a_swarm() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, NOT_IN_A_SWARM)
}

async fn no_swarm_mode() -> ApiError {
    ApiError::new(StatusCode::NOT_IMPLEMENTED, "Pier does not support swarm mode")
}

async fn no_plugin_install() -> ApiError {
    ApiError::new(StatusCode::NOT_IMPLEMENTED, "Pier does not support plugins")
}

/// The routes, merged into the API router.
pub fn routes() -> Router<AppState> {
    let manager = || get(not_a_manager);
    Router::new()
        .route("/swarm", manager())
        .route("/swarm/init", post(no_swarm_mode))
        .route("/swarm/join", post(no_swarm_mode))
        .route("/swarm/leave", post(not_in_a_swarm))
        .route("/swarm/unlockkey", manager())
        .route("/swarm/update", post(not_a_manager))
        .route("/swarm/unlock", post(not_a_manager))
        .route("/services", manager())
        .route("/services/create", post(not_a_manager))
        .route("/services/{id}", get(not_a_manager).delete(not_a_manager))
        .route("/services/{id}/update", post(not_a_manager))
        .route("/services/{id}/logs", manager())
        .route("/nodes", manager())
        .route("/nodes/{id}", get(not_a_manager).delete(not_a_manager))
        .route("/nodes/{id}/update", post(not_a_manager))
        .route("/tasks", manager())
        .route("/tasks/{id}", manager())
        .route("/tasks/{id}/logs", manager())
        .route("/secrets", manager())
        .route("/secrets/create", post(not_a_manager))
        .route("/secrets/{id}", get(not_a_manager).delete(not_a_manager))
        .route("/secrets/{id}/update", post(not_a_manager))
        .route("/configs", manager())
        .route("/configs/create", post(not_a_manager))
        .route("/configs/{id}", get(not_a_manager).delete(not_a_manager))
        .route("/configs/{id}/update", post(not_a_manager))
        .route("/plugins", get(list_plugins))
        .route("/plugins/privileges", get(no_plugin_install))
        .route("/plugins/pull", post(no_plugin_install))
        .route("/plugins/create", post(no_plugin_install))
        .route(
            "/plugins/{*rest}",
            get(plugin_get).post(plugin_post).merge(delete(plugin_delete)),
        )
}

/// `GET /plugins`: none installed. The filters are checked as dockerd's
/// plugin manager checks them.
async fn list_plugins(params: Params) -> ApiResult<Json<Vec<serde_json::Value>>> {
    let filters = crate::daemon::volume_filters(params.get("filters").unwrap_or(""))?;
    filters.validate(&["enabled", "capability"]).map_err(invalid_filter)?;
    filters.get_bool("enabled", false).map_err(invalid_filter)?;
    Ok(Json(Vec::new()))
}

/// dockerd's `errNotFound` of the plugin store.
fn no_such_plugin(name: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("plugin {name:?} not found"))
}

/// `GET /plugins/{name}/json`.
async fn plugin_get(Path(rest): Path<String>) -> Response {
    match rest.strip_suffix("/json") {
        Some(name) => no_such_plugin(name).into_response(),
        None => ApiError::new(StatusCode::NOT_FOUND, "page not found").into_response(),
    }
}

/// `POST /plugins/{name}/{enable,disable,push,upgrade,set}`.
async fn plugin_post(Path(rest): Path<String>) -> Response {
    let action = ["/enable", "/disable", "/push", "/upgrade", "/set"]
        .iter()
        .find_map(|suffix| rest.strip_suffix(suffix));
    match action {
        Some(name) => no_such_plugin(name).into_response(),
        None => ApiError::new(StatusCode::NOT_FOUND, "page not found").into_response(),
    }
}

/// `DELETE /plugins/{name}`.
async fn plugin_delete(Path(name): Path<String>) -> ApiError {
    no_such_plugin(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names_quote_as_go() {
        assert_eq!(
            no_such_plugin("vieux/sshfs:latest").message,
            r#"plugin "vieux/sshfs:latest" not found"#
        );
    }
}
