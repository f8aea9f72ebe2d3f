//! pier-image: Pier's image store.
//!
//! It owns `<data-root>/image`: content-addressed blobs, one unpacked
//! directory per layer (an overlayfs lowerdir), image records and the
//! reference table. It parses and normalises image references as docker
//! does, imports root filesystem tarballs (`docker import`), unpacks layers
//! safely (no entry can write outside its layer), and resolves, lists, tags
//! and removes images with docker's rules. It pulls images from registries
//! (blocking HTTP, layers streamed through the unpacker), and loads and
//! saves image archives.
//!
//! It must not depend on any other pier crate, know about the Engine API,
//! serve HTTP (it is only a registry client), know about containers, or
//! mount anything: pierd checks container usage and builds the overlay
//! mount from [`ImageStore::layer_dirs`]. All methods are blocking; call
//! them from `spawn_blocking`. The store is safe to share between threads.
//!
//! One `ImageStore` per store directory per process: `open` removes
//! leftovers it finds, so a second live instance would race with the first.
//!
//! Layout:
//! - [`mod@reference`]: reference grammar and normalisation (pure)
//! - `changes` (`--change` lines), `config` (OCI config conversion), `index`
//!   (docker's resolve/tag/remove rules), `entry_path`: pure logic
//! - `unpack`, `compression`: the safe streaming tar unpacker
//! - `store` (and `store/disk`): the on-disk store, its layout and its locking
//! - [`distribution`]: the registry client (manifests, platforms, auth);
//!   `pull` drives it into the store
//! - `load`, `save`: docker save archives and OCI image layouts

mod changes;
mod commit;
mod compression;
mod config;
pub mod distribution;
mod entry_path;
mod error;
mod image;
mod index;
mod load;
#[cfg(test)]
mod overlay_tests;
mod pull;
pub mod reference;
mod save;
mod store;
mod unpack;

pub use changes::apply_changes;
pub use commit::CommitRequest;
pub use error::ImageError;
pub use image::{Healthcheck, Image, ImageConfig, Removed};
pub use index::ImageUsers;
pub use load::Loaded;
pub use pull::{short_id, PullEvent, PullOptions, Pulled, RemoteImage};
pub use reference::Reference;
pub use store::ImageStore;
pub use unpack::{extract_archive, extract_archive_at};

/// Unpacks a layer (whiteouts read as overlayfs deletions) into the empty
/// directory `dest`: the fuzz targets' entry point (`fuzz/`); stores unpack
/// through [`ImageStore`].
#[doc(hidden)]
pub fn fuzz_unpack_layer(body: impl std::io::Read, dest: &std::path::Path) -> Result<(), ImageError> {
    unpack::unpack_layer(body, dest).map(|_| ())
}
