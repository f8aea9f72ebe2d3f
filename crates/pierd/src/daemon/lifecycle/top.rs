//! `top`: the host's `ps` with the caller's arguments, rows kept when their
//! PID is one of the container's processes (read from its cgroup), as
//! dockerd's `ContainerTop` does it.

use std::path::Path;

use crate::daemon::Daemon;
use crate::error::{Error, Result};

/// `ps` output cut down to the container's processes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Top {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// How deep a container's own cgroups may nest below its cgroup.
const MAX_CGROUP_DEPTH: usize = 32;

impl Daemon {
    /// `GET /containers/{id}/top?ps_args=` (default `-ef`).
    pub async fn top(&self, key: &str, ps_args: &str) -> Result<Top> {
        let ps_args = if ps_args.is_empty() { "-ef" } else { ps_args }.to_string();
        validate_ps_args(&ps_args)?;
        let c = self.lookup(key)?;
        let st = c.record().state;
        if !st.is_running() || st.pid <= 0 {
            return Err(Error::Conflict(format!("container {} is not running", c.id)));
        }
        let init = st.pid;
        let top = Daemon::blocking("list container processes", move || {
            let pids = container_pids(init).map_err(|e| Error::system("list container processes", e))?;
            let out = run_ps(&ps_args, &pids)?;
            parse_ps_output(&out, &pids)
        })
        .await?;
        self.container_event(&c.record(), "top", &[]);
        Ok(top)
    }
}

/// dockerd refuses `-o k=PID…` renamings of the PID column other than
/// `pid=` (the column must stay findable).
pub fn validate_ps_args(ps_args: &str) -> Result<()> {
    let words: Vec<&str> = ps_args.split(|c: char| c.is_ascii_whitespace()).collect();
    // The pattern `\s+([^\s]*)=\s*(PID[^\s]*)`: a key after whitespace, `=`,
    // optional whitespace, then a value starting with PID.
    for (i, w) in words.iter().enumerate() {
        if i == 0 {
            continue;
        }
        let Some((k, v)) = w.rsplit_once('=') else {
            continue;
        };
        let v = if v.is_empty() {
            match words[i + 1..].iter().find(|x| !x.is_empty()) {
                Some(next) => *next,
                None => continue,
            }
        } else {
            v
        };
        if v.starts_with("PID") && k != "pid" {
            let v: String = v.chars().take_while(|c| !c.is_ascii_whitespace()).collect();
            return Err(Error::PsArgs(format!("specifying \"{k}={v}\" is not allowed")));
        }
    }
    Ok(())
}

/// Every process in the cgroup of process `init` (and its child cgroups),
/// found through `/proc/<init>/cgroup` and the mount table (so a private
/// cgroup namespace does not matter).
pub fn container_pids(init: i32) -> std::io::Result<Vec<u32>> {
    let cgroup = crate::cgroup::Cgroup::of_pid(init).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no cgroup directory for process {init}"),
        )
    })?;
    let dir = cgroup.procs_dir().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no cgroup with a process list for process {init}"),
        )
    })?;
    pids_under(dir)
}

/// The pids listed in `dir`'s `cgroup.procs` and its children's, sorted.
pub fn pids_under(dir: &Path) -> std::io::Result<Vec<u32>> {
    let mut pids = Vec::new();
    collect_procs(dir, &mut pids, 0)?;
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}

