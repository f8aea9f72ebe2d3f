//! Rough throughput numbers for the log path (not a test).
//!
//! `cargo run --release -p pier-log --example log_bench -- [DIR] [MIB] [null|rotate|rotate-gz]`
//!
//! With `null` the writer writes to /dev/null (the encoding cost alone) and
//! nothing is read; `rotate` rotates at 20 MiB keeping 5 files, `rotate-gz`
//! compresses them too.
//!
//! Writes MIB (default 1024) of 1 KiB lines in 64 KiB chunks, as the shim
//! would after a pipe read, with timestamps spread over one hour; then reads
//! it all, the last 10 lines, and the last second. DIR defaults to a new
//! directory under the system temp dir; the log is removed afterwards.

use std::time::Instant;

use pier_log::{read, JsonFileWriter, ReadOptions, Stream, WriterConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = match args.get(1) {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("pier-log-bench-{}", std::process::id())),
    };
    let mib: u64 = args.get(2).map_or(Ok(1024), |s| s.parse())?;
    std::fs::create_dir_all(&dir)?;
    let mode = args.get(3).map_or("", String::as_str);
    let null = mode == "null";
    let rotate = mode.starts_with("rotate");
    let path = if null {
        std::path::PathBuf::from("/dev/null")
    } else {
        dir.join("bench-json.log")
    };
    if !null {
        let _ = std::fs::remove_file(&path);
    }

    let mut line = vec![b'x'; 1023];
    line.push(b'\n');
    let chunk: Vec<u8> = line.iter().copied().cycle().take(64 * 1024).collect();
    let chunks = mib * 16;
    let t0: i64 = 1_795_960_472_000_000_000;
    let step = 3_600_000_000_000 / chunks as i64;

    let mut w = JsonFileWriter::open(WriterConfig {
        path: path.clone(),
        max_size: rotate.then_some(20 << 20),
        max_file: if rotate { 5 } else { 1 },
        compress: mode == "rotate-gz",
    })?;
    let start = Instant::now();
    for i in 0..chunks {
        w.write(Stream::Stdout, &chunk, t0 + i as i64 * step)?;
    }
    w.flush()?;
    w.finish_pending_work();
    let secs = start.elapsed().as_secs_f64();
    if null {
        println!(
            "encode only: {} MiB of 1 KiB lines in {:.3} s = {:.0} MB/s in",
            mib,
            secs,
            (chunks * 65536) as f64 / secs / 1e6
        );
        return Ok(());
    }
    // All files of the log, rotated ones included.
    let mut file_len = 0;
    for e in std::fs::read_dir(&dir)? {
        let e = e?;
        if e.file_name().to_string_lossy().starts_with("bench-json.log") {
            file_len += e.metadata()?.len();
        }
    }
    println!(
        "write: {} MiB of 1 KiB lines in {:.3} s = {:.0} MB/s in ({:.0} MB/s kept on disk)",
        mib,
        secs,
        (chunks * 65536) as f64 / secs / 1e6,
        file_len as f64 / secs / 1e6
    );

    let start = Instant::now();
    let mut r = read(&path, &ReadOptions::default())?;
    let mut bytes = 0u64;
    let mut n = 0u64;
    while let Some(e) = r.next_ref()? {
        bytes += e.line.len() as u64;
        n += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "full read: {n} entries, {bytes} bytes in {:.3} s = {:.0} MB/s of log text ({:.0} MB/s of files)",
        secs,
        bytes as f64 / secs / 1e6,
        file_len as f64 / secs / 1e6
    );

    let start = Instant::now();
    let tail: Vec<_> = read(
        &path,
        &ReadOptions {
            tail: Some(10),
            ..ReadOptions::default()
        },
    )?
    .collect::<Result<_, _>>()?;
    println!(
        "tail 10: {} entries in {:.3} ms",
        tail.len(),
        start.elapsed().as_secs_f64() * 1e3
    );

    let last = t0 + (chunks as i64 - 1) * step;
    let start = Instant::now();
    let since: Vec<_> = read(
        &path,
        &ReadOptions {
            since: Some(last - 1_000_000_000),
            ..ReadOptions::default()
        },
    )?
    .collect::<Result<_, _>>()?;
    println!(
        "since last second: {} entries in {:.3} ms",
        since.len(),
        start.elapsed().as_secs_f64() * 1e3
    );

    std::fs::remove_file(&path)?;
    for n in 1..5 {
        for ext in ["", ".gz"] {
            let _ = std::fs::remove_file(dir.join(format!("bench-json.log.{n}{ext}")));
        }
    }
    if args.get(1).is_none() {
        std::fs::remove_dir(&dir)?;
    }
    Ok(())
}
