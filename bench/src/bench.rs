//! The metrics: each phase runs every engine round by round (the order
//! rotates each round; round 0 is an unrecorded warm-up that also detects a
//! missing feature) and turns the samples into report tables.

use std::collections::BTreeSet;
use std::fs;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context, Result};

use crate::cli::CliEngine;
use crate::mem::{self, Mem};
use crate::proc::{self, Stdout};
use crate::raw::RawRuntime;
use crate::report::{Better, Cell, EngineLabel, Role, Row, Table, Target};
use crate::stats::{gb_per_s, Summary};

pub enum Engine {
    Raw(RawRuntime),
    Cli(CliEngine),
}

/// An engine in the comparison, or why it is not.
pub struct Slot {
    pub label: EngineLabel,
    pub engine: Result<Engine, String>,
}

/// Sizes and round counts.
#[derive(Debug, Clone)]
pub struct Plan {
    pub rounds: usize,
    pub log_rounds: usize,
    pub log_bytes: u64,
    pub attach_bytes: u64,
    pub mem_counts: Vec<usize>,
    /// Seconds the `stats` cost is measured over.
    pub stats_secs: u64,
}

/// The pause between the log burst and the final marker line, so that
/// `logs --since <exit - SINCE_BACK_S>` selects only the marker even when an
/// engine's `wait` reports the exit late (podman polls).
const LOG_PAUSE_S: f64 = 3.0;
const SINCE_BACK_S: u64 = 2;

/// A shell command writing `bytes` (whole MiB) of 1 KiB lines as fast as
/// busybox can: `cat` of the rootfs's 1 MiB line file, repeated. (busybox
/// `yes LINE | head -c N` manages only ~150 MB/s here, so it would be the
/// bound; `cat` into a pipe does several GB/s.)
pub fn generator(bytes: u64) -> String {
    let n = (bytes >> 20).max(1);
    let mut s = String::from("cat");
    for _ in 0..n {
        s.push(' ');
        s.push_str(crate::rootfs::LINES);
    }
    s
}

/// The generator as the report describes it.
fn generator_text(bytes: u64) -> String {
    format!(
        "cat {} {} times (a 1 MiB file of 1 KiB lines)",
        crate::rootfs::LINES,
        (bytes >> 20).max(1)
    )
}

