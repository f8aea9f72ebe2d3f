//! Writer -> file -> reader round trips, positioning, torn lines, rotation.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use pier_log::{read, Follower, JsonFileWriter, LogEntry, ReadOptions, Stream, WriterConfig, MAX_RECORD_LEN};
use proptest::prelude::*;

const T0: i64 = 1_795_960_472_000_000_000;

fn cfg(dir: &Path) -> WriterConfig {
    WriterConfig {
        path: dir.join("c-json.log"),
        max_size: None,
        max_file: 1,
        compress: false,
    }
}

fn all(path: &Path, opts: &ReadOptions) -> Vec<LogEntry> {
    read(path, opts).unwrap().collect::<Result<Vec<_>, _>>().unwrap()
}

fn lines(entries: &[LogEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| String::from_utf8_lossy(&e.line).into_owned())
        .collect()
}

/// Go's replacement rule: every byte of an invalid sequence becomes U+FFFD.
fn go_lossy(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in s.utf8_chunks() {
        out.extend_from_slice(chunk.valid().as_bytes());
        for _ in chunk.invalid() {
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
    }
    out
}

#[test]
fn writes_dockers_exact_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = JsonFileWriter::open(cfg(dir.path())).unwrap();
    w.write(Stream::Stdout, b"hello <world> & \"you\"\tok\n", T0 + 123_456_789)
        .unwrap();
    w.write(Stream::Stderr, b"oops\x01\xff\n", T0 + 5).unwrap();
    let text = fs::read_to_string(dir.path().join("c-json.log")).unwrap();
    assert_eq!(
        text,
        concat!(
            r#"{"log":"hello \u003cworld\u003e \u0026 \"you\"\u0009ok\n","stream":"stdout","time":"2026-11-29T13:54:32.123456789Z"}"#,
            "\n",
            r#"{"log":"oops\u0001\ufffd\n","stream":"stderr","time":"2026-11-29T13:54:32.000000005Z"}"#,
            "\n"
        )
    );
    let e = all(&dir.path().join("c-json.log"), &ReadOptions::default());
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].line, b"hello <world> & \"you\"\tok\n");
    assert_eq!(e[0].time, T0 + 123_456_789);
    assert_eq!(e[1].stream, Stream::Stderr);
    assert_eq!(e[1].line, "oops\x01\u{fffd}\n".as_bytes());
}

#[test]
fn buffers_partial_lines_and_splits_long_ones() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(dir.path());
    let mut w = JsonFileWriter::open(c.clone()).unwrap();
    w.write(Stream::Stdout, b"par", T0).unwrap();
    w.write(Stream::Stderr, b"err line\n", T0 + 1).unwrap();
    assert_eq!(lines(&all(&c.path, &ReadOptions::default())), ["err line\n"]);
    w.write(Stream::Stdout, b"tial\nnext", T0 + 2).unwrap();
    let long = vec![b'x'; 2 * MAX_RECORD_LEN + 10];
    w.write(Stream::Stderr, &long, T0 + 3).unwrap();
    w.write(Stream::Stderr, b"\n", T0 + 4).unwrap();
    w.flush_partial(T0 + 5).unwrap();
    let e = all(&c.path, &ReadOptions::default());
    let summary: Vec<(Stream, usize, bool)> = e.iter().map(|e| (e.stream, e.line.len(), e.partial)).collect();
    assert_eq!(
        summary,
        [
            (Stream::Stderr, 9, false),
            (Stream::Stdout, 8, false),
            (Stream::Stderr, MAX_RECORD_LEN, true),
            (Stream::Stderr, MAX_RECORD_LEN, true),
            (Stream::Stderr, 11, false),
            (Stream::Stdout, 4, true),
        ]
    );
    assert_eq!(e[1].line, b"partial\n");
    assert_eq!(e[5].line, b"next");
}

