//! `pier volume create|ls|inspect|rm|prune`.

use std::io::{self, Write};

use anyhow::Context;
use clap::{Args, Subcommand};
use pier_api::volume::VolumeCreateRequest;
use pier_client::Client;

use super::{key_values, parse_filters};
use crate::commands::template::Template;
use crate::render::{table, units};

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    #[command(override_usage = "pier volume create [OPTIONS] [VOLUME]")]
    Create(VolumeCreateArgs),
    /// List volumes
    #[command(alias = "list")]
    #[command(override_usage = "pier volume ls [OPTIONS]")]
    Ls(VolumeLsArgs),
    /// Display detailed information on one or more volumes
    #[command(override_usage = "pier volume inspect [OPTIONS] VOLUME [VOLUME...]")]
    Inspect(VolumeInspectArgs),
    /// Remove one or more volumes
    #[command(alias = "remove")]
    #[command(override_usage = "pier volume rm [OPTIONS] VOLUME [VOLUME...]")]
    Rm(VolumeRmArgs),
    /// Remove unused local volumes
    #[command(override_usage = "pier volume prune [OPTIONS]")]
    Prune(VolumePruneArgs),
}

#[derive(Debug, Args)]
pub struct VolumeCreateArgs {
    /// Specify volume driver name
    #[arg(short = 'd', long = "driver", default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume
    #[arg(long = "label")]
    pub label: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    /// Specify volume name
    #[arg(long = "name")]
    pub name_flag: Option<String>,
    #[arg(value_name = "VOLUME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct VolumeLsArgs {
    /// Only display volume names
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a Go template subset ({{.Name}})
    #[arg(long = "format")]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct VolumeInspectArgs {
    /// Format output using a Go template subset
    #[arg(short = 'f', long = "format")]
    pub format: Option<String>,
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumeRmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumePruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Provide filter values (e.g. `label=<label>`)
    #[arg(long = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
}

pub fn volume(client: &Client, cmd: VolumeCommand) -> anyhow::Result<i32> {
    match cmd {
        VolumeCommand::Create(a) => create(client, &a),
        VolumeCommand::Ls(a) => ls(client, &a),
        VolumeCommand::Inspect(a) => inspect(client, &a),
        VolumeCommand::Rm(a) => rm(client, &a),
        VolumeCommand::Prune(a) => prune(client, &a),
    }
}

fn create(client: &Client, a: &VolumeCreateArgs) -> anyhow::Result<i32> {
    if a.name.is_some() && a.name_flag.is_some() && a.name != a.name_flag {
        anyhow::bail!("conflicting options: either specify --name or provide positional arg, not both");
    }
    let req = VolumeCreateRequest {
        name: a.name.clone().or_else(|| a.name_flag.clone()).unwrap_or_default(),
        driver: a.driver.clone(),
        driver_opts: (!a.opt.is_empty()).then(|| key_values(&a.opt)),
        labels: (!a.label.is_empty()).then(|| key_values(&a.label)),
    };
    let v = client.volume_create(&req)?;
    println!("{}", v.name);
    Ok(0)
}

fn ls(client: &Client, a: &VolumeLsArgs) -> anyhow::Result<i32> {
    let filters = parse_filters(&a.filter)?;
    let list = client.volume_list(&filters)?;
    if a.quiet {
        for v in &list.volumes {
            println!("{}", v.name);
        }
        return Ok(0);
    }
    if let Some(f) = a.format.as_deref() {
        let t = Template::parse(f)?;
        for v in &list.volumes {
            let value = serde_json::json!({
                "Name": v.name, "Driver": v.driver, "Mountpoint": v.mountpoint, "Scope": v.scope,
                "Labels": v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            });
            println!("{}", t.render(&value));
        }
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list
        .volumes
        .iter()
        .map(|v| vec![v.driver.clone(), v.name.clone()])
        .collect();
    print!("{}", table::render(&["DRIVER", "VOLUME NAME"], &rows));
    Ok(0)
}

fn inspect(client: &Client, a: &VolumeInspectArgs) -> anyhow::Result<i32> {
    super::inspect::print_each(&a.names, a.format.as_deref(), |n| {
        client.volume_inspect_raw(n).map_err(|e| e.to_string())
    })
}

fn rm(client: &Client, a: &VolumeRmArgs) -> anyhow::Result<i32> {
    Ok(super::each_id(&a.names, true, |n| client.volume_remove(n, a.force)))
}

fn prune(client: &Client, a: &VolumePruneArgs) -> anyhow::Result<i32> {
    if !a.force {
        let what = if a.all {
            "all local volumes not used by at least one container"
        } else {
            "anonymous local volumes not used by at least one container"
        };
        print!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
        io::stdout().flush().context("flush stdout")?;
        let mut answer = String::new();
        io::stdin().read_line(&mut answer).context("read answer")?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let mut filters = parse_filters(&a.filter)?;
    if a.all {
        filters.add("all", "true");
    }
    let pruned = client.volume_prune(&filters)?;
    if !pruned.volumes_deleted.is_empty() {
        println!("Deleted Volumes:");
        for v in &pruned.volumes_deleted {
            println!("{v}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        units::human_size(pruned.space_reclaimed as f64, 3)
    );
    Ok(0)
}
