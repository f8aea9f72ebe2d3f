//! Finding and removing mounts a run left under its temp dirs.

use std::path::Path;

use rustix::mount::{unmount, UnmountFlags};

/// Decodes mountinfo's octal escapes (`\040` is a space).
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points in `mountinfo` text at or below `root`, deepest first.
pub fn mounts_under(mountinfo: &str, root: &str) -> Vec<String> {
    let root = root.trim_end_matches('/');
    let mut found: Vec<String> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape)
        .filter(|m| m == root || m.strip_prefix(root).is_some_and(|rest| rest.starts_with('/')))
        .collect();
    // Deepest (and, for stacked mounts, latest) first.
    found.reverse();
    found.sort_by_key(|m| std::cmp::Reverse(m.matches('/').count()));
    found
}

/// Lazily unmounts everything at or below `root`; returns what it unmounted.
pub fn unmount_all_under(root: &Path) -> Vec<String> {
    let mut done = Vec::new();
    let Some(root) = root.to_str() else {
        return done;
    };
    // Stacked mounts need several passes.
    for _ in 0..8 {
        let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
            return done;
        };
        let found = mounts_under(&info, root);
        if found.is_empty() {
            break;
        }
        for m in found {
            if unmount(m.as_str(), UnmountFlags::DETACH).is_ok() {
                done.push(m);
            }
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
40 22 0:50 / /tmp/b/x rw - tmpfs tmpfs rw
41 40 0:51 / /tmp/b/x/merged rw - overlay overlay rw
42 22 0:52 / /tmp/bb rw - tmpfs tmpfs rw
43 22 0:53 / /tmp/b/with\\040space rw - tmpfs tmpfs rw
";

    #[test]
    fn finds_only_mounts_below_root_deepest_first() {
        let m = mounts_under(INFO, "/tmp/b/");
        assert_eq!(m, vec!["/tmp/b/x/merged", "/tmp/b/with space", "/tmp/b/x"]);
    }

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape("a\\040b\\134"), "a b\\");
        assert_eq!(unescape("plain\\"), "plain\\");
    }
}
