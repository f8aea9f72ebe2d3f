//! One json-file record: encoding (the writer's hot path) and decoding of a
//! line (the readers' hot path), both without allocation in the common case.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::escape::{escape_into, unescape_into};
use crate::Stream;

const LOG_PREFIX: &[u8] = b"{\"log\":\"";
const TIME_KEY: &[u8] = b"\"time\":\"";

const ATTRS_KEY: &[u8] = b",\"attrs\":";

/// How records are laid out in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Docker's json-file: one JSON object per line.
    #[default]
    JsonFile,
    /// The Kubernetes CRI format: `<RFC3339Nano> <stream> <P|F> <text>`, the
    /// text raw (lines are split at newlines, so it holds none); `P` marks a
    /// partial line, `F` a full one whose newline is implied.
    Cri,
}

/// Appends one CRI line (with its trailing newline) to `out`.
pub(crate) fn encode_cri(out: &mut Vec<u8>, stream: Stream, log: &[u8], time: &[u8]) {
    let (text, tag) = match log.strip_suffix(b"\n") {
        Some(t) => (t, b'F'),
        None => (log, b'P'),
    };
    out.extend_from_slice(time);
    out.push(b' ');
    out.extend_from_slice(stream.as_str().as_bytes());
    out.extend_from_slice(&[b' ', tag, b' ']);
    out.extend_from_slice(text);
    out.push(b'\n');
}

/// Appends one record (with its trailing newline) to `out`. `time` is the
/// already formatted timestamp, `attrs` empty or from [`encode_attrs`].
pub(crate) fn encode(out: &mut Vec<u8>, stream: Stream, log: &[u8], attrs: &[u8], time: &[u8]) {
    out.extend_from_slice(LOG_PREFIX);
    escape_into(out, log);
    out.extend_from_slice(match stream {
        Stream::Stdout => b"\",\"stream\":\"stdout\"",
        Stream::Stderr => b"\",\"stream\":\"stderr\"",
    });
    out.extend_from_slice(attrs);
    out.extend_from_slice(b",\"time\":\"");
    out.extend_from_slice(time);
    out.extend_from_slice(b"\"}\n");
}

/// The `,"attrs":{...}` member dockerd writes for `--log-opt labels=/env=`:
/// keys sorted (Go marshals maps sorted), empty for no attributes.
pub(crate) fn encode_attrs(attrs: &[(String, String)]) -> Vec<u8> {
    if attrs.is_empty() {
        return Vec::new();
    }
    let mut sorted: Vec<&(String, String)> = attrs.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.dedup_by(|a, b| a.0 == b.0);
    let mut out = ATTRS_KEY.to_vec();
    out.push(b'{');
    for (i, (k, v)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        escape_into(&mut out, k.as_bytes());
        out.extend_from_slice(b"\":\"");
        escape_into(&mut out, v.as_bytes());
        out.push(b'"');
    }
    out.push(b'}');
    out
}

/// The `log` field of a decoded record.
#[derive(Debug)]
pub(crate) enum LogText<'a> {
    /// The raw JSON string body; `escaped` says whether it holds any `\`.
    Raw { body: &'a [u8], escaped: bool },
    /// Decoded by the slow path.
    Owned(Vec<u8>),
    /// A CRI line's raw text; `full`: its newline is implied (it is the
    /// byte right after `body` in the buffer the line was read from).
    Cri { body: &'a [u8], full: bool },
}

impl LogText<'_> {
    /// The decoded bytes, using `scratch` when unescaping is needed.
    pub(crate) fn decode<'s>(&'s self, scratch: &'s mut Vec<u8>) -> Option<&'s [u8]> {
        match self {
            LogText::Raw { body, escaped: false } => Some(body),
            LogText::Raw { body, escaped: true } => {
                scratch.clear();
                unescape_into(scratch, body)?;
                Some(scratch)
            }
            LogText::Owned(v) => Some(v),
            LogText::Cri { body, full: false } => Some(body),
            LogText::Cri { body, full: true } => {
                scratch.clear();
                scratch.extend_from_slice(body);
                scratch.push(b'\n');
                Some(scratch)
            }
        }
    }
}

