//! Preconditions of the root-only tests. Each panics with what is missing
//! and how to get it: a test that cannot run fails, it is never skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's busybox-static, the one binary in every test image.
pub const BUSYBOX: &str = "/bin/busybox";

/// Fail unless the effective user is root.
pub fn root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root (it mounts, runs runc or creates device nodes); run it as root"
    );
}

/// Fail unless runc is on PATH and runs; returns its path.
pub fn runc() -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join("runc"))
        .find(|p| p.is_file());
    let Some(runc) = found else {
        panic!("this test needs runc on PATH (scripts/deps.sh, or apt-get install runc)");
    };
    let ok = Command::new(&runc)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "{} --version failed: runc is broken here", runc.display());
    runc
}

/// Fail unless busybox-static is installed; returns its path.
pub fn busybox() -> &'static Path {
    assert!(
        Path::new(BUSYBOX).is_file(),
        "{BUSYBOX} is missing: apt-get install busybox-static (scripts/deps.sh)"
    );
    Path::new(BUSYBOX)
}

/// Root, runc and busybox: what every test running real containers needs.
/// Returns runc's path.
pub fn root_and_runc() -> PathBuf {
    root();
    busybox();
    runc()
}
