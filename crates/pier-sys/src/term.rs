//! Terminals: setting a pty's window size.

use std::os::fd::BorrowedFd;

use crate::{Ctx, Result};

/// Set the window size of the terminal `fd` (a pty master or slave), as
/// `TIOCSWINSZ`; the foreground process group gets `SIGWINCH`.
pub fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<()> {
    let ws = rustix::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(fd, ws)
        .map_err(std::io::Error::from)
        .ctx("ioctl TIOCSWINSZ")
}
