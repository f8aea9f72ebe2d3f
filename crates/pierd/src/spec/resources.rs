//! A container's cgroup limits, rlimits and cgroup path in OCI terms, as
//! dockerd builds them (`WithResources`, `withRlimits`, `withCgroups`).
//! The limits come from the model's [`ResourcesSpec`] (validated at
//! create); block devices arrive resolved to their numbers by the caller
//! (a stat of each path). `update` reuses [`linux_resources`] for the
//! document it hands to `runc update -r -`.

use std::collections::BTreeMap;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources, LinuxThrottleDevice, LinuxThrottleDeviceBuilder,
    LinuxWeightDeviceBuilder, PosixRlimit, PosixRlimitBuilder, PosixRlimitType,
};

use super::SpecError;
use crate::model::{resources, ResourcesSpec, ThrottleDevice};

/// Block device numbers (major, minor) by host path.
pub type DeviceNumbers = BTreeMap<String, (i64, i64)>;

/// dockerd's CFS period for `--cpus`: 100 ms.
const NANO_CPUS_PERIOD: u64 = 100_000;

/// The host paths of the block devices `r` names (to resolve before
/// [`linux_resources`]).
pub fn device_paths(r: &ResourcesSpec) -> Vec<&str> {
    let mut paths: Vec<&str> = r
        .blkio_weight_device
        .iter()
        .flatten()
        .map(|d| d.path.as_str())
        .collect();
    for list in throttle_lists(r) {
        paths.extend(list.iter().flatten().map(|d| d.path.as_str()));
    }
    paths.sort_unstable();
    paths.dedup();
    paths
}

fn throttle_lists(r: &ResourcesSpec) -> [&Option<Vec<ThrottleDevice>>; 4] {
    [
        &r.blkio_device_read_bps,
        &r.blkio_device_write_bps,
        &r.blkio_device_read_iops,
        &r.blkio_device_write_iops,
    ]
}

fn oci(what: &'static str) -> impl Fn(oci_spec::OciSpecError) -> SpecError {
    move |e| SpecError::Oci {
        what,
        message: e.to_string(),
    }
}

fn numbers(devices: &DeviceNumbers, path: &str) -> Result<(i64, i64), SpecError> {
    devices.get(path).copied().ok_or_else(|| SpecError::Oci {
        what: "block device",
        message: format!("no device numbers for {path}"),
    })
}

/// `linux.resources` without device rules: what dockerd sets for the
/// same limits (only the sections that have a value, so a container
/// without limits gets none).
pub fn linux_resources(r: &ResourcesSpec, devices: &DeviceNumbers) -> Result<LinuxResources, SpecError> {
    let mut out = LinuxResources::default();

    let mut memory = LinuxMemory::default();
    memory.set_limit((r.memory > 0).then_some(r.memory));
    memory.set_reservation((r.memory_reservation > 0).then_some(r.memory_reservation));
    memory.set_swap((r.memory_swap > 0).then_some(r.memory_swap));
    memory.set_swappiness(r.memory_swappiness.and_then(|s| u64::try_from(s).ok()));
    memory.set_disable_oom_killer(r.oom_kill_disable.then_some(true));
    if memory != LinuxMemory::default() {
        out.set_memory(Some(memory));
    }

    let mut cpu = LinuxCpu::default();
    cpu.set_shares(u64::try_from(r.cpu_shares).ok().filter(|s| *s != 0));
    cpu.set_cpus((!r.cpuset_cpus.is_empty()).then(|| r.cpuset_cpus.clone()));
    cpu.set_mems((!r.cpuset_mems.is_empty()).then(|| r.cpuset_mems.clone()));
    if r.nano_cpus > 0 {
        cpu.set_period(Some(NANO_CPUS_PERIOD));
        cpu.set_quota(Some(
            r.nano_cpus.saturating_mul(NANO_CPUS_PERIOD as i64) / 1_000_000_000,
        ));
    }
    if r.cpu_period != 0 {
        cpu.set_period(u64::try_from(r.cpu_period).ok());
    }
    if r.cpu_quota != 0 {
        cpu.set_quota(Some(r.cpu_quota));
    }
    cpu.set_realtime_period(u64::try_from(r.cpu_realtime_period).ok().filter(|p| *p != 0));
    cpu.set_realtime_runtime((r.cpu_realtime_runtime != 0).then_some(r.cpu_realtime_runtime));
    if cpu != LinuxCpu::default() {
        out.set_cpu(Some(cpu));
    }

    if let Some(limit) = r.pids_limit {
        let mut pids = LinuxPids::default();
        pids.set_limit(limit);
        out.set_pids(Some(pids));
    }

    let mut blkio = LinuxBlockIo::default();
    blkio.set_weight((r.blkio_weight != 0).then_some(r.blkio_weight));
    let weights = r
        .blkio_weight_device
        .iter()
        .flatten()
        .map(|d| {
            let (major, minor) = numbers(devices, &d.path)?;
            LinuxWeightDeviceBuilder::default()
                .major(major)
                .minor(minor)
                .weight(d.weight)
                .build()
                .map_err(oci("weight device"))
        })
        .collect::<Result<Vec<_>, SpecError>>()?;
    blkio.set_weight_device((!weights.is_empty()).then_some(weights));
    let throttles = |list: &Option<Vec<ThrottleDevice>>| -> Result<Option<Vec<LinuxThrottleDevice>>, SpecError> {
        let devs = list
            .iter()
            .flatten()
            .map(|d| {
                let (major, minor) = numbers(devices, &d.path)?;
                LinuxThrottleDeviceBuilder::default()
                    .major(major)
                    .minor(minor)
                    .rate(d.rate)
                    .build()
                    .map_err(oci("throttle device"))
            })
            .collect::<Result<Vec<_>, SpecError>>()?;
        Ok((!devs.is_empty()).then_some(devs))
    };
    blkio.set_throttle_read_bps_device(throttles(&r.blkio_device_read_bps)?);
    blkio.set_throttle_write_bps_device(throttles(&r.blkio_device_write_bps)?);
    blkio.set_throttle_read_iops_device(throttles(&r.blkio_device_read_iops)?);
    blkio.set_throttle_write_iops_device(throttles(&r.blkio_device_write_iops)?);
    if blkio != LinuxBlockIo::default() {
        out.set_block_io(Some(blkio));
    }
    Ok(out)
}

