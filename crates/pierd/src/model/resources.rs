//! `HostConfig`'s resources as dockerd validates and adapts them
//! (`verifyPlatformContainerResources`, `adaptContainerSettings`): the
//! typed [`ResourcesSpec`], its checks with dockerd's messages and
//! warnings, and its rendering back into the wire `HostConfig`.
//!
//! `update` (docker's `POST /containers/{id}/update`) validates with the
//! same [`check`] (`update = true`, as dockerd), so a bad value is refused
//! before anything is written to the cgroup.

use std::collections::BTreeMap;

use pier_api::container::{self as wire, HostConfig};

use super::spec::{ResourcesSpec, ThrottleDevice, Ulimit, WeightDevice};
use super::CreateError;

/// docker's minimum for memory limits and reservations.
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// The default cgroup parent of containers (docker's is `/docker`).
pub const DEFAULT_CGROUP_PARENT: &str = "/pier";

/// What the host's cgroups and the daemon's own limits allow, probed once by
/// the daemon (dockerd's `sysinfo`), passed in so that checks stay pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSupport {
    /// `memory.memsw.limit_in_bytes` (v1) / `memory.swap.max` (v2): without
    /// it a swap limit is discarded with docker's warning.
    pub swap_limit: bool,
    /// `blkio.weight` (v1) / `io.weight` or `io.bfq.weight` (v2): without it
    /// `BlkioWeight` is discarded with docker's warning (a v1 host whose
    /// disks use mq-deadline has only `blkio.bfq.weight`).
    pub blkio_weight: bool,
    /// `blkio.weight_device` (v1).
    pub blkio_weight_device: bool,
    /// The CPUs and memory nodes containers may use (the root cpuset's
    /// `cpuset.cpus` / `cpuset.mems`); `None`: not checked.
    pub cpus: Option<String>,
    pub mems: Option<String>,
    /// Hard rlimits of the daemon by docker's names (`nofile`, …), set only
    /// when the daemon cannot raise them (no `CAP_SYS_RESOURCE`): a
    /// `--ulimit` above one would fail at start, so create refuses it.
    pub rlimit_hard: BTreeMap<String, u64>,
}

impl HostSupport {
    /// Everything supported, nothing checked against the host (tests, and
    /// records rebuilt from old releases).
    pub const UNCHECKED: HostSupport = HostSupport {
        swap_limit: true,
        blkio_weight: true,
        blkio_weight_device: true,
        cpus: None,
        mems: None,
        rlimit_hard: BTreeMap::new(),
    };

