//! Signals as a readable fd (signalfd), so an event loop polls them.

use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::{Ctx, Result};

/// A non-blocking, close-on-exec signalfd for a fixed set of signals.
#[derive(Debug)]
pub struct Signals {
    fd: SignalFd,
}

impl Signals {
    /// Block `signals` for this thread and open a signalfd for them.
    ///
    /// Children spawned with `std::process::Command` start with an empty
    /// signal mask (std resets it), so blocking here does not leak into them.
    pub fn new(signals: &[Signal]) -> Result<Signals> {
        let mut set = SigSet::empty();
        for &s in signals {
            set.add(s);
        }
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None).ctx("sigprocmask")?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).ctx("signalfd")?;
        Ok(Signals { fd })
    }

    /// The next pending signal, `None` when none is.
    pub fn read(&self) -> Result<Option<Signal>> {
        loop {
            match self.fd.read_signal() {
                Ok(Some(info)) => {
                    if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
                        return Ok(Some(sig));
                    }
                }
                Ok(None) => return Ok(None),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).ctx("read signalfd"),
            }
        }
    }
}

impl AsFd for Signals {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
