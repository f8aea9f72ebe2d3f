//! The results model and its rendering to BENCHMARKS.md (pure).

use std::fmt::Write as _;

use crate::stats::Summary;

/// What an engine is in the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A raw OCI runtime: the floor every engine pays at least.
    Floor,
    /// An engine a user would pick instead of Pier.
    Peer,
    /// Pier itself; targets apply to these rows.
    Pier,
    /// Pier in a non-default configuration (seccomp unconfined, as the
    /// floor): targets apply, but it never stands in for Pier elsewhere.
    Variant,
    /// The raw runtime on Pier's own spec: what the container's security
    /// settings cost inside the runtime, with no engine around it.
    Reference,
}

/// One engine as it appears in the tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineLabel {
    pub name: String,
    pub role: Role,
    /// The OCI runtime under it (`runc`, `crun`): picks its floor row.
    pub runtime: String,
}

/// A measurement or the reason there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Value(Summary),
    Missing(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub engine: EngineLabel,
    pub cell: Cell,
    /// Free text shown in an extra column (bytes in the log, counts).
    pub detail: String,
}

/// Which direction is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

/// The bar a Pier row is held to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// median ≤ k × the floor's median (lower is better).
    FloorRatio(f64),
    /// median ≥ k × the floor's median (higher is better).
    FloorShare(f64),
    /// median ≤ x (in the table's unit).
    AtMost(f64),
    /// median ≥ x (in the table's unit).
    AtLeast(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub title: String,
    /// How it was measured, one sentence.
    pub how: String,
    pub unit: String,
    pub better: Better,
    pub target: Option<Target>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub date: String,
    pub command: String,
    pub mode: String,
    pub machine: Vec<(String, String)>,
    pub versions: Vec<(String, String)>,
    pub skipped: Vec<(String, String)>,
    pub tables: Vec<Table>,
    /// Measured sections that are not tables of engines (the start time
    /// budget), rendered after the tables.
    pub sections: Vec<String>,
    /// Hand-written notes (profiles, what is left) appended verbatim.
    pub notes: Option<String>,
}

impl Table {
    fn floor_for(&self, runtime: &str) -> Option<f64> {
        self.rows.iter().find_map(|r| match (&r.cell, r.engine.role) {
            (Cell::Value(s), Role::Floor) if r.engine.runtime == runtime => Some(s.median),
            _ => None,
        })
    }

    /// The reference row's median (the raw runtime on Pier's spec).
    fn reference(&self) -> Option<f64> {
        self.rows.iter().find_map(|r| match (&r.cell, r.engine.role) {
            (Cell::Value(s), Role::Reference) => Some(s.median),
            _ => None,
        })
    }

    fn best_peer(&self) -> Option<f64> {
        let peers = self.rows.iter().filter_map(|r| match (&r.cell, r.engine.role) {
            (Cell::Value(s), Role::Peer) => Some(s.median),
            _ => None,
        });
        match self.better {
            Better::Lower => peers.reduce(f64::min),
            Better::Higher => peers.reduce(f64::max),
        }
    }
}

/// Ratio of `value` to `base`, or `None` when `base` is unusable.
fn ratio(value: f64, base: Option<f64>) -> Option<f64> {
    base.filter(|b| *b > 0.0).map(|b| value / b)
}

/// Whether a Pier row meets `target`; `None` when it cannot be judged.
pub fn target_met(target: Target, median: f64, floor_ratio: Option<f64>) -> Option<bool> {
    match target {
        Target::FloorRatio(k) => floor_ratio.map(|r| r <= k),
        Target::FloorShare(k) => floor_ratio.map(|r| r >= k),
        Target::AtMost(x) => Some(median <= x),
        Target::AtLeast(x) => Some(median >= x),
    }
}

fn target_text(target: Target, unit: &str) -> String {
    match target {
        Target::FloorRatio(k) => format!("≤ {k}× floor"),
        Target::FloorShare(k) => format!("≥ {k}× floor"),
        Target::AtMost(x) => format!("≤ {} {unit}", num(x)),
        Target::AtLeast(x) => format!("≥ {} {unit}", num(x)),
    }
}

