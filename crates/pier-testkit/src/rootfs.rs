//! The busybox root filesystem every test container runs: Debian's
//! busybox-static with every applet linked in `/bin`, and an `/etc/passwd`
//! and `/etc/group` with a few users and groups to resolve.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::require;

/// Directories of the rootfs.
const DIRS: [&str; 8] = ["bin", "etc", "tmp", "proc", "sys", "dev", "root", "home"];

/// `/etc/passwd`: root, nobody, and alice (uid 1000).
pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                          nobody:x:65534:65534:nobody:/home:/bin/false\n\
                          alice:x:1000:1000:alice:/home:/bin/sh\n";

/// `/etc/group`: alice is also in staff (gid 50).
pub const GROUP: &str = "root:x:0:\nnogroup:x:65534:\nalice:x:1000:\nstaff:x:50:alice\n";

/// The applets busybox links (`busybox --list`), once per test binary.
pub fn applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let out = Command::new(require::busybox())
            .arg("--list")
            .output()
            .expect("run busybox --list");
        let list: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/'))
            .map(str::to_string)
            .collect();
        assert!(
            list.len() >= 50,
            "{} lists only {} applets: is it busybox-static?",
            require::BUSYBOX,
            list.len()
        );
        list
    })
}

/// Write the rootfs as a directory at `dir` (an OCI bundle's `rootfs`).
pub fn write_dir(dir: &Path) {
    for d in DIRS {
        std::fs::create_dir_all(dir.join(d)).unwrap_or_else(|e| panic!("create {}/{d}: {e}", dir.display()));
    }
    std::fs::copy(require::busybox(), dir.join("bin/busybox")).expect("copy busybox into the rootfs");
    for applet in applets() {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet))
            .unwrap_or_else(|e| panic!("link applet {applet}: {e}"));
    }
    std::fs::write(dir.join("etc/passwd"), PASSWD).expect("write /etc/passwd");
    std::fs::write(dir.join("etc/group"), GROUP).expect("write /etc/group");
}

/// The rootfs as an image tar (root-owned entries, fixed mtimes, so the
/// image id is the same every time), built once per test binary.
pub fn tar_bytes() -> &'static [u8] {
    static TAR: OnceLock<Vec<u8>> = OnceLock::new();
    TAR.get_or_init(|| {
        let busybox = std::fs::read(require::busybox()).expect("read busybox");
        let mut b = tar::Builder::new(Vec::new());
        let header = |kind: tar::EntryType, mode: u32, size: usize| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(mode);
            h.set_size(size as u64);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(1_600_000_000);
            h
        };
        for d in DIRS {
            let mut h = header(tar::EntryType::Directory, 0o755, 0);
            b.append_data(&mut h, format!("{d}/"), std::io::empty())
                .expect("tar dir");
        }
        let mut h = header(tar::EntryType::Regular, 0o755, busybox.len());
        b.append_data(&mut h, "bin/busybox", busybox.as_slice())
            .expect("tar busybox");
        for applet in applets() {
            let mut h = header(tar::EntryType::Symlink, 0o777, 0);
            b.append_link(&mut h, format!("bin/{applet}"), "busybox")
                .expect("tar applet link");
        }
        for (path, text) in [("etc/passwd", PASSWD), ("etc/group", GROUP)] {
            let mut h = header(tar::EntryType::Regular, 0o644, text.len());
            b.append_data(&mut h, path, text.as_bytes()).expect("tar file");
        }
        b.into_inner().expect("finish the rootfs tar")
    })
}

/// [`tar_bytes`] written to `<dir>/busybox.tar` (reused when there); for
/// CLIs that import a file.
pub fn tar_file(dir: &Path) -> PathBuf {
    let path = dir.join("busybox.tar");
    if !path.exists() {
        std::fs::create_dir_all(dir).expect("create the tar's dir");
        std::fs::write(&path, tar_bytes()).expect("write busybox.tar");
    }
    path
}
