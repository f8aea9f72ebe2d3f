//! `docker commit`: a new image made of a parent image's layers plus one
//! layer tar (the container's changes, whiteouts as `.wh.` entries), with
//! the container's config and Dockerfile `changes` applied.

use std::io::Read;

use oci_spec::image::{History, ImageConfiguration};

use crate::changes::apply_changes;
use crate::config::{to_oci, with_docker_extras};
use crate::error::ImageError;
use crate::image::{Image, ImageConfig};
use crate::reference::Reference;
use crate::store::{ImageRecord, ImageStore};

/// What a commit records besides the layer.
#[derive(Debug, Clone, Default)]
pub struct CommitRequest {
    /// The container's execution config (already merged with the parent's).
    pub config: ImageConfig,
    /// Dockerfile instructions (`CMD ["sh"]`, `ENV A=1`), applied in order.
    pub changes: Vec<String>,
    pub comment: String,
    pub author: String,
    pub reference: Option<Reference>,
}

impl ImageStore {
    /// Commits `layer` (an uncompressed or compressed tar) on top of the
    /// image `parent_id`. A refused archive leaves nothing behind.
    pub fn commit(&self, parent_id: &str, layer: impl Read, req: &CommitRequest) -> Result<Image, ImageError> {
        let blob = self.config_blob(parent_id)?;
        let mut oci = ImageConfiguration::from_reader(&blob[..]).map_err(|e| ImageError::Corrupt {
            path: self.root().join("blobs/sha256"),
            reason: format!("parse config of {parent_id}: {e}"),
        })?;
        let mut config = req.config.clone();
        apply_changes(&mut config, &req.changes)?;
        let staged = self.stage_layer(layer)?;
        let created = pier_time::format_fixed(pier_time::now_nanos());
        let mut rootfs = oci.rootfs().clone();
        let mut diff_ids = rootfs.diff_ids().clone();
        diff_ids.push(staged.layer.diff_id.clone());
        rootfs.set_diff_ids(diff_ids);
        oci.set_rootfs(rootfs);
        oci.set_config(Some(to_oci(&config)));
        oci.set_created(Some(created.clone()));
        oci.set_author((!req.author.is_empty()).then(|| req.author.clone()));
        let mut history = oci.history().clone().unwrap_or_default();
        let mut h = History::default();
        h.set_created(Some(created));
        h.set_comment(Some(req.comment.clone()));
        h.set_author((!req.author.is_empty()).then(|| req.author.clone()));
        history.push(h);
        oci.set_history(Some(history));
        let bytes = oci.to_string().map_err(|e| ImageError::Corrupt {
            path: self.root().to_path_buf(),
            reason: format!("serialize image config: {e}"),
        })?;
        let bytes = with_docker_extras(bytes.as_bytes(), &config).map_err(|e| ImageError::Corrupt {
            path: self.root().to_path_buf(),
            reason: format!("serialize image config: {e}"),
        })?;
        let references: Vec<Reference> = req.reference.iter().cloned().collect();
        let record = ImageRecord {
            parent: parent_id.to_string(),
            ..ImageRecord::default()
        };
        let image = self.commit_image(vec![staged], &bytes, &references, record)?;
        tracing::info!(image = %image.id, parent = %parent_id, "committed image");
        Ok(image)
    }
}
