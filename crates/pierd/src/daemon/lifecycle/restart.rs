//! Restart policies, as dockerd's restart manager: who restarts, when, and
//! with which back-off.
//!
//! pierd runs the policy. A shim records every exit (`exit.json`, with its
//! real time) whether or not pierd is up; pierd applies the policy when it
//! learns the exit: at once from the monitor, or at its own start (restore)
//! for exits that happened while it was down, a machine reboot included
//! (shim gone, no exit record: exited 255, then restarted per policy). No
//! exit is lost, so no restart is: it is at most delayed until pierd starts.
//!
//! Back-off (dockerd's): 100 ms, doubled at each restart up to 1 minute,
//! back to 100 ms once a run lasted 10 s. `RestartCount` counts policy
//! restarts since the last manual start. A manual stop or kill (the stop
//! signal or SIGKILL) cancels restarts until the next manual start; any
//! API kill marks the container manually stopped, which `unless-stopped`
//! honours.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::AbortHandle;

use crate::daemon::{Container, Daemon};
use crate::model::RestartPolicy;

/// The first back-off.
pub const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest back-off.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long resets the back-off.
pub const RESET_AFTER: Duration = Duration::from_secs(10);

/// A container's restart manager (in memory; a restarted pierd starts
/// again from the first back-off).
#[derive(Debug, Default)]
pub struct RestartManager {
    /// The last back-off used (zero: none yet).
    delay: Duration,
    /// Set by a manual stop or kill; cleared by a manual start.
    canceled: bool,
    /// The pending restart, if any.
    pending: Option<AbortHandle>,
}

impl RestartManager {
    /// Back to a fresh manager (a manual start).
    fn reset(&mut self) {
        self.delay = Duration::ZERO;
        self.canceled = false;
        if let Some(p) = self.pending.take() {
            p.abort();
        }
    }

    /// Cancel restarts until the next manual start; true when a pending
    /// restart was dropped.
    fn cancel(&mut self) -> bool {
        self.canceled = true;
        match self.pending.take() {
            Some(p) => {
                p.abort();
                true
            }
            None => false,
        }
    }

    /// dockerd's `ShouldRestart`: the back-off to wait, or `None`.
    pub fn decide(&mut self, exit: &ExitFacts, policy: &RestartPolicy) -> Option<Duration> {
        if *policy == RestartPolicy::No || self.canceled {
            return None;
        }
        self.delay = next_delay(self.delay, exit.ran);
        should_restart(policy, exit).then_some(self.delay)
    }
}

/// What the policy looks at.
#[derive(Debug, Clone, Copy)]
pub struct ExitFacts {
    pub exit_code: i32,
    pub manually_stopped: bool,
    /// Policy restarts since the last manual start.
    pub restart_count: i64,
    /// How long the run lasted.
    pub ran: Duration,
}

/// The back-off after `prev`, given how long the last run lasted.
pub fn next_delay(prev: Duration, ran: Duration) -> Duration {
    let prev = if ran >= RESET_AFTER { Duration::ZERO } else { prev };
    if prev.is_zero() {
        FIRST_DELAY
    } else {
        (prev * 2).min(MAX_DELAY)
    }
}

/// Whether `policy` restarts after `exit`.
pub fn should_restart(policy: &RestartPolicy, exit: &ExitFacts) -> bool {
    match policy {
        RestartPolicy::No => false,
        RestartPolicy::Always => true,
        RestartPolicy::UnlessStopped => !exit.manually_stopped,
        RestartPolicy::OnFailure { max_retries } => {
            (*max_retries == 0 || exit.restart_count < i64::from(*max_retries)) && exit.exit_code != 0
        }
    }
}

impl Container {
    fn restart_manager(&self) -> std::sync::MutexGuard<'_, RestartManager> {
        self.restart.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A manual start: restarts allowed again, back-off from the start.
    pub(in crate::daemon) fn reset_restarts(&self) {
        self.restart_manager().reset();
    }

    /// A manual stop or kill: no restart until the next manual start.
    /// Returns true when a pending restart was dropped.
    pub(in crate::daemon) fn cancel_restarts(&self) -> bool {
        self.restart_manager().cancel()
    }

