//! Scale: many idle containers (`ps`, a filtered `ps -a`, the daemon's
//! RSS, the shims' PSS), containers started by parallel clients against
//! the same number of parallel raw `run -d` loops, and a pierd restart
//! with every container running (how soon the API answers again).
//!
//! Peers (docker, podman) take about a third of a second per start here,
//! so their idle set is capped (`ScalePlan::peer_cap`) and the tables say
//! so; the restart applies to pierd only (dockerd runs here without
//! live-restore, so its restart would stop the containers; podman has no
//! daemon).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::bench::{interleave, ms, rows, Engine, Slot};
use crate::cli::{CliEngine, STEP};
use crate::mem;
use crate::proc::{self, Daemon, Stdout};
use crate::report::{Better, Cell, EngineLabel, Role, Row, Table, Target};
use crate::stats::Summary;
use crate::usage;

/// Sizes of the scale scenario.
#[derive(Debug, Clone, Copy)]
pub struct ScalePlan {
    /// Idle containers Pier runs (and restarts with).
    pub containers: usize,
    /// At most this many idle containers for docker and podman.
    pub peer_cap: usize,
    /// Parallel clients, each starting `per_client` containers in a loop.
    pub clients: usize,
    pub per_client: usize,
    /// Recorded rounds of `ps` and of the filtered `ps -a`.
    pub ps_rounds: usize,
    /// Recorded rounds of the parallel start.
    pub start_rounds: usize,
    /// pierd restarts measured.
    pub restarts: usize,
}

impl ScalePlan {
    pub fn new(quick: bool, containers: Option<usize>) -> Self {
        ScalePlan {
            containers: containers.unwrap_or(if quick { 10 } else { 500 }).max(1),
            peer_cap: 100,
            clients: 10,
            per_client: if quick { 1 } else { 10 },
            ps_rounds: if quick { 3 } else { 10 },
            start_rounds: if quick { 1 } else { 3 },
            restarts: if quick { 1 } else { 3 },
        }
    }

    /// How many idle containers the engine `role` runs.
    pub fn count_for(&self, role: Role) -> usize {
        if role == Role::Pier {
            self.containers
        } else {
            self.containers.min(self.peer_cap)
        }
    }
}

/// The label every idle container carries: 50 groups, so the filter
/// selects about one container in fifty.
const GROUPS: usize = 50;
const GROUP_KEY: &str = "pb.group";
const FILTER_GROUP: usize = 7;

fn group_label(i: usize) -> String {
    format!("{GROUP_KEY}={}", i % GROUPS)
}

/// How many of `count` containers carry the filtered group's label.
pub fn in_filter_group(count: usize) -> usize {
    (0..count).filter(|i| i % GROUPS == FILTER_GROUP).count()
}

/// Non-empty lines of a CLI's output.
fn lines(out: &[u8]) -> usize {
    out.split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .count()
}

pub fn scale(slots: &mut [Slot], plan: &ScalePlan) -> Vec<Table> {
    let mut tables = vec![parallel_start(slots, plan)];
    tables.extend(idle(slots, plan));
    tables
}

/// `clients` threads, each running its commands one after the other; the
/// wall time until the last one is done.
fn run_clients(clients: Vec<Vec<Command>>) -> Result<Duration> {
    let started = Instant::now();
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = clients
            .into_iter()
            .map(|cmds| {
                s.spawn(move || -> Result<()> {
                    for mut c in cmds {
                        let what = proc::describe(&c);
                        proc::run(&mut c, Stdout::Null, STEP)?.ok(&what)?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow!("client thread panicked"))))
            .collect()
    });
    let elapsed = started.elapsed();
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(elapsed)
}

/// Pier's variant rows share Pier's daemon: its scale is Pier's.
fn not_variant(l: &EngineLabel) -> bool {
    l.role != Role::Variant
}

/// The idle set and the restart are engines' (not raw runtimes').
fn engine(l: &EngineLabel) -> bool {
    matches!(l.role, Role::Peer | Role::Pier)
}

