//! Streaming a hijacked attach connection to the local terminal: used by
//! foreground `run`, `start -a` and `attach`.
//!
//! Threads: this one copies output to stdout/stderr until the daemon ends
//! the stream; one copies stdin to the socket (matching the detach keys);
//! one handles signals (sig-proxy, SIGWINCH resizes, terminal restore).

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use anyhow::Context;
use pier_api::stdcopy::StreamType;
use pier_client::{AttachOptions, Client, Hijacked, WaitCondition};
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};
use signal_hook::iterator::Signals;

use crate::cli::AttachArgs;
use crate::detach_keys::{self, Feed, Matcher};
use crate::tty;

/// How to run one attach session.
#[derive(Debug, Clone)]
pub struct Session {
    pub tty: bool,
    pub stdin: bool,
    pub sig_proxy: bool,
    pub detach_keys: Vec<u8>,
}

/// Why the session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The daemon closed the output: the container ended (or was detached
    /// by the daemon).
    OutputClosed,
    /// The user typed the detach keys.
    Detached,
}

/// Attach options for a session. Detach keys other than the default go to
/// the daemon too (as docker's CLI sends them), so it does not detach on
/// its default keys when the user chose others.
pub fn attach_options(s: &Session) -> AttachOptions {
    AttachOptions {
        stdin: s.stdin,
        detach_keys: (detach_keys::parse(detach_keys::DEFAULT).ok().as_ref() != Some(&s.detach_keys))
            .then(|| keys_spec(&s.detach_keys)),
        ..Default::default()
    }
}

