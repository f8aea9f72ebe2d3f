//! Networking scenarios (Pier only: the other engines run without a
//! bridge here): start time on the default bridge against `--network
//! none`, and bulk throughput through a published port (the DNAT path)
//! against the same transfer over loopback without DNAT.

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::bench::{interleave, ms, rows, Engine, Plan, Slot};
use crate::cli::CliEngine;
use crate::report::{Better, EngineLabel, Role, Table};
use crate::stats::Summary;

fn pier_only(l: &EngineLabel) -> bool {
    l.role == Role::Pier
}

/// `run_opts` with the `--network` option replaced by `mode`.
fn with_network<T>(c: &mut CliEngine, mode: &str, f: impl FnOnce(&mut CliEngine) -> Result<T>) -> Result<T> {
    let saved = c.run_opts.clone();
    let mut opts = Vec::new();
    let mut it = saved.iter();
    while let Some(o) = it.next() {
        if o == "--network" {
            it.next();
            continue;
        }
        opts.push(o.clone());
    }
    opts.extend(["--network".to_string(), mode.to_string()]);
    c.run_opts = opts;
    let r = f(c);
    c.run_opts = saved;
    r
}

/// `run -d` on the default bridge and with `--network none`.
pub fn start(slots: &mut [Slot], plan: &Plan) -> Vec<Table> {
    eprintln!("pier-bench: network: start on the bridge");
    let mut c = interleave(slots, 2, plan.rounds, true, pier_only, |e, round| {
        let Engine::Cli(c) = e else {
            bail!("no bridge for the raw runtime");
        };
        let mut one = |mode: &str| -> Result<f64> {
            let name = format!("pb-n{}-{round}", if mode == "none" { 0 } else { 1 });
            let t = with_network(c, mode, |c| c.run_detached(&name, &["sleep", "1000"]))?.elapsed;
            c.remove(&[name])?;
            Ok(ms(t))
        };
        let (bridge, none) = if round % 2 == 0 {
            let b = one("bridge")?;
            (b, one("none")?)
        } else {
            let n = one("none")?;
            (one("bridge")?, n)
        };
        Ok((vec![Ok(bridge), Ok(none)], String::new()))
    });
    for i in 0..slots.len() {
        if let (Some(b), Some(n)) = (Summary::of(&c.samples[0][i]), Summary::of(&c.samples[1][i])) {
            c.detail[i] = format!(
                "--network none {:.1} ms; bridge - none {:+.1} ms; bridge/none {:.3}×",
                n.median,
                b.median - n.median,
                b.median / n.median
            );
        }
    }
    vec![Table {
        title: "Start on the default bridge: `run -d --network bridge IMAGE sleep 1000`".into(),
        how: format!(
            "As the `run -d` row, each round also starting the same container with `--network none` (order alternating); detail: the median without a network, the difference and the ratio (issue 15's target: at most ~15 ms more). {} rounds.",
            plan.rounds
        ),
        unit: "ms".into(),
        better: Better::Lower,
        target: None,
        rows: rows(slots, &c, 0, pier_only),
    }]
}

/// A free TCP port on 127.0.0.1 (bound and released).
fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("bind a probe port")?;
    Ok(l.local_addr().context("probe port")?.port())
}

/// Read `bytes` from 127.0.0.1:`port` (retrying the connect until the
/// container listens): MB/s.
fn pull(port: u16, bytes: u64) -> Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut s = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => {
                // A DNAT to a socket not yet listening is reset at once.
                let mut probe = [0u8; 1];
                s.set_read_timeout(Some(Duration::from_secs(30))).ok();
                match (&s).read(&mut probe) {
                    Ok(1) => break (s, 1u64),
                    _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                    _ => bail!("no data from port {port}"),
                }
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e).context(format!("connect 127.0.0.1:{port}")),
        }
    };
    let start = Instant::now();
    let mut buf = vec![0u8; 1 << 20];
    let mut got = s.1;
    while got < bytes {
        let n = s.0.read(&mut buf).context("read")?;
        if n == 0 {
            bail!("eof after {got} of {bytes} bytes");
        }
        got += n as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(got as f64 / secs / 1e6)
}

/// `-p 127.0.0.1:P:9000` against `--network host` (loopback, no DNAT):
/// a container writes zeros into `nc -l`, the host reads them.
pub fn throughput(slots: &mut [Slot], plan: &Plan) -> Vec<Table> {
    eprintln!("pier-bench: network: -p throughput");
    let bytes = plan.attach_bytes;
    let rounds = plan.log_rounds;
    let mut c = interleave(slots, 2, rounds, true, pier_only, |e, round| {
        let Engine::Cli(c) = e else {
            bail!("no ports for the raw runtime");
        };
        let mut one = |dnat: bool| -> Result<f64> {
            let port = free_port()?;
            let name = format!("pb-p{}-{round}", u8::from(dnat));
            let (mode, listen) = if dnat { ("bridge", 9000) } else { ("host", port) };
            let script = format!("head -c {} /dev/zero | nc -l -p {listen}", bytes + 1);
            let publish = format!("127.0.0.1:{port}:9000");
            let opts: Vec<&str> = if dnat { vec!["-p", &publish] } else { Vec::new() };
            with_network(c, mode, |c| c.run_detached_with(&name, &opts, &["sh", "-c", &script]))?;
            let rate = pull(port, bytes);
            c.remove(&[name])?;
            rate
        };
        let (dnat, plain) = if round % 2 == 0 {
            let d = one(true)?;
            (d, one(false)?)
        } else {
            let p = one(false)?;
            (one(true)?, p)
        };
        Ok((vec![Ok(dnat), Ok(plain)], String::new()))
    });
    for i in 0..slots.len() {
        if let (Some(d), Some(p)) = (Summary::of(&c.samples[0][i]), Summary::of(&c.samples[1][i])) {
            c.detail[i] = format!(
                "loopback without DNAT (--network host) {:.0} MB/s; DNAT/loopback {:.3}×",
                p.median,
                d.median / p.median
            );
        }
    }
    vec![Table {
        title: format!("Published port throughput: {} MiB from `nc -l` through `-p 127.0.0.1:P:9000`", bytes >> 20),
        how: format!(
            "The host reads the container's zeros through the DNAT to its bridge address; each round also the same over loopback with `--network host` (order alternating). {rounds} rounds."
        ),
        unit: "MB/s".into(),
        better: Better::Higher,
        target: None,
        rows: rows(slots, &c, 0, pier_only),
    }]
}
