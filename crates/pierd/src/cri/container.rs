//! A pod's containers: Pier containers marked by `container_config`
//! labels (`io.pier.cri.kind=container`, the sandbox id), created through
//! `Daemon::create` from the Docker-style request `container_config`
//! builds, so they are in the container table, survive a pierd restart and
//! are listed by filtering the table.

// Functions here answer the gRPC edge directly with tonic's `Status`.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use pier_cri_api::tonic::Status;
use pier_cri_api::v1 as cri;

use super::container_config::{self as cc, ContainerInfo, Pod};
use super::{mapping, sandbox, status_of};
use crate::daemon::{Container, CreateOptions, Daemon};
use crate::error::Error;
use crate::record::{ContainerRecord, Status as Lifecycle};

/// NOT_FOUND for the container `id`.
pub(crate) fn not_found(id: &str) -> Status {
    Status::not_found(format!("container {id:?} not found"))
}

/// The CRI container `id` (full id or unique prefix), if it is one.
pub(crate) fn find(daemon: &Daemon, id: &str) -> Option<Arc<Container>> {
    if id.is_empty() {
        return None;
    }
    let c = daemon.lookup(id).ok()?;
    (c.id.starts_with(id) && cc::container_info(&c.record().spec.labels).is_some()).then_some(c)
}

/// [`find`] or NOT_FOUND.
pub(crate) fn get(daemon: &Daemon, id: &str) -> Result<Arc<Container>, Status> {
    find(daemon, id).ok_or_else(|| not_found(id))
}

/// A seccomp profile file (`Localhost`), read whole (at most 1 MiB).
fn read_profile(path: &str) -> Result<String, String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| format!("read seccomp profile {path}: {e}"))?;
    let mut text = String::new();
    f.take(1 << 20)
        .read_to_string(&mut text)
        .map_err(|e| format!("read seccomp profile {path}: {e}"))?;
    Ok(text)
}

pub(crate) async fn create(daemon: &Arc<Daemon>, request: cri::CreateContainerRequest) -> Result<String, Status> {
    let config = request
        .config
        .ok_or_else(|| Status::invalid_argument("no container config"))?;
    let metadata = config
        .metadata
        .clone()
        .filter(|m| !m.name.is_empty())
        .ok_or_else(|| Status::invalid_argument("container config has no metadata name"))?;
    let sb =
        sandbox::find(daemon, &request.pod_sandbox_id).ok_or_else(|| sandbox::not_found(&request.pod_sandbox_id))?;
    let sb_rec = sb.record();
    if !sb_rec.state.is_running() {
        return Err(Status::failed_precondition(format!(
            "pod sandbox {} is not ready",
            sb.id
        )));
    }
    let pod_meta = mapping::sandbox_info(&sb_rec.spec.labels)
        .map(|i| i.metadata)
        .unwrap_or_default();
    let image_name = config
        .image
        .as_ref()
        .map(|i| i.image.clone())
        .filter(|i| !i.is_empty())
        .ok_or_else(|| Status::invalid_argument("container config has no image"))?;
    let key = mapping::image_name(&image_name)
        .map_err(Status::invalid_argument)?
        .store_key();
    let image = daemon.resolve_image(&key).await.map_err(status_of)?;
    let log_directory = request
        .sandbox_config
        .as_ref()
        .map(|s| s.log_directory.clone())
        .filter(|d| !d.is_empty())
        .or_else(|| sb_rec.spec.labels.get(mapping::keys::LOG_DIRECTORY).cloned())
        .unwrap_or_default();
    let pod = Pod {
        sandbox_id: &sb.id,
        hostname: &sb_rec.spec.hostname,
        log_directory: &log_directory,
    };
    let body = cc::request(&config, &pod, &image.id, &read_profile).map_err(Status::invalid_argument)?;
    let log = cc::log_file(&pod, &config.log_path).map_err(Status::invalid_argument)?;
    let request =
        serde_json::from_value(body).map_err(|e| Status::invalid_argument(format!("container config: {e}")))?;
    if let Some(dir) = log.as_deref().and_then(|l| std::path::Path::new(l).parent()) {
        let dir = dir.to_path_buf();
        Daemon::blocking("create the log directory", move || {
            std::fs::create_dir_all(&dir).map_err(|e| Error::system(format!("create {}", dir.display()), e))
        })
        .await
        .map_err(status_of)?;
    }
    let created = daemon
        .create(CreateOptions {
            name: Some(cc::container_name(&metadata, &pod_meta)),
            request,
        })
        .await
        .map_err(status_of)?;
    Ok(created.id)
}

