//! The time budget of one `pier run -d`: where the milliseconds go between
//! the CLI's exec and its exit, measured with strace (`-f -ttt -T`) on pierd
//! (attached by pid, so the shim and runtime processes it starts are
//! followed) and on the CLI, never guessed. strace slows every syscall, so
//! the phases are reported as shares of the traced total and scaled to the
//! untraced median of the same command.
//!
//! The trace parser and the phase arithmetic are pure (unit-tested on a
//! recorded excerpt); `measure` runs the programs.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cli::CliEngine;
use crate::proc::{self, Stdout};
use crate::report::num;
use crate::stats::Summary;

/// One syscall (or exit) line of an strace `-f -ttt -T` log.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub pid: i32,
    /// Seconds (strace's `-ttt`).
    pub at: f64,
    /// `execve`, `mount`, `accept4`, `read`, `write`, `+++` (exit), ...
    pub call: String,
    /// The rest of the line after the call's name.
    pub rest: String,
    /// `-T`'s duration, when the line has it.
    pub took: Option<f64>,
}

/// Parse strace output (`pid secs call(args) = ret <dur>`); lines that are
/// not syscalls (signals, resumptions) are skipped, exits kept as `+++`.
pub fn parse(text: &str) -> Vec<Event> {
    let mut out = Vec::new();
    for line in text.lines() {
        // strace pads the pid column (`6054  1796309621.5 ...`).
        let Some((pid, tail)) = line.trim_start().split_once(' ') else {
            continue;
        };
        let Some((at, rest)) = tail.trim_start().split_once(' ') else {
            continue;
        };
        let (Ok(pid), Ok(at)) = (pid.trim().parse::<i32>(), at.parse::<f64>()) else {
            continue;
        };
        if rest.starts_with("+++") {
            out.push(Event {
                pid,
                at,
                call: "+++".into(),
                rest: rest.to_string(),
                took: None,
            });
            continue;
        }
        if rest.starts_with("<...") || rest.starts_with("---") {
            continue;
        }
        let Some(open) = rest.find('(') else { continue };
        let call = rest[..open].to_string();
        if call.is_empty() || !call.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let took = rest
            .rsplit_once('<')
            .and_then(|(_, t)| t.strip_suffix('>'))
            .and_then(|t| t.parse::<f64>().ok());
        out.push(Event {
            pid,
            at,
            call,
            rest: rest[open..].to_string(),
            took,
        });
    }
    out
}

/// The milestones of one traced `run -d`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Milestones {
    pub cli_exec: f64,
    pub cli_connect: f64,
    pub cli_exit: f64,
    /// (arrival of the request line, its path) in order.
    pub requests: Vec<(f64, String)>,
    /// Times of response status lines written, in order.
    pub replies: Vec<f64>,
    pub shim_exec: Option<f64>,
    /// (exec, exit) of `runtime create`, `runtime start`, `runtime run`.
    pub runtime: BTreeMap<String, (f64, f64)>,
    pub mount_ms: f64,
    pub mounts: usize,
    pub fsync_ms: f64,
    pub fsyncs: usize,
}

fn exit_of(events: &[Event], pid: i32, after: f64) -> Option<f64> {
    events
        .iter()
        .find(|e| e.pid == pid && e.at >= after && e.call == "+++")
        .map(|e| e.at)
}

