//! `pier stats`: docker's live table of containers' usage. One collector
//! thread per container reads its stats stream; the table is drawn every
//! half second from the latest samples (in place on a terminal, as docker
//! does: cursor home, each line erased to its end, the rest cleared).
//! Without names it shows the running containers (all with `-a`), listed
//! again every second to pick up new ones (docker follows the event
//! stream for that).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use pier_api::stats::StatsResponse;
use pier_client::{Client, ListOptions};

use crate::render::text::truncate_id;
use crate::render::{format, units};

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Format output using a custom template
    #[arg(long = "format")]
    pub format: Option<String>,
    /// Containers (default: all running)
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// docker's default table.
pub const DEFAULT_FORMAT: &str =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// Column titles by field, as docker names them.
pub const HEADER: [(&str, &str); 9] = [
    ("Container", "CONTAINER"),
    ("Name", "NAME"),
    ("ID", "CONTAINER ID"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

/// One row: docker CLI's `StatsEntry`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    /// The container as the user named it (or its short id).
    pub container: String,
    pub name: String,
    pub id: String,
    pub cpu_percent: f64,
    pub memory: f64,
    pub memory_limit: f64,
    pub memory_percent: f64,
    pub net_rx: f64,
    pub net_tx: f64,
    pub block_read: f64,
    pub block_write: f64,
    pub pids: u64,
    /// No sample in time, or an error: shown as `--`.
    pub invalid: bool,
}

/// docker CLI's `calculateCPUPercentUnix`.
pub fn cpu_percent(s: &StatsResponse) -> f64 {
    let cpu_delta = s.cpu_stats.cpu_usage.total_usage as f64 - s.precpu_stats.cpu_usage.total_usage as f64;
    let system_delta = s.cpu_stats.system_cpu_usage as f64 - s.precpu_stats.system_cpu_usage as f64;
    let mut online = f64::from(s.cpu_stats.online_cpus);
    if online == 0.0 {
        online = s.cpu_stats.cpu_usage.percpu_usage.as_ref().map_or(0, Vec::len) as f64;
    }
    if system_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / system_delta * online * 100.0
    } else {
        0.0
    }
}

/// docker CLI's `calculateMemUsageUnixNoCache`: usage less inactive file
/// pages (`total_inactive_file` on v1, `inactive_file` on v2).
pub fn memory_usage(s: &StatsResponse) -> f64 {
    let m = &s.memory_stats;
    let empty = BTreeMap::new();
    let stats = m.stats.as_ref().unwrap_or(&empty);
    if let Some(&v) = stats.get("total_inactive_file") {
        if v < m.usage {
            return (m.usage - v) as f64;
        }
    }
    let v = stats.get("inactive_file").copied().unwrap_or(0);
    if v < m.usage {
        (m.usage - v) as f64
    } else {
        m.usage as f64
    }
}

/// A sample as a row.
pub fn entry(container: &str, s: &StatsResponse) -> Entry {
    let mem = memory_usage(s);
    let limit = s.memory_stats.limit as f64;
    let (mut read, mut write) = (0u64, 0u64);
    for e in s.blkio_stats.io_service_bytes_recursive.iter().flatten() {
        match e.op.as_bytes().first() {
            Some(b'r' | b'R') => read += e.value,
            Some(b'w' | b'W') => write += e.value,
            _ => {}
        }
    }
    let (mut rx, mut tx) = (0.0, 0.0);
    for n in s.networks.iter().flat_map(|n| n.values()) {
        rx += n.rx_bytes as f64;
        tx += n.tx_bytes as f64;
    }
    Entry {
        container: container.to_string(),
        name: s.name.clone(),
        id: s.id.clone(),
        cpu_percent: cpu_percent(s),
        memory: mem,
        memory_limit: limit,
        memory_percent: if limit != 0.0 { mem / limit * 100.0 } else { 0.0 },
        net_rx: rx,
        net_tx: tx,
        block_read: read as f64,
        block_write: write as f64,
        pids: s.pids_stats.current,
        invalid: false,
    }
}

fn percent(v: f64) -> String {
    format!("{v:.2}%")
}

/// The fields a `--format` template sees, as docker renders them.
pub fn row(e: &Entry, trunc: bool) -> serde_json::Value {
    let name = if e.name.len() > 1 {
        e.name[1..].to_string()
    } else {
        "--".to_string()
    };
    let id = if trunc {
        truncate_id(&e.id).to_string()
    } else {
        e.id.clone()
    };
    let dashes = |s: String| if e.invalid { "--".to_string() } else { s };
    serde_json::json!({
        "Container": e.container,
        "Name": name,
        "ID": id,
        "CPUPerc": dashes(percent(e.cpu_percent)),
        "MemUsage": if e.invalid {
            "-- / --".to_string()
        } else {
            format!("{} / {}", units::bytes_size(e.memory), units::bytes_size(e.memory_limit))
        },
        "MemPerc": dashes(percent(e.memory_percent)),
        "NetIO": dashes(format!("{} / {}", units::human_size(e.net_rx, 3), units::human_size(e.net_tx, 3))),
        "BlockIO": dashes(format!("{} / {}", units::human_size(e.block_read, 3), units::human_size(e.block_write, 3))),
        "PIDs": dashes(e.pids.to_string()),
    })
}