fn write_chunks(path: &Path, chunks: &[(bool, Vec<u8>)]) {
    let mut w = JsonFileWriter::open(WriterConfig {
        path: path.to_path_buf(),
        max_size: None,
        max_file: 1,
        compress: false,
    })
    .unwrap();
    for (i, (err, data)) in chunks.iter().enumerate() {
        let s = if *err { Stream::Stderr } else { Stream::Stdout };
        w.write(s, data, T0 + i as i64).unwrap();
    }
    w.flush_partial(T0 + chunks.len() as i64).unwrap();
}

fn chunk_strategy() -> impl Strategy<Value = Vec<(bool, Vec<u8>)>> {
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(
            prop_oneof![Just(b'\n'), Just(b'a'), Just(0xe2), Just(0x82), Just(0xac)],
            0..64
        ),
        "[a-z\n<>&\u{2028}é😀]{0,40}".prop_map(String::into_bytes),
        (1usize..40_000).prop_map(|n| "é".repeat(n / 2).into_bytes()),
    ];
    prop::collection::vec((any::<bool>(), bytes), 0..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever goes in comes out, per stream, once the records are rejoined
    /// (invalid UTF-8 as U+FFFD); every record holds at most one line.
    #[test]
    fn round_trip(chunks in chunk_strategy()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        write_chunks(&path, &chunks);
        let entries = all(&path, &ReadOptions::default());
        for (flag, stream) in [(false, Stream::Stdout), (true, Stream::Stderr)] {
            let input: Vec<u8> = chunks.iter().filter(|c| c.0 == flag).flat_map(|c| c.1.clone()).collect();
            let got: Vec<u8> = entries.iter().filter(|e| e.stream == stream).flat_map(|e| e.line.clone()).collect();
            prop_assert_eq!(got, go_lossy(&input));
        }
        for e in &entries {
            prop_assert!(!e.line.is_empty());
            prop_assert_eq!(e.partial, !e.line.ends_with(b"\n"));
            let body = e.line.len() - usize::from(!e.partial);
            prop_assert!(!e.line[..body].contains(&b'\n'));
            prop_assert!(body <= MAX_RECORD_LEN * 3, "record too long: {}", body);
        }
    }
}

/// 30 000 lines, 3 per timestamp, stdout and stderr alternating, some long.
fn big_log(path: &Path) -> Vec<(Stream, i64, Vec<u8>)> {
    let mut w = JsonFileWriter::open(WriterConfig {
        path: path.to_path_buf(),
        max_size: None,
        max_file: 1,
        compress: false,
    })
    .unwrap();
    let mut want = Vec::new();
    for i in 0..30_000i64 {
        let s = if i % 5 == 0 { Stream::Stderr } else { Stream::Stdout };
        let t = T0 + (i / 3) * 1_000;
        let line = if i % 997 == 0 {
            format!("{i} {}\n", "y".repeat(40_000)).into_bytes()
        } else {
            format!("line {i} <&>\n").into_bytes()
        };
        w.write(s, &line, t).unwrap();
        want.push((s, t, line));
    }
    want
}

fn naive(want: &[(Stream, i64, Vec<u8>)], opts: &ReadOptions) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = want
        .iter()
        .filter(|(s, t, _)| {
            (if *s == Stream::Stdout { opts.stdout } else { opts.stderr })
                && opts.since.is_none_or(|x| *t >= x)
                && opts.until.is_none_or(|x| *t <= x)
        })
        .map(|w| w.2.clone())
        .collect();
    if let Some(n) = opts.tail {
        v.drain(..v.len().saturating_sub(n));
    }
    v
}

fn joined(entries: Vec<LogEntry>) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut open: [Option<Vec<u8>>; 2] = [None, None];
    for e in entries {
        let slot = &mut open[e.stream as usize];
        let mut line = slot.take().unwrap_or_default();
        line.extend_from_slice(&e.line);
        if e.partial {
            *slot = Some(line);
        } else {
            out.push(line);
        }
    }
    out
}

