//! Talking to registries: the distribution API client, manifests and
//! platforms, authentication. `pull` in the store drives it.

pub mod auth;
pub mod client;
pub mod manifest;

pub use auth::Credentials;
pub use client::{is_loopback, RegistryOptions, Repository};
pub use manifest::Platform;
