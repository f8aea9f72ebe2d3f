//! `/system/df`: what images, containers and volumes take on disk, counted
//! as dockerd counts them: a layer shared by several images is counted
//! once in the total and as shared in each; a container's size is what it
//! wrote (its overlay upper directory), its root fs size adds the image;
//! volumes are the local ones without mount options, with their users.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use pier_api::volume::{MountPoint, Volume};

use crate::daemon::storage::volumes::to_api;
use crate::daemon::Daemon;
use crate::error::{Error, Result};
use crate::record::ContainerRecord;
use crate::volumes::dir_size;

/// Which kinds to count (`type=`; all by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskUsageOptions {
    pub containers: bool,
    pub images: bool,
    pub volumes: bool,
    pub build_cache: bool,
}

impl DiskUsageOptions {
    pub const ALL: DiskUsageOptions = DiskUsageOptions {
        containers: true,
        images: true,
        volumes: true,
        build_cache: true,
    };
}

#[derive(Debug, Clone)]
pub struct ImageUsage {
    pub image: pier_image::Image,
    /// Bytes of its layers that other images use too.
    pub shared_size: u64,
    /// Containers (any state) created from it.
    pub containers: i64,
}

#[derive(Debug, Clone)]
pub struct ContainerUsage {
    pub record: ContainerRecord,
    pub size_rw: u64,
    pub size_root_fs: u64,
    pub mounts: Vec<MountPoint>,
}

#[derive(Debug, Clone, Default)]
pub struct DiskUsage {
    pub layers_size: u64,
    pub images: Option<Vec<ImageUsage>>,
    pub containers: Option<Vec<ContainerUsage>>,
    /// With `UsageData` filled in.
    pub volumes: Option<Vec<Volume>>,
    pub build_cache: bool,
}

/// Shared sizes and the layer total (pure): `layers` maps a diff id to its
/// size; each image lists its diff ids.
pub fn layer_accounting(images: &[Vec<String>], layers: &BTreeMap<String, u64>) -> (u64, Vec<u64>) {
    let mut users: BTreeMap<&str, usize> = BTreeMap::new();
    for diff_ids in images {
        let unique: BTreeSet<&str> = diff_ids.iter().map(String::as_str).collect();
        for d in unique {
            *users.entry(d).or_default() += 1;
        }
    }
    let size = |d: &str| layers.get(d).copied().unwrap_or(0);
    let total = users.keys().map(|d| size(d)).sum();
    let shared = images
        .iter()
        .map(|diff_ids| {
            let unique: BTreeSet<&str> = diff_ids.iter().map(String::as_str).collect();
            unique.into_iter().filter(|d| users[d] > 1).map(size).sum()
        })
        .collect();
    (total, shared)
}

impl Daemon {
    pub async fn disk_usage(self: &Arc<Self>, opts: DiskUsageOptions) -> Result<DiskUsage> {
        let d = self.clone();
        Daemon::blocking("compute disk usage", move || d.disk_usage_blocking(opts)).await
    }

    /// `size=true` of the container list: (`SizeRw`, `SizeRootFs`) of each
    /// container in `ids` (zeros for one that is gone).
    pub async fn container_sizes(self: &Arc<Self>, ids: Vec<String>) -> Result<Vec<(u64, u64)>> {
        let d = self.clone();
        Daemon::blocking("compute container sizes", move || {
            let images = d.images.list().map_err(|e| Error::system("list images", e))?;
            Ok(ids
                .iter()
                .map(|id| {
                    let Ok(c) = d.lookup(id) else { return (0, 0) };
                    let image_id = c.record().image_id;
                    let rw = dir_size(&c.rootfs().upper);
                    let image = images.iter().find(|i| i.id == image_id).map_or(0, |i| i.size);
                    (rw, rw + image)
                })
                .collect())
        })
        .await
    }

    fn disk_usage_blocking(&self, opts: DiskUsageOptions) -> Result<DiskUsage> {
        let mut du = DiskUsage {
            build_cache: opts.build_cache,
            ..DiskUsage::default()
        };
        let records: Vec<_> = self.containers().iter().map(|c| (c.clone(), c.record())).collect();
        let image_list = if opts.images || opts.containers {
            self.images.list().map_err(|e| Error::system("list images", e))?
        } else {
            Vec::new()
        };
        if opts.images {
            let mut sizes = BTreeMap::new();
            for d in image_list.iter().flat_map(|i| &i.diff_ids) {
                if !sizes.contains_key(d) {
                    sizes.insert(d.clone(), self.images.layer_size(d).unwrap_or(0));
                }
            }
            let ids: Vec<Vec<String>> = image_list.iter().map(|i| i.diff_ids.clone()).collect();
            let (total, shared) = layer_accounting(&ids, &sizes);
            du.layers_size = total;
            du.images = Some(
                image_list
                    .iter()
                    .zip(shared)
                    .map(|(i, shared_size)| ImageUsage {
                        image: i.clone(),
                        shared_size,
                        containers: records.iter().filter(|(_, r)| r.image_id == i.id).count() as i64,
                    })
                    .collect(),
            );
        }
        if opts.containers {
            let mut list: Vec<ContainerUsage> = records
                .iter()
                .map(|(c, r)| {
                    let size_rw = dir_size(&c.rootfs().upper);
                    let image_size = image_list.iter().find(|i| i.id == r.image_id).map_or(0, |i| i.size);
                    ContainerUsage {
                        record: r.clone(),
                        size_rw,
                        size_root_fs: size_rw + image_size,
                        mounts: self.mount_points(c),
                    }
                })
                .collect();
            // Newest first, as `GET /containers/json` lists them.
            list.sort_by_key(|c| std::cmp::Reverse(c.record.created));
            du.containers = Some(list);
        }
        if opts.volumes {
            let vols = self.volumes.list().map_err(|e| Error::system("list volumes", e))?;
            du.volumes = Some(
                vols.iter()
                    .filter(|v| v.driver == "local" && v.options.is_empty())
                    .map(|v| {
                        let mut api = to_api(v);
                        api.usage_data = Some(pier_api::volume::UsageData {
                            size: i64::try_from(dir_size(&v.mountpoint)).unwrap_or(i64::MAX),
                            ref_count: self.volume_users(&v.name).len() as i64,
                        });
                        api
                    })
                    .collect(),
            );
        }
        Ok(du)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_layers_are_counted_once() {
        let layers: BTreeMap<String, u64> = [("a", 100), ("b", 10), ("c", 1)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let images = vec![
            vec!["a".to_string(), "b".to_string()],
            vec!["a".to_string(), "c".to_string()],
            vec!["a".to_string(), "a".to_string()],
        ];
        let (total, shared) = layer_accounting(&images, &layers);
        assert_eq!(total, 111);
        assert_eq!(shared, vec![100, 100, 100]);
        let (total, shared) = layer_accounting(&images[..1], &layers);
        assert_eq!((total, shared), (110, vec![0]));
    }
}
