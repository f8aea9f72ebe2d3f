//! Detach keys (docker's `ctrl-p,ctrl-q`): parsing and the stdin scanner
//! that spots them in a client's input (pure).

/// Docker's default: ctrl-p, ctrl-q.
pub const DEFAULT: &[u8] = &[0x10, 0x11];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown character: '{0}'")]
pub struct BadKey(pub String);

/// Parse docker's syntax: comma-separated single characters or `ctrl-X`
/// (X one of `a`-`z`, `@`, `[`, `\`, `]`, `^`, `_`).
pub fn parse(spec: &str) -> Result<Vec<u8>, BadKey> {
    let mut out = Vec::new();
    for part in spec.split(',') {
        let key = part.trim();
        let lower = key.to_ascii_lowercase();
        let b = match lower.strip_prefix("ctrl-") {
            Some(rest) if rest.len() == 1 => {
                let c = rest.as_bytes()[0];
                match c {
                    b'a'..=b'z' => c - b'a' + 1,
                    b'@' => 0,
                    b'[' => 27,
                    b'\\' => 28,
                    b']' => 29,
                    b'^' => 30,
                    b'_' => 31,
                    _ => return Err(BadKey(key.to_string())),
                }
            }
            _ if key.len() == 1 => key.as_bytes()[0],
            _ => return Err(BadKey(key.to_string())),
        };
        out.push(b);
    }
    Ok(out)
}

/// The keys for a session: the request's, else the daemon's, else the
/// default; an unparsable value falls back to the default (as dockerd).
pub fn choose(request: Option<&str>, daemon: Option<&str>) -> Vec<u8> {
    let spec = request.filter(|s| !s.is_empty()).or(daemon.filter(|s| !s.is_empty()));
    match spec.map(parse) {
        Some(Ok(k)) => k,
        Some(Err(e)) => {
            tracing::warn!(error = %e, "invalid detach keys, using the default");
            DEFAULT.to_vec()
        }
        None => DEFAULT.to_vec(),
    }
}

/// What a chunk of input turned into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// Forward these bytes (a partial match is held back).
    Forward(Vec<u8>),
    /// The keys were typed: forward these bytes first, then detach.
    Detach(Vec<u8>),
}

/// Finds the detach sequence across chunk boundaries. Bytes of a partial
/// match are held until the match fails (then forwarded) or completes (then
/// dropped).
#[derive(Debug, Clone)]
pub struct Scanner {
    keys: Vec<u8>,
    held: usize,
}

impl Scanner {
    pub fn new(keys: Vec<u8>) -> Self {
        Scanner { keys, held: 0 }
    }

    pub fn feed(&mut self, input: &[u8]) -> Scan {
        if self.keys.is_empty() {
            return Scan::Forward(input.to_vec());
        }
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if b == self.keys[self.held] {
                self.held += 1;
            } else {
                out.extend_from_slice(&self.keys[..self.held]);
                self.held = 0;
                if b == self.keys[0] {
                    self.held = 1;
                } else {
                    out.push(b);
                }
            }
            if self.held == self.keys.len() {
                self.held = 0;
                return Scan::Detach(out);
            }
        }
        Scan::Forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_syntax() {
        assert_eq!(parse("ctrl-p,ctrl-q").expect("parse"), DEFAULT);
        assert_eq!(parse("ctrl-a,x").expect("parse"), vec![1, b'x']);
        assert_eq!(parse("ctrl-@,ctrl-_").expect("parse"), vec![0, 31]);
        assert!(parse("ctrl-1").is_err());
        assert!(parse("abc").is_err());
        assert_eq!(choose(Some("bad-key"), None), DEFAULT);
        assert_eq!(choose(None, Some("ctrl-x")), vec![24]);
        assert_eq!(choose(Some("a"), Some("ctrl-x")), vec![b'a']);
    }

    #[test]
    fn scans_across_chunks() {
        let mut s = Scanner::new(DEFAULT.to_vec());
        assert_eq!(s.feed(b"ab\x10"), Scan::Forward(b"ab".to_vec()));
        assert_eq!(s.feed(b"c"), Scan::Forward(b"\x10c".to_vec()));
        assert_eq!(s.feed(b"x\x10"), Scan::Forward(b"x".to_vec()));
        assert_eq!(s.feed(b"\x11rest"), Scan::Detach(Vec::new()));
        let mut s = Scanner::new(DEFAULT.to_vec());
        assert_eq!(s.feed(b"\x10\x10\x11"), Scan::Detach(b"\x10".to_vec()));
        let mut s = Scanner::new(Vec::new());
        assert_eq!(s.feed(b"\x10\x11"), Scan::Forward(b"\x10\x11".to_vec()));
    }
}
