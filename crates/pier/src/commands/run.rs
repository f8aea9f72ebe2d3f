//! `pier run` and `pier create`.
//!
//! Foreground run follows docker's order: create, attach (hijack), send the
//! wait request, start, copy the streams until the output ends, then exit
//! with the container's status from the wait.

use anyhow::Context;
use pier_client::{Client, WaitCondition};

use crate::cli::{ContainerFlags, CreateArgs, RunArgs};
use crate::commands::attach::{self, Ended, Session};
use crate::commands::create_request::{self, Sources};
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

fn create_container(client: &Client, flags: &ContainerFlags, detach: bool) -> anyhow::Result<String> {
    let env_files = read_files(&flags.env_file)?;
    let label_files = read_files(&flags.label_file)?;
    let lookup = |k: &str| std::env::var(k).ok();
    let src = Sources {
        env_files: &env_files,
        label_files: &label_files,
        lookup: &lookup,
        console_size: tty::size(),
    };
    let req = create_request::build(flags, detach, &src)?;
    // docker's --pull=missing: pull an image the daemon lacks, then retry.
    let created = match client.container_create(flags.name.as_deref(), &req) {
        Err(pier_client::Error::Daemon { status: 404, message }) if message.starts_with("No such image") => {
            crate::commands::image_transfer::pull_for_run(client, flags.image())?;
            client.container_create(flags.name.as_deref(), &req)?
        }
        other => other?,
    };
    for w in created.warnings.iter().flatten() {
        eprintln!("WARNING: {w}");
    }
    Ok(created.id)
}

pub fn create(client: &Client, a: CreateArgs) -> anyhow::Result<i32> {
    match create_container(client, &a.flags, true) {
        Ok(id) => {
            println!("{id}");
            Ok(0)
        }
        Err(e) => Ok(report("create", &e)),
    }
}

pub fn run(client: &Client, a: RunArgs) -> anyhow::Result<i32> {
    let id = match create_container(client, &a.flags, a.detach) {
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
