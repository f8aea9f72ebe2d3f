//! Request targets: API paths with path segments and query strings escaped.

use std::fmt::Write as _;

/// Percent-encode everything but RFC 3986 unreserved characters.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A query string built pair by pair, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.0.push((key.to_string(), value.into()));
        self
    }

    /// Add `key=value` only when `value` is `Some`.
    pub fn push_opt<T: ToString>(&mut self, key: &str, value: Option<T>) -> &mut Self {
        if let Some(v) = value {
            self.push(key, v.to_string());
        }
        self
    }

    /// Add `key=1` when `flag` is set (docker's boolean encoding).
    pub fn flag(&mut self, key: &str, flag: bool) -> &mut Self {
        if flag {
            self.push(key, "1");
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `?a=1&b=x%20y`, or empty when there are no pairs.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.0.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(&encode_component(k));
            out.push('=');
            out.push_str(&encode_component(v));
        }
        out
    }
}

/// `/containers/{id}/start` with `id` escaped as one path segment.
pub fn path(prefix: &str, id: &str, suffix: &str) -> String {
    format!("{prefix}{}{suffix}", encode_component(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_pairs() {
        let mut q = Query::new();
        q.push("name", "web 1")
            .flag("all", true)
            .flag("force", false)
            .push_opt("t", Some(3))
            .push_opt::<i64>("limit", None)
            .push("filters", r#"{"status":["running"]}"#);
        assert_eq!(
            q.encode(),
            "?name=web%201&all=1&t=3&filters=%7B%22status%22%3A%5B%22running%22%5D%7D"
        );
        assert_eq!(Query::new().encode(), "");
    }

    #[test]
    fn escapes_path_segment() {
        assert_eq!(path("/containers/", "../x?y", "/json"), "/containers/..%2Fx%3Fy/json");
        assert_eq!(
            path("/images/", "busybox:latest", "/json"),
            "/images/busybox%3Alatest/json"
        );
    }
}
