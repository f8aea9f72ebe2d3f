//! Healthcheck probes: the shim's scheduler ([`crate::health`] decides).
//! A probe is an exec through the invocation queue with pipes the shim
//! reads itself; one runs at a time. A probe past its timeout is killed by
//! its own pid (killing `runtime exec` would leave it running). The record
//! is written after every result, so pierd (running or not) finds the
//! health of the container in `health.json`.

use std::time::Instant;

use pier_shim_proto::health::{HealthRecord, ProbeResult};
use pier_shim_proto::ExecRequest;
use pier_sys::Signal;
use pier_time::now_nanos;

use super::exec::Exec;
use super::{Invocation, Shim};
use crate::decide::Phase;
use crate::health::{Health, ProbeOutput};

/// The probe running now.
#[derive(Debug)]
pub(super) struct Probe {
    pub(super) seq: usize,
    start: i64,
    deadline: Instant,
    timed_out: bool,
}

/// The scheduler: the health of this run and the probe in flight.
#[derive(Debug, Default)]
pub(super) struct Prober {
    health: Option<Health>,
    next: Option<Instant>,
    pub(super) running: Option<Probe>,
    count: u64,
}

/// The connection id of a probe (nobody's).
pub(super) const PROBE_CONN: usize = usize::MAX;

impl Prober {
    /// The last change of the health record and whether checks have ended
    /// (the container is gone, or it has no healthcheck).
    pub(super) fn progress(&self, phase: &Phase, configured: bool) -> (u64, bool) {
        let exited = crate::decide::finished(phase).is_some();
        match &self.health {
            Some(h) => (h.record.last_seq(), exited || !h.record.monitoring),
            None => (0, exited || !configured),
        }
    }

    /// When the loop must wake for the healthcheck.
    pub(super) fn deadline(&self) -> Option<Instant> {
        match &self.running {
            Some(p) if !p.timed_out => Some(p.deadline),
            Some(_) => None,
            None => self.next,
        }
    }
}

fn write_record(path: &std::path::Path, record: &HealthRecord) {
    let tmp = path.with_extension("json.tmp");
    let result = serde_json::to_vec(record)
        .map_err(std::io::Error::other)
        .and_then(|body| std::fs::write(&tmp, body))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        tracing::warn!(error = %e, path = %path.display(), "write health record");
    }
}

impl Shim {
    /// The container started: checks begin (status `starting`).
    pub(super) fn start_health(&mut self) {
        let Some(settings) = self.cfg.health.clone() else {
            return;
        };
        let now = now_nanos();
        let previous = std::fs::read(&settings.record)
            .ok()
            .and_then(|b| serde_json::from_slice::<HealthRecord>(&b).ok());
        let health = Health::start(settings, self.lifecycle.started_at.unwrap_or(now), previous);
        write_record(&health.settings.record, &health.record);
        self.prober.next = Some(Instant::now() + health.interval(now));
        self.prober.health = Some(health);
    }

