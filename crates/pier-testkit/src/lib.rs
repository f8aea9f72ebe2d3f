//! Pier's test kit: what the integration and end-to-end tests share, in one
//! place, so each test says what it checks and not how to set the world up.
//!
//! - [`require`]: preconditions (root, runc, busybox-static). A test that
//!   cannot run says so loudly and fails; nothing is skipped.
//! - [`rootfs`]: the busybox root filesystem, as a directory or an image tar.
//! - `daemon` (feature `daemon`): one guard for a private `pierd`, in-process
//!   (`pierd::run` on its own runtime) or the built binary (so it can be
//!   SIGKILLed), spoken to through `pier_client`, the project's real client.
//! - [`wait_until`]: poll for the observable state a test needs instead of
//!   sleeping and hoping.
//! - [`process`]: signals by pid, liveness, mounts, and the cleanup of
//!   everything a test started under its temp dir.
//! - [`stream`]: stdcopy demultiplexing through `pier_api::stdcopy`.
//!
//! Every guard cleans up what it started on drop, also when the test panics:
//! processes are killed by pid, mounts under its temp dir are unmounted.
//!
//! It must only ever be a dev-dependency (scripts/check-deps.sh checks it)
//! and is not a default workspace member, so release builds never see it.

#[cfg(feature = "daemon")]
mod daemon;
pub mod process;
pub mod require;
pub mod rootfs;
pub mod stream;
mod wait;

#[cfg(feature = "daemon")]
pub use daemon::{bins, Bins, Daemon, DaemonBuilder, Mode, Reply};
pub use wait::{wait_for, wait_until, POLL};
