//! `GET /containers/json`: filters (pure) and the listing.

use pier_api::filters::{Filters, InvalidFilter};

use crate::daemon::Daemon;
use crate::error::{Error, Result};
use crate::record::ContainerRecord;

/// The `filters=` of a container listing, validated for this endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilters(Filters);

const KEYS: &[&str] = &["status", "name", "id", "label", "ancestor", "health"];
/// docker's health filter values (`none`: no healthcheck).
const HEALTH: &[&str] = &["starting", "healthy", "unhealthy", "none"];
/// docker's `validStates`, in its order (the error message lists them).
const STATUSES: &[&str] = &[
    "created",
    "running",
    "paused",
    "restarting",
    "removing",
    "exited",
    "dead",
];

/// A filter error as the API reports it (400, docker's text).
pub fn invalid_filter(e: InvalidFilter) -> Error {
    Error::InvalidParameter(e.to_string())
}

impl ListFilters {
    /// Parses either of docker's encodings (`pier_api::filters`) and checks
    /// the keys and states this endpoint knows.
    pub fn parse(text: &str) -> Result<Self> {
        let f = Filters::parse(text).map_err(invalid_filter)?;
        f.validate(KEYS).map_err(invalid_filter)?;
        f.validate_values("status", |s| {
            if STATUSES.contains(&s) {
                Ok(())
            } else {
                Err(Some(format!(
                    "invalid value for state ({s}): must be one of {}",
                    STATUSES.join(", ")
                )))
            }
        })
        .map_err(invalid_filter)?;
        f.validate_values("health", |h| {
            if HEALTH.contains(&h) {
                Ok(())
            } else {
                Err(Some(format!("Unrecognised filter value for health: {h}")))
            }
        })
        .map_err(invalid_filter)?;
        Ok(ListFilters(f))
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains(key)
    }

    /// Whether `r` passes every filter: values of one key are alternatives,
    /// except labels, which must all match (docker's `MatchKVList`).
    /// `health`: `r`'s health status (`none` without a healthcheck), asked
    /// only when a `health` filter is given.
    pub fn matches(&self, r: &ContainerRecord, health: &dyn Fn() -> &'static str) -> bool {
        let f = &self.0;
        let any = |key: &str, pred: &dyn Fn(&str) -> bool| {
            let mut values = f.get(key).peekable();
            values.peek().is_none() || values.any(pred)
        };
        let labels = r.spec.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        f.exact_match("status", r.state.status_name())
            && f.fuzzy_match("id", &r.id)
            && any("name", &|v| name_matches(&r.name, v))
            && f.match_kv_list("label", labels)
            && any("ancestor", &|v| ancestor_matches(r, v))
            && (!f.contains("health") || f.exact_match("health", health()))
    }
}

/// Docker matches names by regexp against `/name`; we support substrings
/// with optional `^`/`$` anchors.
fn name_matches(name: &str, pattern: &str) -> bool {
    let full = format!("/{name}");
    let (anchored_start, p) = match pattern.strip_prefix('^') {
        Some(p) => (true, p),
        None => (false, pattern),
    };
    let (anchored_end, p) = match p.strip_suffix('$') {
        Some(p) => (true, p),
        None => (false, p),
    };
    [full.as_str(), name]
        .iter()
        .any(|n| match (anchored_start, anchored_end) {
            (true, true) => *n == p,
            (true, false) => n.starts_with(p),
            (false, true) => n.ends_with(p),
            (false, false) => n.contains(p),
        })
}

fn ancestor_matches(r: &ContainerRecord, image: &str) -> bool {
    let with_tag = |s: &str| {
        let last = s.rsplit('/').next().unwrap_or(s);
        if last.contains(':') || s.contains('@') {
            s.to_string()
        } else {
            format!("{s}:latest")
        }
    };
    with_tag(&r.image) == with_tag(image)
        || r.image_id == image
        || r.image_id
            .strip_prefix("sha256:")
            .is_some_and(|h| !image.is_empty() && h.starts_with(image.strip_prefix("sha256:").unwrap_or(image)))
}