    /// Answer the parked `HealthWait`s that see something new (all of
    /// them once the checks have ended).
    pub(super) fn answer_health_waiters(&mut self) {
        let (seq, ended) = self.prober.progress(&self.lifecycle.phase, self.cfg.health.is_some());
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.clients.health_waiters)
            .into_iter()
            .partition(|&(_, seen)| ended || seq > seen);
        self.clients.health_waiters = keep;
        for (conn, _) in due {
            self.answer(conn, &pier_shim_proto::Response::Health { seq, exited: ended });
        }
    }

    /// The container is gone: no more probes; `unhealthy`.
    pub(super) fn stop_health(&mut self) {
        self.prober.next = None;
        if let Some(p) = self.prober.running.as_mut() {
            if !p.timed_out {
                p.timed_out = true;
                self.kill_probe();
            }
        }
        if let Some(h) = self.prober.health.as_mut() {
            if h.stop(now_nanos()).is_some() || !h.record.monitoring {
                write_record(&h.settings.record, &h.record);
            }
        }
        self.answer_health_waiters();
    }

    /// Run a due probe, or kill one past its timeout.
    pub(super) fn check_health(&mut self) {
        let now = Instant::now();
        if let Some(p) = self.prober.running.as_mut() {
            if !p.timed_out && now >= p.deadline {
                p.timed_out = true;
                tracing::info!("health probe timed out; killing it");
                self.kill_probe();
            }
            return;
        }
        let Some(next) = self.prober.next else {
            return;
        };
        if now < next || self.lifecycle.phase != Phase::Running {
            return;
        }
        if self.lifecycle.paused {
            // dockerd's probe of a frozen container fails at exec create
            // (it counts, as in dockerd; the runtime would refuse the exec).
            let start = now_nanos();
            let why = format!("Container {} is paused, unpause the container before exec", self.cfg.id);
            self.probe_result(start, -1, why);
            return;
        }
        let Some(h) = self.prober.health.as_ref() else {
            return;
        };
        self.prober.count += 1;
        let req = ExecRequest {
            exec_id: format!("health-{}", self.prober.count),
            process: h.settings.process.clone(),
            tty: false,
            stdin: false,
            stdout: true,
            stderr: true,
            detach: false,
            console_size: None,
        };
        let timeout = h.timeout();
        let seq = self.execs.next_seq();
        match Exec::open(seq, &req, &self.cfg.bundle, self.poll.registry()) {
            Ok(mut exec) => {
                exec.probe = Some(ProbeOutput::default());
                self.execs.by_seq.insert(seq, exec);
                self.prober.running = Some(Probe {
                    seq,
                    start: now_nanos(),
                    deadline: now + timeout,
                    timed_out: false,
                });
                self.prober.next = None;
                self.invocations.push(Invocation::Exec { conn: PROBE_CONN, seq });
            }
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "set up health probe");
                let start = now_nanos();
                self.probe_result(start, -1, format!("{e:#}"));
            }
        }
    }

    /// SIGKILL the probe by its own pid (once the runtime has told it).
    fn kill_probe(&mut self) {
        let Some(p) = self.prober.running.as_ref() else {
            return;
        };
        let pid = self.execs.pid_of(p.seq);
        if pid > 0 {
            if let Err(e) = pier_sys::process::kill(pier_sys::Pid::from_raw(pid), Signal::SIGKILL) {
                tracing::debug!(error = %e, pid, "kill health probe");
            }
        }
    }

    /// The runtime started the probe as `pid`: kill it now if it is late.
    pub(super) fn probe_started(&mut self, seq: usize) {
        if self
            .prober
            .running
            .as_ref()
            .is_some_and(|p| p.seq == seq && p.timed_out)
        {
            self.kill_probe();
        }
    }

    /// The probe `seq` ended with `exit_code` (`None`: it never ran;
    /// `output` says why).
    pub(super) fn probe_ended(&mut self, seq: usize, exit_code: Option<i32>, output: String) {
        let Some(p) = self.prober.running.take_if(|p| p.seq == seq) else {
            return;
        };
        let (code, output) = match (p.timed_out, exit_code) {
            (true, _) => (
                -1,
                format!(
                    "Health check exceeded timeout ({})",
                    self.prober
                        .health
                        .as_ref()
                        .map_or("", |h| h.settings.timeout_text.as_str())
                ),
            ),
            (false, Some(c)) => (c, output),
            (false, None) => (-1, output),
        };
        self.probe_result(p.start, code, output);
    }

    fn probe_result(&mut self, start: i64, exit_code: i32, output: String) {
        let Some(h) = self.prober.health.as_mut() else {
            return;
        };
        if !h.record.monitoring {
            return;
        }
        let end = now_nanos();
        let changed = h.result(ProbeResult {
            start,
            end,
            exit_code,
            output,
        });
        if let Some(status) = changed {
            tracing::info!(status = status.as_str(), "health status changed");
        }
        let changed = changed.is_some();
        write_record(&h.settings.record, &h.record);
        self.prober.next = Some(Instant::now() + h.interval(end));
        if changed {
            self.answer_health_waiters();
        }
    }
}