impl LogText<'_> {
    /// Whether the decoded text ends with a newline (a complete line, not a
    /// partial record), without decoding it.
    pub(crate) fn ends_with_newline(&self) -> bool {
        match self {
            LogText::Raw { body, escaped: false } => body.ends_with(b"\n"),
            LogText::Raw { body, escaped: true } => {
                let esc_at = if body.ends_with(b"\\n") {
                    body.len() - 2
                } else if body.len() >= 6 && body[body.len() - 6..].eq_ignore_ascii_case(b"\\u000a") {
                    body.len() - 6
                } else {
                    return false;
                };
                // The backslash is an escape only if an even number precede it.
                let before = body[..esc_at].iter().rev().take_while(|&&c| c == b'\\').count();
                before % 2 == 0
            }
            LogText::Owned(v) => v.ends_with(b"\n"),
            LogText::Cri { full, .. } => *full,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Record<'a> {
    pub stream: Stream,
    pub time: i64,
    pub log: LogText<'a>,
    /// The raw `attrs` JSON object, empty when the record has none.
    pub attrs: Cow<'a, [u8]>,
}

/// Decodes one line (without its newline). `None` for anything that is not a
/// record: a torn line, garbage, an unknown stream.
pub(crate) fn decode(line: &[u8]) -> Option<Record<'_>> {
    if line.first().is_some_and(u8::is_ascii_digit) {
        return decode_cri(line);
    }
    decode_fast(line).or_else(|| decode_slow(line))
}

/// `<time> <stream> <P|F> <text>`.
fn decode_cri(line: &[u8]) -> Option<Record<'_>> {
    let sp = memchr::memchr(b' ', line)?;
    let time = pier_time::parse_rfc3339_bytes(&line[..sp])?;
    let rest = &line[sp + 1..];
    let (stream, rest) = if let Some(r) = rest.strip_prefix(b"stdout ") {
        (Stream::Stdout, r)
    } else {
        (Stream::Stderr, rest.strip_prefix(b"stderr ")?)
    };
    let (full, body) = match rest {
        [b'F'] => (true, &rest[1..]),
        [b'P'] => (false, &rest[1..]),
        [b'F', b' ', body @ ..] => (true, body),
        [b'P', b' ', body @ ..] => (false, body),
        _ => return None,
    };
    Some(Record {
        stream,
        time,
        log: LogText::Cri { body, full },
        attrs: Cow::Borrowed(&[]),
    })
}

/// dockerd's and our own field order: log, stream, [attrs,] time.
fn decode_fast(line: &[u8]) -> Option<Record<'_>> {
    let rest = line.strip_prefix(LOG_PREFIX)?;
    let mut i = 0;
    let mut escaped = false;
    let end = loop {
        let off = memchr::memchr2(b'"', b'\\', &rest[i..])?;
        i += off;
        if rest[i] == b'"' {
            break i;
        }
        escaped = true;
        i += 2;
        if i > rest.len() {
            return None;
        }
    };
    let body = &rest[..end];
    let after = &rest[end + 1..];
    let (stream, after) = if let Some(a) = after.strip_prefix(b",\"stream\":\"stdout\"") {
        (Stream::Stdout, a)
    } else {
        (Stream::Stderr, after.strip_prefix(b",\"stream\":\"stderr\"")?)
    };
    let ts = after.strip_suffix(b"\"}")?;
    let fixed = ts.len().checked_sub(pier_time::FIXED_LEN);
    let (time, key_at) = match fixed {
        // Our fixed-width form, right after `,"time":"`.
        Some(at) if ts[..at].ends_with(TIME_KEY) => (pier_time::parse_rfc3339_bytes(&ts[at..])?, at - TIME_KEY.len()),
        _ => {
            let at = memchr::memmem::rfind(ts, TIME_KEY)?;
            (pier_time::parse_rfc3339_bytes(&ts[at + TIME_KEY.len()..])?, at)
        }
    };
    let attrs = match ts.strip_prefix(ATTRS_KEY) {
        Some(a) => {
            let a = a.get(..key_at.checked_sub(ATTRS_KEY.len() + 1)?)?;
            if !a.starts_with(b"{") || !a.ends_with(b"}") {
                return None;
            }
            a
        }
        None => &[],
    };
    Some(Record {
        stream,
        time,
        log: LogText::Raw { body, escaped },
        attrs: Cow::Borrowed(attrs),
    })
}

#[derive(serde::Deserialize)]
struct SlowRecord {
    #[serde(default)]
    log: String,
    stream: String,
    time: String,
    #[serde(default)]
    attrs: BTreeMap<String, String>,
}

