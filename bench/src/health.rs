//! The cost of healthchecks: containers with a 1 s `--health-cmd true`
//! run beside plain ones; the daemons' and shims' CPU time over a window
//! (the probes' own runtime processes are the runtime's cost, not the
//! engine's), and how much a checked container's shim grows over a plain
//! one's.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};

use crate::bench::{Engine, Slot};
use crate::cli::CliEngine;
use crate::mem;
use crate::proc;
use crate::report::{Better, Cell, Row, Table, Target};
use crate::stats::Summary;
use crate::usage::{cpu_ticks, CLOCK_TICKS};

/// The healthcheck every checked container runs.
const CHECK: [&str; 6] = [
    "--health-cmd",
    "true",
    "--health-interval",
    "1s",
    "--health-retries",
    "3",
];

/// Containers with and without a healthcheck, and the window.
#[derive(Debug, Clone, Copy)]
pub struct HealthPlan {
    pub checked: usize,
    pub plain: usize,
    pub window: Duration,
}

/// What one engine measured.
struct Measured {
    cpu_pct: f64,
    cpu_detail: String,
    rss_growth_kib: f64,
    rss_detail: String,
}

/// The shims (parents of the containers' inits).
fn shims(c: &CliEngine, names: &[String]) -> Result<Vec<i32>> {
    let set: BTreeSet<i32> = c.init_pids(names)?.iter().filter_map(|p| mem::ppid_of(*p)).collect();
    if set.contains(&1) || set.contains(&0) {
        bail!("a container's init has no shim parent");
    }
    Ok(set.into_iter().collect())
}

fn healthy(c: &CliEngine, names: &[String]) -> Result<bool> {
    Ok(c.inspect(names)?
        .iter()
        .all(|i| i.pointer("/State/Health/Status").and_then(|s| s.as_str()) == Some("healthy")))
}

fn median_rss_kib(pids: &[i32]) -> Result<f64> {
    let rss: Vec<f64> = pids
        .iter()
        .map(|p| {
            mem::of_pid(*p)
                .map(|m| m.rss_kib as f64)
                .ok_or_else(|| anyhow!("read smaps_rollup of {p}"))
        })
        .collect::<Result<_>>()?;
    Summary::of(&rss).map(|s| s.median).ok_or_else(|| anyhow!("no shims"))
}

