//! `pier-shim <path-to-shim.json>`: one per container. It daemonizes, drives
//! the OCI runtime, owns the container's stdio and log, reaps its init,
//! records the exit and serves pierd's RPC, including attach streams and
//! execs (their stdio, their exit codes). The start handshake and exit
//! protocol are documented in `pier-shim-proto`. `pier-shim --recover` is
//! the one-shot form pierd runs for a container whose shim is lost.
//!
//! It must not use threads, an async runtime or HTTP, and never dials the
//! daemon.

mod conn;
mod decide;
mod diag;
mod exit_record;
mod failure;
mod feed;
mod health;
mod oom;
mod peer;
mod recover;
mod shim;
mod sink;

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use pier_shim_proto::{Ready, ShimConfig};

use crate::shim::{send_ready, Shim, Stdio3};
use crate::sink::{Discard, LogSink};

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let config = match args.as_slice() {
        [a] if a == "--recover" => return recover::main(),
        [a] if a != "-h" && a != "--help" => PathBuf::from(a),
        _ => {
            eprintln!("usage: pier-shim <path-to-shim.json> | pier-shim --recover < request.json");
            return ExitCode::from(2);
        }
    };
    // Move the ready pipe off fd 1 onto a close-on-exec fd, so that from here
    // on 0/1/2 are /dev/null and no child can inherit the pipe.
    let ready = match pier_sys::fd::dup_cloexec(std::io::stdout().as_fd()) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("pier-shim: take ready pipe: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = pier_sys::fd::null_stdio(pier_sys::fd::Stdio::ALL) {
        send_ready(ready, &failed(format!("null stdio: {e}")));
        return ExitCode::FAILURE;
    }
    let cfg = match read_config(&config) {
        Ok(cfg) => cfg,
        Err(e) => {
            send_ready(ready, &failed(format!("{e:#}")));
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = detach(&ready) {
        send_ready(ready, &failed(format!("{e:#}")));
        return ExitCode::FAILURE;
    }
    // From here on this is the daemon; the original process has exited.
    if let Err(e) = diag::init(&cfg.shim_log) {
        send_ready(ready, &failed(format!("{e:#}")));
        return ExitCode::FAILURE;
    }
    tracing::info!(id = %cfg.id, pid = pier_sys::process::pid().as_raw(), "shim starting");
    let shim = match setup(cfg) {
        Ok(shim) => shim,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "set up shim");
            send_ready(ready, &failed(format!("{e:#}")));
            return ExitCode::FAILURE;
        }
    };
    match shim.run(ready) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "shim failed");
            ExitCode::FAILURE
        }
    }
}

fn failed(message: String) -> Ready {
    Ready::Failed {
        message,
        code: pier_shim_proto::ErrorCode::Invalid,
    }
}

fn read_config(path: &Path) -> anyhow::Result<ShimConfig> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    let cfg: ShimConfig = serde_json::from_slice(&bytes).with_context(|| format!("parse {}", path.display()))?;
    if let Some(rel) = relative_path(&cfg) {
        anyhow::bail!("{}: path {} is not absolute", path.display(), rel.display());
    }
    Ok(cfg)
}

/// The first path in `cfg` that is relative (the shim runs from `/`). The
/// runtime may be a bare name looked up in `PATH`.
fn relative_path(cfg: &ShimConfig) -> Option<&Path> {
    let runtime_ok = cfg.runtime.is_absolute() || cfg.runtime.components().count() == 1;
    if !runtime_ok {
        return Some(&cfg.runtime);
    }
    [
        &cfg.bundle,
        &cfg.runtime_root,
        &cfg.socket,
        &cfg.exit_path,
        &cfg.shim_log,
        &cfg.log.path,
    ]
    .into_iter()
    .map(PathBuf::as_path)
    .find(|p| !p.is_absolute())
}

/// Fork away from pierd, lead a session, become the subreaper, and close
/// every inherited fd but the ready pipe.
fn detach(ready: &OwnedFd) -> anyhow::Result<()> {
    pier_sys::process::daemonize().context("daemonize")?;
    // Hold no directory of pierd's busy.
    std::env::set_current_dir("/").context("chdir /")?;
    pier_sys::process::set_child_subreaper().context("set child subreaper")?;
    pier_sys::fd::close_all_except(&[ready.as_fd()]).context("close inherited fds")?;
    Ok(())
}

fn setup(cfg: ShimConfig) -> anyhow::Result<Shim> {
    let sink = open_sink(&cfg)?;
    let stdio = Stdio3::new(cfg.open_stdin, cfg.tty)?;
    Shim::new(cfg, stdio, sink)
}

fn open_sink(cfg: &ShimConfig) -> anyhow::Result<Box<dyn LogSink>> {
    match cfg.log.driver.as_str() {
        "none" => Ok(Box::new(Discard)),
        "json-file" | "cri" => Ok(Box::new(
            crate::sink::JsonFile::open(&cfg.log).with_context(|| format!("open log {}", cfg.log.path.display()))?,
        )),
        other => anyhow::bail!("unsupported log driver {other:?}"),
    }
}