/// The container's `--ulimit`s as OCI rlimits (checked at create).
pub fn ulimits(r: &ResourcesSpec) -> Result<Vec<PosixRlimit>, SpecError> {
    r.ulimits
        .iter()
        .flatten()
        .map(|u| {
            let bad = || SpecError::Oci {
                what: "rlimit",
                message: format!("invalid ulimit type: {}", u.name),
            };
            let name = resources::rlimit_type(&u.name).ok_or_else(bad)?;
            let typ: PosixRlimitType =
                serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|_| bad())?;
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(resources::rlimit_value(u.soft))
                .hard(resources::rlimit_value(u.hard))
                .build()
                .map_err(oci("rlimit"))
        })
        .collect()
}

/// `linux.cgroupsPath` for the cgroupfs driver: Go's `filepath.Join(parent,
/// id)` (a relative parent stays relative: runc places it under its own
/// cgroup, as with dockerd).
pub fn cgroups_path(parent: &str, id: &str) -> String {
    let joined = format!("{parent}/{id}");
    let absolute = joined.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let body = parts.join("/");
    if absolute {
        format!("/{body}")
    } else {
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Ulimit, WeightDevice};

    #[test]
    fn no_limits_no_sections() {
        let r = linux_resources(&ResourcesSpec::default(), &DeviceNumbers::new()).expect("resources");
        assert_eq!(r, LinuxResources::default());
    }

    #[test]
    fn limits_as_dockerd_sets_them() {
        let r = ResourcesSpec {
            memory: 32 << 20,
            memory_swap: 64 << 20,
            memory_reservation: 16 << 20,
            memory_swappiness: Some(10),
            oom_kill_disable: true,
            nano_cpus: 500_000_000,
            cpu_shares: 512,
            cpuset_cpus: "0".into(),
            pids_limit: Some(20),
            blkio_weight: 300,
            blkio_weight_device: Some(vec![WeightDevice {
                path: "/dev/vda".into(),
                weight: 200,
            }]),
            blkio_device_read_bps: Some(vec![ThrottleDevice {
                path: "/dev/vda".into(),
                rate: 1 << 20,
            }]),
            ..Default::default()
        };
        assert_eq!(device_paths(&r), ["/dev/vda"]);
        let devices: DeviceNumbers = [("/dev/vda".to_string(), (253, 0))].into();
        let json = serde_json::to_value(linux_resources(&r, &devices).expect("resources")).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "memory": {"limit": 33554432, "reservation": 16777216, "swap": 67108864,
                           "swappiness": 10, "disableOOMKiller": true},
                "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
                "pids": {"limit": 20},
                "blockIO": {"weight": 300, "weightDevice": [{"major": 253, "minor": 0, "weight": 200}],
                            "throttleReadBpsDevice": [{"major": 253, "minor": 0, "rate": 1048576}]}
            })
        );
        assert!(linux_resources(&r, &DeviceNumbers::new()).is_err());
    }

    #[test]
    fn unlimited_swap_is_left_to_the_runtime() {
        let r = ResourcesSpec {
            memory: 32 << 20,
            memory_swap: -1,
            ..Default::default()
        };
        let out = linux_resources(&r, &DeviceNumbers::new()).expect("resources");
        assert_eq!(out.memory().as_ref().and_then(|m| m.swap()), None);
    }

    #[test]
    fn ulimits_become_rlimits() {
        let r = ResourcesSpec {
            ulimits: Some(vec![Ulimit {
                name: "nproc".into(),
                soft: 10,
                hard: -1,
            }]),
            ..Default::default()
        };
        let l = ulimits(&r).expect("rlimits");
        assert_eq!(
            serde_json::to_value(&l).expect("json"),
            serde_json::json!([{"type": "RLIMIT_NPROC", "soft": 10, "hard": u64::MAX}])
        );
    }

    #[test]
    fn cgroups_path_joins_as_go() {
        assert_eq!(cgroups_path("/pier", "abc"), "/pier/abc");
        assert_eq!(cgroups_path("/pier/", "abc"), "/pier/abc");
        assert_eq!(cgroups_path("mine", "abc"), "mine/abc");
        assert_eq!(cgroups_path("/a/../b", "abc"), "/b/abc");
        assert_eq!(cgroups_path("/../..", "abc"), "/abc");
    }
}
