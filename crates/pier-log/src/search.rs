//! Finding where to start reading without reading everything: binary search
//! over byte offsets for `since`/`until` (timestamps sit at the end of each
//! line, fixed width), and a backward scan in blocks for `tail`.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::record;
use crate::Stream;

const BLOCK: usize = 64 * 1024;

/// Random read access to a log file's bytes (a file, or a decompressed copy).
pub(crate) trait Blob {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize>;

    /// Reads `[off, off + len)`, shorter only at the end of the data.
    fn read_range(&self, off: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        let mut got = 0;
        while got < len {
            let n = self.read_at(&mut buf[got..], off + got as u64)?;
            if n == 0 {
                break;
            }
            got += n;
        }
        buf.truncate(got);
        Ok(buf)
    }
}

impl Blob for File {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        FileExt::read_at(self, buf, off)
    }
}

impl Blob for [u8] {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        let Ok(off) = usize::try_from(off) else {
            return Ok(0);
        };
        let src = self.get(off..).unwrap_or_default();
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        Ok(n)
    }
}

/// Offset of the first line in `[lo, hi)` whose time is `>= t`, or the end
/// of the last complete line.
/// `lo` must be a line start. Timestamps are assumed non-decreasing; lines
/// without a readable time are skipped.
pub(crate) fn first_at_or_after<B: Blob + ?Sized>(b: &B, lo: u64, hi: u64, t: i64) -> io::Result<u64> {
    let mut lo = lo;
    let mut bound = hi;
    // Invariant: every line that ends before `lo` has a time < t.
    while bound.saturating_sub(lo) > BLOCK as u64 {
        let mid = lo + (bound - lo) / 2;
        let from = mid.saturating_sub(128).max(lo);
        let block = b.read_range(from, (BLOCK as u64).min(hi - from) as usize)?;
        let skip = (mid - from) as usize;
        let mut found = None;
        let mut at = skip;
        while let Some(off) = memchr::memchr(b'\n', &block[at..]) {
            let nl = at + off;
            if let Some(time) = record::time_at_line_end(&block, nl) {
                found = Some((from + nl as u64, time));
                break;
            }
            at = nl + 1;
        }
        match found {
            Some((nl, time)) if time < t => lo = nl + 1,
            _ => bound = mid,
        }
    }
    // Linear scan from `lo`: usually within one block.
    let mut pos = lo;
    while pos < hi {
        let block = b.read_range(pos, (BLOCK as u64).min(hi - pos) as usize)?;
        let mut start = 0;
        while let Some(off) = memchr::memchr(b'\n', &block[start..]) {
            let nl = start + off;
            if let Some(time) = record::time_at_line_end(&block, nl) {
                if time >= t {
                    return Ok(pos + start as u64);
                }
            }
            start = nl + 1;
        }
        if start == 0 {
            // One line longer than a block: read it whole.
            let end = scan_newline(b, pos, hi)?;
            // Only an unterminated line is left: start where it starts, so a
            // follower reads it once it is complete.
            let Some(nl) = end else { return Ok(pos) };
            let line = b.read_range(pos, (nl - pos + 1) as usize)?;
            if let Some(time) = record::time_at_line_end(&line, line.len() - 1) {
                if time >= t {
                    return Ok(pos);
                }
            }
            pos = nl + 1;
        } else {
            pos += start as u64;
        }
    }
    Ok(hi)
}

/// Offset just past the last newline in `[lo, hi)`, or `lo`: where the
/// unterminated line at the end (if any) starts.
pub(crate) fn end_of_complete<B: Blob + ?Sized>(b: &B, lo: u64, hi: u64) -> io::Result<u64> {
    let mut end = hi;
    while end > lo {
        let from = end.saturating_sub(BLOCK as u64).max(lo);
        let block = b.read_range(from, (end - from) as usize)?;
        if let Some(nl) = memchr::memrchr(b'\n', &block) {
            return Ok(from + nl as u64 + 1);
        }
        end = from;
    }
    Ok(lo)
}