#[test]
fn tail_since_until_match_a_naive_filter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c-json.log");
    let want = big_log(&path);
    let mut cases = Vec::new();
    for tail in [None, Some(0), Some(1), Some(7), Some(2_000), Some(40_000)] {
        for (since, until) in [
            (None, None),
            (Some(T0 + 5_000_000), None),
            (None, Some(T0 + 3_000_000)),
            (Some(T0 + 1_000_500), Some(T0 + 1_002_000)),
            (Some(T0 + 99_000_000), None),
            (Some(T0 - 1), Some(T0)),
        ] {
            for (stdout, stderr) in [(true, true), (true, false), (false, true)] {
                cases.push(ReadOptions {
                    stdout,
                    stderr,
                    since,
                    until,
                    tail,
                });
            }
        }
    }
    for opts in cases {
        let got = joined(all(&path, &opts));
        let exp = naive(&want, &opts);
        assert_eq!(got.len(), exp.len(), "{opts:?}");
        assert!(got == exp, "{opts:?}");
    }
}

#[test]
fn torn_tail_is_skipped_then_completed() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(dir.path());
    let mut w = JsonFileWriter::open(c.clone()).unwrap();
    w.write(Stream::Stdout, b"one\ntwo\n", T0).unwrap();
    drop(w);
    let mut f = fs::OpenOptions::new().append(true).open(&c.path).unwrap();
    let rec = format!(
        "{{\"log\":\"three\\n\",\"stream\":\"stdout\",\"time\":\"{}\"}}\n",
        pier_time::format_fixed(T0 + 1)
    );
    let (a, b) = rec.as_bytes().split_at(20);
    f.write_all(a).unwrap();
    let mut r = read(&c.path, &ReadOptions::default()).unwrap();
    let got: Vec<LogEntry> = r.by_ref().map(Result::unwrap).collect();
    assert_eq!(lines(&got), ["one\n", "two\n"]);
    let tail = all(
        &c.path,
        &ReadOptions {
            tail: Some(1),
            ..ReadOptions::default()
        },
    );
    assert_eq!(lines(&tail), ["two\n"]);
    let mut follower = r.into_follower();
    assert!(follower.poll().unwrap().is_empty());
    // `tail 0` and a `since` past everything start before the torn line too.
    let mut from_tail = read(
        &c.path,
        &ReadOptions {
            tail: Some(0),
            ..ReadOptions::default()
        },
    )
    .unwrap()
    .into_follower();
    let mut from_since = read(
        &c.path,
        &ReadOptions {
            since: Some(T0 + 1),
            ..ReadOptions::default()
        },
    )
    .unwrap()
    .into_follower();
    assert!(from_tail.poll().unwrap().is_empty());
    assert!(from_since.poll().unwrap().is_empty());
    f.write_all(b).unwrap();
    assert_eq!(lines(&follower.poll().unwrap()), ["three\n"]);
    assert!(follower.poll().unwrap().is_empty());
    assert_eq!(lines(&from_tail.poll().unwrap()), ["three\n"]);
    assert_eq!(lines(&from_since.poll().unwrap()), ["three\n"]);
}

#[test]
fn writer_terminates_a_torn_record_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(dir.path());
    fs::write(&c.path, b"{\"log\":\"half").unwrap();
    let mut w = JsonFileWriter::open(c.clone()).unwrap();
    w.write(Stream::Stdout, b"after crash\n", T0).unwrap();
    assert_eq!(lines(&all(&c.path, &ReadOptions::default())), ["after crash\n"]);
    let f = Follower::from_offset(&c.path, 0, &ReadOptions::default());
    assert_eq!(lines(&f.unwrap().poll().unwrap()), ["after crash\n"]);
}

#[test]
fn write_error_is_counted_and_reported() {
    let mut w = JsonFileWriter::open(WriterConfig {
        path: PathBuf::from("/dev/full"),
        max_size: None,
        max_file: 1,
        compress: false,
    })
    .unwrap();
    assert!(w.write(Stream::Stdout, b"lost\n", T0).is_err());
    assert!(w.dropped_bytes() > 0);
    // Still usable (and still failing on this device).
    assert!(w.write(Stream::Stdout, b"lost too\n", T0).is_err());
}

