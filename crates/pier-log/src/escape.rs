//! JSON string escaping exactly as dockerd's json-file writer does it (Go's
//! `encoding/json` rules: `<`, `>`, `&`, U+2028, U+2029 escaped, invalid UTF-8
//! as U+FFFD; like dockerd, and unlike Go >= 1.22, only `\n` and `\r` get a
//! short escape: tab is `\u0009`), and the reverse.

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Bytes that leave the plain-copy fast path: controls, `"`, `\`, `<`, `>`,
/// `&`, and every non-ASCII byte (UTF-8 validation, U+2028/U+2029).
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i < 0x20 || i >= 0x80 || matches!(i as u8, b'"' | b'\\' | b'<' | b'>' | b'&');
        i += 1;
    }
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Some byte of `x` may be zero (false positives only after a zero byte).
#[inline(always)]
fn zero_byte(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGH
}

/// Whether any of the 8 bytes in `x` may be [`SPECIAL`]; a false positive
/// only costs a look at each byte.
#[inline(always)]
fn maybe_special(x: u64) -> bool {
    let control = x.wrapping_sub(ONES * 0x20) & !x;
    let quote = zero_byte(x ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(x ^ (ONES * u64::from(b'\\')));
    let lt = zero_byte(x ^ (ONES * u64::from(b'<')));
    let gt = zero_byte(x ^ (ONES * u64::from(b'>')));
    let amp = zero_byte(x ^ (ONES * u64::from(b'&')));
    ((control | x | quote | backslash | lt | gt | amp) & HIGH) != 0
}

/// Appends `s` escaped (without the surrounding quotes) to `out`. Plain
/// ASCII is skipped 8 bytes at a time and copied in runs.
pub(crate) fn escape_into(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 16);
    let mut start = 0;
    let mut i = 0;
    while i < s.len() {
        // Two words at a time while the text is plain.
        while let Some(pair) = s.get(i..i + 16) {
            let mut a = [0u8; 8];
            let mut b = [0u8; 8];
            a.copy_from_slice(&pair[..8]);
            b.copy_from_slice(&pair[8..]);
            if maybe_special(u64::from_le_bytes(a)) || maybe_special(u64::from_le_bytes(b)) {
                break;
            }
            i += 16;
        }
        if i == s.len() {
            break;
        }
        if let Some(word) = s.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            if !maybe_special(u64::from_le_bytes(w)) {
                i += 8;
                continue;
            }
            match word.iter().position(|&b| SPECIAL[b as usize]) {
                Some(p) => i += p,
                None => {
                    i += 8;
                    continue;
                }
            }
        } else if !SPECIAL[s[i] as usize] {
            i += 1;
            continue;
        }
        let b = s[i];
        out.extend_from_slice(&s[start..i]);
        if b < 0x80 {
            match b {
                b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                _ => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]]),
            }
            i += 1;
        } else {
            i += escape_non_ascii(out, &s[i..]);
        }
        start = i;
    }
    out.extend_from_slice(&s[start..]);
}

/// Handles the non-ASCII sequence at the start of `s`; returns bytes consumed.
/// Like Go, each byte that does not start a valid UTF-8 sequence becomes one
/// U+FFFD.
fn escape_non_ascii(out: &mut Vec<u8>, s: &[u8]) -> usize {
    let len = utf8_len(s);
    if len == 0 {
        out.extend_from_slice(b"\\ufffd");
        return 1;
    }
    if len == 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9) {
        out.extend_from_slice(if s[2] == 0xa8 { b"\\u2028" } else { b"\\u2029" });
    } else {
        out.extend_from_slice(&s[..len]);
    }
    len
}

/// Length of the valid UTF-8 sequence at the start of `s` (lead byte >= 0x80),
/// or 0 when it is not valid (Go's `utf8.DecodeRune` rules).
fn utf8_len(s: &[u8]) -> usize {
    let cont = |i: usize, lo: u8, hi: u8| s.get(i).is_some_and(|&c| (lo..=hi).contains(&c));
    let tail = |from: usize, to: usize| (from..to).all(|i| cont(i, 0x80, 0xbf));
    match s[0] {
        0xc2..=0xdf if tail(1, 2) => 2,
        0xe0 if cont(1, 0xa0, 0xbf) && tail(2, 3) => 3,
        0xe1..=0xec | 0xee..=0xef if tail(1, 3) => 3,
        0xed if cont(1, 0x80, 0x9f) && tail(2, 3) => 3,
        0xf0 if cont(1, 0x90, 0xbf) && tail(2, 4) => 4,
        0xf1..=0xf3 if tail(1, 4) => 4,
        0xf4 if cont(1, 0x80, 0x8f) && tail(2, 4) => 4,
        _ => 0,
    }
}

/// Decodes the body of a JSON string (between the quotes) into `out`.
/// Returns `None` on a malformed escape. Lone surrogates become U+FFFD, as in
/// Go.
pub(crate) fn unescape_into(out: &mut Vec<u8>, s: &[u8]) -> Option<()> {
    out.reserve(s.len());
    let mut i = 0;
    while i < s.len() {
        let Some(off) = memchr::memchr(b'\\', &s[i..]) else {
            out.extend_from_slice(&s[i..]);
            return Some(());
        };
        out.extend_from_slice(&s[i..i + off]);
        i += off + 1;
        let c = *s.get(i)?;
        i += 1;
        match c {
            b'"' | b'\\' | b'/' => out.push(c),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let hi = hex4(s.get(i..i + 4)?)?;
                i += 4;
                let ch = if (0xd800..0xdc00).contains(&hi) {
                    let lo = match s.get(i..i + 6) {
                        Some([b'\\', b'u', rest @ ..]) => hex4(rest).filter(|lo| (0xdc00..0xe000).contains(lo)),
                        _ => None,
                    };
                    match lo {
                        Some(lo) => {
                            i += 6;
                            char::from_u32(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00))
                        }
                        None => None,
                    }
                } else {
                    char::from_u32(hi)
                };
                let ch = ch.unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut b = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
            }
            _ => return None,
        }
    }
    Some(())
}

fn hex4(s: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in s.get(..4)? {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn esc(s: &[u8]) -> String {
        let mut v = Vec::new();
        escape_into(&mut v, s);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn matches_go_encoding_json() {
        // What dockerd's ffjsonWriteJSONBytesAsString produces.
        assert_eq!(esc(b"plain text 123"), "plain text 123");
        for n in 0..40 {
            assert_eq!(esc(&vec![b'a'; n]), "a".repeat(n));
            let mut v = vec![b'a'; n];
            v.push(b'<');
            assert_eq!(esc(&v), "a".repeat(n) + r"\u003c");
        }
        assert_eq!(
            esc(b"<a href=\"x\">&</a>"),
            r#"\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e"#
        );
        assert_eq!(esc(b"tab\there\r\n"), r"tab\u0009here\r\n");
        assert_eq!(
            esc(b"\x00\x01\x08\x0c\x1f\x7f"),
            "\\u0000\\u0001\\u0008\\u000c\\u001f\x7f"
        );
        assert_eq!(esc(b"back\\slash"), r"back\\slash");
        assert_eq!(esc("\u{2028}x\u{2029}".as_bytes()), r"\u2028x\u2029");
        assert_eq!(esc("é✓😀".as_bytes()), "é✓😀");
        assert_eq!(esc(b"a\xffb"), r"a\ufffdb");
        // Truncated 3-byte sequence then ASCII: one U+FFFD per byte, as Go.
        assert_eq!(esc(b"\xe2\x82A"), r"\ufffd\ufffdA");
        // Encoded surrogate: invalid in UTF-8.
        assert_eq!(esc(b"\xed\xa0\x80"), r"\ufffd\ufffd\ufffd");
        assert_eq!(esc(b"\xf4\x90\x80\x80"), r"\ufffd\ufffd\ufffd\ufffd");
    }

    #[test]
    fn unescapes_all_json_escapes() {
        let mut v = Vec::new();
        unescape_into(&mut v, br#"a\"\\\/\b\f\n\r\t\u003c\u00e9\ud83d\ude00\ud800x"#).unwrap();
        assert_eq!(v, "a\"\\/\x08\x0c\n\r\t<é😀\u{fffd}x".as_bytes());
        assert!(unescape_into(&mut Vec::new(), br"\q").is_none());
        assert!(unescape_into(&mut Vec::new(), br"\u12").is_none());
        assert!(unescape_into(&mut Vec::new(), br"x\").is_none());
    }

    proptest::proptest! {
        #[test]
        fn round_trip_is_go_lossy(s in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let mut e = Vec::new();
            escape_into(&mut e, &s);
            // serde_json agrees on what the escaped string means.
            let quoted = format!("\"{}\"", std::str::from_utf8(&e).unwrap());
            let via_serde: String = serde_json::from_str(&quoted).unwrap();
            let mut back = Vec::new();
            unescape_into(&mut back, &e).unwrap();
            proptest::prop_assert_eq!(&back, via_serde.as_bytes());
            proptest::prop_assert_eq!(back, go_lossy(&s));
        }
    }

    /// An independent, slow model of dockerd's escaping.
    fn reference(s: &[u8]) -> String {
        let mut out = String::new();
        for chunk in s.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            for _ in chunk.invalid() {
                out.push_str("\\ufffd");
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn matches_reference(
            s in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::num::u8::ANY,
                    proptest::sample::select(b"abc<>&\"\\\n\t\x1f\x7f\xe2\x80\xa8\xa9".to_vec()),
                ],
                0..100,
            )
        ) {
            let mut e = Vec::new();
            escape_into(&mut e, &s);
            proptest::prop_assert_eq!(String::from_utf8(e).unwrap(), reference(&s));
        }
    }

    /// Go's replacement rule: every byte of an invalid sequence becomes U+FFFD.
    pub(crate) fn go_lossy(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in s.utf8_chunks() {
            out.extend_from_slice(chunk.valid().as_bytes());
            for _ in chunk.invalid() {
                out.extend_from_slice("\u{fffd}".as_bytes());
            }
        }
        out
    }
}
