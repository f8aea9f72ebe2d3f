//! The healthcheck's rules, pure (dockerd's `daemon/health.go`): when the
//! next probe runs, and what a result does to the status.
//!
//! - status is `starting` at every start, `FailingStreak` 0, the log of
//!   earlier starts kept;
//! - a probe runs every `start_interval` while the container is `starting`
//!   and within its start period, else every `interval`;
//! - exit 0 makes it `healthy` and resets the streak; any other result is a
//!   failure, not counted while `starting` within the start period, else
//!   counted, and `unhealthy` once the streak reaches `retries`;
//! - once the container is gone the status is `unhealthy` (docker's
//!   "unhealthy when the monitor has stopped").

use std::time::Duration;

use pier_shim_proto::health::{HealthRecord, HealthSettings, HealthStatus, ProbeResult, MAX_LOG_ENTRIES, MAX_OUTPUT};

/// The health of one run of the container.
#[derive(Debug)]
pub struct Health {
    pub settings: HealthSettings,
    pub record: HealthRecord,
    /// When the container started (unix nanoseconds).
    started_at: i64,
}

/// Docker's `limitedBuffer`: the first [`MAX_OUTPUT`] bytes, `...` if
/// more came.
#[derive(Debug, Default)]
pub struct ProbeOutput {
    buf: Vec<u8>,
    truncated: bool,
}

impl ProbeOutput {
    pub fn push(&mut self, data: &[u8]) {
        let keep = MAX_OUTPUT.saturating_sub(self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..keep]);
        if keep < data.len() {
            self.truncated = true;
        }
    }

    pub fn text(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.buf).into_owned();
        if self.truncated {
            s.push_str("...");
        }
        s
    }
}

impl Health {
    /// A start at `started_at`; `previous` is the record of earlier runs.
    pub fn start(settings: HealthSettings, started_at: i64, previous: Option<HealthRecord>) -> Health {
        let mut record = previous.unwrap_or(HealthRecord {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log: Vec::new(),
            changes: Vec::new(),
            monitoring: true,
            probes: 0,
        });
        record.probes = 0;
        record.status = HealthStatus::Starting;
        record.failing_streak = 0;
        record.monitoring = true;
        record.change(HealthStatus::Starting, started_at);
        Health {
            settings,
            record,
            started_at,
        }
    }

    /// How long after a probe (or the start) the next one runs, at `now`.
    pub fn interval(&self, now: i64) -> Duration {
        let s = &self.settings;
        let within_start = now.saturating_sub(self.started_at) < s.start_period_ns;
        let ns = if within_start && self.record.status == HealthStatus::Starting {
            s.start_interval_ns
        } else {
            s.interval_ns
        };
        Duration::from_nanos(u64::try_from(ns).unwrap_or(0).max(1_000_000))
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_nanos(u64::try_from(self.settings.timeout_ns).unwrap_or(0).max(1_000_000))
    }

    /// Apply one probe's result; the new status if it changed.
    pub fn result(&mut self, result: ProbeResult) -> Option<HealthStatus> {
        if !self.record.monitoring {
            return None;
        }
        let old = self.record.status;
        let healthy = result.exit_code == 0;
        let within_start = result.start.saturating_sub(self.started_at) < self.settings.start_period_ns;
        let log = &mut self.record.log;
        if log.len() >= MAX_LOG_ENTRIES {
            log.drain(..=log.len() - MAX_LOG_ENTRIES);
        }
        log.push(result.clone());
        self.record.probes += 1;
        if healthy {
            self.record.failing_streak = 0;
            self.record.status = HealthStatus::Healthy;
        } else if !(old == HealthStatus::Starting && within_start) {
            self.record.failing_streak += 1;
            if self.record.failing_streak >= self.settings.retries {
                self.record.status = HealthStatus::Unhealthy;
            }
        }
        self.changed(old, result.end)
    }

