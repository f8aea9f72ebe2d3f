//! `pier run` and `pier create`.
//!
//! Foreground run follows docker's order: create, attach (hijack), send the
//! wait request, start, copy the streams until the output ends, then exit
//! with the container's status from the wait.
//!
//! `--pull` takes docker's values: `missing` (default) pulls when the
//! daemon answers "No such image" and retries, `always` pulls first,
//! `never` does not pull. `--platform` is validated as docker validates it
//! but not sent: the client's create has no platform parameter yet.
//! `--cidfile` is refused when the file exists, created before the
//! request and filled with the id after, as docker does.

use anyhow::Context;
use pier_client::{Client, WaitCondition};

use crate::cli::{ContainerFlags, CreateArgs, RunArgs};
use crate::commands::attach::{self, Ended, Session};
use crate::commands::create_request::{self, Mode, Sources};
use crate::detach_keys;
use crate::tty;

/// docker's `toStatusError`: 127 when the command was not found, 126 when
/// it could not be invoked, 125 for anything else the daemon refused.
pub fn status_for_error(message: &str) -> i32 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
        || message.contains("system cannot find the file specified")
    {
        127
    } else if message.contains("permission denied") || message.contains("is a directory") {
        126
    } else {
        125
    }
}

/// A daemon without the attach endpoint answers 404 (no route) or 405, not
/// "No such container".
fn attach_unsupported(e: &pier_client::Error) -> bool {
    match e {
        pier_client::Error::Daemon { status: 405 | 501, .. } => true,
        pier_client::Error::Daemon { status: 404, message } => !message.starts_with("No such container"),
        _ => false,
    }
}

/// Print a run/create failure as docker does and pick the exit code.
fn report(verb: &str, err: &anyhow::Error) -> i32 {
    let message = crate::user_message(err);
    eprintln!("pier: {message}\n\nRun 'pier {verb} --help' for more information");
    status_for_error(&message)
}

fn read_files(paths: &[String]) -> anyhow::Result<Vec<String>> {
    paths
        .iter()
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("open {p}")))
        .collect()
}

/// docker's `validatePullOpt`.
fn validate_pull(pull: &str) -> anyhow::Result<()> {
    if matches!(pull, "always" | "missing" | "never" | "") {
        return Ok(());
    }
    anyhow::bail!("invalid pull option: '{pull}': must be one of \"always\", \"missing\" or \"never\"")
}

/// docker's `--cidfile`: refuse an existing file, create it before the
/// container, write the id after.
fn cid_file(path: Option<&str>) -> anyhow::Result<Option<(std::fs::File, &str)>> {
    let Some(path) = path.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    if std::path::Path::new(path).exists() {
        anyhow::bail!("container ID file found, make sure the other container isn't running or delete {path}");
    }
    let file = std::fs::File::create(path).context("failed to create the container ID file")?;
    Ok(Some((file, path)))
}

fn create_container(client: &Client, flags: &ContainerFlags, mode: Mode) -> anyhow::Result<String> {
    validate_pull(&flags.pull)?;
    let env_files = read_files(&flags.env_file)?;
    let label_files = read_files(&flags.label_file)?;
    let lookup = |k: &str| std::env::var(k).ok();
    let src = Sources {
        env_files: &env_files,
        label_files: &label_files,
        lookup: &lookup,
        console_size: tty::size(),
    };
    let req = create_request::build(flags, mode, &src)?;
    let req = create_request::for_api_version(req, client.api_version()?);
    if let Some(p) = flags.platform.as_deref().filter(|p| !p.is_empty()) {
        crate::opts::platform(p)?;
    }
    let cid = cid_file(flags.cidfile.as_deref())?;
    let pull =
        |missing: bool| crate::commands::image_transfer::pull_for_run(client, flags.image(), missing, flags.quiet);
    if flags.pull == "always" {
        pull(false)?;
    }
    // --pull=missing (the default): pull an image the daemon lacks, then retry.
    let created = match client.container_create(flags.name.as_deref(), &req) {
        Err(pier_client::Error::Daemon { status: 404, message })
            if message.starts_with("No such image") && flags.pull == "missing" =>
        {
            pull(true)?;
            client.container_create(flags.name.as_deref(), &req)?
        }
        other => other?,
    };
    for w in created.warnings.iter().flatten() {
        eprintln!("WARNING: {w}");
    }
    if let Some((mut file, path)) = cid {
        use std::io::Write;
        file.write_all(created.id.as_bytes())
            .with_context(|| format!("failed to write the container ID to the file {path}"))?;
    }
    Ok(created.id)
}

pub fn create(client: &Client, a: CreateArgs) -> anyhow::Result<i32> {
    match create_container(client, &a.flags, Mode::Create) {
        Ok(id) => {
            println!("{id}");
            Ok(0)
        }
        Err(e) => Ok(report("create", &e)),
    }
}

pub fn run(client: &Client, a: RunArgs) -> anyhow::Result<i32> {
    let id = match create_container(client, &a.flags, Mode::Run { detach: a.detach }) {
        Ok(id) => id,
        Err(e) => return Ok(report("run", &e)),
    };
    if a.detach {
        if let Err(e) = client.container_start(&id) {
            return Ok(report("run", &e.into()));
        }
        println!("{id}");
        return Ok(0);
    }
    match foreground(client, &id, &a) {
        Ok(code) => Ok(code),
        Err(e) => Ok(report("run", &e)),
    }
}

fn foreground(client: &Client, id: &str, a: &RunArgs) -> anyhow::Result<i32> {
    let flags = &a.flags;
    let keys = detach_keys::parse(a.detach_keys.as_deref().unwrap_or(detach_keys::DEFAULT))?;
    let session = Session {
        tty: flags.tty,
        stdin: flags.interactive,
        sig_proxy: a.sig_proxy,
        detach_keys: keys,
    };
    let hijacked = match client.container_attach(id, &attach::attach_options(&session)) {
        Ok(h) => h,
        Err(e) => {
            // Do not leave a container behind that nobody asked to keep.
            let _ = client.container_remove(id, true, false);
            if attach_unsupported(&e) {
                eprintln!("pier: foreground run needs attach, which this daemon does not serve yet; use -d");
                return Ok(125);
            }
            return Err(anyhow::Error::new(e).context("attach to container"));
        }
    };
    let cond = if flags.rm {
        WaitCondition::Removed
    } else {
        WaitCondition::NextExit
    };
    let wait = client.container_wait_begin(id, cond)?;
    let ended = attach::stream(client, id, hijacked, &session, || {
        client.container_start(id)?;
        Ok(())
    })?;
    if ended == Ended::Detached {
        return Ok(0);
    }
    let status = wait.result()?;
    if let Some(e) = status.error {
        anyhow::bail!("{}", e.message);
    }
    Ok(status.status_code as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_like_docker() {
        assert_eq!(
            status_for_error("failed to create task: exec: \"nope\": executable file not found in $PATH"),
            127
        );
        assert_eq!(status_for_error("exec /etc: permission denied"), 126);
        assert_eq!(status_for_error("No such image: x:latest"), 125);
    }
}
