//! Detach key sequences (`ctrl-p,ctrl-q`), parsed and matched in the input
//! stream the way docker's escape proxy does: bytes that could start the
//! sequence are held back; the whole sequence detaches and is never sent.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid detach keys {0:?}: use a comma-separated list of ctrl-<a-z|@|[|\\|]|^|_> or single characters")]
pub struct DetachKeysError(pub String);

/// docker's default.
pub const DEFAULT: &str = "ctrl-p,ctrl-q";

/// Parse `ctrl-p,ctrl-q` (or `a,ctrl-b`...) into bytes.
pub fn parse(spec: &str) -> Result<Vec<u8>, DetachKeysError> {
    let bad = || DetachKeysError(spec.to_string());
    let mut out = Vec::new();
    for key in spec.split(',') {
        let key = key.trim();
        if let Some(c) = key.strip_prefix("ctrl-") {
            let mut chars = c.chars();
            let (Some(ch), None) = (chars.next(), chars.next()) else {
                return Err(bad());
            };
            let b = match ch.to_ascii_lowercase() {
                c @ 'a'..='z' => c as u8 - b'a' + 1,
                '@' => 0,
                '[' => 27,
                '\\' => 28,
                ']' => 29,
                '^' => 30,
                '_' => 31,
                _ => return Err(bad()),
            };
            out.push(b);
        } else if key.len() == 1 && key.is_ascii() {
            out.push(key.as_bytes()[0]);
        } else {
            return Err(bad());
        }
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

/// Matches the sequence across reads.
#[derive(Debug, Clone)]
pub struct Matcher {
    keys: Vec<u8>,
    matched: usize,
}

/// What to do with one read of input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// Forward these bytes (possibly empty while a prefix is held back).
    Forward(Vec<u8>),
    /// The sequence was typed: forward these bytes first, then detach.
    Detach(Vec<u8>),
}

impl Matcher {
    pub fn new(keys: Vec<u8>) -> Self {
        Matcher { keys, matched: 0 }
    }

    pub fn feed(&mut self, input: &[u8]) -> Feed {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Feed::Detach(out);
                }
                continue;
            }
            // Mismatch: release what was held back, then retry this byte
            // as the start of a new match.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    return Feed::Detach(out);
                }
            } else {
                out.push(b);
            }
        }
        Feed::Forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_specs() {
        assert_eq!(parse(DEFAULT), Ok(vec![16, 17]));
        assert_eq!(parse("a,ctrl-@,ctrl-_"), Ok(vec![b'a', 0, 31]));
        assert!(parse("ctrl-").is_err());
        assert!(parse("ab").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn detaches_across_reads_and_releases_false_starts() {
        let mut m = Matcher::new(vec![16, 17]);
        assert_eq!(m.feed(b"ab\x10"), Feed::Forward(b"ab".to_vec()));
        assert_eq!(m.feed(b"x"), Feed::Forward(b"\x10x".to_vec()));
        assert_eq!(m.feed(b"\x10\x10"), Feed::Forward(b"\x10".to_vec()));
        assert_eq!(m.feed(b"\x11rest"), Feed::Detach(Vec::new()));
        let mut m = Matcher::new(vec![16, 17]);
        assert_eq!(m.feed(b"hi\x10\x11"), Feed::Detach(b"hi".to_vec()));
    }
}
