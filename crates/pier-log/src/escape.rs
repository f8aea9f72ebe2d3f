//! JSON string escaping exactly as dockerd's json-file writer does it (Go's
//! `encoding/json` rules: `<`, `>`, `&`, U+2028, U+2029 escaped, invalid UTF-8
//! as U+FFFD; like dockerd, and unlike Go >= 1.22, only `\n` and `\r` get a
//! short escape: tab is `\u0009`), and the reverse.

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Bytes scanned per step of the fast path (two SSE2 registers).
const BLOCK: usize = 32;

/// Bytes that leave the plain-copy fast path: controls, `"`, `\`, `<`, `>`,
/// `&`, and every non-ASCII byte (UTF-8 validation, U+2028/U+2029).
#[inline(always)]
fn is_special(b: u8) -> bool {
    lane(b) != 0
}

/// 1 when `b` is special, else 0, without branches: the loop in
/// [`any_special`] compiles to byte compares on whole vector registers.
/// `"` (0x22) and `&` (0x26) differ in one bit, as do `<` and `>`, so five
/// punctuation bytes cost three compares.
#[inline(always)]
fn lane(b: u8) -> u8 {
    // Signed: controls and every byte >= 0x80 are below 0x20.
    let control_or_high = u8::from((b as i8) < 0x20);
    let quote_or_amp = u8::from((b | 0x04) == b'&');
    let angle = u8::from((b | 0x02) == b'>');
    let backslash = u8::from(b == b'\\');
    control_or_high | quote_or_amp | angle | backslash
}

/// Whether any byte of `block` is special. An or-reduction without an
/// early exit over a slice is what LLVM's loop vectoriser turns into SSE2
/// compares (over a `[u8; N]` it unrolls first and the SLP vectoriser
/// makes shuffles of it); the SWAR scan this replaced ran at half the
/// speed (bench/NOTES.md).
#[inline(always)]
fn any_special(block: &[u8]) -> bool {
    let mut acc = 0u8;
    for &b in block {
        acc |= lane(b);
    }
    acc != 0
}

/// Index of the first special byte at or after `from`.
#[inline]
fn next_special(s: &[u8], from: usize) -> Option<usize> {
    let rest = s.get(from..)?;
    let mut base = from;
    // Whole blocks only: the loop in `any_special` then has a fixed trip
    // count and no remainder handling per block (~1.3x in the micro bench).
    let mut blocks = rest.chunks_exact(BLOCK);
    for block in &mut blocks {
        if any_special(block) {
            return block.iter().position(|&b| is_special(b)).map(|p| base + p);
        }
        base += BLOCK;
    }
    let tail = blocks.remainder();
    tail.iter().position(|&b| is_special(b)).map(|p| base + p)
}

/// Appends `s` escaped (without the surrounding quotes) to `out`. Plain
/// ASCII is skipped a block at a time and copied in runs.
pub(crate) fn escape_into(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 16);
    let mut start = 0;
    let mut i = 0;
    while let Some(at) = next_special(s, i) {
        out.extend_from_slice(&s[start..at]);
        let b = s[at];
        if b < 0x80 {
            match b {
                b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                _ => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]]),
            }
            i = at + 1;
        } else {
            i = at + escape_non_ascii(out, &s[at..]);
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
    fn special_set_is_exactly_the_escape_set() {
        for b in 0..=255u8 {
            let want = !(0x20..0x80).contains(&b) || matches!(b, b'"' | b'\\' | b'<' | b'>' | b'&');
            assert_eq!(is_special(b), want, "byte {b:#04x}");
        }
    }

    #[test]
    fn every_byte_at_every_position_across_blocks() {
        // Each byte value alone in plain text, at every offset of three
        // blocks and a tail, so the vector scan, its remainder and the
        // block boundaries all meet it.
        for len in [1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 3 * BLOCK + 7] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut s = vec![b'x'; len];
                    s[at] = b;
                    assert_eq!(esc(&s), reference(&s), "byte {b:#04x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn multibyte_sequences_straddle_blocks() {
        let seqs: [&[u8]; 6] = [
            "\u{2028}".as_bytes(),
            "\u{2029}".as_bytes(),
            "é".as_bytes(),
            "😀".as_bytes(),
            b"\xe2\x80",
            b"\xf0\x9f\x98",
        ];
        for seq in seqs {
            for at in 0..2 * BLOCK + 3 {
                let mut s = vec![b'y'; at];
                s.extend_from_slice(seq);
                s.extend_from_slice(&[b'z'; BLOCK]);
                assert_eq!(esc(&s), reference(&s), "{seq:?} at {at}");
                // Also cut right after the sequence (the input's last bytes).
                s.truncate(at + seq.len());
                assert_eq!(esc(&s), reference(&s), "{seq:?} at the end, {at}");
            }
        }
    }

    #[test]
    fn runs_of_specials_across_blocks() {
        for len in 0..3 * BLOCK {
            for b in [b'"', b'\n', 0x00, 0xff, b'<'] {
                let s = vec![b; len];
                assert_eq!(esc(&s), reference(&s), "{len} x {b:#04x}");
            }
        }
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
