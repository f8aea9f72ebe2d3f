//! `pier logs`.

use std::io::{self, Write};

use anyhow::Context;
use pier_api::stdcopy::StreamType;
use pier_client::{Client, LogsOptions};

use crate::cli::LogsArgs;
use crate::commands::now_unix;
use crate::timespec::timestamp;

/// The logs query for the flags (times relative to `now`).
pub fn options(a: &LogsArgs, now: i64) -> anyhow::Result<LogsOptions> {
    let conv = |v: &Option<String>| -> anyhow::Result<Option<String>> {
        v.as_deref().map(|s| timestamp(s, now)).transpose().map_err(Into::into)
    };
    Ok(LogsOptions {
        stdout: true,
        stderr: true,
        follow: a.follow,
        timestamps: a.timestamps,
        tail: Some(a.tail.clone()),
        since: conv(&a.since)?,
        until: conv(&a.until)?,
    })
}

pub fn logs(client: &Client, a: &LogsArgs) -> anyhow::Result<i32> {
    let opts = options(a, now_unix())?;
    let mut stream = client.container_logs(&a.container, &opts)?;
    let stdout = io::stdout();
    let stderr = io::stderr();
    while let Some((kind, bytes)) = stream.next_chunk()? {
        let written = match kind {
            StreamType::Stderr | StreamType::SystemErr => {
                let mut e = stderr.lock();
                e.write_all(&bytes).and_then(|()| e.flush())
            }
            _ => {
                let mut o = stdout.lock();
                o.write_all(&bytes).and_then(|()| o.flush())
            }
        };
        match written {
            // `pier logs x | head`: the reader left; stop quietly.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(0),
            r => r.context("write logs")?,
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn options_from_flags() {
        let cli = crate::cli::Cli::try_parse_from(["pier", "logs", "--since", "10s", "-n", "3", "c"]).expect("parse");
        let Some(crate::cli::Command::Logs(a)) = cli.command else {
            panic!("not logs")
        };
        let o = options(&a, 100).expect("options");
        assert_eq!(o.since.as_deref(), Some("90"));
        assert_eq!(o.tail.as_deref(), Some("3"));
        assert_eq!(o.until, None);
    }
}
