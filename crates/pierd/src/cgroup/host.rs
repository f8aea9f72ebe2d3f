//! Host-wide numbers a stats sample carries: the system's CPU time and
//! online CPUs (`/proc/stat`), a network namespace's interface counters
//! (`/proc/<pid>/net/dev`) and the machine's memory (`/proc/meminfo`).

use std::path::Path;

use super::OpenFiles;

/// `USER_HZ` (see `v1::CLOCK_TICKS`).
const CLOCK_TICKS: u64 = 100;

/// The system CPU time docker reports: the first seven fields (user, nice,
/// system, idle, iowait, irq, softirq) of `/proc/stat`'s `cpu` line in
/// nanoseconds, and the number of `cpuN` lines.
pub fn parse_proc_stat(text: &str) -> Option<(u64, u32)> {
    let mut total = None;
    let mut cpus = 0u32;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("cpu") else {
            break;
        };
        if rest.starts_with(' ') {
            let fields: Vec<u64> = rest
                .split_whitespace()
                .take(7)
                .map(|f| f.parse().ok())
                .collect::<Option<_>>()?;
            if fields.len() < 7 {
                return None;
            }
            let ticks: u64 = fields.iter().sum();
            total = Some(ticks.saturating_mul(1_000_000_000 / CLOCK_TICKS));
        } else if rest.starts_with(|c: char| c.is_ascii_digit()) {
            cpus += 1;
        }
    }
    Some((total?, cpus))
}

/// Read `/proc/stat`.
pub fn system_cpu(files: &mut OpenFiles) -> Option<(u64, u32)> {
    parse_proc_stat(&files.text(Path::new("/proc/stat"))?)
}

/// One interface's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetDev {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// `/proc/<pid>/net/dev`: two header lines, then `name: 16 counters` per
/// interface. The loopback is left out, as docker leaves it out.
pub fn parse_net_dev(text: &str) -> Vec<(String, NetDev)> {
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, counters) = l.split_once(':')?;
            let name = name.trim();
            if name == "lo" || name.is_empty() {
                return None;
            }
            let v: Vec<u64> = counters
                .split_whitespace()
                .map(|f| f.parse().ok())
                .collect::<Option<_>>()?;
            if v.len() < 12 {
                return None;
            }
            Some((
                name.to_string(),
                NetDev {
                    rx_bytes: v[0],
                    rx_packets: v[1],
                    rx_errors: v[2],
                    rx_dropped: v[3],
                    tx_bytes: v[8],
                    tx_packets: v[9],
                    tx_errors: v[10],
                    tx_dropped: v[11],
                },
            ))
        })
        .collect()
}

/// The interfaces of the network namespace process `pid` is in.
pub fn net_dev(pid: i32, files: &mut OpenFiles) -> Option<Vec<(String, NetDev)>> {
    Some(parse_net_dev(&files.text(Path::new(&format!("/proc/{pid}/net/dev")))?))
}

/// `MemTotal` in bytes.
pub fn parse_mem_total(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        l.strip_prefix("MemTotal:")
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    })
}

/// The machine's memory (docker caps a container's unlimited memory limit
/// to it).
pub fn mem_total() -> Option<u64> {
    parse_mem_total(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat() {
        let t = "cpu  100 2 30 400 5 6 7 8 0 0\ncpu0 50 1 15 200 2 3 3 4 0 0\ncpu1 50 1 15 200 3 3 4 4 0 0\nintr 1 2\n";
        assert_eq!(parse_proc_stat(t), Some((550 * 10_000_000, 2)));
        assert_eq!(parse_proc_stat("intr 1\n"), None);
        assert_eq!(parse_proc_stat("cpu  1 2\n"), None);
    }

    #[test]
    fn net_dev_skips_loopback() {
        let t = "Inter-|   Receive                                                |  Transmit\n \
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
lo:     560       8    0    0    0     0          0         0      560       8    0    0    0     0       0          0\n  \
eth0:    1296      16    1    2    0     0          0         0     1042      11    3    4    0     0       0          0\n";
        let v = parse_net_dev(t);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].0, "eth0");
        assert_eq!(
            v[0].1,
            NetDev {
                rx_bytes: 1296,
                rx_packets: 16,
                rx_errors: 1,
                rx_dropped: 2,
                tx_bytes: 1042,
                tx_packets: 11,
                tx_errors: 3,
                tx_dropped: 4
            }
        );
    }

    #[test]
    fn meminfo() {
        assert_eq!(
            parse_mem_total("MemTotal:       16318412 kB\nMemFree: 1 kB\n"),
            Some(16_710_053_888)
        );
    }

    #[test]
    fn this_host() {
        let mut files = OpenFiles::new();
        let (ns, cpus) = system_cpu(&mut files).expect("/proc/stat");
        assert!(ns > 0 && cpus > 0);
        assert!(mem_total().expect("meminfo") > 0);
        let pid = i32::try_from(std::process::id()).expect("pid");
        assert!(net_dev(pid, &mut files).is_some());
    }
}
