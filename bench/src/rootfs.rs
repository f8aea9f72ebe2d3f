//! The busybox root filesystem every engine runs: a directory (the raw
//! runtimes' bundle rootfs) and the same tree as a tar (imported as an image).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::proc::{self, Stdout};

/// Where the static busybox comes from (Debian's busybox-static).
pub const BUSYBOX: &str = "/bin/busybox";

/// A 1 MiB file of 1 KiB lines (1023 `0`s and a newline) in the rootfs: the
/// log generators' source.
pub const LINES: &str = "/lines";

/// The contents of [`LINES`].
pub fn lines_file() -> Vec<u8> {
    let mut line = vec![b'0'; 1023];
    line.push(b'\n');
    line.repeat(1024)
}

pub struct Rootfs {
    pub dir: PathBuf,
    pub tar: PathBuf,
}

/// Builds `<work>/rootfs` and `<work>/rootfs.tar`.
pub fn build(work: &Path) -> Result<Rootfs> {
    let dir = work.join("rootfs");
    let bin = dir.join("bin");
    for d in ["bin", "dev", "proc", "sys", "tmp", "etc", "root"] {
        fs::create_dir_all(dir.join(d)).with_context(|| format!("create {d} in rootfs"))?;
    }
    fs::copy(BUSYBOX, bin.join("busybox"))
        .with_context(|| format!("copy {BUSYBOX} (apt-get install busybox-static)"))?;
    let list = proc::run(
        Command::new(BUSYBOX).arg("--list"),
        Stdout::Capture,
        Duration::from_secs(10),
    )?
    .ok("list busybox applets")?;
    let applets = list.stdout_text();
    let mut n = 0;
    for applet in applets.lines().map(str::trim) {
        if applet.is_empty() || applet == "busybox" || applet.contains('/') {
            continue;
        }
        symlink("busybox", bin.join(applet)).with_context(|| format!("link applet {applet}"))?;
        n += 1;
    }
    if n < 50 {
        bail!("{BUSYBOX} lists only {n} applets: is it busybox-static?");
    }
    fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").context("write rootfs /etc/passwd")?;
    fs::write(dir.join("etc/group"), "root:x:0:\n").context("write rootfs /etc/group")?;
    fs::write(dir.join(LINES.trim_start_matches('/')), lines_file()).context("write rootfs /lines")?;
    let tar = work.join("rootfs.tar");
    proc::run(
        Command::new("tar")
            .arg("--numeric-owner")
            .arg("-C")
            .arg(&dir)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
        Stdout::Null,
        Duration::from_secs(60),
    )?
    .ok("tar rootfs")?;
    Ok(Rootfs { dir, tar })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_file_is_1024_lines_of_1k() {
        let f = lines_file();
        assert_eq!(f.len(), 1 << 20);
        assert_eq!(f.iter().filter(|b| **b == b'\n').count(), 1024);
        assert_eq!(f[1023], b'\n');
    }
}
