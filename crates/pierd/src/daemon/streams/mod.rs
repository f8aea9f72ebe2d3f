//! Streams to and from containers: attach (held sessions, detach keys),
//! exec, and logs.

pub(crate) mod attach;
pub mod detach_keys;
pub(crate) mod exec;
pub(crate) mod log_watch;
pub(crate) mod logs;
pub mod session;