fn parallel_start(slots: &mut [Slot], plan: &ScalePlan) -> Table {
    let (k, per) = (plan.clients, plan.per_client);
    eprintln!("pier-bench: scale: {} containers by {k} parallel clients", k * per);
    let c = interleave(slots, 1, plan.start_rounds, true, not_variant, |e, round| {
        let ids: Vec<Vec<String>> = (0..k)
            .map(|c| (0..per).map(|j| format!("pb-par{round}-{c}-{j}")).collect())
            .collect();
        let args = ["sleep", "100000"];
        let before = usage::machine_ticks();
        let after;
        let t = match e {
            Engine::Raw(r) => {
                let mut clients = Vec::new();
                for client in &ids {
                    let cmds = client
                        .iter()
                        .map(|id| r.run_detached_command(id, &args))
                        .collect::<Result<Vec<_>>>()?;
                    clients.push(cmds);
                }
                let t = run_clients(clients);
                after = usage::machine_ticks();
                for id in ids.iter().flatten() {
                    let _ = r.remove(id);
                }
                t?
            }
            Engine::Cli(c) => {
                let clients = ids
                    .iter()
                    .map(|client| {
                        client
                            .iter()
                            .map(|name| c.run_detached_command(name, &[], &args))
                            .collect()
                    })
                    .collect();
                let t = run_clients(clients);
                after = usage::machine_ticks();
                let all: Vec<String> = ids.iter().flatten().cloned().collect();
                if t.is_ok() && round == 0 {
                    let o = c.verb(&["ps", "-q"], Stdout::Capture, STEP)?;
                    if lines(&o.stdout) != all.len() {
                        bail!(
                            "{} of {} containers running after the parallel starts",
                            lines(&o.stdout),
                            all.len()
                        );
                    }
                }
                c.remove(&all)?;
                t?
            }
        };
        let detail = match (before, after) {
            (Some(b), Some(a)) => usage::machine_use(b, a, k * per, "container"),
            _ => String::new(),
        };
        Ok((vec![Ok(ms(t))], detail))
    });
    Table {
        title: format!("Scale: {} containers started by {k} parallel clients", k * per),
        how: format!(
            "{k} client loops at once, each running {per} `run -d IMAGE sleep` one after the other; wall time until the last returns (the floor: the same loops of the raw runtime's `run -d`). Removed between rounds. {} round{}; detail: the whole machine's CPU time (`/proc/stat`) over the last round's starts, per container, and how busy the CPUs were.",
            plan.start_rounds,
            if plan.start_rounds == 1 { "" } else { "s" }
        ),
        unit: "ms".into(),
        better: Better::Lower,
        target: Some(Target::FloorRatio(1.2)),
        rows: rows(slots, &c, 0, not_variant),
    }
}

/// One engine's idle-set results, or why there are none.
#[derive(Default)]
struct Idle {
    ps: Vec<f64>,
    filtered: Vec<f64>,
    daemon_rss: Option<(f64, String)>,
    shim_pss: Option<(Summary, String)>,
    /// pierd only: restart to the first `/_ping` answer, and to the first
    /// `ps` listing every container.
    ping: Vec<f64>,
    first_ps: Vec<f64>,
}

