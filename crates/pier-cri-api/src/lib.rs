//! Kubernetes CRI (`runtime.v1`) protobuf types, tonic servers and clients.
//!
//! Generated at build time from `proto/api.proto`, vendored from
//! k8s.io/cri-api (Apache-2.0). pierd serves `RuntimeService` and
//! `ImageService`; the end-to-end tests use the clients.

#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod v1 {
    tonic::include_proto!("runtime.v1");
}

pub use tonic;

/// A channel to a CRI server on the unix socket `path` (clients: wrap it in
/// `v1::runtime_service_client::RuntimeServiceClient::new`).
pub async fn connect_unix(
    path: impl Into<std::path::PathBuf>,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let path: std::path::PathBuf = path.into();
    // The URI is not used: every connection goes to `path`.
    tonic::transport::Endpoint::from_static("http://[::1]:50051")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
}
