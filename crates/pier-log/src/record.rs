//! One json-file record: encoding (the writer's hot path) and decoding of a
//! line (the readers' hot path), both without allocation in the common case.

use crate::escape::{escape_into, unescape_into};
use crate::timestamp;
use crate::Stream;

const LOG_PREFIX: &[u8] = b"{\"log\":\"";
const TIME_KEY: &[u8] = b"\"time\":\"";

/// Appends one record (with its trailing newline) to `out`. `time` is the
/// already formatted timestamp.
pub(crate) fn encode(out: &mut Vec<u8>, stream: Stream, log: &[u8], time: &[u8]) {
    out.extend_from_slice(LOG_PREFIX);
    escape_into(out, log);
    out.extend_from_slice(match stream {
        Stream::Stdout => b"\",\"stream\":\"stdout\",\"time\":\"",
        Stream::Stderr => b"\",\"stream\":\"stderr\",\"time\":\"",
    });
    out.extend_from_slice(time);
    out.extend_from_slice(b"\"}\n");
}

/// The `log` field of a decoded record.
#[derive(Debug)]
pub(crate) enum LogText<'a> {
    /// The raw JSON string body; `escaped` says whether it holds any `\`.
    Raw { body: &'a [u8], escaped: bool },
    /// Decoded by the slow path.
    Owned(Vec<u8>),
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
        }
    }
}

#[derive(Debug)]
pub(crate) struct Record<'a> {
    pub stream: Stream,
    pub time: i64,
    pub log: LogText<'a>,
}

/// Decodes one line (without its newline). `None` for anything that is not a
/// record: a torn line, garbage, an unknown stream.
pub(crate) fn decode(line: &[u8]) -> Option<Record<'_>> {
    decode_fast(line).or_else(|| decode_slow(line))
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
    let fixed = ts.len().checked_sub(timestamp::FIXED_LEN);
    let time = match fixed {
        // Our fixed-width form, right after `,"time":"`.
        Some(at) if ts[..at].ends_with(TIME_KEY) => timestamp::parse_bytes(&ts[at..])?,
        _ => {
            let at = memchr::memmem::rfind(ts, TIME_KEY)?;
            timestamp::parse_bytes(&ts[at + TIME_KEY.len()..])?
        }
    };
    Some(Record {
        stream,
        time,
        log: LogText::Raw { body, escaped },
    })
}

#[derive(serde::Deserialize)]
struct SlowRecord {
    #[serde(default)]
    log: String,
    stream: String,
    time: String,
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
        time: timestamp::parse_timestamp(&r.time)?,
        log: LogText::Owned(r.log.into_bytes()),
    })
}

/// The time of the record that ends just before `line_end` in `buf` (the
/// index of its `\n`), read backwards from the end of the line: only the
/// timestamp is looked at. Used by the binary search.
pub(crate) fn time_at_line_end(buf: &[u8], line_end: usize) -> Option<i64> {
    let line = buf.get(..line_end)?.strip_suffix(b"\"}")?;
    // Fast path: our fixed-width timestamps.
    if line.len() >= timestamp::FIXED_LEN + TIME_KEY.len() {
        let start = line.len() - timestamp::FIXED_LEN;
        if line[..start].ends_with(TIME_KEY) {
            if let Some(t) = timestamp::parse_bytes(&line[start..]) {
                return Some(t);
            }
        }
    }
    let from = line.len().saturating_sub(128);
    let at = memchr::memmem::rfind(&line[from..], TIME_KEY)?;
    timestamp::parse_bytes(&line[from + at + TIME_KEY.len()..])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const T: i64 = 1_795_960_472_123_456_789;

    fn enc(stream: Stream, log: &[u8]) -> Vec<u8> {
        let mut ts = [0u8; 40];
        let n = timestamp::format_into(T, &mut ts);
        let mut out = Vec::new();
        encode(&mut out, stream, log, &ts[..n]);
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
    fn rejects_torn_and_garbage() {
        let line = enc(Stream::Stdout, b"hello\n");
        for cut in 0..line.len() - 1 {
            assert!(decode(&line[..cut]).is_none(), "cut {cut}");
        }
        assert!(decode(b"\x00\x00garbage").is_none());
        assert!(decode(br#"{"log":"x","stream":"other","time":"2026-11-29T13:54:32Z"}"#).is_none());
    }
}