fn idle(slots: &mut [Slot], plan: &ScalePlan) -> Vec<Table> {
    let n = slots.len();
    let mut results: Vec<Result<Idle, String>> = (0..n).map(|_| Err("n/a".to_string())).collect();
    for (i, slot) in slots.iter_mut().enumerate() {
        let c = match &mut slot.engine {
            Ok(Engine::Cli(c)) if engine(&slot.label) => c,
            Ok(_) => continue,
            Err(why) => {
                results[i] = Err(why.clone());
                continue;
            }
        };
        let count = plan.count_for(slot.label.role);
        eprintln!("pier-bench: scale: {count} idle containers on {}", slot.label.name);
        let mut names = Vec::new();
        let r = idle_one(c, slot.label.role, count, plan, &mut names);
        if let Err(e) = &r {
            eprintln!("pier-bench: scale: {}: {e:#}", slot.label.name);
        }
        results[i] = r.map_err(|e| format!("failed: {}", format!("{e:#}").chars().take(200).collect::<String>()));
        if let Err(e) = c.remove(&names) {
            eprintln!("pier-bench: scale: {}: remove: {e:#}", slot.label.name);
        }
    }
    let counts = |l: &EngineLabel| {
        let count = plan.count_for(l.role);
        if l.role != Role::Pier && count < plan.containers {
            format!("{count} containers (capped)")
        } else {
            format!("{count} containers")
        }
    };
    let cap_note = if plan.containers > plan.peer_cap {
        format!(
            " docker and podman run at most {} containers (a start costs them about a third of a second here).",
            plan.peer_cap
        )
    } else {
        String::new()
    };
    let n_c = plan.containers;
    let mk =
        |title: String, how: String, unit: &str, target: Target, pick: &dyn Fn(&Idle) -> Option<(Summary, String)>| {
            Table {
                title,
                how,
                unit: unit.into(),
                better: Better::Lower,
                target: Some(target),
                rows: slots
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| engine(&s.label) && (s.engine.is_ok() || s.label.role == Role::Pier))
                    .map(|(i, s)| {
                        let (cell, detail) = match &results[i] {
                            Ok(idle) => match pick(idle) {
                                Some((sum, d)) => (Cell::Value(sum), d),
                                None => (Cell::Missing("n/a".into()), String::new()),
                            },
                            Err(why) => (Cell::Missing(why.clone()), String::new()),
                        };
                        let detail = if detail.is_empty() {
                            counts(&s.label)
                        } else {
                            format!("{}; {detail}", counts(&s.label))
                        };
                        Row {
                            engine: s.label.clone(),
                            cell,
                            detail,
                        }
                    })
                    .collect(),
            }
        };
    let ps_rounds = plan.ps_rounds;
    vec![
        mk(
            format!("Scale: `ps` with {n_c} idle containers"),
            format!("Wall time of the CLI listing every running container (`sleep`, each with a label). {ps_rounds} rounds.{cap_note}"),
            "ms",
            Target::AtMost(30.0),
            &|x| Summary::of(&x.ps).map(|s| (s, String::new())),
        ),
        mk(
            format!("Scale: `ps -a --filter label={GROUP_KEY}={FILTER_GROUP}` with {n_c} idle containers"),
            format!("Wall time of the CLI; the label selects one container in {GROUPS}. {ps_rounds} rounds, alternating with `ps`.{cap_note}"),
            "ms",
            Target::AtMost(30.0),
            &|x| Summary::of(&x.filtered).map(|s| (s, String::new())),
        ),
        mk(
            format!("Scale: daemon RSS with {n_c} idle containers"),
            format!("RSS of the engine's daemons (docker: dockerd + containerd) after the `ps` rounds.{cap_note}"),
            "MiB",
            Target::AtMost(20.0),
            &|x| x.daemon_rss.clone().map(|(v, d)| (Summary::single(v), d)),
        ),
        mk(
            format!("Scale: idle shim PSS with {n_c} containers"),
            format!("Median over the shims (each container's init's parent, from smaps_rollup), range min–max; detail: the mean.{cap_note}"),
            "MiB",
            Target::AtMost(0.4),
            &|x| x.shim_pss.clone(),
        ),
        mk(
            format!("Scale: pierd restart with {n_c} running containers"),
            format!(
                "pierd stopped (SIGTERM; the shims and containers keep running) and started again on the same roots: time from spawning it to the first `GET /_ping` answered on its socket; detail: to the first `ps` that lists every container. {} restarts. pierd only: dockerd here runs without live-restore (a restart stops its containers) and podman has no daemon.",
                plan.restarts
            ),
            "ms",
            Target::AtMost(1000.0),
            &|x| {
                Summary::of(&x.ping).map(|s| {
                    let d = Summary::of(&x.first_ps)
                        .map(|p| format!("first full `ps` {:.0} ms", p.median))
                        .unwrap_or_default();
                    (s, d)
                })
            },
        ),
    ]
}