pub(crate) async fn start(daemon: &Arc<Daemon>, id: &str) -> Result<(), Status> {
    let c = get(daemon, id)?;
    let rec = c.record();
    if rec.state.status != Lifecycle::Created {
        return Err(Status::failed_precondition(format!(
            "container {} is {}, not created",
            c.id,
            rec.state.status_name()
        )));
    }
    daemon.start(&c.id).await.map_err(status_of)
}

/// The stop signal, then SIGKILL after `timeout` seconds (0: at once).
/// A stopped container is fine.
pub(crate) async fn stop(daemon: &Arc<Daemon>, id: &str, timeout: i64) -> Result<(), Status> {
    let c = get(daemon, id)?;
    match daemon.stop(&c.id, Some(timeout.max(0)), None).await {
        Ok(()) | Err(Error::NotModified | Error::NotRunning(_)) => Ok(()),
        Err(e) => Err(status_of(e)),
    }
}

/// Remove (killing it when running); an unknown container is removed.
pub(crate) async fn remove(daemon: &Arc<Daemon>, id: &str) -> Result<(), Status> {
    let Some(c) = find(daemon, id) else { return Ok(()) };
    match daemon.remove(&c.id, true, true).await {
        Ok(()) | Err(Error::NoSuchContainer(_)) => Ok(()),
        Err(e) => Err(status_of(e)),
    }
}

/// The containers of the sandbox `sandbox_id`.
pub(crate) fn of_sandbox(daemon: &Daemon, sandbox_id: &str) -> Vec<Arc<Container>> {
    daemon
        .containers()
        .into_iter()
        .filter(|c| cc::container_info(&c.record().spec.labels).is_some_and(|i| i.sandbox_id == sandbox_id))
        .collect()
}

/// Stop every container of the sandbox (StopPodSandbox), at once (the
/// kubelet has already stopped them gracefully).
pub(crate) async fn stop_all(daemon: &Arc<Daemon>, sandbox_id: &str) -> Result<(), Status> {
    for c in of_sandbox(daemon, sandbox_id) {
        if c.record().state.is_running() {
            match daemon.stop(&c.id, Some(0), None).await {
                Ok(()) | Err(Error::NotModified | Error::NotRunning(_) | Error::NoSuchContainer(_)) => {}
                Err(e) => return Err(status_of(e)),
            }
        }
    }
    Ok(())
}

/// Remove every container of the sandbox (RemovePodSandbox).
pub(crate) async fn remove_all(daemon: &Arc<Daemon>, sandbox_id: &str) -> Result<(), Status> {
    for c in of_sandbox(daemon, sandbox_id) {
        match daemon.remove(&c.id, true, true).await {
            Ok(()) | Err(Error::NoSuchContainer(_)) => {}
            Err(e) => return Err(status_of(e)),
        }
    }
    Ok(())
}

/// CRI's state of a record.
pub fn state_of(rec: &ContainerRecord) -> cri::ContainerState {
    match rec.state.status {
        Lifecycle::Created => cri::ContainerState::ContainerCreated,
        Lifecycle::Running => cri::ContainerState::ContainerRunning,
        Lifecycle::Exited => cri::ContainerState::ContainerExited,
        Lifecycle::Removing | Lifecycle::Dead => cri::ContainerState::ContainerUnknown,
    }
}

/// `reason` of an exited container (containerd's words).
pub fn reason_of(rec: &ContainerRecord) -> &'static str {
    if rec.state.status != Lifecycle::Exited {
        return "";
    }
    if rec.state.oom_killed {
        "OOMKilled"
    } else if rec.state.exit_code == 0 {
        "Completed"
    } else {
        "Error"
    }
}

/// The image as the kubelet reads it back: the first repo tag (else what
/// it asked for) and the image's digest reference (else its id).
fn image_of(daemon: &Daemon, rec: &ContainerRecord, info: &ContainerInfo) -> (cri::ImageSpec, String) {
    let image = daemon.images.resolve(&rec.image_id).ok();
    let name = image
        .as_ref()
        .and_then(|i| i.repo_tags.first())
        .map(|t| mapping::qualified(t))
        .unwrap_or_else(|| info.image.clone());
    let reference = image
        .as_ref()
        .and_then(|i| i.repo_digests.first())
        .map(|d| mapping::qualified(d))
        .unwrap_or_else(|| rec.image_id.clone());
    (
        cri::ImageSpec {
            image: name,
            ..Default::default()
        },
        reference,
    )
}