fn collect_procs(dir: &Path, out: &mut Vec<u32>, depth: usize) -> std::io::Result<()> {
    let procs = match std::fs::read_to_string(dir.join("cgroup.procs")) {
        Ok(p) => p,
        // A child cgroup removed meanwhile.
        Err(e) if depth > 0 && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    out.extend(procs.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    if depth >= MAX_CGROUP_DEPTH {
        return Ok(());
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if depth > 0 && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_procs(&entry.path(), out, depth + 1)?;
        }
    }
    Ok(())
}

/// `ps ARGS -q PIDS`, or `ps ARGS` when that fails (some options, such as
/// `f`, refuse `-q`): dockerd's two tries. The first line of ps's stderr
/// is the error.
fn run_ps(ps_args: &str, pids: &[u32]) -> Result<Vec<u8>> {
    // dockerd splits on single spaces.
    let args: Vec<&str> = ps_args.split(' ').collect();
    let q = format!("-q{}", pids.iter().map(u32::to_string).collect::<Vec<_>>().join(","));
    let run = |extra: Option<&str>| {
        std::process::Command::new("ps")
            .args(&args)
            .args(extra)
            .stdin(std::process::Stdio::null())
            .output()
    };
    let first = run(Some(&q)).map_err(|e| Error::system("ps", e))?;
    if first.status.success() {
        return Ok(first.stdout);
    }
    let second = run(None).map_err(|e| Error::system("ps", e))?;
    if second.status.success() {
        return Ok(second.stdout);
    }
    let stderr = String::from_utf8_lossy(&second.stderr);
    let line = stderr.lines().next().unwrap_or("").to_string();
    let reason = if line.is_empty() {
        second.status.to_string()
    } else {
        line
    };
    Err(Error::system("ps", reason))
}

/// Go's `strings.FieldsFunc` over ASCII whitespace (dockerd's fieldsASCII).
fn fields(s: &str) -> Vec<String> {
    s.split(['\t', '\n', '\x0c', '\r', ' '])
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect()
}

/// Keep the rows whose PID is in `pids`; thread rows (`-` in the PID
/// column, from `m`) follow their process. The last column takes what
/// overhangs (a command with spaces).
pub fn parse_ps_output(output: &[u8], pids: &[u32]) -> Result<Top> {
    let text = String::from_utf8_lossy(output);
    let mut lines = text.split('\n');
    let titles = fields(lines.next().unwrap_or(""));
    let pid_index = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| Error::PsArgs("Couldn't find PID field in ps output".to_string()))?;
    let mut top = Top {
        titles,
        processes: Vec::new(),
    };
    let mut in_container = false;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let f = fields(line);
        let Some(pid) = f.get(pid_index) else {
            continue;
        };
        if pid == "-" {
            if in_container {
                push_row(&mut top, f);
            }
            continue;
        }
        let p: u32 = pid
            .parse()
            .map_err(|e| Error::PsArgs(format!("Unexpected pid '{pid}': {e}")))?;
        in_container = pids.contains(&p);
        if in_container {
            push_row(&mut top, f);
        }
    }
    Ok(top)
}

fn push_row(top: &mut Top, mut f: Vec<String>) {
    let n = top.titles.len();
    if f.len() > n {
        let tail = f.split_off(n - 1).join(" ");
        f.push(tail);
    }
    top.processes.push(f);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_rows_are_filtered_by_pid() {
        let out = b"UID          PID    PPID  C STIME TTY          TIME CMD\n\
root           1       0  0 05:00 ?        00:00:01 /sbin/init\n\
root        4242    4200  0 05:01 ?        00:00:00 sleep 1000 now\n\
root        4243    4242  0 05:01 ?        00:00:00 sh\n";
        let top = parse_ps_output(out, &[4242, 4243]).expect("parse");
        assert_eq!(top.titles, ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]);
        assert_eq!(top.processes.len(), 2);
        assert_eq!(top.processes[0][7], "sleep 1000 now");
        assert_eq!(top.processes[1][1], "4243");
        let threads = b"USER PID TID CMD\nroot 7 - x\nroot - 7 -\nroot 8 - y\nroot - 8 -\n";
        let top = parse_ps_output(threads, &[8]).expect("threads");
        assert_eq!(
            top.processes,
            [vec!["root", "8", "-", "y"], vec!["root", "-", "8", "-"]]
        );
        let e = parse_ps_output(b"USER COMMAND\nroot x\n", &[1]).expect_err("no PID column");
        assert_eq!(e.to_string(), "Couldn't find PID field in ps output");
    }

    #[test]
    fn ps_args_may_not_rename_pid() {
        assert!(validate_ps_args("-ef").is_ok());
        assert!(validate_ps_args("-o pid=PID,comm").is_ok());
        let e = validate_ps_args("-o user=PID").expect_err("renamed");
        assert_eq!(e.to_string(), "specifying \"user=PID\" is not allowed");
        assert!(validate_ps_args("-o  x= PIDX").is_err());
    }

    #[test]
    fn pids_under_walks_child_cgroups() {
        let root = tempfile::tempdir().expect("tmp");
        let r = root.path().join("pier/abc");
        std::fs::create_dir_all(r.join("sub")).expect("dirs");
        std::fs::write(r.join("cgroup.procs"), "6\n5\n").expect("procs");
        std::fs::write(r.join("sub/cgroup.procs"), "7\n5\n").expect("procs");
        assert_eq!(pids_under(&r).expect("pids"), [5, 6, 7]);
        assert!(pids_under(&root.path().join("gone")).is_err());
    }
}
