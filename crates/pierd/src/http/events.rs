//! `GET /events`: the journal's events as newline-separated JSON, docker's
//! `events.Message` with the legacy `status`, `id` and `from` fields that
//! dockerd still fills for container and image events.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use pier_api::events::{Actor, Message};
use pier_api::filters::Filters;

use super::error::{ApiResult, Params};
use super::logs::time_param;
use super::AppState;
use crate::daemon::events::{Event, EventsOptions};
use crate::daemon::lifecycle::list::invalid_filter;

/// One event as a JSON line.
pub fn line(e: &Event) -> Vec<u8> {
    let legacy = matches!(e.kind.as_str(), "container" | "image");
    let m = Message {
        status: if legacy { e.action.clone() } else { String::new() },
        id: if legacy { e.actor.id.clone() } else { String::new() },
        from: if e.kind == "container" {
            e.actor.attributes.get("image").cloned().unwrap_or_default()
        } else {
            String::new()
        },
        kind: e.kind.clone(),
        action: e.action.clone(),
        actor: Actor {
            id: e.actor.id.clone(),
            attributes: e.actor.attributes.clone(),
        },
        scope: e.scope.clone(),
        time: e.time,
        time_nano: e.time_nano,
    };
    let mut out = serde_json::to_vec(&m).unwrap_or_default();
    out.push(b'\n');
    out
}

pub async fn events(State(d): State<AppState>, params: Params) -> ApiResult<Response> {
    let opts = EventsOptions {
        since: time_param(&params, "since")?,
        until: time_param(&params, "until")?,
        filters: Filters::parse(params.get("filters").unwrap_or("")).map_err(invalid_filter)?,
    };
    let stream = d.events(opts).await?;
    let body = futures_util::stream::unfold(stream, |mut s| async move {
        let e = s.next().await?;
        Some((Ok::<_, Infallible>(line(&e)), s))
    });
    Ok(([(header::CONTENT_TYPE, "application/json")], Body::from_stream(body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_fields_as_dockerd() {
        let e = Event::container("start", "abc", "busybox", "web", 1_700_000_000_000_000_001);
        let v: serde_json::Value = serde_json::from_slice(&line(&e)).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"status": "start", "id": "abc", "from": "busybox", "Type": "container",
                "Action": "start", "Actor": {"ID": "abc", "Attributes": {"image": "busybox", "name": "web"}},
                "scope": "local", "time": 1_700_000_000i64, "timeNano": 1_700_000_000_000_000_001i64})
        );
        let v = Event::new("volume", "create", "data", Default::default(), 5);
        let text = String::from_utf8(line(&v)).expect("utf8");
        assert!(text.starts_with(r#"{"Type":"volume","Action":"create""#), "{text}");
    }
}
