//! Healthchecks: what pierd asks of the shim ([`HealthSettings`], in
//! [`crate::ShimConfig::health`]) and what the shim keeps
//! ([`HealthRecord`], `<data-root>/containers/<id>/health.json`, written by
//! the shim only, replaced atomically after every probe).
//!
//! The shim schedules the probes itself, so health keeps being checked
//! while pierd is down; pierd reads the record for inspect and `ps`, and
//! turns [`HealthRecord::changes`] it has not seen into `health_status`
//! events with their real times.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Results kept in [`HealthRecord::log`] (docker's `maxLogEntries`).
pub const MAX_LOG_ENTRIES: usize = 5;
/// Bytes of output kept per result (docker's `maxOutputLen`).
pub const MAX_OUTPUT: usize = 4096;
/// Status changes kept in [`HealthRecord::changes`].
pub const MAX_CHANGES: usize = 32;

/// The container's healthcheck, effective values (docker's defaults
/// applied by pierd).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthSettings {
    /// An OCI `process` JSON file written by pierd: the probe's argv
    /// with the container's env, user and working directory.
    pub process: PathBuf,
    /// Where the shim keeps the [`HealthRecord`].
    pub record: PathBuf,
    pub interval_ns: i64,
    pub timeout_ns: i64,
    pub start_period_ns: i64,
    pub start_interval_ns: i64,
    pub retries: u32,
    /// The probe's timeout as docker prints it in the timed-out result
    /// (Go's `time.Duration` string, `30s`).
    pub timeout_text: String,
}

/// Docker's `State.Health.Status` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

/// One probe (`State.Health.Log[]`); times in unix nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub start: i64,
    pub end: i64,
    pub exit_code: i32,
    pub output: String,
}

/// A status change, numbered so a reader can tell what it has seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthChange {
    pub seq: u64,
    pub status: HealthStatus,
    /// Unix nanoseconds.
    pub at: i64,
}

/// `health.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthRecord {
    pub status: HealthStatus,
    pub failing_streak: u32,
    pub log: Vec<ProbeResult>,
    /// The last [`MAX_CHANGES`] status changes, oldest first.
    #[serde(default)]
    pub changes: Vec<HealthChange>,
    /// The shim still checks (false once the container is gone: docker
    /// then reports `unhealthy`).
    #[serde(default)]
    pub monitoring: bool,
    /// Probes run since the shim started checking (this run).
    #[serde(default)]
    pub probes: u64,
}

impl HealthRecord {
    /// The number of the last change recorded (0: none).
    pub fn last_seq(&self) -> u64 {
        self.changes.last().map_or(0, |c| c.seq)
    }

    /// Record a status change at `at`.
    pub fn change(&mut self, status: HealthStatus, at: i64) {
        let seq = self.last_seq() + 1;
        if self.changes.len() >= MAX_CHANGES {
            self.changes.remove(0);
        }
        self.changes.push(HealthChange { seq, status, at });
    }
}