#[test]
fn follower_sees_each_line_once_while_writing() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(dir.path());
    let mut w = JsonFileWriter::open(c.clone()).unwrap();
    let mut f = Follower::from_offset(&c.path, 0, &ReadOptions::default()).unwrap();
    let mut got = Vec::new();
    for i in 0..2_000 {
        w.write(Stream::Stdout, format!("{i}\n").as_bytes(), T0 + i).unwrap();
        if i % 7 == 0 {
            got.extend(f.poll().unwrap());
        }
    }
    got.extend(f.poll().unwrap());
    let exp: Vec<String> = (0..2_000).map(|i| format!("{i}\n")).collect();
    assert_eq!(lines(&got), exp);
}

#[test]
fn trimmed_follower_keeps_unfinished_lines_and_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let c = WriterConfig {
        path: dir.path().join("c-json.log"),
        max_size: Some(4096),
        max_file: 3,
        compress: false,
    };
    let mut w = JsonFileWriter::open(c.clone()).unwrap();
    let mut f = Follower::from_offset(&c.path, 0, &ReadOptions::default()).unwrap();
    let mut got = Vec::new();
    for i in 0..600 {
        w.write(Stream::Stdout, format!("line {i:04}\n").as_bytes(), T0 + i)
            .unwrap();
        if i % 5 == 0 {
            got.extend(f.poll().unwrap());
            f.trim();
        }
    }
    got.extend(f.poll().unwrap());
    let exp: Vec<String> = (0..600).map(|i| format!("line {i:04}\n")).collect();
    assert_eq!(lines(&got), exp);

    // Half a record on disk when trimmed: completed by the next write.
    let mut file = fs::OpenOptions::new().append(true).open(&c.path).unwrap();
    file.write_all(br#"{"log":"torn-"#).unwrap();
    assert!(f.poll().unwrap().is_empty());
    f.trim();
    file.write_all(b"free\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-29T13:54:32Z\"}\n")
        .unwrap();
    assert_eq!(lines(&f.poll().unwrap()), ["torn-free\n"]);
}

