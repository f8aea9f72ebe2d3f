//! `pier container prune` (the rest of docker's `container` group lives
//! at the top level: `pier ps`, `pier rm`, …).

use std::io::{self, Write};

use anyhow::Context;
use clap::{Args, Subcommand};
use pier_client::Client;

use super::parse_filters;
use crate::render::units;

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Remove all stopped containers
    #[command(override_usage = "pier container prune [OPTIONS]")]
    Prune(ContainerPruneArgs),
}

#[derive(Debug, Args)]
pub struct ContainerPruneArgs {
    /// Provide filter values (e.g. `until=<timestamp>`)
    #[arg(long = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
}

pub fn container(client: &Client, cmd: ContainerCommand) -> anyhow::Result<i32> {
    match cmd {
        ContainerCommand::Prune(a) => prune(client, &a),
    }
}

/// docker's prompt and report: the deleted ids, a blank line, the space
/// reclaimed (0B when nothing was deleted).
fn prune(client: &Client, a: &ContainerPruneArgs) -> anyhow::Result<i32> {
    let filters = parse_filters(&a.filter)?;
    if !a.force {
        print!("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
        io::stdout().flush().context("flush stdout")?;
        let mut answer = String::new();
        io::stdin().read_line(&mut answer).context("read answer")?;
        // docker 28 takes `y` or `Y` only (`yes` cancels too).
        if !answer.trim().eq_ignore_ascii_case("y") {
            return Ok(0);
        }
    }
    let pruned = client.container_prune(&filters)?;
    let deleted = pruned.containers_deleted.unwrap_or_default();
    let mut reclaimed = 0;
    if !deleted.is_empty() {
        println!("Deleted Containers:");
        for id in &deleted {
            println!("{id}");
        }
        println!();
        reclaimed = pruned.space_reclaimed;
    }
    println!("Total reclaimed space: {}", units::human_size(reclaimed as f64, 3));
    Ok(0)
}
