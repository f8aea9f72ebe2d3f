//! `pier diff`: changed files of a container (`C`, `A`, `D`).

use clap::Args;
use pier_client::Client;

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

pub fn diff(client: &Client, a: &DiffArgs) -> anyhow::Result<i32> {
    for c in client.container_changes(&a.container)? {
        let kind = match c.kind {
            0 => "C",
            1 => "A",
            2 => "D",
            _ => "?",
        };
        println!("{kind} {}", c.path);
    }
    Ok(0)
}