fn measure(c: &mut CliEngine, plan: HealthPlan, names: &mut Vec<String>) -> Result<Measured> {
    if c.daemon_pids.is_empty() {
        bail!("n/a (no daemon)");
    }
    let mut checked = Vec::new();
    let mut plain = Vec::new();
    for i in 0..plan.checked.max(plan.plain) {
        if proc::interrupted() {
            bail!("interrupted");
        }
        if i < plan.checked {
            let name = format!("pb-hc-{i}");
            names.push(name.clone());
            c.run_detached_with(&name, &CHECK, &["sleep", "1000"])?;
            checked.push(name);
        }
        if i < plan.plain {
            let name = format!("pb-hp-{i}");
            names.push(name.clone());
            c.run_detached(&name, &["sleep", "1000"])?;
            plain.push(name);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60) + Duration::from_millis(200 * plan.checked as u64);
    while !healthy(c, &checked)? {
        if Instant::now() > deadline || proc::interrupted() {
            bail!("the checked containers did not all become healthy");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let checked_shims = shims(c, &checked)?;
    let plain_shims = shims(c, &plain)?;
    let mut pids: Vec<(String, i32)> = c.daemon_pids.clone();
    pids.extend(checked_shims.iter().map(|p| ("shim".to_string(), *p)));
    let ticks = || -> Result<u64> {
        pids.iter()
            .map(|(n, p)| cpu_ticks(*p).ok_or_else(|| anyhow!("read the CPU time of {n} ({p})")))
            .sum()
    };
    let before = ticks()?;
    let t = Instant::now();
    std::thread::sleep(plan.window);
    let after = ticks()?;
    let secs = t.elapsed().as_secs_f64();
    let cpu_pct = after.saturating_sub(before) as f64 / CLOCK_TICKS / secs * 100.0;
    let (rc, rp) = (median_rss_kib(&checked_shims)?, median_rss_kib(&plain_shims)?);
    let daemons: Vec<&str> = c.daemon_pids.iter().map(|(n, _)| n.as_str()).collect();
    Ok(Measured {
        cpu_pct,
        cpu_detail: format!(
            "{} + {} shims over {secs:.0} s, {} probes/s",
            daemons.join(" + "),
            checked_shims.len(),
            plan.checked
        ),
        rss_growth_kib: rc - rp,
        rss_detail: format!(
            "median shim RSS {rc:.0} KiB checked ({} after ≥ {:.0} probes each) vs {rp:.0} KiB plain ({})",
            checked.len(),
            plan.window.as_secs_f64(),
            plain.len()
        ),
    })
}

/// The two tables: CPU of daemons + shims for `plan.checked` checked
/// containers, and the checked shim's RSS growth.
pub fn health(slots: &mut [Slot], plan: HealthPlan) -> Vec<Table> {
    let mut cpu_rows = Vec::new();
    let mut rss_rows = Vec::new();
    for slot in slots.iter_mut() {
        if !crate::bench::engines_only(&slot.label) {
            continue;
        }
        let c = match &mut slot.engine {
            Ok(Engine::Cli(c)) => c,
            Ok(Engine::Raw(_)) => continue,
            Err(why) => {
                for rows in [&mut cpu_rows, &mut rss_rows] {
                    rows.push(Row {
                        engine: slot.label.clone(),
                        cell: Cell::Missing(why.clone()),
                        detail: String::new(),
                    });
                }
                continue;
            }
        };
        eprintln!("pier-bench: health: {}", slot.label.name);
        let mut names = Vec::new();
        let m = measure(c, plan, &mut names);
        if let Err(e) = c.remove(&names) {
            eprintln!("pier-bench: health: {}: remove: {e:#}", slot.label.name);
        }
        match m {
            Ok(m) => {
                cpu_rows.push(Row {
                    engine: slot.label.clone(),
                    cell: Cell::Value(Summary::single(m.cpu_pct)),
                    detail: m.cpu_detail,
                });
                rss_rows.push(Row {
                    engine: slot.label.clone(),
                    cell: Cell::Value(Summary::single(m.rss_growth_kib)),
                    detail: m.rss_detail,
                });
            }
            Err(e) => {
                let why = format!("failed: {}", format!("{e:#}").chars().take(200).collect::<String>());
                eprintln!("pier-bench: health: {}: {why}", slot.label.name);
                for rows in [&mut cpu_rows, &mut rss_rows] {
                    rows.push(Row {
                        engine: slot.label.clone(),
                        cell: Cell::Missing(why.clone()),
                        detail: String::new(),
                    });
                }
            }
        }
    }
    // Scaled to 100 containers when fewer ran (the cost is per probe).
    let scale = 100.0 / plan.checked.max(1) as f64;
    for r in &mut cpu_rows {
        if let Cell::Value(s) = &mut r.cell {
            *s = Summary::single(s.median * scale);
        }
    }
    vec![
        Table {
            title: "Healthcheck CPU, 100 containers with 1 s checks".into(),
            how: format!(
                "{} containers run `--health-cmd true --health-interval 1s`; utime + stime of the daemons and the checked containers' shims over the window (the probes' runtime processes are not counted), in percent of one core{}.",
                plan.checked,
                if plan.checked == 100 { String::new() } else { format!(", scaled ×{scale:.0} to 100 containers") }
            ),
            unit: "% of a core".into(),
            better: Better::Lower,
            target: Some(Target::AtMost(10.0)),
            rows: cpu_rows,
        },
        Table {
            title: "Shim RSS growth from a 1 s healthcheck".into(),
            how: "Median RSS of the checked containers' shims minus that of plain containers' shims, both idle beside each other.".into(),
            unit: "KiB".into(),
            better: Better::Lower,
            target: Some(Target::AtMost(256.0)),
            rows: rss_rows,
        },
    ]
}