/// Starts `count` idle containers on one engine (their names in `names`,
/// which the caller removes) and measures the set.
fn idle_one(c: &mut CliEngine, role: Role, count: usize, plan: &ScalePlan, names: &mut Vec<String>) -> Result<Idle> {
    let started = Instant::now();
    for i in 0..count {
        if proc::interrupted() {
            bail!("interrupted");
        }
        let name = format!("pb-idle-{i}");
        names.push(name.clone());
        c.run_detached_with(&name, &["--label", &group_label(i)], &["sleep", "100000"])?;
    }
    eprintln!(
        "pier-bench: scale:   {count} started in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Let the shims settle into idle.
    std::thread::sleep(Duration::from_secs(2));
    let mut out = Idle::default();
    let filter = format!("label={GROUP_KEY}={FILTER_GROUP}");
    let want_filtered = in_filter_group(count);
    for round in 0..=plan.ps_rounds {
        let o = c.verb(&["ps"], Stdout::Capture, STEP)?;
        // A header line, then one line per container.
        if lines(&o.stdout) != count + 1 {
            bail!("ps listed {} lines, not {}", lines(&o.stdout), count + 1);
        }
        let f = c.verb(&["ps", "-a", "--filter", &filter], Stdout::Capture, STEP)?;
        if lines(&f.stdout) != want_filtered + 1 {
            bail!(
                "ps --filter {filter} listed {} lines, not {}",
                lines(&f.stdout),
                want_filtered + 1
            );
        }
        if round > 0 {
            out.ps.push(ms(o.elapsed));
            out.filtered.push(ms(f.elapsed));
        }
    }
    let mut total = 0.0;
    let mut parts = Vec::new();
    for (dname, pid) in &c.daemon_pids {
        let m = mem::of_pid(*pid).ok_or_else(|| anyhow!("read smaps_rollup of {dname}"))?;
        let mib = m.rss_kib as f64 / 1024.0;
        total += mib;
        parts.push(format!("{dname} {mib:.1}"));
    }
    if !parts.is_empty() {
        out.daemon_rss = Some((total, parts.join(" + ")));
    }
    out.shim_pss = Some(shim_pss(c, names)?);
    if role == Role::Pier {
        for k in 0..plan.restarts {
            if proc::interrupted() {
                bail!("interrupted");
            }
            let (ping, first_ps) = restart_pierd(c, count, k)?;
            eprintln!(
                "pier-bench: scale:   pierd restart {k}: /_ping after {ping:.1} ms, full ps after {first_ps:.1} ms"
            );
            out.ping.push(ping);
            out.first_ps.push(first_ps);
        }
    }
    Ok(out)
}

fn shim_pss(c: &CliEngine, names: &[String]) -> Result<(Summary, String)> {
    let (mems, what) = crate::bench::shim_mems(c, names)?;
    let pss: Vec<f64> = mems.iter().map(|m| m.pss_kib as f64 / 1024.0).collect();
    let sum = Summary::of(&pss).ok_or_else(|| anyhow!("no shims"))?;
    let mean = pss.iter().sum::<f64>() / pss.len() as f64;
    Ok((sum, format!("mean {mean:.3}; {what}")))
}

/// The unix socket of a `-H unix://PATH` in a CLI's global options.
pub fn socket_of(global: &[std::ffi::OsString]) -> Option<PathBuf> {
    let i = global.iter().position(|a| a == "-H")?;
    let host = global.get(i + 1)?.to_str()?;
    host.strip_prefix("unix://").map(PathBuf::from)
}

/// The fields of a NUL-separated /proc file (cmdline, environ).
pub fn nul_fields(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .filter(|f| !f.is_empty())
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

/// Whether an HTTP response starts with a 200 status line.
pub fn is_http_ok(head: &[u8]) -> bool {
    let line = head.split(|b| *b == b'\n').next().unwrap_or(&[]);
    let text = String::from_utf8_lossy(line);
    let mut parts = text.split_whitespace();
    parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) && parts.next() == Some("200")
}

/// One `GET /_ping` on `sock`; whether it was answered 200.
fn ping(sock: &Path) -> bool {
    let Ok(mut s) = UnixStream::connect(sock) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /_ping HTTP/1.1\r\nHost: pier\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 64];
    let mut got = 0;
    while got < 16 {
        match s.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => got += k,
        }
    }
    is_http_ok(&buf[..got])
}

