//! pier-bench: Pier side by side with raw runc/crun (the floor), docker and
//! podman, in one run, on one busybox rootfs; writes BENCHMARKS.md.
//!
//! It starts every daemon it uses on private directories and stops each by
//! pid, unmounts what the engines left mounted under its temp dir and
//! removes the temp dir. It never touches a default daemon socket or data
//! root. Run it as root: `bench/run.sh [--quick] [--out BENCHMARKS.md]`.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod bench;
mod budget;
mod cli;
mod health;
mod machine;
mod mem;
mod mounts;
mod network;
mod proc;
mod raw;
mod refspec;
mod report;
mod rootfs;
mod setup;
mod stats;
mod usage;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use clap::Parser;

use crate::bench::{Engine, Plan, Slot};
use crate::report::{EngineLabel, Report, Role};

const ENGINES: &str = "runc,runc-spec,crun,docker,podman,pier,pier-unconfined,pier-crun";

#[derive(Parser, Debug)]
#[command(about = "Benchmark Pier against runc, crun, docker and podman")]
struct Args {
    /// A few rounds and small sizes: a smoke test that finishes in under two minutes.
    #[arg(long)]
    quick: bool,
    /// Write the report here (default: stdout).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Engines to include, comma separated.
    #[arg(long, default_value = ENGINES)]
    engines: String,
    /// Recorded rounds for start and exec (default 20; quick 3).
    #[arg(long)]
    rounds: Option<usize>,
    /// Recorded rounds for logs and attach (default 3; quick 1).
    #[arg(long)]
    log_rounds: Option<usize>,
    /// MiB the log writer emits (default 1024; quick 8).
    #[arg(long)]
    log_mib: Option<u64>,
    /// MiB streamed through attach (default 500; quick 8).
    #[arg(long)]
    attach_mib: Option<u64>,
    /// Run only these scenarios (comma separated: start, exec, limits,
    /// memory, health, logs, attach, budget; and `network`, Pier on the
    /// default bridge and through a published port, only when named);
    /// default all but `network` (budget, which needs strace, not in
    /// quick mode).
    #[arg(long, value_delimiter = ',')]
    only: Option<Vec<String>>,
    /// Containers with a healthcheck in the health scenario (default 100;
    /// quick 5).
    #[arg(long)]
    health_containers: Option<usize>,
    /// Container counts for the memory metrics (default 10,100; quick 5).
    #[arg(long, value_delimiter = ',')]
    containers: Option<Vec<usize>>,
    /// Where pierd, pier and pier-shim are (default: target/release).
    #[arg(long)]
    pier_bin: Option<PathBuf>,
    /// Markdown appended to the report (default: bench/NOTES.md if present).
    #[arg(long)]
    notes: Option<PathBuf>,
}

fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map_or(manifest.clone(), Path::to_path_buf)
}

fn plan(a: &Args) -> Plan {
    let (rounds, log_rounds, log_mib, attach_mib, counts) = if a.quick {
        (3, 1, 8, 8, vec![5])
    } else {
        (20, 3, 1024, 500, vec![10, 100])
    };
    let mut counts = a.containers.clone().unwrap_or(counts);
    counts.sort_unstable();
    counts.dedup();
    counts.retain(|c| *c > 0);
    Plan {
        rounds: a.rounds.unwrap_or(rounds).max(1),
        log_rounds: a.log_rounds.unwrap_or(log_rounds).max(1),
        log_bytes: a.log_mib.unwrap_or(log_mib).max(1) << 20,
        attach_bytes: a.attach_mib.unwrap_or(attach_mib).max(1) << 20,
        mem_counts: counts,
        stats_secs: if a.quick { 5 } else { 20 },
    }
}

/// The bench's scratch directory: unmounts leftovers before removing it.
struct WorkDir {
    dir: Option<tempfile::TempDir>,
}

impl WorkDir {
    fn path(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new("/nonexistent"), |d| d.path())
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if let Some(d) = self.dir.take() {
            for m in mounts::unmount_all_under(d.path()) {
                eprintln!("pier-bench: unmounted {m}");
            }
            let path = d.path().to_path_buf();
            if let Err(e) = d.close() {
                eprintln!("pier-bench: remove {}: {e}", path.display());
            }
        }
    }
}

fn label(name: &str, role: Role, runtime: &str) -> EngineLabel {
    EngineLabel {
        name: name.into(),
        role,
        runtime: runtime.into(),
    }
}

fn skipped(prefix: &str, e: &anyhow::Error) -> String {
    let msg = format!("{e:#}");
    if msg.starts_with("not built yet") {
        msg
    } else {
        format!("{prefix}: {msg}")
    }
}

