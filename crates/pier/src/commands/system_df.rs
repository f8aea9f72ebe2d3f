//! `pier system`: `df` (docker's disk usage summary, `-v` for the tables
//! of images, containers, volumes and build cache) and `info`.

use std::io::Write;

use clap::{Args, Subcommand};
use pier_api::container::ContainerSummary;
use pier_api::image::ImageSummary;
use pier_api::system::DiskUsage;
use pier_api::volume::Volume;
use pier_client::Client;

use crate::commands::ps;
use crate::render::text::{split_repo_tag, truncate_id};
use crate::render::{format, table, units};

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Show docker disk usage
    #[command(override_usage = "pier system df [OPTIONS]")]
    Df(DfArgs),
    /// Display system-wide information
    #[command(override_usage = "pier system info [OPTIONS]")]
    Info,
}

#[derive(Debug, Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Format output using a custom template
    #[arg(long = "format")]
    pub format: Option<String>,
}

pub fn system(client: &Client, cmd: SystemCommand) -> anyhow::Result<i32> {
    match cmd {
        SystemCommand::Df(a) => df(client, &a),
        SystemCommand::Info => crate::commands::system::info(client),
    }
}

fn df(client: &Client, a: &DfArgs) -> anyhow::Result<i32> {
    let du = client.disk_usage()?;
    let now = pier_time::now_unix();
    let out = if a.verbose {
        verbose(&du, now)
    } else {
        summary(&du, a.format.as_deref())?
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    Ok(0)
}

/// go-units `HumanSize` (precision 4).
fn human(n: i64) -> String {
    units::human_size(n as f64, 4)
}

/// `SIZE (PCT%)` when there is anything at all, as docker writes it.
fn reclaimable(reclaimable: i64, total: i64) -> String {
    if total > 0 {
        format!("{} ({}%)", human(reclaimable), reclaimable * 100 / total)
    } else {
        human(reclaimable)
    }
}

fn active(state: &str) -> bool {
    matches!(state, "running" | "paused" | "restarting")
}

/// docker's four summary rows.
pub fn summary_rows(du: &DiskUsage) -> Vec<serde_json::Value> {
    let images = du.images.as_deref().unwrap_or_default();
    let containers = du.containers.as_deref().unwrap_or_default();
    let volumes = du.volumes.as_deref().unwrap_or_default();
    let build = du.build_cache.as_deref().unwrap_or_default();
    let row = |t: &str, total: usize, act: usize, size: String, recl: String| {
        serde_json::json!({"Type": t, "TotalCount": total.to_string(), "Active": act.to_string(),
            "Size": size, "Reclaimable": recl})
    };
    let used: i64 = images
        .iter()
        .filter(|i| i.containers != 0 && i.size != -1 && i.shared_size != -1)
        .map(|i| i.size - i.shared_size)
        .sum();
    let c_total: i64 = containers.iter().map(|c| c.size_rw).sum();
    let c_free: i64 = containers.iter().filter(|c| !active(&c.state)).map(|c| c.size_rw).sum();
    let usage = |v: &Volume| v.usage_data.as_ref().map_or((-1, 0), |u| (u.size, u.ref_count));
    let v_total: i64 = volumes.iter().map(|v| usage(v).0).filter(|s| *s != -1).sum();
    let v_free: i64 = volumes
        .iter()
        .map(usage)
        .filter(|(s, refs)| *s != -1 && *refs == 0)
        .map(|(s, _)| s)
        .sum();
    vec![
        row(
            "Images",
            images.len(),
            images.iter().filter(|i| i.containers > 0).count(),
            human(du.layers_size),
            reclaimable(du.layers_size - used, du.layers_size),
        ),
        row(
            "Containers",
            containers.len(),
            containers.iter().filter(|c| active(&c.state)).count(),
            human(c_total),
            reclaimable(c_free, c_total),
        ),
        row(
            "Local Volumes",
            volumes.len(),
            volumes.iter().filter(|v| usage(v).1 > 0).count(),
            human(v_total),
            reclaimable(v_free, v_total),
        ),
        row("Build Cache", build.len(), 0, human(0), human(0)),
    ]
}

const SUMMARY_HEADER: [(&str, &str); 5] = [
    ("Type", "TYPE"),
    ("TotalCount", "TOTAL"),
    ("Active", "ACTIVE"),
    ("Size", "SIZE"),
    ("Reclaimable", "RECLAIMABLE"),
];

pub fn summary(du: &DiskUsage, format: Option<&str>) -> anyhow::Result<String> {
    let f = match format {
        None | Some("") | Some("table") => "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        Some("json") => "{{json .}}",
        Some(f) => f,
    };
    Ok(format::render(f, &summary_rows(du), &SUMMARY_HEADER)?)
}

fn image_row(i: &ImageSummary, now: i64) -> Vec<String> {
    let (repo, tag) = match i.repo_tags.first().map(|t| split_repo_tag(t)) {
        Some((r, Some(t))) if r != "<none>" => (r.to_string(), t.to_string()),
        _ => ("<none>".to_string(), "<none>".to_string()),
    };
    let or_na = |n: i64, f: &dyn Fn(i64) -> String| if n == -1 { "N/A".to_string() } else { f(n) };
    vec![
        repo,
        tag,
        truncate_id(&i.id).to_string(),
        units::time_ago(i.created, now),
        units::human_size(i.size as f64, 3),
        or_na(i.shared_size, &human),
        if i.size == -1 || i.shared_size == -1 {
            "N/A".to_string()
        } else {
            human(i.size - i.shared_size)
        },
        or_na(i.containers, &|n| n.to_string()),
    ]
}

fn container_row(c: &ContainerSummary, now: i64) -> Vec<String> {
    let r = ps::row(c, now, true);
    let local = c
        .mounts
        .iter()
        .filter(|m| m.get("Driver").and_then(|d| d.as_str()) == Some("local"))
        .count();
    vec![
        r[0].clone(),
        r[1].clone(),
        r[2].clone(),
        local.to_string(),
        units::human_size(c.size_rw as f64, 3),
        r[3].clone(),
        r[4].clone(),
        r[6].clone(),
    ]
}

fn volume_row(v: &Volume) -> Vec<String> {
    let (links, size) = match &v.usage_data {
        Some(u) => (u.ref_count.to_string(), human(u.size)),
        None => ("N/A".to_string(), "N/A".to_string()),
    };
    vec![v.name.clone(), links, size]
}

/// `df -v`: a table per kind under docker's titles.
pub fn verbose(du: &DiskUsage, now: i64) -> String {
    let images: Vec<Vec<String>> = du.images.iter().flatten().map(|i| image_row(i, now)).collect();
    let containers: Vec<Vec<String>> = du.containers.iter().flatten().map(|c| container_row(c, now)).collect();
    let volumes: Vec<Vec<String>> = du.volumes.iter().flatten().map(volume_row).collect();
    let mut out = String::from("Images space usage:\n\n");
    out.push_str(&table::render(
        &[
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "CREATED",
            "SIZE",
            "SHARED SIZE",
            "UNIQUE SIZE",
            "CONTAINERS",
        ],
        &images,
    ));
    out.push_str("\nContainers space usage:\n\n");
    out.push_str(&table::render(
        &[
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "LOCAL VOLUMES",
            "SIZE",
            "CREATED",
            "STATUS",
            "NAMES",
        ],
        &containers,
    ));
    out.push_str("\nLocal Volumes space usage:\n\n");
    out.push_str(&table::render(&["VOLUME NAME", "LINKS", "SIZE"], &volumes));
    out.push_str(&format!("\nBuild cache usage: {}\n\n", human(0)));
    out.push_str(&table::render(
        &[
            "CACHE ID",
            "CACHE TYPE",
            "SIZE",
            "CREATED",
            "LAST USED",
            "USAGE",
            "SHARED",
        ],
        &[],
    ));
    out
}

#[cfg(test)]
mod tests {
    use pier_api::volume::UsageData;

    use super::*;

    fn usage() -> DiskUsage {
        DiskUsage {
            layers_size: 4_261_000,
            images: Some(vec![ImageSummary {
                id: "sha256:0123456789abcdef".into(),
                repo_tags: vec!["busybox:latest".into()],
                created: 1000,
                size: 4_261_000,
                shared_size: 0,
                containers: 1,
                ..ImageSummary::default()
            }]),
            containers: Some(vec![
                ContainerSummary {
                    id: "4f66ad9a0b2e3c1d".into(),
                    names: vec!["/web".into()],
                    image: "busybox".into(),
                    command: "sleep 100".into(),
                    created: 1000,
                    state: "running".into(),
                    status: "Up 5 seconds".into(),
                    size_rw: 3000,
                    ..ContainerSummary::default()
                },
                ContainerSummary {
                    id: "0123456789abcdef".into(),
                    names: vec!["/old".into()],
                    image: "busybox".into(),
                    command: "true".into(),
                    created: 900,
                    state: "exited".into(),
                    status: "Exited (0) 1 second ago".into(),
                    size_rw: 1000,
                    ..ContainerSummary::default()
                },
            ]),
            volumes: Some(vec![Volume {
                name: "data".into(),
                usage_data: Some(UsageData {
                    size: 2048,
                    ref_count: 0,
                }),
                ..Volume::default()
            }]),
            build_cache: Some(Vec::new()),
        }
    }

    #[test]
    fn summary_like_docker() {
        let want = "\
TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE
Images          1         1         4.261MB   0B (0%)
Containers      2         1         4kB       1kB (25%)
Local Volumes   1         0         2.048kB   2.048kB (100%)
Build Cache     0         0         0B        0B
";
        assert_eq!(summary(&usage(), None).expect("render"), want);
        assert_eq!(
            summary(&usage(), Some("{{.Type}}={{.Size}}")).expect("render"),
            "Images=4.261MB\nContainers=4kB\nLocal Volumes=2.048kB\nBuild Cache=0B\n"
        );
    }

    #[test]
    fn verbose_tables() {
        let out = verbose(&usage(), 1005);
        assert!(
            out.starts_with("Images space usage:\n\nREPOSITORY   TAG       IMAGE ID"),
            "{out}"
        );
        assert!(
            out.contains(
                "busybox      latest    0123456789ab   5 seconds ago   4.26MB    0B            4.261MB       1\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("\nContainers space usage:\n\nCONTAINER ID   IMAGE     COMMAND       LOCAL VOLUMES   SIZE"),
            "{out}"
        );
        assert!(
            out.contains(
                "\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\ndata          0         2.048kB\n"
            ),
            "{out}"
        );
        assert!(
            out.ends_with(
                "\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n"
            ),
            "{out}"
        );
    }
}
