//! Pier's own container model: the [`ContainerSpec`] pierd stores and acts
//! on, the one pure function that builds it from a create request
//! ([`build()`]), the classification of every request field ([`fields`]),
//! the rendering back into docker's wire shapes for inspect ([`render`]),
//! and the upgrade of records written by earlier releases ([`upgrade`]).
//!
//! Everything here is pure: no IO, no clock, no syscalls. The daemon reads
//! the image and its own configuration and passes them in.

pub mod build;
pub mod fields;
pub mod health;
pub mod isolation;
pub mod log_policy;
pub mod render;
pub mod resources;
pub mod spec;
pub mod update;
pub mod upgrade;

#[cfg(test)]
mod build_tests;
#[cfg(test)]
mod schema_tests;

pub use build::{build, Built, Defaults};
pub use isolation::{DeviceMapping, DeviceRule, IpcMode, IsolationSpec, PidMode, UtsMode};
pub use resources::HostSupport;
pub use spec::*;

/// Why a create request was refused (HTTP 400, docker's message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    #[error("{message}")]
    Invalid {
        /// `Section.Field` the message is about.
        field: &'static str,
        message: String,
    },
}
