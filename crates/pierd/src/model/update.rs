//! `update` (docker's `POST /containers/{id}/update`) as dockerd does it
//! (`ContainerUpdate`, `Container.UpdateContainer`): the request validated
//! with create's checks (`update = true`), merged into the stored
//! resources field by field (a zero value leaves a field alone), restart
//! policy included, with dockerd's conflicts. Pure: the caller applies
//! [`Updated::live`] to a running container and stores [`Updated::spec`].
//!
//! One departure: the merged limits are checked again (swap below memory,
//! reservation above it), so a combination the kernel would refuse half
//! way through `runc update` is a 400 before anything is written.

use pier_api::container::HostConfig;

use super::resources::{self, HostSupport};
use super::spec::{ContainerSpec, ResourcesSpec, RestartPolicy};

/// A validated update.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    /// The container's spec with the update merged.
    pub spec: ContainerSpec,
    /// The request's own limits, what dockerd hands the runtime (only the
    /// fields the request set; the runtime keeps the others).
    pub live: ResourcesSpec,
    /// The request set `PidsLimit` <= 0: the runtime's limit is lifted
    /// (`pids.limit: -1`).
    pub unset_pids: bool,
    pub warnings: Vec<String>,
}

/// Why an update was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// A bad value (HTTP 400, docker's message).
    #[error("{0}")]
    Invalid(String),
    /// The update contradicts the container's settings (HTTP 409; docker
    /// prefixes "Cannot update container ID: ").
    #[error("{0}")]
    Conflict(String),
}

/// The request's resources as sent (no create-time adaptation: dockerd
/// does not double the swap on update).
fn requested(hc: &HostConfig) -> ResourcesSpec {
    let mut r = resources::from_wire(hc);
    r.memory_swap = hc.memory_swap;
    r.pids_limit = hc.pids_limit;
    r
}

