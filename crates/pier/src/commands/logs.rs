//! `pier logs`.

use std::io::{self, Write};

use pier_api::stdcopy::StreamType;
use pier_client::{Client, LogsOptions};

use crate::cli::LogsArgs;

/// The logs query for the flags (times relative to `now`).
pub fn options(a: &LogsArgs, now: i64) -> anyhow::Result<LogsOptions> {
    let conv = |v: &Option<String>| -> anyhow::Result<Option<String>> {
        v.as_deref()
            .map(|s| pier_time::since_value(s, now))
            .transpose()
            .map_err(Into::into)
    };
    Ok(LogsOptions {
        stdout: true,
        stderr: true,
        follow: a.follow,
        timestamps: a.timestamps,
        tail: Some(a.tail.clone()),
        since: conv(&a.since)?,
        until: conv(&a.until)?,
        details: a.details,
    })
}

/// Prints the stream: stdout and stderr buffered and flushed whenever the
/// next chunk would wait on the connection (so `-f` shows lines as they
/// come while a full read writes big blocks), or when the stream switches.
pub fn logs(client: &Client, a: &LogsArgs) -> anyhow::Result<i32> {
    let opts = options(a, pier_time::now_unix())?;
    let mut stream = client.container_logs(&a.container, &opts)?;
    let mut out = io::BufWriter::with_capacity(256 << 10, io::stdout().lock());
    let mut err = io::BufWriter::with_capacity(64 << 10, io::stderr().lock());
    let mut last_err = false;
    let result = (|| -> io::Result<()> {
        // Pieces borrowed from the read buffer: no allocation per frame.
        while let Some((kind, bytes)) = stream.next_piece().map_err(io::Error::other)? {
            let is_err = matches!(kind, StreamType::Stderr | StreamType::SystemErr);
            if is_err != last_err {
                // Keep the order of stdout and stderr lines on a terminal.
                if is_err {
                    out.flush()?
                } else {
                    err.flush()?
                }
                last_err = is_err;
            }
            if is_err {
                err.write_all(bytes)?;
            } else {
                out.write_all(bytes)?;
            }
            if stream.buffered() == 0 {
                out.flush()?;
                err.flush()?;
            }
        }
        out.flush()?;
        err.flush()
    })();
    match result {
        Ok(()) => Ok(0),
        // `pier logs x | head`: the reader left; stop quietly.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(anyhow::Error::new(e).context("write logs")),
    }
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
        assert!(!o.details);
        let cli = crate::cli::Cli::try_parse_from(["pier", "logs", "--details", "-t", "c"]).expect("parse");
        let Some(crate::cli::Command::Logs(a)) = cli.command else {
            panic!("not logs")
        };
        let o = options(&a, 100).expect("options");
        assert!(o.details && o.timestamps);
    }
}
