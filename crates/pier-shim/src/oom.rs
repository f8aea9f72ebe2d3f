//! Whether the kernel's OOM killer struck the container's cgroup: the
//! `oom_kill` counter of the memory controller (cgroup v1
//! `memory.oom_control`, v2 `memory.events`), read at create and at exit,
//! and a live notification while the container runs (v1: an eventfd
//! registered through `cgroup.event_control`; v2: inotify on
//! `memory.events`), so clients hear of an OOM kill of any process in the
//! container as it happens.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The counter file for the cgroup described by `/proc/<pid>/cgroup`
/// (`cgroup_root` is normally `/sys/fs/cgroup`). A v1 memory hierarchy wins
/// over the unified one, as on hybrid hosts only v1 has the controller.
pub fn counter_path(proc_cgroup: &str, cgroup_root: &Path) -> Option<PathBuf> {
    let mut unified = None;
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let rel = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == "memory") {
            return Some(cgroup_root.join("memory").join(rel).join("memory.oom_control"));
        }
        if controllers.is_empty() {
            unified = Some(rel.to_owned());
        }
    }
    let rel = unified?;
    let v2 = cgroup_root.join(&rel).join("memory.events");
    let hybrid = cgroup_root.join("unified").join(&rel).join("memory.events");
    Some(if v2.exists() || !hybrid.exists() { v2 } else { hybrid })
}

/// The `oom_kill N` count in a `memory.oom_control`/`memory.events` file.
pub fn parse_kills(text: &str) -> Option<u64> {
    field(text, "oom_kill")
}

fn field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|n| n.trim().parse().ok())
}

/// How many new OOM events one v2 notification (`memory.events` changed)
/// means: the growth of the `oom_kill` counter (the file also changes on
/// `max` and `high` events, which are not OOM kills). Returns the events
/// and the counter.
pub fn new_kills(last_kills: u64, text: &str) -> (u64, u64) {
    let kills = parse_kills(text).unwrap_or(last_kills).max(last_kills);
    (kills - last_kills, kills)
}

/// The counter for the cgroup of `pid`, if it can be read, with a live
/// notifier when one can be set up.
pub fn watch(pid: i32) -> Option<OomWatch> {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = counter_path(&cg, Path::new("/sys/fs/cgroup"))?;
    let baseline = read(&path).unwrap_or(0);
    let notifier = match notifier(&path) {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "no live OOM notification");
            None
        }
    };
    Some(OomWatch {
        path,
        baseline,
        last: baseline,
        events: 0,
        notifier,
    })
}

fn read(path: &Path) -> Option<u64> {
    parse_kills(&std::fs::read_to_string(path).ok()?)
}

/// v1: `eventfd` + `"<efd> <fd of memory.oom_control>"` written to the
/// cgroup's `cgroup.event_control`; v2: inotify on `memory.events`.
fn notifier(path: &Path) -> anyhow::Result<Notifier> {
    use anyhow::Context;
    if path.file_name().is_some_and(|n| n == "memory.oom_control") {
        let control = File::open(path).with_context(|| format!("open {}", path.display()))?;
        let efd = pier_sys::notify::event_fd()?;
        let event_control = path.with_file_name("cgroup.event_control");
        std::fs::write(&event_control, format!("{} {}", efd.as_raw_fd(), control.as_raw_fd()))
            .with_context(|| format!("write {}", event_control.display()))?;
        Ok(Notifier {
            fd: efd,
            _control: Some(control),
            v1: true,
        })
    } else {
        Ok(Notifier {
            fd: pier_sys::notify::watch_modify(path)?,
            _control: None,
            v1: false,
        })
    }
}

/// The descriptor that becomes readable on an OOM event.
#[derive(Debug)]
struct Notifier {
    fd: OwnedFd,
    /// v1: `memory.oom_control`, open for as long as the registration.
    _control: Option<File>,
    /// v1 eventfd (each signal is an OOM) rather than v2 inotify.
    v1: bool,
}

/// The OOM-kill counter at create, to compare at exit, and the live
/// events since.
#[derive(Debug)]
pub struct OomWatch {
    path: PathBuf,
    baseline: u64,
    /// The counter as last read.
    last: u64,
    /// OOM events noticed live.
    events: u64,
    notifier: Option<Notifier>,
}

impl OomWatch {
    /// What to poll for live events, while there is one.
    pub fn notifier(&self) -> Option<BorrowedFd<'_>> {
        self.notifier.as_ref().map(|n| n.fd.as_fd())
    }

    /// The notifier is readable: drain it, re-read the counter, and return
    /// the number of new events.
    ///
    /// v1 signals the eventfd as the cgroup goes under OOM, before the
    /// killer has picked (and counted) a victim: each signal is an event,
    /// as containerd counts them, unless the cgroup is gone (the eventfd
    /// also fires when it is removed). v2 counts `oom_kill`.
    pub fn on_notify(&mut self) -> u64 {
        let signals = match &self.notifier {
            Some(n) if n.v1 => pier_sys::notify::read_count(n.fd.as_fd()).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "read OOM eventfd");
                0
            }),
            Some(n) => {
                if let Err(e) = pier_sys::notify::drain(n.fd.as_fd()) {
                    tracing::warn!(error = %e, "drain OOM notifier");
                }
                0
            }
            None => 0,
        };
        let Ok(text) = std::fs::read_to_string(&self.path) else {
            return 0;
        };
        let (kills_seen, kills) = new_kills(self.last, &text);
        self.last = kills;
        let events = if self.notifier.as_ref().is_some_and(|n| n.v1) {
            signals
        } else {
            kills_seen
        };
        self.events += events;
        events
    }

    /// Live OOM events so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Stop listening (the container is gone); returns the descriptor's
    /// raw number for deregistration first.
    pub fn stop(&mut self) -> Option<OwnedFd> {
        self.notifier.take().map(|n| n.fd)
    }

    /// True when the counter grew since create, or an event was seen live.
    /// Read before `delete` removes the cgroup.
    pub fn killed(&self) -> bool {
        self.events > 0 || read(&self.path).is_some_and(|n| n > self.baseline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_memory_line() {
        let cg = "12:pids:/x\n5:memory:/pier/abc\n0::/user.slice\n";
        assert_eq!(
            counter_path(cg, Path::new("/sys/fs/cgroup")),
            Some(PathBuf::from("/sys/fs/cgroup/memory/pier/abc/memory.oom_control"))
        );
        let joined = "4:cpu,memory:/abc\n";
        assert!(counter_path(joined, Path::new("/c")).is_some_and(|p| p.ends_with("memory/abc/memory.oom_control")));
    }

    #[test]
    fn v2_only() {
        let cg = "0::/system.slice/abc\n";
        assert_eq!(
            counter_path(cg, Path::new("/nonexistent")),
            Some(PathBuf::from("/nonexistent/system.slice/abc/memory.events"))
        );
    }

    #[test]
    fn kills() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        assert_eq!(parse_kills(v1), Some(2));
        let v2 = "low 0\nhigh 0\nmax 0\noom 1\noom_kill 1\n";
        assert_eq!(parse_kills(v2), Some(1));
        assert_eq!(parse_kills("oom 1\n"), None);
    }

    #[test]
    fn v2_events_are_kills() {
        let v2 = "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(new_kills(0, v2), (1, 1));
        // `max` grew, nobody was killed.
        assert_eq!(new_kills(1, "max 9\noom 1\noom_kill 1\n"), (0, 1));
        assert_eq!(new_kills(1, "max 9\noom 3\noom_kill 3\n"), (2, 3));
        assert_eq!(new_kills(3, "garbled"), (0, 3));
    }
}
