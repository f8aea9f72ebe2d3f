//! `pier run` and `pier create`.
//!
//! Foreground run follows docker's order: create, attach (hijack), send the
//! wait request, start, copy the streams until the output ends, then exit
//! with the container's status from the wait.

use std::io::{self, Read, Write};
use std::thread;

use anyhow::Context;
use pier_api::stdcopy::StreamType;
use pier_client::{AttachOptions, Client, WaitCondition};
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};
use signal_hook::iterator::Signals;

use crate::cli::{ContainerFlags, CreateArgs, RunArgs};
use crate::commands::create_request::{self, Sources};
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
    let created = client.container_create(flags.name.as_deref(), &req)?;
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
    let attach = AttachOptions {
        stdin: flags.interactive,
        ..Default::default()
    };
    let hijacked = match client.container_attach(id, &attach) {
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

    let raw = if flags.tty && flags.interactive {
        tty::RawMode::enable().context("set terminal raw mode")?
    } else {
        None
    };
    spawn_signal_thread(
        client.host().to_string(),
        id.to_string(),
        flags.tty,
        a.sig_proxy,
        raw.as_ref().map(tty::RawMode::saved),
    )?;

    if flags.interactive {
        let mut sock = hijacked.try_clone_stream().context("clone attach stream")?;
        thread::spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut buf = [0u8; 32 * 1024];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if sock.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = sock.shutdown(std::net::Shutdown::Write);
        });
    }

    client.container_start(id)?;

    let mut output = hijacked.into_output(flags.tty, format!("attach {id}"));
    let stdout = io::stdout();
    let stderr = io::stderr();
    while let Some((kind, bytes)) = output.next_chunk()? {
        let r = match kind {
            StreamType::Stderr | StreamType::SystemErr => {
                let mut e = stderr.lock();
                e.write_all(&bytes).and_then(|()| e.flush())
            }
            _ => {
                let mut o = stdout.lock();
                o.write_all(&bytes).and_then(|()| o.flush())
            }
        };
        if r.is_err() {
            break;
        }
    }
    drop(raw);
    let status = wait.result()?;
    if let Some(e) = status.error {
        anyhow::bail!("{}", e.message);
    }
    Ok(status.status_code as i32)
}

/// Forward signals to the container (sig-proxy, non-TTY), send window size
/// changes (TTY), and restore the terminal before dying of a signal in
/// raw mode.
fn spawn_signal_thread(
    host: String,
    id: String,
    tty_mode: bool,
    sig_proxy: bool,
    saved: Option<rustix::termios::Termios>,
) -> anyhow::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH])
        .context("install signal handlers")?;
    thread::spawn(move || {
        let Ok(client) = Client::new(&host) else { return };
        if tty_mode {
            if let Some([h, w]) = tty::size() {
                let _ = client.container_resize(&id, h as u16, w as u16);
            }
        }
        for sig in signals.forever() {
            if sig == SIGWINCH {
                if let (true, Some([h, w])) = (tty_mode, tty::size()) {
                    let _ = client.container_resize(&id, h as u16, w as u16);
                }
                continue;
            }
            if sig_proxy && !tty_mode {
                let _ = client.container_kill(&id, Some(&sig.to_string()));
                continue;
            }
            if let Some(t) = &saved {
                tty::restore(t);
            }
            std::process::exit(128 + sig);
        }
    });
    Ok(())
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
