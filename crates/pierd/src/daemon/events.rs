//! The engine's event journal: what happened to which object, recorded as
//! it happens (docker's `events.Message` shape) and served by `GET /events`.
//! Every event is appended as one JSON line to `<data-root>/events.jsonl`
//! (rotated to `events.jsonl.1` past [`MAX_FILE`], so the journal holds
//! about two files' worth, a few MB), so a restarted daemon still answers
//! `--since`; the last [`KEPT`] events also stay in memory. Live listeners
//! subscribe to a broadcast channel fed under the same lock as the file,
//! so a listener that reads the history and then follows misses nothing
//! and sees nothing twice.
//!
//! [`Journal::record`] is the one entry point: whoever learns of an event
//! (a request handler, an exit monitor, restore catching up on what shims
//! recorded while pierd was down) builds an [`Event`] with the time it
//! happened and records it.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use pier_api::filters::Filters;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// Events kept in memory (dockerd keeps 256).
pub const KEPT: usize = 256;
/// Size past which the journal file is rotated.
pub const MAX_FILE: u64 = 1 << 20;
/// Events a slow live listener may fall behind by before it is cut off.
const LIVE_BACKLOG: usize = 1024;

/// One event, in docker's wire shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    /// Unix seconds.
    pub time: i64,
    /// Unix nanoseconds.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// An event of any type (`container`, `image`, `volume`, `daemon`, …).
    pub fn new(kind: &str, action: &str, id: &str, attributes: BTreeMap<String, String>, time_nano: i64) -> Event {
        Event {
            kind: kind.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes,
            },
            scope: "local".into(),
            time: time_nano.div_euclid(1_000_000_000),
            time_nano,
        }
    }

    /// A container event with docker's attributes (`image`, `name`).
    pub fn container(action: &str, id: &str, image: &str, name: &str, time_nano: i64) -> Event {
        let attributes = [
            ("image".to_string(), image.to_string()),
            ("name".to_string(), name.to_string()),
        ]
        .into();
        Event::new("container", action, id, attributes, time_nano)
    }

    /// Adds (or replaces) one attribute.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Event {
        self.actor.attributes.insert(key.to_string(), value.into());
        self
    }
}

/// The journal.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    recent: VecDeque<Event>,
    live: broadcast::Sender<Event>,
}

/// What a listener gets: the recorded events it asked for, oldest first,
/// and the live ones after them.
#[derive(Debug)]
pub struct Subscription {
    pub history: Vec<Event>,
    pub live: broadcast::Receiver<Event>,
}

impl Journal {
    /// A journal at `path`; the newest recorded events are read back into
    /// memory.
    pub fn new(path: PathBuf) -> Journal {
        let mut recent: VecDeque<Event> = read_all(&path).into_iter().collect();
        while recent.len() > KEPT {
            recent.pop_front();
        }
        let (live, _) = broadcast::channel(LIVE_BACKLOG);
        Journal {
            path,
            inner: Mutex::new(Inner { recent, live }),
        }
    }

    /// Record `e` (blocking: a short append) and hand it to live listeners.
    pub fn record(&self, e: Event) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(err) = self.append(&e) {
            tracing::warn!(path = %self.path.display(), error = %err, "append to the event journal");
        }
        if inner.recent.len() == KEPT {
            inner.recent.pop_front();
        }
        inner.recent.push_back(e.clone());
        // No receiver is not an error: nobody is listening.
        let _ = inner.live.send(e);
    }

    /// The events in memory, oldest first.
    pub fn recent(&self) -> Vec<Event> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.recent.iter().cloned().collect()
    }

    /// Listeners following the stream now (`/info`'s `NEventsListener`).
    pub fn listeners(&self) -> usize {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.live.receiver_count()
    }

    /// Subscribe: with `since`, the recorded events from that time on
    /// (read from the files: blocking), then every new one.
    pub fn subscribe(&self, since: Option<i64>) -> Subscription {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let live = inner.live.subscribe();
        let history = match since {
            Some(since) => read_all(&self.path)
                .into_iter()
                .filter(|e| e.time_nano >= since)
                .collect(),
            None => Vec::new(),
        };
        Subscription { history, live }
    }

    fn append(&self, e: &Event) -> std::io::Result<()> {
        if std::fs::metadata(&self.path).is_ok_and(|m| m.len() > MAX_FILE) {
            std::fs::rename(&self.path, rotated(&self.path))?;
        }
        let mut line = serde_json::to_vec(e).map_err(std::io::Error::other)?;
        line.push(b'\n');
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(crate::private::RECORD)
            .open(&self.path)?;
        f.write_all(&line)
    }
}

