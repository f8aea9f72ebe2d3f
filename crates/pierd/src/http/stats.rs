//! `GET /containers/{id}/stats`: one JSON object per sample, as dockerd
//! writes them (`stream=false` answers once; `one-shot=true` skips the
//! second sample that fills `precpu_stats`).

use std::collections::BTreeMap;
use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use pier_api::stats::{
    BlkioStatEntry, BlkioStats, CpuStats, CpuUsage, MemoryStats, NetworkStats, PidsStats, StatsResponse,
    ThrottlingData, ZERO_TIME,
};
use pier_api::version::ApiVersion;

use super::error::{ApiError, ApiResult, Params};
use super::AppState;
use crate::cgroup::BlkioEntry;
use crate::daemon::usage::stats::{CpuSample, Sample};
use crate::daemon::{StatsFrame, StatsOptions};

/// dockerd's `BoolValueOrDefault`: absent means `default`.
fn bool_or(params: &Params, key: &str, default: bool) -> bool {
    match params.get(key) {
        None => default,
        Some(_) => params.flag(key),
    }
}

pub async fn stats(
    State(d): State<AppState>,
    Path(id): Path<String>,
    Extension(version): Extension<ApiVersion>,
    params: Params,
) -> ApiResult<Response> {
    let stream = bool_or(&params, "stream", true);
    let one_shot = version >= ApiVersion { major: 1, minor: 41 } && bool_or(&params, "one-shot", false);
    if stream && one_shot {
        return Err(ApiError::bad_request("cannot have stream=true and one-shot=true"));
    }
    let stats = d.stats(&id, StatsOptions { stream, one_shot })?;
    let body = futures_util::stream::unfold(stats, |mut s| async move {
        let frame = s.next().await?;
        let mut line = serde_json::to_vec(&response(&frame)).unwrap_or_default();
        line.push(b'\n');
        Some((Ok::<_, Infallible>(line), s))
    });
    Ok(([(header::CONTENT_TYPE, "application/json")], Body::from_stream(body)).into_response())
}

fn time(nanos: i64) -> String {
    pier_time::format_nano(nanos)
}

/// A frame as docker's `StatsResponse`.
pub fn response(f: &StatsFrame) -> StatsResponse {
    let mut r = StatsResponse {
        name: format!("/{}", f.name),
        id: f.id.clone(),
        ..StatsResponse::default()
    };
    if let Some(p) = &f.previous {
        r.preread = time(p.read);
        r.precpu_stats = cpu_stats(p);
    } else {
        r.preread = ZERO_TIME.to_string();
    }
    if let Some(s) = &f.sample {
        fill(&mut r, s);
    }
    r
}

fn fill(r: &mut StatsResponse, s: &Sample) {
    let u = &s.usage;
    r.read = time(s.cpu.read);
    r.cpu_stats = cpu_stats(&s.cpu);
    let mut limit = u.memory.limit;
    if s.machine_memory > 0 && limit > s.machine_memory {
        limit = s.machine_memory;
    }
    r.memory_stats = MemoryStats {
        usage: u.memory.usage,
        max_usage: u.memory.max_usage,
        stats: Some(u.memory.stats.clone()),
        failcnt: u.memory.failcnt,
        limit,
    };
    r.pids_stats = PidsStats {
        current: u.pids.current,
        limit: u.pids.limit,
    };
    let list = |l: &Option<Vec<BlkioEntry>>| {
        l.as_ref().map(|v| {
            v.iter()
                .map(|e| BlkioStatEntry {
                    major: e.major,
                    minor: e.minor,
                    op: e.op.clone(),
                    value: e.value,
                })
                .collect()
        })
    };
    let b = &u.blkio;
    r.blkio_stats = BlkioStats {
        io_service_bytes_recursive: list(&b.service_bytes),
        io_serviced_recursive: list(&b.serviced),
        io_queue_recursive: list(&b.queued),
        io_service_time_recursive: list(&b.service_time),
        io_wait_time_recursive: list(&b.wait_time),
        io_merged_recursive: list(&b.merged),
        io_time_recursive: list(&b.time),
        sectors_recursive: list(&b.sectors),
    };
    r.networks = s.networks.as_ref().filter(|n| !n.is_empty()).map(|n| {
        n.iter()
            .map(|(name, d)| {
                (
                    name.clone(),
                    NetworkStats {
                        rx_bytes: d.rx_bytes,
                        rx_packets: d.rx_packets,
                        rx_errors: d.rx_errors,
                        rx_dropped: d.rx_dropped,
                        tx_bytes: d.tx_bytes,
                        tx_packets: d.tx_packets,
                        tx_errors: d.tx_errors,
                        tx_dropped: d.tx_dropped,
                    },
                )
            })
            .collect::<BTreeMap<_, _>>()
    });
}

