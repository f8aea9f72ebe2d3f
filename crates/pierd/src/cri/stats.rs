//! `ContainerStats` / `ListContainerStats`: one sample of the container's
//! cgroup (the same reader as the Docker API's stats, one shot) and the
//! size of its writable layer.

use std::sync::Arc;

use pier_cri_api::tonic::Status;
use pier_cri_api::v1 as cri;

use super::container_config as cc;
use super::{container, mapping, status_of};
use crate::cgroup::Usage;
use crate::daemon::{Container, Daemon, StatsOptions};

/// kubelet's working set: usage less the inactive file cache (cAdvisor's
/// rule; v1 names it `total_inactive_file`).
pub fn working_set(usage: &Usage) -> u64 {
    let stats = &usage.memory.stats;
    let inactive = stats
        .get("total_inactive_file")
        .or_else(|| stats.get("inactive_file"))
        .copied()
        .unwrap_or(0);
    usage.memory.usage.saturating_sub(inactive)
}

fn rss(usage: &Usage) -> u64 {
    let stats = &usage.memory.stats;
    stats
        .get("total_rss")
        .or_else(|| stats.get("anon"))
        .or_else(|| stats.get("rss"))
        .copied()
        .unwrap_or(0)
}

async fn stats_of(daemon: &Arc<Daemon>, c: &Arc<Container>) -> Result<cri::ContainerStats, Status> {
    let rec = c.record();
    let info = cc::container_info(&rec.spec.labels).ok_or_else(|| container::not_found(&c.id))?;
    let mut stream = daemon
        .stats(
            &c.id,
            StatsOptions {
                stream: false,
                one_shot: true,
            },
        )
        .map_err(status_of)?;
    let sample = stream.next().await.and_then(|f| f.sample);
    let now = pier_time::now_nanos();
    let (cpu, memory) = match &sample {
        Some(s) => {
            let machine = s.machine_memory;
            let limit = s.usage.memory.limit.min(machine);
            let ws = working_set(&s.usage);
            (
                Some(cri::CpuUsage {
                    timestamp: s.cpu.read,
                    usage_core_nano_seconds: Some(cri::UInt64Value {
                        value: s.cpu.cpu.total_ns,
                    }),
                    usage_nano_cores: None,
                }),
                Some(cri::MemoryUsage {
                    timestamp: s.cpu.read,
                    working_set_bytes: Some(cri::UInt64Value { value: ws }),
                    available_bytes: (limit > 0).then(|| cri::UInt64Value {
                        value: limit.saturating_sub(ws),
                    }),
                    usage_bytes: Some(cri::UInt64Value {
                        value: s.usage.memory.usage,
                    }),
                    rss_bytes: Some(cri::UInt64Value { value: rss(&s.usage) }),
                    page_faults: s
                        .usage
                        .memory
                        .stats
                        .get("pgfault")
                        .map(|&value| cri::UInt64Value { value }),
                    major_page_faults: s
                        .usage
                        .memory
                        .stats
                        .get("pgmajfault")
                        .map(|&value| cri::UInt64Value { value }),
                }),
            )
        }
        None => (None, None),
    };
    let upper = c.rootfs().upper;
    let layer = Daemon::blocking("writable layer usage", move || Ok(super::fs_usage(&upper)))
        .await
        .map_err(status_of)?;
    Ok(cri::ContainerStats {
        attributes: Some(cri::ContainerAttributes {
            id: rec.id.clone(),
            metadata: Some(info.metadata),
            labels: info.labels,
            annotations: info.annotations,
        }),
        cpu: cpu.or(Some(cri::CpuUsage {
            timestamp: now,
            ..Default::default()
        })),
        memory: memory.or(Some(cri::MemoryUsage {
            timestamp: now,
            ..Default::default()
        })),
        writable_layer: Some(layer),
        swap: None,
    })
}

pub(crate) async fn container_stats(daemon: &Arc<Daemon>, id: &str) -> Result<cri::ContainerStats, Status> {
    let c = container::get(daemon, id)?;
    stats_of(daemon, &c).await
}

pub(crate) async fn list_stats(
    daemon: &Arc<Daemon>,
    filter: Option<cri::ContainerStatsFilter>,
) -> Result<Vec<cri::ContainerStats>, Status> {
    let filter = filter.unwrap_or_default();
    let mut out = Vec::new();
    for c in daemon.containers() {
        let rec = c.record();
        let Some(info) = cc::container_info(&rec.spec.labels) else {
            continue;
        };
        let wanted = (filter.id.is_empty() || rec.id.starts_with(&filter.id))
            && (filter.pod_sandbox_id.is_empty() || info.sandbox_id.starts_with(&filter.pod_sandbox_id))
            && mapping::selected(&filter.label_selector, &info.labels);
        if !wanted {
            continue;
        }
        // A container removed meanwhile is left out.
        if let Ok(s) = stats_of(daemon, &c).await {
            out.push(s);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_set_leaves_out_inactive_files() {
        let mut u = Usage::default();
        u.memory.usage = 10_000;
        u.memory.stats.insert("total_inactive_file".into(), 3_000);
        assert_eq!(working_set(&u), 7_000);
        u.memory.stats.clear();
        u.memory.stats.insert("inactive_file".into(), 12_000);
        assert_eq!(working_set(&u), 0);
    }
}