/// A container's CRI views (`Container` for lists, its status).
pub(crate) fn view(daemon: &Daemon, c: &Container) -> Option<(cri::Container, cri::ContainerStatus)> {
    let rec = c.record();
    let info = cc::container_info(&rec.spec.labels)?;
    let state = state_of(&rec) as i32;
    let (image, image_ref) = image_of(daemon, &rec, &info);
    let container = cri::Container {
        id: rec.id.clone(),
        pod_sandbox_id: info.sandbox_id.clone(),
        metadata: Some(info.metadata.clone()),
        image: Some(image.clone()),
        image_ref: image_ref.clone(),
        state,
        created_at: rec.created,
        labels: info.labels.clone(),
        annotations: info.annotations.clone(),
        image_id: rec.image_id.clone(),
    };
    let status = cri::ContainerStatus {
        id: rec.id.clone(),
        metadata: Some(info.metadata),
        state,
        created_at: rec.created,
        started_at: rec.state.started_at.unwrap_or(0),
        finished_at: if rec.state.status == Lifecycle::Exited {
            rec.state.finished_at.unwrap_or(0)
        } else {
            0
        },
        exit_code: rec.state.exit_code,
        image: Some(image),
        image_ref,
        reason: reason_of(&rec).to_string(),
        message: rec.state.error.clone(),
        labels: info.labels,
        annotations: info.annotations,
        mounts: info.mounts,
        log_path: info.log_path,
        resources: Some(resources_of(&rec)),
        image_id: rec.image_id.clone(),
        user: None,
    };
    Some((container, status))
}

/// The container's cgroup settings as CRI resources.
fn resources_of(rec: &ContainerRecord) -> cri::ContainerResources {
    let r = &rec.spec.resources;
    cri::ContainerResources {
        linux: Some(cri::LinuxContainerResources {
            cpu_period: r.cpu_period,
            cpu_quota: r.cpu_quota,
            cpu_shares: r.cpu_shares,
            memory_limit_in_bytes: r.memory,
            oom_score_adj: i64::from(rec.spec.oom_score_adj),
            cpuset_cpus: r.cpuset_cpus.clone(),
            cpuset_mems: r.cpuset_mems.clone(),
            memory_swap_limit_in_bytes: r.memory_swap,
            ..Default::default()
        }),
        windows: None,
    }
}

pub(crate) fn status(daemon: &Daemon, id: &str) -> Result<cri::ContainerStatus, Status> {
    let c = get(daemon, id)?;
    view(daemon, &c).map(|(_, s)| s).ok_or_else(|| not_found(id))
}

pub(crate) fn list(daemon: &Daemon, filter: Option<cri::ContainerFilter>) -> Vec<cri::Container> {
    let filter = filter.unwrap_or_default();
    let mut out: Vec<cri::Container> = daemon
        .containers()
        .iter()
        .filter_map(|c| view(daemon, c).map(|(c, _)| c))
        .filter(|c| filter.id.is_empty() || c.id.starts_with(&filter.id))
        .filter(|c| filter.pod_sandbox_id.is_empty() || c.pod_sandbox_id.starts_with(&filter.pod_sandbox_id))
        .filter(|c| filter.state.as_ref().is_none_or(|st| st.state == c.state))
        .filter(|c| mapping::selected(&filter.label_selector, &c.labels))
        .collect();
    out.sort_by_key(|c| std::cmp::Reverse(c.created_at));
    out
}

/// `UpdateContainerResources`: the linux resources through Pier's update
/// path (validated before anything is written; live when running).
pub(crate) async fn update(
    daemon: &Arc<Daemon>,
    id: &str,
    linux: Option<cri::LinuxContainerResources>,
) -> Result<(), Status> {
    let c = get(daemon, id)?;
    let Some(linux) = linux else { return Ok(()) };
    let hc: pier_api::container::HostConfig = serde_json::from_value(serde_json::Value::Object(cc::resources(&linux)))
        .map_err(|e| Status::invalid_argument(format!("resources: {e}")))?;
    daemon.update(&c.id, &hc).await.map(drop).map_err(status_of)
}

/// `ReopenContainerLog`: the shim opens the log file again by its path.
pub(crate) async fn reopen_log(daemon: &Arc<Daemon>, id: &str) -> Result<(), Status> {
    let c = get(daemon, id)?;
    let rec = c.record();
    if !rec.state.is_running() {
        return Err(Status::failed_precondition(format!(
            "container {} is not running",
            c.id
        )));
    }
    c.shim
        .reopen_log()
        .await
        .map_err(|e| status_of(Error::shim(format!("reopen the log of {}", c.id), e)))
}