    /// [`Self::UNCHECKED`], borrowed for as long as needed.
    pub fn unchecked() -> &'static HostSupport {
        static UNCHECKED: HostSupport = HostSupport::UNCHECKED;
        &UNCHECKED
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> CreateError {
    CreateError::Invalid {
        field,
        message: message.into(),
    }
}

/// The request's resources with dockerd's create-time adaptations: swap
/// twice the memory when only memory is set, swappiness -1 and pids limits
/// <= 0 unset.
pub fn from_wire(hc: &HostConfig) -> ResourcesSpec {
    let weights = |l: &Option<Vec<wire::WeightDevice>>| {
        l.as_ref().map(|l| {
            l.iter()
                .map(|d| WeightDevice {
                    path: d.path.clone(),
                    weight: d.weight,
                })
                .collect()
        })
    };
    let throttles = |l: &Option<Vec<wire::ThrottleDevice>>| {
        l.as_ref().map(|l| {
            l.iter()
                .map(|d| ThrottleDevice {
                    path: d.path.clone(),
                    rate: d.rate,
                })
                .collect()
        })
    };
    ResourcesSpec {
        memory: hc.memory,
        memory_swap: if hc.memory > 0 && hc.memory_swap == 0 {
            hc.memory.saturating_mul(2)
        } else {
            hc.memory_swap
        },
        memory_reservation: hc.memory_reservation,
        memory_swappiness: hc.memory_swappiness.filter(|s| *s != -1),
        oom_kill_disable: hc.oom_kill_disable.unwrap_or(false),
        nano_cpus: hc.nano_cpus,
        cpu_shares: hc.cpu_shares,
        cpu_period: hc.cpu_period,
        cpu_quota: hc.cpu_quota,
        cpu_realtime_period: hc.cpu_realtime_period,
        cpu_realtime_runtime: hc.cpu_realtime_runtime,
        cpuset_cpus: hc.cpuset_cpus.clone(),
        cpuset_mems: hc.cpuset_mems.clone(),
        pids_limit: hc.pids_limit.filter(|p| *p > 0),
        blkio_weight: hc.blkio_weight,
        blkio_weight_device: weights(&hc.blkio_weight_device),
        blkio_device_read_bps: throttles(&hc.blkio_device_read_bps),
        blkio_device_write_bps: throttles(&hc.blkio_device_write_bps),
        blkio_device_read_iops: throttles(&hc.blkio_device_read_iops),
        blkio_device_write_iops: throttles(&hc.blkio_device_write_iops),
        ulimits: hc.ulimits.as_ref().map(|l| {
            l.iter()
                .map(|u| Ulimit {
                    name: u.name.clone(),
                    soft: u.soft,
                    hard: u.hard,
                })
                .collect()
        }),
        sysctls: hc.sysctls.clone().unwrap_or_default(),
        cgroup_parent: hc.cgroup_parent.clone(),
    }
}

/// Writes the typed resources into inspect's `HostConfig`.
pub fn render_into(r: &ResourcesSpec, hc: &mut HostConfig) {
    let weights = |l: &Option<Vec<WeightDevice>>| {
        l.as_ref().map(|l| {
            l.iter()
                .map(|d| wire::WeightDevice {
                    path: d.path.clone(),
                    weight: d.weight,
                })
                .collect()
        })
    };
    let throttles = |l: &Option<Vec<ThrottleDevice>>| {
        l.as_ref().map(|l| {
            l.iter()
                .map(|d| wire::ThrottleDevice {
                    path: d.path.clone(),
                    rate: d.rate,
                })
                .collect()
        })
    };
    hc.memory = r.memory;
    hc.memory_swap = r.memory_swap;
    hc.memory_reservation = r.memory_reservation;
    hc.memory_swappiness = r.memory_swappiness;
    hc.oom_kill_disable = Some(r.oom_kill_disable);
    hc.nano_cpus = r.nano_cpus;
    hc.cpu_shares = r.cpu_shares;
    hc.cpu_period = r.cpu_period;
    hc.cpu_quota = r.cpu_quota;
    hc.cpu_realtime_period = r.cpu_realtime_period;
    hc.cpu_realtime_runtime = r.cpu_realtime_runtime;
    hc.cpuset_cpus = r.cpuset_cpus.clone();
    hc.cpuset_mems = r.cpuset_mems.clone();
    hc.pids_limit = r.pids_limit;
    hc.blkio_weight = r.blkio_weight;
    hc.blkio_weight_device = weights(&r.blkio_weight_device);
    hc.blkio_device_read_bps = throttles(&r.blkio_device_read_bps);
    hc.blkio_device_write_bps = throttles(&r.blkio_device_write_bps);
    hc.blkio_device_read_iops = throttles(&r.blkio_device_read_iops);
    hc.blkio_device_write_iops = throttles(&r.blkio_device_write_iops);
    hc.ulimits = r.ulimits.as_ref().map(|l| {
        l.iter()
            .map(|u| wire::Ulimit {
                name: u.name.clone(),
                soft: u.soft,
                hard: u.hard,
            })
            .collect()
    });
    hc.sysctls = (!r.sysctls.is_empty()).then(|| r.sysctls.clone());
    hc.cgroup_parent = r.cgroup_parent.clone();
}

/// The `HostConfig` names [`render_into`] writes.
pub const WIRE_NAMES: &[&str] = &[
    "Memory",
    "MemorySwap",
    "MemoryReservation",
    "MemorySwappiness",
    "OomKillDisable",
    "NanoCpus",
    "CpuShares",
    "CpuPeriod",
    "CpuQuota",
    "CpuRealtimePeriod",
    "CpuRealtimeRuntime",
    "CpusetCpus",
    "CpusetMems",
    "PidsLimit",
    "BlkioWeight",
    "BlkioWeightDevice",
    "BlkioDeviceReadBps",
    "BlkioDeviceWriteBps",
    "BlkioDeviceReadIOps",
    "BlkioDeviceWriteIOps",
    "Ulimits",
    "Sysctls",
    "CgroupParent",
];

/// The namespaces a container's sysctls are checked against (runc's
/// validator: a sysctl must live in a namespace the container owns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Namespaces {
    pub host_ipc: bool,
    pub host_uts: bool,
    pub host_net: bool,
}

