//! Container lifecycle: create (the spec from `model::build`), the bundle written
//! before each start, start/stop/kill/wait, the exit monitor, remove, list,
//! and restore after a daemon restart.

pub(crate) mod bundle;
pub(crate) mod connect;
pub(crate) mod control;
pub(crate) mod create;
pub(crate) mod devices;
pub(crate) mod health;
pub(crate) mod isolation;
pub(crate) mod links;
pub(crate) mod list;
pub(crate) mod lost;
pub(crate) mod monitor;
pub(crate) mod networking;
pub(crate) mod oom;
pub(crate) mod pause;
pub(crate) mod prune;
pub(crate) mod remove;
pub(crate) mod restart;
pub(crate) mod restore;
pub(crate) mod top;
pub(crate) mod update;