fn decode_slow(line: &[u8]) -> Option<Record<'static>> {
    let r: SlowRecord = serde_json::from_slice(line).ok()?;
    let stream = match r.stream.as_str() {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        _ => return None,
    };
    Some(Record {
        stream,
        time: pier_time::parse_rfc3339(&r.time)?,
        log: LogText::Owned(r.log.into_bytes()),
        attrs: if r.attrs.is_empty() {
            Cow::Borrowed(&[])
        } else {
            let pairs: Vec<(String, String)> = r.attrs.into_iter().collect();
            let mut a = encode_attrs(&pairs);
            a.drain(..ATTRS_KEY.len());
            Cow::Owned(a)
        },
    })
}

/// Docker's `--details` prefix for a record's raw `attrs` object:
/// `k=v,k2=v2` sorted by key, each side query-escaped as Go's
/// `url.QueryEscape`; nothing for no attributes.
pub fn details_into(out: &mut Vec<u8>, attrs: &[u8]) {
    if attrs.is_empty() {
        return;
    }
    let Ok(map) = serde_json::from_slice::<BTreeMap<String, String>>(attrs) else {
        return;
    };
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        query_escape(out, k.as_bytes());
        out.push(b'=');
        query_escape(out, v.as_bytes());
    }
}

fn query_escape(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &c in s {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(c),
            b' ' => out.push(b'+'),
            _ => out.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]),
        }
    }
}