/// The table (or template output) for `entries`.
pub fn render(entries: &[Entry], format: Option<&str>, trunc: bool) -> anyhow::Result<String> {
    let rows: Vec<serde_json::Value> = entries.iter().map(|e| row(e, trunc)).collect();
    let f = match format {
        None | Some("") | Some("table") => DEFAULT_FORMAT,
        Some("json") => "{{json .}}",
        Some(f) => f,
    };
    Ok(format::render(f, &rows, &HEADER)?)
}

/// In-place redraw: cursor home, each line erased to its end, then the
/// rest of the screen cleared.
pub fn redraw(text: &str) -> String {
    let mut out = String::from("\x1b[H");
    for line in text.lines() {
        out.push_str(line);
        out.push_str("\x1b[K\n");
    }
    out.push_str("\x1b[J");
    out
}

/// One container's latest state, shared with its collector thread.
#[derive(Debug, Default)]
struct Slot {
    entry: Entry,
    error: Option<String>,
    /// Set by the collector after its first answer (sample or error).
    answered: bool,
    last: Option<Instant>,
    /// Asked to stop (the container left the list).
    dropped: bool,
}

type Slots = Arc<Mutex<Vec<(String, Arc<Mutex<Slot>>)>>>;

fn collect(client: &Client, container: &str, slot: &Mutex<Slot>, stream: bool) {
    let lock = |f: &mut dyn FnMut(&mut Slot)| {
        let mut s = slot.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s);
    };
    let samples = match client.container_stats(container, stream) {
        Ok(s) => s,
        Err(e) => {
            lock(&mut |s| {
                s.error = Some(e.to_string());
                s.entry.invalid = true;
                s.answered = true;
            });
            return;
        }
    };
    for sample in samples {
        let mut stop = false;
        lock(&mut |s| {
            match &sample {
                Ok(v) => {
                    s.entry = entry(container, v);
                    s.error = None;
                    s.last = Some(Instant::now());
                }
                Err(e) => {
                    s.error = Some(e.to_string());
                    s.entry.invalid = true;
                }
            }
            s.answered = true;
            stop = s.dropped;
        });
        if stop || !stream {
            return;
        }
    }
}

fn snapshot(slots: &Slots, stream: bool) -> Vec<Entry> {
    let list = slots.lock().unwrap_or_else(|p| p.into_inner());
    list.iter()
        .map(|(_, slot)| {
            let s = slot.lock().unwrap_or_else(|p| p.into_inner());
            let mut e = s.entry.clone();
            // docker zeroes a container with no sample for 2 s.
            let stale = stream && s.last.is_none_or(|t| t.elapsed() > Duration::from_secs(2));
            if s.error.is_some() || (stale && s.answered) {
                e.invalid = true;
            }
            e
        })
        .collect()
}

fn all_answered(slots: &Slots) -> bool {
    let list = slots.lock().unwrap_or_else(|p| p.into_inner());
    list.iter()
        .all(|(_, s)| s.lock().unwrap_or_else(|p| p.into_inner()).answered)
}