/// dockerd's `verifyPlatformContainerResources`: the same refusals and
/// messages, in its order; settings the host cannot apply are discarded
/// with docker's warning (`r` is adapted in place). `ncpu` is the host's
/// CPU count (the NanoCpus range). With `update`, swap without memory is
/// accepted (the container's memory limit applies).
pub fn check(r: &mut ResourcesSpec, host: &HostSupport, ncpu: usize, update: bool) -> Result<Vec<String>, CreateError> {
    let mut warnings = Vec::new();
    let bad = |field: &'static str, m: String| Err(invalid(field, m));
    if r.memory != 0 && r.memory < MIN_MEMORY {
        return bad("HostConfig.Memory", "Minimum memory limit allowed is 6MB".into());
    }
    if r.memory > 0 && r.memory_swap != -1 && !host.swap_limit {
        warnings.push(
            "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap."
                .into(),
        );
        r.memory_swap = -1;
    }
    if r.memory > 0 && r.memory_swap > 0 && r.memory_swap < r.memory {
        return bad(
            "HostConfig.MemorySwap",
            "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
        );
    }
    if r.memory == 0 && r.memory_swap > 0 && !update {
        return bad(
            "HostConfig.MemorySwap",
            "You should always set the Memory limit when using Memoryswap limit, see usage".into(),
        );
    }
    if let Some(s) = r.memory_swappiness {
        if !(0..=100).contains(&s) {
            return bad(
                "HostConfig.MemorySwappiness",
                format!("Invalid value: {s}, valid memory swappiness range is 0-100"),
            );
        }
    }
    if r.memory_reservation > 0 && r.memory_reservation < MIN_MEMORY {
        return bad(
            "HostConfig.MemoryReservation",
            "Minimum memory reservation allowed is 6MB".into(),
        );
    }
    if r.memory > 0 && r.memory_reservation > 0 && r.memory < r.memory_reservation {
        return bad(
            "HostConfig.MemoryReservation",
            "Minimum memory limit can not be less than memory reservation limit, see usage".into(),
        );
    }
    if r.oom_kill_disable && r.memory == 0 {
        warnings.push(
            "OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources."
                .into(),
        );
    }
    if r.nano_cpus > 0 && r.cpu_period > 0 {
        return bad(
            "HostConfig.NanoCpus",
            "Conflicting options: Nano CPUs and CPU Period cannot both be set".into(),
        );
    }
    if r.nano_cpus > 0 && r.cpu_quota > 0 {
        return bad(
            "HostConfig.NanoCpus",
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set".into(),
        );
    }
    let ncpu_i = i64::try_from(ncpu).unwrap_or(i64::MAX);
    if r.nano_cpus != 0 && (r.nano_cpus < 0 || r.nano_cpus > ncpu_i.saturating_mul(1_000_000_000)) {
        return bad(
            "HostConfig.NanoCpus",
            format!("range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"),
        );
    }
    if r.cpu_period != 0 && !(1000..=1_000_000).contains(&r.cpu_period) {
        return bad(
            "HostConfig.CpuPeriod",
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)".into(),
        );
    }
    if r.cpu_quota > 0 && r.cpu_quota < 1000 {
        return bad(
            "HostConfig.CpuQuota",
            "CPU cfs quota can not be less than 1ms (i.e. 1000)".into(),
        );
    }
    // dockerd refuses negative shares when it builds the spec (a failed
    // start); refused here at create, with its message.
    if r.cpu_shares < 0 {
        return bad(
            "HostConfig.CpuShares",
            format!(
                "invalid CPU shares ({}): value must be a positive integer",
                r.cpu_shares
            ),
        );
    }
    for (what, requested, available, field) in [
        ("cpus", &r.cpuset_cpus, &host.cpus, "HostConfig.CpusetCpus"),
        ("mems", &r.cpuset_mems, &host.mems, "HostConfig.CpusetMems"),
    ] {
        let available_set = available.as_deref().map(|a| parse_list(a, 0).unwrap_or_default());
        let max = available_set
            .as_ref()
            .and_then(|s| s.iter().next_back().copied())
            .unwrap_or(0)
            .max(MAX_CPUS);
        let parsed = parse_list(requested, max)
            .map_err(|e| invalid(field, format!("Invalid value {requested} for cpuset {what}: {e}")))?;
        if let (Some(avail), Some(set)) = (available, &available_set) {
            if !parsed.iter().all(|n| set.contains(n)) {
                let noun = if what == "cpus" { "CPUs" } else { "memory nodes" };
                return bad(
                    field,
                    format!("Requested {noun} are not available - requested {requested}, available: {avail}"),
                );
            }
        }
    }
    if r.blkio_weight > 0 && !host.blkio_weight {
        warnings.push(
            "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".into(),
        );
        r.blkio_weight = 0;
    }
    if r.blkio_weight > 0 && !(10..=1000).contains(&r.blkio_weight) {
        return bad(
            "HostConfig.BlkioWeight",
            "Range of blkio weight is from 10 to 1000".into(),
        );
    }
    if r.blkio_weight_device.as_ref().is_some_and(|l| !l.is_empty()) && !host.blkio_weight_device {
        warnings.push(
            "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded."
                .into(),
        );
        r.blkio_weight_device = Some(Vec::new());
    }
    Ok(warnings)
}