/// The time of the record that ends just before `line_end` in `buf` (the
/// index of its `\n`), read backwards from the end of the line: only the
/// timestamp is looked at. Used by the binary search.
pub(crate) fn time_at_line_end(buf: &[u8], line_end: usize) -> Option<i64> {
    let head = buf.get(..line_end)?;
    let start = memchr::memrchr(b'\n', head).map_or(0, |p| p + 1);
    // As `decode`: a line that starts with a digit is a CRI line, its time
    // at its start, whatever its text ends with (`"}` too). None when its
    // start is not in `buf`: a block that starts mid-line fails to parse.
    if head[start..].first().is_some_and(u8::is_ascii_digit) {
        let line = &head[start..];
        let sp = memchr::memchr(b' ', line);
        if let Some(t) = sp.and_then(|sp| pier_time::parse_rfc3339_bytes(&line[..sp])) {
            return Some(t);
        }
    }
    let line = head.strip_suffix(b"\"}")?;
    // Fast path: our fixed-width timestamps.
    if line.len() >= pier_time::FIXED_LEN + TIME_KEY.len() {
        let start = line.len() - pier_time::FIXED_LEN;
        if line[..start].ends_with(TIME_KEY) {
            if let Some(t) = pier_time::parse_rfc3339_bytes(&line[start..]) {
                return Some(t);
            }
        }
    }
    let from = line.len().saturating_sub(128);
    let at = memchr::memmem::rfind(&line[from..], TIME_KEY)?;
    pier_time::parse_rfc3339_bytes(&line[from + at + TIME_KEY.len()..])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const T: i64 = 1_795_960_472_123_456_789;

    fn enc(stream: Stream, log: &[u8]) -> Vec<u8> {
        let mut ts = [0u8; 40];
        let n = pier_time::format_fixed_into(T, &mut ts);
        let mut out = Vec::new();
        encode(&mut out, stream, log, &[], &ts[..n]);
        out
    }

    #[test]
    fn encodes_dockers_format() {
        let line = enc(Stream::Stdout, b"hi <there>\n");
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "{\"log\":\"hi \\u003cthere\\u003e\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-29T13:54:32.123456789Z\"}\n"
        );
    }

    #[test]
    fn decodes_own_records() {
        let line = enc(Stream::Stderr, b"a\"b\\c\n");
        let r = decode(&line[..line.len() - 1]).unwrap();
        assert_eq!(r.stream, Stream::Stderr);
        assert_eq!(r.time, T);
        let mut s = Vec::new();
        assert!(r.log.ends_with_newline());
        assert_eq!(r.log.decode(&mut s).unwrap(), b"a\"b\\c\n");
        for (body, nl) in [
            (&br"x\\n"[..], false),
            (br"x\\\n", true),
            (br"\u000A", true),
            (br"x\\", false),
        ] {
            let t = LogText::Raw { body, escaped: true };
            assert_eq!(t.ends_with_newline(), nl, "{}", String::from_utf8_lossy(body));
        }
        assert_eq!(time_at_line_end(&line, line.len() - 1), Some(T));
    }

    #[test]
    fn decodes_other_forms() {
        // Go's trimmed time, attrs, other key order, whitespace.
        let cases: &[&[u8]] = &[
            br#"{"log":"x\n","stream":"stdout","attrs":{"a":"b"},"time":"2026-11-29T13:54:32.1234Z"}"#,
            br#"{"stream":"stdout","log":"x\n","time":"2026-11-29T13:54:32.1234Z"}"#,
            br#"{ "log" : "x\n", "stream" : "stdout", "time" : "2026-11-29T13:54:32.1234Z" }"#,
        ];
        for c in cases {
            let r = decode(c).unwrap();
            assert_eq!(r.time, 1_795_960_472_123_400_000);
            assert_eq!(r.log.decode(&mut Vec::new()).unwrap(), b"x\n");
        }
        let mut buf = cases[0].to_vec();
        buf.push(b'\n');
        assert_eq!(time_at_line_end(&buf, buf.len() - 1), Some(1_795_960_472_123_400_000));
    }

    #[test]
    fn attrs_round_trip() {
        let attrs = encode_attrs(&[("z".into(), "1".into()), ("a b".into(), "x&y".into())]);
        assert_eq!(attrs, br#","attrs":{"a b":"x\u0026y","z":"1"}"#);
        let mut ts = [0u8; 40];
        let n = pier_time::format_fixed_into(T, &mut ts);
        let mut line = Vec::new();
        encode(&mut line, Stream::Stdout, b"hi\n", &attrs, &ts[..n]);
        let r = decode(&line[..line.len() - 1]).unwrap();
        assert_eq!(r.time, T);
        assert_eq!(&*r.attrs, br#"{"a b":"x\u0026y","z":"1"}"#);
        let mut d = Vec::new();
        details_into(&mut d, &r.attrs);
        assert_eq!(d, b"a+b=x%26y,z=1");
        let slow =
            decode(br#"{"stream":"stdout","log":"x\n","attrs":{"k":"v"},"time":"2026-11-29T13:54:32Z"}"#).unwrap();
        assert_eq!(&*slow.attrs, br#"{"k":"v"}"#);
        assert!(
            decode(br#"{"log":"x\n","stream":"stdout","time":"2026-11-29T13:54:32Z"}"#)
                .unwrap()
                .attrs
                .is_empty()
        );
    }

    #[test]
    fn cri_round_trip() {
        let mut ts = [0u8; 40];
        let n = pier_time::format_fixed_into(T, &mut ts);
        let mut out = Vec::new();
        encode_cri(&mut out, Stream::Stderr, b"a b\n", &ts[..n]);
        encode_cri(&mut out, Stream::Stdout, b"part", &ts[..n]);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "2026-11-29T13:54:32.123456789Z stderr F a b\n2026-11-29T13:54:32.123456789Z stdout P part\n"
        );
        let first = out.iter().position(|&c| c == b'\n').unwrap();
        let r = decode(&out[..first]).unwrap();
        assert_eq!((r.stream, r.time), (Stream::Stderr, T));
        assert!(r.log.ends_with_newline());
        assert_eq!(r.log.decode(&mut Vec::new()).unwrap(), b"a b\n");
        let r = decode(&out[first + 1..out.len() - 1]).unwrap();
        assert!(!r.log.ends_with_newline());
        assert_eq!(r.log.decode(&mut Vec::new()).unwrap(), b"part");
        assert_eq!(time_at_line_end(&out, first), Some(T));
        assert_eq!(time_at_line_end(&out, out.len() - 1), Some(T));
        let empty = decode(b"2026-11-29T13:54:32Z stdout F").unwrap();
        assert_eq!(empty.log.decode(&mut Vec::new()).unwrap(), b"\n");
        assert!(decode(b"2026-11-29T13:54:32Z stdout X y").is_none());
        assert!(decode(b"2026-11-29T13:54:32Z other F y").is_none());
    }

    /// Found by the `log_reader` fuzz target: a CRI line whose text ends in
    /// `"}` (a container printing JSON) was read as a json-file line by the
    /// `since` search, found no time and was skipped.
    #[test]
    fn cri_line_ending_like_json_has_its_time() {
        let buf = b"2026-11-29T13:54:32.123456789Z stdout F {\"a\":\"b\"}\n";
        assert_eq!(time_at_line_end(buf, buf.len() - 1), Some(T));
    }

    #[test]
    fn rejects_torn_and_garbage() {
        let line = enc(Stream::Stdout, b"hello\n");
        for cut in 0..line.len() - 1 {
            assert!(decode(&line[..cut]).is_none(), "cut {cut}");
        }
        assert!(decode(b"\x00\x00garbage").is_none());
        assert!(decode(br#"{"log":"x","stream":"other","time":"2026-11-29T13:54:32Z"}"#).is_none());
    }
}