/// `all`, `limit`, `filters` of a listing.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub all: bool,
    pub limit: Option<usize>,
    pub filters: ListFilters,
}

impl Daemon {
    /// Matching containers, newest first.
    pub fn list(&self, opts: &ListOptions) -> Vec<std::sync::Arc<ContainerRecord>> {
        let all = opts.all || opts.limit.is_some_and(|l| l > 0) || opts.filters.contains("status");
        // Filter on the borrowed state and share (not copy) what is
        // listed: a record holds the whole spec.
        let mut recs: Vec<std::sync::Arc<ContainerRecord>> = self
            .containers()
            .iter()
            .filter_map(|c| {
                let l = c.live.borrow();
                let r = &l.record;
                let listed = !l.removed
                    && (all || r.state.is_running() || r.state.is_restarting())
                    && opts
                        .filters
                        .matches(r, &|| self.health_status(r).map_or("none", |h| h.as_str()));
                listed.then(|| l.record.clone())
            })
            .collect();
        recs.sort_by_key(|r| std::cmp::Reverse(r.created));
        if let Some(l) = opts.limit.filter(|l| *l > 0) {
            recs.truncate(l);
        }
        recs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{State, Status};

    fn rec(name: &str, status: Status) -> ContainerRecord {
        let mut state = State::created();
        state.status = status;
        let mut r = crate::record::sample(&("abcdef".repeat(10) + "0123"), name, &[("a", "b")]);
        r.state = state;
        r
    }

    #[test]
    fn both_filter_forms() {
        let a = ListFilters::parse(r#"{"status":["running"]}"#).expect("list form");
        let b = ListFilters::parse(r#"{"status":{"running":true}}"#).expect("map form");
        assert_eq!(a, b);
        assert!(a.matches(&rec("x", Status::Running), &|| "none"));
        assert!(!a.matches(&rec("x", Status::Exited), &|| "none"));
        assert!(ListFilters::parse(r#"{"bogus":["x"]}"#).is_err());
        let e = ListFilters::parse(r#"{"status":["sleepy"]}"#).expect_err("state");
        assert_eq!(
            e.to_string(),
            "invalid filter 'status=sleepy': invalid value for state (sleepy): must be one of created, running, paused, restarting, removing, exited, dead"
        );
        assert_eq!(
            ListFilters::parse(r#"{"bogus":["x"]}"#).expect_err("key").to_string(),
            "invalid filter 'bogus'"
        );
        assert_eq!(ListFilters::parse("{").expect_err("json").to_string(), "invalid filter");
    }

    #[test]
    fn keys() {
        let r = rec("web", Status::Running);
        let f = |s: &str| ListFilters::parse(s).expect("parse").matches(&r, &|| "healthy");
        assert!(f(r#"{"health":["healthy","starting"]}"#));
        assert!(!f(r#"{"health":["none"]}"#));
        assert_eq!(
            ListFilters::parse(r#"{"health":["sick"]}"#)
                .expect_err("health")
                .to_string(),
            "invalid filter 'health=sick': Unrecognised filter value for health: sick"
        );
        assert!(f(r#"{"name":["we"]}"#));
        assert!(f(r#"{"name":["^/web$"]}"#));
        assert!(!f(r#"{"name":["^eb"]}"#));
        assert!(f(r#"{"id":["abcdef"]}"#));
        assert!(f(r#"{"label":["a"]}"#));
        assert!(f(r#"{"label":["a=b"]}"#));
        assert!(!f(r#"{"label":["a=c"]}"#));
        assert!(!f(r#"{"label":["a","x"]}"#), "labels must all match");
        assert!(f(r#"{"id":["zzz","abc"]}"#));
        assert!(f(r#"{"ancestor":["busybox:latest"]}"#));
        assert!(f(r#"{"ancestor":["feed"]}"#));
        assert!(!f(r#"{"ancestor":["alpine"]}"#));
    }
}
