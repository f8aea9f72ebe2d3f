//! CRI `RuntimeService`: `Version` and `Status` so far; every other RPC
//! answers UNIMPLEMENTED (the generated default stubs) until pod sandboxes
//! and containers land.

use std::sync::Arc;

use pier_cri_api::tonic::{Request, Response, Status};
use pier_cri_api::v1 as cri;
use pier_cri_api::v1::runtime_service_server::RuntimeService;

use super::mapping;
use crate::daemon::Daemon;

/// The CRI version this server implements (`VersionResponse.version`).
pub const KUBELET_API_VERSION: &str = "0.1.0";
/// `runtime_name` in `Version`.
pub const RUNTIME_NAME: &str = "pier";

/// `RuntimeService` of one daemon.
pub struct Runtime {
    pub daemon: Arc<Daemon>,
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
                "runtime": self.daemon.cfg.runtime,
            });
            info.insert("config".to_string(), config.to_string());
        }
        Ok(Response::new(cri::StatusResponse {
            status: Some(cri::RuntimeStatus {
                conditions: mapping::runtime_conditions(),
            }),
            info,
            runtime_handlers: vec![cri::RuntimeHandler {
                name: String::new(),
                features: Some(cri::RuntimeHandlerFeatures::default()),
            }],
            features: None,
        }))
    }
}