/// Create-only checks of what `update` cannot change: rlimits (names,
/// soft <= hard, not above what the daemon may grant) and sysctls (runc's
/// rule: only sysctls of a namespace the container owns), refused at
/// create instead of failing the start.
pub fn check_process_limits(r: &ResourcesSpec, host: &HostSupport, ns: Namespaces) -> Result<(), CreateError> {
    let field = "HostConfig.Ulimits";
    for u in r.ulimits.iter().flatten() {
        if rlimit_type(&u.name).is_none() {
            return Err(invalid(field, format!("invalid ulimit type: {}", u.name)));
        }
        let (soft, hard) = (rlimit_value(u.soft), rlimit_value(u.hard));
        if soft > hard {
            return Err(invalid(
                field,
                format!(
                    "ulimit soft limit must be less than or equal to hard limit: {} > {}",
                    u.soft, u.hard
                ),
            ));
        }
        if let Some(max) = host.rlimit_hard.get(&u.name) {
            if hard > *max {
                return Err(invalid(
                    field,
                    format!(
                        "invalid ulimit {}: hard limit {} is above the daemon's hard limit {max}, which the runtime cannot raise",
                        u.name, u.hard
                    ),
                ));
            }
        }
    }
    for key in r.sysctls.keys() {
        check_sysctl(key, ns).map_err(|m| invalid("HostConfig.Sysctls", m))?;
    }
    Ok(())
}

/// runc's sysctl validation, with its messages.
fn check_sysctl(key: &str, ns: Namespaces) -> Result<(), String> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        if ns.host_ipc {
            return Err(format!("sysctl {key:?} is not allowed in the hosts ipc namespace"));
        }
        return Ok(());
    }
    if key.starts_with("net.") {
        if ns.host_net {
            return Err(format!("sysctl {key:?} not allowed in host network namespace"));
        }
        return Ok(());
    }
    if !ns.host_uts {
        match key {
            "kernel.domainname" => return Ok(()),
            "kernel.hostname" => {
                return Err(format!(
                    "sysctl {key:?} is not allowed as it conflicts with the OCI \"hostname\" field"
                ))
            }
            _ => {}
        }
    }
    Err(format!("sysctl {key:?} is not in a separate kernel namespace"))
}

