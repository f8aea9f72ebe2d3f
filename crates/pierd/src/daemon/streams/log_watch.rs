//! Change notifications for log followers: one inotify instance for the
//! daemon and one watch per followed container directory, shared by all of
//! that container's followers. An idle follower is a parked task holding a
//! `watch` receiver: no thread, no timer, no file reads.
//!
//! A follower subscribes *before* it reads, so nothing written in between
//! is missed, and waits on [`Subscription::changed`] between drains. Events
//! on the log's files (the live file, rotated and compressed ones: names
//! starting with the live file's name) bump a counter in the directory's
//! `watch` channel: wake-ups coalesce, and one that arrives while a
//! follower drains is seen by its next wait. A queue overflow wakes every
//! follower. One thread reads the events for the whole daemon (it blocks
//! in `poll` on the inotify fd and a pipe that closes when the watcher is
//! dropped). Where inotify is unavailable (no instance, the per-user watch
//! limit reached, the directory gone), the subscription ticks every
//! [`FALLBACK_POLL`] instead.

use std::collections::HashMap;
use std::ffi::OsString;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use tokio::sync::watch;

/// How often a subscription without inotify looks for new lines.
pub(crate) const FALLBACK_POLL: Duration = Duration::from_millis(100);

/// What a directory watch reports: writes, and the renames, creations and
/// removals of a rotation.
fn watch_flags() -> WatchFlags {
    WatchFlags::MODIFY
        | WatchFlags::CREATE
        | WatchFlags::MOVED_TO
        | WatchFlags::MOVED_FROM
        | WatchFlags::DELETE
        | WatchFlags::ONLYDIR
}

/// The daemon's log watcher; inotify and its thread are set up on first
/// use.
#[derive(Default)]
pub(crate) struct LogWatch {
    inner: OnceLock<Option<Started>>,
}

struct Started {
    inner: Arc<Inner>,
    /// Dropping it (with the watcher) ends the reader thread.
    _stop: OwnedFd,
}

impl std::fmt::Debug for LogWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.inner.get() {
            None => "idle",
            Some(None) => "polling",
            Some(Some(_)) => "inotify",
        };
        f.debug_struct("LogWatch").field("state", &state).finish()
    }
}

struct Inner {
    fd: OwnedFd,
    watches: Mutex<Watches>,
}

impl Inner {
    fn watches(&self) -> MutexGuard<'_, Watches> {
        self.watches.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The directories watched, by watch descriptor and by path.
#[derive(Default)]
struct Watches {
    by_wd: HashMap<i32, Dir>,
    /// Every path a watch was asked for (aliases of one directory share
    /// its wd).
    by_path: HashMap<PathBuf, i32>,
    /// Numbers the watches, so a subscription never touches a later watch
    /// that reused its wd.
    next_serial: u64,
}

struct Dir {
    serial: u64,
    /// Events on names starting with this wake the followers.
    prefix: OsString,
    tx: watch::Sender<u64>,
    /// Live subscriptions; the watch is removed with the last one.
    users: usize,
}

impl Watches {
    fn wake(&mut self, wd: i32) {
        if let Some(d) = self.by_wd.get(&wd) {
            d.tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    fn wake_all(&mut self) {
        for d in self.by_wd.values() {
            d.tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// The kernel dropped the watch (directory removed): its subscribers'
    /// receivers close and they fall back to polling.
    fn forget(&mut self, wd: i32) {
        if self.by_wd.remove(&wd).is_some() {
            self.by_path.retain(|_, w| *w != wd);
        }
    }
}

/// One inotify event, as far as followers care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event<'a> {
    pub wd: i32,
    pub flags: ReadFlags,
    pub name: Option<&'a [u8]>,
}

/// What an event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Wake the followers of this watch.
    Wake(i32),
    /// Events were lost: wake everyone.
    WakeAll,
    /// The watch is gone (its directory was removed).
    Forget(i32),
    Nothing,
}

/// The action for one event, given the watched directory's log prefix
/// (`None`: not a watch we know).
pub(crate) fn action(ev: &Event<'_>, prefix: Option<&[u8]>) -> Action {
    if ev.flags.contains(ReadFlags::QUEUE_OVERFLOW) {
        return Action::WakeAll;
    }
    let Some(prefix) = prefix else {
        return Action::Nothing;
    };
    if ev.flags.contains(ReadFlags::IGNORED) {
        return Action::Forget(ev.wd);
    }
    match ev.name {
        Some(name) if name.starts_with(prefix) => Action::Wake(ev.wd),
        // Events on the directory itself (deleted, moved).
        None => Action::Wake(ev.wd),
        Some(_) => Action::Nothing,
    }
}

/// Waits for changes to one log.
#[derive(Debug)]
pub(crate) struct Subscription {
    wake: Wake,
}

#[derive(Debug)]
enum Wake {
    Notify { rx: watch::Receiver<u64>, _guard: Guard },
    Tick(tokio::time::Interval),
}

fn ticker() -> Wake {
    let mut t = tokio::time::interval(FALLBACK_POLL);
    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    t.reset();
    Wake::Tick(t)
}

impl Subscription {
    /// Resolves when the log may have grown (or, polling, after a tick).
    pub(crate) async fn changed(&mut self) {
        match &mut self.wake {
            Wake::Notify { rx, .. } => {
                if rx.changed().await.is_err() {
                    // The directory's watch is gone: poll from now on.
                    self.wake = ticker();
                }
            }
            Wake::Tick(t) => {
                t.tick().await;
            }
        }
    }

    /// Whether it waits on inotify (false: polling).
    #[cfg(test)]
    pub(crate) fn notified(&self) -> bool {
        matches!(self.wake, Wake::Notify { .. })
    }
}

/// Drops a subscriber of a watch; the last one removes the watch.
struct Guard {
    inner: Arc<Inner>,
    wd: i32,
    serial: u64,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").field("wd", &self.wd).finish()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut w = self.inner.watches();
        let Some(d) = w.by_wd.get_mut(&self.wd).filter(|d| d.serial == self.serial) else {
            return;
        };
        d.users -= 1;
        if d.users == 0 {
            w.forget(self.wd);
            // Fails harmlessly when the kernel already dropped it.
            let _ = inotify::remove_watch(&self.inner.fd, self.wd);
        }
    }
}

impl LogWatch {
    fn started(&self) -> Option<&Started> {
        self.inner.get_or_init(start).as_ref()
    }