/// Validate `req` and merge it into `spec`.
pub fn update(spec: &ContainerSpec, req: &HostConfig, host: &HostSupport, ncpu: usize) -> Result<Updated, UpdateError> {
    let restart = if req.restart_policy.name.is_empty() {
        None
    } else {
        Some(super::build::restart_policy(req).map_err(|e| UpdateError::Invalid(e.to_string()))?)
    };
    let mut live = requested(req);
    let warnings = resources::check(&mut live, host, ncpu, true).map_err(|e| UpdateError::Invalid(e.to_string()))?;
    let conflict = |m: &str| Err(UpdateError::Conflict(m.to_string()));
    let cur = &spec.resources;
    if live.nano_cpus > 0 && cur.cpu_period > 0 {
        return conflict("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set");
    }
    if live.nano_cpus > 0 && cur.cpu_quota > 0 {
        return conflict("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set");
    }
    if live.cpu_period > 0 && cur.nano_cpus > 0 {
        return conflict("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set");
    }
    if live.cpu_quota > 0 && cur.nano_cpus > 0 {
        return conflict("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set");
    }
    let mut next = spec.clone();
    let m = &mut next.resources;
    if live.blkio_weight != 0 {
        m.blkio_weight = live.blkio_weight;
    }
    if live.blkio_weight_device.is_some() {
        m.blkio_weight_device.clone_from(&live.blkio_weight_device);
    }
    for (to, from) in [
        (&mut m.blkio_device_read_bps, &live.blkio_device_read_bps),
        (&mut m.blkio_device_write_bps, &live.blkio_device_write_bps),
        (&mut m.blkio_device_read_iops, &live.blkio_device_read_iops),
        (&mut m.blkio_device_write_iops, &live.blkio_device_write_iops),
    ] {
        if from.is_some() {
            to.clone_from(from);
        }
    }
    for (to, from) in [
        (&mut m.cpu_shares, live.cpu_shares),
        (&mut m.nano_cpus, live.nano_cpus),
        (&mut m.cpu_period, live.cpu_period),
        (&mut m.cpu_quota, live.cpu_quota),
        (&mut m.memory_reservation, live.memory_reservation),
        (&mut m.cpu_realtime_period, live.cpu_realtime_period),
        (&mut m.cpu_realtime_runtime, live.cpu_realtime_runtime),
    ] {
        if from != 0 {
            *to = from;
        }
    }
    if !live.cpuset_cpus.is_empty() {
        m.cpuset_cpus.clone_from(&live.cpuset_cpus);
    }
    if !live.cpuset_mems.is_empty() {
        m.cpuset_mems.clone_from(&live.cpuset_mems);
    }
    if live.memory != 0 {
        if live.memory > m.memory_swap && live.memory_swap == 0 {
            return conflict(
                "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
            );
        }
        m.memory = live.memory;
    }
    if live.memory_swap != 0 {
        m.memory_swap = live.memory_swap;
    }
    let unset_pids = live.pids_limit.is_some_and(|p| p <= 0);
    if let Some(p) = live.pids_limit {
        m.pids_limit = (p > 0).then_some(p);
    }
    live.pids_limit = live.pids_limit.filter(|p| *p > 0);
    if let Some(policy) = restart {
        if spec.auto_remove && policy != RestartPolicy::No {
            return conflict("Restart policy cannot be updated because AutoRemove is enabled for the container");
        }
        next.restart = policy;
    }
    // The merged limits must hold together before any is written.
    let mut merged = next.resources.clone();
    resources::check(&mut merged, host, ncpu, true).map_err(|e| UpdateError::Invalid(e.to_string()))?;
    Ok(Updated {
        spec: next,
        live,
        unset_pids,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pier_api::container::RestartPolicy as WireRestart;

    const MIB: i64 = 1024 * 1024;

    fn base() -> ContainerSpec {
        let opts = std::collections::BTreeMap::new();
        let defaults = crate::model::Defaults {
            log_driver: "json-file",
            log_opts: &opts,
            runtime: "runc",
            ncpu: 2,
            cgroup_v2: false,
            apparmor: false,
            bridge_default: false,
            host: HostSupport::unchecked(),
        };
        let req: pier_api::container::ContainerCreateRequest =
            serde_json::from_value(serde_json::json!({"Image": "busybox", "Cmd": ["sh"]})).expect("request");
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        crate::model::build(id, &req, &pier_image::ImageConfig::default(), &defaults)
            .expect("build")
            .spec
    }

    fn spec_with(f: impl FnOnce(&mut ResourcesSpec)) -> ContainerSpec {
        let mut s = base();
        f(&mut s.resources);
        s
    }

    fn run(spec: &ContainerSpec, f: impl FnOnce(&mut HostConfig)) -> Result<Updated, UpdateError> {
        let mut hc = HostConfig::default();
        f(&mut hc);
        update(spec, &hc, HostSupport::unchecked(), 2)
    }

    #[test]
    fn merges_what_the_request_sets() {
        let spec = spec_with(|r| {
            r.memory = 100 * MIB;
            r.memory_swap = 200 * MIB;
            r.cpu_shares = 512;
            r.pids_limit = Some(50);
        });
        let u = run(&spec, |hc| {
            hc.memory = 150 * MIB;
            hc.cpu_quota = 50_000;
            hc.pids_limit = Some(0);
        })
        .expect("update");
        let r = &u.spec.resources;
        assert_eq!(
            (r.memory, r.memory_swap, r.cpu_shares, r.cpu_quota),
            (150 * MIB, 200 * MIB, 512, 50_000)
        );
        assert_eq!(r.pids_limit, None);
        assert!(u.unset_pids);
        // The runtime gets the request only.
        assert_eq!(
            (u.live.memory, u.live.memory_swap, u.live.cpu_shares),
            (150 * MIB, 0, 0)
        );
        assert_eq!(u.spec.restart, RestartPolicy::No);
    }

    #[test]
    fn dockerd_conflicts_and_refusals() {
        let none = base();
        // No limit yet: memory alone exceeds the (unset) swap limit.
        let e = run(&none, |hc| hc.memory = 64 * MIB).expect_err("memory without swap");
        assert!(
            matches!(&e, UpdateError::Conflict(m) if m.starts_with("Memory limit should be smaller")),
            "{e}"
        );
        let u = run(&none, |hc| {
            hc.memory = 64 * MIB;
            hc.memory_swap = 128 * MIB;
        })
        .expect("both");
        assert_eq!(u.spec.resources.memory_swap, 128 * MIB);
        let cpus = spec_with(|r| r.nano_cpus = 500_000_000);
        let e = run(&cpus, |hc| hc.cpu_quota = 20_000).expect_err("quota after cpus");
        assert_eq!(
            e.to_string(),
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"
        );
        // Create's checks, with their messages (400).
        let e = run(&none, |hc| hc.memory = MIB).expect_err("tiny");
        assert_eq!(e, UpdateError::Invalid("Minimum memory limit allowed is 6MB".into()));
        let e = run(&none, |hc| hc.blkio_weight = 5).expect_err("weight");
        assert_eq!(
            e,
            UpdateError::Invalid("Range of blkio weight is from 10 to 1000".into())
        );
        // Swap below the memory already set: refused before any write.
        let mem = spec_with(|r| {
            r.memory = 100 * MIB;
            r.memory_swap = 200 * MIB;
        });
        let e = run(&mem, |hc| hc.memory_swap = 50 * MIB).expect_err("swap < memory");
        assert!(matches!(e, UpdateError::Invalid(_)), "{e}");
    }

    #[test]
    fn restart_policy_is_validated_and_kept() {
        let none = base();
        let u = run(&none, |hc| {
            hc.restart_policy = WireRestart {
                name: "on-failure".into(),
                maximum_retry_count: 3,
            }
        })
        .expect("policy");
        assert_eq!(u.spec.restart, RestartPolicy::OnFailure { max_retries: 3 });
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        let e = run(&none, |hc| hc.restart_policy.name = "sometimes".into()).expect_err("unknown");
        assert!(matches!(e, UpdateError::Invalid(m) if m.contains("unknown policy 'sometimes'")));
        let mut auto = base();
        auto.auto_remove = true;
        let e = run(&auto, |hc| hc.restart_policy.name = "always".into()).expect_err("autoremove");
        assert_eq!(
            e.to_string(),
            "Restart policy cannot be updated because AutoRemove is enabled for the container"
        );
    }
}
