//! CRI `RuntimeService`: `Version`, `Status`, pod sandboxes (`sandbox`),
//! their containers (`container`, `exec_sync`, `stats`) and the streaming
//! RPCs (`Exec`, `Attach`, `PortForward`: URLs of `stream`'s server);
//! every other RPC answers UNIMPLEMENTED (the generated default stubs).

use std::sync::Arc;

use pier_cri_api::tonic::{Request, Response, Status};
use pier_cri_api::v1 as cri;
use pier_cri_api::v1::runtime_service_server::RuntimeService;

use super::{container, exec_sync, mapping, sandbox, stats};
use crate::daemon::Daemon;

/// The CRI version this server implements (`VersionResponse.version`).
pub const KUBELET_API_VERSION: &str = "0.1.0";
/// `runtime_name` in `Version`.
pub const RUNTIME_NAME: &str = "pier";

/// `RuntimeService` of one daemon.
pub struct Runtime {
    pub daemon: Arc<Daemon>,
    /// The streaming server `Exec`, `Attach` and `PortForward` point at.
    pub stream: Arc<super::stream::StreamServer>,
}

#[pier_cri_api::tonic::async_trait]
impl RuntimeService for Runtime {
    async fn version(&self, _request: Request<cri::VersionRequest>) -> Result<Response<cri::VersionResponse>, Status> {
        Ok(Response::new(cri::VersionResponse {
            version: KUBELET_API_VERSION.to_string(),
            runtime_name: RUNTIME_NAME.to_string(),
            runtime_version: env!("CARGO_PKG_VERSION").to_string(),
            runtime_api_version: "v1".to_string(),
        }))
    }

    async fn status(&self, request: Request<cri::StatusRequest>) -> Result<Response<cri::StatusResponse>, Status> {
        let mut info = std::collections::HashMap::new();
        if request.into_inner().verbose {
            let config = serde_json::json!({
                "sandboxImage": self.daemon.cfg.cri.sandbox_image,
                "registryHosts": self.daemon.cfg.cri.registry_hosts,
                "cniConfDir": self.daemon.cfg.cri.cni_conf_dir,
                "cniBinDirs": self.daemon.cfg.cri.cni_bin_dirs,
                "runtime": self.daemon.cfg.runtime,
            });
            info.insert("config".to_string(), config.to_string());
        }
        let networks = self.daemon.networks.clone();
        let network_error = Daemon::blocking("read the CNI config", move || Ok(networks.pod_network_unavailable()))
            .await
            .map_err(super::status_of)?;
        Ok(Response::new(cri::StatusResponse {
            status: Some(cri::RuntimeStatus {
                conditions: mapping::runtime_conditions(network_error.as_deref()),
            }),
            info,
            runtime_handlers: vec![cri::RuntimeHandler {
                name: String::new(),
                features: Some(cri::RuntimeHandlerFeatures::default()),
            }],
            features: None,
        }))
    }

    async fn run_pod_sandbox(
        &self,
        request: Request<cri::RunPodSandboxRequest>,
    ) -> Result<Response<cri::RunPodSandboxResponse>, Status> {
        let request = request.into_inner();
        if !request.runtime_handler.is_empty() && !self.daemon.cfg.knows_runtime(&request.runtime_handler) {
            return Err(Status::invalid_argument(format!(
                "unknown runtime handler {:?}",
                request.runtime_handler
            )));
        }
        let config = request
            .config
            .ok_or_else(|| Status::invalid_argument("no sandbox config"))?;
        let id = sandbox::run(&self.daemon, config).await?;
        Ok(Response::new(cri::RunPodSandboxResponse { pod_sandbox_id: id }))
    }

    async fn stop_pod_sandbox(
        &self,
        request: Request<cri::StopPodSandboxRequest>,
    ) -> Result<Response<cri::StopPodSandboxResponse>, Status> {
        let id = request.into_inner().pod_sandbox_id;
        if let Some(sb) = sandbox::find(&self.daemon, &id) {
            container::stop_all(&self.daemon, &sb.id).await?;
        }
        sandbox::stop(&self.daemon, &id).await?;
        Ok(Response::new(cri::StopPodSandboxResponse {}))
    }

    async fn remove_pod_sandbox(
        &self,
        request: Request<cri::RemovePodSandboxRequest>,
    ) -> Result<Response<cri::RemovePodSandboxResponse>, Status> {
        let id = request.into_inner().pod_sandbox_id;
        if let Some(sb) = sandbox::find(&self.daemon, &id) {
            container::remove_all(&self.daemon, &sb.id).await?;
        }
        sandbox::remove(&self.daemon, &id).await?;
        Ok(Response::new(cri::RemovePodSandboxResponse {}))
    }

    async fn pod_sandbox_status(
        &self,
        request: Request<cri::PodSandboxStatusRequest>,
    ) -> Result<Response<cri::PodSandboxStatusResponse>, Status> {
        let id = request.into_inner().pod_sandbox_id;
        let c = sandbox::find(&self.daemon, &id).ok_or_else(|| sandbox::not_found(&id))?;
        let (_, mut status) = sandbox::view(&c).ok_or_else(|| sandbox::not_found(&id))?;
        status.network = Some(sandbox::network_status(&self.daemon, &c));
        Ok(Response::new(cri::PodSandboxStatusResponse {
            status: Some(status),
            ..Default::default()
        }))
    }