/// Detach key bytes back in docker's syntax (`ctrl-p,ctrl-q`).
pub fn keys_spec(keys: &[u8]) -> String {
    keys.iter()
        .map(|&b| match b {
            0 => "ctrl-@".to_string(),
            1..=26 => format!("ctrl-{}", (b'a' + b - 1) as char),
            27 => "ctrl-[".to_string(),
            28 => "ctrl-\\".to_string(),
            29 => "ctrl-]".to_string(),
            30 => "ctrl-^".to_string(),
            31 => "ctrl-_".to_string(),
            _ => (b as char).to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// What window size changes resize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResizeTarget {
    Container(String),
    Exec(String),
}

impl ResizeTarget {
    fn resize(&self, client: &Client, h: u16, w: u16) {
        let _ = match self {
            ResizeTarget::Container(id) => client.container_resize(id, h, w),
            ResizeTarget::Exec(id) => client.exec_resize(id, h, w),
        };
    }
}

/// Stream `hijacked` until it ends. `start` runs once the input and
/// signal threads are up (foreground run starts the container there).
pub fn stream(
    client: &Client,
    id: &str,
    hijacked: Hijacked,
    s: &Session,
    start: impl FnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<Ended> {
    stream_to(client, ResizeTarget::Container(id.to_string()), hijacked, s, start)
}

/// [`stream`] with window size changes going to `target`; signals are
/// forwarded (sig-proxy) only to a container.
pub fn stream_to(
    client: &Client,
    target: ResizeTarget,
    hijacked: Hijacked,
    s: &Session,
    start: impl FnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<Ended> {
    let label = match &target {
        ResizeTarget::Container(id) | ResizeTarget::Exec(id) => id.clone(),
    };
    let raw = if s.tty && s.stdin {
        tty::RawMode::enable().context("set terminal raw mode")?
    } else {
        None
    };
    spawn_signal_thread(
        client.host().to_string(),
        target,
        s.tty,
        s.sig_proxy,
        raw.as_ref().map(tty::RawMode::saved),
    )?;
    let detached = Arc::new(AtomicBool::new(false));
    if s.stdin {
        let sock = hijacked.try_clone_stream().context("clone attach stream")?;
        let flag = detached.clone();
        let keys = s.detach_keys.clone();
        thread::spawn(move || copy_stdin(sock, keys, &flag));
    }
    start()?;

    let mut output = hijacked.into_output(s.tty, format!("attach {label}"));
    // Straight to the descriptors, a write per piece: the output is not
    // held back in a buffer, and a 128 KiB piece is not cut at its last
    // newline as Stdout's line buffering would.
    let stdout = raw_out(io::stdout().as_fd())?;
    let stderr = raw_out(io::stderr().as_fd())?;
    loop {
        let (kind, bytes) = match output.next_piece() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(_) if detached.load(Ordering::SeqCst) => break,
            Err(e) => return Err(e.into()),
        };
        let mut to = match kind {
            StreamType::Stderr | StreamType::SystemErr => &stderr,
            _ => &stdout,
        };
        if to.write_all(bytes).is_err() {
            break;
        }
    }
    drop(raw);
    Ok(if detached.load(Ordering::SeqCst) {
        Ended::Detached
    } else {
        Ended::OutputClosed
    })
}

/// A second handle on stdout or stderr, written without Rust's buffering.
fn raw_out(fd: std::os::fd::BorrowedFd<'_>) -> anyhow::Result<std::fs::File> {
    Ok(std::fs::File::from(
        fd.try_clone_to_owned().context("duplicate output descriptor")?,
    ))
}

fn copy_stdin(mut sock: std::os::unix::net::UnixStream, keys: Vec<u8>, detached: &AtomicBool) {
    let mut matcher = Matcher::new(keys);
    let mut stdin = io::stdin().lock();
    let mut buf = [0u8; 32 * 1024];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        match matcher.feed(&buf[..n]) {
            Feed::Forward(bytes) => {
                if sock.write_all(&bytes).is_err() {
                    return;
                }
            }
            Feed::Detach(bytes) => {
                let _ = sock.write_all(&bytes);
                detached.store(true, Ordering::SeqCst);
                let _ = sock.shutdown(Shutdown::Both);
                return;
            }
        }
    }
    // EOF on our stdin: the container's stdin gets EOF, output keeps coming.
    let _ = sock.shutdown(Shutdown::Write);
}

/// Forward signals to the container (sig-proxy, non-TTY), send window size
/// changes (TTY), and restore the terminal before dying of a signal in
/// raw mode.
fn spawn_signal_thread(
    host: String,
    target: ResizeTarget,
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
                target.resize(&client, h as u16, w as u16);
            }
        }
        for sig in signals.forever() {
            if sig == SIGWINCH {
                if let (true, Some([h, w])) = (tty_mode, tty::size()) {
                    target.resize(&client, h as u16, w as u16);
                }
                continue;
            }
            if let (true, false, ResizeTarget::Container(id)) = (sig_proxy, tty_mode, &target) {
                let _ = client.container_kill(id, Some(&sig.to_string()));
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

/// `pier attach`: stream a running container; exit with its code when it
/// ends, 0 on detach.
pub fn attach(client: &Client, a: &AttachArgs) -> anyhow::Result<i32> {
    let info = client.container_inspect(&a.container)?;
    // docker's CLI checks, in its order and words.
    if !info.state.running {
        anyhow::bail!("You cannot attach to a stopped container, start it first");
    }
    if info.state.paused {
        anyhow::bail!("You cannot attach to a paused container, unpause it first");
    }
    if info.state.restarting {
        anyhow::bail!("You cannot attach to a restarting container, wait until it is running");
    }
    let keys = detach_keys::parse(a.detach_keys.as_deref().unwrap_or(detach_keys::DEFAULT))?;
    let s = Session {
        tty: info.config.tty,
        stdin: info.config.open_stdin && !a.no_stdin,
        sig_proxy: a.sig_proxy,
        detach_keys: keys,
    };
    let hijacked = client.container_attach(&a.container, &attach_options(&s))?;
    match stream(client, &info.id, hijacked, &s, || Ok(()))? {
        Ended::Detached => Ok(0),
        Ended::OutputClosed => {
            let status = client.container_wait(&info.id, WaitCondition::NotRunning)?;
            Ok(status.status_code as i32)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for spec in ["ctrl-p,ctrl-q", "ctrl-@,ctrl-\\,ctrl-_", "a,ctrl-z", "x"] {
            let bytes = detach_keys::parse(spec).expect("parse");
            assert_eq!(keys_spec(&bytes), spec);
        }
    }
}