    /// The back-off before a restart after this exit, or `None`.
    pub(in crate::daemon) fn restart_after(&self, exit: &ExitFacts) -> Option<Duration> {
        let policy = self.record().spec.restart;
        self.restart_manager().decide(exit, &policy)
    }
}

impl Daemon {
    /// Start `c` again after `delay` (it is recorded as restarting).
    pub(in crate::daemon) fn schedule_restart(self: &Arc<Self>, c: &Arc<Container>, delay: Duration) {
        let d = self.clone();
        let c2 = c.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            d.restart_by_policy(&c2).await;
        });
        let mut m = c.restart_manager();
        if let Some(old) = m.pending.replace(task.abort_handle()) {
            old.abort();
        }
    }

    async fn restart_by_policy(self: &Arc<Self>, c: &Arc<Container>) {
        let _op = c.op.lock().await;
        {
            let live = c.live.borrow();
            if live.removed || !live.record.state.is_restarting() {
                return;
            }
        }
        c.restart_manager().pending = None;
        tracing::info!(id = %c.id, restart_count = c.record().restart_count, "restarting container by its policy");
        if let Err(e) = self.start_locked(c, false).await {
            tracing::warn!(id = %c.id, error = %e, "restart by policy failed");
            if let Err(e) = c.commit(|r| r.state.restarting = false).await {
                tracing::warn!(id = %c.id, error = %e, "record failed restart");
            }
        }
    }

    /// A manual stop or kill of a container waiting for its restart: the
    /// restart is dropped and it stays exited.
    pub(in crate::daemon) async fn stop_restarting(&self, c: &Arc<Container>) -> crate::error::Result<()> {
        c.cancel_restarts();
        c.commit(|r| {
            r.state.restarting = false;
            r.state.manually_stopped = true;
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(code: i32, count: i64, ran_ms: u64) -> ExitFacts {
        ExitFacts {
            exit_code: code,
            manually_stopped: false,
            restart_count: count,
            ran: Duration::from_millis(ran_ms),
        }
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut d = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..12 {
            d = next_delay(d, Duration::from_millis(5));
            seen.push(d.as_millis());
        }
        assert_eq!(
            seen,
            [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000]
        );
        assert_eq!(next_delay(d, Duration::from_secs(10)), FIRST_DELAY);
        assert_eq!(next_delay(d, Duration::from_millis(9999)), MAX_DELAY);
    }

    #[test]
    fn policies() {
        let always = RestartPolicy::Always;
        let unless = RestartPolicy::UnlessStopped;
        let on3 = RestartPolicy::OnFailure { max_retries: 3 };
        let on_any = RestartPolicy::OnFailure { max_retries: 0 };
        assert!(should_restart(&always, &exit(0, 0, 1)));
        assert!(!should_restart(&RestartPolicy::No, &exit(1, 0, 1)));
        let mut stopped = exit(1, 0, 1);
        stopped.manually_stopped = true;
        assert!(should_restart(&always, &stopped));
        assert!(!should_restart(&unless, &stopped));
        assert!(should_restart(&unless, &exit(0, 0, 1)));
        assert!(!should_restart(&on3, &exit(0, 0, 1)));
        assert!(should_restart(&on3, &exit(1, 2, 1)));
        assert!(!should_restart(&on3, &exit(1, 3, 1)));
        assert!(should_restart(&on_any, &exit(255, 1000, 1)));
    }

    #[test]
    fn manager_cancel_and_reset() {
        let mut m = RestartManager::default();
        let p = RestartPolicy::Always;
        assert_eq!(m.decide(&exit(0, 0, 1), &p), Some(Duration::from_millis(100)));
        assert_eq!(m.decide(&exit(0, 1, 1), &p), Some(Duration::from_millis(200)));
        m.cancel();
        assert_eq!(m.decide(&exit(0, 2, 1), &p), None);
        m.reset();
        assert_eq!(m.decide(&exit(0, 0, 1), &p), Some(Duration::from_millis(100)));
        // on-failure past its maximum: no restart, but the back-off moved.
        let mut m = RestartManager::default();
        assert_eq!(
            m.decide(&exit(1, 1, 1), &RestartPolicy::OnFailure { max_retries: 1 }),
            None
        );
    }
}
