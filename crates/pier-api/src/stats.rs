//! `GET /containers/{id}/stats`: docker 28's `StatsResponse`, field for
//! field and in its order. Go's `omitempty` is `skip_serializing_if` on
//! numbers, slices and maps; structs are always written (Go never omits
//! them) and absent lists are `null`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

/// Go's zero `time.Time`, as `read`/`preread` carry it when there is no
/// sample.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn zero_time() -> String {
    ZERO_TIME.to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatsResponse {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// RFC 3339 with nanoseconds.
    pub read: String,
    pub preread: String,
    pub pids_stats: PidsStats,
    pub blkio_stats: BlkioStats,
    pub num_procs: u32,
    pub storage_stats: StorageStats,
    pub cpu_stats: CpuStats,
    pub precpu_stats: CpuStats,
    pub memory_stats: MemoryStats,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<BTreeMap<String, NetworkStats>>,
}

impl Default for StatsResponse {
    fn default() -> Self {
        StatsResponse {
            name: String::new(),
            id: String::new(),
            read: zero_time(),
            preread: zero_time(),
            pids_stats: PidsStats::default(),
            blkio_stats: BlkioStats::default(),
            num_procs: 0,
            storage_stats: StorageStats::default(),
            cpu_stats: CpuStats::default(),
            precpu_stats: CpuStats::default(),
            memory_stats: MemoryStats::default(),
            networks: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PidsStats {
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub limit: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioStatEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioStats {
    pub io_service_bytes_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_serviced_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_queue_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_service_time_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_wait_time_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_merged_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_time_recursive: Option<Vec<BlkioStatEntry>>,
    pub sectors_recursive: Option<Vec<BlkioStatEntry>>,
}

/// Windows only: always empty here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageStats {
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub read_count_normalized: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub read_size_bytes: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub write_count_normalized: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub write_size_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuUsage {
    pub total_usage: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percpu_usage: Option<Vec<u64>>,
    pub usage_in_kernelmode: u64,
    pub usage_in_usermode: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottlingData {
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_time: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuStats {
    pub cpu_usage: CpuUsage,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub system_cpu_usage: u64,
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub online_cpus: u32,
    pub throttling_data: ThrottlingData,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryStats {
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub max_usage: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub failcnt: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub limit: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkStats {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What dockerd 28 writes for a container that is not running.
    #[test]
    fn empty_stats_as_dockerd_writes_them() {
        let s = StatsResponse {
            name: "/web".into(),
            id: "abc".into(),
            ..StatsResponse::default()
        };
        assert_eq!(
            serde_json::to_string(&s).expect("json"),
            r#"{"name":"/web","id":"abc","read":"0001-01-01T00:00:00Z","preread":"0001-01-01T00:00:00Z","pids_stats":{},"blkio_stats":{"io_service_bytes_recursive":null,"io_serviced_recursive":null,"io_queue_recursive":null,"io_service_time_recursive":null,"io_wait_time_recursive":null,"io_merged_recursive":null,"io_time_recursive":null,"sectors_recursive":null},"num_procs":0,"storage_stats":{},"cpu_stats":{"cpu_usage":{"total_usage":0,"usage_in_kernelmode":0,"usage_in_usermode":0},"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},"precpu_stats":{"cpu_usage":{"total_usage":0,"usage_in_kernelmode":0,"usage_in_usermode":0},"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},"memory_stats":{}}"#
        );
    }

    #[test]
    fn decodes_a_docker_sample() {
        let raw = r#"{"read":"2025-01-01T00:00:01.5Z","preread":"2025-01-01T00:00:00.5Z","pids_stats":{"current":3},
            "cpu_stats":{"cpu_usage":{"total_usage":200,"percpu_usage":[100,100],"usage_in_kernelmode":1,"usage_in_usermode":2},
            "system_cpu_usage":5000,"online_cpus":2,"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}},
            "memory_stats":{"usage":10,"limit":100,"stats":{"total_inactive_file":1}},
            "networks":{"eth0":{"rx_bytes":1,"tx_bytes":2}},"name":"/x","id":"y"}"#;
        let s: StatsResponse = serde_json::from_str(raw).expect("decode");
        assert_eq!(s.cpu_stats.online_cpus, 2);
        assert_eq!(s.cpu_stats.cpu_usage.percpu_usage, Some(vec![100, 100]));
        assert_eq!(s.networks.expect("networks")["eth0"].tx_bytes, 2);
        assert_eq!(s.precpu_stats, CpuStats::default());
    }
}