/// Stops pierd and starts it again with the same command line and PATH;
/// returns the milliseconds from the spawn to the first answered
/// `/_ping` and to the first `ps` listing `count` containers.
fn restart_pierd(c: &mut CliEngine, count: usize, k: usize) -> Result<(f64, f64)> {
    let sock = socket_of(&c.global).ok_or_else(|| anyhow!("no unix socket in the CLI options"))?;
    let slot = c
        .daemon_pids
        .iter()
        .position(|(n, _)| n == "pierd")
        .ok_or_else(|| anyhow!("no pierd pid"))?;
    let pid = c.daemon_pids[slot].1;
    let argv = nul_fields(&std::fs::read(format!("/proc/{pid}/cmdline")).context("read pierd's cmdline")?);
    let env = nul_fields(&std::fs::read(format!("/proc/{pid}/environ")).context("read pierd's environ")?);
    let path = env
        .iter()
        .find_map(|v| v.strip_prefix("PATH="))
        .unwrap_or("/usr/sbin:/usr/bin:/sbin:/bin");
    let (program, args) = argv.split_first().ok_or_else(|| anyhow!("empty pierd cmdline"))?;
    let guard = c.guard.as_mut().ok_or_else(|| anyhow!("no guard"))?;
    let d = guard
        .daemons
        .iter_mut()
        .position(|d| d.pid() as i32 == pid)
        .ok_or_else(|| anyhow!("pierd {pid} is not the bench's"))?;
    guard.daemons[d].stop(Duration::from_secs(20));
    let log = guard.root.join(format!("pierd-restart-{k}.log"));
    let mut cmd = Command::new(program);
    cmd.args(args).env("PATH", path);
    let started = Instant::now();
    let daemon = Daemon::spawn("pierd", &mut cmd, &log)?;
    let new_pid = daemon.pid() as i32;
    guard.daemons[d] = daemon;
    c.daemon_pids[slot].1 = new_pid;
    let deadline = started + Duration::from_secs(60);
    let pinged = loop {
        if ping(&sock) {
            break started.elapsed();
        }
        if Instant::now() > deadline || proc::interrupted() {
            bail!("pierd did not answer /_ping within 60 s after a restart");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let listed = loop {
        let o = c.verb(&["ps", "-q"], Stdout::Capture, STEP)?;
        if lines(&o.stdout) == count {
            break started.elapsed();
        }
        if Instant::now() > deadline || proc::interrupted() {
            bail!(
                "ps listed {} of {count} containers 60 s after a restart",
                lines(&o.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok((ms(pinged), ms(listed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_capped() {
        let p = ScalePlan::new(false, None);
        assert_eq!(p.containers, 500);
        assert_eq!(p.count_for(Role::Pier), 500);
        assert_eq!(p.count_for(Role::Peer), 100);
        let q = ScalePlan::new(true, None);
        assert_eq!((q.containers, q.clients * q.per_client), (10, 10));
        assert_eq!(q.count_for(Role::Peer), 10);
        assert_eq!(ScalePlan::new(true, Some(0)).containers, 1);
    }

    #[test]
    fn filter_group_counts() {
        assert_eq!(in_filter_group(500), 10);
        assert_eq!(in_filter_group(100), 2);
        assert_eq!(in_filter_group(10), 1);
        assert_eq!(in_filter_group(7), 0);
        assert_eq!(group_label(57), "pb.group=7");
    }

    #[test]
    fn output_lines() {
        assert_eq!(lines(b"CONTAINER ID\nabc\n\n  \ndef\n"), 3);
        assert_eq!(lines(b""), 0);
    }

    #[test]
    fn socket_and_proc_fields() {
        let g: Vec<std::ffi::OsString> = vec!["-H".into(), "unix:///tmp/x/pier.sock".into()];
        assert_eq!(socket_of(&g), Some(PathBuf::from("/tmp/x/pier.sock")));
        assert_eq!(socket_of(&["-H".into(), "tcp://1.2.3.4:2375".into()]), None);
        assert_eq!(socket_of(&[]), None);
        assert_eq!(
            nul_fields(b"pierd\0--data-root\0/d\0"),
            vec!["pierd", "--data-root", "/d"]
        );
    }

    #[test]
    fn http_status() {
        assert!(is_http_ok(b"HTTP/1.1 200 OK\r\nApi-Version: 1.50\r\n"));
        assert!(!is_http_ok(b"HTTP/1.1 500 Internal"));
        assert!(!is_http_ok(b""));
        assert!(!is_http_ok(b"garbage 200"));
    }
}
