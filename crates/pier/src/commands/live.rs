//! Verbs on a running container's processes: `pause`, `unpause`, `top`.

use clap::Args;
use pier_client::Client;

use super::each_id;
use crate::cli::IdsArgs;
use crate::render::table;

#[derive(Debug, Args)]
pub struct TopArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Options for ps, as docker passes them (joined with spaces).
    #[arg(value_name = "ps OPTIONS", trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn pause(client: &Client, a: &IdsArgs) -> anyhow::Result<i32> {
    Ok(each_id(&a.containers, true, |id| client.container_pause(id)))
}

pub fn unpause(client: &Client, a: &IdsArgs) -> anyhow::Result<i32> {
    Ok(each_id(&a.containers, true, |id| client.container_unpause(id)))
}

/// docker's table: ps's titles and rows, Go tabwriter minwidth 20.
pub fn top(client: &Client, a: &TopArgs) -> anyhow::Result<i32> {
    let top = client.container_top(&a.container, &a.ps_args.join(" "))?;
    let titles: Vec<&str> = top.titles.iter().map(String::as_str).collect();
    print!("{}", table::render_min(&titles, &top.processes, 20));
    Ok(0)
}
