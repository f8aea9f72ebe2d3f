//! OOM events as they happen: one task per running container holding an
//! `OomWait` on its shim. Each new event sets `State.OOMKilled` (docker
//! sets it on the event, for any process of the container, and only a
//! start resets it) and records an `oom` event in the journal.

use std::sync::Arc;

use crate::daemon::events::Event;
use crate::daemon::{Container, Daemon};

impl Daemon {
    /// Listen for `c`'s OOM events until its shim says it is gone (or
    /// cannot tell: a lost shim, the fake shim).
    pub(in crate::daemon) fn spawn_oom_watch(self: &Arc<Self>, c: Arc<Container>) {
        let daemon = self.clone();
        tokio::spawn(async move {
            let mut seen = c.record().state.oom_events;
            loop {
                match c.shim.oom_wait(seen).await {
                    Ok((count, exited)) => {
                        if count > seen {
                            // Boxed: rare, and the parked task stays small.
                            Box::pin(daemon.record_oom(&c, seen, count)).await;
                            seen = count;
                        }
                        if exited {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::debug!(id = %c.id, error = %e, "OOM watch ends");
                        break;
                    }
                }
            }
        });
    }

    async fn record_oom(&self, c: &Arc<Container>, seen: u64, count: u64) {
        tracing::info!(id = %c.id, events = count - seen, "container OOM");
        if let Err(e) = c
            .commit(|r| {
                r.state.oom_killed = true;
                r.state.oom_events = count;
            })
            .await
        {
            tracing::warn!(id = %c.id, error = %e, "record OOM");
        }
        let rec = c.record();
        let now = pier_time::now_nanos();
        for _ in seen..count {
            self.events
                .record(Event::container("oom", &c.id, &rec.image, &rec.name, now));
        }
    }
}