fn scan_newline<B: Blob + ?Sized>(b: &B, mut pos: u64, hi: u64) -> io::Result<Option<u64>> {
    while pos < hi {
        let block = b.read_range(pos, (BLOCK as u64).min(hi - pos) as usize)?;
        if block.is_empty() {
            break;
        }
        if let Some(off) = memchr::memchr(b'\n', &block) {
            return Ok(Some(pos + off as u64));
        }
        pos += block.len() as u64;
    }
    Ok(None)
}

/// Result of looking for the last `n` lines in one file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Tail {
    /// They start at this offset.
    Found(u64),
    /// The file holds only this many lines; look in the older file too.
    Short(usize),
}

/// Where the last `n` (>= 1) logical lines of the selected streams in
/// `[lo, hi)` start, read backwards in blocks. A logical line is a run of
/// partial records of one stream ended by a complete one; an unterminated run
/// at the end counts as one. The run of the first counted line is followed
/// back while its partial records are adjacent. A torn end is ignored.
pub(crate) fn tail_start<B: Blob + ?Sized>(
    b: &B,
    lo: u64,
    hi: u64,
    n: usize,
    select: impl Fn(Stream) -> bool,
) -> io::Result<Tail> {
    let mut data: Vec<u8> = Vec::new();
    let mut data_start = hi;
    // `end`: offset just past the newline of the next line to look at.
    let mut end: Option<u64> = None;
    let mut count = 0;
    let mut seen = [false; 2];
    let mut chain: Option<(Stream, u64)> = None;
    loop {
        // The newline that ends the line before `end` (or the last one).
        let search_end = end.map_or(hi, |e| e - 1) - data_start;
        let rel = &data[..search_end as usize];
        let Some(prev_nl) = memchr::memrchr(b'\n', rel) else {
            if data_start > lo {
                let from = data_start.saturating_sub(BLOCK as u64).max(lo);
                let mut block = b.read_range(from, (data_start - from) as usize)?;
                // Lines past `end` are done with: keep one line, not the file.
                let keep = end.map_or(data.len(), |e| (e - data_start) as usize);
                block.extend_from_slice(&data[..keep]);
                data = block;
                data_start = from;
                continue;
            }
            // The first line of the range, if any.
            match end {
                Some(e) if e > lo => {
                    if let Some(found) = visit(
                        &data,
                        0,
                        (e - 1 - data_start) as usize,
                        data_start,
                        &select,
                        n,
                        &mut count,
                        &mut seen,
                        &mut chain,
                    ) {
                        return Ok(Tail::Found(found));
                    }
                }
                _ => {}
            }
            return Ok(match chain {
                Some((_, start)) => Tail::Found(start),
                None => Tail::Short(count),
            });
        };
        match end {
            None => {
                // Skip a torn tail: start from the last newline.
                end = Some(data_start + prev_nl as u64 + 1);
            }
            Some(e) => {
                let nl = (e - 1 - data_start) as usize;
                let s = prev_nl + 1;
                if let Some(found) = visit(&data, s, nl, data_start, &select, n, &mut count, &mut seen, &mut chain) {
                    return Ok(Tail::Found(found));
                }
                end = Some(data_start + s as u64);
            }
        }
    }
}

