//! `POST /containers/prune` (dockerd's `ContainerPrune`): every container
//! that is not running, filtered by `until` and `label`/`label!`, removed
//! as `rm` without `-f` would; the space reclaimed is what their writable
//! layers held.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use pier_api::filters::Filters;

use crate::daemon::lifecycle::list::invalid_filter;
use crate::daemon::Daemon;
use crate::error::{Error, Result};
use crate::record::{ContainerRecord, Status};

/// The keys dockerd accepts for a container prune.
const KEYS: &[&str] = &["label", "label!", "until"];

/// What a prune removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Full ids, in the order removed (newest first).
    pub deleted: Vec<String>,
    pub reclaimed: u64,
}

/// A container prune's filters, validated as dockerd does.
#[derive(Debug, Clone, Default)]
pub struct PruneFilters {
    filters: Filters,
    /// Unix nanoseconds: containers created after it are kept.
    until: Option<i64>,
}

impl PruneFilters {
    /// Parses `filters=` (either encoding); `until` is docker's timestamp
    /// forms (`10m`, a unix time, an RFC 3339 date) relative to `now_unix`.
    pub fn parse(text: &str, now_unix: i64) -> Result<Self> {
        let filters = Filters::parse(text).map_err(invalid_filter)?;
        filters.validate(KEYS).map_err(invalid_filter)?;
        let values: Vec<&str> = filters.get("until").collect();
        let until = match values.as_slice() {
            [] => None,
            [v] => Some(parse_until(v, now_unix)?),
            _ => {
                return Err(Error::InvalidParameter(
                    "more than one until filter specified".to_string(),
                ))
            }
        };
        Ok(PruneFilters { filters, until })
    }

    /// Whether a container that is not running is pruned.
    pub fn matches(&self, r: &ContainerRecord) -> bool {
        if self.until.is_some_and(|until| r.created > until) {
            return false;
        }
        let labels = || r.spec.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let f = &self.filters;
        f.match_kv_list("label", labels()) && !(f.contains("label!") && f.match_kv_list("label!", labels()))
    }
}

fn parse_until(value: &str, now_unix: i64) -> Result<i64> {
    if value.trim().is_empty() {
        return Err(Error::InvalidParameter(
            "failed to parse value as time or duration: value is empty".to_string(),
        ));
    }
    let secs = pier_time::since_value(value, now_unix).map_err(|e| Error::InvalidParameter(e.to_string()))?;
    pier_time::parse_unix_seconds(&secs)
        .ok_or_else(|| Error::InvalidParameter(format!("failed to parse value as time or duration: {value:?}")))
}

/// Resets the prune flag however the prune ends.
struct Running<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Daemon {
    /// Remove every container that is not running and passes `filters`;
    /// one that cannot be removed (started meanwhile, already being
    /// removed) is skipped, as dockerd does. 409 while another prune runs.
    pub async fn container_prune(self: &Arc<Self>, filters: PruneFilters) -> Result<Pruned> {
        if self
            .prune_running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(Error::Conflict("a prune operation is already running".to_string()));
        }
        let _running = Running(&self.prune_running);
        let mut candidates: Vec<_> = self
            .containers()
            .into_iter()
            .map(|c| {
                let r = c.record();
                (c, r)
            })
            .filter(|(_, r)| matches!(r.state.status, Status::Created | Status::Exited | Status::Dead))
            .filter(|(_, r)| filters.matches(r))
            .collect();
        candidates.sort_by(|a, b| b.1.created.cmp(&a.1.created).then_with(|| a.1.id.cmp(&b.1.id)));
        let mut out = Pruned::default();
        for (c, r) in candidates {
            let upper = c.rootfs().upper;
            let size = Daemon::blocking("measure container layer", move || Ok(crate::volumes::dir_size(&upper)))
                .await
                .unwrap_or(0);
            match self.remove(&r.id, false, false).await {
                Ok(()) => {
                    out.deleted.push(r.id.clone());
                    out.reclaimed += size;
                }
                Err(e) => tracing::warn!(id = %r.id, error = %e, "failed to prune container"),
            }
        }
        // dockerd's `prune` event: no actor id, the space as an attribute.
        self.event("container", "prune", "", &[("reclaimed", &out.reclaimed.to_string())]);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_as_dockerd() {
        let now = 1_700_000_000;
        assert_eq!(
            PruneFilters::parse(r#"{"name":["x"]}"#, now)
                .expect_err("key")
                .to_string(),
            "invalid filter 'name'"
        );
        assert_eq!(
            PruneFilters::parse(r#"{"until":["1h","2h"]}"#, now)
                .expect_err("two")
                .to_string(),
            "more than one until filter specified"
        );
        assert_eq!(
            PruneFilters::parse(r#"{"until":["soon"]}"#, now)
                .expect_err("bad")
                .to_string(),
            "failed to parse value as time or duration: \"soon\""
        );
        let f = PruneFilters::parse(r#"{"until":["10m"]}"#, now).expect("duration");
        assert_eq!(f.until, Some((now - 600) * 1_000_000_000));
        let f = PruneFilters::parse(r#"{"until":{"1700000000.5":true}}"#, now).expect("unix");
        assert_eq!(f.until, Some(1_700_000_000_500_000_000));
        let f = PruneFilters::parse(r#"{"until":["2023-11-14T22:13:20Z"]}"#, now).expect("rfc3339");
        assert_eq!(f.until, Some(1_700_000_000_000_000_000));
        assert!(PruneFilters::parse(r#"{"label":["a"],"label!":["b=1"]}"#, now).is_ok());
    }
}