    /// Subscribe to changes of the log at `path` (its directory is
    /// watched). Must be called within the runtime (a polling subscription
    /// needs its timer).
    pub(crate) fn subscribe(&self, path: &Path) -> Subscription {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Subscription { wake: ticker() };
        };
        let Some(started) = self.started() else {
            return Subscription { wake: ticker() };
        };
        let inner = &started.inner;
        let mut w = inner.watches();
        let wd = match w.by_path.get(dir) {
            Some(&wd) => wd,
            None => match inotify::add_watch(&inner.fd, dir, watch_flags()) {
                Ok(wd) => {
                    // The same directory under another name shares its wd.
                    if !w.by_wd.contains_key(&wd) {
                        let serial = w.next_serial;
                        w.next_serial += 1;
                        w.by_wd.insert(
                            wd,
                            Dir {
                                serial,
                                prefix: name.to_os_string(),
                                tx: watch::Sender::new(0),
                                users: 0,
                            },
                        );
                    }
                    w.by_path.insert(dir.to_path_buf(), wd);
                    wd
                }
                Err(e) => {
                    tracing::debug!(error = %e, dir = %dir.display(), "watch log directory; polling");
                    return Subscription { wake: ticker() };
                }
            },
        };
        let Some(d) = w.by_wd.get_mut(&wd) else {
            return Subscription { wake: ticker() };
        };
        d.users += 1;
        let rx = d.tx.subscribe();
        let serial = d.serial;
        drop(w);
        Subscription {
            wake: Wake::Notify {
                rx,
                _guard: Guard {
                    inner: inner.clone(),
                    wd,
                    serial,
                },
            },
        }
    }
}

/// Set up the inotify instance and its reader thread; `None` (poll) when
/// inotify is unavailable.
fn start() -> Option<Started> {
    let set_up = || -> std::io::Result<Started> {
        let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?;
        let (stop_rx, stop_tx) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let inner = Arc::new(Inner {
            fd,
            watches: Mutex::new(Watches::default()),
        });
        let reader = inner.clone();
        std::thread::Builder::new()
            .name("log-watch".to_string())
            .spawn(move || read_events(&reader, &stop_rx))?;
        Ok(Started { inner, _stop: stop_tx })
    };
    match set_up() {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "inotify unavailable: log followers poll");
            None
        }
    }
}

