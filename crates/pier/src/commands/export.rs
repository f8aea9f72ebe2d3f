//! `pier export`: a container's filesystem as a tar, to `-o FILE` or stdout.

use std::io::Write;

use anyhow::{bail, Context};
use clap::Args;
use pier_client::Client;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long = "output")]
    pub output: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

pub fn export(client: &Client, a: &ExportArgs) -> anyhow::Result<i32> {
    match a.output.as_deref() {
        Some(path) if path != "-" => {
            let mut f = std::fs::File::create(path).with_context(|| format!("create {path}"))?;
            client.container_export(&a.container, &mut f)?;
            f.sync_all().with_context(|| format!("write {path}"))?;
        }
        _ => {
            if rustix::termios::isatty(std::io::stdout()) {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let mut out = std::io::stdout().lock();
            client.container_export(&a.container, &mut out)?;
            out.flush().context("write stdout")?;
        }
    }
    Ok(0)
}
