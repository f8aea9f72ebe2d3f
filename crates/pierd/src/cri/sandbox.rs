//! Pod sandboxes: a pod's infra (pause) container, a Pier container marked
//! by `mapping::keys` labels, so it is in the container table, survives a
//! pierd restart and is listed by filtering the table.

use std::sync::Arc;

use pier_cri_api::tonic::Status;
use pier_cri_api::v1 as cri;

use super::mapping::{self, ImageName};
use super::status_of;
use crate::daemon::{Container, CreateOptions, Daemon};
use crate::error::Error;

/// Pull `image` unless the store has it; returns the store key.
pub(crate) async fn ensure_image(daemon: &Arc<Daemon>, image: &str) -> Result<String, Status> {
    let name = mapping::image_name(image).map_err(Status::invalid_argument)?;
    let key = name.store_key();
    match daemon.resolve_image(&key).await {
        Ok(_) => return Ok(key),
        Err(Error::NoSuchImage(_)) => {}
        Err(e) => return Err(status_of(e)),
    }
    let ImageName::Reference(reference) = name else {
        return Err(Status::not_found(format!("no such image: {image}")));
    };
    let credentials = Daemon::registry_credentials(None, reference.domain());
    let remote = daemon
        .resolve_remote(reference, None, credentials)
        .await
        .map_err(status_of)?;
    let d = daemon.clone();
    let shown = key.clone();
    Daemon::blocking("pull image", move || {
        d.pull_remote(remote, &|_| {}).map_err(Error::image)?;
        d.image_event("pull", &shown, &shown);
        Ok(())
    })
    .await
    .map_err(status_of)?;
    Ok(key)
}

pub(crate) async fn run(daemon: &Arc<Daemon>, config: cri::PodSandboxConfig) -> Result<String, Status> {
    let Some(metadata) = config.metadata.as_ref() else {
        return Err(Status::invalid_argument("sandbox config has no metadata"));
    };
    if metadata.name.is_empty() || metadata.namespace.is_empty() || metadata.uid.is_empty() {
        return Err(Status::invalid_argument(
            "sandbox metadata needs a name, namespace and uid",
        ));
    }
    let pod_network = mapping::pod_network(&config).map_err(Status::invalid_argument)?;
    if pod_network.is_some() {
        // Before anything is pulled or made: a pod without a network is
        // refused with the reason (kubelet retries).
        let networks = daemon.networks.clone();
        let unavailable = Daemon::blocking("read the CNI config", move || Ok(networks.pod_network_unavailable()))
            .await
            .map_err(status_of)?;
        if let Some(why) = unavailable {
            return Err(Status::failed_precondition(format!(
                "failed to setup network for sandbox {:?}: {why}",
                mapping::sandbox_name(metadata)
            )));
        }
    }
    let image = ensure_image(daemon, &daemon.cfg.cri.sandbox_image).await?;
    let request = serde_json::from_value(mapping::sandbox_request(&config, &image))
        .map_err(|e| Status::internal(format!("sandbox request: {e}")))?;
    let created = daemon
        .create(CreateOptions {
            name: Some(mapping::sandbox_name(metadata)),
            request,
        })
        .await
        .map_err(status_of)?;
    if let Err(e) = daemon.start(&created.id).await {
        let _ = daemon.remove(&created.id, true, true).await;
        return Err(status_of(e));
    }
    Ok(created.id)
}

/// The sandbox `id` (full id or unique prefix), if it is one.
pub(crate) fn find(daemon: &Daemon, id: &str) -> Option<Arc<Container>> {
    if id.is_empty() {
        return None;
    }
    let c = daemon.lookup(id).ok()?;
    (c.id.starts_with(id) && mapping::sandbox_info(&c.record().spec.labels).is_some()).then_some(c)
}

/// NOT_FOUND for the sandbox `id`.
pub(crate) fn not_found(id: &str) -> Status {
    Status::not_found(format!("pod sandbox {id:?} not found"))
}

pub(crate) async fn stop(daemon: &Arc<Daemon>, id: &str) -> Result<(), Status> {
    // Idempotent: a sandbox already gone is stopped.
    let Some(c) = find(daemon, id) else { return Ok(()) };
    if c.record().state.is_running() {
        match daemon.stop(&c.id, Some(10), None).await {
            Ok(()) | Err(Error::NotRunning(_)) => {}
            Err(e) => return Err(status_of(e)),
        }
    }
    // The pod network (CNI DEL) is gone when the call returns, not only
    // when the exit monitor gets to it; idempotent.
    daemon.release_network_of_exited(&c).await.map_err(status_of)
}

pub(crate) async fn remove(daemon: &Arc<Daemon>, id: &str) -> Result<(), Status> {
    let Some(c) = find(daemon, id) else { return Ok(()) };
    // As containerd: the pod is stopped (its network torn down) first; a
    // failed teardown fails the call and leaves the pod for a retry.
    stop(daemon, &c.id).await?;
    match daemon.remove(&c.id, true, true).await {
        Ok(()) | Err(Error::NoSuchContainer(_)) => Ok(()),
        Err(e) => Err(status_of(e)),
    }
}

/// A sandbox's CRI view.
pub(crate) fn view(c: &Container) -> Option<(cri::PodSandbox, cri::PodSandboxStatus)> {
    let record = c.record();
    let info = mapping::sandbox_info(&record.spec.labels)?;
    let state = if record.state.is_running() {
        cri::PodSandboxState::SandboxReady
    } else {
        cri::PodSandboxState::SandboxNotready
    } as i32;
    let sandbox = cri::PodSandbox {
        id: record.id.clone(),
        metadata: Some(info.metadata.clone()),
        state,
        created_at: record.created,
        labels: info.labels.clone(),
        annotations: info.annotations.clone(),
        runtime_handler: String::new(),
    };
    let status = cri::PodSandboxStatus {
        id: record.id.clone(),
        metadata: Some(info.metadata),
        state,
        created_at: record.created,
        // Filled by `network_status` where the IP is wanted (it reads a file).
        network: Some(cri::PodSandboxNetworkStatus::default()),
        linux: None,
        labels: info.labels,
        annotations: info.annotations,
        runtime_handler: String::new(),
    };
    Some((sandbox, status))
}

pub(crate) fn list(daemon: &Daemon, filter: Option<cri::PodSandboxFilter>) -> Vec<cri::PodSandbox> {
    let filter = filter.unwrap_or_default();
    let mut out: Vec<cri::PodSandbox> = daemon
        .containers()
        .iter()
        .filter_map(|c| view(c).map(|(s, _)| s))
        .filter(|s| filter.id.is_empty() || s.id.starts_with(&filter.id))
        .filter(|s| filter.state.as_ref().is_none_or(|st| st.state == s.state))
        .filter(|s| mapping::selected(&filter.label_selector, &s.labels))
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    out
}

/// The pod's IP and additional IPs (IPv4 first) while its CNI network is
/// set up; empty for host-network pods and stopped ones.
pub(crate) fn network_status(daemon: &Daemon, c: &Container) -> cri::PodSandboxNetworkStatus {
    let mut ips = daemon.pod_ips(c).into_iter().map(|ip| ip.to_string());
    cri::PodSandboxNetworkStatus {
        ip: ips.next().unwrap_or_default(),
        additional_ips: ips.map(|ip| cri::PodIp { ip }).collect(),
    }
}
