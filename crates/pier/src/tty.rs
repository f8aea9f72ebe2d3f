//! The local terminal: size and raw mode (restored when the guard drops).

use std::io::{self, IsTerminal};

use rustix::termios::{tcgetattr, tcgetwinsize, tcsetattr, OptionalActions, Termios};

/// `[height, width]` of the terminal on stdout, if it is one.
pub fn size() -> Option<[u32; 2]> {
    let out = io::stdout();
    if !out.is_terminal() {
        return None;
    }
    let ws = tcgetwinsize(&out).ok()?;
    (ws.ws_row > 0 && ws.ws_col > 0).then_some([u32::from(ws.ws_row), u32::from(ws.ws_col)])
}

/// Puts stdin's terminal in raw mode; the original settings come back on
/// drop (every normal and error path of the caller).
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// `Ok(None)` when stdin is not a terminal.
    pub fn enable() -> io::Result<Option<RawMode>> {
        let stdin = io::stdin();
        if !stdin.is_terminal() {
            return Ok(None);
        }
        let saved = tcgetattr(&stdin)?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(&stdin, OptionalActions::Now, &raw)?;
        Ok(Some(RawMode { saved }))
    }

    /// The settings to restore, for a signal handler thread that must
    /// restore before exiting.
    pub fn saved(&self) -> Termios {
        self.saved.clone()
    }
}

/// Restore saved terminal settings on stdin.
pub fn restore(saved: &Termios) {
    let _ = tcsetattr(io::stdin(), OptionalActions::Now, saved);
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore(&self.saved);
    }
}