/// Looks at the line `data[s..nl]`; returns the answer once it is known.
#[allow(clippy::too_many_arguments)]
fn visit(
    data: &[u8],
    s: usize,
    nl: usize,
    data_start: u64,
    select: &impl Fn(Stream) -> bool,
    n: usize,
    count: &mut usize,
    seen: &mut [bool; 2],
    chain: &mut Option<(Stream, u64)>,
) -> Option<u64> {
    let rec = record::decode(&data[s..nl])?;
    if !select(rec.stream) {
        return None;
    }
    // A record whose text does not decode (a broken escape) is skipped by
    // the reader, so it is no line here either.
    rec.log.decode(&mut Vec::new())?;
    let partial = !rec.log.ends_with_newline();
    let start = data_start + s as u64;
    if let Some((stream, first)) = chain {
        if *stream == rec.stream && partial {
            *first = start;
            return None;
        }
        return Some(*first);
    }
    let idx = rec.stream as usize;
    if !partial || !seen[idx] {
        *count += 1;
    }
    seen[idx] = true;
    if *count == n {
        *chain = Some((rec.stream, start));
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use pier_time::format_fixed_into as format_into;

    fn log(lines: &[(Stream, &[u8], i64)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (s, l, t) in lines {
            let mut ts = [0u8; 40];
            let n = format_into(*t, &mut ts);
            record::encode(&mut out, *s, l, &[], &ts[..n]);
        }
        out
    }

    #[test]
    fn binary_search_finds_first_at_or_after() {
        let lines: Vec<(Stream, Vec<u8>, i64)> = (0..20_000)
            .map(|i| (Stream::Stdout, format!("line {i}\n").into_bytes(), 1_000 + (i / 3) * 10))
            .collect();
        let refs: Vec<(Stream, &[u8], i64)> = lines.iter().map(|(s, l, t)| (*s, l.as_slice(), *t)).collect();
        let data = log(&refs);
        let starts: Vec<u64> = std::iter::once(0)
            .chain(memchr::memchr_iter(b'\n', &data).map(|i| i as u64 + 1))
            .collect();
        for t in [0, 1_000, 1_005, 1_010, 30_000, 67_650, 67_660, 100_000] {
            let got = first_at_or_after(data.as_slice(), 0, data.len() as u64, t).unwrap();
            let mut torn = data.clone();
            torn.extend_from_slice(b"{\"log\":\"x");
            let got_torn = first_at_or_after(torn.as_slice(), 0, torn.len() as u64, t).unwrap();
            assert_eq!(got_torn, got, "torn t={t}");
            let want = refs
                .iter()
                .position(|l| l.2 >= t)
                .map_or(data.len() as u64, |i| starts[i]);
            assert_eq!(got, want, "t={t}");
        }
    }

    #[test]
    fn tail_counts_logical_lines() {
        let so = Stream::Stdout;
        let se = Stream::Stderr;
        let data = log(&[
            (so, b"a\n", 1),
            (se, b"e1\n", 2),
            (so, b"b1", 3),
            (so, b"b2", 3),
            (so, b"b3\n", 3),
            (so, b"c\n", 4),
            (so, b"d1", 5),
        ]);
        let len = data.len() as u64;
        let starts: Vec<u64> = std::iter::once(0)
            .chain(memchr::memchr_iter(b'\n', &data).map(|i| i as u64 + 1))
            .collect();
        let all = |_| true;
        assert_eq!(
            tail_start(data.as_slice(), 0, len, 1, all).unwrap(),
            Tail::Found(starts[6])
        );
        assert_eq!(
            tail_start(data.as_slice(), 0, len, 2, all).unwrap(),
            Tail::Found(starts[5])
        );
        assert_eq!(
            tail_start(data.as_slice(), 0, len, 3, all).unwrap(),
            Tail::Found(starts[2])
        );
        assert_eq!(
            tail_start(data.as_slice(), 0, len, 4, all).unwrap(),
            Tail::Found(starts[1])
        );
        assert_eq!(tail_start(data.as_slice(), 0, len, 5, all).unwrap(), Tail::Found(0));
        assert_eq!(tail_start(data.as_slice(), 0, len, 6, all).unwrap(), Tail::Short(5));
        let out = |s| s == Stream::Stdout;
        assert_eq!(tail_start(data.as_slice(), 0, len, 4, out).unwrap(), Tail::Found(0));
        let err = |s| s == Stream::Stderr;
        assert_eq!(
            tail_start(data.as_slice(), 0, len, 1, err).unwrap(),
            Tail::Found(starts[1])
        );
        // A torn end is skipped.
        let mut torn = data.clone();
        torn.extend_from_slice(b"{\"log\":\"zz");
        let tlen = torn.len() as u64;
        assert_eq!(
            tail_start(torn.as_slice(), 0, tlen, 1, all).unwrap(),
            Tail::Found(starts[6])
        );
        assert_eq!(tail_start(b"".as_slice(), 0, 0, 1, all).unwrap(), Tail::Short(0));
    }
}