fn rotation(compress: bool, max_file: u32) {
    let dir = tempfile::tempdir().unwrap();
    let c = WriterConfig {
        path: dir.path().join("c-json.log"),
        max_size: Some(4096),
        max_file,
        compress,
    };
    let mut w = JsonFileWriter::open(c.clone()).unwrap();
    let mut f = Follower::from_offset(&c.path, 0, &ReadOptions::default()).unwrap();
    let mut followed = Vec::new();
    let n = 3_000;
    for i in 0..n {
        let s = if i % 3 == 0 { Stream::Stderr } else { Stream::Stdout };
        w.write(s, format!("line {i:05}\n").as_bytes(), T0 + i).unwrap();
        // About one rotation per 50 lines; poll more often than that.
        if i % 20 == 0 {
            followed.extend(f.poll().unwrap());
        }
    }
    followed.extend(f.poll().unwrap());
    let exp: Vec<String> = (0..n).map(|i| format!("line {i:05}\n")).collect();
    assert_eq!(lines(&followed), exp, "follower, compress={compress}");
    w.finish_pending_work();
    assert!(!w.has_pending_work());

    let live = fs::metadata(&c.path).unwrap().len();
    assert!(live <= 4096 + 200, "live file {live} bytes");
    let names: Vec<String> = {
        let mut v: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let ext = if compress { ".gz" } else { "" };
    let mut exp_names = vec!["c-json.log".to_string()];
    for k in 1..max_file.max(1) {
        exp_names.push(format!("c-json.log.{k}{ext}"));
    }
    exp_names.sort();
    assert_eq!(names, exp_names);

    // A full read returns a suffix of what was written, in order.
    let e = all(&c.path, &ReadOptions::default());
    let got = lines(&e);
    assert!(!got.is_empty());
    assert_eq!(got[..], exp[n as usize - got.len()..]);
    // Tail across files.
    let t = all(
        &c.path,
        &ReadOptions {
            tail: Some(150),
            ..ReadOptions::default()
        },
    );
    assert_eq!(lines(&t)[..], exp[n as usize - 150.min(got.len())..]);
    // Since across files, stderr only.
    let since = T0 + n - 120;
    let opts = ReadOptions {
        stdout: false,
        since: Some(since),
        ..ReadOptions::default()
    };
    let s = all(&c.path, &opts);
    let exp_s: Vec<String> = got
        .iter()
        .filter(|l| {
            let i: i64 = l[5..10].parse().unwrap();
            i >= n - 120 && i % 3 == 0
        })
        .cloned()
        .collect();
    assert_eq!(lines(&s), exp_s);
    // Until in an older file.
    let oldest = e[0].time;
    let u = all(
        &c.path,
        &ReadOptions {
            until: Some(oldest + 10),
            ..ReadOptions::default()
        },
    );
    assert_eq!(lines(&u)[..], got[..11]);
    let ut = all(
        &c.path,
        &ReadOptions {
            until: Some(oldest + 10),
            tail: Some(2),
            ..ReadOptions::default()
        },
    );
    assert_eq!(lines(&ut)[..], got[9..11]);
}

#[test]
fn rotates_plain() {
    rotation(false, 4);
}

#[test]
fn rotates_compressed() {
    rotation(true, 3);
}

#[test]
fn rotates_with_one_file() {
    rotation(false, 1);
}

#[test]
fn follower_crosses_several_rotations_between_polls() {
    let dir = tempfile::tempdir().unwrap();
    for compress in [false, true] {
        let c = WriterConfig {
            path: dir.path().join(format!("{compress}-json.log")),
            max_size: Some(2048),
            max_file: 6,
            compress,
        };
        let mut w = JsonFileWriter::open(c.clone()).unwrap();
        let mut f = Follower::from_offset(&c.path, 0, &ReadOptions::default()).unwrap();
        let mut got = Vec::new();
        for i in 0..2_000 {
            w.write(Stream::Stdout, format!("line {i:05}\n").as_bytes(), T0 + i)
                .unwrap();
            // ~4 rotations between polls (24 lines a file), 5 rotated kept.
            if i % 100 == 0 {
                got.extend(f.poll().unwrap());
            }
        }
        got.extend(f.poll().unwrap());
        let exp: Vec<String> = (0..2_000).map(|i| format!("line {i:05}\n")).collect();
        assert_eq!(lines(&got), exp, "compress={compress}");
    }
}

#[test]
fn reader_offset_continues_into_follower() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(dir.path());
    let mut w = JsonFileWriter::open(c.clone()).unwrap();
    w.write(Stream::Stdout, b"a\nb\n", T0).unwrap();
    let mut r = read(&c.path, &ReadOptions::default()).unwrap();
    assert_eq!(r.by_ref().count(), 2);
    let off = r.offset();
    assert!(r.next_batch(1 << 20).unwrap().is_empty());
    let mut r2 = read(&c.path, &ReadOptions::default()).unwrap();
    assert_eq!(lines(&r2.next_batch(1).unwrap()), ["a\n"]);
    assert_eq!(lines(&r2.next_batch(1 << 20).unwrap()), ["b\n"]);
    assert_eq!(off, fs::metadata(&c.path).unwrap().len());
    w.write(Stream::Stdout, b"c\n", T0 + 1).unwrap();
    let mut f = Follower::from_offset(&c.path, off, &ReadOptions::default()).unwrap();
    assert_eq!(lines(&f.poll().unwrap()), ["c\n"]);
    // until stops a follower.
    let mut f = Follower::from_offset(
        &c.path,
        0,
        &ReadOptions {
            until: Some(T0),
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(lines(&f.poll().unwrap()), ["a\n", "b\n"]);
    assert!(f.is_done());
}

#[test]
fn marker_records_bytes_lost_to_write_errors() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(st.success(), "mkfifo failed");
    // O_RDWR on a FIFO does not block; it keeps a reader present.
    let rdwr = || fs::OpenOptions::new().read(true).write(true).open(&fifo).unwrap();
    let reader = rdwr();
    let mut w = JsonFileWriter::open(WriterConfig {
        path: fifo.clone(),
        max_size: None,
        max_file: 1,
        compress: false,
    })
    .unwrap();
    drop(reader);
    // No reader: EPIPE (SIGPIPE is ignored by the Rust runtime).
    assert!(w.write(Stream::Stdout, b"lost\n", T0).is_err());
    let lost = w.dropped_bytes();
    assert!(lost > 0);
    let mut reader = rdwr();
    w.write(Stream::Stdout, b"back\n", T0 + 1).unwrap();
    assert_eq!(w.dropped_bytes(), 0);
    let mut buf = vec![0u8; 65536];
    let n = reader.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    let recs: Vec<&str> = text.lines().collect();
    assert_eq!(recs.len(), 2, "{text}");
    assert!(
        recs[0].contains(&format!("{lost} bytes")) && recs[0].contains("\"stderr\""),
        "{text}"
    );
    assert!(recs[1].starts_with("{\"log\":\"back\\n\""), "{text}");
    // A flush with nothing new writes the marker alone.
    drop(reader);
    assert!(w.write(Stream::Stderr, b"lost again\n", T0 + 2).is_err());
    let lost = w.dropped_bytes();
    let mut reader = rdwr();
    w.flush().unwrap();
    let n = reader.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains(&format!("{lost} bytes")), "{text}");
}

