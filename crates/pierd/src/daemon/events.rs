//! The engine's event journal: what happened to which object, recorded as
//! it happens for the `events` stream to come (docker's `events.Message`
//! shape). The last [`KEPT`] events stay in memory; every event is also
//! appended as one JSON line to `<data-root>/events.jsonl` (rotated to
//! `events.jsonl.1` past [`MAX_FILE`]), so a restarted daemon can replay
//! recent history.

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Events kept in memory (dockerd keeps 256).
pub const KEPT: usize = 256;
/// Size past which the journal file is rotated.
pub const MAX_FILE: u64 = 1 << 20;

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
    pub attributes: std::collections::BTreeMap<String, String>,
}

impl Event {
    /// A container event with docker's attributes (`image`, `name`).
    pub fn container(action: &str, id: &str, image: &str, name: &str, time_nano: i64) -> Event {
        Event {
            kind: "container".into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes: [
                    ("image".to_string(), image.to_string()),
                    ("name".to_string(), name.to_string()),
                ]
                .into(),
            },
            scope: "local".into(),
            time: time_nano.div_euclid(1_000_000_000),
            time_nano,
        }
    }
}

/// The journal.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    recent: Mutex<VecDeque<Event>>,
}

impl Journal {
    pub fn new(path: PathBuf) -> Journal {
        Journal {
            path,
            recent: Mutex::new(VecDeque::with_capacity(KEPT)),
        }
    }

    /// Record `e` (blocking: a short append).
    pub fn record(&self, e: Event) {
        if let Err(err) = self.append(&e) {
            tracing::warn!(path = %self.path.display(), error = %err, "append to the event journal");
        }
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() == KEPT {
            recent.pop_front();
        }
        recent.push_back(e);
    }

    /// The events in memory, oldest first.
    pub fn recent(&self) -> Vec<Event> {
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    fn append(&self, e: &Event) -> std::io::Result<()> {
        if std::fs::metadata(&self.path).is_ok_and(|m| m.len() > MAX_FILE) {
            let mut old = self.path.clone().into_os_string();
            old.push(".1");
            std::fs::rename(&self.path, old)?;
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
}
