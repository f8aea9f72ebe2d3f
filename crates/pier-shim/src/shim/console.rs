//! The terminal (`tty`): the runtime creates a pty and sends its master fd
//! over `--console-socket`. The master is then the container's only output
//! (logged as stdout); duplicates are kept for input (`open_stdin`) and
//! resize ([`Terminal`]).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::Context;
use mio::net::{UnixListener, UnixStream};
use mio::unix::pipe::Receiver;
use mio::{Interest, Registry, Token};
use pier_shim_proto::{ErrorCode, Response};
use pier_sys::Errno;

use super::stdin::StdinPipe;
use super::{Shim, CONSOLE, STDIN, STDOUT};

/// The socket the runtime sends the master to, until it has.
pub(super) struct Console {
    path: PathBuf,
    listener: UnixListener,
    conn: Option<UnixStream>,
}

impl Console {
    pub(super) fn bind(path: &Path, registry: &Registry) -> anyhow::Result<Console> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("remove {}", path.display())),
        }
        let mut listener =
            crate::peer::bind(path, |p| UnixListener::bind(p)).with_context(|| format!("bind {}", path.display()))?;
        registry
            .register(&mut listener, CONSOLE, Interest::READABLE)
            .context("register console socket")?;
        Ok(Console {
            path: path.to_owned(),
            listener,
            conn: None,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Accept the runtime's connection and read the master, if it is there
    /// yet.
    fn poll_master(&mut self, registry: &Registry) -> anyhow::Result<Option<OwnedFd>> {
        while self.conn.is_none() {
            match self.listener.accept() {
                Ok((conn, _)) if !crate::peer::admit(&conn, "console") => {}
                Ok((mut conn, _)) => {
                    registry
                        .register(&mut conn, Token(CONSOLE.0 + 1), Interest::READABLE)
                        .context("register console connection")?;
                    self.conn = Some(conn);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e).context("accept console connection"),
            }
        }
        let Some(conn) = &self.conn else {
            return Ok(None);
        };
        // runc sends the pty's name as the payload.
        let mut name = [0u8; 256];
        match pier_sys::scm::recv_fds(conn.as_fd(), &mut name) {
            Ok((_, mut fds)) if !fds.is_empty() => Ok(Some(fds.swap_remove(0))),
            Ok((0, _)) => anyhow::bail!("runtime closed the console socket without a terminal"),
            Ok(_) => Ok(None),
            Err(pier_sys::SysError::Call {
                errno: Errno::EAGAIN, ..
            }) => Ok(None),
            Err(e) => Err(e).context("receive terminal"),
        }
    }

    fn close(mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.listener);
        if let Some(mut conn) = self.conn.take() {
            let _ = registry.deregister(&mut conn);
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The container's terminal (`tty`): the console socket until the master
/// comes, then the master, kept for resize. The master's output side goes
/// to [`super::output::Output`], its input side to the container's stdin.
pub(super) struct Terminal {
    console: Option<Console>,
    master: Option<OwnedFd>,
}

impl Terminal {
    pub(super) fn new(console: Option<Console>) -> Terminal {
        Terminal { console, master: None }
    }

    /// Where the runtime sends the master, while nothing came yet.
    pub(super) fn console_path(&self) -> Option<PathBuf> {
        self.console.as_ref().map(|c| c.path().to_owned())
    }

    /// The master came.
    pub(super) fn has_master(&self) -> bool {
        self.master.is_some()
    }

    /// The console socket is readable: take the master when it comes, as
    /// the container's `stdout` and (with `open_stdin`) its `stdin`.
    fn on_console(
        &mut self,
        registry: &Registry,
        open_stdin: bool,
        stdout: &mut Option<Receiver>,
        stdin: &mut Option<StdinPipe>,
    ) {
        let Some(console) = self.console.as_mut() else {
            return;
        };
        match console.poll_master(registry) {
            Ok(None) => {}
            Ok(Some(master)) => {
                self.close_console(registry);
                if let Err(e) = self.take_master(master, registry, open_stdin, stdout, stdin) {
                    tracing::error!(error = format!("{e:#}"), "set up terminal");
                }
            }
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "console socket");
                self.close_console(registry);
            }
        }
    }

    fn take_master(
        &mut self,
        master: OwnedFd,
        registry: &Registry,
        open_stdin: bool,
        stdout: &mut Option<Receiver>,
        stdin: &mut Option<StdinPipe>,
    ) -> anyhow::Result<()> {
        let input = master.try_clone().context("dup terminal")?;
        let mut output = Receiver::from(master);
        output.set_nonblocking(true).context("set terminal nonblocking")?;
        registry
            .register(&mut output, STDOUT, Interest::READABLE)
            .context("register terminal")?;
        *stdout = Some(output);
        if open_stdin {
            let fd = input.try_clone().context("dup terminal")?;
            *stdin = Some(StdinPipe::new(fd, registry, STDIN).context("register terminal input")?);
        }
        self.master = Some(input);
        tracing::info!("terminal received");
        Ok(())
    }

    /// Drop the console socket (on exit, or when no terminal came).
    pub(super) fn close_console(&mut self, registry: &Registry) {
        if let Some(console) = self.console.take() {
            console.close(registry);
        }
    }

    pub(super) fn resize(&self, height: u16, width: u16) -> Response {
        resize(self.master.as_ref(), height, width)
    }
}

/// Size a terminal, if there is one.
pub(super) fn resize(terminal: Option<&OwnedFd>, height: u16, width: u16) -> Response {
    let Some(terminal) = terminal else {
        return Response::Error {
            message: "no terminal to resize".to_owned(),
            code: ErrorCode::Invalid,
        };
    };
    match pier_sys::term::set_window_size(terminal.as_fd(), height, width) {
        Ok(()) => Response::Ok,
        Err(e) => Response::Error {
            message: format!("resize terminal: {e}"),
            code: ErrorCode::Internal,
        },
    }
}

impl Shim {
    pub(super) fn on_console(&mut self) {
        let registry = self.poll.registry();
        self.terminal
            .on_console(registry, self.cfg.open_stdin, &mut self.output.stdout, &mut self.stdin);
    }

    pub(super) fn close_console(&mut self) {
        self.terminal.close_console(self.poll.registry());
    }
}

/// A pty master reads EIO once every slave fd is closed: its EOF.
pub(super) fn is_terminal_eof(e: &io::Error) -> bool {
    e.raw_os_error() == Some(Errno::EIO as i32)
}
