//! `stats`: samples of one container's cgroup, once or one per second.
//!
//! A stream is a value the HTTP body pulls from: no task runs for it and
//! nothing is left behind when the client goes. Each sample reads the
//! cgroup files directly on a blocking thread (a few small reads, never a
//! runtime invocation); the cgroup is found once per init pid and its
//! files stay open between samples (`cgroup::OpenFiles`). As dockerd:
//! a container that is not running gives docker's empty sample (id and
//! name only), a stream keeps sampling until the container is removed, and
//! a single non-one-shot sample waits for a second one so that its
//! `precpu_stats` is filled.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::cgroup::host::{self, NetDev};
use crate::cgroup::{Cgroup, Cpu, OpenFiles, Usage};
use crate::daemon::{Container, Daemon, Live};
use crate::error::Result;
use crate::model::spec::NetworkMode;

/// docker's collection interval.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// The query of `GET /containers/{id}/stats`.
#[derive(Debug, Clone, Copy)]
pub struct StatsOptions {
    pub stream: bool,
    pub one_shot: bool,
}

/// The CPU part of a sample (what `precpu_stats` repeats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuSample {
    /// Unix nanoseconds.
    pub read: i64,
    pub cpu: Cpu,
    /// The host's CPU time, nanoseconds (`/proc/stat`).
    pub system_cpu_ns: u64,
    pub online_cpus: u32,
}

/// One reading of a running container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    pub cpu: CpuSample,
    pub usage: Usage,
    /// The interfaces of its network namespace (loopback left out);
    /// `None` for the host's network.
    pub networks: Option<Vec<(String, NetDev)>>,
    /// The machine's memory: docker reports it as the limit of a container
    /// without one.
    pub machine_memory: u64,
}

/// One JSON object of the response.
#[derive(Debug, Clone)]
pub struct StatsFrame {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    /// `None`: not running (docker's empty sample).
    pub sample: Option<Sample>,
    pub previous: Option<CpuSample>,
}

/// The samples of one request, pulled with [`StatsStream::next`].
pub struct StatsStream {
    c: Arc<Container>,
    opts: StatsOptions,
    /// The cgroup of the init pid and the files read, kept open.
    reader: Option<Reader>,
    previous: Option<CpuSample>,
    next_at: Option<Instant>,
    live: watch::Receiver<Live>,
    shutdown: watch::Receiver<bool>,
    done: bool,
}

impl Daemon {
    /// Start a stats request on container `key` (any state).
    pub fn stats(&self, key: &str, opts: StatsOptions) -> Result<StatsStream> {
        let c = self.lookup(key)?;
        Ok(StatsStream {
            live: c.subscribe(),
            c,
            opts,
            reader: None,
            previous: None,
            next_at: None,
            shutdown: self.shutdown_signal(),
            done: false,
        })
    }
}

impl StatsStream {
    /// The next frame; `None` once the request is answered, the container
    /// removed, or the daemon shutting down.
    pub async fn next(&mut self) -> Option<StatsFrame> {
        if self.done {
            return None;
        }
        if !self.opts.stream {
            self.done = true;
            if self.c.record().state.pid <= 0 {
                return Some(self.frame(None, None));
            }
            if self.opts.one_shot {
                let s = self.sample().await;
                return Some(self.frame(s, None));
            }
            let first = self.sample().await.map(|s| s.cpu);
            if !self.wait(Instant::now() + INTERVAL).await {
                return None;
            }
            let s = self.sample().await;
            return Some(self.frame(s, first));
        }
        if let Some(at) = self.next_at {
            if !self.wait(at).await {
                return None;
            }
        }
        let now = Instant::now();
        // Keep a steady one-second rhythm; after a stall, restart from now.
        self.next_at = Some(match self.next_at {
            Some(at) if at + INTERVAL > now => at + INTERVAL,
            _ => now + INTERVAL,
        });
        let s = self.sample().await;
        let previous = std::mem::replace(&mut self.previous, s.as_ref().map(|s| s.cpu.clone()));
        Some(self.frame(s, previous))
    }

    fn frame(&self, sample: Option<Sample>, previous: Option<CpuSample>) -> StatsFrame {
        let name = self.live.borrow().record.name.clone();
        StatsFrame {
            id: self.c.id.clone(),
            name,
            sample,
            previous,
        }
    }

    /// Sleep until `at`; false when the container is removed or the daemon
    /// stops first.
    async fn wait(&mut self, at: Instant) -> bool {
        let sleep = tokio::time::sleep_until(at);
        tokio::pin!(sleep);
        loop {
            if self.live.borrow().removed || *self.shutdown.borrow() {
                return false;
            }
            tokio::select! {
                () = &mut sleep => return true,
                changed = self.live.changed() => if changed.is_err() { return false },
                changed = self.shutdown.changed() => if changed.is_err() { return false },
            }
        }
    }

    /// Read the container's cgroup now; `None` when it is not running.
    async fn sample(&mut self) -> Option<Sample> {
        let rec = self.c.record();
        let pid = rec.state.pid;
        if pid <= 0 {
            // Let go of the files (a held /proc/<pid>/net/dev pins the
            // netns of a container that has ended).
            self.reader = None;
            return None;
        }
        let host_network = rec.spec.network == NetworkMode::Host;
        let cached = self.reader.take().filter(|r| r.pid == pid);
        let read = Daemon::blocking("read container stats", move || {
            Ok(read_sample(pid, cached, host_network))
        })
        .await;
        match read {
            Ok(Some((reader, sample))) => {
                self.reader = Some(reader);
                Some(sample)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(container = %self.c.id, error = %e, "read stats");
                None
            }
        }
    }
}

/// What one stream reads: a container init's cgroup and the files of
/// its samples, held open between samples.
struct Reader {
    pid: i32,
    cgroup: Cgroup,
    files: OpenFiles,
}

/// One sample of process `pid`'s cgroup (found anew unless `cached`).
fn read_sample(pid: i32, cached: Option<Reader>, host_network: bool) -> Option<(Reader, Sample)> {
    let mut r = match cached {
        Some(r) => r,
        None => Reader {
            pid,
            cgroup: Cgroup::of_pid(pid)?,
            files: OpenFiles::new(),
        },
    };
    let usage = r.cgroup.read(&mut r.files);
    let read = pier_time::now_nanos();
    let (system_cpu_ns, online_cpus) = host::system_cpu(&mut r.files).unwrap_or_default();
    let networks = if host_network {
        None
    } else {
        host::net_dev(pid, &mut r.files)
    };
    let sample = Sample {
        cpu: CpuSample {
            read,
            cpu: usage.cpu.clone(),
            system_cpu_ns,
            online_cpus,
        },
        usage,
        networks,
        machine_memory: machine_memory(),
    };
    Some((r, sample))
}

/// `/proc/meminfo`'s total, read once.
fn machine_memory() -> u64 {
    static TOTAL: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TOTAL.get_or_init(|| host::mem_total().unwrap_or(0))
}
