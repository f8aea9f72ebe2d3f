//! Pure rules for tar entry names inside a layer: cleaning, refusing
//! escapes, and recognising overlay whiteouts.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";
const WHITEOUT_OPAQUE: &[u8] = b".wh..wh..opq";

/// An entry name split into its components, relative to the layer root.
///
/// A leading `/` and `.` components are dropped (docker reads `/etc/x` as
/// `etc/x`); any `..` component is refused, even one that would stay inside
/// the layer, because no well-formed layer needs it.
pub(crate) fn clean(raw: &[u8]) -> Result<Vec<&OsStr>, &'static str> {
    if raw.contains(&0) {
        return Err("name contains a NUL byte");
    }
    let mut parts = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("name contains a \"..\" component"),
            c => parts.push(OsStr::from_bytes(c)),
        }
    }
    Ok(parts)
}

/// What an entry's last component means for overlayfs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Whiteout<'a> {
    /// A plain name.
    None,
    /// `.wh..wh..opq`: the parent directory hides everything below it.
    Opaque,
    /// `.wh.<name>`: `<name>` is deleted in this layer.
    Remove(&'a OsStr),
    /// Other `.wh..wh.*` names are aufs bookkeeping and are skipped.
    Meta,
}

pub(crate) fn whiteout(base: &OsStr) -> Whiteout<'_> {
    let b = base.as_bytes();
    if b == WHITEOUT_OPAQUE {
        Whiteout::Opaque
    } else if b.starts_with(WHITEOUT_META_PREFIX) {
        Whiteout::Meta
    } else if let Some(name) = b.strip_prefix(WHITEOUT_PREFIX) {
        Whiteout::Remove(OsStr::from_bytes(name))
    } else {
        Whiteout::None
    }
}

/// Components joined with `/` (empty for the layer root), for syscalls.
pub(crate) fn join(parts: &[&OsStr]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(p.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(raw: &str) -> Result<Vec<&str>, &'static str> {
        clean(raw.as_bytes()).map(|v| v.iter().map(|s| s.to_str().expect("utf8")).collect())
    }

    #[test]
    fn cleans_names() {
        assert_eq!(c("etc/passwd"), Ok(vec!["etc", "passwd"]));
        assert_eq!(c("./etc//x/"), Ok(vec!["etc", "x"]));
        assert_eq!(c("/etc/x"), Ok(vec!["etc", "x"]));
        assert_eq!(c("./"), Ok(vec![]));
        assert_eq!(c("a/./b"), Ok(vec!["a", "b"]));
        assert_eq!(c("..."), Ok(vec!["..."]));
        assert_eq!(c("a..b/..c"), Ok(vec!["a..b", "..c"]));
    }

    #[test]
    fn refuses_dot_dot_and_nul() {
        for bad in ["..", "../x", "a/../../x", "a/..", "/../etc", "a/../b"] {
            assert!(c(bad).is_err(), "{bad}");
        }
        assert!(clean(b"a\0b").is_err());
    }

    #[test]
    fn recognises_whiteouts() {
        let os = |s: &'static str| OsStr::new(s);
        assert_eq!(whiteout(os(".wh..wh..opq")), Whiteout::Opaque);
        assert_eq!(whiteout(os(".wh..wh.plnk")), Whiteout::Meta);
        assert_eq!(whiteout(os(".wh.foo")), Whiteout::Remove(os("foo")));
        assert_eq!(whiteout(os(".wh.")), Whiteout::Remove(os("")));
        assert_eq!(whiteout(os("foo.wh.")), Whiteout::None);
        assert_eq!(join(&[os("a"), os("b")]), b"a/b");
        assert_eq!(join(&[]), b"");
    }
}