/// The reader thread: wait for events (or the stop pipe closing), wake
/// the followers they concern.
fn read_events(inner: &Inner, stop: &OwnedFd) {
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 64 << 10];
    loop {
        let mut fds = [PollFd::new(&inner.fd, PollFlags::IN), PollFd::new(stop, PollFlags::IN)];
        match rustix::event::poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                tracing::error!(error = %e, "wait for inotify events: log followers stall");
                return;
            }
        }
        if !fds[1].revents().is_empty() {
            return;
        }
        let mut actions = Vec::new();
        {
            let w = inner.watches();
            let mut reader = inotify::Reader::new(&inner.fd, &mut buf);
            loop {
                match reader.next() {
                    Ok(ev) => {
                        let name = ev.file_name().map(|n| n.to_bytes());
                        let prefix = w.by_wd.get(&ev.wd()).map(|d| d.prefix.as_bytes());
                        let ev = Event {
                            wd: ev.wd(),
                            flags: ev.events(),
                            name,
                        };
                        actions.push(action(&ev, prefix));
                    }
                    Err(rustix::io::Errno::AGAIN) => break,
                    Err(rustix::io::Errno::INTR) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "read inotify events");
                        break;
                    }
                }
            }
        }
        let mut w = inner.watches();
        for a in actions {
            match a {
                Action::Wake(wd) => w.wake(wd),
                Action::WakeAll => w.wake_all(),
                Action::Forget(wd) => w.forget(wd),
                Action::Nothing => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(wd: i32, flags: ReadFlags, name: Option<&[u8]>) -> Event<'_> {
        Event { wd, flags, name }
    }

    #[test]
    fn actions_by_name_and_flag() {
        let p: Option<&[u8]> = Some(b"abc-json.log");
        assert_eq!(
            action(&ev(3, ReadFlags::MODIFY, Some(b"abc-json.log")), p),
            Action::Wake(3)
        );
        assert_eq!(
            action(&ev(3, ReadFlags::MOVED_TO, Some(b"abc-json.log.1")), p),
            Action::Wake(3)
        );
        assert_eq!(
            action(&ev(3, ReadFlags::CREATE, Some(b"abc-json.log.2.gz")), p),
            Action::Wake(3)
        );
        assert_eq!(
            action(&ev(3, ReadFlags::MODIFY, Some(b"container.json")), p),
            Action::Nothing
        );
        assert_eq!(
            action(&ev(3, ReadFlags::MODIFY, Some(b"abc-json.log")), None),
            Action::Nothing
        );
        assert_eq!(action(&ev(3, ReadFlags::IGNORED, None), p), Action::Forget(3));
        assert_eq!(action(&ev(3, ReadFlags::DELETE_SELF, None), p), Action::Wake(3));
        assert_eq!(action(&ev(-1, ReadFlags::QUEUE_OVERFLOW, None), None), Action::WakeAll);
    }

    async fn woken_within(sub: &mut Subscription, ms: u64) -> bool {
        tokio::time::timeout(Duration::from_millis(ms), sub.changed())
            .await
            .is_ok()
    }

    async fn woken(sub: &mut Subscription) -> bool {
        woken_within(sub, 5_000).await
    }

    /// Not woken for a while (one write may be several events).
    async fn quiet(sub: &mut Subscription) -> bool {
        for _ in 0..10 {
            if !woken_within(sub, 300).await {
                return true;
            }
        }
        false
    }

    #[tokio::test]
    async fn wakes_on_the_log_only_and_shares_one_watch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("c-json.log");
        let w = LogWatch::default();
        let mut a = w.subscribe(&log);
        let mut b = w.subscribe(&log);
        assert!(a.notified() && b.notified());
        let started = w.started().expect("inotify");
        assert_eq!(started.inner.watches().by_wd.len(), 1);

        std::fs::write(dir.path().join("container.json"), b"{}").expect("write");
        assert!(!woken_within(&mut a, 300).await, "woken by another file");

        std::fs::write(&log, b"line\n").expect("write log");
        assert!(woken(&mut a).await);
        assert!(woken(&mut b).await);
        // Wake-ups coalesce: the next wait blocks until the next write.
        assert!(quiet(&mut a).await);
        std::fs::rename(&log, dir.path().join("c-json.log.1")).expect("rotate");
        assert!(woken(&mut a).await);

        drop(a);
        assert_eq!(started.inner.watches().by_wd.len(), 1);
        drop(b);
        assert!(started.inner.watches().by_wd.is_empty());
        assert!(started.inner.watches().by_path.is_empty());
    }

    #[tokio::test]
    async fn removed_directory_falls_back_to_polling() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub_dir = dir.path().join("c");
        std::fs::create_dir(&sub_dir).expect("mkdir");
        let w = LogWatch::default();
        let mut a = w.subscribe(&sub_dir.join("c-json.log"));
        std::fs::remove_dir(&sub_dir).expect("rmdir");
        // Woken by the removal, then the watch is gone: ticks.
        assert!(woken(&mut a).await);
        let polling = tokio::time::timeout(Duration::from_secs(2), async {
            while a.notified() {
                a.changed().await;
            }
        })
        .await;
        assert!(polling.is_ok(), "still waiting on a removed directory's watch");
        assert!(woken(&mut a).await, "a polling subscription ticks");

        let missing = w.subscribe(&dir.path().join("nope/c-json.log"));
        assert!(!missing.notified());
    }
}