#[test]
fn compression_runs_in_slices() {
    let dir = tempfile::tempdir().unwrap();
    let c = WriterConfig {
        path: dir.path().join("c-json.log"),
        max_size: Some(4 << 20),
        max_file: 3,
        compress: true,
    };
    let mut w = JsonFileWriter::open(c.clone()).unwrap();
    let line = [b'z'; 1023];
    let mut chunk = Vec::new();
    for _ in 0..64 {
        chunk.extend_from_slice(&line);
        chunk.push(b'\n');
    }
    // Just past one rotation: the 4 MiB file is compressed over many calls.
    let mut i = 0;
    while !w.has_pending_work() {
        w.write(Stream::Stdout, &chunk, T0 + i).unwrap();
        i += 1;
    }
    assert!(dir.path().join("c-json.log.1").exists());
    let mut steps = 0;
    while w.do_pending_work() {
        steps += 1;
    }
    assert!(steps > 4, "{steps} steps");
    assert!(!dir.path().join("c-json.log.1").exists());
    assert!(!dir.path().join("c-json.log.1.gz.tmp").exists());
    let e = all(&c.path, &ReadOptions::default());
    assert_eq!(e.len() as i64, i * 64);
    let t = all(
        &c.path,
        &ReadOptions {
            tail: Some(100),
            ..ReadOptions::default()
        },
    );
    assert_eq!(t.len(), 100);
}

/// A writer thread rotating fast while a follower polls: every line once.
#[test]
fn follower_keeps_up_with_a_concurrent_rotating_writer() {
    for compress in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let c = WriterConfig {
            path: dir.path().join("c-json.log"),
            max_size: Some(8 * 1024),
            // Enough files that none is deleted before it is followed.
            max_file: 1_000,
            compress,
        };
        let n = 20_000;
        let mut w = JsonFileWriter::open(c.clone()).unwrap();
        let writer = std::thread::spawn(move || {
            for i in 0..n {
                w.write(Stream::Stdout, format!("line {i:05}\n").as_bytes(), T0 + i)
                    .unwrap();
            }
            w.finish_pending_work();
        });
        let mut f = Follower::from_offset(&c.path, 0, &ReadOptions::default()).unwrap();
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while got.len() < n as usize && std::time::Instant::now() < deadline {
            let batch = f.poll().unwrap();
            if batch.is_empty() {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            got.extend(batch);
        }
        writer.join().unwrap();
        got.extend(f.poll().unwrap());
        let exp: Vec<String> = (0..n).map(|i| format!("line {i:05}\n")).collect();
        assert_eq!(lines(&got).len(), exp.len(), "compress={compress}");
        assert!(lines(&got) == exp, "compress={compress}");
        // And a reader started afterwards sees them all across the files.
        assert_eq!(lines(&all(&c.path, &ReadOptions::default())), exp);
    }
}