fn rotated(path: &Path) -> PathBuf {
    let mut old = path.to_path_buf().into_os_string();
    old.push(".1");
    PathBuf::from(old)
}

/// Every event in the rotated file and the current one, oldest first; a
/// line that does not parse (a torn last write) is skipped.
fn read_all(path: &Path) -> Vec<Event> {
    let mut out = Vec::new();
    for p in [rotated(path), path.to_path_buf()] {
        let Ok(text) = std::fs::read(&p) else { continue };
        out.extend(
            text.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .filter_map(|l| serde_json::from_slice::<Event>(l).ok()),
        );
    }
    out
}

/// moby's `daemon/events.Filter`: which events a listener wants.
pub fn matches(f: &Filters, e: &Event) -> bool {
    let attr = |k: &str| e.actor.attributes.get(k).map(String::as_str).unwrap_or("");
    let fuzzy_name = |key: &str| f.fuzzy_match(key, &e.actor.id) || f.fuzzy_match(key, attr("name"));
    // moby #25798: `health_status`, `exec_create` and `exec_start` also
    // match the actions that carry a suffix (`exec_start: sh -c …`).
    let prefixed = ["health_status", "exec_create", "exec_start"];
    let event = if f.get("event").any(|v| prefixed.contains(&v)) {
        f.fuzzy_match("event", &e.action)
    } else {
        f.exact_match("event", &e.action)
    };
    let image = {
        let name = if e.kind == "image" { attr("name") } else { attr("image") };
        f.exact_match("image", &e.actor.id)
            || f.exact_match("image", name)
            || f.exact_match("image", strip_tag(&e.actor.id))
            || f.exact_match("image", strip_tag(name))
    };
    let scope = !f.contains("scope") || f.get("scope").any(|s| s == e.scope);
    event
        && f.exact_match("type", &e.kind)
        && scope
        && fuzzy_name("daemon")
        && fuzzy_name("container")
        && fuzzy_name("plugin")
        && fuzzy_name("volume")
        && fuzzy_name("network")
        && image
        && fuzzy_name("node")
        && fuzzy_name("service")
        && fuzzy_name("secret")
        && fuzzy_name("config")
        && f.match_kv_list(
            "label",
            e.actor.attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
}

/// moby's `stripTag`: the repository of a `repo:tag` or `repo@digest`.
fn strip_tag(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        Some(i) if !image[i + 1..].contains('/') => &image[..i],
        _ => image,
    }
}

/// What `GET /events` asked for.
#[derive(Debug, Clone, Default)]
pub struct EventsOptions {
    /// Unix nanoseconds; recorded events from then on are replayed.
    pub since: Option<i64>,
    /// Unix nanoseconds; the stream ends then (at once if it is past).
    pub until: Option<i64>,
    pub filters: Filters,
}