    /// The container is gone: checks end, the status is `unhealthy`.
    pub fn stop(&mut self, now: i64) -> Option<HealthStatus> {
        if !self.record.monitoring {
            return None;
        }
        let old = self.record.status;
        self.record.monitoring = false;
        self.record.status = HealthStatus::Unhealthy;
        self.changed(old, now)
    }

    fn changed(&mut self, old: HealthStatus, at: i64) -> Option<HealthStatus> {
        let new = self.record.status;
        if new == old {
            return None;
        }
        self.record.change(new, at);
        Some(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn settings(start_period: i64, retries: u32) -> HealthSettings {
        HealthSettings {
            process: "p".into(),
            record: "r".into(),
            interval_ns: 30 * S,
            timeout_ns: 30 * S,
            start_period_ns: start_period,
            start_interval_ns: 5 * S,
            retries,
            timeout_text: "30s".into(),
        }
    }

    fn probe(start: i64, exit_code: i32) -> ProbeResult {
        ProbeResult {
            start,
            end: start + 1,
            exit_code,
            output: String::new(),
        }
    }

    #[test]
    fn passing_probe_makes_it_healthy() {
        let mut h = Health::start(settings(0, 3), 0, None);
        assert_eq!(h.record.status, HealthStatus::Starting);
        assert_eq!(h.result(probe(S, 0)), Some(HealthStatus::Healthy));
        assert_eq!(h.result(probe(2 * S, 0)), None);
        assert_eq!(h.record.changes.len(), 2);
    }

    #[test]
    fn failures_count_up_to_retries() {
        let mut h = Health::start(settings(0, 2), 0, None);
        assert_eq!(h.result(probe(S, 1)), None);
        assert_eq!(h.record.failing_streak, 1);
        assert_eq!(h.result(probe(2 * S, 1)), Some(HealthStatus::Unhealthy));
        assert_eq!(h.result(probe(3 * S, 0)), Some(HealthStatus::Healthy));
        assert_eq!(h.record.failing_streak, 0);
    }

    #[test]
    fn start_period_failures_do_not_count_while_starting() {
        let mut h = Health::start(settings(10 * S, 1), 0, None);
        assert_eq!(h.interval(S), Duration::from_secs(5));
        assert_eq!(h.result(probe(S, 1)), None);
        assert_eq!(h.record.failing_streak, 0);
        assert_eq!(h.interval(11 * S), Duration::from_secs(30));
        assert_eq!(h.result(probe(11 * S, 1)), Some(HealthStatus::Unhealthy));
        // Once healthy, failures count even within the start period.
        let mut h = Health::start(settings(10 * S, 1), 0, None);
        h.result(probe(S, 0));
        assert_eq!(h.interval(2 * S), Duration::from_secs(30));
        assert_eq!(h.result(probe(2 * S, 1)), Some(HealthStatus::Unhealthy));
    }

    #[test]
    fn log_keeps_five_and_restart_keeps_log() {
        let mut h = Health::start(settings(0, 3), 0, None);
        for i in 0..7 {
            h.result(probe(i * S, 0));
        }
        assert_eq!(h.record.log.len(), 5);
        assert_eq!(h.record.log[0].start, 2 * S);
        assert_eq!(h.stop(8 * S), Some(HealthStatus::Unhealthy));
        assert_eq!(h.result(probe(9 * S, 0)), None);
        let seq = h.record.last_seq();
        let h2 = Health::start(settings(0, 3), 10 * S, Some(h.record));
        assert_eq!(h2.record.status, HealthStatus::Starting);
        assert_eq!(h2.record.log.len(), 5);
        assert_eq!(h2.record.last_seq(), seq + 1);
    }

    #[test]
    fn output_is_limited() {
        let mut o = ProbeOutput::default();
        o.push(&[b'a'; 4000]);
        o.push(&[b'b'; 200]);
        let t = o.text();
        assert_eq!(t.len(), 4096 + 3);
        assert!(t.ends_with("bb..."));
    }
}