/// The OCI rlimit type of a docker ulimit name (go-units' table).
pub fn rlimit_type(name: &str) -> Option<&'static str> {
    Some(match name {
        "as" => "RLIMIT_AS",
        "core" => "RLIMIT_CORE",
        "cpu" => "RLIMIT_CPU",
        "data" => "RLIMIT_DATA",
        "fsize" => "RLIMIT_FSIZE",
        "locks" => "RLIMIT_LOCKS",
        "memlock" => "RLIMIT_MEMLOCK",
        "msgqueue" => "RLIMIT_MSGQUEUE",
        "nice" => "RLIMIT_NICE",
        "nofile" => "RLIMIT_NOFILE",
        "nproc" => "RLIMIT_NPROC",
        "rss" => "RLIMIT_RSS",
        "rtprio" => "RLIMIT_RTPRIO",
        "rttime" => "RLIMIT_RTTIME",
        "sigpending" => "RLIMIT_SIGPENDING",
        "stack" => "RLIMIT_STACK",
        _ => return None,
    })
}

/// A ulimit value as the runtime gets it: Go's `uint64(v)` (-1 is
/// unlimited).
pub fn rlimit_value(v: i64) -> u64 {
    v as u64
}

/// docker's bound on cpuset numbers (CVE-2018-20699), raised when the host
/// has more.
const MAX_CPUS: usize = 8192;