/// Milestones from the CLI's trace and pierd's (whose children it
/// followed).
pub fn milestones(cli: &[Event], daemon: &[Event]) -> Result<Milestones> {
    let mut m = Milestones::default();
    let first = cli
        .iter()
        .find(|e| e.call == "execve")
        .context("no execve in the CLI trace")?;
    m.cli_exec = first.at;
    m.cli_connect = cli
        .iter()
        .find(|e| e.call == "connect")
        .map(|e| e.at)
        .context("the CLI never connected")?;
    m.cli_exit = cli
        .iter()
        .rev()
        .find(|e| e.call == "+++" || e.call == "exit_group")
        .map(|e| e.at)
        .context("the CLI's exit is not in its trace")?;
    for e in daemon {
        let is_read = matches!(e.call.as_str(), "read" | "recvfrom" | "recvmsg");
        let is_write = matches!(e.call.as_str(), "write" | "writev" | "sendto" | "sendmsg");
        if is_read {
            for verb in ["\"GET ", "\"POST ", "\"DELETE ", "\"HEAD ", "\"PUT "] {
                if let Some(at) = e.rest.find(verb) {
                    // `METHOD /path` up to the request line's end or
                    // strace's truncation.
                    let line = &e.rest[at + 1..];
                    let end = line.find(['"', '\\', '?']).unwrap_or(line.len());
                    let path: String = line[..end]
                        .split(' ')
                        .take(2)
                        .collect::<Vec<_>>()
                        .join(" ")
                        .split('/')
                        .map(|part| {
                            let id = part.len() >= 12 && part.chars().all(|c| c.is_ascii_hexdigit());
                            if id {
                                "{id}"
                            } else {
                                part
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("/");
                    m.requests.push((e.at, path));
                }
            }
        } else if is_write && e.rest.contains("\"HTTP/1.1 ") {
            m.replies.push(e.at);
        } else if e.call == "execve" && e.rest.contains("pier-shim") && m.shim_exec.is_none() {
            m.shim_exec = Some(e.at);
        } else if e.call == "execve" {
            for verb in ["create", "start", "run"] {
                let runtime = e.rest.contains("runc\"") || e.rest.contains("crun\"");
                if runtime && e.rest.contains(&format!("\"{verb}\"")) && !m.runtime.contains_key(verb) {
                    if let Some(end) = exit_of(daemon, e.pid, e.at) {
                        m.runtime.insert(verb.to_string(), (e.at, end));
                    }
                }
            }
        } else if e.call == "mount" && e.rest.contains("overlay") {
            m.mounts += 1;
            m.mount_ms += e.took.unwrap_or(0.0) * 1e3;
        } else if matches!(e.call.as_str(), "fsync" | "fdatasync") {
            m.fsyncs += 1;
            m.fsync_ms += e.took.unwrap_or(0.0) * 1e3;
        }
    }
    if m.requests.is_empty() {
        bail!("no HTTP request seen in pierd's trace");
    }
    Ok(m)
}

/// The phases of one run, in ms of traced time, in order.
pub fn phases(m: &Milestones) -> Vec<(String, f64)> {
    let ms = |a: f64, b: f64| ((b - a) * 1e3).max(0.0);
    let mut out = vec![(
        "CLI start-up (exec to connect)".to_string(),
        ms(m.cli_exec, m.cli_connect),
    )];
    let first_request = m.requests.first().map_or(m.cli_connect, |r| r.0);
    out.push(("connect to first request read".into(), ms(m.cli_connect, first_request)));
    // Every request: its handling (read to reply); gaps between requests
    // are the CLI's.
    let mut last_reply = first_request;
    for (i, (at, path)) in m.requests.iter().enumerate() {
        if i > 0 {
            out.push((format!("CLI between replies, before {path}"), ms(last_reply, *at)));
        }
        let reply = m.replies.iter().copied().find(|r| *r >= *at).unwrap_or(*at);
        let label = format!("pierd handles {path}");
        let runtime_inside: Vec<(&String, &(f64, f64))> = m
            .runtime
            .iter()
            .filter(|(_, (s, e))| *s >= *at && *e <= reply)
            .collect();
        match (
            m.shim_exec.filter(|s| *s >= *at && *s <= reply),
            runtime_inside.is_empty(),
        ) {
            (Some(shim), false) => {
                out.push((format!("{label}: pierd until the shim's exec"), ms(*at, shim)));
                let mut cursor = shim;
                let mut sorted = runtime_inside.clone();
                sorted.sort_by(|a, b| a.1 .0.total_cmp(&b.1 .0));
                for (verb, (s, e)) in sorted {
                    out.push((format!("{label}: shim until `runtime {verb}`"), ms(cursor, *s)));
                    out.push((format!("{label}: `runtime {verb}` (exec to exit)"), ms(*s, *e)));
                    cursor = *e;
                }
                out.push((format!("{label}: after the runtime, to the reply"), ms(cursor, reply)));
            }
            _ => out.push((label, ms(*at, reply))),
        }
        last_reply = reply;
    }
    out.push(("last reply to CLI exit".into(), ms(last_reply, m.cli_exit)));
    out
}

/// The budget over several traced runs: per phase, the median share of the
/// traced total, scaled to `untraced_ms`.
pub fn render(runs: &[Vec<(String, f64)>], m: &[Milestones], untraced: &Summary) -> String {
    let mut order: Vec<String> = Vec::new();
    let mut shares: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut traced_totals = Vec::new();
    for run in runs {
        let total: f64 = run.iter().map(|(_, v)| v).sum();
        traced_totals.push(total);
        for (name, v) in run {
            if !order.contains(name) {
                order.push(name.clone());
            }
            shares
                .entry(name.clone())
                .or_default()
                .push(if total > 0.0 { v / total } else { 0.0 });
        }
    }
    let traced = Summary::of(&traced_totals).map_or(0.0, |s| s.median);
    let mut s = String::new();
    s.push_str("## Start time budget: `pier run -d IMAGE sleep`\n\n");
    s.push_str(&format!(
        "Untraced: median {} ms over {} runs. Traced with strace (`-f -ttt -T` on pierd and on the CLI): \
         median {} ms over {} runs; each phase is its median share of the traced run, scaled to the untraced median \
         (strace inflates syscall-heavy phases most, so read the shares as an upper bound for them).\n\n",
        num(untraced.median),
        untraced.count,
        num(traced),
        runs.len()
    ));
    s.push_str("| phase | share | ≈ ms untraced |\n|---|---:|---:|\n");
    for name in &order {
        let v = shares.get(name).and_then(|v| Summary::of(v)).map_or(0.0, |s| s.median);
        s.push_str(&format!(
            "| {name} | {:.1} % | {} |\n",
            v * 100.0,
            num(v * untraced.median)
        ));
    }
    if let Some(first) = m.first() {
        let requests: Vec<&str> = first.requests.iter().map(|(_, p)| p.as_str()).collect();
        s.push_str(&format!(
            "\nRequests the CLI made: {} ({}). Per run: {} overlay mount(s) ({} ms traced), {} fsync(s) ({} ms traced).\n",
            requests.len(),
            requests.join(", "),
            first.mounts,
            num(first.mount_ms),
            first.fsyncs,
            num(first.fsync_ms)
        ));
    }
    s
}

fn strace_available() -> bool {
    Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Trace `rounds` runs of `run -d` on `engine` (whose daemon is `pierd`).
pub fn measure(engine: &mut CliEngine, pierd: i32, work: &Path, rounds: usize) -> Result<String> {
    if !strace_available() {
        bail!("strace is not installed (apt-get install strace)");
    }
    let image = engine.image.clone();
    let run = |engine: &CliEngine, name: &str| -> Command {
        let mut c = engine.cmd();
        c.args(["run", "-d", "--name", name]);
        c.args(&engine.run_opts);
        c.args([image.as_str(), "sleep", "1000"]);
        c
    };
    // Untraced first (after a warm-up), so the traced rounds do not warm
    // anything for them.
    let mut names = Vec::new();
    let mut untraced = Vec::new();
    for i in 0..rounds + 2 {
        let name = format!("budget-u{i}");
        let t = Instant::now();
        proc::run(&mut run(engine, &name), Stdout::Null, Duration::from_secs(30))?.ok("run -d")?;
        if i >= 2 {
            untraced.push(t.elapsed().as_secs_f64() * 1e3);
        }
        names.push(name);
    }
    engine.remove(&names)?;
    names.clear();
    let mut runs = Vec::new();
    let mut all = Vec::new();
    for i in 0..rounds {
        let name = format!("budget-t{i}");
        let dlog = work.join(format!("budget-pierd-{i}.trace"));
        let clog = work.join(format!("budget-cli-{i}.trace"));
        let mut tracer = Command::new("strace")
            .args(["-f", "-ttt", "-T", "-q", "-s", "80", "-o"])
            .arg(&dlog)
            .args([
                "-e",
                "trace=execve,mount,fsync,fdatasync,read,recvfrom,write,writev,sendto",
                "-p",
                &pierd.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawn strace")?;
        // strace has attached once its log exists and pierd shows a tracer.
        let attached = proc::wait_until(Duration::from_secs(5), || {
            std::fs::read_to_string(format!("/proc/{pierd}/status"))
                .map(|s| {
                    s.lines()
                        .any(|l| l.starts_with("TracerPid:") && l.trim_end() != "TracerPid:\t0")
                })
                .unwrap_or(false)
        });
        if !attached {
            let _ = tracer.kill();
            let _ = tracer.wait();
            bail!("strace did not attach to pierd");
        }
        let mut c = Command::new("strace");
        c.args(["-f", "-ttt", "-T", "-q", "-e", "trace=execve,connect,exit_group", "-o"])
            .arg(&clog);
        let inner = run(engine, &name);
        c.arg(inner.get_program()).args(inner.get_args());
        for (k, v) in inner.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        let outcome = proc::run(&mut c, Stdout::Null, Duration::from_secs(60));
        names.push(name);
        // Stop the tracer by its pid (SIGINT detaches cleanly).
        if let Some(pid) = rustix::process::Pid::from_raw(tracer.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
        }
        let _ = tracer.wait();
        outcome?.ok("traced run -d")?;
        let cli = parse(&std::fs::read_to_string(&clog).context("read the CLI trace")?);
        let daemon = parse(&std::fs::read_to_string(&dlog).context("read pierd's trace")?);
        let m = milestones(&cli, &daemon)?;
        runs.push(phases(&m));
        all.push(m);
        if std::env::var_os("PIER_BENCH_KEEP_TRACES").is_some() {
            let keep = std::env::temp_dir();
            let _ = std::fs::copy(&clog, keep.join(format!("budget-cli-{i}.trace")));
            let _ = std::fs::copy(&dlog, keep.join(format!("budget-pierd-{i}.trace")));
        }
        let _ = std::fs::remove_file(&clog);
        let _ = std::fs::remove_file(&dlog);
    }
    engine.remove(&names)?;
    let summary = Summary::of(&untraced).context("no untraced run")?;
    Ok(render(&runs, &all, &summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLI: &str = r#"100   1000.000000 execve("/usr/bin/pier", ["pier", "run", "-d"], 0x7ffd /* 20 vars */) = 0 <0.000300>
100 1000.004000 connect(3, {sa_family=AF_UNIX, sun_path="/tmp/p.sock"}, 110) = 0 <0.000020>
100 1000.030000 exit_group(0)           = ?
100 1000.030100 +++ exited with 0 +++
"#;

    const PIERD: &str = r#"7 1000.005000 read(12, "POST /v1.50/containers/create HTTP/1.1\r\nHost"..., 8192) = 300 <0.000010>
7 1000.008000 fsync(14)                  = 0 <0.000500>
7 1000.009000 write(12, "HTTP/1.1 201 Created\r\ncontent-t"..., 180) = 180 <0.000010>
8 1000.010000 recvfrom(12, "POST /v1.50/containers/abc/start"..., 8192, 0, NULL, NULL) = 200 <0.000010>
8 1000.011000 mount("overlay", "/d/merged", "overlay", 0, "lowerdir=/a") = 0 <0.001500>
9 1000.014000 execve("/usr/bin/pier-shim", ["pier-shim", "--id", "abc"], 0x1 /* 3 vars */) = 0 <0.000200>
10 1000.016000 execve("/usr/sbin/runc", ["runc", "--root", "/r", "create", "--bundle", "/b", "abc"], 0x2 /* 3 vars */) = 0 <0.000300>
10 1000.020000 +++ exited with 0 +++
11 1000.021000 execve("/usr/sbin/runc", ["runc", "--root", "/r", "start", "abc"], 0x2 /* 3 vars */) = 0 <0.000300>
11 1000.024000 +++ exited with 0 +++
8 1000.025000 writev(12, [{iov_base="HTTP/1.1 204 No Content\r\n"..., iov_len=80}], 1) = 80 <0.000010>
8 1000.026000 <... read resumed>"x", 1) = 1 <0.000100>
"#;

    #[test]
    fn milestones_of_a_recorded_run() {
        let m = milestones(&parse(CLI), &parse(PIERD)).expect("milestones");
        assert_eq!(m.requests.len(), 2);
        assert_eq!(m.requests[0].1, "POST /v1.50/containers/create");
        assert_eq!(m.requests[1].1, "POST /v1.50/containers/abc/start");
        let id = r#"7 1.0 read(12, "POST /v1.50/containers/43ba735b2c50b973aa2a2b2e1"..., 8192) = 1 <0.1>"#;
        let one = milestones(&parse(CLI), &parse(id)).expect("milestones");
        assert_eq!(one.requests[0].1, "POST /v1.50/containers/{id}");
        assert_eq!(m.replies.len(), 2);
        assert_eq!(m.shim_exec, Some(1000.014));
        assert_eq!(m.runtime["create"], (1000.016, 1000.020));
        assert_eq!(m.runtime["start"], (1000.021, 1000.024));
        assert_eq!((m.mounts, m.fsyncs), (1, 1));
        assert!((m.mount_ms - 1.5).abs() < 1e-9);
    }

    #[test]
    fn phases_add_up_to_the_whole_run() {
        let m = milestones(&parse(CLI), &parse(PIERD)).expect("milestones");
        let p = phases(&m);
        let total: f64 = p.iter().map(|(_, v)| v).sum();
        assert!((total - 30.1).abs() < 1e-6, "{p:?}");
        let get = |needle: &str| {
            p.iter()
                .find(|(n, _)| n.contains(needle))
                .map(|(_, v)| *v)
                .unwrap_or(f64::NAN)
        };
        assert!((get("`runtime create` (exec") - 4.0).abs() < 1e-6);
        assert!((get("until the shim's exec") - 4.0).abs() < 1e-6);
        assert!((get("CLI start-up") - 4.0).abs() < 1e-6);
        let text = render(&[p], &[m], &Summary::single(15.0));
        assert!(
            text.contains("| CLI start-up (exec to connect) | 13.3 % | 1.99 |"),
            "{text}"
        );
        assert!(text.contains("Requests the CLI made: 2"));
    }
}
