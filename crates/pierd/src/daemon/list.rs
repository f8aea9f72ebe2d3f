//! `GET /containers/json`: filters (pure) and the listing.

use std::collections::BTreeMap;

use super::Daemon;
use crate::error::{Error, Result};
use crate::record::ContainerRecord;

/// Parsed `filters=` of a container listing: key -> accepted values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilters {
    pub filters: BTreeMap<String, Vec<String>>,
}

const KEYS: &[&str] = &["status", "name", "id", "label", "ancestor"];
const STATUSES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

impl ListFilters {
    /// Accept both forms docker clients send: `{"status":["running"]}` and
    /// the old map form `{"status":{"running":true}}`.
    pub fn parse(text: &str) -> Result<Self> {
        if text.trim().is_empty() {
            return Ok(ListFilters::default());
        }
        let bad = |e: &dyn std::fmt::Display| Error::InvalidParameter(format!("invalid filter: {e}"));
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(&e))?;
        let obj = value.as_object().ok_or_else(|| bad(&"expected a JSON object"))?;
        let mut filters = BTreeMap::new();
        for (key, v) in obj {
            if !KEYS.contains(&key.as_str()) {
                return Err(Error::InvalidParameter(format!("invalid filter '{key}'")));
            }
            let values: Vec<String> = match v {
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|x| x.as_str().map(str::to_string).ok_or_else(|| bad(&"expected strings")))
                    .collect::<Result<_>>()?,
                serde_json::Value::Object(m) => m
                    .iter()
                    .filter(|(_, on)| on.as_bool().unwrap_or(false))
                    .map(|(k, _)| k.clone())
                    .collect(),
                _ => return Err(bad(&"expected a list or a map of values")),
            };
            if key == "status" {
                if let Some(s) = values.iter().find(|s| !STATUSES.contains(&s.as_str())) {
                    return Err(Error::InvalidParameter(format!("invalid filter 'status={s}'")));
                }
            }
            filters.insert(key.clone(), values);
        }
        Ok(ListFilters { filters })
    }

    pub fn contains(&self, key: &str) -> bool {
        self.filters.contains_key(key)
    }

    /// Whether `r` passes every filter (values of one key are ORed).
    pub fn matches(&self, r: &ContainerRecord) -> bool {
        self.filters.iter().all(|(key, values)| {
            values.is_empty()
                || values.iter().any(|v| match key.as_str() {
                    "status" => r.state.status.as_str() == v,
                    "id" => r.id.starts_with(v.as_str()),
                    "name" => name_matches(&r.name, v),
                    "label" => label_matches(r, v),
                    "ancestor" => ancestor_matches(r, v),
                    _ => false,
                })
        })
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

fn label_matches(r: &ContainerRecord, filter: &str) -> bool {
    let labels = &r.spec.labels;
    match filter.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(filter),
    }
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
    pub fn list(&self, opts: &ListOptions) -> Vec<ContainerRecord> {
        let all = opts.all || opts.limit.is_some_and(|l| l > 0) || opts.filters.contains("status");
        let mut recs: Vec<ContainerRecord> = self
            .containers()
            .iter()
            .map(|c| c.live.borrow().clone())
            .filter(|l| !l.removed)
            .map(|l| l.record)
            .filter(|r| all || r.state.is_running())
            .filter(|r| opts.filters.matches(r))
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
        assert!(a.matches(&rec("x", Status::Running)));
        assert!(!a.matches(&rec("x", Status::Exited)));
        assert!(ListFilters::parse(r#"{"bogus":["x"]}"#).is_err());
        assert!(ListFilters::parse(r#"{"status":["sleepy"]}"#).is_err());
        assert!(ListFilters::parse("{").is_err());
    }

    #[test]
    fn keys() {
        let r = rec("web", Status::Running);
        let f = |s: &str| ListFilters::parse(s).expect("parse").matches(&r);
        assert!(f(r#"{"name":["we"]}"#));
        assert!(f(r#"{"name":["^/web$"]}"#));
        assert!(!f(r#"{"name":["^eb"]}"#));
        assert!(f(r#"{"id":["abcdef"]}"#));
        assert!(f(r#"{"label":["a"]}"#));
        assert!(f(r#"{"label":["a=b"]}"#));
        assert!(!f(r#"{"label":["a=c"]}"#));
        assert!(f(r#"{"ancestor":["busybox:latest"]}"#));
        assert!(f(r#"{"ancestor":["feed"]}"#));
        assert!(!f(r#"{"ancestor":["alpine"]}"#));
    }
}