/// A listener's events: the matching history, then live events until
/// `until`, the client leaving or the daemon shutting down.
#[derive(Debug)]
pub struct EventStream {
    history: std::vec::IntoIter<Event>,
    live: Option<broadcast::Receiver<Event>>,
    filters: Filters,
    until: Option<i64>,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

impl EventStream {
    /// The next event, or `None` at the end of the stream.
    pub async fn next(&mut self) -> Option<Event> {
        if let Some(e) = self.history.next() {
            return Some(e);
        }
        let deadline = self.until.map(|u| {
            let left = u.saturating_sub(pier_time::now_nanos()).max(0);
            tokio::time::Instant::now() + std::time::Duration::from_nanos(left as u64)
        });
        loop {
            let live = self.live.as_mut()?;
            let received = tokio::select! {
                r = live.recv() => r,
                _ = sleep_until(deadline) => return None,
                _ = self.shutdown.wait_for(|s| *s) => return None,
            };
            match received {
                Ok(e) if matches(&self.filters, &e) => return Some(e),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "an events listener fell behind");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

impl crate::daemon::Daemon {
    /// Subscribe to the journal (docker's `SubscribeToEvents`): with
    /// `since` or `until`, the recorded events between them; live events
    /// unless `until` is already past.
    pub async fn events(self: &std::sync::Arc<Self>, opts: EventsOptions) -> crate::error::Result<EventStream> {
        use crate::error::Error;
        if let (Some(since), Some(until)) = (opts.since, opts.until) {
            if until < since {
                return Err(Error::InvalidParameter(format!(
                    "`since` time ({}) cannot be after `until` time ({})",
                    seconds(since),
                    seconds(until)
                )));
            }
        }
        let replay = (opts.since.is_some() || opts.until.is_some()).then(|| opts.since.unwrap_or(i64::MIN));
        let d = self.clone();
        let sub = Self::blocking("read the event journal", move || Ok(d.events.subscribe(replay))).await?;
        let until = opts.until;
        let history: Vec<Event> = sub
            .history
            .into_iter()
            .filter(|e| until.is_none_or(|u| e.time_nano <= u) && matches(&opts.filters, e))
            .collect();
        let only_past = until.is_some_and(|u| u < pier_time::now_nanos());
        Ok(EventStream {
            history: history.into_iter(),
            live: (!only_past).then_some(sub.live),
            filters: opts.filters,
            until,
            shutdown: self.shutdown_signal(),
        })
    }

    /// Record a container event with docker's attributes: the container's
    /// labels, `image` and `name`, then `extra`.
    pub fn container_event(&self, rec: &crate::record::ContainerRecord, action: &str, extra: &[(&str, &str)]) {
        self.events
            .record(container_event(rec, action, extra, pier_time::now_nanos()));
    }

    /// Record an event of another type, now.
    pub fn event(&self, kind: &str, action: &str, id: &str, attributes: &[(&str, &str)]) {
        let attributes = attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.events
            .record(Event::new(kind, action, id, attributes, pier_time::now_nanos()));
    }
}

/// A container event as dockerd builds it (`LogContainerEventWithAttributes`).
pub fn container_event(
    rec: &crate::record::ContainerRecord,
    action: &str,
    extra: &[(&str, &str)],
    time_nano: i64,
) -> Event {
    let mut attributes = rec.spec.labels.clone();
    attributes.insert("image".into(), rec.image.clone());
    attributes.insert("name".into(), rec.name.clone());
    for (k, v) in extra {
        attributes.insert(k.to_string(), v.to_string());
    }
    Event::new("container", action, &rec.id, attributes, time_nano)
}

/// Unix nanoseconds as docker prints a timestamp parameter.
fn seconds(nanos: i64) -> String {
    format!(
        "{}.{:09}",
        nanos.div_euclid(1_000_000_000),
        nanos.rem_euclid(1_000_000_000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_in_memory_and_on_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let j = Journal::new(dir.path().join("events.jsonl"));
        for i in 0..(KEPT + 3) {
            j.record(Event::container(
                "oom",
                &format!("{i}"),
                "busybox",
                "x",
                1_700_000_000_123_456_789,
            ));
        }
        let recent = j.recent();
        assert_eq!(recent.len(), KEPT);
        assert_eq!(recent[0].actor.id, "3");
        let text = std::fs::read_to_string(dir.path().join("events.jsonl")).expect("journal");
        assert_eq!(text.lines().count(), KEPT + 3);
        let first: serde_json::Value = serde_json::from_str(text.lines().next().expect("line")).expect("json");
        assert_eq!(
            first,
            serde_json::json!({"Type": "container", "Action": "oom",
                "Actor": {"ID": "0", "Attributes": {"image": "busybox", "name": "x"}},
                "scope": "local", "time": 1_700_000_000i64, "timeNano": 1_700_000_000_123_456_789i64})
        );
    }

    fn ev(kind: &str, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        let attributes = attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Event::new(kind, action, id, attributes, 1)
    }

    fn f(json: &str) -> Filters {
        Filters::parse(json).expect("filters")
    }

    #[test]
    fn filters_as_moby() {
        let start = ev(
            "container",
            "start",
            "abcdef",
            &[("image", "busybox:latest"), ("name", "web"), ("tier", "db")],
        );
        let exec = ev(
            "container",
            "exec_start: sh -c true",
            "abcdef",
            &[("image", "busybox"), ("name", "web")],
        );
        let tag = ev("image", "tag", "sha256:1234", &[("name", "busybox:latest")]);
        let vol = ev("volume", "create", "data", &[("driver", "local")]);
        assert!(matches(&Filters::new(), &start));
        assert!(matches(&f(r#"{"container":["web"]}"#), &start));
        assert!(matches(&f(r#"{"container":["abc"]}"#), &start));
        assert!(!matches(&f(r#"{"container":["db"]}"#), &start));
        assert!(!matches(&f(r#"{"container":["web"]}"#), &tag));
        assert!(matches(&f(r#"{"type":["container"]}"#), &start));
        assert!(!matches(&f(r#"{"type":["container"]}"#), &vol));
        assert!(matches(&f(r#"{"event":["start","die"]}"#), &start));
        assert!(!matches(&f(r#"{"event":["exec_die"]}"#), &exec));
        assert!(matches(&f(r#"{"event":["exec_start"]}"#), &exec));
        assert!(!matches(&f(r#"{"event":["start"]}"#), &exec));
        assert!(matches(&f(r#"{"image":["busybox"]}"#), &start));
        assert!(matches(&f(r#"{"image":["busybox"]}"#), &tag));
        assert!(matches(&f(r#"{"image":["busybox:latest"]}"#), &tag));
        assert!(!matches(&f(r#"{"image":["alpine"]}"#), &start));
        assert!(matches(&f(r#"{"label":["tier=db"]}"#), &start));
        assert!(matches(&f(r#"{"label":["tier"]}"#), &start));
        assert!(!matches(&f(r#"{"label":["tier=web"]}"#), &start));
        assert!(matches(&f(r#"{"volume":["data"]}"#), &vol));
        assert!(!matches(&f(r#"{"volume":["data"]}"#), &start));
        assert!(matches(&f(r#"{"scope":["local"]}"#), &vol));
        assert!(!matches(&f(r#"{"scope":["swarm"]}"#), &vol));
        assert!(!matches(&f(r#"{"daemon":["x"]}"#), &vol));
    }

    #[test]
    fn history_survives_a_new_journal_and_live_follows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.jsonl");
        let j = Journal::new(path.clone());
        let at = |t: i64| Event::container("start", "a", "busybox", "x", t);
        j.record(at(10));
        j.record(at(20));
        drop(j);
        let j = Journal::new(path);
        assert_eq!(j.recent().len(), 2);
        let mut sub = j.subscribe(Some(15));
        assert_eq!(sub.history, vec![at(20)]);
        j.record(at(30));
        assert_eq!(sub.live.try_recv().expect("live"), at(30));
        assert_eq!(j.listeners(), 1);
        assert!(j.subscribe(None).history.is_empty());
    }

    #[test]
    fn rotates_and_reads_both_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.jsonl");
        let j = Journal::new(path.clone());
        let big = "x".repeat(4096);
        let n = (MAX_FILE as usize / 4096) + 10;
        for i in 0..n {
            j.record(Event::container("start", &format!("{i}"), &big, "x", i as i64));
        }
        assert!(dir.path().join("events.jsonl.1").exists());
        let all = j.subscribe(Some(0)).history;
        assert_eq!(all.len(), n);
        assert_eq!(all[0].actor.id, "0");
    }
}