fn cpu_stats(c: &CpuSample) -> CpuStats {
    CpuStats {
        cpu_usage: CpuUsage {
            total_usage: c.cpu.total_ns,
            percpu_usage: (!c.cpu.percpu_ns.is_empty()).then(|| c.cpu.percpu_ns.clone()),
            usage_in_kernelmode: c.cpu.kernel_ns,
            usage_in_usermode: c.cpu.user_ns,
        },
        system_cpu_usage: c.system_cpu_ns,
        online_cpus: c.online_cpus,
        throttling_data: ThrottlingData {
            periods: c.cpu.throttling.periods,
            throttled_periods: c.cpu.throttling.throttled_periods,
            throttled_time: c.cpu.throttling.throttled_ns,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::{Blkio, Cpu, Memory, Pids, Throttling, Usage};

    #[test]
    fn a_running_sample_in_dockers_shape() {
        let cpu = |total, read| CpuSample {
            read,
            cpu: Cpu {
                total_ns: total,
                percpu_ns: vec![total / 2, total / 2],
                kernel_ns: 10,
                user_ns: 20,
                throttling: Throttling::default(),
            },
            system_cpu_ns: 1_000_000,
            online_cpus: 2,
        };
        let frame = StatsFrame {
            id: "abc".into(),
            name: "web".into(),
            sample: Some(Sample {
                cpu: cpu(400, 2_000_000_000),
                usage: Usage {
                    memory: Memory {
                        usage: 4096,
                        limit: u64::MAX,
                        stats: [("total_inactive_file".to_string(), 1)].into_iter().collect(),
                        ..Memory::default()
                    },
                    pids: Pids { current: 2, limit: 0 },
                    blkio: Blkio {
                        service_bytes: Some(vec![BlkioEntry {
                            major: 8,
                            minor: 0,
                            op: "Read".into(),
                            value: 512,
                        }]),
                        serviced: Some(Vec::new()),
                        ..Blkio::default()
                    },
                    ..Usage::default()
                },
                networks: Some(Vec::new()),
                machine_memory: 8192,
            }),
            previous: Some(cpu(200, 1_000_000_000)),
        };
        let v = serde_json::to_value(response(&frame)).expect("json");
        assert_eq!(v["name"], "/web");
        assert_eq!(v["read"], "1970-01-01T00:00:02Z");
        assert_eq!(v["preread"], "1970-01-01T00:00:01Z");
        assert_eq!(v["cpu_stats"]["cpu_usage"]["total_usage"], 400);
        assert_eq!(v["cpu_stats"]["cpu_usage"]["percpu_usage"][1], 200);
        assert_eq!(v["precpu_stats"]["cpu_usage"]["total_usage"], 200);
        assert_eq!(v["cpu_stats"]["online_cpus"], 2);
        assert_eq!(v["memory_stats"]["limit"], 8192, "unlimited is the machine's memory");
        assert!(v["memory_stats"].get("max_usage").is_none(), "omitempty");
        assert_eq!(v["pids_stats"], serde_json::json!({"current": 2}));
        assert_eq!(v["blkio_stats"]["io_serviced_recursive"], serde_json::json!([]));
        assert_eq!(v["blkio_stats"]["io_queue_recursive"], serde_json::Value::Null);
        assert!(v.get("networks").is_none(), "no interface but lo: omitted");
    }
}
