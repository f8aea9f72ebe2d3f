//! Small text transformations docker's formatters apply.

/// docker's `TruncateID`: drop an algorithm prefix, keep 12 characters.
pub fn truncate_id(id: &str) -> &str {
    let id = id.split_once(':').map_or(id, |(_, rest)| rest);
    match id.char_indices().nth(12) {
        Some((i, _)) => &id[..i],
        None => id,
    }
}

/// docker's `formatter.Ellipsis` for display width `max` (one column per
/// character, which holds for the text `ps` shows).
pub fn ellipsis(s: &str, max: usize) -> String {
    if max == 0 {
        return String::new();
    }
    let count = s.chars().count();
    if count <= max {
        return s.to_string();
    }
    if max == 1 {
        return s.chars().take(1).collect();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Container names without the leading `/`, skipping link names
/// (`/other/alias`), joined with commas as `docker ps` shows them.
pub fn container_names(names: &[String]) -> String {
    names
        .iter()
        .map(|n| n.strip_prefix('/').unwrap_or(n))
        .filter(|n| !n.contains('/'))
        .collect::<Vec<_>>()
        .join(",")
}

/// Split `repo[:tag]` at the tag colon (a colon after the last `/`, so a
/// registry port stays in the repository).
pub fn split_repo_tag(reference: &str) -> (&str, Option<&str>) {
    let name_start = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[name_start..].rfind(':') {
        Some(i) => {
            let at = name_start + i;
            (&reference[..at], Some(&reference[at + 1..]))
        }
        None => (reference, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(truncate_id("sha256:0123456789abcdef0123"), "0123456789ab");
        assert_eq!(truncate_id("0123456789abcdef"), "0123456789ab");
        assert_eq!(truncate_id("abc"), "abc");
    }

    #[test]
    fn ellipsis_like_docker() {
        assert_eq!(ellipsis("sleep 10", 20), "sleep 10");
        assert_eq!(
            ellipsis("sh -c 'while true; do date; done'", 20),
            "sh -c 'while true; …"
        );
        assert_eq!(ellipsis("12345678901234567890", 20), "12345678901234567890");
        assert_eq!(ellipsis("abc", 1), "a");
        assert_eq!(ellipsis("abc", 0), "");
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("sleep 10"), "\"sleep 10\"");
        assert_eq!(go_quote("a\"b\\c\nd\x1b"), "\"a\\\"b\\\\c\\nd\\x1b\"");
        assert_eq!(go_quote("x…"), "\"x…\"");
    }

    #[test]
    fn names() {
        let n = vec!["/web".to_string(), "/db/web".to_string()];
        assert_eq!(container_names(&n), "web");
        assert_eq!(container_names(&["a".to_string()]), "a");
    }

    #[test]
    fn repo_tags() {
        assert_eq!(split_repo_tag("busybox:1.36"), ("busybox", Some("1.36")));
        assert_eq!(split_repo_tag("busybox"), ("busybox", None));
        assert_eq!(split_repo_tag("localhost:5000/bb"), ("localhost:5000/bb", None));
        assert_eq!(split_repo_tag("localhost:5000/bb:x"), ("localhost:5000/bb", Some("x")));
    }
}