/// A number with about three significant digits.
pub fn num(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn times(r: Option<f64>) -> String {
    match r {
        None => "—".to_string(),
        // Tiny ratios as fractions: "1/1146" reads better than "0.00×".
        Some(r) if r > 0.0 && r < 0.1 => format!("1/{:.0}", 1.0 / r),
        Some(r) => format!("{r:.2}×"),
    }
}

fn engine_cell(e: &EngineLabel) -> String {
    match e.role {
        Role::Floor => format!("{} (floor)", e.name),
        Role::Peer => e.name.clone(),
        Role::Pier => format!("**{}**", e.name),
        Role::Reference => format!("{} (reference)", e.name),
        Role::Variant => format!("**{}**", e.name),
    }
}

/// Renders one metric table.
pub fn render_table(t: &Table) -> String {
    let mut s = String::new();
    let better = match t.better {
        Better::Lower => "lower is better",
        Better::Higher => "higher is better",
    };
    let _ = writeln!(s, "### {}\n", t.title);
    let _ = writeln!(s, "{} Unit: {}, {better}.\n", t.how, t.unit);
    let with_detail = t.rows.iter().any(|r| !r.detail.is_empty());
    let reference = t.reference();
    let _ = write!(s, "| engine | median | min–max | × floor |");
    if reference.is_some() {
        s.push_str(" × reference |");
    }
    let _ = write!(s, " × best peer | target | met? |");
    let _ = writeln!(s, "{}", if with_detail { " detail |" } else { "" });
    let _ = write!(s, "|---|---:|---:|---:|");
    if reference.is_some() {
        s.push_str("---:|");
    }
    let _ = write!(s, "---:|---|---|");
    let _ = writeln!(s, "{}", if with_detail { "---|" } else { "" });
    let best = t.best_peer();
    for r in &t.rows {
        let floor = t.floor_for(&r.engine.runtime);
        let is_pier = matches!(r.engine.role, Role::Pier | Role::Variant);
        let target = match (is_pier, t.target) {
            (true, Some(tg)) => target_text(tg, &t.unit),
            _ => String::new(),
        };
        let mut xr = String::new();
        let (median, range, xf, xp, met) = match &r.cell {
            Cell::Value(v) => {
                let fr = ratio(v.median, floor);
                xr = times(ratio(v.median, reference));
                let met = match (is_pier, t.target) {
                    (true, Some(tg)) => match target_met(tg, v.median, fr) {
                        Some(true) => "yes".to_string(),
                        Some(false) => "**no**".to_string(),
                        None => "—".to_string(),
                    },
                    _ => String::new(),
                };
                let range = if v.count > 1 {
                    format!("{}–{}", num(v.min), num(v.max))
                } else {
                    String::new()
                };
                let xp = if matches!(r.engine.role, Role::Floor | Role::Reference) {
                    "—".to_string()
                } else {
                    times(ratio(v.median, best))
                };
                (num(v.median), range, times(fr), xp, met)
            }
            Cell::Missing(why) => {
                let met = if is_pier && t.target.is_some() {
                    "—".to_string()
                } else {
                    String::new()
                };
                (why.replace('|', "/"), String::new(), String::new(), String::new(), met)
            }
        };
        let _ = write!(s, "| {} | {median} | {range} | {xf} |", engine_cell(&r.engine));
        if reference.is_some() {
            let _ = write!(s, " {xr} |");
        }
        let _ = write!(s, " {xp} | {target} | {met} |");
        if with_detail {
            let _ = write!(s, " {} |", r.detail.replace('|', "/"));
        }
        s.push('\n');
    }
    s
}

/// Renders the whole BENCHMARKS.md.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    s.push_str("# Pier benchmarks\n\n");
    s.push_str(
        "Generated by `pier-bench` (bench/); do not edit by hand: rerun it. \
         Every engine runs the same busybox rootfs, in the same run, round by round \
         (the engine order rotates each round) so machine drift hits all alike. \
         Times are wall clock from spawning the CLI to its exit, so each engine's CLI start-up is included. \
         The floor is the raw OCI runtime (`runc`/`crun`) on a plain bundle; \
         \"× best peer\" compares with the best of docker and podman.\n\n",
    );
    let _ = writeln!(s, "- Date: {}", r.date);
    let _ = writeln!(s, "- Mode: {}", r.mode);
    let _ = writeln!(s, "- Reproduce (as root, from the repository root): `{}`", r.command);
    let machine: Vec<String> = r.machine.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(s, "- Machine: {}", machine.join("; "));
    let versions: Vec<String> = r
        .versions
        .iter()
        .map(|(k, v)| {
            if v.to_lowercase().starts_with(&k.to_lowercase()) {
                v.clone()
            } else {
                format!("{k} {v}")
            }
        })
        .collect();
    let _ = writeln!(s, "- Versions: {}", versions.join("; "));
    if !r.skipped.is_empty() {
        s.push_str("- Skipped engines:\n");
        for (e, why) in &r.skipped {
            let _ = writeln!(s, "  - {e}: {why}");
        }
    }
    s.push('\n');
    for t in &r.tables {
        s.push_str(&render_table(t));
        s.push('\n');
    }
    for section in &r.sections {
        s.push_str(section.trim_end());
        s.push_str("\n\n");
    }
    if let Some(notes) = &r.notes {
        s.push_str(notes.trim_end());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(name: &str, role: Role) -> EngineLabel {
        EngineLabel {
            name: name.into(),
            role,
            runtime: "runc".into(),
        }
    }

    fn row(name: &str, role: Role, xs: &[f64]) -> Row {
        Row {
            engine: label(name, role),
            cell: Summary::of(xs).map_or(Cell::Missing("none".into()), Cell::Value),
            detail: String::new(),
        }
    }

    fn table(better: Better, target: Target) -> Table {
        Table {
            title: "start".into(),
            how: "`run -d`.".into(),
            unit: "ms".into(),
            better,
            target: Some(target),
            rows: vec![
                row("runc", Role::Floor, &[10.0, 12.0, 11.0]),
                row("docker", Role::Peer, &[90.0]),
                row("podman", Role::Peer, &[45.0]),
                row("pier", Role::Pier, &[14.0, 15.0, 16.0]),
            ],
        }
    }

    #[test]
    fn reference_column_only_with_a_reference_row() {
        let mut t = table(Better::Lower, Target::FloorRatio(1.5));
        assert!(!render_table(&t).contains("× reference"));
        t.rows.insert(1, row("runc, Pier's spec", Role::Reference, &[12.0]));
        let out = render_table(&t);
        assert!(out.contains("| × floor | × reference | × best peer |"), "{out}");
        assert!(
            out.contains("| runc, Pier's spec (reference) | 12.0 |  | 1.09× | 1.00× | — |"),
            "{out}"
        );
        assert!(
            out.contains("| **pier** | 15.0 | 14.0–16.0 | 1.36× | 1.25× | 0.33× |"),
            "{out}"
        );
    }

    #[test]
    fn ratios_and_targets() {
        let t = table(Better::Lower, Target::FloorRatio(1.5));
        let out = render_table(&t);
        assert!(out.contains("| runc (floor) | 11.0 | 10.0–12.0 | 1.00× | — |"), "{out}");
        assert!(out.contains("| docker | 90.0 |  | 8.18× | 2.00× |"), "{out}");
        assert!(
            out.contains("| **pier** | 15.0 | 14.0–16.0 | 1.36× | 0.33× | ≤ 1.5× floor | yes |"),
            "{out}"
        );
    }

    #[test]
    fn higher_is_better_picks_the_fastest_peer() {
        let t = table(Better::Higher, Target::AtLeast(20.0));
        assert_eq!(t.best_peer(), Some(90.0));
        let out = render_table(&t);
        assert!(out.contains("≥ 20.0 ms | **no** |"), "{out}");
    }

    #[test]
    fn missing_rows_keep_their_reason() {
        let mut t = table(Better::Lower, Target::AtMost(3.0));
        t.rows[3].cell = Cell::Missing("not built yet: exec | attach".into());
        let out = render_table(&t);
        assert!(out.contains("| **pier** | not built yet: exec / attach |"), "{out}");
    }

    #[test]
    fn floor_ratio_needs_a_floor() {
        assert_eq!(target_met(Target::FloorRatio(1.5), 3.0, None), None);
        assert_eq!(target_met(Target::AtMost(3.0), 3.0, None), Some(true));
        assert_eq!(target_met(Target::AtLeast(1.0), 0.5, None), Some(false));
        assert_eq!(target_met(Target::FloorShare(0.95), 0.9, Some(0.96)), Some(true));
        assert_eq!(target_met(Target::FloorShare(0.95), 0.9, Some(0.94)), Some(false));
        assert_eq!(target_met(Target::FloorShare(0.95), 0.9, None), None);
    }

    #[test]
    fn report_lists_machine_versions_and_skips() {
        let r = Report {
            date: "2026-11-28 14:00 UTC".into(),
            command: "bench/run.sh --quick".into(),
            mode: "quick".into(),
            machine: vec![("cores".into(), "2".into())],
            versions: vec![
                ("runc".into(), "runc version 1.1.5".into()),
                ("docker".into(), "Docker version 20.10".into()),
                ("pier".into(), "git abc".into()),
            ],
            skipped: vec![("crun".into(), "skipped: hybrid cgroups".into())],
            tables: vec![table(Better::Lower, Target::FloorRatio(1.5))],
            sections: vec!["## Start time budget\n\nmeasured".into()],
            notes: Some("## Notes\n".into()),
        };
        let out = render(&r);
        assert!(
            out.contains("- Versions: runc version 1.1.5; Docker version 20.10; pier git abc\n"),
            "{out}"
        );
        assert!(out.contains("  - crun: skipped: hybrid cgroups\n"), "{out}");
        assert!(out.contains("`bench/run.sh --quick`"), "{out}");
        assert!(out.ends_with("## Start time budget\n\nmeasured\n\n## Notes\n"), "{out}");
    }

    #[test]
    fn tiny_ratios_are_fractions() {
        assert_eq!(times(Some(5.1 / 5847.0)), "1/1146");
        assert_eq!(times(Some(0.45)), "0.45×");
        assert_eq!(times(None), "—");
    }

    #[test]
    fn numbers_keep_three_digits() {
        assert_eq!(num(123.456), "123");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(1.2345), "1.23");
        assert_eq!(num(0.12345), "0.123");
    }
}