    async fn list_pod_sandbox(
        &self,
        request: Request<cri::ListPodSandboxRequest>,
    ) -> Result<Response<cri::ListPodSandboxResponse>, Status> {
        let items = sandbox::list(&self.daemon, request.into_inner().filter);
        Ok(Response::new(cri::ListPodSandboxResponse { items }))
    }

    async fn exec(&self, request: Request<cri::ExecRequest>) -> Result<Response<cri::ExecResponse>, Status> {
        let url = self.stream.exec(request.into_inner()).map_err(|e| *e)?;
        Ok(Response::new(cri::ExecResponse { url }))
    }

    async fn attach(&self, request: Request<cri::AttachRequest>) -> Result<Response<cri::AttachResponse>, Status> {
        let url = self.stream.attach(request.into_inner()).map_err(|e| *e)?;
        Ok(Response::new(cri::AttachResponse { url }))
    }

    async fn port_forward(
        &self,
        request: Request<cri::PortForwardRequest>,
    ) -> Result<Response<cri::PortForwardResponse>, Status> {
        let url = self.stream.port_forward(request.into_inner()).map_err(|e| *e)?;
        Ok(Response::new(cri::PortForwardResponse { url }))
    }

    // Containers (`container`, `exec_sync`, `stats`).

    async fn create_container(
        &self,
        request: Request<cri::CreateContainerRequest>,
    ) -> Result<Response<cri::CreateContainerResponse>, Status> {
        let container_id = container::create(&self.daemon, request.into_inner()).await?;
        Ok(Response::new(cri::CreateContainerResponse { container_id }))
    }

    async fn start_container(
        &self,
        request: Request<cri::StartContainerRequest>,
    ) -> Result<Response<cri::StartContainerResponse>, Status> {
        container::start(&self.daemon, &request.into_inner().container_id).await?;
        Ok(Response::new(cri::StartContainerResponse {}))
    }

    async fn stop_container(
        &self,
        request: Request<cri::StopContainerRequest>,
    ) -> Result<Response<cri::StopContainerResponse>, Status> {
        let r = request.into_inner();
        container::stop(&self.daemon, &r.container_id, r.timeout).await?;
        Ok(Response::new(cri::StopContainerResponse {}))
    }

    async fn remove_container(
        &self,
        request: Request<cri::RemoveContainerRequest>,
    ) -> Result<Response<cri::RemoveContainerResponse>, Status> {
        container::remove(&self.daemon, &request.into_inner().container_id).await?;
        Ok(Response::new(cri::RemoveContainerResponse {}))
    }

    async fn container_status(
        &self,
        request: Request<cri::ContainerStatusRequest>,
    ) -> Result<Response<cri::ContainerStatusResponse>, Status> {
        let status = container::status(&self.daemon, &request.into_inner().container_id)?;
        Ok(Response::new(cri::ContainerStatusResponse {
            status: Some(status),
            info: Default::default(),
        }))
    }

    async fn list_containers(
        &self,
        request: Request<cri::ListContainersRequest>,
    ) -> Result<Response<cri::ListContainersResponse>, Status> {
        let containers = container::list(&self.daemon, request.into_inner().filter);
        Ok(Response::new(cri::ListContainersResponse { containers }))
    }

    async fn update_container_resources(
        &self,
        request: Request<cri::UpdateContainerResourcesRequest>,
    ) -> Result<Response<cri::UpdateContainerResourcesResponse>, Status> {
        let r = request.into_inner();
        container::update(&self.daemon, &r.container_id, r.linux).await?;
        Ok(Response::new(cri::UpdateContainerResourcesResponse {}))
    }

    async fn reopen_container_log(
        &self,
        request: Request<cri::ReopenContainerLogRequest>,
    ) -> Result<Response<cri::ReopenContainerLogResponse>, Status> {
        container::reopen_log(&self.daemon, &request.into_inner().container_id).await?;
        Ok(Response::new(cri::ReopenContainerLogResponse {}))
    }

    async fn exec_sync(
        &self,
        request: Request<cri::ExecSyncRequest>,
    ) -> Result<Response<cri::ExecSyncResponse>, Status> {
        Ok(Response::new(
            exec_sync::exec_sync(&self.daemon, request.into_inner()).await?,
        ))
    }

    async fn container_stats(
        &self,
        request: Request<cri::ContainerStatsRequest>,
    ) -> Result<Response<cri::ContainerStatsResponse>, Status> {
        let stats = stats::container_stats(&self.daemon, &request.into_inner().container_id).await?;
        Ok(Response::new(cri::ContainerStatsResponse { stats: Some(stats) }))
    }

    async fn list_container_stats(
        &self,
        request: Request<cri::ListContainerStatsRequest>,
    ) -> Result<Response<cri::ListContainerStatsResponse>, Status> {
        let stats = stats::list_stats(&self.daemon, request.into_inner().filter).await?;
        Ok(Response::new(cri::ListContainerStatsResponse { stats }))
    }
}