/// dockerd's `parseUintList` (`0-2,4`), refusing numbers above `max`
/// (0: no bound).
pub fn parse_list(val: &str, max: usize) -> Result<std::collections::BTreeSet<usize>, String> {
    let mut out = std::collections::BTreeSet::new();
    if val.is_empty() {
        return Ok(out);
    }
    let bad = || format!("invalid format: {val}");
    let num = |s: &str| -> Result<usize, String> {
        // Go's strconv.Atoi: optional sign, decimal digits.
        let n: i64 = s.parse().map_err(|_| bad())?;
        usize::try_from(n).map_err(|_| bad())
    };
    for part in val.split(',') {
        let (lo, hi) = match part.split_once('-') {
            None => {
                let v = num(part)?;
                (v, v)
            }
            Some((a, b)) => {
                let (lo, hi) = (num(a)?, num(b)?);
                if hi < lo {
                    return Err(bad());
                }
                (lo, hi)
            }
        };
        if max != 0 && hi > max {
            return Err(format!("value of out range, maximum is {max}"));
        }
        out.extend(lo..=hi);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns() -> Namespaces {
        Namespaces {
            host_ipc: false,
            host_uts: false,
            host_net: false,
        }
    }

    #[test]
    fn lists_parse_as_dockerd() {
        assert_eq!(
            parse_list("0-2,4", 0).expect("ok").into_iter().collect::<Vec<_>>(),
            [0, 1, 2, 4]
        );
        assert_eq!(parse_list("03,1-3", 0).expect("ok").len(), 3);
        assert_eq!(parse_list("2-1", 0).expect_err("refused"), "invalid format: 2-1");
        assert_eq!(parse_list("a", 0).expect_err("refused"), "invalid format: a");
        assert_eq!(
            parse_list("9000", 8192).expect_err("refused"),
            "value of out range, maximum is 8192"
        );
    }

    #[test]
    fn cpuset_must_be_available() {
        let host = HostSupport {
            cpus: Some("0-1".into()),
            mems: Some("0".into()),
            ..HostSupport::UNCHECKED
        };
        let mut r = ResourcesSpec {
            cpuset_cpus: "1".into(),
            ..Default::default()
        };
        assert!(check(&mut r, &host, 2, false).is_ok());
        r.cpuset_cpus = "0-3".into();
        assert_eq!(
            check(&mut r, &host, 2, false).expect_err("refused").to_string(),
            "Requested CPUs are not available - requested 0-3, available: 0-1"
        );
        r.cpuset_cpus = "x".into();
        assert_eq!(
            check(&mut r, &host, 2, false).expect_err("refused").to_string(),
            "Invalid value x for cpuset cpus: invalid format: x"
        );
        r.cpuset_cpus = String::new();
        r.cpuset_mems = "1".into();
        assert_eq!(
            check(&mut r, &host, 2, false).expect_err("refused").to_string(),
            "Requested memory nodes are not available - requested 1, available: 0"
        );
    }

    #[test]
    fn unsupported_blkio_weight_is_discarded_with_dockers_warning() {
        let host = HostSupport {
            blkio_weight: false,
            blkio_weight_device: false,
            ..HostSupport::UNCHECKED
        };
        let mut r = ResourcesSpec {
            blkio_weight: 5,
            blkio_weight_device: Some(vec![WeightDevice {
                path: "/dev/sda".into(),
                weight: 100,
            }]),
            ..Default::default()
        };
        let w = check(&mut r, &host, 2, false).expect("discarded, not refused");
        assert_eq!(r.blkio_weight, 0);
        assert_eq!(r.blkio_weight_device, Some(vec![]));
        assert_eq!(w.len(), 2);
        assert!(w[0].ends_with("Weight discarded."), "{w:?}");
        let mut r = ResourcesSpec {
            blkio_weight: 5,
            ..Default::default()
        };
        assert_eq!(
            check(&mut r, &HostSupport::UNCHECKED, 2, false)
                .expect_err("refused")
                .to_string(),
            "Range of blkio weight is from 10 to 1000"
        );
    }

    #[test]
    fn swap_without_memory_is_accepted_by_update_only() {
        let mut r = ResourcesSpec {
            memory_swap: 64 << 20,
            ..Default::default()
        };
        assert!(check(&mut r.clone(), &HostSupport::UNCHECKED, 2, false).is_err());
        assert!(check(&mut r, &HostSupport::UNCHECKED, 2, true).is_ok());
    }

    #[test]
    fn ulimits_are_checked_at_create() {
        let host = HostSupport {
            rlimit_hard: [("nofile".to_string(), 20000)].into(),
            ..HostSupport::UNCHECKED
        };
        let with = |name: &str, soft: i64, hard: i64| ResourcesSpec {
            ulimits: Some(vec![Ulimit {
                name: name.into(),
                soft,
                hard,
            }]),
            ..Default::default()
        };
        let err = |r: ResourcesSpec| check_process_limits(&r, &host, ns()).expect_err("refused").to_string();
        assert!(check_process_limits(&with("nofile", 1000, 20000), &host, ns()).is_ok());
        assert!(check_process_limits(&with("nproc", -1, -1), &host, ns()).is_ok());
        assert_eq!(err(with("bogus", 1, 1)), "invalid ulimit type: bogus");
        assert_eq!(
            err(with("nofile", 10, 5)),
            "ulimit soft limit must be less than or equal to hard limit: 10 > 5"
        );
        assert!(err(with("nofile", 10, 30000)).contains("above the daemon's hard limit 20000"));
        assert!(err(with("nofile", -1, -1)).contains("above the daemon's hard limit"));
    }

    #[test]
    fn sysctls_follow_runcs_namespace_rules() {
        let ok = |k: &str, ns: Namespaces| check_sysctl(k, ns);
        assert!(ok("net.ipv4.ip_forward", ns()).is_ok());
        assert!(ok("kernel.shm_rmid_forced", ns()).is_ok());
        assert!(ok("fs.mqueue.msg_max", ns()).is_ok());
        assert!(ok("kernel.domainname", ns()).is_ok());
        assert_eq!(
            ok("vm.swappiness", ns()).expect_err("refused"),
            "sysctl \"vm.swappiness\" is not in a separate kernel namespace"
        );
        assert!(ok("kernel.hostname", ns())
            .expect_err("refused")
            .contains("conflicts with the OCI"));
        let host = Namespaces {
            host_ipc: true,
            host_uts: true,
            host_net: true,
        };
        assert_eq!(
            ok("net.ipv4.ip_forward", host).expect_err("refused"),
            "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"
        );
        assert!(ok("kernel.sem", host)
            .expect_err("refused")
            .contains("hosts ipc namespace"));
        assert!(ok("kernel.domainname", host)
            .expect_err("refused")
            .contains("not in a separate"));
    }
}