#[test]
fn attrs_are_written_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = JsonFileWriter::open(cfg(dir.path())).unwrap();
    w.write(Stream::Stdout, b"before\n", T0).unwrap();
    w.set_attrs(&[("env".into(), "prod".into()), ("app".into(), "web 1".into())]);
    w.write(Stream::Stdout, b"after\n", T0 + 1).unwrap();
    let text = fs::read_to_string(dir.path().join("c-json.log")).unwrap();
    assert!(
        text.contains(r#"{"log":"after\n","stream":"stdout","attrs":{"app":"web 1","env":"prod"},"time":"#),
        "{text}"
    );
    let e = all(&dir.path().join("c-json.log"), &ReadOptions::default());
    assert_eq!(lines(&e), ["before\n", "after\n"]);
    assert!(e[0].attrs.is_empty());
    let mut d = Vec::new();
    pier_log::details_into(&mut d, &e[1].attrs);
    assert_eq!(d, b"app=web+1,env=prod");
    let t = read(
        &dir.path().join("c-json.log"),
        &ReadOptions {
            tail: Some(1),
            ..ReadOptions::default()
        },
    )
    .unwrap()
    .collect::<Result<Vec<_>, _>>()
    .unwrap();
    assert_eq!(lines(&t), ["after\n"]);
}

#[test]
fn cri_format_is_written_and_read_like_json_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(dir.path());
    c.max_size = Some(2048);
    c.max_file = 50;
    c.compress = true;
    let mut w = JsonFileWriter::open(c.clone()).unwrap();
    w.set_format(pier_log::LogFormat::Cri);
    let long = "y".repeat(MAX_RECORD_LEN + 10);
    w.write(Stream::Stdout, long.as_bytes(), T0).unwrap();
    w.write(Stream::Stdout, b"\n", T0).unwrap();
    let mut want = vec![
        long[..MAX_RECORD_LEN].to_string(),
        format!("{}\n", &long[MAX_RECORD_LEN..]),
    ];
    for i in 0..500i64 {
        let line = format!("line {i}\n");
        let stream = if i % 3 == 0 { Stream::Stderr } else { Stream::Stdout };
        w.write(stream, line.as_bytes(), T0 + i * 1_000_000).unwrap();
        want.push(line);
    }
    w.write(Stream::Stdout, b"no newline", T0 + 600_000_000).unwrap();
    w.flush_partial(T0 + 600_000_000).unwrap();
    w.finish_pending_work();
    let text = fs::read_to_string(&c.path).unwrap();
    assert!(
        text.ends_with(" stdout P no newline\n"),
        "{}",
        &text[text.len() - 100..]
    );
    let mut want_all = want.clone();
    want_all.push("no newline".to_string());
    let got = lines(&all(&c.path, &ReadOptions::default()));
    assert!(got == want_all, "{} lines, want {}", got.len(), want_all.len());
    let tail = all(
        &c.path,
        &ReadOptions {
            tail: Some(3),
            ..ReadOptions::default()
        },
    );
    assert_eq!(lines(&tail), want_all[want_all.len() - 3..]);
    let since = all(
        &c.path,
        &ReadOptions {
            since: Some(T0 + 450 * 1_000_000),
            stderr: false,
            ..ReadOptions::default()
        },
    );
    assert_eq!(lines(&since)[0], "line 451\n");
    assert!(fs::read_dir(dir.path())
        .unwrap()
        .any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".gz")));
}

/// Found by the `log_reader` fuzz target: `tail` counted a record whose
/// `log` has a broken escape, which the reader then skips, so `tail 1`
/// printed nothing instead of the last good line.
#[test]
fn tail_does_not_count_records_the_reader_skips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c-json.log");
    let data = concat!(
        r#"{"log":"hello\n","stream":"stdout","time":"2022-11-29T13:54:32.123456789Z"}"#,
        "\n",
        r#"{"log":"bad \ud$83d escape\n","stream":"stderr","time":"2022-11-29T13:54:33Z"}"#,
        "\n",
    );
    fs::write(&path, data).expect("write");
    let opts = ReadOptions {
        tail: Some(1),
        ..ReadOptions::default()
    };
    assert_eq!(lines(&all(&path, &opts)), ["hello\n"]);
    assert_eq!(lines(&all(&path, &ReadOptions::default())), ["hello\n"]);
}
