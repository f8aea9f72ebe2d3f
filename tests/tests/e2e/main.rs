//! Pier's root-only end-to-end tests, one test binary: each test starts its
//! own `pierd` binary (a `pier_testkit::Daemon` guard on a private temp
//! dir) and drives it with the `pier` CLI, the real `docker` CLI, tmux
//! terminals and raw API calls through `pier_client`.
//!
//! They need root, runc, busybox-static, tmux and the docker CLI
//! (scripts/deps.sh installs them) and the workspace's binaries
//! (`cargo build --workspace --bins`, or `$PIER_BIN_DIR`). A missing
//! precondition fails the test; nothing is skipped.

mod attach;
mod cri_containers;
mod cri_images;
mod cri_network;
mod cri_pods;
mod cri_stream;
mod engine;
mod exec;
mod images;
mod lifecycle_events;
mod lifecycle_health;
mod lifecycle_restart;
mod lifecycle_semantics;
mod logs;
mod model;
mod network_basic;
mod network_connect;
mod network_ipv6;
mod network_native;
mod network_restore;
mod network_user;
mod resources_isolation;
mod resources_limits;
mod resources_live;
mod resources_oom;
mod resources_stats;
mod security_bounds;
mod security_confine;
mod security_faults;
mod security_private;
mod security_seccomp;
mod storage;
mod system_semantics;
mod tmux;

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// stdout of an [`Output`] as a trimmed string.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Run `cmd` with `input` fed to its stdin from a thread (so a large input
/// cannot deadlock against unread output) and return its output.
pub fn output_with_stdin(mut cmd: Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("join").expect("write stdin");
    out
}
