//! Process memory (RSS and PSS from /proc/PID/smaps_rollup) and the process
//! tree lookups the memory metrics need.

use std::fs;

/// Resident and proportional set size of one process, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mem {
    pub rss_kib: u64,
    pub pss_kib: u64,
}

/// Parses the `Rss:` and `Pss:` lines of smaps_rollup text.
pub fn parse_smaps_rollup(text: &str) -> Option<Mem> {
    let mut rss = None;
    let mut pss = None;
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let key = it.next();
        let val = it.next().and_then(|v| v.parse::<u64>().ok());
        match key {
            Some("Rss:") => rss = val,
            Some("Pss:") => pss = val,
            _ => {}
        }
    }
    Some(Mem {
        rss_kib: rss?,
        pss_kib: pss?,
    })
}

/// The memory of `pid`, or `None` when it is gone.
pub fn of_pid(pid: i32) -> Option<Mem> {
    let text = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    parse_smaps_rollup(&text)
}

/// Parses the parent pid out of /proc/PID/stat text (the comm may hold
/// spaces and parentheses, so split after the last `)`).
pub fn parse_ppid(stat: &str) -> Option<i32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

pub fn ppid_of(pid: i32) -> Option<i32> {
    parse_ppid(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

pub fn comm_of(pid: i32) -> Option<String> {
    Some(fs::read_to_string(format!("/proc/{pid}/comm")).ok()?.trim().to_string())
}

/// Every pid on the machine.
pub fn all_pids() -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect()
}

/// The children of `parent`.
pub fn children_of(parent: i32) -> Vec<i32> {
    all_pids().into_iter().filter(|p| ppid_of(*p) == Some(parent)).collect()
}

/// Pids whose command line or working directory mentions `needle` (a temp
/// dir of this run).
pub fn pids_mentioning(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    all_pids()
        .into_iter()
        .filter(|p| *p != me)
        .filter(|p| {
            let in_cmdline = fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false);
            let in_cwd = fs::read_link(format!("/proc/{p}/cwd"))
                .map(|c| c.to_string_lossy().contains(needle))
                .unwrap_or(false);
            in_cmdline || in_cwd
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rollup() {
        let t = "55d0-7ffc ---p 00000000 00:00 0 [rollup]\nRss:                1908 kB\nPss:                 491 kB\nPss_Anon: 100 kB\n";
        assert_eq!(
            parse_smaps_rollup(t),
            Some(Mem {
                rss_kib: 1908,
                pss_kib: 491
            })
        );
        assert_eq!(parse_smaps_rollup("Rss: 1 kB\n"), None);
    }

    #[test]
    fn ppid_survives_odd_comm() {
        assert_eq!(parse_ppid("123 (a) b (c)) S 77 123 123 0"), Some(77));
        assert_eq!(parse_ppid("garbage"), None);
    }
}
