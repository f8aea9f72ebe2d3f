//! Waiting for an observable state.

use std::time::{Duration, Instant};

/// How often [`wait_until`] polls.
pub const POLL: Duration = Duration::from_millis(20);

/// Poll `condition` every [`POLL`] until it holds or `timeout` passes;
/// returns whether it held (checked once more at the deadline). Wrap it in
/// `assert!` with a message naming the state waited for.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(POLL);
    }
    condition()
}

/// [`wait_until`], failing the test with `what` when the state is not
/// reached in time.
pub fn wait_for(what: &str, timeout: Duration, condition: impl FnMut() -> bool) {
    assert!(
        wait_until(timeout, condition),
        "timed out after {timeout:?} waiting for {what}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_at_once_or_times_out() {
        assert!(wait_until(Duration::ZERO, || true));
        let t = Instant::now();
        assert!(!wait_until(Duration::from_millis(60), || false));
        assert!(t.elapsed() >= Duration::from_millis(60));
        let mut n = 0;
        assert!(wait_until(Duration::from_secs(5), || {
            n += 1;
            n == 3
        }));
    }
}