/// The start time budget of the `pier` engine, or why there is none.
fn budget_section(slots: &mut [Slot], work: &Path, rounds: usize) -> String {
    let pier = slots.iter_mut().find(|s| s.label.name == "pier");
    let Some(Slot {
        engine: Ok(Engine::Cli(c)),
        ..
    }) = pier
    else {
        return "## Start time budget\n\nNot measured: the pier engine did not run.\n".into();
    };
    let Some(pierd) = c.daemon_pids.iter().find(|(n, _)| n == "pierd").map(|(_, p)| *p) else {
        return "## Start time budget\n\nNot measured: no pierd pid.\n".into();
    };
    eprintln!("pier-bench: start time budget ({rounds} traced runs)");
    match budget::measure(c, pierd, work, rounds) {
        Ok(text) => text,
        Err(e) => format!("## Start time budget\n\nNot measured: {e:#}\n"),
    }
}

/// Pier on runc, when it is up.
fn pier_slot(slots: &mut [Slot]) -> Option<&mut cli::CliEngine> {
    slots
        .iter_mut()
        .find_map(|s| match (&mut s.engine, s.label.role, s.label.runtime.as_str()) {
            (Ok(Engine::Cli(c)), Role::Pier, "runc") => Some(c),
            _ => None,
        })
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !rustix::process::geteuid().is_root() {
        bail!("pier-bench must run as root (it starts daemons and containers)");
    }
    proc::install_interrupt_flag()?;
    let plan = plan(&args);
    let want: Vec<&str> = args.engines.split(',').map(str::trim).collect();
    let repo = repo_root();
    let bin_dir = args.pier_bin.clone().unwrap_or_else(|| repo.join("target/release"));
    let started = SystemTime::now();

    let work = WorkDir {
        dir: Some(
            tempfile::Builder::new()
                .prefix("pier-bench.")
                .tempdir()
                .context("create temp dir")?,
        ),
    };
    eprintln!("pier-bench: working in {} with {plan:?}", work.path().display());
    let fs = rootfs::build(work.path()).context("build busybox rootfs")?;
    let spec = raw::base_spec(work.path(), &fs.dir).context("make base spec")?;

    let mut versions: Vec<(String, String)> = Vec::new();
    let mut slots: Vec<Slot> = Vec::new();
    let mut crun_ok = false;
    for rt in ["runc", "crun"] {
        if !want.contains(&rt) {
            continue;
        }
        let engine = raw::RawRuntime::new(rt, work.path(), &fs.dir, spec.clone()).and_then(|mut r| {
            versions.push((rt.into(), r.version()));
            r.probe()?;
            Ok(r)
        });
        let engine = match engine {
            Ok(r) => {
                crun_ok |= rt == "crun";
                Ok(Engine::Raw(r))
            }
            Err(e) => Err(skipped("skipped", &e)),
        };
        slots.push(Slot {
            label: label(rt, Role::Floor, rt),
            engine,
        });
    }
    if want.contains(&"docker") {
        eprintln!("pier-bench: starting dockerd");
        versions.push(("docker".into(), cli::version_line("dockerd", &[])));
        versions.push(("containerd".into(), cli::version_line("containerd", &[])));
        let e = setup::docker(work.path(), &fs.tar)
            .map(Engine::Cli)
            .map_err(|e| skipped("skipped", &e));
        slots.push(Slot {
            label: label("docker", Role::Peer, "runc"),
            engine: e,
        });
    }
    if want.contains(&"podman") {
        eprintln!("pier-bench: setting up podman");
        versions.push(("podman".into(), cli::version_line("podman", &[])));
        versions.push(("conmon".into(), cli::version_line("conmon", &[])));
        let e = setup::podman(work.path(), &fs.tar)
            .map(Engine::Cli)
            .map_err(|e| skipped("skipped", &e));
        slots.push(Slot {
            label: label("podman", Role::Peer, "runc"),
            engine: e,
        });
    }
    versions.push(("pier".into(), format!("git {}", machine::git_rev(&repo))));
    for (name, rt) in [("pier", None), ("pier-crun", Some("crun"))] {
        if !want.contains(&name) {
            continue;
        }
        let label = label(
            if rt.is_some() { "pier (crun)" } else { "pier" },
            Role::Pier,
            rt.unwrap_or("runc"),
        );
        if rt.is_some() && !crun_ok {
            slots.push(Slot {
                label,
                engine: Err("skipped: crun cannot run containers here (see crun above)".into()),
            });
            continue;
        }
        eprintln!("pier-bench: starting {name}");
        let e = setup::pier(work.path(), &fs.tar, &bin_dir, name, rt)
            .map(Engine::Cli)
            .map_err(|e| skipped("failed", &e));
        slots.push(Slot { label, engine: e });
    }
    if want.contains(&"pier-unconfined") {
        let label = label("pier, seccomp=unconfined", Role::Variant, "runc");
        let engine = match pier_slot(&mut slots) {
            Some(p) => Ok(Engine::Cli(
                p.variant("pier-unconfined", &["--security-opt", "seccomp=unconfined"]),
            )),
            None => Err("skipped: needs the pier engine".to_string()),
        };
        slots.push(Slot { label, engine });
    }
    if want.contains(&"runc-spec") {
        let label = label("runc, Pier's spec", Role::Reference, "runc");
        let engine = match pier_slot(&mut slots) {
            None => Err("skipped: needs the pier engine (its spec)".to_string()),
            Some(p) => refspec::from_pier(p, work.path(), &fs.dir)
                .and_then(|spec| raw::RawRuntime::tagged("runc", "runc-spec", work.path(), &fs.dir, spec))
                .and_then(|mut r| {
                    r.probe()?;
                    Ok(Engine::Raw(r))
                })
                .map_err(|e| skipped("skipped", &e)),
        };
        // Right after the floors, where it reads best.
        let at = slots.iter().take_while(|s| s.label.role == Role::Floor).count();
        slots.insert(at, Slot { label, engine });
    }
    let skipped_list: Vec<(String, String)> = slots
        .iter()
        .filter_map(|s| s.engine.as_ref().err().map(|w| (s.label.name.clone(), w.clone())))
        .collect();
    for (n, w) in &skipped_list {
        eprintln!("pier-bench: {n}: {w}");
    }

    let wants = |name: &str| !proc::interrupted() && args.only.as_ref().is_none_or(|o| o.iter().any(|x| x == name));
    let mut tables = Vec::new();
    if wants("start") {
        tables.extend(bench::start(&mut slots, &plan));
    }
    if wants("exec") {
        tables.extend(bench::exec(&mut slots, &plan));
    }
    if wants("limits") {
        tables.extend(bench::start_with_limits(&mut slots, &plan));
    }
    if wants("memory") {
        tables.extend(bench::memory(&mut slots, &plan));
    }
    if wants("health") {
        let checked = args
            .health_containers
            .unwrap_or(if args.quick { 5 } else { 100 })
            .max(1);
        let hp = health::HealthPlan {
            checked,
            plain: checked.min(10),
            window: Duration::from_secs(if args.quick { 5 } else { 20 }),
        };
        tables.extend(health::health(&mut slots, hp));
    }
    let mut sections = Vec::new();
    let budget_asked = args.only.as_ref().is_some_and(|o| o.iter().any(|x| x == "budget"));
    if wants("budget") && (budget_asked || !args.quick) {
        sections.push(budget_section(&mut slots, work.path(), plan.rounds.clamp(3, 10)));
    }
    if wants("logs") {
        tables.extend(bench::logs(&mut slots, &plan));
    }
    if wants("attach") {
        tables.extend(bench::attach(&mut slots, &plan));
    }
    // Not in the default set: Pier only, and it needs netavark.
    let named = |name: &str| !proc::interrupted() && args.only.as_ref().is_some_and(|o| o.iter().any(|x| x == name));
    if named("network") {
        tables.extend(network::start(&mut slots, &plan));
        tables.extend(network::throughput(&mut slots, &plan));
    }
    if proc::interrupted() {
        bail!("interrupted; nothing written");
    }

    let notes_path = args.notes.clone().unwrap_or_else(|| repo.join("bench/NOTES.md"));
    let notes = proc::read_optional(&notes_path)?;
    let mut command = String::from("bench/run.sh");
    for a in std::env::args().skip(1) {
        command.push(' ');
        command.push_str(&a);
    }
    let mode = if args.quick {
        "quick (smoke test: small sizes, few rounds)"
    } else {
        "full"
    };
    let report = Report {
        date: machine::utc(started),
        command,
        mode: format!(
            "{mode}; {} start/exec rounds, {} log/attach rounds",
            plan.rounds, plan.log_rounds
        ),
        machine: machine::describe(),
        versions,
        skipped: skipped_list,
        tables,
        sections,
        notes,
    };
    // Stop every engine (containers, daemons, mounts) before writing.
    drop(slots);
    let text = report::render(&report);
    match &args.out {
        Some(p) => {
            std::fs::write(p, &text).with_context(|| format!("write {}", p.display()))?;
            eprintln!("pier-bench: wrote {}", p.display());
        }
        None => print!("{text}"),
    }
    drop(work);
    Ok(())
}
