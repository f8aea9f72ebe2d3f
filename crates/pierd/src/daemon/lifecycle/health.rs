//! Health as pierd sees it: the shim keeps `health.json` (it schedules the
//! probes, also while pierd is down); pierd reads it for inspect, `ps` and
//! the `health=` filter, and one task per running container with a
//! healthcheck, parked on the shim's `HealthWait` (no polling), turns the
//! status changes it has not seen into
//! `health_status: …` events, with the times the shim recorded (changes
//! made while pierd was down included). The last change journaled is kept
//! in the record (`State.health_events`), so a restarted pierd records
//! none twice.

use std::path::Path;
use std::sync::Arc;

use pier_api::container::{Health, HealthcheckResult};
use pier_shim_proto::health::{HealthRecord, HealthStatus};

use crate::daemon::events::Event;
use crate::daemon::{Container, Daemon};
use crate::record::ContainerRecord;

/// How often the health of a container whose shim predates `HealthWait`
/// is looked at.
const OLD_SHIM_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// The record's file in the container's directory.
pub(crate) const FILE: &str = "health.json";

/// The shim's record, if there is one (a torn or missing file: none).
pub(crate) fn read(dir: &Path) -> Option<HealthRecord> {
    let bytes = std::fs::read(dir.join(FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The status docker reports: the shim's, or `unhealthy` once the
/// container is not running (the monitor has stopped).
pub(crate) fn status_of(r: &ContainerRecord, h: &HealthRecord) -> HealthStatus {
    if r.state.is_running() {
        h.status
    } else {
        HealthStatus::Unhealthy
    }
}

/// `State.Health`.
pub(crate) fn to_wire(r: &ContainerRecord, h: &HealthRecord) -> Health {
    Health {
        status: status_of(r, h).as_str().to_string(),
        failing_streak: i64::from(h.failing_streak),
        log: Some(
            h.log
                .iter()
                .map(|p| HealthcheckResult {
                    start: pier_time::format_nano(p.start),
                    end: pier_time::format_nano(p.end),
                    exit_code: i64::from(p.exit_code),
                    output: p.output.clone(),
                })
                .collect(),
        ),
    }
}

/// Whether `r` runs probes.
pub(crate) fn has_probe(r: &ContainerRecord) -> bool {
    r.spec.healthcheck.as_ref().and_then(|h| h.probe()).is_some()
}

impl Daemon {
    /// `State.Health` of `c` (`None`: no healthcheck, or never started).
    pub fn health(&self, c: &Container, r: &ContainerRecord) -> Option<Health> {
        if !has_probe(r) {
            return None;
        }
        read(&c.dir).map(|h| to_wire(r, &h))
    }

    /// The health status for `ps` and the `health=` filter (`None`: no
    /// healthcheck, docker's `none`).
    pub fn health_status(&self, r: &ContainerRecord) -> Option<HealthStatus> {
        if !has_probe(r) {
            return None;
        }
        read(&self.cfg.containers_dir().join(&r.id)).map(|h| status_of(r, &h))
    }

    /// Journal `c`'s health changes while it runs (and those of its last
    /// run once it has ended).
    pub(in crate::daemon) fn spawn_health_watch(self: &Arc<Self>, c: Arc<Container>) {
        if !has_probe(&c.record()) {
            return;
        }
        let daemon = self.clone();
        tokio::spawn(async move {
            // Changes made while pierd was down come first.
            daemon.journal_health(&c).await;
            loop {
                let seen = c.record().state.health_events;
                match c.shim.health_wait(seen).await {
                    Ok((seq, ended)) => {
                        if seq > seen {
                            daemon.journal_health(&c).await;
                        }
                        if ended {
                            break;
                        }
                    }
                    Err(e) if e.refusal_message().is_some() && c.record().state.is_running() => {
                        // A shim older than `HealthWait`: look once a second.
                        tokio::time::sleep(OLD_SHIM_POLL).await;
                        daemon.journal_health(&c).await;
                    }
                    Err(e) => {
                        // A lost shim: its last record is final.
                        tracing::debug!(id = %c.id, error = %e, "health watch ends");
                        daemon.journal_health(&c).await;
                        break;
                    }
                }
            }
        });
    }

    /// Record the changes of `c`'s health the journal has not seen.
    async fn journal_health(&self, c: &Arc<Container>) {
        let dir = c.dir.clone();
        let Ok(Some(h)) = Daemon::blocking("read health record", move || Ok(read(&dir))).await else {
            return;
        };
        let seen = c.record().state.health_events;
        let new: Vec<_> = h.changes.iter().filter(|ch| ch.seq > seen).collect();
        let Some(last) = new.last().map(|ch| ch.seq) else {
            return;
        };
        // Claim the changes first, in the record: two journalers racing
        // (the shim's wait and a restore) must not both emit them.
        let mut claimed_from = last;
        let claim = c
            .commit(|r| {
                claimed_from = r.state.health_events;
                r.state.health_events = r.state.health_events.max(last);
            })
            .await;
        if let Err(e) = claim {
            tracing::warn!(id = %c.id, error = %e, "record health events seen");
            return;
        }
        let rec = c.record();
        for ch in new.iter().filter(|ch| ch.seq > claimed_from) {
            // A new run's `starting` is implied by `start` (docker emits none).
            if ch.status == HealthStatus::Starting {
                continue;
            }
            let action = format!("health_status: {}", ch.status.as_str());
            self.events
                .record(Event::container(&action, &c.id, &rec.image, &rec.name, ch.at));
        }
    }
}