fn io_timeout(bytes: u64) -> Duration {
    // No engine here is slower than 10 MB/s; anything slower is a hang.
    Duration::from_secs(120 + bytes / 10_000_000)
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

const MIB: f64 = 1024.0 * 1024.0;

/// What one engine produced in one round: one result per series.
pub(crate) type RoundResult = Result<(Vec<Result<f64, String>>, String)>;

/// Per series, per slot: the samples and the first failure.
pub(crate) struct Collected {
    pub(crate) samples: Vec<Vec<Vec<f64>>>,
    pub(crate) missing: Vec<Vec<Option<String>>>,
    pub(crate) detail: Vec<String>,
}

fn short(e: &anyhow::Error) -> String {
    format!("{e:#}").chars().take(200).collect()
}

/// Runs `f` for every applicable slot, `rounds` recorded rounds after one
/// warm-up, rotating the order each round.
pub(crate) fn interleave<F>(
    slots: &mut [Slot],
    series: usize,
    rounds: usize,
    later: bool,
    applies: impl Fn(&EngineLabel) -> bool,
    mut f: F,
) -> Collected
where
    F: FnMut(&mut Engine, usize) -> RoundResult,
{
    let n = slots.len();
    let mut c = Collected {
        samples: vec![vec![Vec::new(); n]; series],
        missing: vec![vec![None; n]; series],
        detail: vec![String::new(); n],
    };
    for (i, s) in slots.iter().enumerate() {
        let why = match &s.engine {
            Err(why) => Some(why.clone()),
            Ok(_) if !applies(&s.label) => Some("n/a".to_string()),
            Ok(_) => None,
        };
        if let Some(why) = why {
            for m in &mut c.missing {
                m[i] = Some(why.clone());
            }
        }
    }
    for round in 0..=rounds {
        if proc::interrupted() {
            break;
        }
        for k in 0..n {
            let i = (k + round) % n;
            if c.missing.iter().all(|m| m[i].is_some()) {
                continue;
            }
            let Ok(engine) = slots[i].engine.as_mut() else {
                continue;
            };
            let prefix = if round == 0 && later && slots[i].label.role == Role::Pier {
                "not built yet"
            } else {
                "failed"
            };
            match f(engine, round) {
                Ok((values, detail)) => {
                    c.detail[i] = detail;
                    for (sx, v) in values.into_iter().enumerate().take(series) {
                        if c.missing[sx][i].is_some() {
                            continue;
                        }
                        match v {
                            Ok(x) if round > 0 => c.samples[sx][i].push(x),
                            Ok(_) => {}
                            Err(why) => c.missing[sx][i] = Some(format!("{prefix}: {why}")),
                        }
                    }
                }
                Err(e) => {
                    eprintln!("pier-bench: {}: {}", slots[i].label.name, short(&e));
                    for m in &mut c.missing {
                        if m[i].is_none() {
                            m[i] = Some(format!("{prefix}: {}", short(&e)));
                        }
                    }
                }
            }
        }
        eprintln!("pier-bench:   round {round}/{rounds} done");
    }
    c
}

pub(crate) fn rows(slots: &[Slot], c: &Collected, series: usize, applies: impl Fn(&EngineLabel) -> bool) -> Vec<Row> {
    slots
        .iter()
        .enumerate()
        .filter(|(_, s)| applies(&s.label) && shown(s))
        .map(|(i, s)| {
            let cell = match (&c.missing[series][i], Summary::of(&c.samples[series][i])) {
                (Some(why), _) => Cell::Missing(why.clone()),
                (None, Some(sum)) => Cell::Value(sum),
                (None, None) => Cell::Missing("no samples (interrupted?)".into()),
            };
            Row {
                engine: s.label.clone(),
                cell,
                detail: c.detail[i].clone(),
            }
        })
        .collect()
}

/// Engines that could not run at all are listed once, under "Skipped
/// engines", instead of in every table; Pier's rows always stay.
fn shown(s: &Slot) -> bool {
    s.engine.is_ok() || s.label.role == Role::Pier
}

fn all(_: &EngineLabel) -> bool {
    true
}

/// The floors and engines: the reference row (Pier's spec on the raw
/// runtime) and Pier's variants are about start-up, not the data path.
fn no_reference(l: &EngineLabel) -> bool {
    matches!(l.role, Role::Floor | Role::Peer | Role::Pier)
}

pub(crate) fn engines_only(l: &EngineLabel) -> bool {
    matches!(l.role, Role::Peer | Role::Pier)
}

/// `run -d IMAGE sleep 1000` and `run --rm IMAGE true`.
pub fn start(slots: &mut [Slot], plan: &Plan) -> Vec<Table> {
    eprintln!("pier-bench: start: run -d");
    let c = interleave(slots, 1, plan.rounds, false, all, |e, round| {
        let name = format!("pb-d-{round}");
        let t = match e {
            Engine::Raw(r) => {
                let t = r.run_detached(&name, &["sleep", "1000"])?.elapsed;
                r.remove(&name)?;
                t
            }
            Engine::Cli(c) => {
                let t = c.run_detached(&name, &["sleep", "1000"])?.elapsed;
                if round == 0 && c.running(&name) != Some(true) {
                    bail!("container not running after run -d");
                }
                c.remove(&[name])?;
                t
            }
        };
        Ok((vec![Ok(ms(t))], String::new()))
    });
    let run_d = Table {
        title: "Start: `run -d IMAGE sleep 1000`".into(),
        how: format!(
            "Until the CLI returns with the container running; removed between rounds. {} rounds.",
            plan.rounds
        ),
        unit: "ms".into(),
        better: Better::Lower,
        target: Some(Target::FloorRatio(1.25)),
        rows: rows(slots, &c, 0, all),
    };
    eprintln!("pier-bench: start: run --rm");
    let c = interleave(slots, 1, plan.rounds, true, all, |e, round| {
        let name = format!("pb-rm-{round}");
        let t = match e {
            Engine::Raw(r) => {
                r.run_foreground(&name, &["true"], Stdout::Null, Duration::from_secs(60))?
                    .elapsed
            }
            Engine::Cli(c) => {
                c.run_rm(&name, &["true"], Stdout::Null, Duration::from_secs(60))?
                    .elapsed
            }
        };
        Ok((vec![Ok(ms(t))], String::new()))
    });
    let run_rm = Table {
        title: "Start: `run --rm IMAGE true`".into(),
        how: format!(
            "End to end, foreground (the raw runtime: `run` without `-d`, which deletes on exit). {} rounds.",
            plan.rounds
        ),
        unit: "ms".into(),
        better: Better::Lower,
        target: Some(Target::FloorRatio(1.25)),
        rows: rows(slots, &c, 0, all),
    };
    vec![run_d, run_rm]
}

/// The limits of the "start with limits" row.
pub const LIMITS: &[&str] = &[
    "-m",
    "64m",
    "--cpus",
    "0.5",
    "--pids-limit",
    "100",
    "--ulimit",
    "nproc=500:500",
];

/// `run -d` with cgroup limits against the same start without them, in
/// the same rounds (the order alternates), for the engines with a CLI.
pub fn start_with_limits(slots: &mut [Slot], plan: &Plan) -> Vec<Table> {
    eprintln!("pier-bench: start with limits");
    let mut c = interleave(slots, 2, plan.rounds, true, engines_only, |e, round| {
        let Engine::Cli(c) = e else {
            bail!("no limits for the raw runtime");
        };
        let mut one = |limited: bool| -> Result<f64> {
            let name = format!("pb-l{}-{round}", u8::from(limited));
            let opts: &[&str] = if limited { LIMITS } else { &[] };
            let t = c.run_detached_with(&name, opts, &["sleep", "1000"])?.elapsed;
            c.remove(&[name])?;
            Ok(ms(t))
        };
        let (with, without) = if round % 2 == 0 {
            let w = one(true)?;
            (w, one(false)?)
        } else {
            let wo = one(false)?;
            (one(true)?, wo)
        };
        Ok((vec![Ok(with), Ok(without)], String::new()))
    });
    for i in 0..slots.len() {
        if let (Some(with), Some(without)) = (Summary::of(&c.samples[0][i]), Summary::of(&c.samples[1][i])) {
            c.detail[i] = format!(
                "without limits {:.1} ms; with/without {:.3}×",
                without.median,
                with.median / without.median
            );
        }
    }
    vec![Table {
        title: format!("Start with limits: `run -d {} IMAGE sleep 1000`", LIMITS.join(" ")),
        how: format!(
            "As the `run -d` row, each round also starting the same container without the limits (order alternating); detail: the median without them and the ratio (target: within 5 %). {} rounds.",
            plan.rounds
        ),
        unit: "ms".into(),
        better: Better::Lower,
        target: None,
        rows: rows(slots, &c, 0, engines_only),
    }]
}

/// `exec C true` in a running container.
pub fn exec(slots: &mut [Slot], plan: &Plan) -> Vec<Table> {
    eprintln!("pier-bench: exec");
    // One container per engine (variants share their daemon).
    let target = |e: &str| format!("pb-exec-{e}");
    let c = interleave(slots, 1, plan.rounds, true, all, |e, round| {
        let t = match e {
            Engine::Raw(r) => {
                let name = target(&r.program);
                if round == 0 {
                    r.run_detached(&name, &["sleep", "1000"])?;
                }
                r.exec(&name, &["true"])?.elapsed
            }
            Engine::Cli(c) => {
                let name = target(&c.name);
                if round == 0 {
                    c.run_detached(&name, &["sleep", "1000"])?;
                }
                c.exec(&name, &["true"])?.elapsed
            }
        };
        Ok((vec![Ok(ms(t))], String::new()))
    });
    for s in slots.iter_mut() {
        match &mut s.engine {
            Ok(Engine::Raw(r)) => {
                let _ = r.remove(&target(&r.program));
            }
            Ok(Engine::Cli(c)) => {
                let _ = c.remove(&[target(&c.name)]);
            }
            Err(_) => {}
        }
    }
    vec![Table {
        title: "Exec: `exec C true`".into(),
        how: format!("In a running `sleep 1000` container. {} rounds.", plan.rounds),
        unit: "ms".into(),
        better: Better::Lower,
        target: Some(Target::FloorRatio(1.15)),
        rows: rows(slots, &c, 0, all),
    }]
}

/// Memory of the shims behind `names` (the parents of the containers'
/// init processes) and a description of what they are.
pub(crate) fn shim_mems(c: &CliEngine, names: &[String]) -> Result<(Vec<Mem>, String)> {
    let pids = c.init_pids(names)?;
    let shims: BTreeSet<i32> = pids.iter().filter_map(|p| mem::ppid_of(*p)).collect();
    if shims.contains(&1) || shims.contains(&0) {
        bail!("a container's init has no shim parent");
    }
    let mut comms = BTreeSet::new();
    let mut mems = Vec::new();
    for pid in &shims {
        comms.insert(mem::comm_of(*pid).unwrap_or_else(|| "?".into()));
        mems.push(mem::of_pid(*pid).ok_or_else(|| anyhow!("read smaps_rollup of {pid}"))?);
    }
    let comms: Vec<String> = comms.into_iter().collect();
    Ok((mems, format!("{} × {}", shims.len(), comms.join("+"))))
}

/// Idle shim RSS/PSS with each container count, and the daemons' RSS with
/// the largest. Engine by engine (memory does not drift like time does).
pub fn memory(slots: &mut [Slot], plan: &Plan) -> Vec<Table> {
    let counts = &plan.mem_counts;
    // series: per count RSS, PSS; then daemon RSS, then the daemon's CPU
    // for a stats stream over the largest count.
    let series = counts.len() * 2 + 2;
    let rss_series = series - 2;
    let n = slots.len();
    let mut samples: Vec<Vec<Result<(Summary, String), String>>> =
        vec![(0..n).map(|_| Err("n/a".to_string())).collect(); series];
    for (i, slot) in slots.iter_mut().enumerate() {
        if !engines_only(&slot.label) {
            continue;
        }
        let c = match &mut slot.engine {
            Ok(Engine::Cli(c)) => c,
            Ok(Engine::Raw(_)) => continue,
            Err(why) => {
                for s in samples.iter_mut() {
                    s[i] = Err(why.clone());
                }
                continue;
            }
        };
        eprintln!("pier-bench: memory: {}", slot.label.name);
        let mut names: Vec<String> = Vec::new();
        let result = (|| -> Result<()> {
            for (ci, &count) in counts.iter().enumerate() {
                while names.len() < count {
                    if proc::interrupted() {
                        bail!("interrupted");
                    }
                    let name = format!("pb-mem-{}", names.len());
                    c.run_detached(&name, &["sleep", "1000"])?;
                    names.push(name);
                }
                // Let the shims settle into idle.
                std::thread::sleep(Duration::from_secs(2));
                let (mems, what) = shim_mems(c, &names)?;
                let mean = |f: fn(&Mem) -> u64| mems.iter().map(f).sum::<u64>() as f64 / mems.len() as f64 / 1024.0;
                let rss: Vec<f64> = mems.iter().map(|m| m.rss_kib as f64 / 1024.0).collect();
                let pss: Vec<f64> = mems.iter().map(|m| m.pss_kib as f64 / 1024.0).collect();
                if let Some(s) = Summary::of(&rss) {
                    samples[ci * 2][i] = Ok((s, format!("mean {:.2}; {what}", mean(|m| m.rss_kib))));
                }
                if let Some(s) = Summary::of(&pss) {
                    samples[ci * 2 + 1][i] = Ok((s, format!("mean {:.2}; {what}", mean(|m| m.pss_kib))));
                }
                if ci + 1 == counts.len() {
                    let mut total = 0.0;
                    let mut parts = Vec::new();
                    for (dname, pid) in &c.daemon_pids {
                        let m = mem::of_pid(*pid).ok_or_else(|| anyhow!("read smaps_rollup of {dname}"))?;
                        let mib = m.rss_kib as f64 / 1024.0;
                        total += mib;
                        parts.push(format!("{dname} {mib:.1}"));
                    }
                    samples[rss_series][i] = if parts.is_empty() {
                        Err("n/a (no daemon)".into())
                    } else {
                        Ok((Summary::single(total), parts.join(" + ")))
                    };
                    let window = plan.stats_secs;
                    samples[series - 1][i] =
                        crate::usage::stats_cost(c, names.len(), Duration::from_secs(3), Duration::from_secs(window))
                            .map(|(pct, what)| (Summary::single(pct), what))
                            .map_err(|e| short(&e));
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            eprintln!("pier-bench: memory: {}: {}", slot.label.name, short(&e));
            for s in samples.iter_mut() {
                if s[i].as_ref().is_err_and(|w| w == "n/a") {
                    s[i] = Err(format!("failed: {}", short(&e)));
                }
            }
        }
        if let Err(e) = c.remove(&names) {
            eprintln!("pier-bench: memory: {}: remove: {}", slot.label.name, short(&e));
        }
    }
    let mut tables = Vec::new();
    let mk = |sx: usize, title: String, target: Option<Target>| {
        Table {
        title,
        how: "Median over the shims (each container's init's parent process, from smaps_rollup), range min–max; detail: the mean (sum / count) and what the shims are.".into(),
        unit: "MiB".into(),
        better: Better::Lower,
        target,
        rows: slots
            .iter()
            .enumerate()
            .filter(|(_, s)| engines_only(&s.label) && shown(s))
            .map(|(i, s)| {
                let (cell, detail) = match &samples[sx][i] {
                    Ok((sum, d)) => (Cell::Value(*sum), d.clone()),
                    Err(why) => (Cell::Missing(why.clone()), String::new()),
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
    for (ci, count) in counts.iter().enumerate() {
        tables.push(mk(
            ci * 2,
            format!("Idle shim RSS, {count} containers"),
            Some(Target::AtMost(3.0)),
        ));
        tables.push(mk(
            ci * 2 + 1,
            format!("Idle shim PSS, {count} containers"),
            Some(Target::AtMost(1.0)),
        ));
    }
    let last = counts.last().copied().unwrap_or(0);
    let mut d = mk(rss_series, format!("Daemon RSS with {last} containers"), None);
    d.how = "RSS of the engine's daemons (docker: dockerd + containerd) with the containers above running.".into();
    tables.push(d);
    let mut st = mk(
        series - 1,
        format!("Daemon CPU for one `stats` stream over {last} containers"),
        Some(Target::AtMost(5.0)),
    );
    st.how = "The engine's `stats` command (one stream per container, a sample per second) runs against the containers above; the daemons' CPU time (utime + stime from /proc) over the window, in percent of one core.".into();
    st.unit = "% of a core".into();
    tables.push(st);
    tables
}

fn since_arg(t: SystemTime) -> String {
    let n = pier_time::system_time_nanos(t).max(0);
    format!("{}.{:09}", n / pier_time::NANOS_PER_SEC, n % pier_time::NANOS_PER_SEC)
}

/// Log write, read, `--tail 10`, `--since <last second>`.
pub fn logs(slots: &mut [Slot], plan: &Plan) -> Vec<Table> {
    eprintln!("pier-bench: logs");
    let bytes = plan.log_bytes;
    let script = format!("{}; sleep {LOG_PAUSE_S}; echo end", generator(bytes));
    let timeout = io_timeout(bytes);
    let c = interleave(slots, 4, plan.log_rounds, true, no_reference, |e, round| {
        let name = format!("pb-log-{round}");
        let args = ["sh", "-c", script.as_str()];
        match e {
            Engine::Raw(r) => {
                let path = r_log_path(r, &name);
                let file = fs::File::create(&path).with_context(|| format!("create {}", path.display()))?;
                let o = r.run_foreground(&name, &args, Stdout::File(file), timeout)?;
                let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                let _ = fs::remove_file(&path);
                let secs = o.elapsed.as_secs_f64() - LOG_PAUSE_S;
                let na = || Err("n/a".to_string());
                Ok((
                    vec![Ok(gb_per_s(bytes, secs)), na(), na(), na()],
                    format!("straight to a file: {}", human(size)),
                ))
            }
            Engine::Cli(c) => {
                let started = Instant::now();
                c.run_detached_logging(&name, &args)?;
                let code = c.wait(&name, timeout)?;
                let secs = started.elapsed().as_secs_f64() - LOG_PAUSE_S;
                let exited = SystemTime::now();
                if code != 0 {
                    bail!("log writer exited {code}");
                }
                let size = c.log_path(&name).and_then(|p| {
                    fs::metadata(&p)
                        .map(|m| m.len())
                        .with_context(|| format!("stat {}", p.display()))
                });
                let write = Ok(gb_per_s(bytes, secs));
                let read = c
                    .verb(&["logs", &name], Stdout::Count, timeout)
                    .map_err(|e| short(&e))
                    .and_then(|o| {
                        let want = bytes + 4;
                        if o.stdout_bytes != want {
                            Err(format!("logs returned {} of {want} bytes", o.stdout_bytes))
                        } else {
                            Ok(gb_per_s(o.stdout_bytes, o.elapsed.as_secs_f64()))
                        }
                    });
                let tail = c
                    .verb(
                        &["logs", "--tail", "10", &name],
                        Stdout::Capture,
                        Duration::from_secs(60),
                    )
                    .map_err(|e| short(&e))
                    .and_then(|o| {
                        let lines = o.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
                        if lines != 10 {
                            Err(format!("--tail 10 returned {lines} lines"))
                        } else {
                            Ok(ms(o.elapsed))
                        }
                    });
                let since_t = since_arg(exited - Duration::from_secs(SINCE_BACK_S));
                let since = c
                    .verb(
                        &["logs", "--since", &since_t, &name],
                        Stdout::Capture,
                        Duration::from_secs(60),
                    )
                    .map_err(|e| short(&e))
                    .and_then(|o| {
                        if o.stdout != b"end\n" {
                            Err(format!("--since returned {} bytes, not the last line", o.stdout.len()))
                        } else {
                            Ok(ms(o.elapsed))
                        }
                    });
                c.remove(&[name])?;
                let detail = match size {
                    Ok(s) => format!("log file {}", human(s)),
                    Err(e) => format!("log file: {}", short(&e)),
                };
                Ok((vec![write, read, tail, since], detail))
            }
        }
    });
    let size = human(bytes);
    vec![
        Table {
            title: format!("Log write: {size} of 1 KiB lines to stdout"),
            how: format!(
                "{} in the container; time from `run -d` to the exit seen by `wait`, minus a {LOG_PAUSE_S} s pause before a final line; detail: the log file's size. The floor writes straight to a file. {} rounds.",
                generator_text(bytes),
                plan.log_rounds
            ),
            unit: "GB/s".into(),
            better: Better::Higher,
            target: Some(Target::FloorShare(0.95)),
            rows: rows(slots, &c, 0, no_reference),
        },
        Table {
            title: format!("Log read: `logs C | wc -c` of that {size} log"),
            how: "Bytes out of `logs` per second, read by the bench from a pipe.".into(),
            unit: "GB/s".into(),
            better: Better::Higher,
            target: Some(Target::AtLeast(1.0)),
            rows: rows(slots, &c, 1, engines_only),
        },
        Table {
            title: format!("`logs --tail 10` on the {size} log"),
            how: "Wall time of the CLI.".into(),
            unit: "ms".into(),
            better: Better::Lower,
            target: Some(Target::AtMost(10.0)),
            rows: rows(slots, &c, 2, engines_only),
        },
        Table {
            title: format!("`logs --since <last seconds>` on the {size} log"),
            how: format!(
                "The container paused {LOG_PAUSE_S} s after the burst and wrote one last line; `--since` is the exit time minus {SINCE_BACK_S} s, so only that line comes back."
            ),
            unit: "ms".into(),
            better: Better::Lower,
            target: Some(Target::AtMost(20.0)),
            rows: rows(slots, &c, 3, engines_only),
        },
    ]
}

fn r_log_path(r: &RawRuntime, name: &str) -> std::path::PathBuf {
    r.work_dir().join(format!("{name}.out"))
}

/// Attach: a foreground non-TTY `run` streaming `attach_bytes` to the bench.
pub fn attach(slots: &mut [Slot], plan: &Plan) -> Vec<Table> {
    eprintln!("pier-bench: attach");
    let bytes = plan.attach_bytes;
    let script = generator(bytes);
    let timeout = io_timeout(bytes);
    let c = interleave(slots, 1, plan.log_rounds, true, no_reference, |e, round| {
        let name = format!("pb-att-{round}");
        let args = ["sh", "-c", script.as_str()];
        let o = match e {
            Engine::Raw(r) => r.run_foreground(&name, &args, Stdout::Count, timeout)?,
            Engine::Cli(c) => c.run_rm(&name, &args, Stdout::Count, timeout)?,
        };
        if o.stdout_bytes != bytes {
            bail!("received {} of {bytes} bytes", o.stdout_bytes);
        }
        Ok((vec![Ok(gb_per_s(bytes, o.elapsed.as_secs_f64()))], String::new()))
    });
    vec![Table {
        title: format!("Attach: {} through a foreground non-TTY `run`", human(bytes)),
        how: format!(
            "`run --rm IMAGE` {} with stdout read by the bench (the engines also write the log); the floor is the runtime's own foreground `run` with the container's stdout on the bench's pipe. {} rounds.",
            generator_text(bytes),
            plan.log_rounds
        ),
        unit: "GB/s".into(),
        better: Better::Higher,
        target: Some(Target::FloorShare(0.9)),
        rows: rows(slots, &c, 0, no_reference),
    }]
}

/// `1.00 GiB`, `16.0 MiB`.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * MIB {
        format!("{:.2} GiB", b / 1024.0 / MIB)
    } else if b >= MIB {
        format!("{:.1} MiB", b / MIB)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human(1 << 30), "1.00 GiB");
        assert_eq!(human(16 << 20), "16.0 MiB");
        assert_eq!(human(12), "12 B");
    }

    #[test]
    fn since_has_nanoseconds() {
        let t = std::time::UNIX_EPOCH + Duration::new(1_700_000_000, 5);
        assert_eq!(since_arg(t), "1700000000.000000005");
    }

    #[test]
    fn generator_cats_whole_mib() {
        assert_eq!(generator(2 << 20), "cat /lines /lines");
        assert_eq!(generator(1), "cat /lines");
    }
}