pub fn stats(client: &Client, a: &StatsArgs) -> anyhow::Result<i32> {
    let stream = !a.no_stream;
    let show_all = a.containers.is_empty();
    let slots: Slots = Arc::default();
    let tty = std::io::stdout().is_terminal();
    std::thread::scope(|scope| -> anyhow::Result<i32> {
        let add = |container: String| {
            let mut list = slots.lock().unwrap_or_else(|p| p.into_inner());
            if list.iter().any(|(c, _)| *c == container) {
                return;
            }
            let slot = Arc::new(Mutex::new(Slot {
                entry: Entry {
                    container: container.clone(),
                    ..Entry::default()
                },
                ..Slot::default()
            }));
            list.push((container.clone(), slot.clone()));
            scope.spawn(move || collect(client, &container, &slot, stream));
        };
        let list_containers = || {
            client.container_list(&ListOptions {
                all: a.all,
                ..ListOptions::default()
            })
        };
        if show_all {
            for c in list_containers()? {
                add(truncate_id(&c.id).to_string());
            }
        } else {
            for c in &a.containers {
                add(c.clone());
            }
        }
        // Wait for every container's first answer, as docker does.
        while !all_answered(&slots) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if !show_all {
            let list = slots.lock().unwrap_or_else(|p| p.into_inner());
            let errors: Vec<String> = list
                .iter()
                .filter_map(|(_, s)| s.lock().unwrap_or_else(|p| p.into_inner()).error.clone())
                .collect();
            if !errors.is_empty() {
                for (_, s) in list.iter() {
                    s.lock().unwrap_or_else(|p| p.into_inner()).dropped = true;
                }
                anyhow::bail!("{}", errors.join("\n"));
            }
        }
        let mut relisted = Instant::now();
        let mut stdout = std::io::stdout().lock();
        loop {
            let entries = snapshot(&slots, stream);
            let text = render(&entries, a.format.as_deref(), !a.no_trunc)?;
            let out = if stream && tty { redraw(&text) } else { text };
            if stdout.write_all(out.as_bytes()).and_then(|()| stdout.flush()).is_err() {
                // The reader went away: stop like a closed pipe stops docker.
                std::process::exit(0);
            }
            if !stream || (entries.is_empty() && !show_all) {
                return Ok(0);
            }
            std::thread::sleep(Duration::from_millis(500));
            if show_all && relisted.elapsed() >= Duration::from_secs(1) {
                relisted = Instant::now();
                if let Ok(now) = list_containers() {
                    let keep: Vec<String> = now.iter().map(|c| truncate_id(&c.id).to_string()).collect();
                    {
                        let mut list = slots.lock().unwrap_or_else(|p| p.into_inner());
                        list.retain(|(c, s)| {
                            let stay = keep.contains(c);
                            if !stay {
                                s.lock().unwrap_or_else(|p| p.into_inner()).dropped = true;
                            }
                            stay
                        });
                    }
                    for c in keep {
                        add(c);
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StatsResponse {
        serde_json::from_str(
            r#"{"name":"/web","id":"4f66ad9a0b2e3c1d4f66ad9a0b2e3c1d4f66ad9a0b2e3c1d4f66ad9a0b2e3c1d",
            "cpu_stats":{"cpu_usage":{"total_usage":300000000},"system_cpu_usage":2000000000,"online_cpus":2},
            "precpu_stats":{"cpu_usage":{"total_usage":100000000},"system_cpu_usage":1000000000,"online_cpus":2},
            "memory_stats":{"usage":10485760,"limit":1073741824,"stats":{"total_inactive_file":2097152}},
            "pids_stats":{"current":3},
            "blkio_stats":{"io_service_bytes_recursive":[{"major":8,"minor":0,"op":"Read","value":4096},
                {"major":8,"minor":0,"op":"Write","value":1000000},{"major":8,"minor":0,"op":"Total","value":1004096}]},
            "networks":{"eth0":{"rx_bytes":1296,"tx_bytes":1042}}}"#,
        )
        .expect("sample")
    }

    #[test]
    fn computes_as_docker_cli() {
        let e = entry("web", &sample());
        assert!((e.cpu_percent - 40.0).abs() < 1e-9, "{}", e.cpu_percent);
        assert_eq!(e.memory, 8_388_608.0);
        assert!((e.memory_percent - 0.78125).abs() < 1e-9);
        assert_eq!((e.block_read, e.block_write), (4096.0, 1_000_000.0));
        assert_eq!((e.net_rx, e.net_tx), (1296.0, 1042.0));
        let v2: StatsResponse =
            serde_json::from_str(r#"{"memory_stats":{"usage":1000,"stats":{"inactive_file":400}}}"#).expect("v2");
        assert_eq!(memory_usage(&v2), 600.0);
    }

    #[test]
    fn table_like_docker() {
        let mut stopped = Entry {
            container: "db".into(),
            name: "/db".into(),
            id: "0123456789abcdef".into(),
            ..Entry::default()
        };
        stopped.invalid = true;
        let out = render(&[entry("web", &sample()), stopped], None, true).expect("render");
        let want = "\
CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O          BLOCK I/O     PIDS
4f66ad9a0b2e   web       40.00%    8MiB / 1GiB         0.78%     1.3kB / 1.04kB   4.1kB / 1MB   3
0123456789ab   db        --        -- / --             --        --               --            --
";
        assert_eq!(out, want);
        let custom = render(
            &[entry("web", &sample())],
            Some("{{.Name}}: {{.CPUPerc}} {{.PIDs}}"),
            true,
        )
        .expect("render");
        assert_eq!(custom, "web: 40.00% 3\n");
    }

    #[test]
    fn redraws_in_place() {
        assert_eq!(redraw("A\nB\n"), "\x1b[HA\x1b[K\nB\x1b[K\n\x1b[J");
    }
}
