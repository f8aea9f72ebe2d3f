//! CRI `ImageService` over Pier's image store: the same store, pulls and
//! events as the Docker API's.

use std::sync::Arc;

use pier_cri_api::tonic::{Request, Response, Status};
use pier_cri_api::v1 as cri;
use pier_cri_api::v1::image_service_server::ImageService;
use pier_image::Image;

use super::mapping::{self, ImageName};
use super::status_of;
use crate::daemon::Daemon;
use crate::error::Error;

/// `ImageService` of one daemon.
pub struct Images {
    pub daemon: Arc<Daemon>,
}

impl Images {
    /// The image `spec` names, `None` when there is none.
    async fn find(&self, spec: Option<&cri::ImageSpec>) -> Result<Option<Image>, Status> {
        let name = spec.map(|s| s.image.as_str()).unwrap_or("");
        let key = mapping::image_name(name).map_err(Status::invalid_argument)?.store_key();
        match self.daemon.resolve_image(&key).await {
            Ok(image) => Ok(Some(image)),
            Err(Error::NoSuchImage(_)) => Ok(None),
            Err(e) => Err(status_of(e)),
        }
    }
}

#[pier_cri_api::tonic::async_trait]
impl ImageService for Images {
    async fn list_images(
        &self,
        request: Request<cri::ListImagesRequest>,
    ) -> Result<Response<cri::ListImagesResponse>, Status> {
        let filter = request
            .into_inner()
            .filter
            .and_then(|f| f.image)
            .filter(|s| !s.image.is_empty());
        let images = match filter {
            Some(spec) => self.find(Some(&spec)).await?.into_iter().collect(),
            None => self.daemon.list_images().await.map_err(status_of)?,
        };
        Ok(Response::new(cri::ListImagesResponse {
            images: images.iter().map(mapping::cri_image).collect(),
        }))
    }

    async fn image_status(
        &self,
        request: Request<cri::ImageStatusRequest>,
    ) -> Result<Response<cri::ImageStatusResponse>, Status> {
        let request = request.into_inner();
        let image = self.find(request.image.as_ref()).await?;
        Ok(Response::new(cri::ImageStatusResponse {
            image: image.as_ref().map(mapping::cri_image),
            info: Default::default(),
        }))
    }

    async fn pull_image(
        &self,
        request: Request<cri::PullImageRequest>,
    ) -> Result<Response<cri::PullImageResponse>, Status> {
        let request = request.into_inner();
        let name = request.image.as_ref().map(|s| s.image.as_str()).unwrap_or("");
        let reference = match mapping::image_name(name).map_err(Status::invalid_argument)? {
            ImageName::Reference(r) => r,
            ImageName::Id(id) => {
                return Err(Status::invalid_argument(format!("cannot pull an image id: {id}")));
            }
        };
        let credentials = match request.auth.as_ref().and_then(mapping::credentials) {
            Some(c) => Some(c),
            None => Daemon::registry_credentials(None, reference.domain()),
        };
        let shown = reference.to_string();
        let remote = self
            .daemon
            .resolve_remote(reference, None, credentials)
            .await
            .map_err(status_of)?;
        let d = self.daemon.clone();
        let pulled = Daemon::blocking("pull image", move || {
            let pulled = d.pull_remote(remote, &|_| {}).map_err(Error::image)?;
            d.image_event("pull", &shown, &shown);
            Ok(pulled)
        })
        .await
        .map_err(status_of)?;
        Ok(Response::new(cri::PullImageResponse {
            image_ref: pulled.image.id,
        }))
    }

    async fn remove_image(
        &self,
        request: Request<cri::RemoveImageRequest>,
    ) -> Result<Response<cri::RemoveImageResponse>, Status> {
        let request = request.into_inner();
        // Removing an image that is not there succeeds (CRI's rule).
        if let Some(image) = self.find(request.image.as_ref()).await? {
            match self.daemon.remove_image(&image.id, true).await {
                Ok(_) | Err(Error::NoSuchImage(_)) => {}
                Err(e) => return Err(status_of(e)),
            }
        }
        Ok(Response::new(cri::RemoveImageResponse {}))
    }

    async fn image_fs_info(
        &self,
        _request: Request<cri::ImageFsInfoRequest>,
    ) -> Result<Response<cri::ImageFsInfoResponse>, Status> {
        let root = self.daemon.cfg.image_root();
        let usage = Daemon::blocking("measure the image store", move || Ok(super::fs_usage(&root)))
            .await
            .map_err(status_of)?;
        Ok(Response::new(cri::ImageFsInfoResponse {
            image_filesystems: vec![usage],
            container_filesystems: Vec::new(),
        }))
    }
}
